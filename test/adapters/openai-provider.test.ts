import { APIConnectionError, APIError } from 'openai';
import { toProviderJob, translateError } from '../../functions/adapters/openai-provider.js';

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
      fix: expect.stringMatching(/Azure OpenAI.*Bedrock/),
    });
  });
});

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
});
