import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type OpenAI from 'openai';
import { openAsBlob } from 'node:fs';
import { z } from 'zod';
import {
  InvalidConfigError,
  ProviderRejectedError,
  ProviderUnavailableError,
  type TunedropError,
} from '../core/errors.js';
import { redactError, redactSecrets } from '../core/redact.js';
import type { ChatAnswer, ChatBatches, ChatRequest, CreateJobRequest, ProviderJob } from '../core/ports.js';
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
 * What the adapters of APIs spoken through the `openai` package share: OpenAI's own
 * (openai-provider.ts) and Azure OpenAI's v1 API (azure-openai-provider.ts). Each call's time budget,
 * the upload as a file-backed Blob, reading a job, and sorting the SDK's errors into tunedrop's typed
 * errors; the adapters differ in the client's address and headers, in what a job is created with, in
 * how a lost job is found and in the words of their errors' fixes (a `ProviderVoice`).
 */

/** How long calls may take; the same options for every adapter built on this module. */
export interface CallBudgetOptions {
  /** Per attempt of an API call (not an upload). @default API_ATTEMPT_TIMEOUT_MS */
  timeoutMs?: number | undefined;
  /** Per attempt of an upload when `remainingTimeMs` is not given. @default UPLOAD_ATTEMPT_TIMEOUT_MS */
  uploadTimeoutMs?: number | undefined;
  /**
   * The invocation's remaining time (Lambda's `context.getRemainingTimeInMillis`). When given, every call,
   * with all its attempts, ends `reserveMs` before the invocation does, and an upload may use all of that.
   */
  remainingTimeMs?: (() => number) | undefined;
  /** @default HANDLER_RESERVE_MS */
  reserveMs?: number | undefined;
  /** Told of each call made, how long it took with its retries and whether it failed (the metrics). */
  onCall?: ((call: ProviderCallOutcome) => void) | undefined;
}

/** One provider call, as the ProviderCallLatency and ProviderCallErrors metrics count it. */
export interface ProviderCallOutcome {
  latencyMs: number;
  failed: boolean;
}

/** How many attempts a call may make, each of at most `capMs`. */
export interface CallLimits {
  attempts: number;
  capMs: number;
}

/** The per-request options the SDK takes: the budget of one call. */
export interface CallBudget {
  timeout: number;
  maxRetries: number;
  signal: AbortSignal;
}

export type Call = <T>(
  what: string,
  limits: CallLimits,
  request: (budget: CallBudget) => Promise<T>,
) => Promise<T>;

/**
 * The words a provider's errors are told in: its name in messages, and the fixes, which name the
 * provider's own places (its console, its limits, the secret that holds its credentials).
 */
export interface ProviderVoice {
  /** As people write it: "OpenAI", "Azure OpenAI". */
  title: string;
  /** Shown while retrying and, if retries run out, in the run's recorded cause. */
  retryFix: string;
  /** For a 429 that is a rate limit or a queue limit: it passes, and tunedrop retries. @default retryFix */
  throttledFix?: string;
  fixes: {
    /** HTTP 401: the key is wrong. */
    unauthorized: string;
    /** HTTP 403. */
    forbidden: string;
    /** Any other refusal: the request's settings. */
    refused: string;
    /** HTTP 413 or "File is too large". */
    fileTooLarge: string;
    /** The key has characters no HTTP header can carry. */
    keyHeader: string;
  };
  /** A 429 that no retry fixes (OpenAI's `insufficient_quota`): how to tell it, and its fix. */
  permanentQuota?: { is: (body: ErrorBody) => boolean; fix: string };
  /** A code with which the provider says it takes no fine-tuning jobs at all, and where to go instead. */
  closed?: { code: string; message: string; fix: string };
}

/** The `error` object of an error answer, as the SDK keeps it (OpenAI's and Azure's bodies both fit). */
export interface ErrorBody {
  code?: string | null;
  type?: string | null;
  message?: string;
}

/**
 * Node's fetch (undici) keeps a request's whole body in memory in case a redirect needs it again, even
 * when the body streams from a file: a 511 MB upload cost 511 MB of RSS. Neither API redirects, and with
 * redirects refused the body streams with flat memory (measured: `npm run bench -- upload`), and no
 * credential header follows a redirect elsewhere. https://github.com/nodejs/undici/issues/4058 (open;
 * read 2026-11-29).
 */
export const FETCH_OPTIONS = { redirect: 'error' } as const;

/**
 * The function every SDK call goes through: it runs the call within its time budget (see
 * provider-timeouts.ts) — `attempts` attempts of at most `capMs` each, all ending before the invocation
 * does when its remaining time is known, and aborted at their worst case so that a long Retry-After
 * cannot outlast the function — and turns whatever it throws into a typed error with no key in it.
 * `api` and `upload` are the limits of an API call and of an upload.
 */
export function callBudget(
  options: CallBudgetOptions,
  voice: ProviderVoice,
): { call: Call; api: CallLimits; upload: CallLimits } {
  const call: Call = async (what, { attempts, capMs }, request) => {
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
    const started = performance.now();
    let failed = true;
    try {
      const answer = await request({
        timeout,
        maxRetries: attempts - 1,
        signal: AbortSignal.timeout(worstCaseCallMs(timeout, attempts)),
      });
      failed = false;
      return answer;
    } catch (error) {
      // The SDK's and Node's messages (and their causes) may quote the request, key included.
      throw redactError(translateProviderError(voice, what, error));
    } finally {
      options.onCall?.({ latencyMs: performance.now() - started, failed });
    }
  };
  return {
    call,
    api: { attempts: SDK_ATTEMPTS, capMs: options.timeoutMs ?? API_ATTEMPT_TIMEOUT_MS },
    upload: {
      attempts: SDK_ATTEMPTS,
      capMs: options.remainingTimeMs ? Infinity : (options.uploadTimeoutMs ?? UPLOAD_ATTEMPT_TIMEOUT_MS),
    },
  };
}

/**
 * The file at `path` as a File named `fileName`, backed by the file on disk (never read into memory
 * here), with `prefix` bytes before it when given. The SDK sends it as FormData, streamed from disk, and
 * can send it again on a retry (a stream body could not be replayed, so the SDK would not retry it).
 */
export async function fileToUpload(path: string, fileName: string, prefix?: Uint8Array): Promise<File> {
  const type = 'application/jsonl';
  const body = await openAsBlob(path, { type });
  return new File(prefix ? [new Blob([prefix]), body] : [body], fileName, { type });
}

/** What the Files API answers an upload with; only what tunedrop uses is required. */
export const FileSchema = z.looseObject({ id: z.string(), bytes: z.number() });

/**
 * The job-creation body both APIs take: model, files, suffix, seed, and the method with its
 * hyperparameters ("auto" where tunedrop leaves the choice to the provider).
 */
export function jobCreateBody(request: CreateJobRequest): OpenAI.FineTuning.JobCreateParams {
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
    method:
      request.method === 'dpo'
        ? { type: 'dpo', dpo: { hyperparameters } }
        : { type: 'supervised', supervised: { hyperparameters } },
  };
}

/**
 * The job as tunedrop reads it from either API. Tolerant on purpose: unknown statuses (Azure's
 * `pending`, `paused`…) and extra fields (the live API keeps adding some, such as `usage_metrics`) pass;
 * only what tunedrop uses is required.
 */
const JobSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  model: z.string(),
  fine_tuned_model: z.string().nullish(),
  trained_tokens: z.number().nullish(),
  result_files: z.array(z.string()).nullish(),
  training_file: z.string().nullish(),
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

/** A job as the API answers it, with what finding a lost job needs besides ProviderJob. */
export function parseJob(raw: unknown): { job: ProviderJob; trainingFile: string | null } {
  const job = JobSchema.parse(raw);
  const epochs =
    job.method?.supervised?.hyperparameters?.n_epochs ??
    job.method?.dpo?.hyperparameters?.n_epochs ??
    job.hyperparameters?.n_epochs;
  return {
    trainingFile: job.training_file ?? null,
    job: {
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
    },
  };
}

export function toProviderJob(raw: unknown): ProviderJob {
  return parseJob(raw).job;
}

/** Sorts the SDK's errors into those a retry may fix and those it cannot, in the provider's words. */
export function translateProviderError(voice: ProviderVoice, what: string, error: unknown): TunedropError {
  const { title, retryFix, fixes } = voice;
  if (error instanceof APIError && error.status !== undefined) {
    const body = (error.error ?? {}) as ErrorBody;
    const reason = body.message ?? error.message;
    if (error.status === 429 && voice.permanentQuota?.is(body)) {
      return new ProviderRejectedError(
        `${title} refused to ${what} (HTTP 429, insufficient_quota): ${reason}`,
        voice.permanentQuota.fix,
        'insufficient_quota',
        { cause: error },
      );
    }
    if (error.status === 429 || error.status >= 500) {
      return new ProviderUnavailableError(
        `${title} could not ${what} (HTTP ${error.status}): ${reason}`,
        error.status === 429 ? (voice.throttledFix ?? retryFix) : retryFix,
        { cause: error },
      );
    }
    if (voice.closed && body.code === voice.closed.code) {
      return new ProviderRejectedError(
        `${voice.closed.message}: ${reason}`,
        voice.closed.fix,
        voice.closed.code,
      );
    }
    // The answer to a file over the per-file limit (see local/openai-emulator/routes.ts for the source).
    if (error.status === 413 || /file is too large/i.test(reason)) {
      return new ProviderRejectedError(
        `${title} refused to ${what} (HTTP ${error.status}): ${reason}`,
        fixes.fileTooLarge,
        body.code ?? 'file_too_large',
      );
    }
    const fix =
      error.status === 401 ? fixes.unauthorized : error.status === 403 ? fixes.forbidden : fixes.refused;
    return new ProviderRejectedError(
      `${title} refused to ${what} (HTTP ${error.status}${body.code ? `, ${body.code}` : ''}): ${reason}`,
      fix,
      body.code ?? `http_${error.status}`,
    );
  }
  if (error instanceof APIUserAbortError) {
    // Only tunedrop's own deadline aborts a call (see `callBudget`): the provider was too slow this time.
    return new ProviderUnavailableError(
      `${title} took longer than this step allows to ${what}: ${error.message}`,
      retryFix,
      { cause: error },
    );
  }
  if (error instanceof APIConnectionError) {
    return new ProviderUnavailableError(
      `${title} could not be reached to ${what}: ${error.message}`,
      retryFix,
      {
        cause: error,
      },
    );
  }
  // Matched by name: Node's fetch raises it from its own realm, where `instanceof TypeError` can fail.
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  if (name === 'TypeError' && typeof message === 'string' && /invalid header value/i.test(message)) {
    // Node refuses a header with a line break or other control character, and quotes the header, the
    // key with it: its message is not kept, and no retry can help.
    return new InvalidConfigError(
      `the ${title} API key cannot be sent in an HTTP header (it has characters a header cannot carry), so tunedrop could not ${what}`,
      fixes.keyHeader,
    );
  }
  if (error instanceof z.ZodError) {
    return new ProviderUnavailableError(
      `${title} answered ${what} with an unexpected shape: ${error.message}`,
      'Report this to the tunedrop maintainers with the run id.',
    );
  }
  return new ProviderUnavailableError(`${what} failed: ${(error as Error).message}`, 'Retrying.', {
    cause: error,
  });
}

/**
 * The calls OpenAI's API and Azure OpenAI's v1 API make alike, through the same SDK: read and cancel a
 * job, and download a file (its body read inside the call, so the budget covers the download, not only
 * its headers).
 */
export function sharedJobCalls(client: OpenAI, call: Call, api: CallLimits) {
  return {
    async getJob(jobId: string): Promise<ProviderJob> {
      return toProviderJob(
        await call(`read job ${jobId}`, api, (budget) => client.fineTuning.jobs.retrieve(jobId, budget)),
      );
    },
    async cancelJob(jobId: string): Promise<ProviderJob> {
      return toProviderJob(
        await call(`cancel job ${jobId}`, api, (budget) => client.fineTuning.jobs.cancel(jobId, budget)),
      );
    },
    async download(fileId: string): Promise<Uint8Array> {
      return call(`download result file ${fileId}`, api, async (budget) => {
        const response = await client.files.content(fileId, budget);
        return new Uint8Array(await response.arrayBuffer());
      });
    },
  };
}

/** The parts of a chat completion evaluation reads (CreateChatCompletionResponse in OpenAI's spec). */
const ChatCompletionSchema = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        message: z.looseObject({ content: z.string().nullable() }),
        logprobs: z
          .looseObject({
            content: z
              .array(
                z.looseObject({
                  top_logprobs: z.array(z.looseObject({ token: z.string(), logprob: z.number() })),
                }),
              )
              .nullable(),
          })
          .nullish(),
      }),
    )
    .min(1),
  usage: z.looseObject({ prompt_tokens: z.number(), completion_tokens: z.number() }),
});

/**
 * One greedy chat completion, as evaluation asks it: temperature 0, at most `maxTokens` tokens
 * (`max_completion_tokens`: `max_tokens` is deprecated and refused by o-series models, OpenAI's spec of
 * 2026-08-21), and, when asked, the alternatives of each token (`logprobs`, `top_logprobs` 0–20).
 */
export async function chatCompletion(
  client: OpenAI,
  call: Call,
  api: CallLimits,
  request: ChatRequest,
): Promise<ChatAnswer> {
  const raw = await call(`ask ${request.model}`, api, (budget) =>
    client.chat.completions.create(
      chatCompletionBody(request) as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
      budget,
    ),
  );
  return chatAnswerOf(raw);
}

/** The request body of one evaluation question, online or as a batch line's `body`. */
export function chatCompletionBody(request: ChatRequest): Record<string, unknown> {
  return {
    model: request.model,
    messages: request.messages,
    temperature: 0,
    max_completion_tokens: request.maxTokens,
    ...(request.topLogprobs > 0 ? { logprobs: true, top_logprobs: request.topLogprobs } : {}),
  };
}

/** A chat completion (online, or a batch line's response body) as evaluation reads it. */
export function chatAnswerOf(raw: unknown): ChatAnswer {
  const completion = ChatCompletionSchema.parse(raw);
  const choice = completion.choices[0]!;
  const first = choice.logprobs?.content?.[0];
  return {
    text: choice.message.content ?? '',
    firstTokenTopLogprobs: first
      ? first.top_logprobs.map(({ token, logprob }) => ({ token, logprob }))
      : null,
    inputTokens: completion.usage.prompt_tokens,
    outputTokens: completion.usage.completion_tokens,
  };
}

/** What tunedrop reads of a Batch (the spec's Batch schema, 2026-08-21): evaluation's and embeddings'. */
export const BatchSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  created_at: z.number().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  input_file_id: z.string().nullish(),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  errors: z
    .looseObject({
      data: z
        .array(
          z.looseObject({
            code: z.string().nullish(),
            message: z.string().nullish(),
            line: z.number().nullish(),
          }),
        )
        .nullish(),
    })
    .nullish(),
});

/** One line of a batch's output or error file (the spec's BatchRequestOutput). */
const BatchOutputLineSchema = z.looseObject({
  custom_id: z.string(),
  response: z.looseObject({ status_code: z.number(), body: z.unknown() }).nullish(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});

/** The message of a failed batch line: its error, or its response's error body. */
function batchLineError(line: z.infer<typeof BatchOutputLineSchema>): string {
  if (line.error?.message) return line.error.message;
  const body = z
    .looseObject({ error: z.looseObject({ message: z.string() }) })
    .safeParse(line.response?.body);
  return body.success
    ? `${line.response!.status_code}: ${body.data.error.message}`
    : `HTTP ${line.response?.status_code ?? 'error'}`;
}

/**
 * OpenAI's Batch API for chat completions (the Batch guide and the spec, docs/evaluation-facts.md 1.2): the
 * lines are uploaded as a JSONL file with purpose "batch", one model per file, and answered within the
 * 24-hour completion window, out of order (matched by `custom_id`); failed lines are in the error file.
 */
export function chatBatches(client: OpenAI, call: Call, api: CallLimits, upload: CallLimits): ChatBatches {
  const fileText = async (fileId: string) =>
    call(`read batch file ${fileId}`, api, async (budget) =>
      (await client.files.content(fileId, budget)).text(),
    );
  return {
    async submit(lines, metadata) {
      const body = lines
        .map((line) =>
          JSON.stringify({
            custom_id: line.customId,
            method: 'POST',
            url: '/v1/chat/completions',
            body: chatCompletionBody(line.request),
          }),
        )
        .join('\n');
      const file = new File([`${body}\n`], 'evaluation-batch.jsonl', { type: 'application/jsonl' });
      const uploaded = FileSchema.parse(
        await call('upload the evaluation batch', upload, (budget) =>
          client.files.create({ file, purpose: 'batch' }, budget),
        ),
      );
      const batch = BatchSchema.parse(
        await call('create the evaluation batch', api, (budget) =>
          client.batches.create(
            {
              input_file_id: uploaded.id,
              endpoint: '/v1/chat/completions',
              completion_window: '24h',
              metadata: { ...metadata },
            },
            budget,
          ),
        ),
      );
      return batch.id;
    },

    async get(batchId) {
      const batch = BatchSchema.parse(
        await call(`read batch ${batchId}`, api, (budget) => client.batches.retrieve(batchId, budget)),
      );
      if (batch.status === 'failed') {
        const first = batch.errors?.data?.[0];
        return {
          status: 'failed',
          reason: first
            ? `${first.message ?? first.code ?? 'refused'}${first.line ? ` (line ${first.line})` : ''}`
            : 'the batch failed',
        };
      }
      if (batch.status === 'cancelled') return { status: 'cancelled', reason: 'the batch was cancelled' };
      if (batch.status !== 'completed' && batch.status !== 'expired')
        return { status: 'pending', providerStatus: batch.status };
      const answers = new Map<string, ChatAnswer>();
      const errors = new Map<string, string>();
      for (const fileId of [batch.output_file_id, batch.error_file_id]) {
        if (!fileId) continue;
        for (const text of (await fileText(fileId)).split('\n')) {
          if (text.trim() === '') continue;
          const line = BatchOutputLineSchema.parse(JSON.parse(text));
          const response = line.response;
          if (response && response.status_code === 200 && !line.error)
            answers.set(line.custom_id, chatAnswerOf(response.body));
          else errors.set(line.custom_id, batchLineError(line));
        }
      }
      return { status: batch.status, answers, errors };
    },

    async cancel(batchId) {
      await call(`cancel batch ${batchId}`, api, (budget) => client.batches.cancel(batchId, budget));
    },
  };
}
