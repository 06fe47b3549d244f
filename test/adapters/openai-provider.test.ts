import { APIConnectionError, APIError } from 'openai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openAiProvider, toProviderJob, translateError } from '../../functions/adapters/openai-provider.js';
import { PERMANENT_ERROR_NAMES } from '../../functions/core/errors.js';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainingUpload } from '../support/fakes.js';

const apiError = (status: number, code: string | null, message = 'nope') =>
  APIError.generate(
    status,
    { error: { message, type: 'invalid_request_error', param: null, code } },
    message,
    new Headers(),
  );

describe('translateError', () => {
  it('treats throttling and server errors as worth retrying', () => {
    expect(translateError('create the job', apiError(429, 'rate_limit_exceeded'))).toMatchObject({
      name: 'ProviderUnavailableError',
    });
    expect(translateError('create the job', apiError(503, null))).toMatchObject({
      name: 'ProviderUnavailableError',
    });
    expect(translateError('x', new APIConnectionError({ message: 'reset' }))).toMatchObject({
      name: 'ProviderUnavailableError',
    });
  });

  it("treats a refused request as permanent, keeping the provider's code", () => {
    expect(translateError('create the job', apiError(400, 'invalid_model'))).toMatchObject({
      name: 'ProviderRejectedError',
      code: 'invalid_model',
    });
    expect(translateError('x', apiError(401, 'invalid_api_key'))).toMatchObject({
      fix: expect.stringContaining('put-secret-value'),
    });
  });

  it('says where to go when OpenAI no longer takes fine-tuning jobs', () => {
    expect(translateError('create the job', apiError(403, 'training_not_available'))).toMatchObject({
      name: 'ProviderRejectedError',
      code: 'training_not_available',
      fix: expect.stringContaining('put "provider": "azure-openai" (or "bedrock")'),
    });
  });
});

describe('a key that cannot be sent', () => {
  it('makes a permanent configuration error that does not repeat the header Node refused', () => {
    const refused = new TypeError('Headers.append: "Bearer sk-x\ny" is an invalid header value.');
    const error = translateError('read job ftjob-1', refused);
    expect(error).toMatchObject({
      name: 'InvalidConfigError',
      message: expect.stringContaining('HTTP header'),
    });
    expect(PERMANENT_ERROR_NAMES).toContain(error.name);
    expect(JSON.stringify({ ...error.toJSON(), stack: error.stack, cause: error.cause })).not.toContain(
      'sk-x',
    );
  });

  it('fails a call with no trace of the key in the error, its stack or its causes', async () => {
    const key = 'sk-provider-canary-1111\nprovider-canary-2222';
    const provider = openAiProvider({ apiKey: key, baseURL: 'http://127.0.0.1:9/v1' });
    const error = (await provider.getJob('ftjob-1').catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ name: 'InvalidConfigError' });
    expect(everything(error)).not.toMatch(/provider-canary-1111|provider-canary-2222/);
  });
});

describe('a provider that quotes the key back', () => {
  const key = 'sk-echoed-canary-abcdefghijklmnop';
  let server: Server;
  let baseURL: string;
  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: {
            message: `Incorrect API key provided: ${key}.`,
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('has it masked in the error it raises, and says so', async () => {
    const provider = openAiProvider({ apiKey: key, baseURL });
    const error = (await provider.getJob('ftjob-1').catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({
      name: 'ProviderRejectedError',
      message: expect.stringContaining('Incorrect API key provided: sk-…[redacted].'),
    });
    expect(everything(error)).not.toContain(key);
  });
});

/** An error's message, stack and fields, and its causes', as text. */
function everything(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 5) return String(error);
  return [JSON.stringify({ ...error }), error.message, error.stack, everything(error.cause, depth + 1)].join(
    '\n',
  );
}

describe('toProviderJob', () => {
  const job = {
    object: 'fine_tuning.job',
    id: 'ftjob-1',
    status: 'paused_for_review', // a status tunedrop does not know yet
    model: 'gpt-4o-mini-2024-07-18',
    created_at: 1,
    fine_tuned_model: null,
    trained_tokens: null,
    result_files: [],
    error: null,
    finished_at: null,
    usage_metrics: { whatever: 1 },
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 4 } } },
  };

  it('tolerates unknown statuses and extra fields', () => {
    expect(toProviderJob(job)).toMatchObject({
      id: 'ftjob-1',
      status: 'paused_for_review',
      epochs: 4,
      error: null,
    });
  });

  it("keeps the provider's failure reason", () => {
    const failed = {
      ...job,
      status: 'failed',
      error: { code: 'invalid_training_file', message: 'bad', param: 'training_file' },
    };
    expect(toProviderJob(failed).error).toEqual({
      code: 'invalid_training_file',
      message: 'bad',
      param: 'training_file',
    });
  });

  it('masks a key quoted in the failure reason, since it goes on to the state and the run', () => {
    const failed = {
      ...job,
      status: 'failed',
      error: { code: 'invalid_api_key', message: 'key sk-job-error-abcdefghijk is revoked', param: null },
    };
    expect(toProviderJob(failed).error?.message).toBe('key sk-…[redacted] is revoked');
  });
});

describe('an organization out of credit (429 insufficient_quota)', () => {
  const BILLING = 'https://platform.openai.com/settings/organization/billing';

  it('is a permanent billing problem whose fix points at the plan and credit, whether code or type says so', () => {
    const quota = (code: string | null) =>
      APIError.generate(
        429,
        {
          error: {
            message: 'You exceeded your current quota, please check your plan and billing details.',
            type: 'insufficient_quota',
            param: null,
            code,
          },
        },
        undefined,
        new Headers(),
      );
    for (const error of [quota('insufficient_quota'), quota(null)]) {
      const translated = translateError('create the fine-tuning job', error);
      expect(translated).toMatchObject({
        name: 'ProviderRejectedError',
        code: 'insufficient_quota',
        fix: expect.stringContaining(BILLING),
      });
      expect(PERMANENT_ERROR_NAMES).toContain(translated.name);
    }
  });

  it('leaves a rate limit 429 retryable', () => {
    expect(translateError('x', apiError(429, 'rate_limit_exceeded'))).toMatchObject({
      name: 'ProviderUnavailableError',
    });
  });

  describe('against the emulator', () => {
    const key = 'sk-quota-test';
    let emulator: RunningEmulator;
    let path: string;
    beforeAll(async () => {
      emulator = await startOpenAiEmulator({ apiKey: key });
      path = join(mkdtempSync(join(tmpdir(), 'quota-')), 'train.jsonl');
      writeFileSync(
        path,
        '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n',
      );
    });
    afterEach(() => emulator.faults.clear());
    afterAll(() => emulator.close());

    it('is not retried by the SDK: one upload attempt reaches the provider', async () => {
      emulator.faults.onRequest({
        method: 'POST',
        path: '/files',
        fault: { kind: 'insufficientQuota' },
        times: 5,
      });
      const provider = openAiProvider({ apiKey: key, baseURL: emulator.baseUrl });
      const error = await provider.uploadFile({ ...trainingUpload, path }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ProviderRejectedError', code: 'insufficient_quota' });
      expect(emulator.faults.applied).toHaveLength(1);
    });

    it('while a rate limit 429 is retried by the SDK and the upload goes through', async () => {
      emulator.faults.onRequest({
        method: 'POST',
        path: '/files',
        fault: { kind: 'status', status: 429, code: 'rate_limit_exceeded', retryAfterSeconds: 0 },
      });
      const provider = openAiProvider({ apiKey: key, baseURL: emulator.baseUrl });
      await expect(provider.uploadFile({ ...trainingUpload, path })).resolves.toMatchObject({
        fileId: expect.stringMatching(/^file-/),
      });
      expect(emulator.faults.applied).toHaveLength(1);
    });
  });
});
