import OpenAI from 'openai';
import { OPENAI_NEW_JOBS_UNTIL, switchProviderFix } from '../core/catalog.js';
import { z } from 'zod';
import type { TunedropError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';
import type { ChatModels, FineTuningProvider } from '../core/ports.js';
import {
  callBudget,
  chatBatches,
  chatCompletion,
  FETCH_OPTIONS,
  FileSchema,
  fileToUpload,
  jobCreateBody,
  toProviderJob,
  translateProviderError,
  type CallBudgetOptions,
  type ErrorBody,
  type ProviderVoice,
  sharedJobCalls,
} from './openai-compatible.js';

export { toProviderJob } from './openai-compatible.js';

export interface OpenAiProviderOptions extends CallBudgetOptions {
  apiKey: string;
  /** Defaults to the SDK's: OPENAI_BASE_URL, else https://api.openai.com/v1. */
  baseURL?: string | undefined;
}

/** Where an organization's plan, credit and spend limits are (read 2026-11-29). */
const BILLING_URL = 'https://platform.openai.com/settings/organization/billing';

/** OpenAI's errors in OpenAI's words: its status page, its billing settings, tunedrop's API key secret. */
const OPENAI_VOICE: ProviderVoice = {
  title: 'OpenAI',
  retryFix:
    'tunedrop retries this with backoff; if the run still failed, check https://status.openai.com and drop the file again.',
  fixes: {
    unauthorized: 'Put a valid OpenAI API key in the tunedrop secret (aws secretsmanager put-secret-value).',
    forbidden: "The key's project may not have fine-tuning access; check the key's permissions.",
    refused: "Check the model, suffix and hyperparameters in the family's tunedrop.json.",
    fileTooLarge:
      'OpenAI takes at most 512 MB per file: split the data into several files and drop each one.',
    keyHeader:
      "Store the key again without line breaks or other invisible characters in tunedrop's API key secret (aws secretsmanager put-secret-value).",
  },
  permanentQuota: {
    is: (body) => isQuotaError(body),
    fix: `The OpenAI organization of tunedrop's API key is out of credit or past its spend limit: check its plan and credit at ${BILLING_URL}, then drop the file again.`,
  },
  closed: {
    code: 'training_not_available',
    message: 'OpenAI no longer accepts fine-tuning jobs',
    // The one line that moves the family elsewhere (issue #11: the fix names the exact config line).
    fix: `Self-serve fine-tuning on OpenAI has ended (no new jobs since ${OPENAI_NEW_JOBS_UNTIL}). ${switchProviderFix('openai')}`,
  },
};

/** The SDK client and the call budget both OpenAI adapters use; the key is masked from here on. */
function openAiClient(options: OpenAiProviderOptions) {
  const budget = callBudget(options, OPENAI_VOICE);
  // Whoever made this client, its key is masked in every error that leaves it (and in the logs).
  registerSecret(options.apiKey);
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    timeout: budget.api.capMs,
    maxRetries: budget.api.attempts - 1,
    fetchOptions: FETCH_OPTIONS,
    fetch: withoutQuotaRetries,
  });
  return { client, ...budget };
}

/**
 * OpenAI's chat completions, for evaluation: greedy answers with up to 20 alternatives per token
 * (`top_logprobs` "between 0 and 20", OpenAI's spec of 2026-08-21). Throttling and 5xx are retried by the
 * SDK with backoff (SDK_ATTEMPTS attempts), and an organization out of credit is not.
 */
export function openAiChatModels(options: OpenAiProviderOptions): ChatModels {
  const { client, call, api, upload } = openAiClient(options);
  return {
    name: 'openai',
    maxTopLogprobs: 20,
    complete: (request) => chatCompletion(client, call, api, request),
    batches: chatBatches(client, call, api, upload),
  };
}

export function openAiProvider(options: OpenAiProviderOptions): FineTuningProvider {
  const { client, call, api, upload } = openAiClient(options);

  const shared = sharedJobCalls(client, call, api);
  return {
    name: 'openai',

    async uploadFile({ fileName, path }) {
      const file = await fileToUpload(path, fileName);
      const created = await call(`upload ${fileName}`, upload, (budget) =>
        client.files.create({ file, purpose: 'fine-tune' }, budget),
      );
      const parsed = FileSchema.parse(created);
      return { fileId: parsed.id, bytes: parsed.bytes };
    },

    async createJob(request) {
      // No SDK retry here: OpenAI takes no idempotency key, so a retried create could start a second
      // paid job. The caller looks the job up by runId before creating and retries through the workflow.
      const body = { ...jobCreateBody(request), metadata: { runId: request.runId } };
      const job = await call('create the fine-tuning job', { ...api, attempts: 1 }, (budget) =>
        client.fineTuning.jobs.create(body, budget),
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

    getJob: shared.getJob,
    cancelJob: shared.cancelJob,

    async resultFile(job) {
      const fileId = job.resultFileIds[0];
      if (!fileId) return undefined;
      return shared.download(fileId);
    },

    async deleteModel(model) {
      await call(`delete model ${model}`, api, (budget) => client.models.delete(model, budget));
    },
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
const isQuotaError = (body: ErrorBody | null | undefined): boolean =>
  body?.code === 'insufficient_quota' || body?.type === 'insufficient_quota';

/** Sorts the SDK's errors into those a retry may fix and those it cannot, in OpenAI's words. */
export function translateError(what: string, error: unknown): TunedropError {
  return translateProviderError(OPENAI_VOICE, what, error);
}
