import { tableFromIPC } from 'apache-arrow';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readParquet } from 'parquet-wasm';
import { z } from 'zod';
import { startOpenAiEmulator } from '../../local/openai-emulator/server.js';
import { random } from './datasets.js';
import type { BenchRunState } from './embeddings-measure.js';

/**
 * `npm run bench -- embeddings [--lines 10000,100000] [--dimensions 64]`: an embedding run's memory, step by
 * step, on a generated JSONL of 100,000 records against one of 10,000 measured in the same run (#15: "a
 * 100,000-line file embeds locally with flat memory"). Each step of each run (validate, prepare, batches,
 * collect) runs in its own process (embeddings-measure.ts), on an object store of files on disk, against
 * the OpenAI emulator running here (its Batch API), so that the child's peak RSS is the step's alone. A
 * step is flat when its peak memory growth (peak RSS less the RSS it started from) on the large input is
 * under TARGET times its growth on the small one. The Parquet output is read back with an independent
 * reader (parquet-wasm) and its ids checked against the input's, in order.
 *
 * Every measured process runs under the same V8 heap cap (HEAP_CAP_MB, --max-old-space-size) at every
 * size. RSS growth says as much about when V8 chose to collect as about what a step keeps: V8 lets the
 * heap grow with the garbage a step makes (a longer step, more garbage, a larger heap before it bothers).
 * A step that kept something per record would run out of heap under the cap once the file is large
 * enough; one that completes at 10x (and 30x) the records under the cap it had at 1x holds a bounded
 * live set. A step is therefore "flat" (growth ratio under TARGET) or "bounded" (not flat, but it
 * completed at every size under the cap); anything else fails the bench.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const TSX = join(HERE, '../../node_modules/.bin/tsx');
const API_KEY = 'sk-bench-embeddings';
export const STEPS = ['validate', 'prepare', 'batches', 'collect'] as const;
/** Flat: the large input's memory growth at most this many times the small one's. */
export const TARGET = 1.5;
/**
 * The V8 old-space cap (MB) every measured step runs under, at every size: under the largest peak heap
 * an uncapped step reached at 100,000 records (batches, 212 MB on 2026-11-30), above what any step
 * needs live.
 */
export const HEAP_CAP_MB = 160;

const MeasurementSchema = z.object({
  step: z.enum(STEPS),
  seconds: z.number(),
  records: z.number(),
  baseRssMb: z.number(),
  peakRssMb: z.number(),
  growthMb: z.number(),
  peakHeapMb: z.number(),
  /** Peak memory off the V8 heap (Buffers, ArrayBuffers), which the heap cap does not bound. */
  peakExternalMb: z.number(),
  heapLimitMb: z.number(),
});
export type StepMeasurement = z.infer<typeof MeasurementSchema>;

/** Flat: growth ratio under TARGET; bounded: not flat, but completed at every size under the heap cap. */
export type StepVerdict = 'flat' | 'bounded' | 'failed';

export interface EmbeddingsBenchResult {
  dimensions: number;
  /** The --max-old-space-size every measured process ran under; null: none. */
  heapCapMb: number | null;
  sizes: Array<{
    lines: number;
    bytes: number;
    /** The steps that completed, in order. */
    steps: StepMeasurement[];
    /** The step that did not (out of heap under the cap, or an error), and why; the later steps did not run. */
    failed?: { step: (typeof STEPS)[number]; error: string };
  }>;
  /** Per step: growth at the largest size / growth at the smallest (NaN where either did not complete). */
  ratios: Record<(typeof STEPS)[number], number>;
  verdicts: Record<(typeof STEPS)[number], StepVerdict>;
  passed: boolean;
}

const CATEGORIES = ['billing', 'bug', 'account', 'feature_request', 'other', 'praise', 'shipping'];

/** Writes `lines` records {id, text (a sentence or two of varied words), category, priority}. */
export async function writeEmbeddingInput(path: string, lines: number): Promise<number> {
  const next = random(15);
  const syllables = ['ka', 'to', 're', 'mi', 'sun', 'del', 'or', 'ven', 'la', 'pri', 'co', 'st', 'an', 'ble'];
  const vocabulary = Array.from({ length: 20_000 }, () => {
    let word = '';
    for (let k = 1 + Math.floor(next() * 4); k > 0; k--)
      word += syllables[Math.floor(next() * syllables.length)];
    return word;
  });
  // Zipf-like: rank r with probability about 1/r, as in text written by many people.
  const word = () =>
    vocabulary[
      Math.min(vocabulary.length - 1, Math.floor(Math.exp(next() * Math.log(vocabulary.length))) - 1)
    ]!;
  const sentence = () => {
    const words = Array.from({ length: 6 + Math.floor(next() * 12) }, word);
    words[0] = words[0]!.replace(/^./, (c) => c.toUpperCase());
    return `${words.join(' ')}.`;
  };
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  let bytes = 0;
  for (let i = 0; i < lines; i++) {
    const text = next() < 0.5 ? sentence() : `${sentence()} ${sentence()}`;
    const line = `${JSON.stringify({
      id: `doc-${i}`,
      text,
      category: CATEGORIES[Math.floor(next() * CATEGORIES.length)],
      priority: Math.floor(next() * 5),
    })}\n`;
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}

async function measure(
  step: (typeof STEPS)[number],
  root: string,
  statePath: string,
  baseUrl: string,
  heapCapMb: number | null,
): Promise<StepMeasurement> {
  const { stdout } = await promisify(execFile)(
    TSX,
    [
      '--expose-gc',
      ...(heapCapMb === null ? [] : [`--max-old-space-size=${heapCapMb}`]),
      join(HERE, 'embeddings-measure.ts'),
      step,
      root,
      statePath,
      baseUrl,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, OPENAI_API_KEY: API_KEY } },
  );
  const measured = MeasurementSchema.parse(JSON.parse(stdout.trim().split('\n').at(-1)!));
  // The cap must have reached the child's V8 (tsx passes node's flags on): its heap limit is the cap plus
  // the young generation, a few tens of MB at most.
  if (heapCapMb !== null && measured.heapLimitMb > heapCapMb + 64)
    throw new Error(
      `${step} ran with a ${measured.heapLimitMb.toFixed(0)} MB heap limit, not ~${heapCapMb} MB`,
    );
  return measured;
}

/** Why a step's process failed, in one line: V8's out-of-memory message when that was it. */
function failureOf(error: unknown): string {
  const stderr = String((error as { stderr?: unknown }).stderr ?? '');
  const oom = /FATAL ERROR: [^\n]*heap out of memory[^\n]*/.exec(stderr)?.[0];
  return oom ?? (error instanceof Error ? error.message.split('\n')[0]! : String(error));
}

/** The output's ids, read with parquet-wasm, must be the input's, in order, each with a vector. */
async function checkOutput(root: string, state: BenchRunState, lines: number, dimensions: number) {
  const key = state.collected?.outputKey;
  if (!key) throw new Error('the run wrote no output');
  const table = tableFromIPC(readParquet(await readFile(join(root, key))).intoIPCStream());
  if (table.numRows !== lines) throw new Error(`the output has ${table.numRows} rows, not ${lines}`);
  const ids = table.getChild('id')!;
  const vectors = table.getChild('embedding')!;
  for (let i = 0; i < lines; i++) {
    if (ids.get(i) !== `doc-${i}`) throw new Error(`row ${i} of the output is ${ids.get(i)}, not doc-${i}`);
    if ((vectors.get(i) as { length: number } | null)?.length !== dimensions)
      throw new Error(`row ${i} of the output has no ${dimensions}-value vector`);
  }
}

export async function runEmbeddingsBench({
  lines = [10_000, 100_000],
  dimensions = 64,
  /** The --max-old-space-size (MB) of every measured process; null: V8's default. */
  heapCapMb = HEAP_CAP_MB as number | null,
  /** Leaves the store and the run states on disk, to measure a step again by hand. */
  keep = false,
} = {}): Promise<EmbeddingsBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tunedrop-embeddings-bench-'));
  if (keep) console.log(`keeping ${dir}`);
  // No time per batch line: the bench measures tunedrop's steps, not the emulator's pacing.
  const emulator = await startOpenAiEmulator({
    apiKey: API_KEY,
    timing: { batchMsPerRequest: 0, batchValidatingMs: 10, batchFinalizingMs: 10 },
  });
  try {
    const sizes: EmbeddingsBenchResult['sizes'] = [];
    for (const count of lines) {
      // One bucket per size: the runs share nothing but the emulator.
      const root = join(dir, String(count));
      const key = `embed/bench/records-${count}.jsonl`;
      const bytes = await writeEmbeddingInput(join(root, key), count);
      await writeFile(
        join(root, 'embed/bench/tunedrop.json'),
        JSON.stringify({ mode: 'batch', dimensions, output: 'parquet' }),
      );
      const statePath = join(dir, `state-${count}.json`);
      const state: BenchRunState = {
        object: { bucket: 'bench', key, versionId: `v${count}`, size: (await stat(join(root, key))).size },
        runs: [],
      };
      await writeFile(statePath, JSON.stringify(state));
      const steps: StepMeasurement[] = [];
      let failed: EmbeddingsBenchResult['sizes'][number]['failed'];
      for (const step of STEPS) {
        try {
          steps.push(await measure(step, root, statePath, emulator.baseUrl, heapCapMb));
        } catch (error) {
          failed = { step, error: failureOf(error) };
          break;
        }
      }
      if (!failed)
        await checkOutput(
          root,
          JSON.parse(await readFile(statePath, 'utf8')) as BenchRunState,
          count,
          dimensions,
        );
      sizes.push({ lines: count, bytes, steps, ...(failed ? { failed } : {}) });
      // The inputs and results of a size are not needed once measured (300,000 records: ~1 GB).
      if (!keep) await rm(root, { recursive: true, force: true });
    }
    const small = sizes[0]!;
    const large = sizes.at(-1)!;
    const growth = (size: (typeof sizes)[number], step: (typeof STEPS)[number]) =>
      size.steps.find((m) => m.step === step)?.growthMb;
    const ratios = Object.fromEntries(
      STEPS.map((step) => [step, (growth(large, step) ?? NaN) / Math.max(1, growth(small, step) ?? NaN)]),
    ) as EmbeddingsBenchResult['ratios'];
    const verdicts = Object.fromEntries(
      STEPS.map((step) => {
        const everywhere = sizes.every((size) => growth(size, step) !== undefined);
        const verdict: StepVerdict = !everywhere
          ? 'failed'
          : ratios[step] < TARGET
            ? 'flat'
            : heapCapMb !== null
              ? 'bounded'
              : 'failed';
        return [step, verdict];
      }),
    ) as EmbeddingsBenchResult['verdicts'];
    return {
      dimensions,
      heapCapMb,
      sizes,
      ratios,
      verdicts,
      passed: Object.values(verdicts).every((verdict) => verdict !== 'failed'),
    };
  } finally {
    await emulator.close();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

export function printEmbeddingsBench(result: EmbeddingsBenchResult): void {
  const small = result.sizes[0]!;
  const large = result.sizes.at(-1)!;
  console.log(
    `embedding runs (batch mode, text-embedding-3-small at ${result.dimensions} dimensions, Parquet) on the OpenAI emulator,`,
  );
  console.log(
    result.heapCapMb === null
      ? 'each step in its own process, no heap cap:'
      : `each step in its own process under the same V8 heap cap at every size (--max-old-space-size=${result.heapCapMb}):`,
  );
  for (const size of result.sizes)
    console.log(`  ${size.lines} records, ${(size.bytes / 1e6).toFixed(1)} MB of JSONL`);
  console.log(
    'step       records   seconds   records/s   start RSS MB   peak RSS MB   growth MB   peak heap MB   peak external MB   heap limit MB',
  );
  for (const size of result.sizes) {
    for (const m of size.steps)
      console.log(
        `${m.step.padEnd(10)} ${String(size.lines).padStart(7)} ${m.seconds.toFixed(2).padStart(9)} ${(m.records / m.seconds).toFixed(0).padStart(11)} ${m.baseRssMb.toFixed(0).padStart(14)} ${m.peakRssMb.toFixed(0).padStart(13)} ${m.growthMb.toFixed(1).padStart(11)} ${m.peakHeapMb.toFixed(0).padStart(14)} ${m.peakExternalMb.toFixed(0).padStart(18)} ${m.heapLimitMb.toFixed(0).padStart(15)}`,
      );
    if (size.failed)
      console.log(
        `${size.failed.step.padEnd(10)} ${String(size.lines).padStart(7)} FAILED: ${size.failed.error} (later steps not run)`,
      );
  }
  for (const step of STEPS) {
    const ratio = result.ratios[step];
    const verdict = result.verdicts[step];
    const sizes = result.sizes.map((size) => size.lines).join(', ');
    console.log(
      `${step.padEnd(10)} growth at ${large.lines} / at ${small.lines} records: ${Number.isNaN(ratio) ? 'n/a' : `${ratio.toFixed(2)}x`} (flat: < ${TARGET}x) ${
        verdict === 'flat'
          ? 'flat'
          : verdict === 'bounded'
            ? `not flat, but bounded: completed at ${sizes} records under the same ${result.heapCapMb} MB heap cap`
            : 'FAILED'
      }`,
    );
  }
  console.log(
    "(growth: peak RSS less the RSS the step started from, in its own process, tokenizer loaded; batches' seconds include the emulator's work, done in the bench's own process.)",
  );
}
