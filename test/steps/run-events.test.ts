import { recordOutcome } from '../../functions/record/record-outcome.js';
import { getStatus } from '../../functions/get-status/get-status.js';
import { publishingRunStore, type RunEvent } from '../../functions/core/run-events.js';
import type { RecordInput } from '../../functions/core/workflow-state.js';
import {
  fakeProvider,
  memoryRunStore,
  memorySlots,
  noHandOver,
  providerJob,
  testModels,
  registerPromoted,
} from '../support/fakes.js';

/**
 * A step that Step Functions retries (its Lambda timed out after writing, or the answer was lost) runs
 * again on a run that has already moved: the run store's advance refuses the move, and no event is put
 * a second time.
 */
const runId = 'tickets-0123456789abcdef';
const at = '2026-11-30T10:00:00.000Z';

async function runAt(...path: Array<'PREPARING' | 'UPLOADING' | 'TRAINING' | 'COLLECTING'>) {
  const { runs } = memoryRunStore();
  const published: RunEvent[] = [];
  const store = publishingRunStore(runs, { published: async (events) => void published.push(...events) });
  await runs.create({
    runId,
    family: 'support',
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at }],
    source: { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1' },
    createdAt: at,
    updatedAt: at,
  });
  for (const status of path) await runs.advance(runId, status);
  return { store, published };
}

describe('a retried step publishes its move once', () => {
  it('Record, run twice on the same outcome: one SUCCEEDED event', async () => {
    const { store, published } = await runAt('PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING');
    const input = {
      runId,
      family: 'support',
      config: { provider: 'openai' },
      results: { resultsKey: 'r', summaryKey: 's', fineTunedModel: 'ft:x', trainedTokens: 10, costUsd: 0.5 },
    } as unknown as RecordInput;
    const models = testModels();
    await registerPromoted(models.registry, {
      family: 'support',
      model: 'ft:x',
      provider: 'openai',
      baseModel: 'gpt-4.1-mini-2025-04-14',
      parentModel: 'gpt-4.1-mini-2025-04-14',
      runId,
      createdAt: '2026-11-24T11:00:00.000Z',
    });
    const deps = { runs: store, slots: memorySlots().slots, handOver: noHandOver, models };
    expect(await recordOutcome(input, deps)).toEqual({ runId, status: 'SUCCEEDED' });
    expect(await recordOutcome(input, deps)).toEqual({ runId, status: 'SUCCEEDED' });
    expect(published.map((e) => [e.detail.previousStatus, e.detail.status])).toEqual([
      ['COLLECTING', 'SUCCEEDED'],
    ]);
    expect(published[0]!.detail).toMatchObject({ fineTunedModel: 'ft:x', costUsd: 0.5 });
  });

  it('Record of a failure, retried: one FAILED event', async () => {
    const { store, published } = await runAt('PREPARING');
    const failure = { Error: 'Boom', Cause: JSON.stringify({ errorType: 'Boom', errorMessage: 'boom' }) };
    const input = {
      runId,
      family: 'support',
      config: { provider: 'openai' },
      failure,
    } as unknown as RecordInput;
    const deps = { runs: store, slots: memorySlots().slots, handOver: noHandOver, models: testModels() };
    await recordOutcome(input, deps);
    await recordOutcome(input, deps);
    expect(published.map((e) => e.detail.status)).toEqual(['FAILED']);
  });

  it('Get status, polled twice while the job trains: no event (progress notes are no move)', async () => {
    const { store, published } = await runAt('PREPARING', 'UPLOADING', 'TRAINING');
    const job = providerJob({ id: 'ftjob-1', status: 'running' });
    const deps = {
      runs: store,
      provider: fakeProvider({ getJob: async () => job }).provider,
      webhooks: { lastVerifiedAt: async () => undefined },
    };
    const progress = {
      jobId: 'ftjob-1',
      status: 'queued',
      phase: 'running',
      createdAt: Date.now() / 1000,
      polls: 0,
    };
    const input = { runId, job: progress, config: { maxTrainingHours: 24 } } as Parameters<
      typeof getStatus
    >[0];
    await getStatus(input, deps);
    await getStatus(input, deps);
    expect(published).toEqual([]);
  });
});
