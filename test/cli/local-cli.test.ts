import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PROJECT_ROOT } from '../../local/cloud/index.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { heldBatchRun } from '../support/embedding-scenario.js';
import { withoutAction } from '../support/grants.js';

/**
 * `npx tunedrop cancel|redrive --local`, run as a person would from another terminal while
 * `npm run local` keeps the cloud running: a separate process, no AWS settings in its environment,
 * acting as an operator whose only permissions are the stack's operator policy.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-local-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function tunedrop(args: string[], connectionFile: string) {
  // Only what a shell would pass: no AWS_* variables, so nothing but the connection file can point it.
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TUNEDROP_LOCAL_CLOUD: connectionFile,
  };
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [join(PROJECT_ROOT, 'bin/tunedrop.js'), ...args],
      { env, cwd: dir },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function trainingRun(harness: LocalHarness, family: string): Promise<string> {
  const { cloud } = harness;
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: `incoming/${family}/tunedrop.json`,
      Body: JSON.stringify({ hyperparameters: { nEpochs: 40 } }),
    }),
  );
  const runId = await cloud.drop(SAMPLE, `incoming/${family}/tickets.jsonl`);
  await cloud.waitForRun(runId, { timeoutMs: 30_000, until: (run) => run.providerStatus === 'running' });
  return runId;
}

it('cancels a training run of the local cloud from another process, as an operator', async () => {
  const connectionFile = join(dir, 'cancel.json');
  const harness = await startLocalHarness({
    apiKey: 'sk-local-cli',
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1 },
    cloud: { connectionFile },
  });
  try {
    const runId = await trainingRun(harness, 'cancelled');
    const result = await tunedrop(['cancel', runId, '--local'], connectionFile);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining(`Stopped run ${runId}.`) });
    expect(await harness.cloud.waitForRun(runId, { timeoutMs: 30_000 })).toMatchObject({
      status: 'CANCELLED',
    });
    // Every call the CLI made was the operator's, and allowed by the operator policy.
    const operatorCalls = harness.cloud.iamDecisions.filter((d) =>
      d.principal.endsWith('user/local-operator'),
    );
    expect(operatorCalls.map((d) => d.action)).toEqual(
      expect.arrayContaining([
        'cloudformation:DescribeStacks',
        'states:DescribeExecution',
        'states:StopExecution',
      ]),
    );
    expect(operatorCalls.filter((d) => !d.allowed)).toEqual([]);

    const redrive = await tunedrop(['redrive', '--local'], connectionFile);
    expect(redrive).toMatchObject({ code: 0, stdout: 'Redrove 0 events.\n' });
  } finally {
    await harness.close();
  }
});

it('cancels an embedding run (another state machine) as an operator, and its batch is cancelled', async () => {
  const connectionFile = join(dir, 'cancel-embeddings.json');
  // Batches stay in validation for a minute: the run is cancelled while it waits for its batch.
  const harness = await startLocalHarness({
    apiKey: 'sk-local-cli',
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1, batchValidatingMs: 60_000 },
    cloud: { connectionFile },
  });
  try {
    const { cloud } = harness;
    const { runId } = await heldBatchRun(cloud);
    const result = await tunedrop(['cancel', runId, '--local'], connectionFile);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining(`Stopped run ${runId}.`) });
    expect(await cloud.waitForRun(runId, { timeoutMs: 30_000 })).toMatchObject({ status: 'CANCELLED' });
    const operatorCalls = cloud.iamDecisions.filter((d) => d.principal.endsWith('user/local-operator'));
    expect(operatorCalls.filter((d) => !d.allowed)).toEqual([]);
  } finally {
    await harness.close();
  }
});

it('says which permission is missing when the operator policy lacks it', async () => {
  const connectionFile = join(dir, 'refused.json');
  const harness = await startLocalHarness({
    apiKey: 'sk-local-cli',
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1 },
    cloud: { connectionFile, transformTemplate: withoutAction('operators', 'states:StopExecution') },
  });
  try {
    const runId = await trainingRun(harness, 'refused');
    const result = await tunedrop(['cancel', runId, '--local'], connectionFile);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is not authorized to perform: states:StopExecution');
    expect(result.stderr).toContain('OperatorPolicyArn');
  } finally {
    await harness.close();
  }
});

it('tells the user to start the local cloud when none is running', async () => {
  const result = await tunedrop(['cancel', 'some-run', '--local'], join(dir, 'absent.json'));
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('no local cloud is running');
  expect(result.stderr).toContain('npm run local');
});
