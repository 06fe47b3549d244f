import OpenAI, { APIError } from 'openai';
import { z } from 'zod';
import { InvalidConfigError, ProviderRejectedError, ProviderUnavailableError } from '../core/errors.js';
import type {
  EmbeddingAnswer,
  EmbeddingBatches,
  EmbeddingBatchResult,
  EmbeddingBatchState,
  EmbeddingModels,
  EmbeddingRequest,
} from '../core/ports.js';
import { redactError, redactSecrets, registerSecret } from '../core/redact.js';
import {
  DEFAULT_THROTTLE_POLICY,
  retryAfterMs,
  retryThrottled,
  type RetryTools,
  type ThrottlePolicy,
} from './embedding-retries.js';
import {
  BatchSchema,
  callBudget,
  FETCH_OPTIONS,
  FileSchema,
  translateProviderError,
  type Call,
  type CallBudgetOptions,
  type CallLimits,
  type ErrorBody,
  type ProviderVoice,
} from './openai-compatible.js';

/**
 * Embeddings on OpenAI and Azure OpenAI, through the same `openai` client and call budgets as the other
 * adapters (openai-compatible.ts). Facts from docs/embeddings-facts.md (read 2026-11-30):
 * - POST /embeddings takes `input` (≤ 2048 texts, ≤ 300,000 tokens in all), `model`, `dimensions`
 *   (text-embedding-3 and later) and `encoding_format` (`float` here); it answers CreateEmbeddingResponse,
 *   whose `data[].index` places each vector and whose `usage.prompt_tokens` is what is billed (1.2, 1.3);
 * - Azure's v1 API takes the deployment's name as `model`, with the resource key in `api-key` (2);
 * - OpenAI's Batch API runs /v1/embeddings with a 24h window; the output file's lines are in no particular
 *   order and carry `custom_id` (1.5). Azure's Global Batch for embeddings is NOT CONFIRMED: no batches.
 *
 * Throttling: the SDK is told not to retry a 429 (the answer gets `x-should-retry: false`, which the SDK
 * obeys, node_modules/openai/client.js `shouldRetry`, read 2026-11-30); it still retries timeouts, 5xx and
 * dropped connections within each call's budget. A rate-limit 429 is retried here instead, with exponential
 * backoff, full jitter and the provider's Retry-After as a floor (embedding-retries.ts), because the caller
 * runs several requests at once and the SDK's short fixed steps would bring them back together. A 429 that
 * is `insufficient_quota` is not retried (OpenAI). When the retries are spent, ProviderUnavailableError.
 */

export interface OpenAiEmbeddingsOptions extends CallBudgetOptions {
  /** Backoff of throttled requests. @default DEFAULT_THROTTLE_POLICY */
  throttle?: Partial<ThrottlePolicy> | undefined;
  /** For tests: the random numbers and sleep of the backoff. */
  retryTools?: Pick<RetryTools, 'random' | 'sleep'> | undefined;
}

export interface OpenAiEmbeddingsProviderOptions extends OpenAiEmbeddingsOptions {
  apiKey: string;
  /** Defaults to the SDK's: OPENAI_BASE_URL, else https://api.openai.com/v1. */
  baseURL?: string | undefined;
}

export interface AzureEmbeddingsOptions extends OpenAiEmbeddingsOptions {
  /** The resource's endpoint, `https://<resource>.openai.azure.com` (a trailing `/openai/v1` is tolerated). */
  endpoint: string;
  apiKey: string;
}

const REFUSED_FIX =
  "Check the collection's tunedrop.json under embed/: the model (on Azure, the name of a deployment of an embedding model), and the dimensions (text-embedding-3 models only, at most the model's own size); each text must be non-empty and within the model's token limit.";

const OPENAI_VOICE: ProviderVoice = {
  title: 'OpenAI',
  retryFix:
    "tunedrop retries this with backoff; if the run still failed, check https://status.openai.com and the rate limits of the key's project (https://platform.openai.com/settings/organization/limits), then drop the file again.",
  fixes: {
    unauthorized: 'Put a valid OpenAI API key in the tunedrop secret (aws secretsmanager put-secret-value).',
    forbidden: "The key's project may not use this embedding model; check the key's permissions.",
    refused: REFUSED_FIX,
    fileTooLarge:
      'A Batch API input file is at most 200 MB and 50,000 requests: this is a tunedrop bug if it splits files; report it with the run id.',
    keyHeader:
      "Store the key again without line breaks or other invisible characters in tunedrop's API key secret (aws secretsmanager put-secret-value).",
  },
  permanentQuota: {
    // Older answers carried the reason in `type` only (see openai-provider.ts isQuotaError).
    is: (body) => isQuotaError(body),
    fix: "The OpenAI organization of tunedrop's API key is out of credit or past its spend limit: check https://platform.openai.com/settings/organization/billing, then drop the file again.",
  },
};

const AZURE_SECRET_FIX = `tunedrop's Azure OpenAI secret (aws secretsmanager put-secret-value --secret-id <the stack's Azure OpenAI secret> --secret-string '{"endpoint":"https://<resource>.openai.azure.com","apiKey":"..."}')`;

const AZURE_VOICE: ProviderVoice = {
  title: 'Azure OpenAI',
  retryFix:
    "tunedrop retries this with backoff; if the run still failed, raise the deployment's tokens-per-minute quota in the Azure AI Foundry portal or check the resource's Resource health, then drop the file again.",
  fixes: {
    unauthorized: `Put the Azure OpenAI resource's endpoint and one of its keys (Keys and Endpoint in the Azure portal) in ${AZURE_SECRET_FIX}.`,
    forbidden:
      "The resource refused the key's request: check its networking rules (they must admit the function).",
    refused: REFUSED_FIX,
    fileTooLarge: 'Report this to the tunedrop maintainers with the run id.',
    keyHeader: `Store the key again without line breaks or other invisible characters in ${AZURE_SECRET_FIX}.`,
  },
};

const isQuotaError = (body: ErrorBody | null | undefined): boolean =>
  body?.code === 'insufficient_quota' || body?.type === 'insufficient_quota';

/**
 * The SDK retries every 429 unless the answer says `x-should-retry: false`: this fetch says so on each
 * 429, so that throttling is retried by `retryThrottled` (with jitter) and not twice over.
 */
const withoutSdk429Retries = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const response = await fetch(url, init);
  if (response.status !== 429 || response.headers.has('x-should-retry')) return response;
  const headers = new Headers(response.headers);
  // The body is passed on as fetch decoded it: the new answer must not claim an encoding or length.
  headers.delete('content-encoding');
  headers.delete('content-length');
  headers.set('x-should-retry', 'false');
  return new Response(response.body, { status: 429, statusText: response.statusText, headers });
};

/** CreateEmbeddingResponse (the spec, docs/embeddings-facts.md 1.3): what tunedrop reads of it. */
const EmbeddingResponseSchema = z.looseObject({
  data: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      // `float` is asked for; a base64 string (little-endian float32) is read as well.
      embedding: z.union([z.array(z.number()), z.string()]),
    }),
  ),
  usage: z.looseObject({ prompt_tokens: z.number().int().nonnegative() }),
});

/** A base64 embedding: the raw little-endian float32 bytes (docs/embeddings-facts.md 1.3, as the SDKs read it). */
export function decodeBase64Floats(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % 4 !== 0)
    throw new ProviderUnavailableError(
      `a base64 embedding has ${bytes.byteLength} bytes, not a whole number of float32 values`,
      'Report this to the tunedrop maintainers with the run id.',
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/**
 * An embeddings answer (online, or a batch line's body) as tunedrop reads it: one vector per text, placed
 * by `index`, every text answered exactly once, all vectors of one size (`dimensions` when asked).
 */
export function embeddingAnswerOf(
  raw: unknown,
  texts: number | undefined,
  dimensions?: number,
): EmbeddingAnswer {
  const parsed = EmbeddingResponseSchema.parse(raw);
  const count = texts ?? parsed.data.length;
  const vectors = new Array<number[] | undefined>(count);
  for (const item of parsed.data) {
    if (item.index >= count || vectors[item.index])
      throw new Error(`index ${item.index} is ${item.index >= count ? 'out of range' : 'answered twice'}`);
    vectors[item.index] =
      typeof item.embedding === 'string' ? decodeBase64Floats(item.embedding) : item.embedding;
  }
  const size = dimensions ?? vectors[0]?.length;
  for (let i = 0; i < count; i++) {
    const vector = vectors[i];
    if (!vector) throw new Error(`text ${i} has no vector`);
    if (vector.length !== size)
      throw new Error(`the vector of text ${i} has ${vector.length} values, not ${size}`);
  }
  return { vectors: vectors as number[][], tokens: parsed.usage.prompt_tokens };
}

/** The body of POST /embeddings, online or as a batch line's `body`. */
export function embeddingsBody(request: EmbeddingRequest) {
  return {
    model: request.model,
    input: [...request.texts],
    encoding_format: 'float' as const,
    ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
  };
}

/** The Retry-After (ms, or null without one) of a throttled call's error; undefined when not throttled. */
function throttledBy(error: unknown): number | null | undefined {
  if (!(error instanceof ProviderUnavailableError)) return undefined;
  const cause = error.cause;
  if (!(cause instanceof APIError) || cause.status !== 429) return undefined;
  const headers = cause.headers as Headers | undefined;
  return retryAfterMs((name) => headers?.get(name)) ?? null;
}

function embedWith(
  client: OpenAI,
  call: Call,
  api: CallLimits,
  voice: ProviderVoice,
  options: OpenAiEmbeddingsOptions,
): (request: EmbeddingRequest) => Promise<EmbeddingAnswer> {
  const policy = { ...DEFAULT_THROTTLE_POLICY, ...options.throttle };
  return async (request) => {
    const what = `embed ${request.texts.length} texts with ${request.model}`;
    const raw = await retryThrottled(
      () => call(what, api, (budget) => client.embeddings.create(embeddingsBody(request), budget)),
      throttledBy,
      policy,
      { ...options.retryTools, remainingTimeMs: options.remainingTimeMs, reserveMs: options.reserveMs },
    );
    try {
      return embeddingAnswerOf(raw, request.texts.length, request.dimensions);
    } catch (error) {
      throw new ProviderUnavailableError(
        `${voice.title} answered ${what} with an unexpected shape: ${error instanceof Error ? error.message : String(error)}`,
        'Report this to the tunedrop maintainers with the run id.',
      );
    }
  };
}

/** OpenAI's embeddings, online and through the Batch API. */
export function openAiEmbeddingModels(options: OpenAiEmbeddingsProviderOptions): EmbeddingModels {
  const { call, api, upload } = callBudget(options, OPENAI_VOICE);
  registerSecret(options.apiKey);
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    timeout: api.capMs,
    maxRetries: api.attempts - 1,
    fetchOptions: FETCH_OPTIONS,
    fetch: withoutSdk429Retries,
  });
  return {
    name: 'openai',
    embed: embedWith(client, call, api, OPENAI_VOICE, options),
    batches: embeddingBatches(client, call, api, upload),
  };
}

/** Never sent (the Authorization header is removed): the SDK only wants some key to exist. */
const UNUSED_BEARER_KEY = 'unused-the-key-goes-in-the-api-key-header';

/**
 * Azure OpenAI's embeddings through its v1 API (`{endpoint}/openai/v1/`), the key in the `api-key` header
 * only, as azure-openai-provider.ts builds its client; `model` is the deployment's name. No batches.
 */
export function azureEmbeddingModels(options: AzureEmbeddingsOptions): EmbeddingModels {
  const { call, api } = callBudget(options, AZURE_VOICE);
  registerSecret(options.apiKey);
  const endpoint = options.endpoint.replace(/\/+$/, '').replace(/\/openai(\/v1)?$/, '');
  const client = new OpenAI({
    apiKey: UNUSED_BEARER_KEY,
    baseURL: `${endpoint}/openai/v1/`,
    defaultHeaders: { 'api-key': options.apiKey, Authorization: null },
    timeout: api.capMs,
    maxRetries: api.attempts - 1,
    fetchOptions: FETCH_OPTIONS,
    fetch: withoutSdk429Retries,
  });
  const embed = embedWith(client, call, api, AZURE_VOICE, options);
  return {
    name: 'azure-openai',
    embed: async (request) => {
      try {
        return await embed(request);
      } catch (error) {
        throw deploymentError(error, request.model) ?? error;
      }
    },
  };
}

/**
 * A refusal that is about the deployment the settings name, not about the texts: the deployment does not
 * exist (or is not ready: 404 DeploymentNotFound, "If you created the deployment within the last 5
 * minutes, please wait a moment and try again"), or it is of a model that does not embed (400
 * OperationNotSupported; both in local/openai-emulator/azure-management.ts with their sources). No retry
 * or other text can succeed, so it is a configuration error that ends the run, with a fix naming the
 * deployment and the settings file; undefined for any other error.
 */
function deploymentError(error: unknown, deployment: string): InvalidConfigError | undefined {
  if (!(error instanceof ProviderRejectedError)) return undefined;
  const settings = "the collection's settings file, embed/<collection>/tunedrop.json";
  const existing = `or set "azure": {"deployment": "<name>"} in ${settings}, to the name of an existing deployment of an embedding model; then drop the file again`;
  if (error.code === 'DeploymentNotFound')
    return new InvalidConfigError(
      `Azure OpenAI has no deployment named "${deployment}" that can answer: ${error.message}`,
      `Deploy an embedding model (text-embedding-3-small, text-embedding-3-large or text-embedding-ada-002) under the name "${deployment}" in the Azure OpenAI resource of tunedrop's Azure OpenAI secret (Azure AI Foundry portal, Deployments) and wait until it has succeeded, ${existing}.`,
      { cause: error },
    );
  if (error.code === 'OperationNotSupported')
    return new InvalidConfigError(
      `The Azure OpenAI deployment "${deployment}" is not of an embedding model: ${error.message}`,
      `Name a deployment of an embedding model instead: deploy one (text-embedding-3-small, text-embedding-3-large or text-embedding-ada-002) in the Azure AI Foundry portal, ${existing}.`,
      { cause: error },
    );
  return undefined;
}

const BatchPageSchema = z.looseObject({
  data: z.array(BatchSchema),
  has_more: z.boolean().nullish(),
  last_id: z.string().nullish(),
});

/** One line of a batch's output or error file (the spec's BatchRequestOutput). */
const BatchOutputLineSchema = z.looseObject({
  custom_id: z.string(),
  response: z.looseObject({ status_code: z.number(), body: z.unknown() }).nullish(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});

/** A batch that can still answer, or has: `find` returns only these. */
const DEAD_STATUSES = new Set(['failed', 'cancelling', 'cancelled', 'expired']);

/**
 * How far `find` looks back: batches are listed newest first, and tunedrop creates a run's batches within
 * the 24-hour completion window of each other; 48 hours leave room, and 20 pages of 100 bound a busy
 * organization's listing.
 */
export const FIND_LOOKBACK_SECONDS = 48 * 3600;
const FIND_PAGE_SIZE = 100;
const FIND_MAX_PAGES = 20;

/** The message of a failed batch line: its error, or its response's error body. */
function lineError(line: z.infer<typeof BatchOutputLineSchema>): string {
  if (line.error?.message) return redactSecrets(line.error.message);
  const body = z
    .looseObject({ error: z.looseObject({ message: z.string() }) })
    .safeParse(line.response?.body);
  return body.success
    ? `HTTP ${line.response!.status_code}: ${redactSecrets(body.data.error.message)}`
    : `HTTP ${line.response?.status_code ?? 'error'}${line.error?.code ? ` (${line.error.code})` : ''}`;
}

/** One output line as a result: its answer, or why it has none. */
export function batchResultOf(text: string): EmbeddingBatchResult {
  const line = BatchOutputLineSchema.parse(JSON.parse(text));
  const response = line.response;
  if (!response || response.status_code !== 200 || line.error)
    return { customId: line.custom_id, error: lineError(line) };
  try {
    return { customId: line.custom_id, answer: embeddingAnswerOf(response.body, undefined) };
  } catch (error) {
    return {
      customId: line.custom_id,
      error: `an answer of an unexpected shape: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** The lines of a byte stream, split across chunks, without the empty ones. */
async function* linesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let rest = '';
  let done = false;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += decoder.decode(chunk.value, { stream: true });
      let newline = rest.indexOf('\n');
      while (newline >= 0) {
        const line = rest.slice(0, newline).trim();
        if (line) yield line;
        rest = rest.slice(newline + 1);
        newline = rest.indexOf('\n');
      }
    }
    rest += decoder.decode();
    if (rest.trim()) yield rest.trim();
    done = true;
  } finally {
    // Stopped early (the consumer broke off, or a line failed): the rest of the download is not wanted.
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * OpenAI's Batch API for /v1/embeddings. `submit` creates with one attempt (OpenAI takes no idempotency
 * key: a retried create could start a second, paid, batch): the caller looks for the batch with `find`
 * first, by the metadata it created it with.
 */
export function embeddingBatches(
  client: OpenAI,
  call: Call,
  api: CallLimits,
  upload: CallLimits,
): EmbeddingBatches {
  const readBatch = async (batchId: string) =>
    BatchSchema.parse(
      await call(`read batch ${batchId}`, api, (budget) => client.batches.retrieve(batchId, budget)),
    );
  return {
    async find(metadata) {
      const wanted = Object.entries(metadata);
      const since = Date.now() / 1000 - FIND_LOOKBACK_SECONDS;
      let after: string | undefined;
      for (let pages = 0; pages < FIND_MAX_PAGES; pages++) {
        const page = BatchPageSchema.parse(
          await call('list batches', api, (budget) =>
            client.batches.list({ limit: FIND_PAGE_SIZE, ...(after ? { after } : {}) }, budget),
          ),
        );
        for (const batch of page.data) {
          if (batch.created_at !== undefined && batch.created_at !== null && batch.created_at < since)
            return undefined;
          if (DEAD_STATUSES.has(batch.status)) continue;
          if (wanted.every(([key, value]) => batch.metadata?.[key] === value)) return batch.id;
        }
        after = page.last_id ?? page.data.at(-1)?.id;
        if (!page.has_more || !after) return undefined;
      }
      return undefined;
    },

    async submit(file, metadata) {
      const upload_ = new File([file.body], file.name, { type: 'application/jsonl' });
      const uploaded = FileSchema.parse(
        await call(`upload ${file.name}`, upload, (budget) =>
          client.files.create({ file: upload_, purpose: 'batch' }, budget),
        ),
      );
      const batch = BatchSchema.parse(
        await call('create the embeddings batch', { ...api, attempts: 1 }, (budget) =>
          client.batches.create(
            {
              input_file_id: uploaded.id,
              endpoint: '/v1/embeddings',
              completion_window: '24h',
              metadata: { ...metadata },
            },
            budget,
          ),
        ),
      );
      return batch.id;
    },

    async state(batchId): Promise<EmbeddingBatchState> {
      const batch = await readBatch(batchId);
      if (batch.status === 'failed') {
        const first = batch.errors?.data?.[0];
        return {
          status: 'failed',
          reason: first
            ? `${redactSecrets(first.message ?? first.code ?? 'refused')}${first.line ? ` (line ${first.line})` : ''}`
            : 'the batch failed',
        };
      }
      if (batch.status === 'cancelled') return { status: 'cancelled', reason: 'the batch was cancelled' };
      if (batch.status === 'completed' || batch.status === 'expired')
        return {
          status: batch.status,
          outputFileId: batch.output_file_id ?? undefined,
          errorFileId: batch.error_file_id ?? undefined,
        };
      return { status: 'pending', providerStatus: batch.status };
    },

    async *results(fileId) {
      const what = `read batch file ${fileId}`;
      // The download's budget is an upload's: the whole invocation's remaining time, as the body streams
      // within the call's deadline (its abort signal also ends the body).
      const response = await call(what, upload, (budget) => client.files.content(fileId, budget));
      if (!response.body) return;
      try {
        for await (const line of linesOf(response.body)) yield batchResultOf(line);
      } catch (error) {
        if (error instanceof ProviderUnavailableError) throw error;
        throw redactError(translateProviderError(OPENAI_VOICE, what, error));
      }
    },

    async cancel(batchId) {
      await call(`cancel batch ${batchId}`, api, (budget) => client.batches.cancel(batchId, budget));
    },

    async discard(batchId) {
      const batch = BatchSchema.parse(
        await call(`read batch ${batchId}`, api, (budget) => client.batches.retrieve(batchId, budget)),
      );
      for (const fileId of [batch.input_file_id, batch.output_file_id, batch.error_file_id]) {
        if (!fileId) continue;
        try {
          await call(`delete file ${fileId}`, api, (budget) => client.files.delete(fileId, budget));
        } catch (error) {
          // Already deleted (by the user, or an earlier attempt): nothing left to do.
          if (
            error instanceof ProviderRejectedError &&
            /404|not.?found/i.test(`${error.code} ${error.message}`)
          )
            continue;
          throw error;
        }
      }
    },
  };
}
