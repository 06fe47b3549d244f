import { NO_METRICS } from '../../functions/core/metrics.js';
import { collectResults } from '../../functions/collect/collect-results.js';
import { createJob } from '../../functions/create-job/create-job.js';
import { resolveRunConfig } from '../../functions/core/config.js';
import { runKeys, TRAINING_COPY_TAG, type RunStatus } from '../../functions/core/run.js';
import { validateDataset } from '../../functions/core/dataset.js';
import { ExecutionInputSchema, type ExecutionInput } from '../../functions/core/workflow-state.js';
import { getStatus } from '../../functions/get-status/get-status.js';
import { prepareRun } from '../../functions/prepare/prepare-run.js';
import { recordOutcome } from '../../functions/record/record-outcome.js';
import { acquireSlot } from '../../functions/acquire-slot/acquire-slot.js';
import {
  chatDataset,
  chunks,
  fakeProvider,
  memoryObjectStore,
  memoryRunStore,
  memoryParkedRuns,
  memorySlots,
  testModels,
  memoryTaskTokens,
  memoryWebhookLog,
  noHandOver,
  providerJob,
  testValidationOptions,
  reconcileWith,
  memoryModelRegistry,
} from '../support/fakes.js';
import { handOverFreeSlots, slotResumer } from '../../functions/core/slots.js';

const config = (() => {
  const result = resolveRunConfig({ suffix: 'support' });
  if (!result.ok) throw new Error('bad test config');
  return result.config;
})();

const input: ExecutionInput = {
  runId: 'tickets-0123456789abcdef',
  family: 'support',
  source: { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1' },
  config,
  model: 'gpt-4.1-mini-2025-04-14',
  split: { seed: 42, threshold: null, classThresholds: null },
  validationSource: null,
  conversion: null,
  estimate: { billedTokens: 1000, costUsd: 0.005, epochs: 3 },
};

async function runAt(status: RunStatus) {
  const { runs, records } = memoryRunStore();
  const at = '2026-11-24T10:00:00.000Z';
  await runs.create({
    runId: input.runId,
    family: 'support',
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at }],
    source: input.source,
    createdAt: at,
    updatedAt: at,
  });
  const path: RunStatus[] = ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING'];
  for (const step of path.slice(0, path.indexOf(status as never) + 1)) await runs.advance(input.runId, step);
  return { runs, records };
}

describe('prepareRun', () => {
  it('writes train and validation files by the threshold and leaves the source alone', async () => {
    const data = chatDataset(30);
    const objects = memoryObjectStore({ 'bucket/incoming/support/tickets.jsonl': data });
    const { runs, records } = await runAt('RECEIVED');
    const threshold = 2 ** 47; // about half of the 48-bit hash space
    const prepared = await prepareRun(
      { ...input, split: { seed: 42, threshold, classThresholds: null } },
      { store: objects.store, runs, registry: memoryModelRegistry().registry },
    );

    expect(prepared.trainingExamples + prepared.validationExamples).toBe(30);
    expect(prepared.validationExamples).toBeGreaterThan(0);
    const train = objects.text(prepared.trainingKey).trim().split('\n');
    const validation = objects.text(prepared.validationKey!).trim().split('\n');
    expect([...train, ...validation].sort()).toEqual(data.trim().split('\n').sort());
    expect(objects.text('incoming/support/tickets.jsonl')).toBe(data);
    // Both copies carry the tag the bucket's lifecycle rule expires them by.
    const tag = { [TRAINING_COPY_TAG.key]: TRAINING_COPY_TAG.value };
    expect([objects.tagsOf(prepared.trainingKey), objects.tagsOf(prepared.validationKey!)]).toEqual([
      tag,
      tag,
    ]);
    expect(records.get(input.runId)).toMatchObject({
      status: 'PREPARING',
      baseModel: input.model,
      estimatedCostUsd: 0.005,
    });
  });

  it('applies a plan for a file of copies: validation gets its share, copies stay on one side (#10)', async () => {
    // 100 distinct examples and 200 copies of one more: a ratio of 0.2 is 60 validation examples.
    const lines = chatDataset(101).trim().split('\n');
    const data = `${[...lines.slice(1), ...Array<string>(200).fill(lines[0]!)].join('\n')}\n`;
    const report = await validateDataset(() => chunks(data, 4096), {
      ...testValidationOptions,
      seed: 7,
    });
    expect(report.exactCopies).toBe(199);
    const objects = memoryObjectStore({ 'bucket/incoming/support/tickets.jsonl': data });
    const { runs } = await runAt('RECEIVED');
    const split = {
      seed: 7,
      threshold: report.split.threshold,
      classThresholds: report.split.classThresholds ?? null,
      trainHashes: report.split.trainHashes,
    };
    const prepared = await prepareRun(ExecutionInputSchema.parse({ ...input, split }), {
      store: objects.store,
      runs,
      registry: memoryModelRegistry().registry,
    });
    expect(prepared).toMatchObject({ trainingExamples: 240, validationExamples: 60 });
    const validation = new Set(objects.text(prepared.validationKey!).trim().split('\n'));
    expect(validation.has(lines[0]!)).toBe(false);
    expect(
      objects
        .text(prepared.trainingKey)
        .trim()
        .split('\n')
        .filter((l) => validation.has(l)),
    ).toEqual([]);
  });

  it('reads a split planned before trainHashes existed', () => {
    const parsed = ExecutionInputSchema.parse({ ...input, split: { seed: 1, threshold: 5 } });
    expect(parsed.split).toEqual({ seed: 1, threshold: 5, classThresholds: null });
  });

  it('uploads nothing when the plan would leave fewer training examples than the provider takes', async () => {
    const objects = memoryObjectStore({ 'bucket/incoming/support/tickets.jsonl': chatDataset(12) });
    const { runs } = await runAt('RECEIVED');
    const everything = { seed: 42, threshold: 2 ** 53, classThresholds: null };
    await expect(
      prepareRun(
        { ...input, split: everything },
        { store: objects.store, runs, registry: memoryModelRegistry().registry },
      ),
    ).rejects.toThrow(/0 training example\(s\) and 12 validation.*at least 10/);
  });

  it('copies a supplied validation file instead of splitting', async () => {
    const lines = chatDataset(30).trim().split('\n');
    const objects = memoryObjectStore({
      'bucket/incoming/support/tickets.jsonl': `${lines.slice(0, 20).join('\n')}\n`,
      'bucket/incoming/support/tickets.validation.jsonl': `${lines.slice(20).join('\n')}\n`,
    });
    const { runs } = await runAt('RECEIVED');
    const validationSource = { bucket: 'bucket', key: 'incoming/support/tickets.validation.jsonl' };
    const prepared = await prepareRun(
      { ...input, validationSource },
      { store: objects.store, runs, registry: memoryModelRegistry().registry },
    );
    expect(prepared).toMatchObject({ trainingExamples: 20, validationExamples: 10 });
    expect(objects.text(prepared.validationKey!)).toBe(`${lines.slice(20).join('\n')}\n`);
  });
});

describe('createJob', () => {
  const files = { trainingFileId: 'file-t', validationFileId: null };

  it('creates one job tagged with the run id and records TRAINING', async () => {
    const { provider, created } = fakeProvider();
    const { runs, records } = await runAt('UPLOADING');
    const progress = await createJob(
      { ...input, files },
      { runs, provider, webhooks: memoryWebhookLog().log, now: () => new Date(1_700_000_000_000) },
    );
    expect(created).toEqual([
      expect.objectContaining({ runId: input.runId, suffix: 'support', seed: 42, trainingFileId: 'file-t' }),
    ]);
    expect(progress).toMatchObject({ jobId: 'ftjob-1', phase: 'running', polls: 0, waitSeconds: 60 });
    expect(records.get(input.runId)).toMatchObject({ status: 'TRAINING', providerJobId: 'ftjob-1' });
  });

  it('adopts the job an earlier attempt created instead of paying for a second one', async () => {
    const { provider, created } = fakeProvider();
    const { runs } = await runAt('UPLOADING');
    await createJob({ ...input, files }, { runs, provider, webhooks: memoryWebhookLog().log });
    const again = await createJob({ ...input, files }, { runs, provider, webhooks: memoryWebhookLog().log });
    expect(created).toHaveLength(1);
    expect(again.jobId).toBe('ftjob-1');
  });
});

describe('getStatus', () => {
  it('records a change of provider status and backs off between polls', async () => {
    const { provider } = fakeProvider({ getJob: async () => providerJob({ status: 'running' }) });
    const { runs, records } = await runAt('TRAINING');
    const job = {
      jobId: 'ftjob-1',
      status: 'queued',
      phase: 'running' as const,
      createdAt: 1_700_000_000,
      polls: 1,
      waitSeconds: 120,
      error: null,
    };
    const next = await getStatus(
      { runId: input.runId, job, config: { maxTrainingHours: 48 } },
      { runs, provider, webhooks: memoryWebhookLog().log, now: () => new Date(1_700_000_000_000 + 3600_000) },
    );
    expect(next).toMatchObject({ status: 'running', polls: 2, waitSeconds: 240 });
    expect(records.get(input.runId)?.history.at(-1)).toMatchObject({ status: 'TRAINING', detail: 'running' });
  });

  it("waits long only where job events arrive: OpenAI's verified webhooks, Bedrock's EventBridge events; Azure polls", async () => {
    const now = new Date(1_700_000_000_000 + 3600_000);
    // OpenAI's webhooks arrived verified a minute ago: an OpenAI run may wait an hour for its event.
    const webhooks = memoryWebhookLog(now.getTime() / 1000 - 60).log;
    const job = {
      jobId: 'ftjob-1',
      status: 'running',
      phase: 'running' as const,
      createdAt: 1_700_000_000,
      polls: 0,
      waitSeconds: 60,
      error: null,
    };
    const waitOn = async (name: 'openai' | 'azure-openai' | 'bedrock') => {
      const fake = fakeProvider({ getJob: async () => providerJob({ status: 'running' }) }).provider;
      const { runs } = await runAt('TRAINING');
      const next = await getStatus(
        { runId: input.runId, job, config: { maxTrainingHours: 48 } },
        { runs, provider: { ...fake, name }, webhooks, now: () => now },
      );
      return next.waitSeconds;
    };
    expect(await waitOn('openai')).toBeGreaterThanOrEqual(3600);
    expect(await waitOn('azure-openai')).toBeLessThanOrEqual(600);
    expect(await waitOn('bedrock')).toBeGreaterThanOrEqual(3600);
  });

  it("folds the provider's terminal statuses into phases and keeps the failure reason", async () => {
    const error = { code: 'invalid_training_file', message: 'line 3 is bad', param: 'training_file' };
    const { provider } = fakeProvider({ getJob: async () => providerJob({ status: 'failed', error }) });
    const { runs } = await runAt('TRAINING');
    const job = {
      jobId: 'ftjob-1',
      status: 'running',
      phase: 'running' as const,
      createdAt: 1_700_000_000,
      polls: 0,
      waitSeconds: 30,
      error: null,
    };
    expect(
      await getStatus(
        { runId: input.runId, job, config: { maxTrainingHours: 48 } },
        {
          runs,
          provider,
          webhooks: memoryWebhookLog().log,
          now: () => new Date(1_700_000_000_000 + 3600_000),
        },
      ),
    ).toMatchObject({
      phase: 'failed',
      error,
    });
  });
});

describe('getStatus past maxTrainingHours', () => {
  it('cancels the provider job and reports timed_out with the reason', async () => {
    const cancelled: string[] = [];
    const { provider } = fakeProvider({
      getJob: async () => providerJob({ status: 'running' }),
      cancelJob: async (id) => {
        cancelled.push(id);
        return providerJob({ id, status: 'cancelled' });
      },
    });
    const { runs } = await runAt('TRAINING');
    const job = {
      jobId: 'ftjob-1',
      status: 'running',
      phase: 'running' as const,
      createdAt: 1_700_000_000,
      polls: 9,
      waitSeconds: 300,
      error: null,
    };
    const later = () => new Date((1_700_000_000 + 49 * 3600) * 1000);
    const result = await getStatus(
      { runId: input.runId, job, config: { maxTrainingHours: 48 } },
      { runs, provider, webhooks: memoryWebhookLog().log, now: later },
    );
    expect(cancelled).toEqual(['ftjob-1']);
    expect(result).toMatchObject({ phase: 'timed_out', error: { code: 'training_timeout' } });
  });

  it('leaves a job alone before the limit', async () => {
    const { provider } = fakeProvider({
      getJob: async () => providerJob({ status: 'running' }),
      cancelJob: async () => {
        throw new Error('must not cancel');
      },
    });
    const { runs } = await runAt('TRAINING');
    const job = {
      jobId: 'ftjob-1',
      status: 'running',
      phase: 'running' as const,
      createdAt: 1_700_000_000,
      polls: 9,
      waitSeconds: 300,
      error: null,
    };
    const result = await getStatus(
      { runId: input.runId, job, config: { maxTrainingHours: 48 } },
      {
        runs,
        provider,
        webhooks: memoryWebhookLog().log,
        now: () => new Date((1_700_000_000 + 47 * 3600) * 1000),
      },
    );
    expect(result.phase).toBe('running');
  });
});

describe('collectResults', () => {
  const csv =
    'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2,0.5,,\n2,1,0.75,1.5,0.6\n';
  const job = {
    jobId: 'ftjob-1',
    status: 'succeeded',
    phase: 'succeeded' as const,
    createdAt: 1_700_000_000,
    polls: 5,
    waitSeconds: 30,
    error: null,
  };

  it('stores results.csv as delivered, decoded from base64, and a summary with the real cost', async () => {
    const { provider } = fakeProvider({
      getJob: async () =>
        providerJob({
          status: 'succeeded',
          trainedTokens: 200_000,
          fineTunedModel: 'ft:x',
          resultFileIds: ['file-r'],
          epochs: 3,
        }),
      resultFile: async () => new TextEncoder().encode(Buffer.from(csv).toString('base64')),
    });
    const objects = memoryObjectStore();
    const { runs } = await runAt('TRAINING');
    const registry = memoryModelRegistry();
    const results = await collectResults(
      { ...input, job },
      { store: objects.store, runs, provider, ...registryOf(registry) },
    );

    expect(objects.text(results.resultsKey)).toBe(csv);
    expect(results).toMatchObject({ fineTunedModel: 'ft:x', trainedTokens: 200_000, costUsd: 1 });
    expect(JSON.parse(objects.text(results.summaryKey))).toMatchObject({
      costUsd: 1,
      metrics: { steps: 2, final: { trainLoss: 1, validLoss: 1.5 } },
    });
    // The model is registered with what it was trained from, and its losses; not yet current (Record
    // promotes it if its evaluation says so).
    expect(registry.models.get('ft:x')).toMatchObject({
      family: input.family,
      provider: 'openai',
      baseModel: input.model,
      parentModel: input.model,
      runId: input.runId,
      trainLoss: 1,
      validLoss: 1.5,
      trainedTokens: 200_000,
      costUsd: 1,
    });
    expect(registry.pointers.get(input.family)).toBeUndefined();
    expect(registry.parameters.get(input.family)).toBeUndefined();
  });

  it('writes report.html next to results.csv, with the curves, the lineage and the validation findings', async () => {
    const { provider } = fakeProvider({
      getJob: async () =>
        providerJob({ status: 'succeeded', fineTunedModel: 'ft:<b>"x"', trainedTokens: 200_000, epochs: 3 }),
      resultFile: async () => new TextEncoder().encode(csv),
    });
    const keys = runKeys(input.runId);
    const objects = memoryObjectStore({
      [`bucket/${keys.validationJson}`]: JSON.stringify({
        errorCount: 0,
        warningCount: 3,
        warnings: [
          { code: 'duplicate_example', message: 'a copy of line 2', line: 5, lastLine: 7, times: 3 },
        ],
      }),
    });
    const written: Array<{ key: string; contentType: string }> = [];
    const store = {
      ...objects.store,
      write: async (ref: { bucket: string; key: string }, body: string | Uint8Array, contentType: string) => {
        written.push({ key: ref.key, contentType });
        await objects.store.write(ref, body, contentType);
      },
    };
    const { runs } = await runAt('TRAINING');
    const results = await collectResults(
      { ...input, job },
      { store, runs, provider, ...registryOf(memoryModelRegistry()) },
    );

    expect(results.reportKey).toBe(`runs/${input.runId}/report.html`);
    // After results.csv and summary.json, as HTML.
    expect(written.map((w) => w.key)).toEqual([keys.results, keys.summary, keys.report]);
    expect(written[2]!.contentType).toBe('text/html; charset=utf-8');
    const html = objects.text(keys.report);
    expect(html).toContain(`Run ${input.runId}`);
    expect(html).toContain('<code>ft:&lt;b&gt;&quot;x&quot;</code>');
    expect(html).toContain('$1.00 actual · $0.0050 estimated at validation');
    expect(html).toContain('<code>duplicate_example</code></td><td class="n">3</td>');
    expect(html).toMatch(/<path data-series="train-loss" d="M[^"]+"/);
    expect(html).toMatch(/<path data-series="valid-loss" d="M[^"]+"/);
    expect(html).not.toMatch(/<script/i);
  });

  it('still writes the report when the validation report cannot be read', async () => {
    const { provider } = fakeProvider({
      getJob: async () => providerJob({ status: 'succeeded', fineTunedModel: 'ft:x' }),
      resultFile: async () => new TextEncoder().encode(csv),
    });
    const objects = memoryObjectStore({ [`bucket/${runKeys(input.runId).validationJson}`]: '{not json' });
    const { runs } = await runAt('TRAINING');
    const results = await collectResults(
      { ...input, job },
      { store: objects.store, runs, provider, ...registryOf(memoryModelRegistry()) },
    );
    expect(objects.text(results.reportKey!)).toContain('The validation report could not be read');
  });

  it('registers a continued model with the model it was trained from as its parent', async () => {
    const { provider } = fakeProvider({
      getJob: async () =>
        providerJob({ status: 'succeeded', model: 'ft:x', fineTunedModel: 'ft:y', resultFileIds: ['r'] }),
      resultFile: async () => new TextEncoder().encode('step,train_loss\n1,0.5\n'),
    });
    const { runs } = await runAt('TRAINING');
    const registry = memoryModelRegistry();
    const prepared = {
      trainingKey: 'k',
      trainingExamples: 10,
      validationKey: null,
      validationExamples: 0,
      startFrom: 'ft:x',
    };
    await collectResults(
      { ...input, job, prepared },
      { store: memoryObjectStore().store, runs, provider, ...registryOf(registry) },
    );
    expect(registry.models.get('ft:y')).toMatchObject({ parentModel: 'ft:x', baseModel: input.model });
  });

  it('fails with a typed error when the provider has no result file', async () => {
    const { provider } = fakeProvider({ getJob: async () => providerJob({ status: 'succeeded' }) });
    const { runs } = await runAt('TRAINING');
    await expect(
      collectResults(
        { ...input, job },
        { store: memoryObjectStore().store, runs, provider, ...registryOf(memoryModelRegistry()) },
      ),
    ).rejects.toMatchObject({
      name: 'ResultFileMissingError',
    });
  });
});

function registryOf(registry: ReturnType<typeof memoryModelRegistry>) {
  return { registry: registry.registry, parameters: registry.currentModelParameters };
}

describe('getStatus and createJob choose how long the next wait may last', () => {
  const job = {
    jobId: 'ftjob-1',
    status: 'running',
    phase: 'running' as const,
    createdAt: 1_700_000_000,
    polls: 2,
    waitSeconds: 240,
    error: null,
  };
  const at = (hours: number) => () => new Date((1_700_000_000 + hours * 3600) * 1000);

  it('waits up to 16 hours on the third turn when a webhook was verified within a week', async () => {
    const { provider } = fakeProvider({ getJob: async () => providerJob({ status: 'running' }) });
    const { runs } = await runAt('TRAINING');
    const webhooks = memoryWebhookLog(1_700_000_000 - 6 * 24 * 3600).log;
    const next = await getStatus(
      { runId: input.runId, job: { ...job, polls: 1 }, config: { maxTrainingHours: 48 } },
      { runs, provider, webhooks, now: at(5) },
    );
    expect(next.waitSeconds).toBe(16 * 3600);
  });

  it('polls again when the last verified webhook is older than a week', async () => {
    const { provider } = fakeProvider({ getJob: async () => providerJob({ status: 'running' }) });
    const { runs } = await runAt('TRAINING');
    const webhooks = memoryWebhookLog(1_700_000_000 - 8 * 24 * 3600).log;
    const next = await getStatus(
      { runId: input.runId, job, config: { maxTrainingHours: 48 } },
      { runs, provider, webhooks, now: at(5) },
    );
    expect(next.waitSeconds).toBe(480);
  });

  it('cuts the wait at the maxTrainingHours deadline plus a minute, so the job is cancelled in time', async () => {
    const { provider } = fakeProvider({ getJob: async () => providerJob({ status: 'running' }) });
    const { runs } = await runAt('TRAINING');
    const webhooks = memoryWebhookLog(1_700_000_000).log;
    const next = await getStatus(
      { runId: input.runId, job, config: { maxTrainingHours: 10 } },
      { runs, provider, webhooks, now: at(5) },
    );
    expect(next.waitSeconds).toBe(5 * 3600 + 60);
  });
});

describe('acquireSlot, the queue, and the hand-over in recordOutcome', () => {
  async function world(limit: number) {
    const { runs } = memoryRunStore();
    for (const runId of ['a', 'b', 'c', 'd'])
      await runs.create({
        runId,
        family: 'support',
        status: 'UPLOADING',
        history: [],
        source: { bucket: 'bucket', key: `incoming/support/${runId}.jsonl` },
        createdAt: '2026-11-29T10:00:00.000Z',
        updatedAt: '2026-11-29T10:00:00.000Z',
      });
    let clock = 1_000;
    const now = () => (clock += 1_000);
    const { slots, holders, queue } = memorySlots({ runs, now });
    const { parked } = memoryParkedRuns(runs);
    const tokens = memoryTaskTokens();
    const resume = slotResumer(parked, tokens.tokens, now);
    const handOver = () =>
      handOverFreeSlots({
        slots,
        limit,
        statusOf: async (runId) => (await runs.get(runId))?.status,
        resume,
        now,
      });
    const ask = async (runId: string) => {
      const { token, output } = tokens.issue();
      const answer = await acquireSlot({ runId, taskToken: token }, { slots, parked, resume, handOver });
      return { answer, token, output };
    };
    const end = async (runId: string) => {
      await runs.advance(runId, 'FAILED', { error: { name: 'X', message: 'y' } });
      await recordOutcome(
        { ...input, runId, failure: { Error: 'X', Cause: 'y' } },
        { runs, slots, handOver, models: testModels() },
      );
    };
    return { runs, slots, holders, queue, tokens, ask, end, handOver, parked };
  }

  it('resumes a run at once while a slot is free, and parks it in the queue when none is', async () => {
    const w = await world(2);
    const a = await w.ask('a');
    const b = await w.ask('b');
    const c = await w.ask('c');
    expect([a.answer.outcome, b.answer.outcome, c.answer.outcome]).toEqual(['granted', 'granted', 'queued']);
    expect(w.tokens.completed.has(a.token) && w.tokens.completed.has(b.token)).toBe(true);
    expect(w.tokens.completed.has(c.token)).toBe(false);
    expect([...w.queue.keys()]).toEqual(['c']);
  });

  it('gives a freed slot to the oldest waiting run and resumes it with how long it waited', async () => {
    const w = await world(1);
    await w.ask('a');
    const c = await w.ask('c');
    const b = await w.ask('b');
    await w.end('a');
    expect(await c.output).toMatchObject({ waitedSeconds: expect.any(Number) });
    expect(w.tokens.completed.has(b.token)).toBe(false);
    expect([...w.holders.keys()]).toEqual(['c']);
    expect([...w.queue.keys()]).toEqual(['b']);
  });

  it('skips a waiting run that has ended and gives the slot to the next', async () => {
    const w = await world(1);
    await w.ask('a');
    const b = await w.ask('b');
    const c = await w.ask('c');
    await w.runs.advance('b', 'CANCELLED', { error: { name: 'Stopped', message: 'stopped' } });
    w.tokens.expire(b.token);
    await w.end('a');
    await c.output;
    expect([...w.holders.keys()]).toEqual(['c']);
    expect(w.queue.size).toBe(0);
  });

  it('resumes at once a run that asks again after its wait timed out and was given a slot meanwhile', async () => {
    const w = await world(1);
    await w.ask('a');
    const b = await w.ask('b');
    w.tokens.expire(b.token); // the wait timed out: the hand-over below cannot reach it
    await w.end('a');
    expect([...w.holders.keys()]).toEqual(['b']);
    const again = await w.ask('b');
    expect(again.answer.outcome).toBe('held');
    expect(w.tokens.completed.has(again.token)).toBe(true);
  });

  it('resumes at the next hand-over a run given a slot whose resume failed', async () => {
    const w = await world(1);
    await w.ask('a');
    const b = await w.ask('b');
    const resume = w.tokens.tokens.resume;
    w.tokens.tokens.resume = async () => Promise.reject(new Error('AccessDeniedException'));
    await w.end('a'); // Record's hand-over grants b, then fails to resume it
    w.tokens.tokens.resume = resume;
    expect([...w.holders.keys()]).toEqual(['b']);
    expect(w.tokens.completed.has(b.token)).toBe(false);
    expect((await w.handOver()).delivered).toEqual(['b']); // the sweep
    expect(await b.output).toMatchObject({ waitedSeconds: 0 });
    expect((await w.handOver()).delivered).toEqual([]); // its token is used up
  });

  it('keeps the queue first come, first served: a new run does not overtake waiting ones', async () => {
    const w = await world(1);
    await w.ask('a');
    await w.ask('b');
    await w.slots.release('a'); // freed without a hand-over (a crash in between)
    const c = await w.ask('c'); // its own hand-over serves the queue in order
    expect(c.answer.outcome).toBe('queued');
    expect([...w.holders.keys()]).toEqual(['b']);
  });
});

/** Record's registry with the run's model registered, as Collect leaves it. */
async function modelsWith(model: string, createdAt = '2026-11-24T11:00:00.000Z') {
  const models = testModels();
  await models.registry.register({
    family: input.family,
    model,
    provider: 'openai',
    baseModel: input.model,
    parentModel: input.model,
    runId: input.runId,
    createdAt,
  });
  return models;
}

const evaluated = (promoted: boolean) => ({
  evaluationKey: `runs/${input.runId}/evaluation.json`,
  evaluation: {
    status: 'completed' as const,
    metric: 'macro_f1',
    score: promoted ? 0.9 : 0.5,
    compared: { role: 'current' as const, model: 'ft:old', score: 0.7 },
    promoted,
    reason: promoted ? 'macro_f1 0.900 is not below' : 'macro_f1 0.500 is below, more than the margin 0',
    costUsd: 0.001,
  },
});

/** A run Evaluate has seen, its model registered as Collect leaves it, and its results. */
async function evaluatingRun() {
  const { runs, records } = await runAt('COLLECTING');
  await runs.advance(input.runId, 'EVALUATING');
  const results = {
    resultsKey: 'r',
    summaryKey: 's',
    fineTunedModel: 'ft:x',
    trainedTokens: 10,
    costUsd: 0.5,
  };
  return { runs, records, results, models: await modelsWith('ft:x') };
}

describe('recordOutcome', () => {
  it('records success with model, tokens and cost, and makes the model current', async () => {
    const { runs, records } = await runAt('COLLECTING');
    const results = {
      resultsKey: 'r',
      summaryKey: 's',
      fineTunedModel: 'ft:x',
      trainedTokens: 10,
      costUsd: 0.5,
    };
    const models = await modelsWith('ft:x');
    expect(
      await recordOutcome(
        { ...input, results },
        { runs, slots: memorySlots().slots, handOver: noHandOver, models },
      ),
    ).toEqual({
      runId: input.runId,
      status: 'SUCCEEDED',
    });
    expect(records.get(input.runId)).toMatchObject({
      status: 'SUCCEEDED',
      fineTunedModel: 'ft:x',
      costUsd: 0.5,
      finishedAt: expect.any(String),
    });
    expect(models.memory.pointers.get(input.family)?.currentModel).toBe('ft:x');
    expect(models.memory.parameters.get(input.family)).toBe('ft:x');
  });

  it("promotes an evaluated model the policy chose, and records the evaluation's numbers on the run", async () => {
    const { runs, records, results, models } = await evaluatingRun();
    const metrics: Array<{ status: string; costUsd?: number | undefined }> = [];
    const deps = {
      runs,
      slots: memorySlots().slots,
      handOver: noHandOver,
      models,
      metrics: {
        ...NO_METRICS,
        runEnded: (run: { status: string; costUsd?: number | undefined }) => void metrics.push(run),
      },
    };
    await recordOutcome({ ...input, results, evaluation: evaluated(true) }, deps);
    expect(records.get(input.runId)).toMatchObject({
      status: 'SUCCEEDED',
      evaluationKey: `runs/${input.runId}/evaluation.json`,
      evaluation: { status: 'completed', metric: 'macro_f1', score: 0.9, promoted: true },
    });
    expect(models.memory.parameters.get(input.family)).toBe('ft:x');
    // What the run cost: its training and its evaluation.
    expect(metrics).toEqual([expect.objectContaining({ status: 'SUCCEEDED', costUsd: 0.501 })]);
  });

  it('ends SUCCEEDED_NOT_PROMOTED with both numbers when the policy keeps the current model, which stays current', async () => {
    const { runs, records, results, models } = await evaluatingRun();
    const status = await recordOutcome(
      { ...input, results, evaluation: evaluated(false) },
      { runs, slots: memorySlots().slots, handOver: noHandOver, models },
    );
    expect(status).toEqual({ runId: input.runId, status: 'SUCCEEDED_NOT_PROMOTED' });
    expect(records.get(input.runId)).toMatchObject({
      status: 'SUCCEEDED_NOT_PROMOTED',
      fineTunedModel: 'ft:x',
      costUsd: 0.5,
      evaluation: { score: 0.5, compared: { model: 'ft:old', score: 0.7 }, promoted: false },
    });
    expect(models.memory.pointers.get(input.family)).toBeUndefined();
    expect(models.memory.parameters.get(input.family)).toBeUndefined();
  });

  it('keeps the model unpromoted when the evaluation step failed, saying why', async () => {
    const { runs, records, results, models } = await evaluatingRun();
    await recordOutcome(
      {
        ...input,
        results,
        evaluationFailure: {
          Error: 'Sandbox.Timedout',
          Cause: JSON.stringify({
            errorType: 'Sandbox.Timedout',
            errorMessage: 'Task timed out after 900.00 seconds',
          }),
        },
      },
      { runs, slots: memorySlots().slots, handOver: noHandOver, models },
    );
    expect(records.get(input.runId)).toMatchObject({
      status: 'SUCCEEDED_NOT_PROMOTED',
      evaluation: { status: 'failed', promoted: false, reason: expect.stringContaining('Task timed out') },
    });
    expect(models.memory.pointers.get(input.family)).toBeUndefined();
  });

  it('keeps the model unpromoted when looking at its evaluation batches failed, naming the batches still running', async () => {
    const { runs, records, results, models } = await evaluatingRun();
    await recordOutcome(
      {
        ...input,
        results,
        evaluation: {
          pending: {
            kind: 'batches',
            submitted: [
              { role: 'new', model: 'ft:x', id: 'batch_new' },
              { role: 'current', model: 'ft:old', id: 'batch_old' },
            ],
            submittedAt: '2026-11-24T10:00:00.000Z',
            checks: 3,
            waitSeconds: 480,
          },
        },
        evaluationFailure: {
          Error: 'ProviderUnavailableError',
          Cause: JSON.stringify({ errorType: 'ProviderUnavailableError', errorMessage: 'OpenAI is down' }),
        },
      },
      { runs, slots: memorySlots().slots, handOver: noHandOver, models },
    );
    expect(records.get(input.runId)).toMatchObject({
      status: 'SUCCEEDED_NOT_PROMOTED',
      evaluation: {
        status: 'failed',
        promoted: false,
        reason: expect.stringMatching(/OpenAI is down.*batch_new, batch_old.*may still run/),
      },
    });
    expect(records.get(input.runId)!.evaluationKey).toBeUndefined();
    expect(models.memory.pointers.get(input.family)).toBeUndefined();
  });

  it('does not take the family back to an older model when a model made current later is current already', async () => {
    const { runs, records, results, models } = await evaluatingRun();
    const later = {
      ...(await models.registry.find('ft:x'))!,
      model: 'ft:later',
      runId: 'later',
      createdAt: '2026-11-24T12:00:00.000Z',
    };
    await models.registry.register(later);
    await models.registry.promote(later, later.createdAt);
    await recordOutcome(
      { ...input, results, evaluation: evaluated(true) },
      { runs, slots: memorySlots().slots, handOver: noHandOver, models },
    );
    expect(records.get(input.runId)).toMatchObject({
      status: 'SUCCEEDED_NOT_PROMOTED',
      evaluation: { promoted: false, reason: expect.stringContaining('the registry kept the current model') },
    });
    expect(models.memory.pointers.get(input.family)?.currentModel).toBe('ft:later');
  });

  it("records the report's key with the results, and none for a state collected before there was one", async () => {
    const { runs, records } = await runAt('COLLECTING');
    const results = {
      resultsKey: 'r',
      summaryKey: 's',
      fineTunedModel: 'ft:x',
      trainedTokens: 10,
      costUsd: 0.5,
    };
    const deps = { runs, slots: memorySlots().slots, handOver: noHandOver, models: await modelsWith('ft:x') };
    await recordOutcome({ ...input, results: { ...results, reportKey: 'runs/x/report.html' } }, deps);
    expect(records.get(input.runId)).toMatchObject({ status: 'SUCCEEDED', reportKey: 'runs/x/report.html' });

    const older = await runAt('COLLECTING');
    await recordOutcome({ ...input, results }, { ...deps, runs: older.runs });
    expect(older.records.get(input.runId)).not.toHaveProperty('reportKey');
  });

  it('records a caught error with its code and fix', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const failure = {
      Error: 'ApiKeyNotSetError',
      Cause: JSON.stringify({
        errorType: 'ApiKeyNotSetError',
        errorMessage: 'the key is not set [api_key_not_set] Fix: put it',
      }),
    };
    await recordOutcome(
      { ...input, failure },
      { runs, slots: memorySlots().slots, handOver: noHandOver, models: testModels() },
    );
    expect(records.get(input.runId)).toMatchObject({
      status: 'FAILED',
      error: {
        name: 'ApiKeyNotSetError',
        code: 'api_key_not_set',
        message: 'the key is not set',
        fix: 'put it',
      },
    });
  });

  it("records a job cancelled at the provider as CANCELLED and a failed job with the provider's reason", async () => {
    const cancelled = await runAt('TRAINING');
    const job = {
      jobId: 'j',
      status: 'cancelled',
      phase: 'cancelled' as const,
      createdAt: 1_700_000_000,
      polls: 1,
      waitSeconds: 30,
      error: null,
    };
    await recordOutcome(
      { ...input, job },
      { runs: cancelled.runs, slots: memorySlots().slots, handOver: noHandOver, models: testModels() },
    );
    expect(cancelled.records.get(input.runId)?.status).toBe('CANCELLED');

    const failed = await runAt('TRAINING');
    const error = { code: 'invalid_training_file', message: 'bad line 3' };
    await recordOutcome(
      { ...input, job: { ...job, status: 'failed', phase: 'failed', error } },
      { runs: failed.runs, slots: memorySlots().slots, handOver: noHandOver, models: testModels() },
    );
    expect(failed.records.get(input.runId)).toMatchObject({
      status: 'FAILED',
      error: { code: 'invalid_training_file', message: expect.stringContaining('bad line 3') },
    });
  });
});

import { reconcileRun } from '../../functions/reconcile/reconcile-run.js';

describe('reconcileRun', () => {
  it('records a stopped run CANCELLED and cancels its provider job that is still training', async () => {
    const cancelled: string[] = [];
    const { provider } = fakeProvider({
      getJob: async (id) => providerJob({ id, status: 'running' }),
      cancelJob: async (id) => (cancelled.push(id), providerJob({ id, status: 'cancelled' })),
    });
    const { runs, records } = await runAt('TRAINING');
    await runs.advance(input.runId, 'TRAINING', { providerJobId: 'ftjob-9' });
    expect(
      await reconcileRun(
        { runId: input.runId, status: 'ABORTED' },
        reconcileWith({ runs, provider, slots: memorySlots().slots, handOver: noHandOver }),
      ),
    ).toMatchObject({
      status: 'CANCELLED',
      changed: true,
    });
    expect(cancelled).toEqual(['ftjob-9']);
    expect(records.get(input.runId)).toMatchObject({
      status: 'CANCELLED',
      providerStatus: 'cancelled',
      error: { code: 'execution_stopped' },
    });
  });

  it('records a run that timed out before any job TIMED_OUT, without calling the provider', async () => {
    const { provider } = fakeProvider({
      getJob: async () => {
        throw new Error('no job to read');
      },
    });
    const { runs, records } = await runAt('UPLOADING');
    await reconcileRun(
      { runId: input.runId, status: 'TIMED_OUT' },
      reconcileWith({ runs, provider, slots: memorySlots().slots, handOver: noHandOver }),
    );
    expect(records.get(input.runId)).toMatchObject({
      status: 'TIMED_OUT',
      error: { code: 'execution_timed_out' },
    });
  });

  it('leaves a run that the workflow already recorded as it is', async () => {
    const { provider } = fakeProvider();
    const { runs, records } = await runAt('COLLECTING');
    await runs.advance(input.runId, 'FAILED', { error: { name: 'X', message: 'original cause' } });
    expect(
      await reconcileRun(
        { runId: input.runId, status: 'FAILED' },
        reconcileWith({ runs, provider, slots: memorySlots().slots, handOver: noHandOver }),
      ),
    ).toMatchObject({
      status: 'FAILED',
      changed: false,
    });
    expect(records.get(input.runId)?.error?.message).toBe('original cause');
  });
});

import { redrive, type DeadLetter } from '../../functions/core/redrive.js';

describe('redrive', () => {
  it('sends Lambda failure records and EventBridge dead letters back to their function, and keeps what it cannot read', async () => {
    const queue: DeadLetter[] = [
      {
        id: '1',
        attributes: {},
        body: JSON.stringify({
          requestContext: { functionArn: 'arn:fn:Validate:$LATEST' },
          requestPayload: { Records: [] },
        }),
      },
      {
        id: '2',
        attributes: { TARGET_ARN: 'arn:fn:Reconcile' },
        body: JSON.stringify({ detail: { name: 'run-1' } }),
      },
      { id: '3', attributes: {}, body: 'not json' },
    ];
    const invoked: Array<[string, unknown]> = [];
    const result = await redrive({
      receive: async () => [...queue],
      remove: async (letter) =>
        void queue.splice(
          queue.findIndex((l) => l.id === letter.id),
          1,
        ),
      invoke: async (arn, payload) => void invoked.push([arn, payload]),
    });
    expect(result).toEqual({ redriven: 2, kept: [{ id: '3', reason: 'the message body is not JSON' }] });
    expect(invoked).toEqual([
      ['arn:fn:Validate', { Records: [] }],
      ['arn:fn:Reconcile', { detail: { name: 'run-1' } }],
    ]);
    expect(queue.map((l) => l.id)).toEqual(['3']);
  });
});
