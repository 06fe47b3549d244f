import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { createEmbeddingsParquetWriter } from '../../functions/adapters/embeddings-output.js';
import { openAiEmbeddingModels } from '../../functions/adapters/openai-embeddings.js';
import type {
  BatchProgress,
  CollectedEmbeddings,
  EmbeddingExecutionInput,
  PreparedRequests,
} from '../../functions/core/embedding-run.js';
import { cl100kCounter } from '../../functions/core/embedding-validation.js';
import type { RunRecord } from '../../functions/core/run.js';
import { collectEmbeddings } from '../../functions/embed-collect/collect-embeddings.js';
import { runBatches } from '../../functions/embed-batches/run-batches.js';
import { prepareRequests } from '../../functions/embed-prepare/prepare-requests.js';
import { validateEmbeddingUpload } from '../../functions/validate-embeddings/validate-embeddings.js';
import type { UploadedObject } from '../../functions/validate/validate-upload.js';
import { memoryRunStore } from '../support/fakes.js';
import { fileObjectStore } from './file-object-store.js';

/**
 * One step of an embedding run on one input, in its own process so that its peak memory is its own:
 *   validate  validateEmbeddingUpload (every line read, tokens counted with cl100k_base, report written)
 *   prepare   prepareRequests (the Batch API's request files written)
 *   batches   runBatches, looked at until no batch is pending, against the OpenAI emulator at BASE_URL
 *             (request files uploaded, batches created, result files copied to the store)
 *   collect   collectEmbeddings in batch mode (result files read back by range, Parquet in input order)
 * The object store is files under ROOT (file-object-store.ts); the run's state between steps (the run
 * item, the execution input, what each step returned) is the JSON file STATE, read and written back.
 * Prints one JSON line: {step, seconds, records, baseRssMb, peakRssMb, growthMb, peakHeapMb, peakExternalMb,
 * heapLimitMb}
 * (heapLimitMb: V8's heap size limit, which --max-old-space-size sets).
 */
type Step = 'validate' | 'prepare' | 'batches' | 'collect';

export interface BenchRunState {
  object: UploadedObject;
  runs: RunRecord[];
  input?: EmbeddingExecutionInput;
  prepared?: PreparedRequests;
  batches?: BatchProgress;
  collected?: CollectedEmbeddings;
}

const [step, root, statePath, baseURL] = process.argv.slice(2) as [Step, string, string, string];
if (!['validate', 'prepare', 'batches', 'collect'].includes(step) || !root || !statePath || !baseURL)
  throw new Error('usage: embeddings-measure.ts validate|prepare|batches|collect ROOT STATE BASE_URL');

const state = JSON.parse(await readFile(statePath, 'utf8')) as BenchRunState;
const store = fileObjectStore(root);
const { runs, records } = memoryRunStore();
for (const record of state.runs) records.set(record.runId, record);
const countTokens = cl100kCounter();
const embeddings = openAiEmbeddingModels({ apiKey: process.env.OPENAI_API_KEY ?? 'sk-bench', baseURL });

// What every size pays alike is paid before the baseline: the tokenizer's tables, the modules' code.
if (step === 'validate' || step === 'prepare') countTokens(['warm up the tokenizer']);
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const baseRss = process.memoryUsage.rss();
const maxRssBefore = process.resourceUsage().maxRSS * 1024;
// maxRSS is the process's peak since it started (tsx compiling may have been it): sampled as well, so
// that a step peaking under the start-up's peak is still measured.
let sampledRss = baseRss;
let sampledHeap = process.memoryUsage().heapUsed;
// Off the V8 heap: Buffers, ArrayBuffers (fetch bodies, Blobs), what the heap cap does not bound.
let sampledExternal = process.memoryUsage().external;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  sampledRss = Math.max(sampledRss, usage.rss);
  sampledHeap = Math.max(sampledHeap, usage.heapUsed);
  sampledExternal = Math.max(sampledExternal, usage.external);
}, 5);

const started = performance.now();
let count: number;
if (step === 'validate') {
  const outcome = await validateEmbeddingUpload(state.object, {
    store,
    runs,
    countTokens,
    startRun: async (_runId, input) => {
      state.input = input;
    },
    executionArn: (runId) => `arn:aws:states:us-east-1:000000000000:execution:bench:${runId}`,
    providers: ['openai'],
    now: () => new Date(),
  });
  if (outcome.outcome !== 'started' || !state.input)
    throw new Error(`validation did not start the run: ${JSON.stringify(outcome)}`);
  count = state.input.records;
} else if (step === 'prepare') {
  state.prepared = await prepareRequests(state.input!, { runs, store, countTokens });
  count = state.prepared.inputs;
} else if (step === 'batches') {
  let progress: BatchProgress | undefined;
  do {
    // The workflow waits for the batch's webhook between looks; here, a short sleep.
    if (progress) await sleep(50);
    progress = await runBatches(
      { ...state.input!, prepared: state.prepared!, batches: progress },
      { runs, store, batches: embeddings.batches!, webhooks: { lastVerifiedAt: async () => undefined } },
    );
  } while (progress.pending);
  state.batches = progress;
  count = state.input!.records;
} else {
  state.collected = await collectEmbeddings(
    { ...state.input!, prepared: state.prepared!, batches: state.batches },
    { runs, store, output: createEmbeddingsParquetWriter },
  );
  count = state.collected.embedded;
}
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const usage = process.memoryUsage();
const maxRss = process.resourceUsage().maxRSS * 1024;
const peakRss = Math.max(maxRss > maxRssBefore ? maxRss : 0, sampledRss, usage.rss);

state.runs = [...records.values()];
await writeFile(statePath, JSON.stringify(state));
const mb = (bytes: number) => bytes / 2 ** 20;
console.log(
  JSON.stringify({
    step,
    seconds,
    records: count,
    baseRssMb: mb(baseRss),
    peakRssMb: mb(peakRss),
    growthMb: mb(peakRss - baseRss),
    peakHeapMb: mb(Math.max(sampledHeap, usage.heapUsed)),
    peakExternalMb: mb(Math.max(sampledExternal, usage.external)),
    heapLimitMb: mb(getHeapStatistics().heap_size_limit),
  }),
);
