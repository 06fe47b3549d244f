import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { RunRecord } from '../../functions/core/run.js';
import { executionArnOf, executionConsoleUrl } from '../../functions/core/run-events.js';
import { MONTH_DAYS, PACE_DAYS } from '../../lib/notifications.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { LocalNotification } from '../../local/cloud/sns.js';
import { BROKEN, SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Alarms and notifications end to end (#13 point 3): one topic; each run's end is published to it by
 * the stack's EventBridge rule through its input transformer; the stack's alarms, evaluated against the
 * metrics the local cloud sees, publish their ALARM to it as CloudWatch does, under the topic's policy.
 * The stuck-run and workflow-failures alarms need a run held in training: test/local/alarms.test.ts.
 */
const API_KEY = 'sk-test-notifications';
const MONTHLY_USD = 0.05;

let harness: LocalHarness;
let cloud: LocalCloud;
let succeeded: RunRecord;
let rejected: RunRecord;
let failed: RunRecord;

async function until<T>(what: string, find: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const runEnd = (runId: string): LocalNotification[] =>
  cloud.notifications().filter((n) => n.subject === undefined && n.message.includes(`run ${runId} `));
const alarmNotices = (logicalIdPart: string): Array<LocalNotification & { body: Record<string, unknown> }> =>
  cloud
    .notifications()
    .filter((n) => n.subject?.startsWith('ALARM: ') && n.subject.includes(logicalIdPart))
    .map((n) => ({ ...n, body: JSON.parse(n.message) as Record<string, unknown> }));
const alarmId = (part: string) => cloud.plan.alarms.find((a) => a.logicalId.includes(part))!.logicalId;

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: API_KEY,
    // A daily cost alarm any run goes over, and a monthly one whose 7-day pace ($0.01) the run goes over.
    cloud: {
      schedules: false,
      onLog: () => undefined,
      pipeline: { notifications: { dailyCostAlarmUsd: 0.000001, monthlyCostAlarmUsd: MONTHLY_USD } },
    },
  });
  ({ cloud } = harness);
  succeeded = await harness.dropAndWait(SAMPLE, 'incoming/notify/tickets.jsonl');
  rejected = await harness.dropAndWait(BROKEN, 'incoming/notify-rejects/broken-tickets.jsonl');
  harness.emulator.faults.onRequest({
    method: 'POST',
    path: '/fine_tuning/jobs',
    fault: { kind: 'status', status: 403, code: 'training_not_available', message: 'No new jobs.' },
    times: 5,
  });
  failed = await harness.dropAndWait(SAMPLE, 'incoming/notify-closed/tickets.jsonl');
}, 180_000);
afterAll(() => harness?.close());

it('ran a SUCCEEDED, a REJECTED and a FAILED run', () => {
  expect([succeeded.status, rejected.status, failed.status]).toEqual(['SUCCEEDED', 'REJECTED', 'FAILED']);
});

it('sends one readable summary of a SUCCEEDED run, with the execution and report links', async () => {
  const [notice, ...more] = await until('the summary is published', () =>
    runEnd(succeeded.runId).length ? runEnd(succeeded.runId) : undefined,
  );
  expect(more).toEqual([]);
  expect(notice!.topicArn).toBe(cloud.plan.outputs.NotificationTopicArn!.value);
  expect(notice!.message.split('\n')).toEqual([
    `"tunedrop run ${succeeded.runId} (family notify) SUCCEEDED: ${succeeded.fineTunedModel}, cost USD ${succeeded.costUsd}."`,
    `"Report: s3://${cloud.bucket}/runs/${succeeded.runId}/report.html"`,
    // The same page the run events link to (functions/core/run-events.ts).
    `"Execution: ${executionConsoleUrl(executionArnOf(cloud.stateMachineArn, succeeded.runId))}"`,
    `"Validation report: s3://${cloud.bucket}/${succeeded.validationReportKey ?? `runs/${succeeded.runId}/validation.md`}"`,
  ]);
  // The report is where the link says.
  await expect(
    cloud.s3.send(
      new HeadObjectCommand({ Bucket: cloud.bucket, Key: `runs/${succeeded.runId}/report.html` }),
    ),
  ).resolves.toBeDefined();
  // EventBridge published it as the rule, which the topic policy allows by aws:SourceArn.
  expect(
    cloud.iamDecisions.some(
      (d) => d.principal === 'events.amazonaws.com' && d.action === 'sns:Publish' && d.allowed,
    ),
  ).toBe(true);
});

it('sends one summary of a REJECTED run, with why and the validation report', async () => {
  const [notice, ...more] = await until('the summary is published', () =>
    runEnd(rejected.runId).length ? runEnd(rejected.runId) : undefined,
  );
  expect(more).toEqual([]);
  const [first, second, ...rest] = notice!.message.split('\n');
  expect(first).toMatch(
    new RegExp(`^"tunedrop run ${rejected.runId} \\(family notify-rejects\\) was REJECTED: .+"$`),
  );
  expect(second).toMatch(new RegExp(`^"Validation report: s3://${cloud.bucket}/runs/${rejected.runId}/.+"$`));
  expect(rest).toEqual([]);
});

it('puts the failed-run alarm in ALARM and notifies the topic as CloudWatch does', async () => {
  const [notice] = await until('the alarm notifies', () => {
    const found = alarmNotices('RunFailed');
    return found.length ? found : undefined;
  });
  expect(notice!.body).toMatchObject({
    NewStateValue: 'ALARM',
    AlarmArn: expect.stringContaining(':alarm:'),
    Trigger: {
      MetricName: 'RunsEnded',
      Namespace: 'Tunedrop',
      Dimensions: expect.arrayContaining([{ value: 'FAILED', name: 'status' }]),
    },
  });
  expect(alarmNotices('RunFailed')).toHaveLength(1);
  // And the failed run's own summary.
  const [summary] = await until('the failed run is summed up', () =>
    runEnd(failed.runId).length ? runEnd(failed.runId) : undefined,
  );
  expect(summary!.message).toContain(
    `(family notify-closed) ended FAILED: ${failed.error!.message.slice(0, 10)}`,
  );
  expect(summary!.message).toContain(
    `"Execution: ${executionConsoleUrl(executionArnOf(cloud.stateMachineArn, failed.runId))}"`,
  );
  expect(
    cloud.iamDecisions.some(
      (d) => d.principal === 'cloudwatch.amazonaws.com' && d.action === 'sns:Publish' && d.allowed,
    ),
  ).toBe(true);
});

it('puts the daily cost alarm in ALARM once a run costs more than the threshold', async () => {
  const [notice] = await until('the cost alarm notifies', () => {
    const found = alarmNotices('DailyCost');
    return found.length ? found : undefined;
  });
  expect(notice!.body).toMatchObject({
    NewStateValue: 'ALARM',
    Trigger: { MetricName: 'CostUsd', Namespace: 'Tunedrop', Period: 86_400, Threshold: 0.000001 },
  });
  expect(cloud.alarms.state(alarmId('DailyCost'))).toBe('ALARM');
});

it("puts the monthly cost pace alarm in ALARM once the last 7 days' cost is above 7/30 of the monthly amount", async () => {
  const [notice, ...more] = await until('the monthly cost pace alarm notifies', () => {
    const found = alarmNotices('MonthlyCostPace');
    return found.length ? found : undefined;
  });
  expect(more).toEqual([]);
  const pace = Math.round(((MONTHLY_USD * PACE_DAYS) / MONTH_DAYS) * 100) / 100;
  expect(pace).toBe(0.01);
  // The run alone went over the pace.
  expect(succeeded.costUsd).toBeGreaterThan(pace);
  expect(notice!.body).toMatchObject({
    NewStateValue: 'ALARM',
    AlarmDescription: expect.stringContaining(`$${MONTHLY_USD}/month`),
    Trigger: {
      MetricName: 'CostUsd',
      Namespace: 'Tunedrop',
      Statistic: 'SUM',
      Dimensions: [{ value: 'tunedrop', name: 'service' }],
      Period: PACE_DAYS * 86_400,
      Threshold: pace,
      ComparisonOperator: 'GreaterThanThreshold',
    },
  });
  expect(cloud.alarms.state(alarmId('MonthlyCostPace'))).toBe('ALARM');
});

it('evaluates every alarm of the stack', () => {
  expect(cloud.alarms.skipped).toEqual([]);
});

it('puts the dead-letter alarm in ALARM when an event is dead-lettered', async () => {
  const dynamo = new DynamoDBClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.DYNAMODB });
  try {
    // The outage: validate fails on every attempt, and its event goes to the dead-letter queue.
    await dynamo.send(new DeleteTableCommand({ TableName: cloud.plan.tables[0]!.name }));
    await cloud.drop(SAMPLE, 'incoming/notify/during-outage.jsonl');
    for (let i = 0; i < 200 && (await cloud.peekDeadLetters()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await cloud.peekDeadLetters()).toHaveLength(1);
    await cloud.alarms.evaluate();
    const [notice] = await until('the dead-letter alarm notifies', () => {
      const found = alarmNotices('DeadLetters');
      return found.length ? found : undefined;
    });
    expect(notice!.body).toMatchObject({
      NewStateValue: 'ALARM',
      Trigger: { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS' },
    });
  } finally {
    dynamo.destroy();
  }
});
