import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schedulePeriodSeconds } from '../../local/cloud/events.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { withWebhook, type WebhookOptions } from '../support/webhook-stack.js';

/**
 * EventBridge scheduled rules fire at the cloud's scaled time and deliver the Scheduled Event through
 * the same path as pattern rules: under the function's resource policy, asynchronously, with retries
 * and dead letters.
 */
interface ScheduledEvent {
  source: string;
  'detail-type': string;
  resources: string[];
  detail: unknown;
  time: string;
}

const TIME_SCALE = 1 / 1000; // rate(10 minutes) fires every 600 ms

async function withScheduleCloud<T>(
  options: { schedules: boolean; without?: WebhookOptions['without'] },
  scenario: (cloud: LocalCloud, received: () => Promise<ScheduledEvent[]>) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tunedrop-schedule-'));
  const eventLog = join(dir, 'events.jsonl');
  let harness: LocalHarness | undefined;
  try {
    harness = await startLocalHarness({
      apiKey: 'sk-schedules',
      cloud: {
        onLog: () => undefined,
        timeScale: TIME_SCALE,
        schedules: options.schedules,
        transformTemplate: withWebhook({
          eventLog,
          ...(options.without ? { without: options.without } : {}),
        }),
      },
    });
    const received = async () =>
      (await readFile(eventLog, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as ScheduledEvent);
    return await scenario(harness.cloud, received);
  } finally {
    await harness?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The test stack's rule (the app has its own schedule too: the slot sweep).
const ruleOf = (cloud: LocalCloud) =>
  cloud.plan.rules.find((r) => r.schedule !== undefined && r.name.startsWith('WebhookTick'))!;

it('a rate(10 minutes) rule fires about once per scaled 10 minutes with the Scheduled Event shape', async () => {
  await withScheduleCloud({ schedules: true }, async (cloud, received) => {
    const rule = ruleOf(cloud);
    expect(rule.schedule).toBe('rate(10 minutes)');
    const start = (await received()).length;
    await sleep(3_300); // 5.5 periods of 600 ms
    await cloud.lambda.settle();
    const events = (await received()).slice(start);
    expect(events.length).toBeGreaterThanOrEqual(4);
    expect(events.length).toBeLessThanOrEqual(6);
    for (const event of events)
      expect(event).toEqual({
        version: '0',
        id: expect.any(String),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '000000000000',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        region: 'us-east-1',
        resources: [rule.arn],
        detail: {},
      });
    // Delivered as EventBridge delivers: the events service, under the function's policy, for this rule.
    expect(cloud.iamDecisions).toContainEqual(
      expect.objectContaining({
        principal: 'events.amazonaws.com',
        action: 'lambda:InvokeFunction',
        allowed: true,
      }),
    );
  });
  // A whole local cloud starts and stops around the 3.3 s measured: slow on two busy cores.
}, 60_000);

it('with schedules off nothing fires by itself, and fireSchedule delivers one event now', async () => {
  await withScheduleCloud({ schedules: false }, async (cloud, received) => {
    expect(cloud.activeSchedules()).toBe(0);
    await sleep(1_500);
    expect(await received()).toEqual([]);
    await cloud.fireSchedule(ruleOf(cloud).name);
    await cloud.lambda.settle();
    expect(await received()).toEqual([expect.objectContaining({ 'detail-type': 'Scheduled Event' })]);
    await expect(cloud.fireSchedule('NoSuchRule')).rejects.toThrow(/no enabled scheduled rule NoSuchRule/);
  });
}, 60_000);

it('pauseSchedules quiets the rule and resumeSchedules starts it again', async () => {
  await withScheduleCloud({ schedules: true }, async (cloud, received) => {
    cloud.pauseSchedules();
    expect(cloud.activeSchedules()).toBe(0);
    await cloud.lambda.settle();
    const paused = (await received()).length;
    await sleep(1_500);
    expect((await received()).length).toBe(paused);
    cloud.resumeSchedules();
    expect(cloud.activeSchedules()).toBe(2); // the test stack's rule and the app's slot sweep
    await sleep(1_000);
    await cloud.lambda.settle();
    expect((await received()).length).toBeGreaterThan(paused);
  });
}, 60_000);

it('a scheduled rule without permission on the function delivers nothing and is counted as dropped', async () => {
  await withScheduleCloud(
    {
      schedules: false,
      without: (id, type) => type === 'AWS::Lambda::Permission' && id.includes('AllowEventRule'),
    },
    async (cloud, received) => {
      await cloud.fireSchedule(ruleOf(cloud).name);
      await cloud.lambda.settle();
      expect(await received()).toEqual([]);
      expect(cloud.droppedEvents).toEqual([
        expect.objectContaining({
          reason: expect.stringMatching(
            /EventBridge could not deliver: .*events\.amazonaws\.com is not authorized/,
          ),
        }),
      ]);
    },
  );
}, 60_000);

it('close() stops every schedule timer: nothing is delivered or even attempted afterwards', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tunedrop-schedule-'));
  const eventLog = join(dir, 'events.jsonl');
  const count = async () =>
    (await readFile(eventLog, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  try {
    const harness = await startLocalHarness({
      apiKey: 'sk-schedules',
      cloud: { onLog: () => undefined, timeScale: TIME_SCALE, transformTemplate: withWebhook({ eventLog }) },
    });
    expect(harness.cloud.activeSchedules()).toBe(2); // the test stack's rule and the app's slot sweep
    await sleep(700); // the first firing, so there is a timer to stop
    await harness.close();
    expect(harness.cloud.activeSchedules()).toBe(0);
    const delivered = await count();
    const decisions = harness.cloud.iamDecisions.length;
    expect(delivered).toBeGreaterThanOrEqual(1);
    await sleep(1_500); // 2.5 periods
    expect(await count()).toBe(delivered);
    expect(harness.cloud.iamDecisions.length).toBe(decisions);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

describe('schedule expressions', () => {
  const rule = (schedule: string) => ({ name: 'Tick', schedule });
  it.each([
    ['rate(1 minute)', 60],
    ['rate(10 minutes)', 600],
    ['rate(1 hour)', 3600],
    ['rate(2 days)', 172_800],
  ])('%s runs every %i seconds', (expression, seconds) => {
    expect(schedulePeriodSeconds(rule(expression))).toBe(seconds);
  });
  it.each(['rate(1 minutes)', 'rate(5 minute)', 'rate(0 minutes)', 'rate(5 weeks)', 'every 5 minutes'])(
    '%s is refused as EventBridge refuses it, naming the rule',
    (expression) => {
      expect(() => schedulePeriodSeconds(rule(expression))).toThrow(
        /rule Tick: .* is not a valid schedule expression/,
      );
    },
  );
  it('a cron schedule is refused with a clear error naming the rule', () => {
    expect(() => schedulePeriodSeconds(rule('cron(0 12 * * ? *)'))).toThrow(
      /rule Tick: local mode does not serve cron schedules/,
    );
  });
});
