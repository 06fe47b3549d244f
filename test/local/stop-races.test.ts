import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type OpenAI from 'openai';
import { TERMINAL_STATUSES } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { RunningEmulator } from '../../local/openai-emulator/server.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { expectRunInvariants } from './invariants.js';

/**
 * Issue #7, point 6, end to end: the execution is stopped (StopExecution, as the console and
 * `tunedrop cancel` do) while Create job is waiting for the provider to make the job. Step Functions
 * ends the execution at once, EventBridge runs reconcile, which records the run CANCELLED with no job
 * to cancel yet; the Create job Lambda runs on, and when the job arrives it finds the run ended and
 * cancels it. Nothing is left training.
 */
const API_KEY = 'sk-test-stop-races';
/** How long the emulator holds job creation: long next to reconcile, short next to PROVIDER_TIMEOUT_MS (60 s). */
const CREATE_DELAY_MS = 6_000;

let harness: LocalHarness;
let cloud: LocalCloud;
let emulator: RunningEmulator;
let openai: OpenAI;

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: API_KEY,
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1 },
  });
  ({ cloud, emulator, openai } = harness);
});
afterAll(() => harness?.close());

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a run stopped while Create job waits for the provider', () => {
  it('ends CANCELLED, and the job made after reconcile ran is cancelled, not left training', async () => {
    emulator.faults.onRequest({
      method: 'POST',
      path: '/fine_tuning/jobs',
      fault: { kind: 'slow', delayMs: CREATE_DELAY_MS },
    });
    const runId = await cloud.drop(SAMPLE, 'incoming/stop-race/tickets.jsonl');
    // The create request has reached the provider, which is taking its time.
    await until('the job creation request', async () =>
      emulator.faults.applied.some((a) => a.method === 'POST' && a.fault === 'slow') ? true : undefined,
    );

    const execution = cloud.stepFunctions.list().find((e) => e.name === runId)!;
    const sfn = new SFNClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SFN });
    await sfn.send(new StopExecutionCommand({ executionArn: execution.executionArn }));
    sfn.destroy();

    const recorded = await cloud.waitForRun(runId, { timeoutMs: 30_000 });
    expect(recorded).toMatchObject({ status: 'CANCELLED', error: { code: 'execution_stopped' } });
    // Reconcile came before the job existed: this is the order the step must survive.
    expect((await openai.fineTuning.jobs.list({ metadata: { runId } })).data).toEqual([]);

    // The Create job Lambda runs on; the job it gets is cancelled and recorded on the ended run.
    const run = await until('the late job recorded on the run', async () => {
      const current = await cloud.getRun(runId);
      return current?.providerJobId ? current : undefined;
    });
    expect(run).toMatchObject({ status: 'CANCELLED', providerStatus: 'cancelled' });
    expect(run.history.filter((change) => TERMINAL_STATUSES.has(change.status))).toHaveLength(1);
    expect(run.history.map((change) => change.status)).not.toContain('TRAINING');
    const jobs = (await openai.fineTuning.jobs.list({ metadata: { runId } })).data;
    expect(jobs.map((job) => [job.id, job.status])).toEqual([[run.providerJobId, 'cancelled']]);
    expect(cloud.stepFunctions.describe(execution.executionArn).status).toBe('ABORTED');
  });

  it('leaves every run with one terminal state and every job with its run', async () => {
    await cloud.stepFunctions.settle();
    await expectRunInvariants(cloud, openai, {
      apiKey: API_KEY,
      sources: [{ key: 'incoming/stop-race/tickets.jsonl', localPath: SAMPLE }],
    });
  });
});
