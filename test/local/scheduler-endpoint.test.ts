import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListSchedulesCommand,
  SchedulerClient,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCloud, type LocalCloud } from '../../local/cloud/index.js';
import type { CloudFormationTemplate } from '../../local/template.js';
import { WEBHOOK_ENTRY, withWebhook } from '../support/webhook-stack.js';

/**
 * The local EventBridge Scheduler through the IAM gateway, with the real SDK client: the API's shapes and
 * errors, IAM (iam:PassRole included), and firing on a clock the test moves with `advance`, as the
 * schedule's execution role, into a function that logs what it receives.
 */
let cloud: LocalCloud;
let scheduler: SchedulerClient;
let dir: string;
let eventLog: string;
let targetArn: string;

const GROUP = 'retrain-test';
const ROLE = 'arn:aws:iam::000000000000:role/TestSchedulerRole';
const UNTRUSTED_ROLE = 'arn:aws:iam::000000000000:role/TestUntrustedRole';
const NO_INVOKE_ROLE = 'arn:aws:iam::000000000000:role/TestNoInvokeRole';

/**
 * The test stack's webhook function (a logger of its events), and what a stack using the scheduler
 * declares: a schedule group, an execution role that trusts scheduler.amazonaws.com and may invoke the
 * function; plus a role that does not trust the scheduler and one that may not invoke the function.
 */
const withSchedulerResources =
  (log: string) =>
  (original: CloudFormationTemplate): CloudFormationTemplate => {
    const template = withWebhook({ eventLog: log })(original);
    const functionId = Object.entries(template.Resources).find(
      ([, r]) =>
        r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Metadata ?? {}).includes(WEBHOOK_ENTRY),
    )![0];
    const trust = (service: string) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
    });
    const invoke = [
      {
        PolicyName: 'invoke',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'lambda:InvokeFunction',
              Resource: { 'Fn::GetAtt': [functionId, 'Arn'] },
            },
          ],
        },
      },
    ];
    return {
      ...template,
      Resources: {
        ...template.Resources,
        TestRetrainGroup: { Type: 'AWS::Scheduler::ScheduleGroup', Properties: { Name: GROUP } },
        TestSchedulerRole: {
          Type: 'AWS::IAM::Role',
          Properties: { AssumeRolePolicyDocument: trust('scheduler.amazonaws.com'), Policies: invoke },
        },
        TestUntrustedRole: {
          Type: 'AWS::IAM::Role',
          Properties: { AssumeRolePolicyDocument: trust('events.amazonaws.com'), Policies: invoke },
        },
        TestNoInvokeRole: {
          Type: 'AWS::IAM::Role',
          Properties: { AssumeRolePolicyDocument: trust('scheduler.amazonaws.com') },
        },
      },
    };
  };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-scheduler-'));
  eventLog = join(dir, 'events.jsonl');
  cloud = await startLocalCloud({
    openAiBaseUrl: 'http://127.0.0.1:9/v1',
    apiKey: 'sk-scheduler',
    logLevel: 'SILENT',
    onLog: () => undefined,
    schedules: false,
    transformTemplate: withSchedulerResources(eventLog),
  });
  targetArn = cloud.plan.functions.find((f) => f.entry === WEBHOOK_ENTRY)!.arn;
  scheduler = new SchedulerClient({
    ...cloud.clientConfig,
    endpoint: cloud.endpoints.SCHEDULER,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  scheduler?.destroy();
  await cloud?.close();
  await rm(dir, { recursive: true, force: true });
});

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      message: error.message,
      status: error.$metadata?.httpStatusCode,
    }),
  );

let count = 0;
const input = (overrides: Partial<CreateScheduleCommandInput> = {}): CreateScheduleCommandInput => ({
  Name: `s${++count}`,
  GroupName: GROUP,
  ScheduleExpression: 'rate(10 minutes)',
  FlexibleTimeWindow: { Mode: 'OFF' },
  Target: { Arn: targetArn, RoleArn: ROLE, Input: JSON.stringify({ schedule: `s${count}` }) },
  ...overrides,
});
const received = async () =>
  (await readFile(eventLog, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const receivedFor = async (name: string) => (await received()).filter((e) => e.schedule === name);

describe('the API', () => {
  it('CreateSchedule then GetSchedule, in the SDK shape with the defaults AWS reports', async () => {
    const request = input({ Description: 'retrain family x', ScheduleExpressionTimezone: 'Europe/Berlin' });
    const { ScheduleArn } = await scheduler.send(new CreateScheduleCommand(request));
    expect(ScheduleArn).toBe(`arn:aws:scheduler:us-east-1:000000000000:schedule/${GROUP}/${request.Name}`);
    const got = await scheduler.send(new GetScheduleCommand({ Name: request.Name, GroupName: GROUP }));
    expect(got).toMatchObject({
      Arn: ScheduleArn,
      Name: request.Name,
      GroupName: GROUP,
      ScheduleExpression: 'rate(10 minutes)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      Description: 'retrain family x',
      State: 'ENABLED',
      ActionAfterCompletion: 'NONE',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: targetArn,
        RoleArn: ROLE,
        Input: request.Target!.Input,
        RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      },
      CreationDate: expect.any(Date),
      LastModificationDate: expect.any(Date),
    });
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
  });

  it('the same name again is ConflictException; a group that does not exist is ResourceNotFoundException', async () => {
    const request = input({ State: 'DISABLED' });
    await scheduler.send(new CreateScheduleCommand(request));
    expect(await errorOf(scheduler.send(new CreateScheduleCommand(request)))).toMatchObject({
      name: 'ConflictException',
      status: 409,
    });
    expect(
      await errorOf(scheduler.send(new CreateScheduleCommand(input({ GroupName: 'no-such-group' })))),
    ).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    // The same name in another group is another schedule.
    await scheduler.send(new CreateScheduleCommand({ ...request, GroupName: undefined }));
    expect((await scheduler.send(new GetScheduleCommand({ Name: request.Name }))).GroupName).toBe('default');
  });

  it.each<[string, Partial<CreateScheduleCommandInput>]>([
    ['a name of 65 characters', { Name: 'n'.repeat(65) }],
    ['a name with other characters', { Name: 'bad name!' }],
    ['rate(0 minutes)', { ScheduleExpression: 'rate(0 minutes)' }],
    ['rate(5 weeks)', { ScheduleExpression: 'rate(5 weeks)' }],
    ['a cron of five fields', { ScheduleExpression: 'cron(0 12 * * ?)' }],
    ['a cron with both day fields set', { ScheduleExpression: 'cron(0 12 * * * *)' }],
    ['a cron with both day fields ?', { ScheduleExpression: 'cron(0 12 ? * ? *)' }],
    ['a cron minute of 60', { ScheduleExpression: 'cron(60 12 * * ? *)' }],
    ['a cron year before 1970', { ScheduleExpression: 'cron(0 12 * * ? 1969)' }],
    ['an at() of a day that does not exist', { ScheduleExpression: 'at(2027-02-30T10:00:00)' }],
    ['no FlexibleTimeWindow', { FlexibleTimeWindow: undefined }],
    ['a FLEXIBLE window without its size', { FlexibleTimeWindow: { Mode: 'FLEXIBLE' } }],
    ['no Target', { Target: undefined }],
    [
      'a target without a role',
      { Target: { Arn: 'arn:aws:lambda:us-east-1:000000000000:function:X', RoleArn: undefined as never } },
    ],
    ['an unknown time zone', { ScheduleExpressionTimezone: 'Mars/Olympus' }],
    ['a State other than ENABLED or DISABLED', { State: 'PAUSED' as never }],
    ['an ActionAfterCompletion other than NONE or DELETE', { ActionAfterCompletion: 'ARCHIVE' as never }],
  ])('%s is a ValidationException', async (_, overrides) => {
    expect(await errorOf(scheduler.send(new CreateScheduleCommand(input(overrides))))).toMatchObject({
      name: 'ValidationException',
      status: 400,
    });
  });

  it.each([
    'cron(0/15 * * * ? *)',
    'cron(0 18 ? * MON-FRI *)',
    'cron(0 8 L * ? *)',
    'cron(0 8 ? * 6#3 *)',
    'cron(15 10 1W JAN,JUL ? 2030-2035)',
    'at(2030-01-01T00:00:00)',
    'rate(1 day)',
    'rate(2 hours)',
  ])('%s is accepted', async (ScheduleExpression) => {
    const request = input({ ScheduleExpression, State: 'DISABLED' });
    await scheduler.send(new CreateScheduleCommand(request));
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
  });

  it('a target other than a Lambda function is refused: local mode supports Lambda targets', async () => {
    expect(
      await errorOf(
        scheduler.send(
          new CreateScheduleCommand(
            input({ Target: { Arn: 'arn:aws:sqs:us-east-1:000000000000:queue', RoleArn: ROLE } }),
          ),
        ),
      ),
    ).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('local mode supports Lambda targets'),
    });
  });

  it('UpdateSchedule replaces the whole schedule; a missing one is ResourceNotFoundException', async () => {
    const request = input({ Description: 'first', State: 'DISABLED' });
    await scheduler.send(new CreateScheduleCommand(request));
    await scheduler.send(
      new UpdateScheduleCommand({
        Name: request.Name,
        GroupName: GROUP,
        ScheduleExpression: 'cron(0 3 * * ? *)',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        Target: { Arn: targetArn, RoleArn: ROLE },
      }),
    );
    const got = await scheduler.send(new GetScheduleCommand({ Name: request.Name, GroupName: GROUP }));
    expect(got).toMatchObject({
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
    });
    expect(got.Description).toBeUndefined();
    expect(got.Target?.Input).toBeUndefined();
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
    expect(
      await errorOf(scheduler.send(new UpdateScheduleCommand({ ...input(), Name: 'never-created' }))),
    ).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
  });

  it('ListSchedules by group and name prefix; DeleteSchedule removes; a deleted one is ResourceNotFoundException', async () => {
    for (const Name of ['list-a', 'list-b', 'other-c'])
      await scheduler.send(new CreateScheduleCommand(input({ Name, State: 'DISABLED' })));
    const { Schedules } = await scheduler.send(
      new ListSchedulesCommand({ GroupName: GROUP, NamePrefix: 'list-' }),
    );
    expect(Schedules?.map((s) => s.Name)).toEqual(['list-a', 'list-b']);
    expect(Schedules?.[0]).toMatchObject({
      Arn: `arn:aws:scheduler:us-east-1:000000000000:schedule/${GROUP}/list-a`,
      GroupName: GROUP,
      State: 'DISABLED',
      Target: { Arn: targetArn },
    });
    for (const Name of ['list-a', 'list-b', 'other-c'])
      await scheduler.send(new DeleteScheduleCommand({ Name, GroupName: GROUP }));
    expect(
      await errorOf(scheduler.send(new GetScheduleCommand({ Name: 'list-a', GroupName: GROUP }))),
    ).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect(
      await errorOf(scheduler.send(new DeleteScheduleCommand({ Name: 'list-a', GroupName: GROUP }))),
    ).toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it("the template's schedule group is served with its ARN", async () => {
    expect(await scheduler.send(new GetScheduleGroupCommand({ Name: GROUP }))).toMatchObject({
      Name: GROUP,
      Arn: `arn:aws:scheduler:us-east-1:000000000000:schedule-group/${GROUP}`,
      State: 'ACTIVE',
    });
    expect(cloud.plan.scheduleGroups).toContainEqual(
      expect.objectContaining({ logicalId: 'TestRetrainGroup', name: GROUP }),
    );
  });
});

describe('IAM', () => {
  it('a function whose role has no scheduler grant is refused; the admin is allowed, iam:PassRole included', async () => {
    const fn = cloud.plan.functions.find((f) => f.entry === 'functions/validate/handler.ts')!;
    const asFunction = new SchedulerClient({
      region: cloud.clientConfig.region,
      credentials: cloud.functionCredentials(fn.entry),
      endpoint: cloud.endpoints.SCHEDULER,
      maxAttempts: 1,
    });
    const request = input({ State: 'DISABLED' });
    try {
      expect(await errorOf(asFunction.send(new CreateScheduleCommand(request)))).toMatchObject({
        name: 'AccessDeniedException',
        status: 403,
        message: expect.stringContaining(
          `is not authorized to perform: scheduler:CreateSchedule on resource: arn:aws:scheduler:us-east-1:000000000000:schedule/${GROUP}/${request.Name}`,
        ),
      });
    } finally {
      asFunction.destroy();
    }
    await scheduler.send(new CreateScheduleCommand(request));
    expect(cloud.iamDecisions).toContainEqual(
      expect.objectContaining({
        principal: 'arn:aws:iam::000000000000:user/local-admin',
        action: 'iam:PassRole',
        resource: ROLE,
        allowed: true,
      }),
    );
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
  });
});

describe('firing', () => {
  // A failed test leaves no schedule behind to fire into the next one.
  afterEach(async () => {
    for (const { group, name } of cloud.scheduler.schedules())
      await scheduler.send(new DeleteScheduleCommand({ Name: name, GroupName: group }));
  });

  it('a rate schedule fires at once and then every period, as its role, with its Input', async () => {
    const request = input({
      Target: {
        Arn: targetArn,
        RoleArn: ROLE,
        Input:
          '{"schedule":"rated","at":"<aws.scheduler.scheduled-time>","arn":"<aws.scheduler.schedule-arn>"}',
      },
    });
    await scheduler.send(new CreateScheduleCommand(request));
    const start = cloud.scheduler.now().getTime();
    // "If you do not provide a StartDate for a rate-based schedule, your schedule begins invoking its target
    // immediately": the first occurrence is now, then one at 10 and one at 20 minutes.
    expect(await cloud.scheduler.advance(25 * 60_000)).toBe(3);
    await cloud.lambda.settle();
    const events = await receivedFor('rated');
    expect(events).toHaveLength(3);
    // Asynchronous invocations may append to the log in any order.
    expect(
      events.map((e) => Date.parse(String(e.at)) - Math.floor(start / 1000) * 1000).sort((a, b) => a - b),
    ).toEqual([0, 600_000, 1_200_000]);
    expect(events.map((e) => e.arn)).toContain(
      `arn:aws:scheduler:us-east-1:000000000000:schedule/${GROUP}/${request.Name}`,
    );
    expect(cloud.iamDecisions).toContainEqual(
      expect.objectContaining({
        principal: expect.stringMatching(/^arn:aws:sts::000000000000:assumed-role\/TestSchedulerRole\//),
        action: 'lambda:InvokeFunction',
        resource: targetArn,
        allowed: true,
      }),
    );
    expect(cloud.scheduler.schedules()).toContainEqual({
      group: GROUP,
      name: request.Name,
      expression: 'rate(10 minutes)',
      state: 'ENABLED',
      target: expect.objectContaining({ Arn: targetArn, RoleArn: ROLE }),
    });
    // Disabled, it no longer fires.
    await scheduler.send(new UpdateScheduleCommand({ ...request, State: 'DISABLED' }));
    expect(await cloud.scheduler.advance(60 * 60_000)).toBe(0);
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
  });

  it('an at() schedule fires once, and ActionAfterCompletion DELETE removes it afterwards', async () => {
    const at = new Date(Math.ceil(cloud.scheduler.now().getTime() / 1000) * 1000 + 5 * 60_000);
    const expression = `at(${at.toISOString().slice(0, 19)})`;
    const request = input({
      ScheduleExpression: expression,
      ActionAfterCompletion: 'DELETE',
      Target: { Arn: targetArn, RoleArn: ROLE, Input: '{"schedule":"once"}' },
    });
    await scheduler.send(new CreateScheduleCommand(request));
    expect(await cloud.scheduler.advance(4 * 60_000)).toBe(0);
    expect(await cloud.scheduler.advance(2 * 60_000)).toBe(1);
    expect(await cloud.scheduler.advance(24 * 60 * 60_000)).toBe(0);
    await cloud.lambda.settle();
    expect(await receivedFor('once')).toHaveLength(1);
    expect(
      await errorOf(scheduler.send(new GetScheduleCommand({ Name: request.Name, GroupName: GROUP }))),
    ).toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('a cron schedule fires at the times it names, in its time zone', async () => {
    const request = input({
      ScheduleExpression: 'cron(30 9 * * ? *)',
      ScheduleExpressionTimezone: 'Asia/Tokyo',
      Target: {
        Arn: targetArn,
        RoleArn: ROLE,
        Input: '{"schedule":"daily","at":"<aws.scheduler.scheduled-time>"}',
      },
    });
    await scheduler.send(new CreateScheduleCommand(request));
    expect(await cloud.scheduler.advance(3 * 24 * 60 * 60_000)).toBe(3);
    await cloud.lambda.settle();
    const times = (await receivedFor('daily')).map((e) => String(e.at));
    // 09:30 in Tokyo (UTC+9, no DST) is 00:30 UTC.
    expect(times).toHaveLength(3);
    for (const time of times) expect(time).toMatch(/T00:30:00Z$/);
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
  });

  it('fire() fires a schedule now', async () => {
    const request = input({
      Target: { Arn: targetArn, RoleArn: ROLE, Input: '{"schedule":"manual"}' },
      ScheduleExpression: 'rate(7 days)',
    });
    await scheduler.send(new CreateScheduleCommand(request));
    await cloud.scheduler.advance(0); // the rate schedule's first, immediate occurrence
    await cloud.scheduler.fire(GROUP, request.Name!);
    await cloud.lambda.settle();
    expect(await receivedFor('manual')).toHaveLength(2);
    await expect(cloud.scheduler.fire(GROUP, 'no-such-schedule')).rejects.toThrow(/no schedule/);
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
  });

  it.each([
    [
      'a role that does not trust scheduler.amazonaws.com',
      UNTRUSTED_ROLE,
      /must allow AWS EventBridge Scheduler .* to assume the role/,
    ],
    [
      'a role that may not invoke the function',
      NO_INVOKE_ROLE,
      /TestNoInvokeRole\/.* is not authorized to perform: lambda:InvokeFunction/,
    ],
    ['a role that is not in the template', 'arn:aws:iam::000000000000:role/NoSuchRole', /does not exist/],
  ])('with %s nothing is delivered and the invocation is recorded as dropped', async (_, RoleArn, reason) => {
    const tag = `dropped-${count + 1}`;
    const request = input({ Target: { Arn: targetArn, RoleArn, Input: JSON.stringify({ schedule: tag }) } });
    await scheduler.send(new CreateScheduleCommand(request));
    const dropped = cloud.droppedEvents.length;
    await cloud.scheduler.fire(GROUP, request.Name!);
    await cloud.lambda.settle();
    expect(await receivedFor(tag)).toEqual([]);
    expect(cloud.droppedEvents.slice(dropped)).toEqual([
      { functionName: targetArn, reason: expect.stringMatching(reason) },
    ]);
    await scheduler.send(new DeleteScheduleCommand({ Name: request.Name, GroupName: GROUP }));
  });
});
