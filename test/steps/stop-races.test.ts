import fc from 'fast-check';
import { createJob } from '../../functions/create-job/create-job.js';
import { resolveRunConfig } from '../../functions/core/config.js';
import type { FineTuningProvider, RunStore } from '../../functions/core/ports.js';
import { TERMINAL_STATUSES, type RunStatus } from '../../functions/core/run.js';
import { handOverFreeSlots, VANISHED_HOLDER_GRACE_MS } from '../../functions/core/slots.js';
import type { ExecutionInput, JobProgress } from '../../functions/core/workflow-state.js';
import { reconcileRun } from '../../functions/reconcile/reconcile-run.js';
import { recordOutcome } from '../../functions/record/record-outcome.js';
import {
  fakeProvider,
  memoryRunStore,
  memorySlots,
  testModels,
  memoryWebhookLog,
  noHandOver,
  providerJob,
  reconcileWith,
} from '../support/fakes.js';

/** Nobody has verified a webhook: the steps poll. */
const webhooks = memoryWebhookLog().log;

/**
 * Issue #7, point 6: a run stopped while Create job is in flight (Step Functions does not stop a Lambda
 * that is running) must not leave a paid job training, and a slot must not stay with a run that can no
 * longer release it. Each order of events between Create job and reconcile is played here on the
 * in-memory ports; the property test lets fast-check choose the interleaving of every port call.
 */
const config = (() => {
  const result = resolveRunConfig({ suffix: 'support' });
  if (!result.ok) throw new Error('bad test config');
  return result.config;
})();

const input: ExecutionInput & { files: { trainingFileId: string; validationFileId: null } } = {
  runId: 'tickets-0123456789abcdef',
  family: 'support',
  source: { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1' },
  config,
  model: 'gpt-4.1-mini-2025-04-14',
  split: { seed: 42, threshold: null, classThresholds: null },
  validationSource: null,
  conversion: null,
  estimate: { billedTokens: 1000, costUsd: 0.005, epochs: 3 },
  files: { trainingFileId: 'file-t', validationFileId: null },
};
const stopped = { runId: input.runId, status: 'ABORTED' } as const;

async function runAt(status: RunStatus, runId = input.runId, store = memoryRunStore()) {
  const at = '2026-11-24T10:00:00.000Z';
  await store.runs.create({
    runId,
    family: 'support',
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at }],
    source: input.source,
    createdAt: at,
    updatedAt: at,
  });
  const path: RunStatus[] = ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING'];
  for (const step of path.slice(0, path.indexOf(status) + 1)) await store.runs.advance(runId, step);
  if (TERMINAL_STATUSES.has(status)) await store.runs.advance(runId, status);
  return store;
}

/** A promise to resolve by hand, to hold one side of a race at a chosen point. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const terminalEntries = (history: Array<{ status: RunStatus }>) =>
  history.filter((change) => TERMINAL_STATUSES.has(change.status));

describe('a run stopped around Create job', () => {
  it('gets no job when it was stopped before Create job ran', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const { provider, created } = fakeProvider();
    await reconcileRun(
      stopped,
      reconcileWith({ runs, provider, slots: memorySlots().slots, handOver: noHandOver }),
    );

    await expect(createJob(input, { runs, provider, webhooks })).rejects.toMatchObject({
      name: 'RunEndedError',
      code: 'run_ended',
    });
    expect(created).toEqual([]);
    expect(records.get(input.runId)).toMatchObject({
      status: 'CANCELLED',
      error: { code: 'execution_stopped' },
    });
  });

  it('cancels the job when the run ended while the provider was still creating it', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const creating = gate();
    const reached = gate();
    const fake = fakeProvider();
    const provider: FineTuningProvider = {
      ...fake.provider,
      async createJob(request) {
        reached.open();
        await creating.opened; // the request is on its way; the provider has made nothing yet
        return fake.provider.createJob(request);
      },
    };
    const progress = createJob(input, { runs, provider, webhooks });
    await reached.opened;

    // Reconcile comes first: no job anywhere yet.
    await reconcileRun(
      stopped,
      reconcileWith({ runs, provider, slots: memorySlots().slots, handOver: noHandOver }),
    );
    expect(fake.jobs.size).toBe(0);
    creating.open();

    expect(await progress).toMatchObject({
      jobId: 'ftjob-1',
      status: 'cancelled',
      phase: 'cancelled',
      error: { code: 'run_ended' },
    });
    expect(fake.jobs.get('ftjob-1')?.status).toBe('cancelled');
    const run = records.get(input.runId)!;
    expect(run).toMatchObject({ status: 'CANCELLED', providerJobId: 'ftjob-1', providerStatus: 'cancelled' });
    // The history says what happened: the run never trained, and ended once.
    expect(run.history.map((change) => change.status)).toEqual([
      'RECEIVED',
      'PREPARING',
      'UPLOADING',
      'CANCELLED',
    ]);
  });

  it('cancels the job once when reconcile finds it made but not yet recorded', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const answering = gate();
    const reached = gate();
    const fake = fakeProvider();
    const cancels: string[] = [];
    const provider: FineTuningProvider = {
      ...fake.provider,
      async createJob(request) {
        const job = await fake.provider.createJob(request);
        reached.open();
        await answering.opened; // the provider has the job; its answer is still on the way
        return job;
      },
      async cancelJob(id) {
        const job = await fake.provider.cancelJob(id);
        cancels.push(id);
        return job;
      },
    };
    const progress = createJob(input, { runs, provider, webhooks });
    await reached.opened;

    await reconcileRun(
      stopped,
      reconcileWith({ runs, provider, slots: memorySlots().slots, handOver: noHandOver }),
    );
    expect(fake.jobs.get('ftjob-1')?.status).toBe('cancelled');
    answering.open();

    // Create job's own cancel is refused (the job has finished); it reads the job and carries on.
    expect(await progress).toMatchObject({ phase: 'cancelled', status: 'cancelled' });
    expect(cancels).toEqual(['ftjob-1']);
    expect(records.get(input.runId)).toMatchObject({
      status: 'CANCELLED',
      providerJobId: 'ftjob-1',
      providerStatus: 'cancelled',
    });
  });

  it('cancels the job reconcile finds on the run when the run is stopped after Create job', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const fake = fakeProvider();
    expect(await createJob(input, { runs, provider: fake.provider, webhooks })).toMatchObject({
      phase: 'running',
    });

    expect(
      await reconcileRun(
        stopped,
        reconcileWith({
          runs,
          provider: fake.provider,
          slots: memorySlots().slots,
          handOver: noHandOver,
        }),
      ),
    ).toMatchObject({ status: 'CANCELLED', changed: true });
    expect(fake.jobs.get('ftjob-1')?.status).toBe('cancelled');
    expect(records.get(input.runId)).toMatchObject({
      status: 'CANCELLED',
      providerJobId: 'ftjob-1',
      providerStatus: 'cancelled',
    });
  });

  it('cancels the job a stopped run names before recording the end, so no reader sees it ended and training', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const fake = fakeProvider();
    await createJob(input, { runs, provider: fake.provider, webhooks });
    const jobAtEnd: string[] = [];
    const watched: RunStore = {
      ...runs,
      async advance(runId, status, fields) {
        if (TERMINAL_STATUSES.has(status)) jobAtEnd.push(fake.jobs.get('ftjob-1')!.status);
        return runs.advance(runId, status, fields);
      },
    };
    await reconcileRun(
      stopped,
      reconcileWith({
        runs: watched,
        provider: fake.provider,
        slots: memorySlots().slots,
        handOver: noHandOver,
      }),
    );
    expect(jobAtEnd).toEqual(['cancelled']);
    expect(records.get(input.runId)).toMatchObject({ status: 'CANCELLED', providerStatus: 'cancelled' });
  });

  it('cancels the job Create job records between reconcile reading the run and recording its end', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const fake = fakeProvider();
    const held = gate();
    const read = gate();
    let reads = 0;
    const reconcileRuns: RunStore = {
      ...runs,
      async get(runId) {
        const run = await runs.get(runId);
        if (reads++ === 0) {
          read.open();
          await held.opened; // reconcile has seen the run UPLOADING, with no job
        }
        return run;
      },
    };
    const reconciling = reconcileRun(
      stopped,
      reconcileWith({
        runs: reconcileRuns,
        provider: fake.provider,
        slots: memorySlots().slots,
        handOver: noHandOver,
      }),
    );
    await read.opened;
    await createJob(input, { runs, provider: fake.provider, webhooks });
    expect(records.get(input.runId)?.status).toBe('TRAINING');
    held.open();

    expect(await reconciling).toMatchObject({ status: 'CANCELLED', changed: true });
    expect(fake.jobs.get('ftjob-1')?.status).toBe('cancelled');
    expect(records.get(input.runId)).toMatchObject({ status: 'CANCELLED', providerStatus: 'cancelled' });
  });

  it('in any interleaving of Create job and reconcile, ends CANCELLED once with no job left training', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const { runs, records } = await runAt('UPLOADING');
        const fake = fakeProvider();
        // Every port call takes effect at a point the scheduler picks.
        const scheduled = <T extends object>(port: T, label: string): T =>
          Object.fromEntries(
            Object.entries(port).map(([key, value]) => [
              key,
              typeof value === 'function'
                ? async (...args: unknown[]) => {
                    await s.schedule(Promise.resolve(), `${label}.${key}`);
                    return value(...args);
                  }
                : value,
            ]),
          ) as T;
        const creating = createJob(input, {
          runs: scheduled(runs, 'create-job runs'),
          provider: scheduled(fake.provider, 'create-job provider'),
          webhooks,
        }).catch((error: Error) => error);
        const reconciling = reconcileRun(
          stopped,
          reconcileWith({
            runs: scheduled(runs, 'reconcile runs'),
            provider: scheduled(fake.provider, 'reconcile provider'),
            slots: memorySlots().slots,
            handOver: noHandOver,
          }),
        );
        await s.waitIdle();
        const [created] = await Promise.all([creating, reconciling]);

        if (created instanceof Error) expect(created.name).toBe('RunEndedError');
        const run = records.get(input.runId)!;
        expect(run.status).toBe('CANCELLED');
        expect(terminalEntries(run.history)).toHaveLength(1);
        expect(fake.created.length).toBeLessThanOrEqual(1);
        for (const job of fake.jobs.values()) expect(job.status).toBe('cancelled');
        if (fake.created.length === 1)
          expect(run).toMatchObject({ providerJobId: 'ftjob-1', providerStatus: 'cancelled' });
      }),
      { numRuns: 200 },
    );
  });

  it('sends a job made for a run recorded failed elsewhere to Record, which keeps the recorded failure', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const fake = fakeProvider();
    const provider: FineTuningProvider = {
      ...fake.provider,
      async createJob(request) {
        // Someone records the run failed while the job is being made; the execution goes on.
        await runs.advance(input.runId, 'FAILED', { error: { name: 'Manual', message: 'given up by hand' } });
        return fake.provider.createJob(request);
      },
    };
    const job: JobProgress = await createJob(input, { runs, provider, webhooks });
    // The workflow's Choice sends phase cancelled to Record failure, not to Wait for job.
    expect(job).toMatchObject({ phase: 'cancelled', status: 'cancelled' });

    expect(
      await recordOutcome(
        { ...input, job },
        { runs, slots: memorySlots().slots, handOver: noHandOver, models: testModels() },
      ),
    ).toEqual({
      runId: input.runId,
      status: 'FAILED',
    });
    const run = records.get(input.runId)!;
    expect(run).toMatchObject({
      status: 'FAILED',
      error: { message: 'given up by hand' },
      providerJobId: 'ftjob-1',
      providerStatus: 'cancelled',
    });
    expect(terminalEntries(run.history)).toHaveLength(1);
  });

  it('cancels a job still training for a run the workflow recorded failed, and leaves the record as it is', async () => {
    const { runs, records } = await runAt('UPLOADING');
    const cancels: string[] = [];
    const fake = fakeProvider({
      getJob: async (id) => providerJob({ id, status: 'running' }),
      cancelJob: async (id) => (cancels.push(id), providerJob({ id, status: 'cancelled' })),
    });
    await runs.advance(input.runId, 'TRAINING', { providerJobId: 'ftjob-7', providerStatus: 'running' });
    await runs.advance(input.runId, 'FAILED', { error: { name: 'X', message: 'poll failed' } });

    expect(
      await reconcileRun(
        { runId: input.runId, status: 'FAILED' },
        reconcileWith({ runs, provider: fake.provider, slots: memorySlots().slots, handOver: noHandOver }),
      ),
    ).toMatchObject({ status: 'FAILED', changed: false });
    expect(cancels).toEqual(['ftjob-7']);
    expect(records.get(input.runId)).toMatchObject({
      status: 'FAILED',
      providerStatus: 'cancelled',
      error: { message: 'poll failed' },
    });
  });

  it('asks the provider nothing for a recorded run whose job has finished', async () => {
    const { runs } = await runAt('UPLOADING');
    const calls: string[] = [];
    const { provider } = fakeProvider({
      getJob: async () => (calls.push('getJob'), providerJob()),
      findJobByRunId: async () => (calls.push('findJobByRunId'), undefined),
    });
    await runs.advance(input.runId, 'TRAINING', { providerJobId: 'ftjob-1', providerStatus: 'succeeded' });
    await runs.advance(input.runId, 'COLLECTING');
    await runs.advance(input.runId, 'FAILED', { error: { name: 'X', message: 'collect failed' } });
    await reconcileRun(
      { runId: input.runId, status: 'FAILED' },
      reconcileWith({ runs, provider, slots: memorySlots().slots, handOver: noHandOver }),
    );
    expect(calls).toEqual([]);
  });

  it('cancels the job of a run whose item is gone', async () => {
    const { runs } = memoryRunStore();
    const fake = fakeProvider();
    await fake.provider.createJob({
      runId: input.runId,
      model: input.model,
      trainingFileId: 'file-t',
      validationFileId: null,
      suffix: 'support',
      seed: 42,
      method: 'supervised',
      hyperparameters: { nEpochs: 'auto', batchSize: 'auto', learningRateMultiplier: 'auto' },
    });
    expect(
      await reconcileRun(
        stopped,
        reconcileWith({
          runs,
          provider: fake.provider,
          slots: memorySlots().slots,
          handOver: noHandOver,
        }),
      ),
    ).toMatchObject({ status: 'unknown' });
    expect(fake.jobs.get('ftjob-1')?.status).toBe('cancelled');
  });
});

describe('provider slots held by runs that cannot release them', () => {
  const limit = 2;

  it('are taken back when the holding run has ended', async () => {
    const store = await runAt('CANCELLED', 'ended');
    await runAt('TRAINING', 'live', store);
    await runAt('UPLOADING', 'next', store);
    const { slots, holders } = memorySlots({ runs: store.runs });
    await slots.acquire('ended', limit); // an acquire that finished after reconcile had released
    await slots.acquire('live', limit);

    // The sweep's hand-over, with nobody resuming a slot: the queued run gets the dead holder's slot.
    await slots.enqueue('next');
    const handOver = await handOverFreeSlots({
      slots,
      limit,
      statusOf: async (runId) => (await store.runs.get(runId))?.status,
      resume: async () => true,
      now: Date.now,
    });
    expect(handOver.granted).toEqual([{ runId: 'next', resumed: true }]);
    expect([...holders.keys()].sort()).toEqual(['live', 'next']);
  });

  it('are taken back when the holding run no longer exists, once the grace period has passed', async () => {
    let now = 1_800_000_000_000;
    const store = await runAt('TRAINING', 'live');
    await runAt('UPLOADING', 'next', store);
    const { slots } = memorySlots({ runs: store.runs, now: () => now });
    await slots.acquire('deleted-by-hand', limit);
    await slots.acquire('live', limit);

    now += VANISHED_HOLDER_GRACE_MS - 1;
    expect(await slots.acquire('next', limit)).toBe(false);
    now += 1;
    expect(await slots.acquire('next', limit)).toBe(true);
  });

  it('stay with runs still going, however long they have held them', async () => {
    let now = 1_800_000_000_000;
    const store = await runAt('TRAINING', 'a');
    await runAt('UPLOADING', 'b', store);
    await runAt('UPLOADING', 'next', store);
    const { slots, holders } = memorySlots({ runs: store.runs, now: () => now });
    await slots.acquire('a', limit);
    await slots.acquire('b', limit);
    now += 30 * 24 * 3600 * 1000;
    expect(await slots.acquire('next', limit)).toBe(false);
    expect([...holders.keys()]).toEqual(['a', 'b']);
  });
});
