import { LambdaError, LocalLambda, type AsyncInvocationOutcome } from '../../local/cloud/lambda.js';
import { PROJECT_ROOT } from '../../local/cloud/index.js';
import { LocalStepFunctions, type Definition } from '../../local/cloud/step-functions.js';
import type { LocalFunction } from '../../local/template.js';

/** The local Lambda runtime keeps Lambda's rules: separate environments, timeouts, async retries. */
const fn = (name: string, overrides: Partial<LocalFunction> = {}): LocalFunction => ({
  logicalId: name,
  arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
  entry: 'test/support/fixtures/counting-handler.ts',
  environment: { MARKER: name },
  timeoutSeconds: 10,
  memorySize: 256,
  roleArn: `arn:aws:iam::000000000000:role/${name}Role`,
  invokeConfig: { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21_600 },
  ...overrides,
});

const outcomes: AsyncInvocationOutcome[] = [];
const runtime = (functions: LocalFunction[]) =>
  new LocalLambda(functions, {
    projectRoot: PROJECT_ROOT,
    sharedEnvironment: { AWS_REGION: 'us-east-1' },
    credentials: (f) => ({
      AWS_ACCESS_KEY_ID: `KEY-${f.logicalId}`,
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_SESSION_TOKEN: 't',
    }),
    timeScale: 1 / 1000,
    onAsyncOutcome: async (outcome) => void outcomes.push(outcome),
    onLog: () => undefined,
  });

it('gives each function its own module state, environment and credentials', async () => {
  const lambda = runtime([fn('One'), fn('Two')]);
  try {
    expect(await lambda.invoke(fn('One').arn, {})).toEqual({
      invocations: 1,
      marker: 'One',
      accessKeyId: 'KEY-One',
    });
    expect(await lambda.invoke(fn('One').arn, {})).toMatchObject({ invocations: 2 });
    expect(await lambda.invoke(fn('Two').arn, {})).toEqual({
      invocations: 1,
      marker: 'Two',
      accessKeyId: 'KEY-Two',
    });
    // This process's environment is not the functions'.
    expect(process.env.MARKER).toBeUndefined();
  } finally {
    await lambda.close();
  }
});

it('stops a handler that runs past its timeout with Sandbox.Timedout, and the next invocation starts cold', async () => {
  const slow = fn('Slow', { timeoutSeconds: 1 });
  const lambda = runtime([slow]);
  try {
    const error = await lambda.invoke(slow.arn, { sleepMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaError);
    expect((error as LambdaError).name).toBe('Sandbox.Timedout');
    expect((error as LambdaError).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    // The timed-out environment was discarded: module state starts again.
    expect(await lambda.invoke(slow.arn, {})).toMatchObject({ invocations: 1 });
  } finally {
    await lambda.close();
  }
});

it('kills an environment that outgrows its memory size as Lambda does (Runtime.ExitError, signal: killed), and starts the next one cold', async () => {
  const small = fn('Small', { memorySize: 128 });
  const lambda = runtime([small]);
  try {
    const error = await lambda.invoke(small.arn, { allocateMb: 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaError);
    expect((error as LambdaError).name).toBe('Runtime.ExitError');
    expect((error as LambdaError).errorMessage).toBe('Runtime exited with error: signal: killed');
    expect(await lambda.invoke(small.arn, {})).toMatchObject({ invocations: 1 });
  } finally {
    await lambda.close();
  }
});

it('close ends the invocations still running or starting, and refuses later ones: nothing outlives it', async () => {
  // Local mode closes while the Task of an execution stopped meanwhile may still be running its
  // function; left pending, that invocation's timeout timer kept the process alive for 15 minutes.
  const busy = fn('Busy', { timeoutSeconds: 900 });
  const lambda = runtime([busy]);
  await lambda.invoke(busy.arn, {});
  // One invocation in the warm environment, one in a second environment still starting.
  const running = lambda.invoke(busy.arn, { sleepMs: 60_000 }).catch((e: unknown) => e);
  const starting = lambda.invoke(busy.arn, { sleepMs: 60_000 }).catch((e: unknown) => e);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await lambda.close();
  for (const error of [await running, await starting]) {
    expect(error).toBeInstanceOf(LambdaError);
    expect((error as LambdaError).name).toBe('Runtime.ExitError');
  }
  const refused = await lambda.invoke(busy.arn, {}).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(LambdaError);
  expect((refused as LambdaError).name).toBe('ServiceException');
});

it("retries a failing asynchronous invocation twice, then reports RetriesExhausted with Lambda's error", async () => {
  const failing = fn('Failing');
  const lambda = runtime([failing]);
  try {
    outcomes.length = 0;
    lambda.invokeAsync(failing.arn, { fail: 'boom' });
    await lambda.settle();
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ condition: 'RetriesExhausted', attempts: 3 });
    expect(outcomes[0]!.error).toMatchObject({ errorType: 'DeliberateFailure', errorMessage: 'boom' });
  } finally {
    await lambda.close();
  }
});

it("lets the workflow's Retry and Catch see a timeout by the same error name as on AWS", async () => {
  const slow = fn('SlowStep', { timeoutSeconds: 1 });
  const lambda = runtime([slow]);
  const definition: Definition = {
    StartAt: 'Step',
    States: {
      Step: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: slow.arn, Payload: { sleepMs: 5_000 } },
        Catch: [{ ErrorEquals: ['Sandbox.Timedout'], ResultPath: '$.failure', Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Succeed' },
    },
  } as unknown as Definition;
  const stepFunctions = new LocalStepFunctions({
    invokers: new Map([[slow.arn, (event: unknown) => lambda.invoke(slow.arn, event)]]),
    timeScale: 1 / 1000,
  });
  try {
    stepFunctions.register('arn:aws:states:us-east-1:000000000000:stateMachine:T', 'T', definition);
    const execution = await stepFunctions.start(
      'arn:aws:states:us-east-1:000000000000:stateMachine:T',
      'run',
      '{}',
    ).done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toMatchObject({ failure: { Error: 'Sandbox.Timedout' } });
  } finally {
    await lambda.close();
  }
});
