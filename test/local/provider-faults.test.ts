import { PutObjectCommand } from '@aws-sdk/client-s3';
import type OpenAI from 'openai';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { RunningEmulator } from '../../local/openai-emulator/server.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { expectRunInvariants } from './invariants.js';

/**
 * The pipeline under provider faults (issue #4): each scenario switches a fault on in the emulator,
 * drops the sample, and checks the run's recorded end, its cause, and that at most one job was made.
 */
const API_KEY = 'sk-test-faults';
let harness: LocalHarness;
let cloud: LocalCloud;
let emulator: RunningEmulator;
let openai: OpenAI;
const dropped: string[] = [];

// Every line the functions write (their stdout and stderr, what CloudWatch Logs would keep), to check
// that the key never appears in them.
const logs: string[] = [];

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: API_KEY,
    cloud: { logLevel: 'DEBUG', onLog: (_, __, line) => void logs.push(line) },
  });
  ({ cloud, emulator, openai } = harness);
});
afterEach(() => emulator.faults.clear());
afterAll(() => harness?.close());

async function runWith(family: string, config?: Record<string, unknown>) {
  if (config) {
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: `incoming/${family}/tunedrop.json`,
        Body: JSON.stringify(config),
      }),
    );
  }
  const key = `incoming/${family}/tickets.jsonl`;
  dropped.push(key);
  const runId = await cloud.drop(SAMPLE, key);
  const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
  const jobs = (await openai.fineTuning.jobs.list({ metadata: { runId } })).data;
  return { run, jobs };
}

describe('when the provider', () => {
  it('throttles job creation (429 with Retry-After), the run retries and succeeds with one job', async () => {
    emulator.faults.onRequest({
      method: 'POST',
      path: '/fine_tuning/jobs',
      fault: { kind: 'status', status: 429, retryAfterSeconds: 1, code: 'rate_limit_exceeded' },
      times: 2,
    });
    const { run, jobs } = await runWith('throttled');
    expect(run.status).toBe('SUCCEEDED');
    expect(jobs).toHaveLength(1);
    expect(emulator.faults.applied.filter((a) => a.fault === 'status')).toHaveLength(2);
  });

  it('throttles without Retry-After and answers 500 and 503 on polls, the run still succeeds', async () => {
    emulator.faults
      .onRequest({ method: 'POST', path: '/files', fault: { kind: 'status', status: 429 } })
      .onRequest({ method: 'GET', path: '/fine_tuning/jobs/*', fault: { kind: 'status', status: 500 } })
      .onRequest({ method: 'GET', path: '/fine_tuning/jobs/*', fault: { kind: 'status', status: 503 } });
    const { run, jobs } = await runWith('flaky');
    expect(run.status).toBe('SUCCEEDED');
    expect(jobs).toHaveLength(1);
  });

  it('answers slower than the request timeout, the call is retried and the run succeeds', async () => {
    cloud.updateFunctionEnvironment({ PROVIDER_TIMEOUT_MS: '300' });
    try {
      emulator.faults.onRequest({
        method: 'GET',
        path: '/fine_tuning/jobs/*',
        fault: { kind: 'slow', delayMs: 1000 },
      });
      const { run } = await runWith('slow');
      expect(run.status).toBe('SUCCEEDED');
      expect(emulator.faults.applied.map((a) => a.fault)).toContain('slow');
    } finally {
      cloud.updateFunctionEnvironment({ PROVIDER_TIMEOUT_MS: undefined });
    }
  });

  it('resets connections, the run retries and succeeds', async () => {
    emulator.faults.onRequest({
      method: 'GET',
      path: '/fine_tuning/jobs/*',
      fault: { kind: 'reset' },
      times: 2,
    });
    const { run } = await runWith('reset');
    expect(run.status).toBe('SUCCEEDED');
  });

  it('accepts a job but the answer is lost, the retried step adopts that job instead of paying for a second', async () => {
    emulator.faults.onRequest({ method: 'POST', path: '/fine_tuning/jobs', fault: { kind: 'lostResponse' } });
    const { run, jobs } = await runWith('lost-answer');
    expect(run.status).toBe('SUCCEEDED');
    expect(jobs).toHaveLength(1);
    expect(run.providerJobId).toBe(jobs[0]!.id);
  });

  it('no longer takes fine-tuning jobs (403 training_not_available), the run fails at once and says where to go', async () => {
    emulator.faults.onRequest({
      method: 'POST',
      path: '/fine_tuning/jobs',
      fault: {
        kind: 'status',
        status: 403,
        code: 'training_not_available',
        message: 'Fine-tuning is no longer available for new jobs.',
      },
      times: 5,
    });
    const { run, jobs } = await runWith('closed');
    expect(run).toMatchObject({
      status: 'FAILED',
      error: {
        code: 'training_not_available',
        // The exact line, and the exact file: this family's settings.
        fix: expect.stringContaining(
          `put "provider": "azure-openai" (or "bedrock") in the family's tunedrop.json (incoming/closed/tunedrop.json)`,
        ),
      },
    });
    expect(jobs).toHaveLength(0);
    // Not retried: one attempt reached the provider.
    expect(
      emulator.faults.applied.filter((a) => a.method === 'POST' && a.path === '/fine_tuning/jobs'),
    ).toHaveLength(1);
  });

  it('fails the job with an error code, the run records that cause', async () => {
    emulator.faults.onNextJob({
      failWith: { code: 'invalid_n_examples', message: 'Training file has too few examples per class.' },
    });
    const { run } = await runWith('job-failed');
    expect(run).toMatchObject({
      status: 'FAILED',
      error: { code: 'invalid_n_examples', message: expect.stringContaining('too few examples') },
    });
  });

  it('loses the result file of a succeeded job, the run fails with result_file_missing', async () => {
    emulator.faults.onNextJob({ noResultFile: true });
    const { run } = await runWith('no-results');
    expect(run).toMatchObject({ status: 'FAILED', error: { code: 'result_file_missing' } });
  });

  it('keeps a job queued forever, the run is stopped at maxTrainingHours as TIMED_OUT and the job cancelled', async () => {
    emulator.faults.onNextJob({ stuckIn: 'queued' });
    const { run, jobs } = await runWith('stuck', { maxTrainingHours: 0.0003 });
    expect(run).toMatchObject({ status: 'TIMED_OUT', error: { code: 'training_timeout' } });
    expect(jobs[0]!.status).toBe('cancelled');
  });

  it('has the job cancelled outside tunedrop, the run records CANCELLED', async () => {
    emulator.faults.onNextJob({ stuckIn: 'queued' });
    const key = 'incoming/cancelled-outside/tickets.jsonl';
    dropped.push(key);
    const runId = await cloud.drop(SAMPLE, key);
    const training = await cloud.waitForRun(runId, {
      timeoutMs: 30_000,
      until: (r) => r.providerStatus === 'queued',
    });
    await openai.fineTuning.jobs.cancel(training.providerJobId!);
    const run = await cloud.waitForRun(runId, { timeoutMs: 30_000 });
    expect(run).toMatchObject({ status: 'CANCELLED', error: { code: 'job_cancelled' } });
  });
});

describe('after every fault above', () => {
  it('every run has one terminal state, every job its run, sources are intact and the key is nowhere', async () => {
    await cloud.stepFunctions.settle();
    await expectRunInvariants(cloud, openai, {
      apiKey: API_KEY,
      sources: dropped.map((key) => ({ key, localPath: SAMPLE })),
    });
    // The functions logged (every step, at DEBUG, errors included), and never the key.
    expect(logs.length).toBeGreaterThan(50);
    expect(logs.filter((line) => line.includes(API_KEY))).toEqual([]);
  });
});
