import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../local/cloud/index.js';
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
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: 'embed/held/tunedrop.json',
      Body: JSON.stringify({ mode: 'batch' }),
    }),
  );
  const runId = await cloud.drop(
    join(PROJECT_ROOT, 'local/samples/ticket-texts.jsonl'),
    'embed/held/t.jsonl',
  );
  const waiting = await cloud.waitForRun(runId, {
    timeoutMs: 60_000,
    until: (run) => (run.embedding?.batchIds?.length ?? 0) > 0,
  });
  const [batchId] = waiting.embedding!.batchIds!;
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
