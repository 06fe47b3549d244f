import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  functionResolver,
  LambdaServiceError,
  startLocalLambdaApi,
  type InvocationType,
  type LocalLambdaApi,
} from '../../local/cloud/lambda-api.js';

/** The local Lambda Invoke API, as the real SDK client sees it: payloads, function errors, error names, limits. */
const ECHO = 'arn:aws:lambda:us-east-1:000000000000:function:Echo';
const FAILS = 'arn:aws:lambda:us-east-1:000000000000:function:Fails';
const BIG = 'arn:aws:lambda:us-east-1:000000000000:function:Big';
const THROTTLED = 'arn:aws:lambda:us-east-1:000000000000:function:Throttled';
const SLOW = 'arn:aws:lambda:us-east-1:000000000000:function:Slow';

const calls: Array<{ arn: string; payload: unknown; type: InvocationType }> = [];
let releaseSlow: () => void = () => undefined;
let api: LocalLambdaApi;
let client: LambdaClient;

beforeAll(async () => {
  api = await startLocalLambdaApi({
    resolve: functionResolver(() => [ECHO, FAILS, BIG, THROTTLED, SLOW]),
    async invoke(arn, payload, type) {
      calls.push({ arn, payload, type });
      if (arn === FAILS) {
        const error = new Error('the runs table is gone');
        error.name = 'ResourceNotFoundException';
        throw error;
      }
      if (arn === BIG) return 'x'.repeat(6 * 1024 * 1024 + 100);
      if (arn === THROTTLED) throw new LambdaServiceError('TooManyRequestsException', 'Rate Exceeded.', 429);
      if (arn === SLOW) await new Promise<void>((resolve) => (releaseSlow = resolve));
      return { echoed: payload };
    },
  });
  client = new LambdaClient({
    region: 'us-east-1',
    endpoint: api.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await api.close();
});
beforeEach(() => (calls.length = 0));

const text = (payload?: Uint8Array) => Buffer.from(payload ?? new Uint8Array()).toString('utf8');
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

it('a RequestResponse invoke returns the function result with status 200 and $LATEST', async () => {
  const result = await client.send(
    new InvokeCommand({ FunctionName: 'Echo', Payload: JSON.stringify({ a: 1 }) }),
  );
  expect(result).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
  expect(result.FunctionError).toBeUndefined();
  expect(JSON.parse(text(result.Payload))).toEqual({ echoed: { a: 1 } });
  expect(calls).toEqual([{ arn: ECHO, payload: { a: 1 }, type: 'RequestResponse' }]);
});

it.each([
  ['a name', 'Echo'],
  ['an ARN', ECHO],
  ['a partial ARN', '000000000000:function:Echo'],
  ['a name with :$LATEST', 'Echo:$LATEST'],
  ['an ARN with :$LATEST', `${ECHO}:$LATEST`],
])('the function is found by %s', async (_, FunctionName) => {
  await client.send(new InvokeCommand({ FunctionName, Payload: '{}' }));
  expect(calls.map((c) => c.arn)).toEqual([ECHO]);
});

it('the Qualifier parameter $LATEST is accepted; one that contradicts the name is InvalidParameterValueException', async () => {
  await client.send(new InvokeCommand({ FunctionName: 'Echo', Qualifier: '$LATEST', Payload: '{}' }));
  expect(calls).toHaveLength(1);
  expect(
    await errorOf(
      client.send(new InvokeCommand({ FunctionName: 'Echo:$LATEST', Qualifier: 'live', Payload: '{}' })),
    ),
  ).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
});

it('an empty payload reaches the function as {}', async () => {
  await client.send(new InvokeCommand({ FunctionName: 'Echo' }));
  expect(calls[0]?.payload).toEqual({});
});

it("a function that throws answers 200 with X-Amz-Function-Error: Unhandled and Lambda's error payload", async () => {
  const result = await client.send(new InvokeCommand({ FunctionName: 'Fails', Payload: '{}' }));
  expect(result).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
  const payload = JSON.parse(text(result.Payload)) as {
    errorType: string;
    errorMessage: string;
    trace: string[];
  };
  expect(payload).toMatchObject({
    errorType: 'ResourceNotFoundException',
    errorMessage: 'the runs table is gone',
  });
  expect(payload.trace[0]).toBe('ResourceNotFoundException: the runs table is gone');
});

it("an error payload carried as JSON (the local Lambda runner's LambdaError) is passed through as it is", async () => {
  const carried = await startLocalLambdaApi({
    resolve: functionResolver(() => [ECHO]),
    invoke: async () => {
      const error = new Error(
        JSON.stringify({
          errorType: 'Sandbox.Timedout',
          errorMessage: 'Task timed out after 3.00 seconds',
          trace: [],
        }),
      );
      error.name = 'Sandbox.Timedout';
      throw error;
    },
  });
  const other = new LambdaClient({
    region: 'us-east-1',
    endpoint: carried.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const result = await other.send(new InvokeCommand({ FunctionName: 'Echo' }));
  expect(JSON.parse(text(result.Payload))).toEqual({
    errorType: 'Sandbox.Timedout',
    errorMessage: 'Task timed out after 3.00 seconds',
    trace: [],
  });
  other.destroy();
  await carried.close();
});

it('an Event invoke answers 202 at once, before the function has finished', async () => {
  const result = await client.send(
    new InvokeCommand({ FunctionName: 'Slow', InvocationType: 'Event', Payload: '{"e":1}' }),
  );
  expect(result.StatusCode).toBe(202);
  expect(calls).toEqual([{ arn: SLOW, payload: { e: 1 }, type: 'Event' }]);
  releaseSlow();
});

it('a DryRun answers 204 and runs nothing', async () => {
  expect(
    (await client.send(new InvokeCommand({ FunctionName: 'Echo', InvocationType: 'DryRun' }))).StatusCode,
  ).toBe(204);
  expect(calls).toEqual([]);
});

it('an unknown function, or a version local mode never published, is ResourceNotFoundException (404)', async () => {
  expect(await errorOf(client.send(new InvokeCommand({ FunctionName: 'Nope', Payload: '{}' })))).toEqual({
    name: 'ResourceNotFoundException',
    message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:Nope',
    status: 404,
  });
  expect(
    await errorOf(client.send(new InvokeCommand({ FunctionName: 'Echo:1', Payload: '{}' }))),
  ).toMatchObject({
    name: 'ResourceNotFoundException',
    message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:Echo:1',
  });
  expect(
    await errorOf(
      client.send(new InvokeCommand({ FunctionName: 'Echo', InvocationType: 'DryRun', Qualifier: 'live' })),
    ),
  ).toMatchObject({ name: 'ResourceNotFoundException' });
  expect(calls).toEqual([]);
});

it('a synchronous payload over 6 MB (6291456 bytes) is RequestEntityTooLargeException (413); 6 MB exactly is accepted', async () => {
  const sized = (bytes: number) => `"${'a'.repeat(bytes - 2)}"`;
  await client.send(
    new InvokeCommand({ FunctionName: 'Echo', InvocationType: 'DryRun', Payload: sized(6_291_456) }),
  );
  expect(
    await errorOf(client.send(new InvokeCommand({ FunctionName: 'Echo', Payload: sized(6_291_457) }))),
  ).toEqual({
    name: 'RequestEntityTooLargeException',
    message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation',
    status: 413,
  });
  expect(calls).toEqual([]);
});

it('an asynchronous payload over 1 MB (1048576 bytes) is RequestEntityTooLargeException; 1 MB exactly is accepted', async () => {
  const sized = (bytes: number) => `"${'a'.repeat(bytes - 2)}"`;
  await client.send(
    new InvokeCommand({ FunctionName: 'Echo', InvocationType: 'Event', Payload: sized(1_048_576) }),
  );
  expect(
    await errorOf(
      client.send(
        new InvokeCommand({ FunctionName: 'Echo', InvocationType: 'Event', Payload: sized(1_048_577) }),
      ),
    ),
  ).toEqual({
    name: 'RequestEntityTooLargeException',
    message: '1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)',
    status: 413,
  });
  expect(calls).toHaveLength(1);
});

it('a payload that is not JSON is InvalidRequestContentException', async () => {
  expect(
    await errorOf(client.send(new InvokeCommand({ FunctionName: 'Echo', Payload: '{not json' }))),
  ).toMatchObject({
    name: 'InvalidRequestContentException',
    status: 400,
  });
});

it('a response over the 6 MB response limit is a function error, Function.ResponseSizeTooLarge', async () => {
  const result = await client.send(new InvokeCommand({ FunctionName: 'Big', Payload: '{}' }));
  expect(result.FunctionError).toBe('Unhandled');
  expect(JSON.parse(text(result.Payload))).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
});

it('a service error from the callback reaches the SDK under its own name and status', async () => {
  expect(await errorOf(client.send(new InvokeCommand({ FunctionName: 'Throttled', Payload: '{}' })))).toEqual(
    {
      name: 'TooManyRequestsException',
      message: 'Rate Exceeded.',
      status: 429,
    },
  );
});
