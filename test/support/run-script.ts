import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Runs a TypeScript script in its own Node process (tsx), as a person would from the project's root; its
 * exit code, or why it has none (killed at `timeoutMs`), and everything it printed, both streams.
 */
export async function runScript(
  script: string,
  args: readonly string[] = [],
  timeoutMs = 60_000,
): Promise<{ code: number | string; out: string }> {
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [script, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill();
      resolve(`still running after ${timeoutMs / 1000} s`);
    }, timeoutMs);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode ?? 'killed');
    });
  });
  return { code, out };
}
