import { Worker } from 'node:worker_threads';
import { countTextTokens } from './tokens.js';

/**
 * Counts tokens of many texts, in this thread or in worker threads. Tokenizing is the validator's cost
 * (parsing runs ~30x faster), so with workers the main thread parses and checks while the workers
 * tokenize. Repeated texts (system prompts, labels) are counted once and remembered either way.
 */
export interface TokenCounter {
  /** Resolves with one count per text, in order. */
  count(texts: string[]): Promise<number[]>;
  /** How many batches may usefully be in flight. */
  readonly parallelism: number;
  close(): Promise<void>;
}

export function inThreadCounter(): TokenCounter {
  return {
    parallelism: 1,
    count: async (texts) => texts.map(countTextTokens),
    close: async () => undefined,
  };
}

const MEMO_LIMIT = 10_000;
/** Workers hold only memos and one batch; a small heap makes them collect early, keeping memory flat. */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16 };
const MEMO_MAX_TEXT = 2_048;

/**
 * A pool of `size` workers running token-worker.ts. It needs the TypeScript sources at run time (the
 * CLI, local mode and the benchmark run them through tsx); the Lambda bundle counts in-thread, which
 * at its 1 vCPU is as fast.
 */
export function workerCounter(size: number): TokenCounter {
  // The worker is TypeScript too: it loads through tsx, found from here so that any working directory works.
  const execArgv = [...process.execArgv, '--import', import.meta.resolve('tsx')];
  const workers = Array.from(
    { length: size },
    () =>
      new Worker(new URL('./token-worker.ts', import.meta.url), { execArgv, resourceLimits: WORKER_LIMITS }),
  );
  const waiting = new Map<number, { resolve: (counts: number[]) => void; reject: (error: Error) => void }>();
  let next = 0;
  let sequence = 0;
  for (const worker of workers) {
    worker.on('message', ({ id, counts }: { id: number; counts: number[] }) => {
      waiting.get(id)?.resolve(counts);
      waiting.delete(id);
    });
    worker.on('error', (error) => {
      for (const pending of waiting.values()) pending.reject(error);
      waiting.clear();
    });
  }
  const memo = new Map<string, number>();
  // On data whose texts never repeat the memo only costs; it is skipped while its hit rate is low.
  let hitRate = 1;
  let sampled = 0;

  const send = (texts: string[]): Promise<number[]> => {
    const id = sequence++;
    const result = new Promise<number[]>((resolve, reject) => waiting.set(id, { resolve, reject }));
    workers[next++ % workers.length]!.postMessage({ id, texts });
    return result;
  };

  return {
    parallelism: size,
    async count(texts) {
      const counts = new Array<number>(texts.length);
      if (hitRate < 0.2 && sampled++ % 16 !== 0) return send(texts);
      const unknown: string[] = [];
      const slots = new Map<string, number[]>();
      texts.forEach((text, i) => {
        const known = memo.get(text);
        if (known !== undefined) counts[i] = known;
        else {
          const list = slots.get(text);
          if (list) list.push(i);
          else {
            slots.set(text, [i]);
            unknown.push(text);
          }
        }
      });
      hitRate = 0.8 * hitRate + 0.2 * (texts.length ? 1 - unknown.length / texts.length : 1);
      if (unknown.length > 0) {
        const fresh = await send(unknown);
        unknown.forEach((text, k) => {
          for (const i of slots.get(text)!) counts[i] = fresh[k]!;
          if (text.length <= MEMO_MAX_TEXT) {
            if (memo.size >= MEMO_LIMIT) memo.clear();
            memo.set(text, fresh[k]!);
          }
        });
      }
      return counts;
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

/**
 * Below this size a run is over before workers pay off: each spends ~0.15 s building the encoder, and
 * counting by pieces makes the in-thread path fast on ordinary text (measured: docs/performance.md).
 */
export const WORKER_THRESHOLD_BYTES = 48 * 1024 * 1024;

/** The counter for a file of `sizeBytes` on a machine with `cores` cores. */
export function tokenCounterFor(sizeBytes: number, cores: number): TokenCounter {
  return cores > 1 && sizeBytes >= WORKER_THRESHOLD_BYTES ? workerCounter(cores) : inThreadCounter();
}
