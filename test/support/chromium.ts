import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { readPng, type Image } from './png.js';

/**
 * Debian's headless Chromium for the browser tests (the run report, the local console): found once, and
 * a page's screenshot taken and read back. Without it a test is skipped on a developer's machine and fails
 * in CI (CI set), saying how to install it; .ci/run installs it.
 */
const CHROMIUM = process.env.CHROMIUM ?? 'chromium';
const exec = promisify(execFile);

/** Chromium's version line, or undefined when it cannot be run; throws in CI, where it must be. */
export async function chromiumOrSkip(what: string): Promise<string | undefined> {
  let version: string | undefined;
  try {
    version = (await exec(CHROMIUM, ['--version'], { timeout: 30_000 })).stdout.trim();
  } catch {
    version = undefined;
  }
  if (!version && process.env.CI)
    throw new Error(
      `headless Chromium is needed to test ${what} in a browser, and "${CHROMIUM}" could not be run: install Debian's chromium package (apt-get install -y chromium), or point CHROMIUM at it`,
    );
  return version;
}

/** Renders `url` at width × height in headless Chromium into `file`; the PNG's bytes and pixels. */
export async function screenshot(
  url: string,
  file: string,
  size: { width: number; height: number },
): Promise<{ bytes: Buffer; image: Image }> {
  await exec(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--hide-scrollbars',
      `--screenshot=${file}`,
      `--window-size=${size.width},${size.height}`,
      url,
    ],
    { timeout: 60_000 },
  );
  const bytes = readFileSync(file);
  return { bytes, image: readPng(bytes) };
}
