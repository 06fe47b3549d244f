import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ApiError } from './api-error.js';
import { page, readJson, readUpload, type AnsweringFault, type Flavor, type Route } from './http.js';
import { jobFromRequest, modelTable, type BaseModel, type JobRules } from './job-request.js';
import { fileView, getJob, MAX_FILE_BYTES } from './routes.js';
import { isFinished, type Job, type JobStatus, type Store } from './store.js';
import type { ResultsFormat } from './trainer.js';

/**
 * Azure OpenAI's v1 fine-tuning API (`{endpoint}/openai/v1/…`) over the same store and trainer as
 * OpenAI's: Azure's paths, `api-key` header, error body, statuses, model names, results.csv, and its
 * per-resource limits. Every fact below was read on 2026-11-29; "the v1 spec" is Azure/azure-rest-api-specs
 * specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.yaml at commit 31c65e1b; "the preview spec"
 * is specification/cognitiveservices/data-plane/AzureOpenAI/authoring/preview/2025-04-01-preview/.
 */

/** The v1 spec's servers entry is `{endpoint}/openai/v1`. */
export const AZURE_PREFIX = '/openai/v1';

/**
 * `api-version` is optional on every v1 path; AzureAIFoundryModelsApiVersion takes `v1` (the default) or
 * `preview` (the v1 spec). Another value answers 400 {"error":{"code":"BadRequest","message":"API version
 * not supported"}}, as the live /openai/v1/ API answered a dated version (openai/codex#3725, 2025-09-16).
 */
const API_VERSIONS = ['v1', 'preview'];

/**
 * A wrong or missing key answers 401 with this body, the live service's (SciSharp/BotSharp#386,
 * 2024-04-02; microsoft/semantic-kernel#10337, 2025-01-29, both the same text and code "401").
 */
const ACCESS_DENIED =
  'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';

/**
 * Per-resource limits of Azure's quotas page (https://learn.microsoft.com/en-us/azure/ai-services/openai/quotas-limits,
 * as docs/providers.md A4 records it): 1 simultaneous running training job and 20 queued. How the service
 * refuses a 21st queued job was not found: this emulator answers 429 (a quota, which a later retry can
 * pass) with the Azure error body.
 */
export const AZURE_MAX_RUNNING_JOBS = 1;
export const AZURE_MAX_QUEUED_JOBS = 20;

/**
 * Azure's status vocabulary (FineTuningState of the preview spec, per docs/providers.md A3: created, pending,
 * running, pausing, paused, resuming, succeeded, cancelled, failed; its examples post_finetuning_job.json
 * and pause_finetuning_job.json return "pending" and "paused"). The v1 spec's OpenAI.FineTuningJob.status
 * lists only OpenAI's six (validating_files, queued, running, succeeded, failed, cancelled) while also
 * defining pause and resume. This emulator answers with Azure's words: the GA tutorial (MicrosoftDocs/azure-ai-docs
 * articles/ai-foundry/openai/tutorials/fine-tune.md, using the v1 base URL) prints "Status: pending" for a new
 * job, and BerriAI/litellm#24687 (2026-03-27) normalizes a live "pending". An adapter must accept both sets.
 */
const AZURE_STATUS: Record<JobStatus, string> = {
  validating_files: 'pending',
  queued: 'pending',
  running: 'running',
  pausing: 'pausing',
  paused: 'paused',
  resuming: 'resuming',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

/**
 * Azure's ids are a prefix and 32 hex digits: `file-0e3aa3f2…`, `ftjob-900fcfc7…`, `ftevent-…`,
 * `ftchkpt-…` (the GA tutorial's outputs).
 */
export const azureId = (prefix: 'file' | 'ftjob' | 'ftevent' | 'ftckpt') =>
  `${prefix === 'ftckpt' ? 'ftchkpt' : prefix}-${randomBytes(16).toString('hex')}`;

/**
 * Azure names a model `<base>.ft-<32 hex>`: the GA tutorial shows `gpt-4o-mini-2024-07-18.ft-0e208cf3…` for job
 * `ftjob-372c72db…`, so the hex is not the job's id, and a client must read `fine_tuned_model`. Whether a
 * `suffix` is appended was not found; it is kept in `user_provided_suffix` only.
 */
export const azureModelName = (_job: Job, base: string) => `${base}.ft-${randomBytes(16).toString('hex')}`;

/**
 * results.csv with the metric names of the v1 spec's OpenAI.FineTuningJobCheckpoint.metrics (also the
 * tutorial's metrics events). The header of a live results.csv was not found; an older how-to names a
 * column `validation_mean_token_accuracy` (docs/providers.md A7). Microsoft's job-management guide saves
 * the downloaded bytes as results.csv with no decoding (MicrosoftDocs/azure-ai-docs
 * articles/foundry/includes/fine-tuning-job-management.md), so the file is served as plain CSV, unlike
 * OpenAI's base64.
 */
export const AZURE_RESULTS: ResultsFormat = {
  columns: [
    ['step', 'step'],
    ['train_loss', 'train_loss'],
    ['train_mean_token_accuracy', 'train_mean_token_accuracy'],
    ['valid_loss', 'valid_loss'],
    ['valid_mean_token_accuracy', 'valid_mean_token_accuracy'],
    ['full_valid_loss', 'full_valid_loss'],
    ['full_valid_mean_token_accuracy', 'full_valid_mean_token_accuracy'],
  ],
  encoding: 'plain',
};

/**
 * The models Azure fine-tunes with SFT or DPO (MicrosoftDocs/azure-ai-docs articles/foundry/includes/fine-tune-supported-models.md,
 * page date 2026-03-05): gpt-4o-mini-2024-07-18 (SFT), gpt-4o-2024-08-06 and the gpt-4.1 family of 2025-04-14
 * (SFT, DPO). o4-mini (RFT) and the Foundry-only open models are not emulated. gpt-4o takes images, as
 * vision fine-tuning examples there use `image_url` parts.
 */
const AZURE_BASE_MODELS: readonly BaseModel[] = [
  { snapshot: 'gpt-4o-mini-2024-07-18', methods: ['supervised'], images: false },
  { snapshot: 'gpt-4o-2024-08-06', methods: ['supervised', 'dpo'], images: true },
  { snapshot: 'gpt-4.1-2025-04-14', methods: ['supervised', 'dpo'], images: false },
  { snapshot: 'gpt-4.1-mini-2025-04-14', methods: ['supervised', 'dpo'], images: false },
  { snapshot: 'gpt-4.1-nano-2025-04-14', methods: ['supervised', 'dpo'], images: false },
];

/**
 * `trainingType` (Standard, GlobalStandard, developerTier) is documented for ?api-version=2025-04-01-preview
 * and is not in the v1 spec (docs/providers.md A3); it is accepted and not otherwise used. BerriAI/litellm#24687
 * (2026-03-27) found the live service wanting it (sending `trainingType: 1`) and answering its absence
 * with "The specified base model does not support fine-tuning."; the emulator does not require it.
 */
const TrainingType = z
  .union([z.enum(['Standard', 'GlobalStandard', 'developerTier']), z.literal(1)])
  .optional();

const AZURE_JOB_RULES: JobRules = {
  models: modelTable(AZURE_BASE_MODELS),
  // The v1 spec accepts `metadata` on create (OpenAI.CreateFineTuningJobRequest) and the preview spec has
  // no such field; whether the live service keeps it was not found. It is dropped (not refused, which
  // the v1 spec does not allow), so that a client that looks its job up by metadata finds nothing.
  keepMetadata: false,
  unknownModel: () =>
    new ApiError(400, 'The specified base model does not support fine-tuning.', 'model', 'invalidPayload'),
  checkExtra: (body) => {
    if (!TrainingType.safeParse(body.trainingType).success)
      throw new ApiError(
        400,
        `Invalid trainingType ${JSON.stringify(body.trainingType)}: expected Standard, GlobalStandard or developerTier.`,
        'trainingType',
        'invalidPayload',
      );
  },
};

/** The purposes AzureCreateFileRequestMultiPart takes (the v1 spec). */
const UPLOAD_PURPOSES = ['assistants', 'batch', 'fine-tune', 'evals'];

export interface AzureAuth {
  /** When set, only this `api-key` is accepted; otherwise any non-empty one. */
  apiKey: string | undefined;
  /** When set, `Authorization: Bearer <entraToken>` is accepted too (Entra ID); otherwise no bearer is. */
  entraToken: string | undefined;
}

/**
 * `extraRoutes` are answered after Azure's own: the chat completions and embeddings of deployments
 * (azure-management.ts).
 */
export function azureFlavor(auth: AzureAuth, extraRoutes: readonly Route[] = []): Flavor {
  return {
    prefix: AZURE_PREFIX,
    authorized: (request) => authorized(request, auth),
    unauthorized: { status: 401, body: { error: { code: '401', message: ACCESS_DENIED } } },
    check: (url) => {
      const version = url.searchParams.get('api-version');
      if (version !== null && !API_VERSIONS.includes(version))
        throw new ApiError(400, 'API version not supported', null, 'BadRequest');
    },
    errorBody: azureErrorBody,
    faultAnswer,
    routes: [...AZURE_ROUTES, ...extraRoutes],
  };
}

/**
 * The v1 spec's securitySchemes: ApiKeyAuth (header `api-key`), ApiKeyAuth_ (header `authorization`) and
 * OAuth2 (Entra ID bearer tokens). A bearer is only taken as an Entra token.
 */
function authorized(request: IncomingMessage, { apiKey, entraToken }: AzureAuth): boolean {
  const key = request.headers['api-key'];
  if (typeof key === 'string' && key !== '') return apiKey === undefined || key === apiKey;
  const authorization = String(request.headers.authorization ?? '');
  return entraToken !== undefined && authorization === `Bearer ${entraToken}`;
}

/**
 * AzureErrorResponse of the v1 spec: {error: {code: string, message, param?: string, type: "error"}}.
 * Codes without a source of their own: a 400's "invalidPayload" is the code the live service gave a bad
 * upload (Azure/azure-sdk-for-net#44710, 2024-06-24); other statuses use their number, as the 401 does.
 */
function azureErrorBody(error: ApiError) {
  const code = error.code ?? (error.status === 400 ? 'invalidPayload' : String(error.status));
  return {
    error: {
      code,
      message: error.message,
      ...(error.param ? { param: error.param } : {}),
      type: 'error',
    },
  };
}

function faultAnswer(fault: AnsweringFault) {
  // Azure's rate limit: 429 {error: {code: "RateLimitReached", message: "Your requests to <deployment> for
  // <model> in <region> have exceeded the call rate limit for your current AIServices S0 pricing tier. This
  // request was for Embeddings_Create under Azure OpenAI API version … Please retry after 2 seconds. …"}}
  // (Lapis0x0/obsidian-yolo#297, 2026-05-11, read 2026-11-30), with retry-after.
  if (fault.kind === 'rateLimit')
    return {
      status: 429,
      body: {
        error: {
          code: 'RateLimitReached',
          message: `Your requests to ${fault.model} for ${fault.model} in local have exceeded the call rate limit for your current AIServices S0 pricing tier. This request was for Embeddings_Create under Azure OpenAI API version v1. Please retry after ${fault.retryAfterSeconds} seconds.`,
        },
      },
      headers: { 'retry-after': String(fault.retryAfterSeconds) },
    };
  if (fault.kind === 'insufficientQuota')
    return {
      status: 429,
      body: azureErrorBody(new ApiError(429, 'Quota exceeded for this resource.', null, '429')),
    };
  const error = new ApiError(
    fault.status,
    fault.message ?? `Injected fault: HTTP ${fault.status}`,
    null,
    fault.code ?? null,
  );
  return {
    status: fault.status,
    body: azureErrorBody(error),
    headers:
      fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : undefined,
  };
}

/** A job as Azure shows it: Azure's status, and no metadata (null, which the v1 spec's required field allows). */
export function azureJob(job: Job) {
  return { ...job, status: AZURE_STATUS[job.status], metadata: null };
}

const uploadFile: Route = async ({ store }, { method, path, request }) => {
  if (method !== 'POST' || path !== '/files') return undefined;
  // The v1 spec caps nothing itself; Azure's per-file limit is 512 MB (quotas page, docs/providers.md A4).
  const form = await readUpload(request, MAX_FILE_BYTES);
  const file = form.files.get('file');
  const purpose = form.fields.get('purpose');
  if (!file) throw new ApiError(400, "Missing required parameter: 'file'.", 'file');
  if (!purpose || !UPLOAD_PURPOSES.includes(purpose))
    throw new ApiError(
      400,
      `Invalid purpose ${JSON.stringify(purpose ?? null)}: expected one of ${UPLOAD_PURPOSES.join(', ')}.`,
      'purpose',
    );
  if (!file.content) throw new ApiError(400, 'File is too large.', 'file');
  // `expires_after` is required by AzureCreateFileRequestMultiPart, yet Microsoft's own examples upload
  // without it (files.create(file=…, purpose="fine-tune") in the GA tutorial): it is optional here.
  return { json: fileView(store.addFile(file.filename || 'upload.jsonl', purpose, file.content)) };
};

const listFiles: Route = ({ store }, { method, path, url }) => {
  if (method !== 'GET' || path !== '/files') return undefined;
  const purpose = url.searchParams.get('purpose');
  const files = store.allFiles().filter((file) => purpose === null || file.purpose === purpose);
  return { json: page(files.map(fileView), url) };
};

const fileById: Route = ({ store }, { method, path }) => {
  const m = /^\/files\/([^/]+)(\/content)?$/.exec(path);
  if (!m) return undefined;
  const file = store.file(decodeURIComponent(m[1]!));
  if (!file) throw new ApiError(404, `File ${m[1]} not found.`, null, 'notFound');
  if (method === 'GET' && m[2])
    return { raw: file.content, contentType: file.purpose === 'fine-tune-results' ? 'text/csv' : undefined };
  if (method === 'GET') return { json: fileView(file) };
  if (method !== 'DELETE') return undefined;
  store.deleteFile(file.id);
  return { json: { id: file.id, object: 'file', deleted: true } };
};

const jobs: Route = async ({ store, trainer }, { method, path, url, request }) => {
  if (path !== '/fine_tuning/jobs') return undefined;
  if (method === 'POST') {
    const body = (await readJson(request)) as Record<string, unknown>;
    if (pendingJobs(store) >= AZURE_MAX_QUEUED_JOBS)
      throw new ApiError(
        429,
        `This resource already has ${AZURE_MAX_QUEUED_JOBS} queued fine-tuning jobs, the most it may have.`,
        null,
        'quotaExceeded',
      );
    const { job, base } = jobFromRequest(body, store, AZURE_JOB_RULES);
    store.addJob(job);
    store.log(job.id, `Created fine-tuning job: ${job.id}`);
    trainer.start(job, { images: base.images });
    return { json: azureJob(job) };
  }
  // No `metadata[k]=v` filter: the v1 spec's listPaginatedFineTuningJobs takes only after and limit.
  if (method === 'GET') return { json: page(store.jobsNewestFirst().map(azureJob), url) };
  return undefined;
};

/** Jobs not yet training: validating their files, or waiting for the running one. */
function pendingJobs(store: Store): number {
  return store.jobsNewestFirst().filter((job) => job.status === 'validating_files' || job.status === 'queued')
    .length;
}

const jobById: Route = ({ store, trainer }, { method, path, url }) => {
  const m = /^\/fine_tuning\/jobs\/([^/]+)(?:\/(cancel|events|checkpoints|pause|resume))?$/.exec(path);
  if (!m) return undefined;
  const job = getJob(store, decodeURIComponent(m[1]!));
  const action = m[2];
  if (method === 'GET' && !action) return { json: azureJob(job) };
  if (method === 'GET' && action === 'events') return { json: page(store.eventsNewestFirst(job.id), url) };
  // The v1 spec's listFineTuningJobCheckpoints defaults to 10.
  if (method === 'GET' && action === 'checkpoints') {
    if (!url.searchParams.has('limit')) url.searchParams.set('limit', '10');
    return { json: page(store.checkpointsNewestFirst(job.id), url) };
  }
  if (method !== 'POST') return undefined;
  if (action === 'cancel') {
    if (isFinished(job.status))
      throw new ApiError(400, `Job ${job.id} has already ${job.status}.`, null, 'invalidPayload');
    trainer.cancel(job);
    return { json: azureJob(job) };
  }
  // Pause applies only to a job "trained for at least one step and in a Running state", resume to a paused
  // one (MicrosoftDocs/azure-ai-docs articles/foundry/includes/fine-tuning-foundry.md).
  if (action === 'pause') {
    if (job.status !== 'running')
      throw new ApiError(
        400,
        `Job ${job.id} is ${AZURE_STATUS[job.status]}; only a running job can be paused.`,
      );
    trainer.pause(job);
    return { json: azureJob(job) };
  }
  if (action === 'resume') {
    if (job.status !== 'paused')
      throw new ApiError(
        400,
        `Job ${job.id} is ${AZURE_STATUS[job.status]}; only a paused job can be resumed.`,
      );
    trainer.resume(job);
    return { json: azureJob(job) };
  }
  return undefined;
};

/** The v1 spec has GET /models/{model} and no DELETE: a fine-tuned model is deleted with its deployment, in ARM. */
const AZURE_ROUTES: readonly Route[] = [uploadFile, listFiles, fileById, jobs, jobById];
