import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../local/cloud/index.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * `npx tunedrop runs show|watch` against the local cloud from another process, as an operator whose
 * only permissions are the stack's operator policy, with no --local: the CLI finds the running local
 * cloud through its connection file.
 */
let dir: string;
let harness: LocalHarness;
let connectionFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-operator-cli-'));
  connectionFile = join(dir, 'cloud.json');
  harness = await startLocalHarness({
    apiKey: 'sk-local-operator-cli',
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1 },
    cloud: { connectionFile },
  });
});
afterAll(async () => {
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

function tunedrop(args: string[]) {
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

it("watches a run to its end, then shows its facts, files and loss curve from the local cloud's table and bucket", async () => {
  const runId = await harness.cloud.drop(SAMPLE, 'incoming/watched/tickets.jsonl');
  const watched = await tunedrop(['runs', 'watch', runId, '--interval', '0.2']);
  expect(watched.stderr).toContain('tunedrop: using the local cloud');
  expect(watched.stdout).toMatch(/ RECEIVED\n/);
  expect(watched.stdout).toMatch(/ TRAINING/);
  expect(watched.stdout).toMatch(new RegExp(`Run ${runId} SUCCEEDED: ft:`));
  expect(watched.code).toBe(0);

  const shown = await tunedrop(['runs', 'show', runId]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain(`Run ${runId}`);
  expect(shown.stdout).toMatch(/results\.csv +s3:\/\/[^/]+\/runs\/.+\/results\.csv/);
  expect(shown.stdout).toMatch(/^Loss\n/m);
  expect(shown.stdout).toContain('• train_loss');

  const json = await tunedrop(['runs', 'show', runId, '--json']);
  expect(json.stderr).toBe('');
  const parsed = JSON.parse(json.stdout);
  expect(parsed.run).toMatchObject({ runId, status: 'SUCCEEDED', family: 'watched' });
  expect(parsed.loss.length).toBeGreaterThan(0);

  // Every call the CLI made was the operator's, and allowed by the operator policy.
  const operatorCalls = harness.cloud.iamDecisions.filter((d) => d.principal.endsWith('user/local-operator'));
  expect(operatorCalls.map((d) => d.action)).toEqual(
    expect.arrayContaining(['cloudformation:DescribeStacks', 'dynamodb:GetItem', 's3:GetObject']),
  );
  expect(operatorCalls.filter((d) => !d.allowed)).toEqual([]);
});

it('exits 1 from runs show for a run that does not exist', async () => {
  expect(await tunedrop(['runs', 'show', 'no-such-run'])).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('no run no-such-run'),
  });
});
