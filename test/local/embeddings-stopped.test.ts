import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { heldBatchRun } from '../support/embedding-scenario.js';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * An embedding run stopped while its batch runs (#15: every run ends in a recorded state, and nothing goes
 * on being billed): reconcile, told by the execution's end, records it CANCELLED and cancels the batch.
 */
let harness: LocalHarness;
beforeAll(async () => {
  // Batches stay in validation for a minute of real time: the run is stopped while it waits.
  harness = await startLocalHarness({
    apiKey: 'sk-test-embeddings-stopped',
    timing: { validatingMs: 10, queuedMs: 10, msPerStep: 0, batchValidatingMs: 60_000 },
    cloud: { onLog: () => undefined },
  });
}, 120_000);
afterAll(async () => harness?.close());

it('is recorded CANCELLED by reconcile, and its running batch is cancelled', async () => {
  const { cloud } = harness;
  const { runId, waiting, batchId } = await heldBatchRun(cloud);
  const sfn = new SFNClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SFN });
  try {
    await sfn.send(new StopExecutionCommand({ executionArn: waiting.executionArn! }));
  } finally {
    sfn.destroy();
  }
  const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
  expect(run.status).toBe('CANCELLED');
  expect(run.error?.code).toBe('execution_stopped');
  for (
    let i = 0;
    i < 100 && harness.emulator.batches.find((b) => b.id === batchId)?.status !== 'cancelled';
    i++
  )
    await new Promise((resolve) => setTimeout(resolve, 100));
  expect(harness.emulator.batches.find((b) => b.id === batchId)?.status).toBe('cancelled');
}, 180_000);
