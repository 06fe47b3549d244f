import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../functions/core/run.js';
import { METRIC_NAMES } from '../../functions/core/metrics.js';
import { STATE } from '../../lib/workflow.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { LocalMetric } from '../../local/cloud/metrics.js';
import { BROKEN, SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * "Nothing invented" (#13 point 7): one local scenario produces every custom metric the dashboard shows
 * (METRIC_NAMES, which test/infra/dashboard.test.ts holds the dashboard to), read back from the
 * functions' stdout as CloudWatch would (cloud.metrics()). Two runs of a family (the second waits for
 * its family's turn while the sweep counts it), a rejected file, a run whose provider refuses jobs, and
 * two runs whose jobs never leave `queued`: one past its family's maxTrainingHours (TIMED_OUT), one held
 * in training while the sweep counts it stuck, then stopped as `tunedrop cancel` does (CANCELLED).
 */
const API_KEY = 'sk-test-metrics';

let harness: LocalHarness;
let cloud: LocalCloud;
let dir: string;
let first: RunRecord;
let second: RunRecord;
let rejected: RunRecord;
let failed: RunRecord;
let timedOut: RunRecord;
let cancelled: RunRecord;
let metrics: LocalMetric[];

/** Polls a condition on the cloud's state: resolves once it holds. */
async function until(what: string, condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function parkedForFamilyTurn(runId: string): boolean {
  const execution = cloud.stepFunctions.list().find((e) => e.name === runId);
  const events = execution?.history.filter((e) => e.stateName === STATE.familyTurn).map((e) => e.type) ?? [];
  return events.includes('TaskSubmitted') && !events.includes('TaskSucceeded');
}

/** The sample with each question changed a little: a distinct file for the family's second run. */
async function variant(tag: string): Promise<string> {
  const lines = (await readFile(SAMPLE, 'utf8')).trim().split('\n');
  const changed = lines.map((line) => {
    const example = JSON.parse(line) as { messages: Array<{ role: string; content: string }> };
    for (const message of example.messages)
      if (message.role === 'user') message.content = `${message.content} (${tag})`;
    return JSON.stringify(example);
  });
  const path = join(dir, `${tag}.jsonl`);
  await writeFile(path, `${changed.join('\n')}\n`);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-metrics-'));
  harness = await startLocalHarness({
    apiKey: API_KEY,
    // A job waits 1.5 s queued: the family's second drop arrives and waits for its turn meanwhile.
    timing: { validatingMs: 20, queuedMs: 1500, msPerStep: 1 },
    cloud: { schedules: false, onLog: () => undefined },
  });
  ({ cloud } = harness);

  const firstId = await cloud.drop(SAMPLE, 'incoming/watch/first.jsonl');
  await cloud.waitForRun(firstId, { timeoutMs: 60_000, until: (run) => run.status === 'TRAINING' });
  const secondId = await cloud.drop(await variant('second'), 'incoming/watch/second.jsonl');
  await until('the second run waits for its family turn', () => parkedForFamilyTurn(secondId));
  // The sweep, fired now, counts it.
  const sweep = cloud.plan.rules.find((r) => r.schedule !== undefined && r.name.includes('SweepSlots'))!;
  await cloud.fireSchedule(sweep.name);
  await until('the sweep wrote RunsWaiting', () => cloud.metrics().some((m) => m.name === 'RunsWaiting'));
  first = await cloud.waitForRun(firstId, { timeoutMs: 60_000 });
  second = await cloud.waitForRun(secondId, { timeoutMs: 60_000 });

  rejected = await harness.dropAndWait(BROKEN, 'incoming/rejects/broken-tickets.jsonl');

  // The provider takes no fine-tuning jobs: every attempt of the create call is refused.
  harness.emulator.faults.onRequest({
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
  failed = await harness.dropAndWait(SAMPLE, 'incoming/closed/tickets.jsonl');
  // Record writes the run's end, then its metrics when its invocation ends: a moment after.
  await until("Record wrote the failed run's end", () =>
    cloud.metrics().some((m) => m.name === 'RunsEnded' && m.dimensions.family === 'closed'),
  );

  // The provider takes jobs again (the refusal above had uses left: it was not retried).
  harness.emulator.faults.clear();

  // A job that never leaves queued, in a family that allows 0.0003 hours of training (about a second):
  // Get status cancels it at the deadline and Record ends the run TIMED_OUT.
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: 'incoming/slow/tunedrop.json',
      Body: JSON.stringify({ maxTrainingHours: 0.0003 }),
    }),
  );
  harness.emulator.faults.onNextJob({ stuckIn: 'queued' });
  timedOut = await harness.dropAndWait(SAMPLE, 'incoming/slow/tickets.jsonl');

  // Another held in training. The sweep's threshold lowered to 60 ms, as UpdateFunctionConfiguration would
  // (the stack's is stuckRunHours), the sweep counts it stuck; then it is stopped as `tunedrop cancel`
  // does (StopExecution), and reconcile ends it CANCELLED.
  harness.emulator.faults.onNextJob({ stuckIn: 'queued' });
  const heldId = await cloud.drop(SAMPLE, 'incoming/held/tickets.jsonl');
  await cloud.waitForRun(heldId, { timeoutMs: 60_000, until: (run) => run.providerStatus === 'queued' });
  cloud.lambda.updateEnvironment({ STUCK_RUN_MINUTES: '0.001' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await cloud.fireSchedule(sweep.name);
  await until('the sweep counted the held run stuck', () =>
    cloud.metrics().some((m) => m.name === 'RunsStuck' && m.value > 0),
  );
  cloud.lambda.updateEnvironment({ STUCK_RUN_MINUTES: undefined });
  const sfn = new SFNClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SFN });
  try {
    const execution = cloud.stepFunctions.list().find((e) => e.name === heldId)!;
    await sfn.send(new StopExecutionCommand({ executionArn: execution.executionArn }));
  } finally {
    sfn.destroy();
  }
  cancelled = await cloud.waitForRun(heldId, { timeoutMs: 60_000 });
  await until("reconcile wrote the cancelled run's end", () =>
    cloud.metrics().some((m) => m.name === 'RunsEnded' && m.dimensions.family === 'held'),
  );
  await cloud.lambda.settle();
  metrics = cloud.metrics();
}, 180_000);
afterAll(async () => {
  await harness?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const named = (name: string) => metrics.filter((m) => m.name === name);
const service = { service: 'tunedrop' };

it('ran the scenario: two runs trained, one was rejected, one failed at the provider, one timed out, one was cancelled', () => {
  // The family's second model is promoted only if its evaluation does not fall below the first's.
  expect(['SUCCEEDED', 'SUCCEEDED_NOT_PROMOTED']).toContain(second.status);
  expect([first, second, rejected, failed, timedOut, cancelled].map((run) => run.status)).toEqual([
    'SUCCEEDED',
    second.status,
    'REJECTED',
    'FAILED',
    'TIMED_OUT',
    'CANCELLED',
  ]);
  expect(failed.error?.code).toBe('training_not_available');
  expect(timedOut.error?.code).toBe('training_timeout');
  expect(cancelled.error?.code).toBe('execution_stopped');
});

it('emitted every custom metric the dashboard may show, in the namespace Tunedrop, with bounded dimensions', () => {
  expect([...new Set(metrics.map((m) => m.name))].sort()).toEqual([...METRIC_NAMES].sort());
  for (const metric of metrics) {
    expect(metric.namespace).toBe('Tunedrop');
    expect(metric.dimensions.service).toBe('tunedrop');
    // Never a run id, nor anything else unbounded.
    for (const key of Object.keys(metric.dimensions))
      expect(['service', 'family', 'provider', 'status', 'reason']).toContain(key);
    for (const value of Object.values(metric.dimensions))
      for (const run of [first, second, rejected, failed, timedOut, cancelled])
        expect(value).not.toContain(run.runId);
  }
});

it('counts runs started by family and provider, from Validate', () => {
  const started = named('RunsStarted');
  expect(started.map((m) => [m.dimensions, m.value, m.unit])).toEqual([
    [{ ...service, family: 'watch', provider: 'openai' }, 1, 'Count'],
    [{ ...service, family: 'watch', provider: 'openai' }, 1, 'Count'],
    [{ ...service, family: 'closed', provider: 'openai' }, 1, 'Count'],
    [{ ...service, family: 'slow', provider: 'openai' }, 1, 'Count'],
    [{ ...service, family: 'held', provider: 'openai' }, 1, 'Count'],
  ]);
  expect(new Set(started.map((m) => m.function))).toEqual(new Set([expect.stringMatching(/Validate/)]));
});

it('counts the rejection by family and provider, and by its first issue code', () => {
  expect(named('RunsRejected').map((m) => [m.dimensions, m.value])).toEqual([
    [{ ...service, family: 'rejects', provider: 'openai' }, 1],
    [{ ...service, reason: rejected.error!.code }, 1],
  ]);
  expect(rejected.error!.code).toBe('invalid_json');
});

it('counts runs ended by status, once each: by Record, and by reconcile for a stopped execution', () => {
  expect(named('RunsEnded').map((m) => [m.dimensions, m.value])).toEqual(
    expect.arrayContaining([
      [{ ...service, family: 'watch', provider: 'openai', status: 'SUCCEEDED' }, 1],
      [{ ...service, family: 'watch', provider: 'openai', status: second.status }, 1],
      [{ ...service, family: 'closed', provider: 'openai', status: 'FAILED' }, 1],
      [{ ...service, family: 'slow', provider: 'openai', status: 'TIMED_OUT' }, 1],
      [{ ...service, family: 'held', provider: 'openai', status: 'CANCELLED' }, 1],
    ]),
  );
  const byFamily = named('RunsEnded').filter((m) => m.dimensions.family);
  expect(byFamily).toHaveLength(5);
  const endedBy = (family: string) => byFamily.find((m) => m.dimensions.family === family)!.function;
  expect(endedBy('slow')).toMatch(/Record/);
  expect(endedBy('held')).toMatch(/Reconcile/);
  // And by status alone, for the failed-run alarm (alarms cannot SEARCH; lib/notifications.ts).
  expect(
    named('RunsEnded')
      .filter((m) => !m.dimensions.family)
      .map((m) => [m.dimensions, m.value]),
  ).toEqual(byFamily.map((m) => [{ ...service, status: m.dimensions.status }, 1]));
});

it("gives each trained run's cost (its training and its evaluation) and trained tokens, equal to its run item's", () => {
  const cost = named('CostUsd').filter((m) => m.dimensions.family);
  // The same values as a total (service only), for the cost alarms.
  expect(
    named('CostUsd')
      .filter((m) => !m.dimensions.family)
      .map((m) => [m.dimensions, m.value]),
  ).toEqual(cost.map((m) => [service, m.value]));
  expect(cost.every((m) => m.dimensions.family === 'watch' && m.dimensions.provider === 'openai')).toBe(true);
  const spent = (run: RunRecord) => run.costUsd! + run.evaluation!.costUsd!;
  expect(cost.map((m) => m.value).sort()).toEqual([spent(first), spent(second)].sort());
  expect(first.evaluation!.costUsd).toBeGreaterThan(0);
  expect(
    named('TrainedTokens')
      .map((m) => m.value)
      .sort(),
  ).toEqual([first.trainedTokens, second.trainedTokens].sort());
  expect(first.costUsd).toBeGreaterThan(0);
});

it('times every provider call and counts the refused ones, by provider', () => {
  const latency = named('ProviderCallLatency');
  expect(latency.length).toBeGreaterThan(4);
  for (const m of latency) {
    expect(m.dimensions).toEqual({ ...service, provider: 'openai' });
    expect(m.unit).toBe('Milliseconds');
    expect(m.value).toBeGreaterThanOrEqual(0);
  }
  const errors = named('ProviderCallErrors');
  expect(errors.length).toBeGreaterThanOrEqual(1);
  expect(errors.map((m) => m.dimensions)).toEqual(errors.map(() => ({ ...service, provider: 'openai' })));
});

it("gauges the runs waiting from the sweep: the family's second run, and no one waiting for a slot", () => {
  const waiting = named('RunsWaiting');
  expect(new Set(waiting.map((m) => m.function))).toEqual(new Set([expect.stringMatching(/SweepSlots/)]));
  expect(waiting.map((m) => [m.dimensions, m.value])).toEqual(
    expect.arrayContaining([
      [{ ...service, family: 'watch' }, 1],
      [{ ...service, provider: 'openai' }, 0],
    ]),
  );
});

it("gauges the stuck runs from the sweep: none under the stack's threshold, the held run under a lowered one", () => {
  const stuck = named('RunsStuck');
  expect(new Set(stuck.map((m) => m.function))).toEqual(new Set([expect.stringMatching(/SweepSlots/)]));
  // Service only: the series the RunStuck alarm watches.
  expect(stuck.map((m) => [m.dimensions, m.value, m.unit])).toEqual([
    [service, 0, 'Count'],
    [service, 1, 'Count'],
  ]);
});
