import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TERMINAL_STATUSES } from '../../functions/core/run.js';
import { startLocalHarness } from '../support/local-harness.js';

/**
 * Many files dropped at once into the local cloud: every one must end in a recorded run, and no more
 * than `concurrency` provider jobs may train at the same time (the rest wait for a slot).
 */
export interface LoadResult {
  dropped: number;
  recorded: number;
  lost: number;
  maxConcurrentJobs: number;
  statuses: Record<string, number>;
  seconds: number;
}

export async function runLoad(options: {
  files: number;
  concurrency: number;
  timeoutMs?: number;
}): Promise<LoadResult> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'tunedrop-load-'));
  const { cloud, emulator, close } = await startLocalHarness({
    apiKey: 'sk-load',
    timing: { validatingMs: 5, queuedMs: 5, msPerStep: 0 },
    cloud: { pipeline: { providerConcurrency: options.concurrency } },
  });
  try {
    const paths = await Promise.all(
      Array.from({ length: options.files }, async (_, f) => {
        const lines = Array.from({ length: 12 }, (_, i) =>
          JSON.stringify({
            messages: [
              { role: 'user', content: `File ${f}, ticket ${i}: the sync stopped.` },
              { role: 'assistant', content: ['bug', 'billing', 'account'][i % 3] },
            ],
          }),
        );
        const path = join(dir, `tickets-${f}.jsonl`);
        await writeFile(path, `${lines.join('\n')}\n`);
        return path;
      }),
    );
    const runIds = await Promise.all(
      paths.map((path, f) => cloud.drop(path, `incoming/load-${f % 8}/tickets-${f}.jsonl`)),
    );
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    let runs = await cloud.listRuns();
    while (
      runs.filter((r) => TERMINAL_STATUSES.has(r.status)).length < runIds.length &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      runs = await cloud.listRuns();
    }
    const recorded = runIds.filter((id) =>
      runs.some((r) => r.runId === id && TERMINAL_STATUSES.has(r.status)),
    ).length;
    const statuses: Record<string, number> = {};
    for (const run of runs) statuses[run.status] = (statuses[run.status] ?? 0) + 1;
    return {
      dropped: runIds.length,
      recorded,
      lost: runIds.length - recorded,
      maxConcurrentJobs: emulator.maxConcurrentJobs(),
      statuses,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await close();
    await rm(dir, { recursive: true, force: true });
  }
}
