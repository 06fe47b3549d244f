import { Duration } from 'aws-cdk-lib';
import type { RunRecord } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { LocalNotification } from '../../local/cloud/sns.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * The alarms a held run raises, end to end (#13 points 3 and 7): a run whose provider job never leaves
 * `queued` stays in TRAINING; the sweep counts it stuck (its status began longer ago than stuckRunHours)
 * and the RunStuck alarm notifies the topic; then the run's execution reaches the pipeline's runTimeout,
 * Step Functions ends it TIMED_OUT, and the WorkflowFailures alarm notifies, while reconcile records the
 * run TIMED_OUT and cancels its job. Once it has ended the sweep counts nothing, and RunStuck goes back
 * to OK.
 *
 * Both thresholds are the stack's own, set as a deployment would: stuckRunHours 0.001 (3.6 s: the
 * functions read real time) and runTimeout 6 hours (21.6 s at the harness's 1/1000 time scale).
 */
const API_KEY = 'sk-test-alarms';
const STUCK_RUN_HOURS = 0.001;

let harness: LocalHarness;
let cloud: LocalCloud;
const logs: Array<{ functionName: string; line: string }> = [];
let held: RunRecord;
let ended: RunRecord;

async function until<T>(what: string, find: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const alarmNotices = (logicalIdPart: string): Array<LocalNotification & { body: Record<string, unknown> }> =>
  cloud
    .notifications()
    .filter((n) => n.subject?.includes(logicalIdPart))
    .map((n) => ({ ...n, body: JSON.parse(n.message) as Record<string, unknown> }));
const alarmId = (part: string) => cloud.plan.alarms.find((a) => a.logicalId.includes(part))!.logicalId;
const sweep = () => {
  const rule = cloud.plan.rules.find((r) => r.schedule !== undefined && r.name.includes('SweepSlots'))!;
  return cloud.fireSchedule(rule.name);
};
const stuckGauges = () =>
  cloud
    .metrics()
    .filter((m) => m.name === 'RunsStuck')
    .map((m) => m.value);

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: API_KEY,
    cloud: {
      schedules: false,
      logLevel: 'WARN',
      onLog: (functionName, _stream, line) => void logs.push({ functionName, line }),
      pipeline: { stuckRunHours: STUCK_RUN_HOURS, runTimeout: Duration.hours(6) },
    },
  });
  ({ cloud } = harness);
  harness.emulator.faults.onNextJob({ stuckIn: 'queued' });
  const runId = await cloud.drop(SAMPLE, 'incoming/held/tickets.jsonl');
  held = await cloud.waitForRun(runId, { timeoutMs: 30_000, until: (r) => r.providerStatus === 'queued' });
  // Longer in TRAINING than stuckRunHours, by the functions' clock (real time).
  const trainingSince = Date.parse(held.history.find((h) => h.status === 'TRAINING')!.at);
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, trainingSince + STUCK_RUN_HOURS * 3_600_000 + 200 - Date.now())),
  );
  await sweep();
  await until('the sweep wrote RunsStuck', () => stuckGauges().length > 0);
}, 120_000);
afterAll(() => harness?.close());

it('holds the run in TRAINING: its job never leaves queued', () => {
  expect(held).toMatchObject({ status: 'TRAINING', providerStatus: 'queued' });
});

it('counts the held run stuck, and logs its id, status and since when at warn level', () => {
  expect(stuckGauges()).toEqual([1]);
  const warning = logs
    .filter(({ functionName, line }) => functionName.includes('SweepSlots') && line.includes('runs stuck'))
    .map(({ line }) => JSON.parse(line) as Record<string, unknown>);
  expect(warning).toEqual([
    expect.objectContaining({
      level: 'WARN',
      message: 'runs stuck in one status',
      count: 1,
      stuckRunMinutes: STUCK_RUN_HOURS * 60,
      runs: [
        {
          runId: held.runId,
          status: 'TRAINING',
          since: held.history.find((h) => h.status === 'TRAINING')!.at,
        },
      ],
    }),
  ]);
});

it('puts the stuck-run alarm in ALARM and notifies the topic as CloudWatch does', async () => {
  const [notice, ...more] = await until('the stuck-run alarm notifies', () => {
    const found = alarmNotices('RunStuck').filter((n) => n.subject?.startsWith('ALARM: '));
    return found.length ? found : undefined;
  });
  expect(more).toEqual([]);
  expect(notice!.topicArn).toBe(cloud.plan.outputs.NotificationTopicArn!.value);
  expect(notice!.body).toMatchObject({
    NewStateValue: 'ALARM',
    AlarmDescription: expect.stringContaining(`longer than ${STUCK_RUN_HOURS} hours`),
    Trigger: {
      MetricName: 'RunsStuck',
      Namespace: 'Tunedrop',
      Statistic: 'MAXIMUM',
      Dimensions: [{ value: 'tunedrop', name: 'service' }],
      Period: 1200,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    },
  });
});

describe('when the held run reaches the workflow timeout', () => {
  beforeAll(async () => {
    ended = await cloud.waitForRun(held.runId, { timeoutMs: 60_000 });
  }, 90_000);

  it('has its execution TIMED_OUT, recorded by reconcile as TIMED_OUT, and its job cancelled', async () => {
    const execution = cloud.stepFunctions.list().find((e) => e.name === held.runId)!;
    expect(execution.status).toBe('TIMED_OUT');
    expect(ended).toMatchObject({ status: 'TIMED_OUT', error: { code: 'execution_timed_out' } });
    const jobs = (await harness.openai.fineTuning.jobs.list({ metadata: { runId: held.runId } })).data;
    expect(jobs.map((job) => job.status)).toEqual(['cancelled']);
    // Reconcile counted its end (RunsEnded), once.
    const counted = await until('reconcile wrote RunsEnded', () => {
      const found = cloud.metrics().filter((m) => m.name === 'RunsEnded' && m.dimensions.family === 'held');
      return found.length ? found : undefined;
    });
    expect(counted.map((m) => [m.dimensions.status, m.value, m.function])).toEqual([
      ['TIMED_OUT', 1, expect.stringMatching(/Reconcile/)],
    ]);
  });

  it('puts the workflow-failures alarm in ALARM, on Step Functions ExecutionsTimedOut', async () => {
    const [notice] = await until('the workflow-failures alarm notifies', () => {
      const found = alarmNotices('WorkflowFailures').filter((n) => n.subject?.startsWith('ALARM: '));
      return found.length ? found : undefined;
    });
    expect(notice!.body).toMatchObject({
      NewStateValue: 'ALARM',
      Trigger: {
        Metrics: expect.arrayContaining([
          expect.objectContaining({ Expression: 'failed + timedOut', ReturnData: true }),
          expect.objectContaining({
            MetricStat: expect.objectContaining({
              Metric: expect.objectContaining({ MetricName: 'ExecutionsTimedOut', Namespace: 'AWS/States' }),
            }),
          }),
        ]),
        Threshold: 1,
      },
    });
    // Its 5-minute period lasts 0.3 s here: by now it may be OK again, unpublished (ALARM is its only action).
    expect(alarmNotices('WorkflowFailures').map((n) => n.body.NewStateValue)).toEqual(['ALARM']);
  });

  it('counts no stuck run once it has ended, and the stuck-run alarm goes back to OK', async () => {
    await sweep();
    await until('the second sweep wrote RunsStuck', () => stuckGauges().length === 2);
    expect(stuckGauges()).toEqual([1, 0]);
    // Once a period (20 simulated minutes) has gone by without a stuck run.
    await until('the stuck-run alarm is OK', () => cloud.alarms.state(alarmId('RunStuck')) === 'OK');
    // Its actions are ALARM's only: the way back to OK is not published.
    expect(alarmNotices('RunStuck').map((n) => n.body.NewStateValue)).toEqual(['ALARM']);
  });
});
