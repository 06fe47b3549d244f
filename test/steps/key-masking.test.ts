import { resolveRunConfig } from '../../functions/core/config.js';
import type { RecordInput } from '../../functions/core/workflow-state.js';
import { reconcileRun } from '../../functions/reconcile/reconcile-run.js';
import { recordOutcome } from '../../functions/record/record-outcome.js';
import {
  fakeProvider,
  memoryRunStore,
  memorySlots,
  noHandOver,
  reconcileWith,
  testModels,
} from '../support/fakes.js';

/**
 * Issue #9: whatever cause reaches Record or reconcile (a task's error, an execution's cause), the run's
 * stored error holds no provider key.
 */
const KEY = 'sk-stored-canary-abcdef0123456789';
const runId = 'tickets-0123456789abcdef';
const source = { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1' };

async function runningRun() {
  const store = memoryRunStore();
  const at = '2026-11-24T10:00:00.000Z';
  await store.runs.create({
    runId,
    family: 'support',
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at }],
    source,
    createdAt: at,
    updatedAt: at,
  });
  await store.runs.advance(runId, 'PREPARING');
  return store;
}

describe('the error a run is recorded with', () => {
  it('has a key quoted in a task failure masked when Record stores it', async () => {
    const config = resolveRunConfig({ suffix: 'support' });
    if (!config.ok) throw new Error('bad test config');
    const { runs, records } = await runningRun();
    const input = {
      runId,
      family: 'support',
      source,
      config: config.config,
      failure: {
        Error: 'ProviderUnavailableError',
        Cause: JSON.stringify({
          errorType: 'ProviderUnavailableError',
          errorMessage: `upload failed: Bearer ${KEY} [provider_unavailable] Fix: rotate ${KEY}`,
        }),
      },
    } as unknown as RecordInput;
    await recordOutcome(input, {
      runs,
      slots: memorySlots().slots,
      handOver: noHandOver,
      models: testModels(),
    });
    expect(records.get(runId)).toMatchObject({
      status: 'FAILED',
      error: { message: 'upload failed: Bearer sk-…[redacted]', fix: 'rotate sk-…[redacted]' },
    });
    expect(JSON.stringify(records.get(runId))).not.toContain(KEY);
  });

  it("has a key quoted in an execution's cause masked when reconcile stores it", async () => {
    const { runs, records } = await runningRun();
    await reconcileRun(
      { runId, status: 'FAILED', error: 'Error', cause: `the header Bearer ${KEY} was refused` },
      reconcileWith({
        runs,
        provider: fakeProvider().provider,
        slots: memorySlots().slots,
        handOver: noHandOver,
      }),
    );
    expect(records.get(runId)).toMatchObject({
      status: 'FAILED',
      error: { message: expect.stringContaining('the header Bearer sk-…[redacted] was refused') },
    });
    expect(JSON.stringify(records.get(runId))).not.toContain(KEY);
  });
});
