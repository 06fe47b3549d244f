import { DirectModeOutOfTimeError, ProviderRejectedError } from '../core/errors.js';
import { embeddingCostUsd, embeddingPricePerMillion } from '../core/embedding-catalog.js';
import { readEmbeddingRecords, type EmbeddingRecord } from '../core/embedding-input.js';
import { EmbeddingRequestLineSchema, parseCustomId } from '../core/embedding-requests.js';
import { readLines, resultHead, resultLine } from '../core/embedding-results.js';
import {
  beginEmbeddingStep,
  catalogModelOf,
  type BatchProgress,
  type CollectedEmbeddings,
  type MetadataColumn,
  type PreparedRunState,
} from '../core/embedding-run.js';
import type {
  EmbeddingAnswer,
  EmbeddingBatches,
  EmbeddingModels,
  ObjectRef,
  ObjectStore,
  ObjectWriter,
  RunStore,
} from '../core/ports.js';
import type { RunMetrics } from '../core/metrics.js';
import { embeddingKeys } from '../core/run.js';

/** One output row: the record's id and metadata, and its vector (null where its request failed twice). */
export interface EmbeddingRow {
  id: string;
  metadata: Record<string, unknown>;
  vector: readonly number[] | null;
}

/** Writes the output file (embeddings.parquet, or embeddings.jsonl) a batch of rows at a time. */
export interface EmbeddingsOutput {
  write(rows: EmbeddingRow[]): Promise<void>;
  close(): Promise<unknown>;
  abort(): Promise<void>;
}

export interface CollectDeps {
  runs: RunStore;
  store: ObjectStore;
  /** The output writer for the run's format, over an object being written. */
  output(
    sink: ObjectWriter,
    options: {
      dimensions: number;
      metadataColumns: MetadataColumn[];
      keyValueMetadata: Record<string, string>;
    },
  ): EmbeddingsOutput;
  /** Direct mode: the provider's embeddings endpoint. */
  embeddings?: Pick<EmbeddingModels, 'embed'>;
  /** Batch mode: the provider's batches, whose files are deleted there once the output is written. */
  batches?: Pick<EmbeddingBatches, 'discard'>;
  /** Told when deleting a batch's files failed; the run's output and end stand regardless. */
  onDiscardError?(error: unknown, batchId: string): void;
  /** Requests in flight at once in direct mode. @default 4 */
  concurrency?: number;
  /** Epoch ms by which direct mode must have made its calls (the invocation's end, less a margin). */
  deadline?: number;
  now?: () => Date;
  /** Told of the run's end (its cost feeds the cost alarms, as a training run's does). @default none */
  metrics?: RunMetrics;
}

export type CollectInput = PreparedRunState;

/** A request's answer, or why it has none, for records first..first+count-1. */
interface Answered {
  first: number;
  count: number;
  answer?: EmbeddingAnswer;
  error?: string;
}

/**
 * Refusals that are not about a request's texts: the key (401), the organisation or project (403), the
 * quota, Bedrock's access or Azure's deployment. They end the run instead of failing each request.
 */
const RUN_REFUSALS: ReadonlySet<string> = new Set([
  'http_401',
  'http_403',
  'invalid_api_key',
  'insufficient_quota',
  'model_not_found',
  'invalid_config',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ResourceNotFoundException',
]);

/** At most this many failed records are listed by id in the manifest (all are counted). */
export const MAX_LISTED_FAILURES = 1000;

/** Rows are handed to the output writer in groups of this many. */
const ROWS_PER_WRITE = 512;

/**
 * The run's output: every record of the input, in its order, with its id, its metadata and its vector, in
 * embeddings.parquet (or .jsonl), and a manifest.json with the model, dimensions, counts, tokens, cost and
 * the input's version; then the run SUCCEEDED. The vectors come from the result files Run batches copied
 * (batch mode, read back by byte range in input order) or from the provider, called here with bounded
 * concurrency (direct mode). A record whose request failed (twice, in batch mode) keeps its row, with a
 * null vector, and is listed by id in the manifest.
 */
export async function collectEmbeddings(
  input: CollectInput,
  deps: CollectDeps,
): Promise<CollectedEmbeddings> {
  const { runId, settings } = input;
  const model = catalogModelOf(settings);
  const mode = input.prepared.mode;
  const run = await beginEmbeddingStep(
    deps.runs,
    runId,
    mode === 'direct' ? 'EMBEDDING' : 'COLLECTING',
    mode === 'direct' ? `${input.prepared.requests} requests, called directly` : 'reading the results',
    'its embeddings were collected',
  );

  const keys = embeddingKeys(runId);
  const { bucket } = input.source;
  const outputKey = settings.output === 'parquet' ? keys.parquet : keys.jsonl;
  const sink = deps.store.createWriter(
    { bucket, key: outputKey },
    settings.output === 'parquet' ? 'application/vnd.apache.parquet' : 'application/jsonl',
  );
  const output = deps.output(sink, {
    dimensions: settings.outputDimensions,
    metadataColumns: input.metadataColumns,
    keyValueMetadata: {
      'tunedrop.run': runId,
      'tunedrop.model': settings.model,
      'tunedrop.dimensions': String(settings.outputDimensions),
    },
  });

  const records = recordsOf(
    readEmbeddingRecords(deps.store.read(input.source), {
      format: input.format,
      textField: settings.textField,
      idField: settings.idField,
      metadataFields: settings.metadataFields,
    }),
  );
  const failures: Array<{ id: string; line: number; error: string }> = [];
  let failed = 0;
  let embedded = 0;
  let tokens = 0;
  let next = 0;
  try {
    const answers =
      mode === 'direct'
        ? directAnswers(input, deps)
        : batchAnswers(input.batches?.batches ?? [], bucket, deps.store, input.records);
    for await (const part of answers) {
      if (part.first !== next)
        throw new Error(`answers out of order: records ${next}… expected, ${part.first}… given`);
      next += part.count;
      tokens += part.answer?.tokens ?? 0;
      let rows: EmbeddingRow[] = [];
      for (let i = 0; i < part.count; i++) {
        const record = await records.take();
        const vector = part.answer?.vectors[i] ?? null;
        if (vector) embedded++;
        else {
          failed++;
          if (failures.length < MAX_LISTED_FAILURES)
            failures.push({ id: record.id, line: record.line, error: part.error ?? 'no answer' });
        }
        rows.push({ id: record.id, metadata: record.metadata, vector });
        if (rows.length >= ROWS_PER_WRITE) {
          await output.write(rows);
          rows = [];
        }
      }
      if (rows.length) await output.write(rows);
    }
    if (next !== input.records)
      throw new Error(`the answers cover ${next} records of the ${input.records} validated`);
    // Nothing embedded is no result: the cause is the run's (a model or key refused, every batch failed),
    // not its records'.
    if (embedded === 0 && failed > 0)
      throw new ProviderRejectedError(
        `no record of the ${input.records} was embedded; the first refusal: ${failures[0]?.error ?? 'no answer'}`,
        "Check the collection's tunedrop.json (model, dimensions, deployment) and the provider's key, then drop the file again.",
        'nothing_embedded',
      );
    await output.close();
  } catch (error) {
    await output.abort();
    throw error;
  }

  const costUsd = embeddingCostUsd(model, tokens, mode);
  const manifest = {
    runId,
    collection: input.collection,
    input: { bucket, key: input.source.key, versionId: input.source.versionId ?? null, format: input.format },
    provider: settings.provider,
    model: settings.model,
    ...(settings.modelName !== settings.model ? { deployment: settings.modelName } : {}),
    dimensions: settings.outputDimensions,
    mode,
    output: { key: outputKey, format: settings.output },
    count: input.records,
    embedded,
    failed,
    failures,
    tokens,
    pricePerMillionUsd: embeddingPricePerMillion(model, mode),
    costUsd,
    createdAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await deps.store.write(
    { bucket, key: keys.manifest },
    `${JSON.stringify(manifest, null, 2)}\n`,
    'application/json',
  );
  const embedding = {
    ...run.embedding!,
    embedded,
    failed,
    tokens,
    outputKey,
    manifestKey: keys.manifest,
  };
  // The texts and vectors are in the bucket now: the provider's copies go (input, output and error files).
  for (const batch of input.batches?.batches ?? [])
    if (batch.batchId && deps.batches)
      await deps.batches
        .discard(batch.batchId)
        .catch((error: unknown) => deps.onDiscardError?.(error, batch.batchId!));
  if (mode === 'direct') await deps.runs.advance(runId, 'COLLECTING', { detail: 'writing the output' });
  const ended = await deps.runs.advance(runId, 'SUCCEEDED', {
    embedding,
    ...(costUsd === null ? {} : { costUsd }),
    detail: failed ? `${failed} of ${input.records} records without a vector` : undefined,
  });
  if (ended)
    deps.metrics?.runEnded({
      family: input.collection,
      provider: settings.provider,
      status: 'SUCCEEDED',
      ...(costUsd === null ? {} : { costUsd }),
    });
  return { outputKey, manifestKey: keys.manifest, embedded, failed, tokens, costUsd };
}

/** The validated input's records, taken one at a time. */
function recordsOf(
  source: AsyncIterable<EmbeddingRecord | { kind: 'issue'; line: number; message: string }>,
) {
  const iterator = source[Symbol.asyncIterator]();
  return {
    async take(): Promise<EmbeddingRecord> {
      const { value, done } = await iterator.next();
      if (done) throw new Error('the input has fewer records than were validated');
      if (value.kind !== 'record')
        throw new Error(
          `line ${value.line} of the input, validated before, has a problem now: ${value.message}`,
        );
      return value;
    },
  };
}

/**
 * Batch mode: the answers in input order. The result files are indexed first (each answered request's
 * byte range; the error of each that failed), then each request is read back by its range: memory holds
 * the index (a few numbers per request) and one request's vectors.
 */
async function* batchAnswers(
  batches: BatchProgress['batches'],
  bucket: string,
  store: ObjectStore,
  records: number,
): AsyncGenerator<Answered> {
  const located = new Map<number, { ref: ObjectRef; start: number; end: number; count: number }>();
  const errors = new Map<number, { count: number; error: string }>();
  const reasons = new Set<string>();
  for (const batch of batches) {
    if (batch.status !== 'completed')
      reasons.add(`its batch ${batch.status}${batch.reason ? `: ${batch.reason}` : ''}`);
    for (const key of batch.resultKeys ?? [])
      for await (const line of readLines(store.read({ bucket, key }))) {
        const result = resultHead(line.text);
        const range = parseCustomId(result.customId);
        if (!range) continue;
        if (result.answered) {
          located.set(range.first, {
            ref: { bucket, key },
            start: line.start,
            end: line.end,
            count: range.count,
          });
          errors.delete(range.first);
        } else if (!located.has(range.first))
          errors.set(range.first, { count: range.count, error: result.error });
      }
  }
  let next = 0;
  while (next < records) {
    const at = located.get(next);
    if (at) {
      const bytes = await store.readRange(at.ref, at.start, at.end - 1);
      const result = resultLine(new TextDecoder().decode(bytes));
      if (!('vectors' in result) || result.vectors.length !== at.count)
        throw new Error(
          `the answer of records ${next}… in ${at.ref.key} has ${'vectors' in result ? result.vectors.length : 0} vectors, not ${at.count}`,
        );
      yield { first: next, count: at.count, answer: { vectors: result.vectors, tokens: result.tokens } };
      next += at.count;
      continue;
    }
    const failure = errors.get(next);
    if (failure) {
      yield { first: next, count: failure.count, error: failure.error };
      next += failure.count;
      continue;
    }
    // Neither answered nor refused: its batch failed, expired or was cancelled. Up to the next known request.
    let end = next + 1;
    while (end < records && !located.has(end) && !errors.has(end)) end++;
    yield {
      first: next,
      count: end - next,
      error: `not answered (${[...reasons].join('; ') || 'no result'})`,
    };
    next = end;
  }
}

/**
 * Direct mode: each request line of the request files sent to the provider, `concurrency` at a time, the
 * answers yielded in order. A request the provider refuses (a 400 for its input) is sent once more, then
 * its records are reported; any other error ends the run (the workflow records it).
 */
async function* directAnswers(input: CollectInput, deps: CollectDeps): AsyncGenerator<Answered> {
  const embeddings = deps.embeddings;
  if (!embeddings) throw new Error('direct mode needs the provider');
  const { bucket } = input.source;
  const ask = async (request: { first: number; count: number; texts: string[] }): Promise<Answered> => {
    if (deps.deadline !== undefined && Date.now() > deps.deadline)
      throw new DirectModeOutOfTimeError(
        `direct mode made ${request.first} of ${input.records} records' calls within the 15 minutes one invocation has`,
        'Set "mode": "batch" in the collection\'s tunedrop.json (the Batch API has no such limit, at half the price), or split the file.',
      );
    const body = {
      model: input.settings.modelName,
      dimensions: input.settings.dimensions,
      texts: request.texts,
    };
    let refused: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return { first: request.first, count: request.count, answer: await embeddings.embed(body) };
      } catch (error) {
        // A refusal of the request's texts is the request's; one of the key, the quota or the model is the run's.
        if (!(error instanceof ProviderRejectedError) || RUN_REFUSALS.has(error.code)) throw error;
        refused = error;
      }
    }
    return { first: request.first, count: request.count, error: (refused as Error).message };
  };
  const requests = async function* () {
    for (const file of input.prepared.files)
      for await (const line of readLines(deps.store.read({ bucket, key: file.key }))) {
        const parsed = EmbeddingRequestLineSchema.parse(JSON.parse(line.text));
        const range = parseCustomId(parsed.custom_id)!;
        yield { ...range, texts: parsed.body.input };
      }
  };
  yield* inOrder(requests(), deps.concurrency ?? 4, ask);
}

/** `fn` over the items, at most `concurrency` at once, the results yielded in the items' order. */
export async function* inOrder<T, R>(
  items: AsyncIterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const window: Promise<R>[] = [];
  for await (const item of items) {
    const result = fn(item);
    // Handled when its turn comes; this keeps an early rejection from counting as unhandled meanwhile.
    result.catch(() => undefined);
    window.push(result);
    if (window.length >= concurrency) yield await window.shift()!;
  }
  while (window.length) yield await window.shift()!;
}
