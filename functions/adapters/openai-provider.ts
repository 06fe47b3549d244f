import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { openAsBlob } from 'node:fs';
import { z } from 'zod';
import {
  InvalidConfigError,
  ProviderRejectedError,
  ProviderUnavailableError,
  type TunedropError,
} from '../core/errors.js';
import { redactError, redactSecrets, registerSecret } from '../core/redact.js';
import type { CreateJobRequest, FineTuningProvider, ProviderJob } from '../core/ports.js';
import {
  API_ATTEMPT_TIMEOUT_MS,
  attemptTimeoutWithin,
  HANDLER_RESERVE_MS,
  MIN_ATTEMPT_TIMEOUT_MS,
  SDK_ATTEMPTS,
  UPLOAD_ATTEMPT_TIMEOUT_MS,
  worstCaseCallMs,
} from './provider-timeouts.js';

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
  /** Per attempt of an API call (not an upload). @default API_ATTEMPT_TIMEOUT_MS */
  timeoutMs?: number;
  /** Per attempt of an upload when `remainingTimeMs` is not given. @default UPLOAD_ATTEMPT_TIMEOUT_MS */
  uploadTimeoutMs?: number;
  /**
   * The invocation's remaining time (Lambda's `context.getRemainingTimeInMillis`). When given, every call,
   * with all its attempts, ends `reserveMs` before the invocation does, and an upload may use all of that.
   */
  remainingTimeMs?: (() => number) | undefined;
  /** @default HANDLER_RESERVE_MS */
  reserveMs?: number;
}

/** Shown while retrying and, if retries run out, in the run's recorded cause. */
const RETRY_FIX =
  'tunedrop retries this with backoff; if the run still failed, check https://status.openai.com and drop the file again.';

export function openAiProvider(options: OpenAiProviderOptions): FineTuningProvider {
  const apiTimeoutMs = options.timeoutMs ?? API_ATTEMPT_TIMEOUT_MS;
  // Whoever made this provider, its key is masked in every error that leaves it (and in the logs).
  registerSecret(options.apiKey);
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    timeout: apiTimeoutMs,
    maxRetries: SDK_ATTEMPTS - 1,
    // Node's fetch (undici) keeps a request's whole body in memory in case a redirect needs it again,
    // even when the body streams from a file: a 511 MB upload cost 511 MB of RSS. OpenAI's API does not
    // redirect, and with redirects refused the body streams with flat memory (measured: `npm run bench
    // -- upload`). https://github.com/nodejs/undici/issues/4058 (open; read 2026-11-29).
    fetchOptions: { redirect: 'error' },
    fetch: withoutQuotaRetries,
  });

  /**
   * Runs one SDK call within its time budget (see provider-timeouts.ts): `attempts` attempts of at most
   * `capMs` each, all ending before the invocation does when its remaining time is known, and aborted at
   * their worst case so that a long Retry-After cannot outlast the function.
   */
  const call = async <T>(
    what: string,
    { attempts, capMs }: { attempts: number; capMs: number },
    request: (budget: { timeout: number; maxRetries: number; signal: AbortSignal }) => Promise<T>,
  ): Promise<T> => {
    const remaining = options.remainingTimeMs?.();
    const fitting =
      remaining === undefined
        ? Infinity
        : attemptTimeoutWithin(remaining, attempts, { reserveMs: options.reserveMs ?? HANDLER_RESERVE_MS });
    if (fitting < MIN_ATTEMPT_TIMEOUT_MS)
      throw new ProviderUnavailableError(
        `Too little time was left in this invocation to ${what} (${remaining} ms).`,
        'The workflow retries the step in a new invocation; if this repeats, raise the function timeout.',
      );
    const timeout = Math.min(capMs, fitting);
    try {
      return await request({
        timeout,
        maxRetries: attempts - 1,
        signal: AbortSignal.timeout(worstCaseCallMs(timeout, attempts)),
      });
    } catch (error) {
      // The SDK's and Node's messages (and their causes) may quote the request, key included.
      throw redactError(translateError(what, error));
    }
  };
  const api = { attempts: SDK_ATTEMPTS, capMs: apiTimeoutMs };

  return {
    name: 'openai',

    async uploadFile({ fileName, path }) {
      const blob = await openAsBlob(path, { type: 'application/jsonl' });
      const file = new File([blob], fileName, { type: 'application/jsonl' });
      // A file-backed Blob: the SDK sends it as FormData, streamed from disk, and can send it again on a
      // retry (a stream body could not be replayed, so the SDK would not retry it).
      const upload = {
        attempts: SDK_ATTEMPTS,
        capMs: options.remainingTimeMs ? Infinity : (options.uploadTimeoutMs ?? UPLOAD_ATTEMPT_TIMEOUT_MS),
      };
      const created = await call(`upload ${fileName}`, upload, (budget) =>
        client.files.create({ file, purpose: 'fine-tune' }, budget),
      );
      const parsed = FileSchema.parse(created);
      return { fileId: parsed.id, bytes: parsed.bytes };
    },

    async createJob(request) {
      // No SDK retry here: OpenAI takes no idempotency key, so a retried create could start a second
      // paid job. The caller looks the job up by runId before creating and retries through the workflow.
      const job = await call('create the fine-tuning job', { ...api, attempts: 1 }, (budget) =>
        client.fineTuning.jobs.create(toCreateParams(request), budget),
      );
      return toProviderJob(job);
    },

    async findJobByRunId(runId) {
      const page = await call('list fine-tuning jobs', api, (budget) =>
        client.fineTuning.jobs.list({ metadata: { runId }, limit: 10 }, budget),
      );
      const first = page.data[0];
      return first ? toProviderJob(first) : undefined;
    },

    async getJob(jobId) {
      return toProviderJob(
        await call(`read job ${jobId}`, api, (budget) => client.fineTuning.jobs.retrieve(jobId, budget)),
      );
    },

    async cancelJob(jobId) {
      return toProviderJob(
        await call(`cancel job ${jobId}`, api, (budget) => client.fineTuning.jobs.cancel(jobId, budget)),
      );
    },

    async resultFile(job) {
      const fileId = job.resultFileIds[0];
      if (!fileId) return undefined;
      // The body is read inside the call, so the budget covers the download, not only its headers.
      return call(`download result file ${fileId}`, api, async (budget) => {
        const response = await client.files.content(fileId, budget);
        return new Uint8Array(await response.arrayBuffer());
      });
    },

    async deleteModel(model) {
      await call(`delete model ${model}`, api, (budget) => client.models.delete(model, budget));
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
    // The provider's words go on to the workflow's state and the run's record: masked, like ours.
    error: job.error?.message
      ? {
          code: job.error.code ?? null,
          message: redactSecrets(job.error.message),
          param: job.error.param ?? null,
        }
      : null,
    createdAt: job.created_at,
    finishedAt: job.finished_at ?? null,
    estimatedFinish: job.estimated_finish ?? null,
    epochs: typeof epochs === 'number' ? epochs : null,
  };
}

/**
 * OpenAI answers HTTP 429 both to a rate limit, which passes, and to an organization out of credit or
 * past its monthly spend limit (`insufficient_quota`), which does not: "You exceeded your current quota,
 * please check your plan and billing details" (https://platform.openai.com/docs/guides/error-codes,
 * read 2026-11-29). The SDK retries every 429 unless the answer carries `x-should-retry: false`, which
 * OpenAI is not documented to send, so this fetch adds it to a quota 429: one attempt, not four.
 */
const withoutQuotaRetries = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const response = await fetch(url, init);
  if (response.status !== 429 || response.headers.has('x-should-retry')) return response;
  const text = await response.text();
  const headers = new Headers(response.headers);
  // The body is read and decoded here, so the new answer must not claim an encoding or length.
  headers.delete('content-encoding');
  headers.delete('content-length');
  if (isQuotaError(QuotaBodySchema.safeParse(safeJson(text)).data?.error))
    headers.set('x-should-retry', 'false');
  return new Response(text, { status: response.status, statusText: response.statusText, headers });
};

const QuotaBodySchema = z.looseObject({
  error: z.looseObject({ code: z.string().nullish(), type: z.string().nullish() }).nullish(),
});

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Older answers carried the reason in `type` only, with `code: null` (both seen live, see faults.ts). */
const isQuotaError = (body: { code?: string | null; type?: string | null } | null | undefined): boolean =>
  body?.code === 'insufficient_quota' || body?.type === 'insufficient_quota';

/** Where an organization's plan, credit and spend limits are (read 2026-11-29). */
const BILLING_URL = 'https://platform.openai.com/settings/organization/billing';

/** Sorts the SDK's errors into those a retry may fix and those it cannot. */
export function translateError(what: string, error: unknown): TunedropError {
  if (error instanceof APIError && error.status !== undefined) {
    const body = (error.error ?? {}) as { code?: string | null; type?: string | null; message?: string };
    const reason = body.message ?? error.message;
    if (error.status === 429 && isQuotaError(body)) {
      return new ProviderRejectedError(
        `OpenAI refused to ${what} (HTTP 429, insufficient_quota): ${reason}`,
        `The OpenAI organization of tunedrop's API key is out of credit or past its spend limit: check its plan and credit at ${BILLING_URL}, then drop the file again.`,
        'insufficient_quota',
        { cause: error },
      );
    }
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
    // OpenAI's answer to a file over its per-file limit (see local/openai-emulator/routes.ts for the source).
    if (error.status === 413 || /file is too large/i.test(reason)) {
      return new ProviderRejectedError(
        `OpenAI refused to ${what} (HTTP ${error.status}): ${reason}`,
        'OpenAI takes at most 512 MB per file: split the data into several files and drop each one.',
        body.code ?? 'file_too_large',
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
  if (error instanceof APIUserAbortError) {
    // Only tunedrop's own deadline aborts a call (see `call`): the provider was too slow this time.
    return new ProviderUnavailableError(
      `OpenAI took longer than this step allows to ${what}: ${error.message}`,
      RETRY_FIX,
      { cause: error },
    );
  }
  if (error instanceof APIConnectionError) {
    return new ProviderUnavailableError(
      `OpenAI could not be reached to ${what}: ${error.message}`,
      RETRY_FIX,
      { cause: error },
    );
  }
  // Matched by name: Node's fetch raises it from its own realm, where `instanceof TypeError` can fail.
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  if (name === 'TypeError' && typeof message === 'string' && /invalid header value/i.test(message)) {
    // Node refuses a header with a line break or other control character, and quotes the header, the
    // key with it: its message is not kept, and no retry can help.
    return new InvalidConfigError(
      `the OpenAI API key cannot be sent in an HTTP header (it has characters a header cannot carry), so tunedrop could not ${what}`,
      "Store the key again without line breaks or other invisible characters in tunedrop's API key secret (aws secretsmanager put-secret-value).",
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
