import type { Invoke } from '../../local/cloud/lambda.js';
import {
  HISTORY_EVENT_LIMIT,
  LocalStepFunctions,
  PAYLOAD_LIMIT_BYTES,
  SimulatedClock,
  type Definition,
  type Execution,
} from '../../local/cloud/step-functions.js';

const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Limits';
const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:f';

async function run(
  definition: unknown,
  invokers: Record<string, Invoke> = {},
  input = '{}',
): Promise<Execution> {
  const sfn = new LocalStepFunctions({
    invokers: new Map(Object.entries(invokers)),
    clock: new SimulatedClock(),
  });
  sfn.register(MACHINE, 'Limits', definition as Definition);
  return sfn.start(MACHINE, undefined, input).done;
}

const types = (execution: Execution) => execution.history.map((e) => e.type);

/** A JSON string value whose document (`"…"`, quotes included) is exactly `bytes` UTF-8 bytes. */
const stringOfBytes = (bytes: number) => 'x'.repeat(bytes - 2);

const DATA_LIMIT_CAUSE = (subject: string) =>
  `The state/task '${subject}' returned a result with a size exceeding the maximum number of bytes service limit.`;

describe('the local Step Functions history', () => {
  it('lists the events AWS lists for a task retried once, a wait, a choice and a success', async () => {
    let calls = 0;
    const execution = await run(
      {
        StartAt: 'Invoke',
        States: {
          Invoke: {
            Type: 'Task',
            Resource: FUNCTION,
            Retry: [{ ErrorEquals: ['Flaky'], IntervalSeconds: 1, MaxAttempts: 2 }],
            Next: 'Pause',
          },
          Pause: { Type: 'Wait', Seconds: 5, Next: 'Decide' },
          Decide: {
            Type: 'Choice',
            Choices: [{ Variable: '$.ok', BooleanEquals: true, Next: 'Done' }],
            Default: 'Stop',
          },
          Done: { Type: 'Succeed' },
          Stop: { Type: 'Fail', Error: 'NotOk' },
        },
      },
      {
        [FUNCTION]: async () => {
          if (++calls === 1) throw Object.assign(new Error('try again'), { name: 'Flaky' });
          return { ok: true };
        },
      },
    );
    expect(execution.status).toBe('SUCCEEDED');
    expect(types(execution)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(execution.historyEventCount).toBe(16);
    expect(execution.history.map((e) => e.id)).toEqual([...Array(16).keys()].map((i) => i + 1));
  });

  it('ends a failing run with FailStateEntered and ExecutionFailed, and no exit from the Fail state', async () => {
    const execution = await run(
      {
        StartAt: 'Invoke',
        States: {
          Invoke: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Next: 'Decide' },
          Decide: {
            Type: 'Choice',
            Choices: [{ Variable: '$.Payload.ok', BooleanEquals: true, Next: 'Done' }],
            Default: 'Stop',
          },
          Done: { Type: 'Succeed' },
          Stop: { Type: 'Fail', Error: 'NotOk', Cause: 'it was not ok' },
        },
      },
      { [FUNCTION]: async () => ({ ok: false }) },
      JSON.stringify({ FunctionName: FUNCTION, Payload: {} }),
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: 'NotOk', cause: 'it was not ok' });
    expect(types(execution)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'FailStateEntered',
      'ExecutionFailed',
    ]);
  });
  it('times out on the simulated clock when a Wait would outlast TimeoutSeconds', async () => {
    const clock = new SimulatedClock(new Date('2026-11-29T00:00:00Z'));
    const sfn = new LocalStepFunctions({ invokers: new Map(), clock });
    sfn.register(MACHINE, 'Limits', {
      StartAt: 'Long',
      TimeoutSeconds: 60,
      States: { Long: { Type: 'Wait', Seconds: 100, End: true } },
    } as unknown as Definition);
    const execution = await sfn.start(MACHINE, undefined, '{}').done;
    expect(execution).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(types(execution)).toEqual(['ExecutionStarted', 'WaitStateEntered', 'ExecutionTimedOut']);
    expect(clock.now().toISOString()).toBe('2026-11-29T00:01:00.000Z');
  });
});

describe('the history quota (25,000 events)', () => {
  // A loop of Pass and Choice, 4 events a turn, that stops after `turns` turns: 1 + 4 x turns + 3 events.
  const counter = (turns: number) => ({
    StartAt: 'Count',
    States: {
      Count: { Type: 'Pass', Parameters: { 'n.$': 'States.MathAdd($.n, 1)' }, Next: 'Again?' },
      'Again?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.n', NumericEquals: turns, Next: 'Done' }],
        Default: 'Count',
      },
      Done: { Type: 'Succeed' },
    },
  });

  it('lets an execution whose 25,000th event is ExecutionSucceeded succeed', async () => {
    const execution = await run(counter(6249), {}, '{"n":0}');
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.historyEventCount).toBe(HISTORY_EVENT_LIMIT);
    expect(execution.history.at(-1)?.type).toBe('ExecutionSucceeded');
  });

  it('fails an execution whose 25,000th event would be anything else, with the error and cause AWS reports', async () => {
    const execution = await run(counter(6250), {}, '{"n":0}');
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: 'The execution reached the maximum number of history events (25000).',
    });
    expect(execution.historyEventCount).toBe(HISTORY_EVENT_LIMIT);
    expect(execution.history.at(-1)).toMatchObject({ id: 25_000, type: 'ExecutionFailed' });
    // 6,249 turns make 24,997 events; the next turn's Pass makes 24,998 and 24,999, and its Choice
    // would have been the 25,000th.
    expect(execution.history.at(-2)?.type).toBe('PassStateExited');
  });

  it('invokes no function once the history is full, and no Catch sees the failure', async () => {
    let calls = 0;
    const execution = await run(
      {
        StartAt: 'Invoke',
        States: {
          Invoke: {
            Type: 'Task',
            Resource: FUNCTION,
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            Next: 'Invoke',
          },
          Caught: { Type: 'Succeed' },
        },
      },
      { [FUNCTION]: async () => ({ call: ++calls }) },
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect(execution.historyEventCount).toBe(HISTORY_EVENT_LIMIT);
    // 1 + 5 events a call: the 5,000th call enters as event 24,997, is scheduled and started as 24,998
    // and 24,999, and its success would have been the 25,000th; nothing is called after it.
    expect(calls).toBe(5_000);
  });
});

describe('the payload quota (256 KiB)', () => {
  const catching = (resource: string) => ({
    StartAt: 'InvokeLambda',
    States: {
      InvokeLambda: {
        Type: 'Task',
        Resource: resource,
        Catch: [
          { ErrorEquals: ['States.DataLimitExceeded'], Next: 'HandleDataLimitExceeded' },
          { ErrorEquals: ['States.ALL'], Next: 'HandleGeneralError' },
        ],
        Next: 'ProcessResult',
      },
      ProcessResult: { Type: 'Pass', End: true },
      HandleDataLimitExceeded: { Type: 'Pass', End: true },
      HandleGeneralError: { Type: 'Pass', End: true },
    },
  });
  const large = async () => stringOfBytes(257 * 1024);

  it('fails a lambda:invoke task returning 257 KiB as AWS does: a task failure its Catch sees', async () => {
    const execution = await run(
      catching('arn:aws:states:::lambda:invoke'),
      { [FUNCTION]: large },
      JSON.stringify({ FunctionName: FUNCTION, Payload: null }),
    );
    // As the history AWS recorded for the same definition (see step-functions-history.ts).
    expect(types(execution)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    expect(execution.history[6]?.stateName).toBe('HandleDataLimitExceeded');
    expect(JSON.parse(execution.output!)).toEqual({
      Error: 'States.DataLimitExceeded',
      Cause: DATA_LIMIT_CAUSE('lambda'),
    });
  });

  it('names the function ARN when a Task invoking it directly returns 257 KiB, and States.ALL catches it', async () => {
    const { HandleDataLimitExceeded: _unused, ...states } = catching(FUNCTION).States;
    const definition = {
      StartAt: 'InvokeLambda',
      States: {
        ...states,
        InvokeLambda: {
          ...states.InvokeLambda,
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'HandleGeneralError' }],
        },
      },
    };
    const execution = await run(definition, { [FUNCTION]: large });
    expect(types(execution).slice(2, 6)).toEqual([
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'TaskStateExited',
    ]);
    expect(execution.history[6]?.stateName).toBe('HandleGeneralError');
    expect(JSON.parse(execution.output!)).toEqual({
      Error: 'States.DataLimitExceeded',
      Cause: DATA_LIMIT_CAUSE(FUNCTION),
    });
  });

  it('fails the execution when an uncaught task returns 257 KiB', async () => {
    const execution = await run(
      { StartAt: 'Big', States: { Big: { Type: 'Task', Resource: FUNCTION, End: true } } },
      {
        [FUNCTION]: large,
      },
    );
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
      cause: DATA_LIMIT_CAUSE(FUNCTION),
    });
    expect(types(execution).slice(-2)).toEqual(['LambdaFunctionFailed', 'ExecutionFailed']);
  });

  it('accepts a result of exactly 262,144 bytes and refuses one more', async () => {
    const definition = { StartAt: 'Echo', States: { Echo: { Type: 'Task', Resource: FUNCTION, End: true } } };
    const exact = await run(definition, { [FUNCTION]: async () => stringOfBytes(PAYLOAD_LIMIT_BYTES) });
    expect(exact.status).toBe('SUCCEEDED');
    expect(exact.largestPayloadBytes).toBe(262_144);
    const over = await run(definition, { [FUNCTION]: async () => stringOfBytes(PAYLOAD_LIMIT_BYTES + 1) });
    expect(over).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
  });

  it('measures UTF-8 bytes, not characters', async () => {
    const definition = { StartAt: 'Echo', States: { Echo: { Type: 'Task', Resource: FUNCTION, End: true } } };
    // 100,000 three-byte characters: 300,002 bytes, though only 100,002 characters.
    const execution = await run(definition, { [FUNCTION]: async () => '€'.repeat(100_000) });
    expect(execution).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
  });

  it('fails a state whose output is too large, with no exit and no Catch, as AWS does', async () => {
    // The definition and history AWS recorded for a Pass state's output over the quota.
    const execution = await run({
      StartAt: 'State_1',
      States: { State_1: { Type: 'Pass', Result: { Arg1: stringOfBytes(257 * 1024) }, End: true } },
    });
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
      cause: DATA_LIMIT_CAUSE('State_1'),
    });
    expect(types(execution)).toEqual(['ExecutionStarted', 'PassStateEntered', 'ExecutionFailed']);
  });

  it('fails a Task whose result fits but whose output, its input plus the result, does not', async () => {
    let calls = 0;
    const execution = await run(
      {
        StartAt: 'Add',
        States: {
          Add: {
            Type: 'Task',
            Resource: FUNCTION,
            ResultPath: '$.more',
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            Next: 'Again',
          },
          Again: { Type: 'Task', Resource: FUNCTION, End: true },
          Caught: { Type: 'Succeed' },
        },
      },
      {
        [FUNCTION]: async () => {
          calls++;
          return stringOfBytes(200 * 1024);
        },
      },
      JSON.stringify({ some: stringOfBytes(100 * 1024) }),
    );
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
      cause: DATA_LIMIT_CAUSE('Add'),
    });
    expect(types(execution).slice(-2)).toEqual(['LambdaFunctionSucceeded', 'ExecutionFailed']);
    expect(calls).toBe(1);
  });
});

// The longest run the stack allows, on the synthesized state machine: test/local/waiting-history.test.ts.
