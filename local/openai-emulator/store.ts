import { randomBytes } from 'node:crypto';

/**
 * What the emulated provider holds: uploaded files, fine-tuning jobs with their events and checkpoints,
 * and the fine-tuned models they made. Plain data and the operations on it, no HTTP and no timers, so
 * that every emulated API (OpenAI's, and one day Azure's or Bedrock's) reads and writes the same records.
 * The records are in OpenAI's shapes, which OpenAI's routes return as they are.
 */

/**
 * A fine-tuned model: the base snapshot at the root of its lineage (what its price and rules are, and what
 * a model continued from it is named after) and its trained state, which a job continuing from it starts
 * from. `weights` is the trainer's model, kept opaque here.
 */
export interface FineTunedModel {
  base: string;
  weights: unknown;
}

/** What the emulator answered, per model: what an evaluation's cost is checked against. */
export interface ChatCompletionUsage {
  calls: number;
  choices: number;
  promptTokens: number;
  completionTokens: number;
}

/** Every chat completion answered, in total and per model (by the name the request gave). */
export class ChatCompletionLog {
  readonly total: ChatCompletionUsage = { calls: 0, choices: 0, promptTokens: 0, completionTokens: 0 };
  readonly byModel = new Map<string, ChatCompletionUsage>();

  record(model: string, usage: Omit<ChatCompletionUsage, 'calls'>): void {
    let entry = this.byModel.get(model);
    if (!entry)
      this.byModel.set(model, (entry = { calls: 0, choices: 0, promptTokens: 0, completionTokens: 0 }));
    for (const target of [this.total, entry]) {
      target.calls += 1;
      target.choices += usage.choices;
      target.promptTokens += usage.promptTokens;
      target.completionTokens += usage.completionTokens;
    }
  }
}

/** What the emulator embedded: calls, inputs (texts or token arrays) and cl100k_base tokens. */
export interface EmbeddingUsage {
  calls: number;
  inputs: number;
  tokens: number;
}

/**
 * Every embeddings request answered (embeddings.ts), in total and per model (by the name the request
 * gave): what a client's batching, retries and recorded cost are checked against. Refused requests are
 * not counted.
 */
export class EmbeddingLog {
  readonly total: EmbeddingUsage = { calls: 0, inputs: 0, tokens: 0 };
  readonly byModel = new Map<string, EmbeddingUsage>();

  record(model: string, usage: Omit<EmbeddingUsage, 'calls'>): void {
    let entry = this.byModel.get(model);
    if (!entry) this.byModel.set(model, (entry = { calls: 0, inputs: 0, tokens: 0 }));
    for (const target of [this.total, entry]) {
      target.calls += 1;
      target.inputs += usage.inputs;
      target.tokens += usage.tokens;
    }
  }
}

/** The organization every job belongs to, and whose name fine-tuned models carry. */
export const ORGANIZATION = 'org-local';

export interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  content: Uint8Array;
}

/**
 * OpenAI's six statuses, and the three of a paused job (pausing, paused, resuming), which only an API
 * with pause and resume (Azure's, see azure-routes.ts) brings a job into.
 */
export type JobStatus =
  | 'validating_files'
  | 'queued'
  | 'running'
  | 'pausing'
  | 'paused'
  | 'resuming'
  | 'succeeded'
  | 'failed'
  | 'cancelled';
export interface Hyperparameters {
  n_epochs: number | 'auto';
  batch_size: number | 'auto';
  learning_rate_multiplier: number | 'auto';
}
export interface Job {
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
export interface JobEvent {
  object: 'fine_tuning.job.event';
  id: string;
  created_at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  type: 'message' | 'metrics';
  data?: Record<string, number>;
}
export interface Checkpoint {
  object: 'fine_tuning.job.checkpoint';
  id: string;
  created_at: number;
  fine_tuned_model_checkpoint: string;
  step_number: number;
  metrics: Record<string, number>;
  fine_tuning_job_id: string;
}

/** The statuses of the spec's Batch. */
export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';
/** An error of a batch's input file (the spec's BatchError). */
export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}
/**
 * A batch in the spec's Batch shape. What is not set yet is null, as the live API shows it (the Batch
 * guide's and the spec's examples, https://platform.openai.com/docs/guides/batch, read 2026-11-30),
 * although the spec's schema types those fields without null.
 */
export interface Batch {
  id: string;
  object: 'batch';
  endpoint: string;
  model: string | null;
  errors: { object: 'list'; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: '24h';
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number };
    output_tokens: number;
    output_tokens_details: { reasoning_tokens: number };
    total_tokens: number;
  };
  metadata: Record<string, string> | null;
}

/** A job keeps its last three epochs' checkpoints, as OpenAI's do. */
const CHECKPOINTS_KEPT = 3;

export const now = () => Math.floor(Date.now() / 1000);
/** OpenAI's ids: a prefix and 24 letters and digits (`ftjob-abc…`). */
export const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('base64url')}`;
/** How a store names its records; the provider's own id shape (Azure's are 32 hex digits). */
export type IdMaker = (prefix: 'file' | 'ftjob' | 'ftevent' | 'ftckpt') => string;
export const isFinished = (status: JobStatus) =>
  status === 'succeeded' || status === 'failed' || status === 'cancelled';

export class Store {
  private readonly files = new Map<string, StoredFile>();
  private readonly jobs = new Map<string, Job>();
  private readonly events = new Map<string, JobEvent[]>();
  private readonly checkpoints = new Map<string, Checkpoint[]>();
  /** The fine-tuned models there are: each one's base snapshot and what it learned. */
  private readonly models = new Map<string, FineTunedModel>();
  private readonly batches = new Map<string, Batch>();
  /** The chat completions answered online, by POST /chat/completions (see chat-completions.ts). */
  readonly chatCompletions = new ChatCompletionLog();
  /** The chat completions answered as lines of a batch (see batches.ts), counted apart from those online. */
  readonly batchChatCompletions = new ChatCompletionLog();
  /** The embeddings requests answered online, by POST /embeddings (see embeddings.ts). */
  readonly embeddingCalls = new EmbeddingLog();
  /** The embeddings requests answered as lines of a batch (see batches.ts), counted apart from those online. */
  readonly batchEmbeddingCalls = new EmbeddingLog();

  constructor(private readonly ids: IdMaker = newId) {}

  /** A new id for a record of this kind, in the provider's shape. */
  newId(prefix: Parameters<IdMaker>[0]): string {
    return this.ids(prefix);
  }

  addFile(filename: string, purpose: string, content: Uint8Array): StoredFile {
    const file: StoredFile = {
      id: this.ids('file'),
      object: 'file',
      bytes: content.length,
      created_at: now(),
      filename,
      purpose,
      status: 'processed',
      content,
    };
    this.files.set(file.id, file);
    return file;
  }

  file(id: string): StoredFile | undefined {
    return this.files.get(id);
  }

  /** Oldest first, as uploaded. */
  allFiles(): StoredFile[] {
    return [...this.files.values()];
  }

  deleteFile(id: string): boolean {
    return this.files.delete(id);
  }

  /** Adds a job with no events or checkpoints yet. */
  addJob(job: Job): void {
    this.jobs.set(job.id, job);
    this.events.set(job.id, []);
    this.checkpoints.set(job.id, []);
  }

  job(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  jobsNewestFirst(): Job[] {
    return [...this.jobs.values()].reverse();
  }

  /** Appends an event to a job's log; `data` makes it a metrics event. */
  log(
    jobId: string,
    message: string,
    level: JobEvent['level'] = 'info',
    data?: Record<string, number>,
  ): void {
    this.events.get(jobId)!.push({
      object: 'fine_tuning.job.event',
      id: this.ids('ftevent'),
      created_at: now(),
      level,
      message,
      type: data ? 'metrics' : 'message',
      ...(data ? { data } : {}),
    });
  }

  eventsNewestFirst(jobId: string): JobEvent[] {
    return [...this.events.get(jobId)!].reverse();
  }

  addCheckpoint(
    jobId: string,
    checkpoint: Omit<Checkpoint, 'object' | 'id' | 'created_at' | 'fine_tuning_job_id'>,
  ): void {
    const list = this.checkpoints.get(jobId)!;
    list.push({
      object: 'fine_tuning.job.checkpoint',
      id: this.ids('ftckpt'),
      created_at: now(),
      ...checkpoint,
      fine_tuning_job_id: jobId,
    });
    if (list.length > CHECKPOINTS_KEPT) list.shift();
  }

  checkpointsNewestFirst(jobId: string): Checkpoint[] {
    return [...this.checkpoints.get(jobId)!].reverse();
  }

  addBatch(batch: Batch): void {
    this.batches.set(batch.id, batch);
  }

  batch(id: string): Batch | undefined {
    return this.batches.get(id);
  }

  /** Oldest first, as created. */
  allBatches(): Batch[] {
    return [...this.batches.values()];
  }

  addModel(name: string, model: FineTunedModel): void {
    this.models.set(name, model);
  }

  /** A fine-tuned model that has not been deleted, by its name. */
  fineTunedModel(name: string): FineTunedModel | undefined {
    return this.models.get(name);
  }

  deleteModel(name: string): boolean {
    return this.models.delete(name);
  }
}
