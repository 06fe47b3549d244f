import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errorBody } from './api-error.js';
import { batchRoutes, type BatchRunner } from './batches.js';
import { chatCompletions } from './chat-completions.js';
import { embeddings } from './embeddings.js';
import type { Faults } from './faults.js';
import {
  apiHandler,
  page,
  readJson,
  readUpload,
  type AnsweringFault,
  type Flavor,
  type Route,
} from './http.js';
import { jobFromRequest } from './job-request.js';
import { isFinished, type Job, type StoredFile, type Store } from './store.js';
import type { Trainer } from './trainer.js';

/**
 * OpenAI's REST API over the store and the trainer: its paths (files, fine_tuning.jobs, models delete,
 * chat completions of the models it knows, chat-completions.ts, embeddings, embeddings.ts, and batches of
 * them, batches.ts), its
 * bearer-key check and its error shapes, as a flavor of the shared HTTP plumbing (http.ts).
 */
export interface OpenAiApi {
  store: Store;
  trainer: Trainer;
  batches: BatchRunner;
  faults: Faults;
  /** When set, only this bearer key is accepted; otherwise any non-empty key. */
  apiKey: string | undefined;
}

/**
 * OpenAI's limit per uploaded file: "Individual files can be up to 512 MB" (createFile in
 * ../shared/openai/openapi.yaml and https://platform.openai.com/docs/api-reference/files/create, read
 * 2026-11-29), taken as MiB like tunedrop's validation (functions/core/dataset.ts). A file over a size
 * limit is refused with 400 {message: "File is too large.", type: invalid_request_error, param: null,
 * code: null}, as the live API answered for the Batch API's 200 MB limit
 * (https://github.com/bespokelabsai/curator/issues/111, read 2026-11-29).
 */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;
/** OpenAI's words for a 429 that no retry fixes (see faults.ts for the source). */
const INSUFFICIENT_QUOTA_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.';

/** The handler of every request to the emulated OpenAI API. */
export function openAiHandler(api: OpenAiApi): (request: IncomingMessage, response: ServerResponse) => void {
  return apiHandler(api, openAiFlavor(api.apiKey));
}

export function openAiFlavor(apiKey: string | undefined): Flavor {
  return {
    prefix: '/v1',
    authorized: (request) => authorized(request, apiKey),
    unauthorized: {
      status: 401,
      body: errorBody('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key'),
    },
    errorBody: (error) => error.body(),
    faultAnswer,
    routes: ROUTES,
  };
}

function authorized(request: IncomingMessage, apiKey: string | undefined): boolean {
  const authorization = String(request.headers.authorization ?? '');
  const key = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
  return key !== '' && (apiKey === undefined || key === apiKey);
}

/**
 * The rate limits a rateLimit fault reports: 3,000 RPM and 1,000,000 TPM (the TPM limit the live message
 * showed for text-embedding-3-small, VectorInstitute/health-rec#103, 2025-09-02; the RPM one is the
 * emulator's, as the per-tier numbers were NOT CONFIRMED, docs/embeddings-facts.md 1.6).
 */
const RATE_LIMITS = { requests: 3000, tokens: 1_000_000 };

/**
 * A rate limit's 429 as OpenAI answers it (faults.ts `rateLimit`, with its sources): the error body, and
 * `retry-after` with the x-ratelimit-* headers (the limit reached shows 0 remaining and resets after the
 * wait; the other one is untouched).
 */
function rateLimitAnswer(fault: Extract<AnsweringFault, { kind: 'rateLimit' }>) {
  const wait = fault.retryAfterSeconds;
  const limit = RATE_LIMITS[fault.limit];
  const per = fault.limit === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
  return {
    status: 429,
    body: errorBody(
      `Rate limit reached for ${fault.model} in organization org-local on ${per}: Limit ${limit}, Used ${limit}, Requested 1. Please try again in ${wait}s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
      fault.limit,
      null,
      'rate_limit_exceeded',
    ),
    headers: {
      'retry-after': String(wait),
      'x-ratelimit-limit-requests': String(RATE_LIMITS.requests),
      'x-ratelimit-remaining-requests': fault.limit === 'requests' ? '0' : String(RATE_LIMITS.requests - 1),
      'x-ratelimit-reset-requests': fault.limit === 'requests' ? `${wait}s` : '20ms',
      'x-ratelimit-limit-tokens': String(RATE_LIMITS.tokens),
      'x-ratelimit-remaining-tokens': fault.limit === 'tokens' ? '0' : String(RATE_LIMITS.tokens),
      'x-ratelimit-reset-tokens': fault.limit === 'tokens' ? `${wait}s` : '0s',
    },
  };
}

function faultAnswer(fault: AnsweringFault) {
  if (fault.kind === 'rateLimit') return rateLimitAnswer(fault);
  if (fault.kind === 'insufficientQuota')
    return {
      status: 429,
      body: errorBody(INSUFFICIENT_QUOTA_MESSAGE, 'insufficient_quota', null, 'insufficient_quota'),
    };
  return {
    status: fault.status,
    body: errorBody(
      fault.message ?? `Injected fault: HTTP ${fault.status}`,
      faultType(fault),
      null,
      fault.code ?? null,
    ),
    headers:
      fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : undefined,
  };
}

/** The error type OpenAI gives an injected status. */
function faultType(fault: { status: number; code?: string }): string {
  if (fault.code === 'insufficient_quota') return 'insufficient_quota';
  if (fault.status === 429) return 'rate_limit_error';
  return fault.status >= 500 ? 'server_error' : 'invalid_request_error';
}

const uploadFile: Route = async ({ store }, { method, path, request }) => {
  if (method !== 'POST' || path !== '/files') return undefined;
  const form = await readUpload(request, MAX_FILE_BYTES);
  const file = form.files.get('file');
  const purpose = form.fields.get('purpose');
  if (!file) throw new ApiError(400, "Missing required parameter: 'file'.", 'file');
  if (!purpose) throw new ApiError(400, "Missing required parameter: 'purpose'.", 'purpose');
  if (!file.content) throw new ApiError(400, 'File is too large.');
  return { json: fileView(store.addFile(file.filename || 'upload.jsonl', purpose, file.content)) };
};

const listFiles: Route = ({ store }, { method, path, url }) => {
  if (method !== 'GET' || path !== '/files') return undefined;
  return { json: page(store.allFiles().map(fileView), url) };
};

const fileById: Route = ({ store }, { method, path }) => {
  const m = /^\/files\/([^/]+)(\/content)?$/.exec(path);
  if (!m) return undefined;
  const file = store.file(decodeURIComponent(m[1]!));
  if (!file) throw new ApiError(404, `No such File object: ${m[1]}`, 'id');
  if (method === 'GET' && m[2]) return { raw: file.content };
  if (method === 'GET') return { json: fileView(file) };
  if (method !== 'DELETE') return undefined;
  store.deleteFile(file.id);
  return { json: { id: file.id, object: 'file', deleted: true } };
};

const jobs: Route = async ({ store, trainer }, { method, path, url, request }) => {
  if (path !== '/fine_tuning/jobs') return undefined;
  if (method === 'POST') {
    const { job, base } = jobFromRequest((await readJson(request)) as Record<string, unknown>, store);
    store.addJob(job);
    store.log(job.id, `Created fine-tuning job: ${job.id}`);
    trainer.start(job, { images: base.images });
    return { json: job };
  }
  if (method === 'GET') return { json: page(jobsWithMetadata(store, url.searchParams), url) };
  return undefined;
};

/** Newest first, those whose metadata has every `metadata[key]=value` of the query. */
function jobsWithMetadata(store: Store, query: URLSearchParams): Job[] {
  const filters = [...query.entries()].flatMap(([k, v]) => {
    const key = /^metadata\[(.+)\]$/.exec(k);
    return key ? [[key[1]!, v] as const] : [];
  });
  return store.jobsNewestFirst().filter((job) => filters.every(([k, v]) => job.metadata?.[k] === v));
}

const jobById: Route = ({ store, trainer }, { method, path, url }) => {
  const m = /^\/fine_tuning\/jobs\/([^/]+)(?:\/(cancel|events|checkpoints))?$/.exec(path);
  if (!m) return undefined;
  const job = getJob(store, decodeURIComponent(m[1]!));
  if (method === 'GET' && !m[2]) return { json: job };
  if (method === 'POST' && m[2] === 'cancel') {
    if (isFinished(job.status))
      throw new ApiError(400, `Job ${job.id} has already ${job.status}.`, null, 'invalid_request_error');
    trainer.cancel(job);
    return { json: job };
  }
  if (method === 'GET' && m[2] === 'events') return { json: page(store.eventsNewestFirst(job.id), url) };
  if (method === 'GET' && m[2] === 'checkpoints')
    return { json: page(store.checkpointsNewestFirst(job.id), url) };
  return undefined;
};

const deleteModel: Route = ({ store }, { method, path }) => {
  const m = method === 'DELETE' ? /^\/models\/(.+)$/.exec(path) : null;
  if (!m) return undefined;
  const model = decodeURIComponent(m[1]!);
  if (!store.deleteModel(model))
    throw new ApiError(404, `The model '${model}' does not exist`, 'model', 'model_not_found');
  return { json: { id: model, object: 'model', deleted: true } };
};

const ROUTES: readonly Route[] = [
  uploadFile,
  listFiles,
  fileById,
  jobs,
  jobById,
  deleteModel,
  chatCompletions,
  embeddings,
  batchRoutes,
];

/** A file as the API shows it: everything but its content. */
export const fileView = ({ content: _content, ...file }: StoredFile) => file;

export function getJob(store: Store, id: string): Job {
  const job = store.job(id);
  if (!job) throw new ApiError(404, `No such job: ${id}`, 'fine_tuning_job_id', 'fine_tuning_job_not_found');
  return job;
}
