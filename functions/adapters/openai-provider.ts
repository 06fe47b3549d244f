import OpenAI, { APIConnectionError, APIError } from 'openai';
import { openAsBlob } from 'node:fs';
import { z } from 'zod';
import { ProviderRejectedError, ProviderUnavailableError, type TunedropError } from '../core/errors.js';
import type { CreateJobRequest, FineTuningProvider, ProviderJob } from '../core/ports.js';

/**
 * The job as tunedrop reads it from OpenAI. Tolerant on purpose: unknown statuses and extra fields
 * (the live API keeps adding some, such as `usage_metrics`) pass; only what tunedrop uses is required.
 */
const JobSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  model: z.string(),
  fine_tuned_model: z.string().nullish(),
  trained_tokens: z.number().nullish(),
  result_files: z.array(z.string()).nullish(),
  error: z
    .looseObject({ code: z.string().nullish(), message: z.string().nullish(), param: z.string().nullish() })
    .nullish(),
  created_at: z.number(),
  finished_at: z.number().nullish(),
  estimated_finish: z.number().nullish(),
  method: z
    .looseObject({
      supervised: z
        .looseObject({ hyperparameters: z.looseObject({ n_epochs: z.unknown() }).nullish() })
        .nullish(),
      dpo: z.looseObject({ hyperparameters: z.looseObject({ n_epochs: z.unknown() }).nullish() }).nullish(),
    })
    .nullish(),
  hyperparameters: z.looseObject({ n_epochs: z.unknown() }).nullish(),
});

const FileSchema = z.looseObject({ id: z.string(), bytes: z.number() });

export interface OpenAiProviderOptions {
  apiKey: string;
  /** Defaults to the SDK's: OPENAI_BASE_URL, else https://api.openai.com/v1. */
  baseURL?: string | undefined;
  /** Per request. @default 60 s (uploads: 15 min) */
  timeoutMs?: number;
}

const UPLOAD_TIMEOUT_MS = 15 * 60_000;

/** Shown while retrying and, if retries run out, in the run's recorded cause. */
const RETRY_FIX =
  'tunedrop retries this with backoff; if the run still failed, check https://status.openai.com and drop the file again.';

export function openAiProvider(options: OpenAiProviderOptions): FineTuningProvider {
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    timeout: options.timeoutMs ?? 60_000,
    maxRetries: 2,
  });

  const call = async <T>(what: string, request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      throw translateError(what, error);
    }
  };

  return {
    name: 'openai',

    async uploadFile({ fileName, path }) {
      const blob = await openAsBlob(path, { type: 'application/jsonl' });
      const file = new File([blob], fileName, { type: 'application/jsonl' });
      const created = await call(`upload ${fileName}`, () =>
        client.files.create({ file, purpose: 'fine-tune' }, { timeout: UPLOAD_TIMEOUT_MS }),
      );
      const parsed = FileSchema.parse(created);
      return { fileId: parsed.id, bytes: parsed.bytes };
    },

    async createJob(request) {
      // No SDK retry here: OpenAI takes no idempotency key, so a retried create could start a second
      // paid job. The caller looks the job up by runId before creating and retries through the workflow.
      const job = await call('create the fine-tuning job', () =>
        client.fineTuning.jobs.create(toCreateParams(request), { maxRetries: 0 }),
      );
      return toProviderJob(job);
    },

    async findJobByRunId(runId) {
      const page = await call('list fine-tuning jobs', () =>
        client.fineTuning.jobs.list({ metadata: { runId }, limit: 10 }),
      );
      const first = page.data[0];
      return first ? toProviderJob(first) : undefined;
    },

    async getJob(jobId) {
      return toProviderJob(await call(`read job ${jobId}`, () => client.fineTuning.jobs.retrieve(jobId)));
    },

    async cancelJob(jobId) {
      return toProviderJob(await call(`cancel job ${jobId}`, () => client.fineTuning.jobs.cancel(jobId)));
    },

    async resultFile(job) {
      const fileId = job.resultFileIds[0];
      if (!fileId) return undefined;
      const response = await call(`download result file ${fileId}`, () => client.files.content(fileId));
      return new Uint8Array(await response.arrayBuffer());
    },

    async deleteModel(model) {
      await call(`delete model ${model}`, () => client.models.delete(model));
    },
  };
}

function toCreateParams(request: CreateJobRequest): OpenAI.FineTuning.JobCreateParams {
  const { nEpochs, batchSize, learningRateMultiplier } = request.hyperparameters;
  const hyperparameters = {
    n_epochs: nEpochs,
    batch_size: batchSize,
    learning_rate_multiplier: learningRateMultiplier,
  };
  return {
    model: request.model,
    training_file: request.trainingFileId,
    ...(request.validationFileId ? { validation_file: request.validationFileId } : {}),
    suffix: request.suffix,
    seed: request.seed,
    metadata: { runId: request.runId },
    method:
      request.method === 'dpo'
        ? { type: 'dpo', dpo: { hyperparameters } }
        : { type: 'supervised', supervised: { hyperparameters } },
  };
}

export function toProviderJob(raw: unknown): ProviderJob {
  const job = JobSchema.parse(raw);
  const epochs =
    job.method?.supervised?.hyperparameters?.n_epochs ??
    job.method?.dpo?.hyperparameters?.n_epochs ??
    job.hyperparameters?.n_epochs;
  return {
    id: job.id,
    status: job.status,
    model: job.model,
    fineTunedModel: job.fine_tuned_model ?? null,
    trainedTokens: job.trained_tokens ?? null,
    resultFileIds: job.result_files ?? [],
    error: job.error?.message
      ? { code: job.error.code ?? null, message: job.error.message, param: job.error.param ?? null }
      : null,
    createdAt: job.created_at,
    finishedAt: job.finished_at ?? null,
    estimatedFinish: job.estimated_finish ?? null,
    epochs: typeof epochs === 'number' ? epochs : null,
  };
}

/** Sorts the SDK's errors into those a retry may fix and those it cannot. */
export function translateError(what: string, error: unknown): TunedropError {
  if (error instanceof APIError && error.status !== undefined) {
    const body = (error.error ?? {}) as { code?: string | null; message?: string };
    const reason = body.message ?? error.message;
    if (error.status === 429 || error.status >= 500) {
      return new ProviderUnavailableError(
        `OpenAI could not ${what} (HTTP ${error.status}): ${reason}`,
        RETRY_FIX,
        { cause: error },
      );
    }
    if (body.code === 'training_not_available') {
      return new ProviderRejectedError(
        `OpenAI no longer accepts fine-tuning jobs: ${reason}`,
        'Self-serve fine-tuning on OpenAI has ended. Use Azure OpenAI or Amazon Bedrock model customization.',
        'training_not_available',
      );
    }
    const fix =
      error.status === 401
        ? 'Put a valid OpenAI API key in the tunedrop secret (aws secretsmanager put-secret-value).'
        : error.status === 403
          ? "The key's project may not have fine-tuning access; check the key's permissions."
          : "Check the model, suffix and hyperparameters in the family's tunedrop.json.";
    return new ProviderRejectedError(
      `OpenAI refused to ${what} (HTTP ${error.status}${body.code ? `, ${body.code}` : ''}): ${reason}`,
      fix,
      body.code ?? `http_${error.status}`,
    );
  }
  if (error instanceof APIConnectionError) {
    return new ProviderUnavailableError(
      `OpenAI could not be reached to ${what}: ${error.message}`,
      RETRY_FIX,
      { cause: error },
    );
  }
  if (error instanceof z.ZodError) {
    return new ProviderUnavailableError(
      `OpenAI answered ${what} with an unexpected shape: ${error.message}`,
      'Report this to the tunedrop maintainers with the run id.',
    );
  }
  return new ProviderUnavailableError(`${what} failed: ${(error as Error).message}`, 'Retrying.', {
    cause: error,
  });
}
