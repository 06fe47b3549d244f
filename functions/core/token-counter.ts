import { Worker } from 'node:worker_threads';
import { MODEL_CATALOG } from './catalog.js';
import { countTextTokens, tokenLowerBound } from './tokens.js';

/**
 * Counts tokens of many texts, in this thread or in worker threads. Tokenizing is the validator's cost
 * (parsing runs ~30x faster), so with workers the main thread parses and checks while the workers
 * tokenize. Repeated texts (system prompts, labels) are counted once and remembered either way.
 */
export interface TokenCounter {
  /**
   * Resolves with one count per text, in order: exact, except for a text whose lower bound is already
   * over `neverFitsTokens` (the model's limit; every model's when not given), answered with that bound
   * (see countOrBound).
   */
  count(texts: string[], neverFitsTokens?: number): Promise<number[]>;
  /** How many batches may usefully be in flight. */
  readonly parallelism: number;
  close(): Promise<void>;
}

/** The most tokens any model in the catalog takes in one example. */
export const NEVER_FITS_TOKENS = Math.max(...MODEL_CATALOG.map((model) => model.maxExampleTokens));

/**
 * A text's exact count, or, when its lower bound (UTF-8 bytes over the longest token's) already exceeds
 * `neverFits` (the example limit of the model being checked), that bound: the example is over the
 * limit either way, and exactness would cost the whole merge (a 24 MB run of spaces in one message: 9 s
 * and 888 MB of RSS, measured). The limit is the model's, not the largest in the catalog: Nova Lite's
 * 300k would make every OpenAI check count such a text exactly (1.7 GB of RSS, `npm run bench --
 * adversarial`, space-line).
 */
export function countOrBound(text: string, neverFits = NEVER_FITS_TOKENS): number {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: shorter texts cannot have a bound over the limit.
  if (text.length > Math.floor((neverFits * 128) / 3)) {
    const bound = tokenLowerBound(text);
    if (bound > neverFits) return bound;
  }
  return countTextTokens(text);
}

export function inThreadCounter(): TokenCounter {
  return {
    parallelism: 1,
    count: async (texts, neverFits) => texts.map((text) => countOrBound(text, neverFits)),
    close: async () => undefined,
  };
}

const MEMO_LIMIT = 10_000;
/** Workers hold only memos and one batch; a small heap makes them collect early, keeping memory flat. */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16 };
const MEMO_MAX_TEXT = 2_048;
/**
 * Texts longer than this (UTF-16 units) are counted in the calling thread, never posted: a worker's
 * 96 MB heap holds a batch, its structured-clone copy and the text's pieces, and a 90 MB line killed one.
 * Such texts are rare (a line that long is usually refused by its token lower bound), so the main
 * thread's time on them does not matter.
 */
export const WORKER_MAX_TEXT = 256 * 1024;

/** A token worker died (crashed, ran out of memory or exited) with batches in flight. */
export class TokenWorkerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TokenWorkerError';
  }
}

export interface WorkerCounterOptions {
  /** The worker's script; tests pass one that fails. Default: token-worker.ts. */
  script?: URL;
}

/**
 * A pool of `size` workers running token-worker.ts. It needs the TypeScript sources at run time (the
 * CLI, local mode and the benchmark run them through tsx); the Lambda bundle counts in-thread, which
 * at its 1 vCPU is as fast. A worker that dies rejects its batches in flight with a TokenWorkerError
 * (so that the run ends with an error instead of waiting forever); later batches go to the workers
 * left, or are counted in this thread when none is.
 */
export function workerCounter(size: number, options: WorkerCounterOptions = {}): TokenCounter {
  // The worker is TypeScript too: it loads through tsx, found from here so that any working directory works.
  const execArgv = [...process.execArgv, '--import', import.meta.resolve('tsx')];
  const script = options.script ?? new URL('./token-worker.ts', import.meta.url);
  const workers = Array.from(
    { length: size },
    () => new Worker(script, { execArgv, resourceLimits: WORKER_LIMITS }),
  );
  const alive = new Set(workers);
  interface Pending {
    worker: Worker;
    resolve: (counts: number[]) => void;
    reject: (error: Error) => void;
  }
  const waiting = new Map<number, Pending>();
  let next = 0;
  let sequence = 0;
  const fail = (worker: Worker, error: TokenWorkerError) => {
    alive.delete(worker);
    for (const [id, pending] of waiting) {
      if (pending.worker !== worker) continue;
      waiting.delete(id);
      pending.reject(error);
    }
  };
  for (const worker of workers) {
    worker.on('message', ({ id, counts }: { id: number; counts: number[] }) => {
      waiting.get(id)?.resolve(counts);
      waiting.delete(id);
    });
    worker.on('error', (error) =>
      fail(worker, new TokenWorkerError(`a token worker failed: ${error.message}`, { cause: error })),
    );
    // After close() terminates the pool nothing is waiting, so this rejects nothing.
    worker.on('exit', (code) => fail(worker, new TokenWorkerError(`a token worker exited (code ${code})`)));
  }
  const memo = new Map<string, number>();
  // On data whose texts never repeat the memo only costs; it is skipped while its hit rate is low.
  let hitRate = 1;
  let sampled = 0;

  const post = (texts: string[]): Promise<number[]> => {
    const pool = [...alive];
    if (pool.length === 0) return Promise.resolve(texts.map((text) => countOrBound(text)));
    const worker = pool[next++ % pool.length]!;
    const id = sequence++;
    const result = new Promise<number[]>((resolve, reject) => waiting.set(id, { worker, resolve, reject }));
    worker.postMessage({ id, texts });
    return result;
  };
  /** Posts the texts a worker can hold; counts the huge ones here (see WORKER_MAX_TEXT). */
  // Worker texts are at most WORKER_MAX_TEXT long, too short for any bound to pass a limit: only the
  // texts counted here need `neverFits`.
  const send = async (texts: string[], neverFits?: number): Promise<number[]> => {
    if (!texts.some((text) => text.length > WORKER_MAX_TEXT)) return post(texts);
    const small = texts.filter((text) => text.length <= WORKER_MAX_TEXT);
    const smallCounts = small.length > 0 ? post(small) : Promise.resolve([]);
    const counts = texts.map((text) => (text.length > WORKER_MAX_TEXT ? countOrBound(text, neverFits) : -1));
    const fromWorkers = await smallCounts;
    let k = 0;
    return counts.map((count) => (count >= 0 ? count : fromWorkers[k++]!));
  };

  return {
    parallelism: size,
    async count(texts, neverFits) {
      const counts = new Array<number>(texts.length);
      if (hitRate < 0.2 && sampled++ % 16 !== 0) return send(texts, neverFits);
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
        const fresh = await send(unknown, neverFits);
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
      alive.clear();
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
