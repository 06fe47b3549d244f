import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RunRecord } from '../../functions/core/run.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { expectRunInvariants, expectSecretsNowhere, textsWithSecrets } from './invariants.js';

/**
 * The key canary (issue #9): the pipeline runs its scenarios, provider faults included, with
 * recognizable keys (one plain, one with a newline, one in a malformed secret), and none of them may
 * show anywhere a person or a program can read: S3 objects, DynamoDB items, executions and their task
 * errors, function logs, this process's stdout and stderr, the events the functions were sent.
 */
const PLAIN = 'sk-canary-plain-Q7wX9zR2kLmN4pT6vB8';
const NEWLINE = 'sk-canary-newline-A1b2C3d4\nE5f6G7h8-canary-tail';
const MALFORMED_KEY = 'sk-canary-malformed-Z9y8X7w6V5u4';
const MALFORMED_SECRET = `{"apiKey": ${MALFORMED_KEY}}`;
const CANARIES = [PLAIN, NEWLINE, MALFORMED_KEY];

let harness: LocalHarness;
const logs: string[] = [];
const printed: string[] = [];
/** What the functions were asked and answered, their errors as Step Functions sees them included. */
const invocations: Array<[string, string]> = [];
const dropped: string[] = [];
const restore: Array<() => void> = [];
/** A run under faults, or a whole run after the secret changed (cold functions): more than the default. */
const RUN_TIMEOUT_MS = 120_000;

beforeAll(async () => {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => void (stream.write = write as typeof stream.write));
  }
  harness = await startLocalHarness({
    apiKey: PLAIN,
    cloud: { logLevel: 'DEBUG', onLog: (_, __, line) => void logs.push(line) },
  });
  const { lambda } = harness.cloud;
  const invoke = lambda.invoke.bind(lambda);
  lambda.invoke = async (arn, event) => {
    invocations.push([`event to ${arn}`, JSON.stringify(event)]);
    try {
      const result = await invoke(arn, event);
      invocations.push([`result of ${arn}`, JSON.stringify(result) ?? '']);
      return result;
    } catch (error) {
      invocations.push([`error of ${arn}`, `${(error as Error).name}: ${(error as Error).message}`]);
      throw error;
    }
  };
  const invokeAsync = lambda.invokeAsync.bind(lambda);
  lambda.invokeAsync = (arn, event) => {
    invocations.push([`async event to ${arn}`, JSON.stringify(event)]);
    invokeAsync(arn, event);
  };
}, 60_000);
afterAll(async () => {
  await harness?.close();
  restore.forEach((undo) => undo());
});

async function drop(family: string): Promise<RunRecord> {
  const key = `incoming/${family}/tickets.jsonl`;
  dropped.push(key);
  return harness.dropAndWait(SAMPLE, key, 90_000);
}

/** Upload's errors that match: a permanent error is not retried, so the step that met it ran once. */
function uploadErrors(pattern: RegExp): string[] {
  return invocations
    .filter(([label, text]) => /^error of .*:function:PipelineUpload/.test(label) && pattern.test(text))
    .map(([, text]) => text);
}

/** Puts `secret` in the API key secret, and retires the functions' environments, which cache the key. */
async function storeSecret(secret: string, phase: string): Promise<void> {
  const { cloud } = harness;
  const secrets = new SecretsManagerClient({
    ...cloud.clientConfig,
    endpoint: cloud.endpoints.SECRETS_MANAGER,
  });
  try {
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: cloud.plan.outputs.ApiKeySecretArn!.value,
        SecretString: secret,
      }),
    );
  } finally {
    secrets.destroy();
  }
  cloud.updateFunctionEnvironment({ KEY_CANARY_PHASE: phase });
}

describe('with a plain key', () => {
  afterEach(() => harness.emulator.faults.clear());

  it(
    'a run that meets throttling, 5xx answers and resets still succeeds',
    async () => {
      harness.emulator.faults
        .onRequest({ method: 'POST', path: '/files', fault: { kind: 'status', status: 429 } })
        .onRequest({ method: 'GET', path: '/fine_tuning/jobs/*', fault: { kind: 'status', status: 500 } })
        .onRequest({ method: 'GET', path: '/fine_tuning/jobs/*', fault: { kind: 'reset' } });
      expect((await drop('faults')).status).toBe('SUCCEEDED');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'a provider that quotes the key back in its 401 fails the run with the key masked in its cause',
    async () => {
      harness.emulator.faults.onRequest({
        method: 'POST',
        path: '/files',
        fault: { kind: 'status', status: 401, message: `Incorrect API key provided: ${PLAIN}.` },
        times: 5,
      });
      const run = await drop('echoed');
      expect(run).toMatchObject({
        status: 'FAILED',
        error: { message: expect.stringContaining('Incorrect API key provided: sk-…[redacted].') },
      });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'a job that fails with a message quoting the key is recorded with the key masked',
    async () => {
      harness.emulator.faults.onNextJob({
        failWith: { code: 'invalid_api_key', message: `The key ${PLAIN} cannot train this model.` },
      });
      const run = await drop('job-failed');
      expect(run).toMatchObject({
        status: 'FAILED',
        error: { message: expect.stringContaining('The key sk-…[redacted] cannot train this model.') },
      });
    },
    RUN_TIMEOUT_MS,
  );
});

describe('with a key that holds a newline', () => {
  it(
    'the run fails once, as a configuration error naming the secret and the character, not the key',
    async () => {
      await storeSecret(JSON.stringify({ apiKey: NEWLINE }), 'newline');
      const run = await drop('newline');
      expect(run).toMatchObject({
        status: 'FAILED',
        error: {
          name: 'InvalidConfigError',
          code: 'invalid_config',
          message: expect.stringMatching(/outside printable ASCII \(U\+000A at character 27\)/),
          fix: expect.stringContaining('without line breaks'),
        },
      });
      expect(uploadErrors(/U\+000A/)).toHaveLength(1);
    },
    RUN_TIMEOUT_MS,
  );
});

describe('with a malformed secret', () => {
  it(
    'the run fails once, as a configuration error that does not quote the secret',
    async () => {
      await storeSecret(MALFORMED_SECRET, 'malformed');
      const run = await drop('malformed');
      expect(run).toMatchObject({
        status: 'FAILED',
        error: {
          name: 'InvalidConfigError',
          code: 'invalid_config',
          message: expect.stringContaining('is not valid JSON'),
        },
      });
      expect(uploadErrors(/not valid JSON/)).toHaveLength(1);
    },
    RUN_TIMEOUT_MS,
  );
});

describe('after every scenario above', () => {
  it('no key shows in S3, DynamoDB, executions, task errors, logs, stdout, stderr or events', async () => {
    await harness.cloud.stepFunctions.settle();
    await expectRunInvariants(harness.cloud, harness.openai, {
      apiKey: PLAIN,
      sources: dropped.map((key) => ({ key, localPath: SAMPLE })),
    });
    await expectSecretsNowhere(harness.cloud, CANARIES);

    // Each place was written to, so that finding nothing there means something.
    expect(logs.length).toBeGreaterThan(50);
    expect(logs.some((line) => line.includes('[redacted]'))).toBe(true);
    expect(invocations.some(([label]) => label.startsWith('error of'))).toBe(true);
    const deadLetters = await harness.cloud.peekDeadLetters();
    const texts: Array<[string, string]> = [
      ...logs.map((line, i): [string, string] => [`log line ${i}`, line]),
      ...printed.map((chunk, i): [string, string] => [`stdout/stderr write ${i}`, chunk]),
      ...invocations,
      ['dead letters', JSON.stringify(deadLetters)],
      ['delivery failures', JSON.stringify(harness.cloud.deliveryFailures, errorFields)],
      ['dropped events', JSON.stringify(harness.cloud.droppedEvents)],
    ];
    expect(textsWithSecrets(CANARIES, texts)).toEqual([]);
  });
});

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}
