import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm start`, the README's first command, as a new user runs it: the whole local pipeline on the bundled
 * sample and the broken file, ending 0, and showing in the terminal what a user of the deployed stack
 * gets by mail and on the event bus.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

async function runDemo(): Promise<{ code: number | string; out: string }> {
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['local/demo.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill();
      resolve('still running after 150 s');
    }, 150_000);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode ?? 'killed');
    });
  });
  return { code, out };
}

describe('npm start', () => {
  it("trains the sample, rejects the broken file, and prints both runs' events and notifications", async () => {
    const { code, out } = await runDemo();
    expect({ code, tail: out.split('\n').slice(-3).join('\n') }).toMatchObject({ code: 0 });
    expect(out).toMatch(/^Run support-tickets-[0-9a-f]{16}: SUCCEEDED$/m);
    expect(out).toMatch(/^Run broken-tickets-[0-9a-f]{16}: REJECTED$/m);
    expect(out).toMatch(
      /^ {2}run events {10}RECEIVED → PREPARING → UPLOADING → TRAINING → COLLECTING → SUCCEEDED /m,
    );
    expect(out).toMatch(/^ {2}run events {10}RECEIVED → REJECTED /m);
    // The run-end summaries the notifications topic got, with their links.
    expect(out).toMatch(
      /^ {2}notification {8}"tunedrop run support-tickets-\S+ \(family support\) SUCCEEDED: ft:/m,
    );
    expect(out).toMatch(/^ {22}"Report: s3:\/\/\S+\/runs\/support-tickets-\S+\/report\.html"$/m);
    expect(out).toMatch(/^ {22}"Execution: https:\/\/\S+\.console\.aws\.amazon\.com\/states\/\S+"$/m);
    expect(out).toMatch(
      /^ {2}notification {8}"tunedrop run broken-tickets-\S+ \(family support\) was REJECTED: /m,
    );
    expect(out).toMatch(/^Done in [\d.]+ s\./m);
  }, 180_000);
});
