import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { AwsApiError } from '../../local/cloud/aws-json-server.js';
import { Authorizer, type Principal } from '../../local/cloud/iam/authorizer.js';
import { startGateway } from '../../local/cloud/iam/gateway.js';
import { classifyJson, UnclassifiedRequestError } from '../../local/cloud/iam/requests.js';
import type { Invoke } from '../../local/cloud/lambda.js';
import {
  LocalStepFunctions,
  SimulatedClock,
  taskTokenStateMachineArn,
  type Definition,
  type Execution,
} from '../../local/cloud/step-functions.js';

const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Tokens';
const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:notify';
const HOUR = 3600;
const T0 = new Date('2026-11-29T00:00:00Z');

/** A `.waitForTaskToken` Lambda task, as CDK's LambdaInvoke with WAIT_FOR_TASK_TOKEN synthesizes it. */
const tokenTask = (fields: Record<string, unknown>) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
  Parameters: { FunctionName: FUNCTION, Payload: { 'taskToken.$': '$$.Task.Token', 'runId.$': '$.runId' } },
  ...fields,
});

interface Received {
  taskToken: string;
  runId: string;
}

/** The function the token task invokes: it keeps what it received, and may act on it. */
function notifier(onReceive: (payload: Received) => void = () => undefined) {
  const received: Received[] = [];
  let arrived = (): void => undefined;
  const invoke: Invoke = async (event) => {
    received.push(event as Received);
    onReceive(event as Received);
    arrived();
    return { ignored: 'the function result is not the task result' };
  };
  /** The payload of the `index`th invocation, once it has come. */
  const nth = async (index: number): Promise<Received> => {
    while (received.length <= index) await new Promise<void>((resolve) => (arrived = resolve));
    return received[index]!;
  };
  return { received, invoke, nth };
}

function machine(
  definition: unknown,
  invoke: Invoke,
  options: { clock?: SimulatedClock; timeScale?: number } = {},
) {
  const sfn = new LocalStepFunctions({ invokers: new Map([[FUNCTION, invoke]]), ...options });
  sfn.register(MACHINE, 'Tokens', definition as Definition);
  return sfn;
}

const types = (execution: Execution) => execution.history.map((e) => e.type);

/** Runs `fn` and returns the AWS error it threw. */
function refusal(fn: () => void): AwsApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AwsApiError) return error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}

describe('task tokens (.waitForTaskToken)', () => {
  it('invokes the function with a fresh token and resumes with SendTaskSuccess output at the ResultPath', async () => {
    const fn = notifier();
    const sfn = machine(
      { StartAt: 'Review', States: { Review: tokenTask({ ResultPath: '$.review', End: true }) } },
      fn.invoke,
    );
    const execution = sfn.start(MACHINE, 'run-1', JSON.stringify({ runId: 'run-1' }));
    const { taskToken, runId } = await fn.nth(0);
    expect(runId).toBe('run-1');
    expect(execution.status).toBe('RUNNING');
    // The token names the state machine that issued it (what IAM authorizes on) and is unguessable.
    expect(taskTokenStateMachineArn(taskToken)).toBe(MACHINE);
    expect(taskToken.length).toBeGreaterThan(43);
    sfn.sendTaskSuccess(taskToken, JSON.stringify({ approved: true }));
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toEqual({ runId: 'run-1', review: { approved: true } });
  });

  it('lists the events AWS lists for a callback task: scheduled, started, submitted, succeeded', async () => {
    const fn = notifier();
    const sfn = machine({ StartAt: 'Review', States: { Review: tokenTask({ End: true }) } }, fn.invoke);
    const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
    sfn.sendTaskSuccess((await fn.nth(0)).taskToken, '"done"');
    await execution.done;
    expect(types(execution)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(execution.output).toBe('"done"');
  });

  it('fails the task with SendTaskFailure error and cause, which a Catch on that error sees', async () => {
    const fn = notifier();
    const sfn = machine(
      {
        StartAt: 'Review',
        States: {
          Review: tokenTask({
            Catch: [
              { ErrorEquals: ['Other'], Next: 'Wrong' },
              { ErrorEquals: ['Rejected'], ResultPath: '$.failure', Next: 'Rejected' },
            ],
            End: true,
          }),
          Wrong: { Type: 'Fail', Error: 'WrongCatch' },
          Rejected: { Type: 'Pass', End: true },
        },
      },
      fn.invoke,
    );
    const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
    sfn.sendTaskFailure((await fn.nth(0)).taskToken, 'Rejected', 'the reviewer said no');
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toEqual({
      runId: 'r',
      failure: { Error: 'Rejected', Cause: 'the reviewer said no' },
    });
    expect(types(execution).slice(2, 7)).toEqual([
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskFailed',
      'TaskStateExited',
    ]);
  });

  it('fails the task with the function error when the invocation itself fails, and Retry gives a new token', async () => {
    let calls = 0;
    const fn = notifier(() => {
      if (++calls === 1)
        throw Object.assign(new Error('throttled'), { name: 'Lambda.TooManyRequestsException' });
    });
    const sfn = machine(
      {
        StartAt: 'Review',
        States: {
          Review: tokenTask({
            Retry: [{ ErrorEquals: ['Lambda.TooManyRequestsException'], MaxAttempts: 1 }],
            End: true,
          }),
        },
      },
      fn.invoke,
    );
    const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
    const second = await fn.nth(1);
    expect(second.taskToken).not.toBe(fn.received[0]!.taskToken);
    // The failed attempt's token is dead.
    expect(refusal(() => sfn.sendTaskSuccess(fn.received[0]!.taskToken, '{}')).type).toBe('TaskTimedOut');
    sfn.sendTaskSuccess(second.taskToken, '{"ok":true}');
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(types(execution).slice(2, 9)).toEqual([
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
    ]);
  });

  it('refuses a second answer to the same token with TaskTimedOut', async () => {
    const fn = notifier();
    const sfn = machine({ StartAt: 'Review', States: { Review: tokenTask({ End: true }) } }, fn.invoke);
    const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
    const { taskToken } = await fn.nth(0);
    sfn.sendTaskSuccess(taskToken, '1');
    expect(refusal(() => sfn.sendTaskSuccess(taskToken, '2')).type).toBe('TaskTimedOut');
    expect(refusal(() => sfn.sendTaskFailure(taskToken, 'Late')).type).toBe('TaskTimedOut');
    await execution.done;
    expect(execution.output).toBe('1');
    expect(refusal(() => sfn.sendTaskHeartbeat(taskToken)).type).toBe('TaskTimedOut');
  });

  it('refuses an unknown or forged token with InvalidToken, and output that is not JSON or over 256 KiB with InvalidOutput', async () => {
    const fn = notifier();
    const sfn = machine({ StartAt: 'Review', States: { Review: tokenTask({ End: true }) } }, fn.invoke);
    const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
    const { taskToken } = await fn.nth(0);
    expect(refusal(() => sfn.sendTaskSuccess('not-a-token', '{}')).type).toBe('InvalidToken');
    // The same issuer, another random part: not a token this process issued.
    const forged = `${taskToken.slice(0, taskToken.lastIndexOf('.'))}.${'A'.repeat(43)}`;
    expect(refusal(() => sfn.sendTaskSuccess(forged, '{}')).type).toBe('InvalidToken');
    expect(refusal(() => sfn.sendTaskHeartbeat(forged)).type).toBe('InvalidToken');
    expect(refusal(() => sfn.sendTaskSuccess(taskToken, '{not json')).type).toBe('InvalidOutput');
    expect(refusal(() => sfn.sendTaskSuccess(taskToken, JSON.stringify('x'.repeat(256 * 1024)))).type).toBe(
      'InvalidOutput',
    );
    // Refused answers leave the task waiting.
    sfn.sendTaskSuccess(taskToken, '{}');
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
  });

  it('refuses the token of a stopped execution with TaskTimedOut, and the stopped wait leaves no timer behind', async () => {
    // Counted around the wait, not against the start of the test: other timers come and go meanwhile.
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const fn = notifier();
    // Real time: an hour's timeout would be an hour's timer, and the interpreter's own task timer
    // 24 days', if either were left behind.
    const sfn = machine(
      { StartAt: 'Review', States: { Review: tokenTask({ TimeoutSeconds: HOUR, End: true }) } },
      fn.invoke,
      { timeScale: 1 },
    );
    const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
    const { taskToken } = await fn.nth(0);
    // Once the function has returned (TaskSubmitted) the wait's deadline timer is armed.
    while (!types(execution).includes('TaskSubmitted')) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = timers();
    sfn.stop(execution.executionArn);
    expect(refusal(() => sfn.sendTaskSuccess(taskToken, '{}')).type).toBe('TaskTimedOut');
    await execution.done;
    expect(execution.status).toBe('ABORTED');
    await new Promise((resolve) => setImmediate(resolve));
    // Both the wait's timer and the interpreter's are gone.
    expect(timers()).toBeLessThanOrEqual(waiting - 2);
  });

  it('fails a task with States.Timeout when its TimeoutSecondsPath passes, which its Catch sees and States.TaskFailed does not', async () => {
    const clock = new SimulatedClock(T0);
    const fn = notifier();
    const sfn = machine(
      {
        StartAt: 'Review',
        States: {
          Review: tokenTask({
            TimeoutSecondsPath: '$.timeoutSeconds',
            Catch: [
              { ErrorEquals: ['States.TaskFailed'], Next: 'Wrong' },
              { ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: 'Expired' },
            ],
            End: true,
          }),
          Wrong: { Type: 'Fail', Error: 'WrongCatch' },
          Expired: { Type: 'Pass', End: true },
        },
      },
      fn.invoke,
      { clock },
    );
    const execution = await sfn.start(
      MACHINE,
      undefined,
      JSON.stringify({ runId: 'r', timeoutSeconds: 2 * HOUR }),
    ).done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!).failure.Error).toBe('States.Timeout');
    expect(clock.now().toISOString()).toBe('2026-11-29T02:00:00.000Z');
    expect(types(execution).slice(2, 7)).toEqual([
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskTimedOut',
      'TaskStateExited',
    ]);
    expect(refusal(() => sfn.sendTaskSuccess(fn.received[0]!.taskToken, '{}')).type).toBe('TaskTimedOut');
  });

  it('ends an uncaught timeout as AWS recorded it: TaskTimedOut, then ExecutionFailed with States.Timeout', async () => {
    const fn = notifier();
    const sfn = machine(
      { StartAt: 'Review', States: { Review: tokenTask({ TimeoutSeconds: 5, End: true }) } },
      fn.invoke,
      { clock: new SimulatedClock(T0) },
    );
    const execution = await sfn.start(MACHINE, undefined, '{"runId":"r"}').done;
    expect(execution).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
    expect(types(execution)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskTimedOut',
      'ExecutionFailed',
    ]);
  });

  it('fails a task without a heartbeat within HeartbeatSeconds with States.HeartbeatTimeout, on scaled time', async () => {
    const fn = notifier();
    const sfn = machine(
      {
        StartAt: 'Work',
        States: {
          Work: tokenTask({
            HeartbeatSeconds: 60,
            TimeoutSeconds: 24 * HOUR,
            Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.failure', Next: 'Stalled' }],
            End: true,
          }),
          Stalled: { Type: 'Pass', End: true },
        },
      },
      fn.invoke,
      { timeScale: 1 / 1000 },
    );
    const started = Date.now();
    const execution = await sfn.start(MACHINE, undefined, '{"runId":"r"}').done;
    // 60 workflow seconds are 60 ms here; nothing near the interpreter's own 60 s.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!).failure.Error).toBe('States.HeartbeatTimeout');
    expect(types(execution)).toContain('TaskTimedOut');
  });

  it('keeps a task alive past HeartbeatSeconds while heartbeats come, until its answer', async () => {
    const clock = new SimulatedClock(T0);
    const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
    // Assigned once the machine exists; the worker above reads it later.
    // eslint-disable-next-line prefer-const
    let sfn: LocalStepFunctions | undefined;
    const fn = notifier(({ taskToken }) => {
      // A worker that beats every 50 minutes against a one-hour heartbeat and answers after 200 minutes.
      for (const minutes of [50, 100, 150])
        clock.schedule(at(minutes), () => sfn!.sendTaskHeartbeat(taskToken));
      clock.schedule(at(200), () => sfn!.sendTaskSuccess(taskToken, '{"trained":true}'));
    });
    sfn = machine(
      {
        StartAt: 'Train',
        States: {
          Train: tokenTask({
            HeartbeatSeconds: HOUR,
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Failed' }],
            End: true,
          }),
          Failed: { Type: 'Fail', Error: 'Stalled' },
        },
      },
      fn.invoke,
      { clock },
    );
    const execution = await sfn.start(MACHINE, undefined, '{"runId":"r"}').done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.output).toBe('{"trained":true}');
    expect(clock.now()).toEqual(at(200));
    expect(clock.callbackErrors).toEqual([]);
  });

  it('on a simulated clock, an answer scheduled 5 h later completes a wait whose timeout is 24 h, and the clock reads +5 h', async () => {
    const clock = new SimulatedClock(T0);
    // Assigned once the machine exists; the worker above reads it later.
    // eslint-disable-next-line prefer-const
    let sfn: LocalStepFunctions | undefined;
    const fn = notifier(({ taskToken }) =>
      clock.schedule(new Date(T0.getTime() + 5 * HOUR * 1000), () =>
        sfn!.sendTaskSuccess(taskToken, '{"approved":true}'),
      ),
    );
    sfn = machine(
      { StartAt: 'Approve', States: { Approve: tokenTask({ TimeoutSeconds: 24 * HOUR, End: true }) } },
      fn.invoke,
      { clock },
    );
    const started = Date.now();
    const execution = await sfn.start(MACHINE, undefined, '{"runId":"r"}').done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.output).toBe('{"approved":true}');
    expect(clock.now().toISOString()).toBe('2026-11-29T05:00:00.000Z');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(clock.callbackErrors).toEqual([]);
  });

  it('ends a token wait without a timeout when the execution times out on the simulated clock, and refuses its token', async () => {
    const clock = new SimulatedClock(T0);
    const fn = notifier();
    const sfn = machine(
      { StartAt: 'Approve', TimeoutSeconds: 2 * HOUR, States: { Approve: tokenTask({ End: true }) } },
      fn.invoke,
      { clock },
    );
    const execution = await sfn.start(MACHINE, undefined, '{"runId":"r"}').done;
    expect(execution).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(types(execution).at(-1)).toBe('ExecutionTimedOut');
    expect(clock.now().toISOString()).toBe('2026-11-29T02:00:00.000Z');
    expect(refusal(() => sfn.sendTaskSuccess(fn.received[0]!.taskToken, '{}')).type).toBe('TaskTimedOut');
  });

  it('runs callbacks scheduled inside a Wait in time order, each at its own time', async () => {
    const clock = new SimulatedClock(T0);
    const seen: string[] = [];
    const note = (label: string) => () => seen.push(`${label}@${clock.now().toISOString().slice(11, 16)}`);
    clock.schedule(new Date(T0.getTime() + 3 * HOUR * 1000), note('b'));
    clock.schedule(new Date(T0.getTime() + 1 * HOUR * 1000), note('a'));
    clock.schedule(new Date(T0.getTime() + 12 * HOUR * 1000), note('after'));
    const sfn = machine(
      { StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 10 * HOUR, End: true } } },
      notifier().invoke,
      {
        clock,
      },
    );
    const execution = await sfn.start(MACHINE, undefined, '{}').done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(seen).toEqual(['a@01:00', 'b@03:00']);
    expect(clock.now().toISOString()).toBe('2026-11-29T10:00:00.000Z');
  });

  it('answers SendTaskHeartbeat, SendTaskSuccess and SendTaskFailure from the real SFNClient, with its errors', async () => {
    const fn = notifier();
    const sfn = machine(
      {
        StartAt: 'First',
        States: {
          First: tokenTask({ ResultPath: '$.first', Next: 'Second' }),
          Second: tokenTask({
            Catch: [{ ErrorEquals: ['Declined'], ResultPath: '$.second', Next: 'Done' }],
            End: true,
          }),
          Done: { Type: 'Pass', End: true },
        },
      },
      fn.invoke,
    );
    const server = await sfn.serve();
    const client = new SFNClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
      const first = await fn.nth(0);
      await client.send(new SendTaskHeartbeatCommand({ taskToken: first.taskToken }));
      await client.send(new SendTaskSuccessCommand({ taskToken: first.taskToken, output: '{"ok":1}' }));
      await expect(
        client.send(new SendTaskSuccessCommand({ taskToken: first.taskToken, output: '{}' })),
      ).rejects.toMatchObject({ name: 'TaskTimedOut' });
      await expect(
        client.send(new SendTaskSuccessCommand({ taskToken: 'garbage', output: '{}' })),
      ).rejects.toMatchObject({ name: 'InvalidToken' });
      const second = await fn.nth(1);
      await expect(
        client.send(new SendTaskSuccessCommand({ taskToken: second.taskToken, output: '{oops' })),
      ).rejects.toMatchObject({ name: 'InvalidOutput' });
      await client.send(
        new SendTaskFailureCommand({ taskToken: second.taskToken, error: 'Declined', cause: 'no budget' }),
      );
      await execution.done;
      expect(JSON.parse(execution.output!)).toEqual({
        runId: 'r',
        first: { ok: 1 },
        second: { Error: 'Declined', Cause: 'no budget' },
      });
    } finally {
      client.destroy();
      await server.close();
    }
  });
});

describe('IAM for task token answers', () => {
  const request = (action: string, body: unknown) => ({
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: { 'x-amz-target': `AWSStepFunctions.${action}` },
    body: Buffer.from(JSON.stringify(body)),
  });
  const names = {
    secretArn: (id: string) => id,
    queueArn: (url: string) => url,
    functionArn: (name: string) => name,
  };

  it('classifies SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat with a token local mode issued as the action on "*", and refuses other tokens', async () => {
    const fn = notifier();
    const sfn = machine({ StartAt: 'Review', States: { Review: tokenTask({ End: true }) } }, fn.invoke);
    const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
    const { taskToken } = await fn.nth(0);
    for (const action of ['SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat'])
      expect(classifyJson('states', request(action, { taskToken, output: '{}' }), names)).toEqual([
        { action: `states:${action}`, resource: '*' },
      ]);
    expect(() => classifyJson('states', request('SendTaskSuccess', { taskToken: 'garbage' }), names)).toThrow(
      UnclassifiedRequestError,
    );
    sfn.stop(execution.executionArn);
    await execution.done;
  });

  it('lets a caller granted the task response actions on "*" answer through the IAM gateway, and refuses one granted only the state machine', async () => {
    const taskResponse = (resource: string): Principal => ({
      arn: `arn:aws:sts::000000000000:assumed-role/callback-${resource === '*' ? 'star' : 'scoped'}/fn`,
      policies: [
        {
          name: 'TaskResponse',
          document: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
                Resource: resource,
              },
            ],
          },
        },
      ],
    });
    const principals: Record<string, Principal> = { STAR: taskResponse('*'), SCOPED: taskResponse(MACHINE) };
    const fn = notifier();
    const sfn = machine({ StartAt: 'Review', States: { Review: tokenTask({ End: true }) } }, fn.invoke);
    const server = await sfn.serve();
    const authorizer = new Authorizer(new Map());
    const gateway = await startGateway({
      service: 'Step Functions',
      protocol: 'json',
      upstream: server.endpoint,
      authorizer,
      identity: (key) => principals[key],
      classify: (r) => classifyJson('states', r, names),
      readsBody: true,
    });
    const client = (accessKeyId: string) =>
      new SFNClient({
        endpoint: gateway.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId, secretAccessKey: 'local' },
      });
    const scoped = client('SCOPED');
    const star = client('STAR');
    try {
      const execution = sfn.start(MACHINE, undefined, '{"runId":"r"}');
      const { taskToken } = await fn.nth(0);
      await expect(
        scoped.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })),
      ).rejects.toMatchObject({
        name: 'AccessDeniedException',
      });
      expect(execution.status).toBe('RUNNING');
      await star.send(new SendTaskSuccessCommand({ taskToken, output: '{"via":"gateway"}' }));
      await execution.done;
      expect(execution.output).toBe('{"via":"gateway"}');
      expect(authorizer.decisions.map((d) => [d.action, d.resource, d.allowed])).toEqual([
        ['states:SendTaskSuccess', '*', false],
        ['states:SendTaskSuccess', '*', true],
      ]);
    } finally {
      scoped.destroy();
      star.destroy();
      await gateway.close();
      await server.close();
    }
  });
});
