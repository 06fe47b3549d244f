import {
  collectEmbeddings,
  inOrder,
  type CollectDeps,
  type EmbeddingRow,
} from '../../functions/embed-collect/collect-embeddings.js';
import { prepareRequests } from '../../functions/embed-prepare/prepare-requests.js';
import { RETRY_BATCH, runBatches } from '../../functions/embed-batches/run-batches.js';
import { recordEmbeddingFailure } from '../../functions/embed-record/record-embedding-failure.js';
import { validateEmbeddingUpload } from '../../functions/validate-embeddings/validate-embeddings.js';
import {
  DirectModeOutOfTimeError,
  ProviderRejectedError,
  RunEndedError,
} from '../../functions/core/errors.js';
import { parseCustomId } from '../../functions/core/embedding-requests.js';
import type { EmbeddingExecutionInput } from '../../functions/core/embedding-run.js';
import type {
  EmbeddingAnswer,
  EmbeddingBatchResult,
  EmbeddingBatches,
  EmbeddingBatchState,
  EmbeddingRequest,
} from '../../functions/core/ports.js';
import { embeddingKeys } from '../../functions/core/run.js';
import { memoryObjectStore, memoryRunStore } from '../support/fakes.js';

/**
 * The embedding run's steps on in-memory ports (#15): validation starts or rejects, Prepare writes the
 * request files, Run batches creates each batch once and retries failed requests once, Collect writes
 * every record in input order with its vector or a null, and a failure is recorded with its batches
 * cancelled.
 */
const BUCKET = 'bucket';
const KEY = 'embed/docs/texts.jsonl';
const NOW = new Date('2026-11-30T10:00:00.000Z');

const lines = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    JSON.stringify({ id: `r${i}`, text: `text number ${i}`, topic: i % 3 }),
  )
    .join('\n')
    .concat('\n');

/** A provider whose vectors say which text they are for: [index of the text in its request, its length]. */
const vectorOf = (text: string) => [Number(text.split(' ').pop()), text.length];
const answer = (texts: readonly string[]): EmbeddingAnswer => ({
  vectors: texts.map(vectorOf),
  tokens: texts.length * 3,
});

function fakeBatches(options: { failOnce?: Set<string>; endAs?: EmbeddingBatchState['status'] } = {}) {
  const batches = new Map<string, { metadata: Record<string, string>; lines: string[]; checks: number }>();
  const files = new Map<string, EmbeddingBatchResult[]>();
  const failed = new Set<string>();
  const cancelled: string[] = [];
  const discarded: string[] = [];
  const port: EmbeddingBatches = {
    async find(metadata) {
      for (const [id, batch] of batches)
        if (Object.entries(metadata).every(([k, v]) => batch.metadata[k] === v)) return id;
      return undefined;
    },
    async submit(file, metadata) {
      const id = `batch_${batches.size + 1}`;
      batches.set(id, {
        metadata: { ...metadata },
        lines: (await file.body.text()).trim().split('\n'),
        checks: 0,
      });
      return id;
    },
    async state(batchId) {
      const batch = batches.get(batchId)!;
      if (batch.checks++ === 0) return { status: 'pending', providerStatus: 'in_progress' };
      if (options.endAs === 'failed') return { status: 'failed', reason: 'the input file was refused' };
      const results: EmbeddingBatchResult[] = batch.lines.map((line) => {
        const request = JSON.parse(line) as { custom_id: string; body: { input: string[] } };
        if (options.failOnce?.has(request.custom_id) && !failed.has(request.custom_id)) {
          failed.add(request.custom_id);
          return { customId: request.custom_id, error: 'server_error' };
        }
        return { customId: request.custom_id, answer: answer(request.body.input) };
      });
      // Out of order, as batches answer.
      files.set(`out-${batchId}`, results.reverse());
      return { status: 'completed', outputFileId: `out-${batchId}` };
    },
    async *results(fileId) {
      yield* files.get(fileId) ?? [];
    },
    async cancel(batchId) {
      cancelled.push(batchId);
    },
    async discard(batchId) {
      discarded.push(batchId);
    },
  };
  return { port, batches, cancelled, discarded };
}

async function validated(count: number, settings: Record<string, unknown> = { mode: 'batch' }) {
  const { store, text, bytes } = memoryObjectStore({
    [`${BUCKET}/${KEY}`]: lines(count),
    [`${BUCKET}/embed/docs/tunedrop.json`]: JSON.stringify(settings),
  });
  const { runs, records } = memoryRunStore();
  const started: EmbeddingExecutionInput[] = [];
  const outcome = await validateEmbeddingUpload(
    { bucket: BUCKET, key: KEY, versionId: 'v1', receivedAt: NOW.toISOString() },
    {
      store,
      runs,
      startRun: async (_runId, input) => void started.push(input),
      executionArn: (runId) => `arn:aws:states:us-east-1:1:execution:embeddings:${runId}`,
      countTokens: (texts) => texts.map((t) => t.split(' ').length),
      now: () => NOW,
    },
  );
  return { store, text, bytes, runs, records, started, outcome };
}

describe('validating an embedding drop', () => {
  it('starts the embedding workflow with the resolved settings, the metadata columns and the counts', async () => {
    const { outcome, started, records } = await validated(5);
    expect(outcome.outcome).toBe('started');
    expect(started[0]).toMatchObject({
      collection: 'docs',
      format: 'jsonl',
      records: 5,
      tokens: 15,
      settings: {
        provider: 'openai',
        model: 'text-embedding-3-small',
        mode: 'batch',
        outputDimensions: 1536,
      },
      metadataColumns: [{ name: 'topic', type: 'number' }],
    });
    const run = records.get(outcome.runId!)!;
    expect(run).toMatchObject({ kind: 'embeddings', family: 'docs', status: 'RECEIVED' });
    expect(run.embedding).toEqual({ model: 'text-embedding-3-small', dimensions: 1536, mode: 'batch' });
  });

  it('rejects the run when the settings name a model the provider does not have, naming the file and the fix', async () => {
    const { outcome, records, text, started } = await validated(3, { model: 'text-embedding-4' });
    expect(outcome.outcome).toBe('rejected');
    const run = records.get(outcome.runId!)!;
    expect(run.status).toBe('REJECTED');
    expect(run.error?.message).toContain('embed/docs/tunedrop.json');
    expect(run.error?.fix).toContain(`s3://${BUCKET}/${embeddingKeys(run.runId).validationMarkdown}`);
    expect(text(embeddingKeys(run.runId).validationMarkdown)).toContain('text-embedding-4');
    expect(started).toEqual([]);
  });

  it('rejects a file too large to check in one invocation, with a report that says to split it', async () => {
    const { store, text } = memoryObjectStore({
      [`${BUCKET}/${KEY}`]: lines(50),
      [`${BUCKET}/embed/docs/tunedrop.json`]: '{}',
    });
    const { runs, records } = memoryRunStore();
    const outcome = await validateEmbeddingUpload(
      { bucket: BUCKET, key: KEY, versionId: 'v1' },
      {
        store,
        runs,
        startRun: async () => {
          throw new Error('not to be started');
        },
        executionArn: () => 'arn',
        countTokens: (texts) => texts.map(() => 1),
        now: () => NOW,
        deadline: Date.now() - 1,
      },
    );
    expect(outcome.outcome).toBe('rejected');
    const run = records.get(outcome.runId!)!;
    expect(run).toMatchObject({ status: 'REJECTED', error: { code: 'file_too_large_to_check' } });
    expect(text(embeddingKeys(run.runId).validationMarkdown)).toContain('Split the file');
  });

  it('does nothing twice: a delivery of the same object after its run moved on is a duplicate', async () => {
    const first = await validated(2);
    await first.runs.advance(first.outcome.runId!, 'PREPARING', {});
    const again = await validateEmbeddingUpload(
      { bucket: BUCKET, key: KEY, versionId: 'v1' },
      {
        store: first.store,
        runs: first.runs,
        startRun: async () => {
          throw new Error('started twice');
        },
        executionArn: () => 'arn',
        countTokens: (texts) => texts.map(() => 1),
        now: () => NOW,
      },
    );
    expect(again).toEqual({ runId: first.outcome.runId, outcome: 'duplicate' });
  });
});

async function prepared(count: number, settings: Record<string, unknown> = { mode: 'batch' }) {
  const base = await validated(count, settings);
  const input = base.started[0]!;
  const prepared = await prepareRequests(input, {
    runs: base.runs,
    store: base.store,
    countTokens: (texts) => texts.map(() => 3),
  });
  return { ...base, input, prepared };
}

describe('preparing the requests', () => {
  it('writes the records, in order, into request lines whose custom ids name their ranges', async () => {
    const { prepared: plan, text } = await prepared(7);
    expect(plan).toMatchObject({ mode: 'batch', requests: 1, inputs: 7 });
    const [line] = text(plan.files[0]!.key).trim().split('\n');
    const request = JSON.parse(line!) as { custom_id: string; body: { input: string[] } };
    expect(parseCustomId(request.custom_id)).toEqual({ first: 0, count: 7 });
    expect(request.body.input).toEqual(Array.from({ length: 7 }, (_, i) => `text number ${i}`));
  });
});

describe('running the batches', () => {
  it('creates each batch once, waits while it runs, and copies its results when it ends', async () => {
    const { input, prepared: plan, runs, store } = await prepared(5);
    const provider = fakeBatches();
    const deps = { runs, store, batches: provider.port, webhooks: { lastVerifiedAt: async () => undefined } };
    const first = await runBatches({ ...input, prepared: plan }, deps);
    expect(first.pending).toBe(true);
    expect(first.batches).toMatchObject([{ name: '0001', batchId: 'batch_1', status: 'pending' }]);
    // Looked at again (as after a wait): found by its id, not created again.
    const second = await runBatches({ ...input, prepared: plan, batches: first }, deps);
    expect(provider.batches.size).toBe(1);
    expect(second.pending).toBe(false);
    expect(second.batches[0]).toMatchObject({ status: 'completed', resultKeys: [expect.any(String)] });
    expect(await runs.findByProviderJob('batch_1')).toBe(input.runId);
  });

  it('finds a batch an earlier attempt created (by its metadata) instead of creating a second', async () => {
    const { input, prepared: plan, runs, store } = await prepared(5);
    const provider = fakeBatches();
    const deps = { runs, store, batches: provider.port, webhooks: { lastVerifiedAt: async () => undefined } };
    await runBatches({ ...input, prepared: plan }, deps);
    // The step's answer was lost (a timeout after the batch was created): the state has no batch id.
    await runBatches({ ...input, prepared: plan }, deps);
    expect(provider.batches.size).toBe(1);
  });

  it('sends the requests that failed once more, in one retry batch, and only once', async () => {
    const { input, prepared: plan, runs, store } = await prepared(3000, { mode: 'batch', dimensions: 2 });
    expect(plan.requests).toBe(2);
    const provider = fakeBatches({ failOnce: new Set(['rows-2048-952']) });
    const deps = { runs, store, batches: provider.port, webhooks: { lastVerifiedAt: async () => undefined } };
    let progress = await runBatches({ ...input, prepared: plan }, deps);
    progress = await runBatches({ ...input, prepared: plan, batches: progress }, deps);
    expect(progress.batches.map((b) => b.name)).toEqual(['0001', RETRY_BATCH]);
    expect(
      provider.batches.get('batch_2')!.lines.map((l) => (JSON.parse(l) as { custom_id: string }).custom_id),
    ).toEqual(['rows-2048-952']);
    progress = await runBatches({ ...input, prepared: plan, batches: progress }, deps);
    expect(progress.pending).toBe(false);
    expect(provider.batches.size).toBe(2);
  });

  it('cancels the batch it created when the run was stopped meanwhile (reconcile may have looked before)', async () => {
    const { input, prepared: plan, runs, store } = await prepared(5);
    const provider = fakeBatches();
    const submit = provider.port.submit.bind(provider.port);
    // The run is stopped (reconcile records it CANCELLED) while its batch is being created.
    provider.port.submit = async (file, metadata) => {
      const id = await submit(file, metadata);
      await runs.advance(input.runId, 'CANCELLED', {});
      return id;
    };
    const deps = { runs, store, batches: provider.port, webhooks: { lastVerifiedAt: async () => undefined } };
    await expect(runBatches({ ...input, prepared: plan }, deps)).rejects.toBeInstanceOf(RunEndedError);
    expect(provider.cancelled).toEqual(['batch_1']);
  });

  it('refuses to look at the batches of a run that has ended', async () => {
    const { input, prepared: plan, runs, store } = await prepared(2);
    await runs.advance(input.runId, 'CANCELLED', {});
    const provider = fakeBatches();
    await expect(
      runBatches(
        { ...input, prepared: plan },
        { runs, store, batches: provider.port, webhooks: { lastVerifiedAt: async () => undefined } },
      ),
    ).rejects.toBeInstanceOf(RunEndedError);
    expect(provider.batches.size).toBe(0);
  });
});

/** The rows the output writer got, in order. */
function capturingOutput() {
  const rows: EmbeddingRow[] = [];
  let closed = false;
  return {
    rows,
    closed: () => closed,
    output: () => ({
      write: async (batch: EmbeddingRow[]) => void rows.push(...batch),
      close: async () => void (closed = true),
      abort: async () => undefined,
    }),
  };
}

/**
 * What collecting `count` prepared records throws (or, should it not throw, what it returns), with these
 * embeddings and deadline and an output writer that keeps nothing.
 */
async function collectingError(
  count: number,
  settings: Record<string, unknown>,
  deps: Pick<CollectDeps, 'embeddings' | 'deadline'>,
): Promise<unknown> {
  const { input, prepared: plan, runs, store } = await prepared(count, settings);
  return collectEmbeddings(
    { ...input, prepared: plan },
    { runs, store, output: capturingOutput().output, ...deps },
  ).catch((e: unknown) => e);
}

describe('collecting the embeddings', () => {
  it('writes every record in input order, from results that came out of order, and ends the run with its cost', async () => {
    const {
      input,
      prepared: plan,
      runs,
      store,
      records,
      text,
    } = await prepared(3000, { mode: 'batch', dimensions: 2 });
    const provider = fakeBatches();
    const deps = { runs, store, batches: provider.port, webhooks: { lastVerifiedAt: async () => undefined } };
    let progress = await runBatches({ ...input, prepared: plan }, deps);
    progress = await runBatches({ ...input, prepared: plan, batches: progress }, deps);
    const out = capturingOutput();
    const collected = await collectEmbeddings(
      { ...input, prepared: plan, batches: progress },
      { runs, store, output: out.output, batches: provider.port },
    );
    expect(out.closed()).toBe(true);
    // The provider's copies of the texts and vectors are deleted once the output is written.
    expect(provider.discarded).toEqual(['batch_1']);
    expect(out.rows.map((row) => row.id)).toEqual(Array.from({ length: 3000 }, (_, i) => `r${i}`));
    // Each vector is its own text's: the position in the request's texts and the text's length.
    expect(out.rows[2050]!.vector).toEqual([2050, 'text number 2050'.length]);
    expect(out.rows[7]!.metadata).toEqual({ topic: 1 });
    expect(collected).toMatchObject({ embedded: 3000, failed: 0, tokens: 9000 });
    const run = records.get(input.runId)!;
    expect(run.status).toBe('SUCCEEDED');
    // Batch price of text-embedding-3-small: $0.01 per 1M tokens.
    expect(run.costUsd).toBeCloseTo(9000 * 0.01e-6, 15);
    expect(JSON.parse(text(embeddingKeys(input.runId).manifest))).toMatchObject({ count: 3000, failed: 0 });
  });

  it('keeps a row with a null vector for each record whose request failed twice, and lists it by id', async () => {
    const {
      input,
      prepared: plan,
      runs,
      store,
      text,
    } = await prepared(3000, { mode: 'batch', dimensions: 2 });
    // Fails on the retry too: a provider that fails the same request twice.
    const provider = fakeBatches({ failOnce: new Set(['rows-2048-952']) });
    const deps = { runs, store, batches: provider.port, webhooks: { lastVerifiedAt: async () => undefined } };
    let progress = await runBatches({ ...input, prepared: plan }, deps);
    progress = await runBatches({ ...input, prepared: plan, batches: progress }, deps);
    // The retry batch ends failed: none of its lines is answered.
    progress = {
      ...progress,
      pending: false,
      batches: progress.batches.map((b) =>
        b.name === RETRY_BATCH ? { ...b, status: 'failed' as const, reason: 'refused' } : b,
      ),
    };
    const out = capturingOutput();
    const collected = await collectEmbeddings(
      { ...input, prepared: plan, batches: progress },
      { runs, store, output: out.output },
    );
    expect(collected).toMatchObject({ embedded: 2048, failed: 952 });
    expect(out.rows).toHaveLength(3000);
    expect(out.rows[2047]!.vector).not.toBeNull();
    expect(out.rows[2048]).toMatchObject({ id: 'r2048', vector: null });
    const manifest = JSON.parse(text(embeddingKeys(input.runId).manifest)) as {
      failures: Array<{ id: string; error: string }>;
    };
    expect(manifest.failures[0]).toMatchObject({ id: 'r2048', error: 'server_error' });
  });

  it('calls the provider directly, a few requests at a time, and sends a refused request once more', async () => {
    const { input, prepared: plan, runs, store } = await prepared(3000, { mode: 'direct', dimensions: 2 });
    const asked: EmbeddingRequest[] = [];
    let refusals = 1;
    const out = capturingOutput();
    const collected = await collectEmbeddings(
      { ...input, prepared: plan },
      {
        runs,
        store,
        output: out.output,
        embeddings: {
          async embed(request) {
            asked.push(request);
            if (request.texts[0] === 'text number 2048' && refusals-- > 0)
              throw new ProviderRejectedError('refused once', 'try again');
            return answer(request.texts);
          },
        },
      },
    );
    expect(asked.map((r) => r.texts.length)).toEqual([2048, 952, 952]);
    expect(asked[0]).toMatchObject({ model: 'text-embedding-3-small', dimensions: 2 });
    expect(collected).toMatchObject({ embedded: 3000, failed: 0 });
    expect(out.rows[2999]!.vector).toEqual([2999, 'text number 2999'.length]);
  });

  it('ends the run, instead of failing each request, when the provider refuses the key', async () => {
    let calls = 0;
    const error = await collectingError(
      3000,
      { mode: 'direct', dimensions: 2 },
      {
        embeddings: {
          async embed() {
            calls++;
            throw new ProviderRejectedError('OpenAI refused (HTTP 401)', 'Set the key.', 'invalid_api_key');
          },
        },
      },
    );
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect((error as ProviderRejectedError).code).toBe('invalid_api_key');
    // Not asked again: the second request may already be in flight, but none is retried.
    expect(calls).toBeLessThanOrEqual(2);
  });

  it('fails the run when no record was embedded, naming the first refusal', async () => {
    const error = await collectingError(
      3,
      { mode: 'direct' },
      {
        embeddings: {
          embed: async () => {
            throw new ProviderRejectedError(
              'OpenAI refused the input (HTTP 400)',
              'Fix the text.',
              'http_400',
            );
          },
        },
      },
    );
    expect(error).toMatchObject({ code: 'nothing_embedded', message: expect.stringContaining('HTTP 400') });
  });

  it('stops direct mode with a clear error when its time is up, rather than being cut off by Lambda', async () => {
    const error = await collectingError(
      5,
      { mode: 'direct' },
      { deadline: Date.now() - 1, embeddings: { embed: async (request) => answer(request.texts) } },
    );
    expect(error).toBeInstanceOf(DirectModeOutOfTimeError);
    expect((error as DirectModeOutOfTimeError).fix).toContain('"mode": "batch"');
  });
});

describe('recording a failure', () => {
  it('records the cause with its fix and cancels the batches still running', async () => {
    const { input, runs, records } = await prepared(2);
    const cancelled: string[] = [];
    await recordEmbeddingFailure(
      {
        ...input,
        failure: {
          Error: 'ProviderRejectedError',
          Cause: JSON.stringify({ errorMessage: 'the key was refused', fix: 'Set the key.' }),
        },
        batches: {
          pending: true,
          waitSeconds: 60,
          checks: 1,
          batches: [
            { name: '0001', requestsKey: 'k', batchId: 'batch_a', status: 'pending' },
            { name: '0002', requestsKey: 'k', batchId: 'batch_b', status: 'completed' },
          ],
        },
      },
      { runs, batches: { cancel: async (id) => void cancelled.push(id) } },
    );
    expect(cancelled).toEqual(['batch_a']);
    expect(records.get(input.runId)).toMatchObject({
      status: 'FAILED',
      error: { name: 'ProviderRejectedError' },
    });
  });
});

describe('inOrder', () => {
  it("yields results in the items' order however long each takes, never more than the bound at once", async () => {
    let running = 0;
    let most = 0;
    const items = async function* () {
      for (let i = 0; i < 20; i++) yield i;
    };
    const results: number[] = [];
    for await (const value of inOrder(items(), 3, async (i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, (20 - i) % 4));
      running--;
      return i * 2;
    }))
      results.push(value);
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(most).toBeLessThanOrEqual(3);
  });
});
