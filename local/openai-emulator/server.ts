import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveEpochs } from '../../functions/core/epochs.js';
import { BigramModel, type Sequence } from './bigram-model.js';
import { Faults, type JobFault } from './faults.js';
import { MultipartError, multipartBoundary, readMultipart, type MultipartForm } from './multipart.js';
import { parseTrainingFile, TrainingFileError } from './training-file.js';
import {
  DEFAULT_WEBHOOK_TIMING,
  WebhookSender,
  type FineTuningWebhookType,
  type WebhookDelivery,
  type WebhookEndpointOptions,
  type WebhookEventRecord,
  type WebhookTiming,
} from './webhooks.js';

export { signWebhook, WEBHOOK_USER_AGENT } from './webhooks.js';
export type {
  FineTuningWebhookType,
  WebhookDelivery,
  WebhookEndpointOptions,
  WebhookEventRecord,
  WebhookSignatureHeaders,
} from './webhooks.js';

/**
 * An emulator of OpenAI's fine-tuning API (files, fine_tuning.jobs, models delete) on 127.0.0.1, in the
 * shapes of the official OpenAPI spec, for the official `openai` SDK pointed at it with `baseURL`.
 * Jobs move validating_files → queued → running → succeeded over accelerated time, and their results
 * are computed: a bigram model really trains on the uploaded tokens (see bigram-model.ts). When a job
 * succeeds, fails or is cancelled, every registered webhook endpoint gets OpenAI's signed event, with
 * OpenAI's retries (see webhooks.ts).
 */
export interface EmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** When set, only this bearer key is accepted; otherwise any non-empty key. */
  apiKey?: string;
  /** Real milliseconds per phase and per training step, and the webhook retry schedule. */
  timing?: Partial<Timing>;
  /** Webhook endpoints registered at start, as in OpenAI's dashboard; their ids and secrets are in `webhookEndpoints`. */
  webhookEndpoints?: Array<{ url: string } & WebhookEndpointOptions>;
}

interface Timing extends WebhookTiming {
  validatingMs: number;
  queuedMs: number;
  msPerStep: number;
}

export interface RunningEmulator {
  baseUrl: string;
  port: number;
  /** Switch provider faults on for the next requests or jobs (see faults.ts). */
  faults: Faults;
  /** The most jobs that were validating, queued or running at the same time. */
  maxConcurrentJobs(): number;
  /** Register a webhook endpoint as in OpenAI's dashboard; the secret (whsec_…) is shown only here. */
  registerWebhookEndpoint(url: string, options?: WebhookEndpointOptions): { id: string; secret: string };
  /** Delete an endpoint: it gets no further events, and its pending retries stop. */
  removeWebhookEndpoint(id: string): boolean;
  /** The endpoints registered now, secrets included (those given in EmulatorOptions too). */
  readonly webhookEndpoints: ReadonlyArray<{
    id: string;
    url: string;
    secret: string;
    eventTypes: readonly FineTuningWebhookType[];
  }>;
  /** Every webhook event emitted, delivered or lost, in order. */
  readonly webhookEvents: readonly WebhookEventRecord[];
  /** Every delivery attempt, in order: event, endpoint, attempt, status or error. */
  readonly webhookDeliveries: readonly WebhookDelivery[];
  /** Resolves once every event emitted so far is delivered or given up on. */
  webhooksSettled(): Promise<void>;
  /** Stops the server, the jobs and every webhook retry or request still pending. */
  close(): Promise<void>;
}

const DEFAULT_TIMING: Timing = {
  validatingMs: 200,
  queuedMs: 200,
  msPerStep: 5,
  ...DEFAULT_WEBHOOK_TIMING,
};
/**
 * OpenAI's limit per uploaded file: "Individual files can be up to 512 MB" (createFile in
 * ../shared/openai/openapi.yaml and https://platform.openai.com/docs/api-reference/files/create, read
 * 2026-11-29), taken as MiB like tunedrop's validation (functions/core/dataset.ts). A file over a size
 * limit is refused with 400 {message: "File is too large.", type: invalid_request_error, param: null,
 * code: null}, as the live API answered for the Batch API's 200 MB limit
 * (https://github.com/bespokelabsai/curator/issues/111, read 2026-11-29).
 */
const MAX_FILE_BYTES = 512 * 1024 * 1024;
const ORGANIZATION = 'org-local';
/** OpenAI's words for a 429 that no retry fixes (see faults.ts for the source). */
const INSUFFICIENT_QUOTA_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.';

/**
 * Base models the emulated provider fine-tunes, by name or alias, with the methods each takes and
 * whether it trains on images. Retired or unknown ones answer 400. The emulator keeps its own table
 * (not tunedrop's catalog): it stands for the provider, and must disagree with tunedrop where OpenAI
 * would. Sources, read 2026-11-29:
 * - supervised: every model below but o4-mini (https://platform.openai.com/docs/guides/supervised-fine-tuning
 *   and the fine-tuning pricing page).
 * - dpo: gpt-4.1-2025-04-14 and gpt-4.1-mini-2025-04-14 are listed in the DPO guide
 *   (https://platform.openai.com/docs/guides/direct-preference-optimization); gpt-4o-2024-08-06 took a
 *   DPO job in a live run of 2024-12-29 (see training-file.ts) and was DPO's first model at its launch
 *   (December 2024); gpt-4o-mini-2024-07-18 is not in today's guide and has no DPO job on record: it
 *   is refused DPO, so that tunedrop's catalog cannot offer what the provider may refuse.
 * - images: gpt-4o-2024-08-06 only (https://platform.openai.com/docs/guides/vision-fine-tuning).
 * - o4-mini-2025-04-16 fine-tunes with reinforcement only (OpenAI's announcement of 2025-05-08), which
 *   this emulator does not run: it refuses supervised and dpo jobs on it, as OpenAI does.
 */
interface BaseModel {
  snapshot: string;
  methods: ReadonlyArray<'supervised' | 'dpo' | 'reinforcement'>;
  images: boolean;
}
const BASE_MODELS: readonly BaseModel[] = [
  { snapshot: 'gpt-4.1-mini-2025-04-14', methods: ['supervised', 'dpo'], images: false },
  { snapshot: 'gpt-4.1-2025-04-14', methods: ['supervised', 'dpo'], images: false },
  { snapshot: 'gpt-4o-mini-2024-07-18', methods: ['supervised'], images: false },
  { snapshot: 'gpt-4o-2024-08-06', methods: ['supervised', 'dpo'], images: true },
  { snapshot: 'o4-mini-2025-04-16', methods: ['reinforcement'], images: false },
];
/** The name without its date is an alias of the snapshot, as OpenAI resolves `gpt-4o-mini`. */
const MODELS: Record<string, BaseModel> = Object.fromEntries(
  BASE_MODELS.flatMap((model) => [
    [model.snapshot, model],
    [model.snapshot.replace(/-\d{4}-\d{2}-\d{2}$/, ''), model],
  ]),
);

interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  content: Uint8Array;
}

type JobStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
interface Hyperparameters {
  n_epochs: number | 'auto';
  batch_size: number | 'auto';
  learning_rate_multiplier: number | 'auto';
}
interface Job {
  object: 'fine_tuning.job';
  id: string;
  model: string;
  created_at: number;
  finished_at: number | null;
  fine_tuned_model: string | null;
  organization_id: string;
  result_files: string[];
  status: JobStatus;
  validation_file: string | null;
  training_file: string;
  hyperparameters: Hyperparameters;
  trained_tokens: number | null;
  error: { code: string; message: string; param: string | null } | null;
  user_provided_suffix: string | null;
  seed: number;
  estimated_finish: number | null;
  integrations: null;
  metadata: Record<string, string> | null;
  method: {
    type: 'supervised' | 'dpo';
    supervised?: { hyperparameters: Hyperparameters };
    dpo?: { hyperparameters: Hyperparameters & { beta: number | 'auto' } };
  };
}
interface JobEvent {
  object: 'fine_tuning.job.event';
  id: string;
  created_at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  type: 'message' | 'metrics';
  data?: Record<string, number>;
}
interface Checkpoint {
  object: 'fine_tuning.job.checkpoint';
  id: string;
  created_at: number;
  fine_tuned_model_checkpoint: string;
  step_number: number;
  metrics: Record<string, number>;
  fine_tuning_job_id: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }
}

const now = () => Math.floor(Date.now() / 1000);
/** Read through a call: a job's status changes while training awaits, which narrowing cannot see. */
const statusOf = (job: { status: JobStatus }): JobStatus => job.status;
const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('base64url')}`;

export async function startOpenAiEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const files = new Map<string, StoredFile>();
  const jobs = new Map<string, Job>();
  const events = new Map<string, JobEvent[]>();
  const checkpoints = new Map<string, Checkpoint[]>();
  const models = new Set<string>();
  const faults = new Faults();
  const jobFaults = new Map<string, JobFault>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const webhooks = new WebhookSender(timing, faults);
  for (const { url, ...endpointOptions } of options.webhookEndpoints ?? [])
    webhooks.register(url, endpointOptions);

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) fn();
    }, ms);
    timers.add(timer);
  };
  const log = (
    jobId: string,
    message: string,
    level: JobEvent['level'] = 'info',
    data?: Record<string, number>,
  ) => {
    events.get(jobId)!.push({
      object: 'fine_tuning.job.event',
      id: newId('ftevent'),
      created_at: now(),
      level,
      message,
      type: data ? 'metrics' : 'message',
      ...(data ? { data } : {}),
    });
  };
  let active = 0;
  let maxActive = 0;
  const finish = (job: Job, status: JobStatus, error: Job['error'] = null) => {
    if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled') return;
    Object.assign(job, { status, error, finished_at: now(), estimated_finish: null });
    active -= 1;
    // The event's created_at is when the job reached this status (WebhookFineTuningJob* in the spec).
    webhooks.emit(
      `fine_tuning.job.${status as 'succeeded' | 'failed' | 'cancelled'}`,
      job.id,
      job.finished_at!,
    );
  };

  const startJob = (job: Job) => {
    log(job.id, `Validating training file: ${job.training_file}`);
    later(timing.validatingMs, () => {
      if (job.status !== 'validating_files') return;
      let training: ReturnType<typeof parseTrainingFile>;
      let validation: Sequence[] = [];
      const read = { method: job.method.type, images: MODELS[job.model]!.images };
      try {
        training = parseTrainingFile(files.get(job.training_file)!.content, {
          ...read,
          fileId: job.training_file,
        });
        if (job.validation_file)
          validation = parseTrainingFile(files.get(job.validation_file)!.content, {
            ...read,
            fileId: job.validation_file,
            role: 'validation_file',
          }).sequences;
      } catch (error) {
        if (!(error instanceof TrainingFileError)) throw error;
        log(job.id, `File validation failed: ${error.message}`, 'error');
        finish(job, 'failed', { code: error.code, message: error.message, param: error.param });
        return;
      }
      job.status = 'queued';
      log(job.id, 'Files validated, moving job to queued state');
      if (jobFaults.get(job.id)?.stuckIn === 'queued') return;
      later(timing.queuedMs, () => void train(job, training, validation));
    });
  };

  const train = async (job: Job, training: ReturnType<typeof parseTrainingFile>, validation: Sequence[]) => {
    if (job.status !== 'queued') return;
    const n = training.sequences.length;
    const requested = job.method[job.method.type]!.hyperparameters;
    const resolved = {
      n_epochs: resolveEpochs(requested.n_epochs, n),
      // OpenAI's auto batch size is about 0.2% of the examples, within 1..256.
      batch_size:
        requested.batch_size === 'auto'
          ? Math.min(256, Math.max(1, Math.round(n * 0.002)))
          : requested.batch_size,
      // OpenAI documents 0.05-0.2 times the base rate; "auto" here reports 1.8 (this emulator's model has no learning rate).
      learning_rate_multiplier:
        requested.learning_rate_multiplier === 'auto' ? 1.8 : requested.learning_rate_multiplier,
    };
    Object.assign(job, { status: 'running', hyperparameters: resolved });
    job.method[job.method.type]!.hyperparameters = {
      ...job.method[job.method.type]!.hyperparameters,
      ...resolved,
    };
    const stepsPerEpoch = Math.ceil(n / resolved.batch_size);
    const totalSteps = stepsPerEpoch * resolved.n_epochs;
    job.estimated_finish = now() + Math.ceil((totalSteps * timing.msPerStep) / 1000);
    log(job.id, 'Fine-tuning job started');

    const model = new BigramModel();
    const evalEvery = Math.max(1, Math.floor(totalSteps / 10));
    const held = validation.slice(0, 200);
    const rows = ['step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy'];
    let step = 0;
    for (let epoch = 1; epoch <= resolved.n_epochs; epoch++) {
      for (let start = 0; start < n; start += resolved.batch_size) {
        if (statusOf(job) !== 'running' || closed) return;
        step++;
        const metrics = model.train(training.sequences.slice(start, start + resolved.batch_size));
        const evaluated = held.length > 0 && (step % evalEvery === 0 || step === totalSteps);
        const valid = evaluated ? model.evaluate(held) : undefined;
        rows.push(
          [
            step,
            metrics.loss.toFixed(5),
            metrics.accuracy.toFixed(5),
            valid ? valid.loss.toFixed(5) : '',
            valid ? valid.accuracy.toFixed(5) : '',
          ].join(','),
        );
        log(job.id, `Step ${step}/${totalSteps}: training loss=${metrics.loss.toFixed(2)}`, 'info', {
          step,
          train_loss: metrics.loss,
          train_mean_token_accuracy: metrics.accuracy,
        });
        await new Promise((resolve) => setTimeout(resolve, timing.msPerStep));
      }
      const name = `ft:${job.model}:${ORGANIZATION}:${job.user_provided_suffix ?? 'custom'}:${job.id.slice(6, 14)}`;
      const list = checkpoints.get(job.id)!;
      list.push({
        object: 'fine_tuning.job.checkpoint',
        id: newId('ftckpt'),
        created_at: now(),
        fine_tuned_model_checkpoint: `${name}:ckpt-step-${step}`,
        step_number: step,
        metrics: {
          step,
          train_loss: Number(rows.at(-1)!.split(',')[1]),
          train_mean_token_accuracy: Number(rows.at(-1)!.split(',')[2]),
        },
        fine_tuning_job_id: job.id,
      });
      if (list.length > 3) list.shift();
    }
    if (statusOf(job) !== 'running') return;
    const injected = jobFaults.get(job.id);
    if (injected?.failWith) {
      log(job.id, `Fine-tuning job failed: ${injected.failWith.message}`, 'error');
      finish(job, 'failed', { ...injected.failWith, param: null });
      return;
    }
    const result: StoredFile = storeFile(
      `step_metrics.csv`,
      'fine-tune-results',
      new TextEncoder().encode(Buffer.from(`${rows.join('\n')}\n`).toString('base64')),
    );
    const name = `ft:${job.model}:${ORGANIZATION}:${job.user_provided_suffix ?? 'custom'}:${job.id.slice(6, 14)}`;
    models.add(name);
    Object.assign(job, {
      fine_tuned_model: name,
      trained_tokens: training.tokens * resolved.n_epochs,
      result_files: injected?.noResultFile ? [] : [result.id],
    });
    log(job.id, `New fine-tuned model created: ${name}`);
    log(job.id, 'The job has successfully completed');
    finish(job, 'succeeded');
  };

  const storeFile = (filename: string, purpose: string, content: Uint8Array): StoredFile => {
    const file: StoredFile = {
      id: newId('file'),
      object: 'file',
      bytes: content.length,
      created_at: now(),
      filename,
      purpose,
      status: 'processed',
      content,
    };
    files.set(file.id, file);
    return file;
  };
  const fileView = ({ content: _content, ...file }: StoredFile) => file;
  const getJob = (id: string) => {
    const job = jobs.get(id);
    if (!job)
      throw new ApiError(404, `No such job: ${id}`, 'fine_tuning_job_id', 'fine_tuning_job_not_found');
    return job;
  };
  const page = <T extends { id: string }>(items: T[], url: URL) => {
    const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20)));
    const after = url.searchParams.get('after');
    const start = after ? items.findIndex((item) => item.id === after) + 1 : 0;
    const data = items.slice(start, start + limit);
    return {
      object: 'list',
      data,
      has_more: start + limit < items.length,
      ...(data.length
        ? { first_id: data[0]!.id, last_id: data.at(-1)!.id }
        : { first_id: null, last_id: null }),
    };
  };

  const createJob = (body: Record<string, unknown>): Job => {
    const base = MODELS[String(body.model)];
    if (!base)
      throw new ApiError(
        400,
        `Model ${String(body.model)} is not available for fine-tuning or does not exist.`,
        'model',
        'model_not_available',
      );
    const training = files.get(String(body.training_file));
    if (!training)
      throw new ApiError(
        400,
        `invalid training_file: ${String(body.training_file)}`,
        'training_file',
        'invalid_training_file',
      );
    if (training.purpose !== 'fine-tune')
      throw new ApiError(
        400,
        `File ${training.id} has purpose ${training.purpose}, not fine-tune.`,
        'training_file',
      );
    if (body.validation_file != null && !files.has(String(body.validation_file)))
      throw new ApiError(400, `invalid validation_file: ${String(body.validation_file)}`, 'validation_file');
    const suffix = body.suffix == null ? null : String(body.suffix);
    // The spec's CreateFineTuningJobRequest.suffix: minLength 1, maxLength 64.
    if (suffix !== null && suffix.length > 64)
      throw new ApiError(400, 'suffix must be at most 64 characters', 'suffix');
    if (suffix === '')
      throw new ApiError(
        400,
        "Invalid 'suffix': string too short. Expected a string with minimum length 1, but got an empty string instead.",
        'suffix',
      );
    const method = (body.method ?? { type: 'supervised' }) as {
      type?: string;
      supervised?: { hyperparameters?: Partial<Hyperparameters> };
      dpo?: { hyperparameters?: Partial<Hyperparameters> };
    };
    const type = method.type ?? 'supervised';
    if (type !== 'supervised' && type !== 'dpo' && type !== 'reinforcement')
      throw new ApiError(400, `invalid method.type: ${JSON.stringify(type)}`, 'method.type');
    // The method against the model is checked when the job is created (the live API's wording is not
    // known; the spec's ErrorResponse shape is).
    if (!base.methods.includes(type))
      throw new ApiError(
        400,
        `Model ${base.snapshot} does not support the ${type} fine-tuning method.`,
        'method.type',
        'invalid_method',
      );
    if (type === 'reinforcement')
      throw new ApiError(400, 'This emulator does not run reinforcement fine-tuning.', 'method.type');
    const model = base.snapshot;
    const given = {
      ...(body.hyperparameters as Partial<Hyperparameters> | undefined),
      ...method[type]?.hyperparameters,
    };
    const check = (name: keyof Hyperparameters, valid: (v: number) => boolean) => {
      const value = given[name] ?? 'auto';
      if (value !== 'auto' && !(typeof value === 'number' && valid(value)))
        throw new ApiError(
          400,
          `invalid hyperparameters.${name}: ${JSON.stringify(value)}`,
          `hyperparameters.${name}`,
        );
      return value;
    };
    const hyperparameters: Hyperparameters = {
      n_epochs: check('n_epochs', (v) => Number.isInteger(v) && v >= 1 && v <= 50),
      batch_size: check('batch_size', (v) => Number.isInteger(v) && v >= 1 && v <= 256),
      learning_rate_multiplier: check('learning_rate_multiplier', (v) => v > 0 && v <= 10),
    };
    const job: Job = {
      object: 'fine_tuning.job',
      id: newId('ftjob'),
      model,
      created_at: now(),
      finished_at: null,
      fine_tuned_model: null,
      organization_id: ORGANIZATION,
      result_files: [],
      status: 'validating_files',
      validation_file: body.validation_file == null ? null : String(body.validation_file),
      training_file: training.id,
      hyperparameters,
      trained_tokens: null,
      error: null,
      user_provided_suffix: suffix,
      seed: typeof body.seed === 'number' ? body.seed : Math.floor(Math.random() * 2 ** 31),
      estimated_finish: null,
      integrations: null,
      metadata: (body.metadata as Record<string, string> | undefined) ?? null,
      method:
        type === 'dpo'
          ? { type, dpo: { hyperparameters: { ...hyperparameters, beta: 'auto' } } }
          : { type, supervised: { hyperparameters } },
    };
    jobs.set(job.id, job);
    active += 1;
    maxActive = Math.max(maxActive, active);
    jobFaults.set(job.id, faults.takeJobFault());
    events.set(job.id, []);
    checkpoints.set(job.id, []);
    log(job.id, `Created fine-tuning job: ${job.id}`);
    startJob(job);
    return job;
  };

  const route = async (
    request: IncomingMessage,
    url: URL,
  ): Promise<{ status?: number; json?: unknown; raw?: Uint8Array }> => {
    const method = request.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '');
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/files') {
      const boundary = multipartBoundary(request.headers['content-type']);
      if (!boundary)
        throw new ApiError(
          400,
          `Invalid Content-Type header (${request.headers['content-type'] ?? 'none'}), expected multipart/form-data.`,
        );
      const contentLength = Number(request.headers['content-length']);
      let form: MultipartForm;
      try {
        form = await readMultipart(request, {
          boundary,
          maxFileBytes: MAX_FILE_BYTES,
          sizeHint: Number.isFinite(contentLength) ? contentLength : undefined,
        });
      } catch (error) {
        if (error instanceof MultipartError) throw new ApiError(400, error.message);
        throw error;
      }
      const file = form.files.get('file');
      const purpose = form.fields.get('purpose');
      if (!file) throw new ApiError(400, "Missing required parameter: 'file'.", 'file');
      if (!purpose) throw new ApiError(400, "Missing required parameter: 'purpose'.", 'purpose');
      if (!file.content) throw new ApiError(400, 'File is too large.');
      return { json: fileView(storeFile(file.filename || 'upload.jsonl', purpose, file.content)) };
    }
    if (method === 'GET' && path === '/v1/files')
      return { json: page([...files.values()].map(fileView), url) };
    if ((m = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path))) {
      const file = files.get(decodeURIComponent(m[1]!));
      if (!file) throw new ApiError(404, `No such File object: ${m[1]}`, 'id');
      if (method === 'GET' && m[2]) return { raw: file.content };
      if (method === 'GET') return { json: fileView(file) };
      if (method === 'DELETE') {
        files.delete(file.id);
        return { json: { id: file.id, object: 'file', deleted: true } };
      }
    }
    if (path === '/v1/fine_tuning/jobs') {
      if (method === 'POST') return { json: createJob((await readJson(request)) as Record<string, unknown>) };
      if (method === 'GET') {
        const filters = [...url.searchParams.entries()].flatMap(([k, v]) => {
          const key = /^metadata\[(.+)\]$/.exec(k);
          return key ? [[key[1]!, v] as const] : [];
        });
        const matching = [...jobs.values()]
          .reverse()
          .filter((job) => filters.every(([k, v]) => job.metadata?.[k] === v));
        return { json: page(matching, url) };
      }
    }
    if ((m = /^\/v1\/fine_tuning\/jobs\/([^/]+)(?:\/(cancel|events|checkpoints))?$/.exec(path))) {
      const job = getJob(decodeURIComponent(m[1]!));
      if (method === 'GET' && !m[2]) return { json: job };
      if (method === 'POST' && m[2] === 'cancel') {
        if (['succeeded', 'failed', 'cancelled'].includes(job.status))
          throw new ApiError(400, `Job ${job.id} has already ${job.status}.`, null, 'invalid_request_error');
        log(job.id, 'Fine-tuning job cancelled');
        finish(job, 'cancelled');
        return { json: job };
      }
      if (method === 'GET' && m[2] === 'events')
        return { json: page([...events.get(job.id)!].reverse(), url) };
      if (method === 'GET' && m[2] === 'checkpoints')
        return { json: page([...checkpoints.get(job.id)!].reverse(), url) };
    }
    if (method === 'DELETE' && (m = /^\/v1\/models\/(.+)$/.exec(path))) {
      const model = decodeURIComponent(m[1]!);
      if (!models.delete(model))
        throw new ApiError(404, `The model '${model}' does not exist`, 'model', 'model_not_found');
      return { json: { id: model, object: 'model', deleted: true } };
    }
    throw new ApiError(404, `Invalid URL (${method} ${url.pathname})`);
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const authorization = String(request.headers.authorization ?? '');
    const key = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
    if (!key || (options.apiKey !== undefined && key !== options.apiKey)) {
      request.resume();
      send(401, {
        error: {
          message: 'Incorrect API key provided.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
      return;
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    const fault = faults.take(request.method ?? 'GET', url.pathname.replace(/^\/v1/, '').replace(/\/+$/, ''));
    if (fault?.kind === 'reset') {
      request.resume();
      request.socket.destroy();
      return;
    }
    if (fault?.kind === 'insufficientQuota') {
      request.resume();
      send(429, {
        error: {
          message: INSUFFICIENT_QUOTA_MESSAGE,
          type: 'insufficient_quota',
          param: null,
          code: 'insufficient_quota',
        },
      });
      return;
    }
    if (fault?.kind === 'status') {
      request.resume();
      response.writeHead(fault.status, {
        'content-type': 'application/json',
        ...(fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
      });
      response.end(
        JSON.stringify({
          error: {
            message: fault.message ?? `Injected fault: HTTP ${fault.status}`,
            type:
              fault.code === 'insufficient_quota'
                ? 'insufficient_quota'
                : fault.status === 429
                  ? 'rate_limit_error'
                  : fault.status >= 500
                    ? 'server_error'
                    : 'invalid_request_error',
            param: null,
            code: fault.code ?? null,
          },
        }),
      );
      return;
    }
    const delay = fault?.kind === 'slow' ? fault.delayMs : 0;
    const handled = new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() =>
      route(request, url),
    );
    handled.then(
      ({ status = 200, json, raw }) => {
        if (fault?.kind === 'lostResponse') {
          request.socket.destroy();
          return;
        }
        if (raw) {
          response.writeHead(status, { 'content-type': 'application/octet-stream' });
          response.end(raw);
        } else send(status, json);
      },
      (error: unknown) => {
        if (error instanceof ApiError)
          send(error.status, {
            error: { message: error.message, type: error.type, param: error.param, code: error.code },
          });
        else
          send(500, {
            error: { message: (error as Error).message, type: 'server_error', param: null, code: null },
          });
      },
    );
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://${options.host ?? '127.0.0.1'}:${port}/v1`,
    port,
    faults,
    maxConcurrentJobs: () => maxActive,
    registerWebhookEndpoint: (url, endpointOptions) => webhooks.register(url, endpointOptions),
    removeWebhookEndpoint: (id) => webhooks.remove(id),
    get webhookEndpoints() {
      return [...webhooks.endpoints.values()].map((endpoint) => ({ ...endpoint }));
    },
    webhookEvents: webhooks.events,
    webhookDeliveries: webhooks.deliveries,
    webhooksSettled: () => webhooks.settled(),
    async close() {
      closed = true;
      webhooks.close();
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new ApiError(400, 'We could not parse the JSON body of your request.');
  }
}
