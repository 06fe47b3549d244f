import { resolveEpochs } from '../../functions/core/epochs.js';
import { BigramModel, type BatchMetrics, type Sequence } from './bigram-model.js';
import type { Faults, JobFault } from './faults.js';
import { isFinished, now, ORGANIZATION, type Job, type JobStatus, type Store } from './store.js';
import { parseTrainingFile, TrainingFileError, type ParsedTrainingFile } from './training-file.js';

/**
 * Runs the store's jobs over accelerated time: validating_files → queued → running → succeeded (or
 * failed, or cancelled), logging each step as the job's events. A bigram model really trains on the
 * uploaded tokens (see bigram-model.ts), so the metrics, checkpoints and results.csv are computed, not
 * made up. It answers no request: whichever API created the job reads its progress from the store.
 * The jobs are the store's records, in OpenAI's shape, and their models are named as OpenAI names them;
 * another provider's API maps them to its own shapes.
 */
export interface TrainerTiming {
  validatingMs: number;
  queuedMs: number;
  msPerStep: number;
}

export interface TrainerOptions {
  timing: TrainerTiming;
  /** Where each job's job fault (failWith, stuckIn, noResultFile) is taken from when it starts. */
  faults: Faults;
  /** Called once when a job reaches succeeded, failed or cancelled. */
  onFinished: (job: Job) => void;
  /**
   * How many jobs may train (run, or be paused) at once; a job validated past that waits `queued`
   * until one finishes. @default Infinity (OpenAI documents no such limit per organization)
   */
  maxRunningJobs?: number;
  /**
   * The name of a job's model, decided when it starts running, from the job and the base snapshot at the
   * root of its lineage (the job's model, or the base of the fine-tuned model it continues).
   * @default OpenAI's (openAiModelName)
   */
  modelName?: (job: Job, base: string) => string;
  /** The columns and encoding of results.csv. @default OPENAI_RESULTS */
  results?: ResultsFormat;
  /** Whether a training file's UTF-8 byte order mark is refused or required (see training-file.ts). */
  byteOrderMark?: 'refused' | 'required';
}

/** The metrics of one step a results.csv column can hold. */
export type StepMetric =
  | 'step'
  | 'train_loss'
  | 'train_mean_token_accuracy'
  | 'valid_loss'
  | 'valid_mean_token_accuracy'
  | 'full_valid_loss'
  | 'full_valid_mean_token_accuracy';

/** results.csv as a provider writes it: its header names per metric, and how the file is served. */
export interface ResultsFormat {
  columns: ReadonlyArray<readonly [header: string, metric: StepMetric]>;
  /** OpenAI serves the file base64-encoded; Azure's docs save the downloaded bytes as the CSV. */
  encoding: 'base64' | 'plain';
}

/** OpenAI's results.csv: its header as this emulator has always written it, base64-encoded. */
export const OPENAI_RESULTS: ResultsFormat = {
  columns: [
    ['step', 'step'],
    ['train_loss', 'train_loss'],
    ['train_accuracy', 'train_mean_token_accuracy'],
    ['valid_loss', 'valid_loss'],
    ['valid_mean_token_accuracy', 'valid_mean_token_accuracy'],
  ],
  encoding: 'base64',
};

interface JobFiles {
  training: ParsedTrainingFile;
  validation: Sequence[];
}

interface Resolved {
  n_epochs: number;
  batch_size: number;
  learning_rate_multiplier: number;
}

/** How many validation examples are scored at each evaluation: enough for a curve, cheap per step. */
const HELD_OUT = 200;
/** Evaluations per job, spread evenly over its steps. */
const EVALUATIONS = 10;

/** Read through a call: a job's status changes while training awaits, which narrowing cannot see. */
const statusOf = (job: { status: JobStatus }): JobStatus => job.status;

/**
 * OpenAI's name for a job's model: ft:<base>:<organization>:<suffix>:<id>, the base being the snapshot at
 * the root of the lineage when the job continues a fine-tuned model (as the names in OpenAI's guide and
 * forum threads show: `ft:gpt-4.1-mini-2025-04-14:org:suffix:id`, never nested).
 */
export const openAiModelName = (job: Job, base: string) =>
  `ft:${base}:${ORGANIZATION}:${job.user_provided_suffix ?? 'custom'}:${job.id.slice(6, 14)}`;

export class Trainer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly jobFaults = new Map<string, JobFault>();
  private readonly modelNames = new Map<string, string>();
  /** Each training job's model as it learns, kept as the fine-tuned model's once it succeeds. */
  private readonly weights = new Map<string, BigramModel>();
  /** Validated jobs waiting for a training slot, oldest first. */
  private readonly waiting: Array<{ job: Job; files: JobFiles }> = [];
  /** The jobs holding a training slot (from leaving the wait until they finish). */
  private readonly slots = new Set<string>();
  private closed = false;
  private active = 0;
  private maxActive = 0;

  constructor(
    private readonly store: Store,
    private readonly options: TrainerOptions,
  ) {}

  /** The most jobs that were validating, queued or running at the same time. */
  maxConcurrentJobs(): number {
    return this.maxActive;
  }

  /** Starts a job the store holds; `images` says whether its model trains on images. */
  start(job: Job, { images }: { images: boolean }): void {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.jobFaults.set(job.id, this.options.faults.takeJobFault());
    this.store.log(job.id, `Validating training file: ${job.training_file}`);
    this.later(this.options.timing.validatingMs, () => this.validate(job, images));
  }

  /** Pauses a running job: it stops at its next step, `pausing` then `paused`, keeping its slot. */
  pause(job: Job): void {
    job.status = 'pausing';
    this.store.log(job.id, 'Fine-tuning job pausing');
  }

  /** Resumes a paused job: `resuming`, then `running` from the step it stopped at. */
  resume(job: Job): void {
    job.status = 'resuming';
    this.store.log(job.id, 'Fine-tuning job resuming');
  }

  /** Jobs validated and waiting for a training slot (those queued behind the running ones). */
  waitingJobs(): number {
    return this.waiting.filter(({ job }) => job.status === 'queued').length;
  }

  /** Cancels a job that has not finished (a finished one is left as it is). */
  cancel(job: Job): void {
    this.store.log(job.id, 'Fine-tuning job cancelled');
    this.finish(job, 'cancelled');
  }

  /** Stops every job: pending phases never run, and training stops at its next step. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  private validate(job: Job, images: boolean): void {
    if (job.status !== 'validating_files') return;
    const files = this.readFiles(job, images);
    if (files instanceof TrainingFileError) {
      this.store.log(job.id, `File validation failed: ${files.message}`, 'error');
      this.finish(job, 'failed', { code: files.code, message: files.message, param: files.param });
      return;
    }
    job.status = 'queued';
    this.store.log(job.id, 'Files validated, moving job to queued state');
    if (this.jobFaults.get(job.id)?.stuckIn === 'queued') return;
    this.waiting.push({ job, files });
    this.startWaiting();
  }

  /** Gives each free training slot to the oldest job still waiting for one. */
  private startWaiting(): void {
    const max = this.options.maxRunningJobs ?? Infinity;
    while (this.slots.size < max && this.waiting.length > 0) {
      const { job, files } = this.waiting.shift()!;
      if (job.status !== 'queued') continue;
      this.slots.add(job.id);
      this.later(this.options.timing.queuedMs, () => void this.train(job, files));
    }
  }

  /** The job's files as the model trains on them, or the first problem that fails the job. */
  private readFiles(job: Job, images: boolean): JobFiles | TrainingFileError {
    const read = { method: job.method.type, images, byteOrderMark: this.options.byteOrderMark ?? 'refused' };
    try {
      const training = parseTrainingFile(this.store.file(job.training_file)!.content, {
        ...read,
        fileId: job.training_file,
      });
      const validation = job.validation_file
        ? parseTrainingFile(this.store.file(job.validation_file)!.content, {
            ...read,
            fileId: job.validation_file,
            role: 'validation_file',
          }).sequences
        : [];
      return { training, validation };
    } catch (error) {
      if (error instanceof TrainingFileError) return error;
      throw error;
    }
  }

  private async train(job: Job, files: JobFiles): Promise<void> {
    if (job.status !== 'queued') return;
    const resolved = this.run(job, files.training.sequences.length);
    // A job continuing a fine-tuned model starts from what that model learned (a copy: the parent stays
    // as it was); a base model starts from nothing.
    const parent = this.store.fineTunedModel(job.model)?.weights;
    const model = parent instanceof BigramModel ? parent.clone() : new BigramModel();
    this.weights.set(job.id, model);
    const rows = [
      this.results()
        .columns.map(([header]) => header)
        .join(','),
    ];
    const steps = new StepCounter(files.training.sequences.length, resolved, files.validation);
    for (let epoch = 1; epoch <= resolved.n_epochs; epoch++) {
      const last = await this.trainEpoch(job, model, files.training.sequences, steps, rows);
      if (!last) return;
      this.checkpoint(job, steps.step, last);
    }
    if (statusOf(job) !== 'running') return;
    this.conclude(job, rows, files.training.tokens * resolved.n_epochs);
  }

  /** Saves the model at the end of an epoch, named after the job's model and the step. */
  private checkpoint(job: Job, step: number, last: BatchMetrics): void {
    this.store.addCheckpoint(job.id, {
      fine_tuned_model_checkpoint: `${this.modelName(job)}:ckpt-step-${step}`,
      step_number: step,
      metrics: {
        step,
        train_loss: Number(last.loss.toFixed(5)),
        train_mean_token_accuracy: Number(last.accuracy.toFixed(5)),
      },
    });
  }

  /** Moves a queued job to running with its hyperparameters resolved. */
  private run(job: Job, examples: number): Resolved {
    const resolved = resolveHyperparameters(job.method[job.method.type]!.hyperparameters, examples);
    Object.assign(job, { status: 'running', hyperparameters: resolved });
    job.method[job.method.type]!.hyperparameters = {
      ...job.method[job.method.type]!.hyperparameters,
      ...resolved,
    };
    this.modelNames.set(job.id, (this.options.modelName ?? openAiModelName)(job, this.baseOf(job)));
    const steps = totalSteps(examples, resolved);
    job.estimated_finish = now() + Math.ceil((steps * this.options.timing.msPerStep) / 1000);
    this.store.log(job.id, 'Fine-tuning job started');
    return resolved;
  }

  /**
   * One pass over the examples, a step per batch, each step logged and added to `rows`. Returns the
   * last step's metrics, or undefined when the job stopped (cancelled, or the emulator closed).
   */
  private async trainEpoch(
    job: Job,
    model: BigramModel,
    sequences: readonly Sequence[],
    steps: StepCounter,
    rows: string[],
  ): Promise<BatchMetrics | undefined> {
    let metrics: BatchMetrics | undefined;
    for (let start = 0; start < sequences.length; start += steps.batchSize) {
      await this.whilePaused(job);
      if (statusOf(job) !== 'running' || this.closed) return undefined;
      const step = steps.next();
      metrics = model.train(sequences.slice(start, start + steps.batchSize));
      const evaluates = steps.evaluates();
      rows.push(
        resultsRow(this.results(), {
          step,
          train: metrics,
          valid: evaluates ? model.evaluate(steps.held) : undefined,
          fullValid: evaluates && this.wantsFullValid() ? model.evaluate(steps.validation) : undefined,
        }),
      );
      this.store.log(
        job.id,
        `Step ${step}/${steps.total}: training loss=${metrics.loss.toFixed(2)}`,
        'info',
        {
          step,
          train_loss: metrics.loss,
          train_mean_token_accuracy: metrics.accuracy,
        },
      );
      await new Promise((resolve) => setTimeout(resolve, this.options.timing.msPerStep));
    }
    return metrics;
  }

  /** Waits out a pause between two steps: pausing becomes paused, resuming becomes running. */
  private async whilePaused(job: Job): Promise<void> {
    for (;;) {
      const status = statusOf(job);
      if (status === 'pausing') {
        job.status = 'paused';
        this.store.log(job.id, 'Fine-tuning job paused');
      } else if (status === 'resuming') {
        job.status = 'running';
        this.store.log(job.id, 'Fine-tuning job resumed');
        return;
      } else if (status !== 'paused' || this.closed) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, this.options.timing.msPerStep)));
    }
  }

  private results(): ResultsFormat {
    return this.options.results ?? OPENAI_RESULTS;
  }

  private wantsFullValid(): boolean {
    return this.results().columns.some(([, metric]) => metric.startsWith('full_valid'));
  }

  /** The base snapshot at the root of the job's lineage. */
  private baseOf(job: Job): string {
    return this.store.fineTunedModel(job.model)?.base ?? job.model;
  }

  private modelName(job: Job): string {
    return this.modelNames.get(job.id) ?? (this.options.modelName ?? openAiModelName)(job, this.baseOf(job));
  }

  /** Ends a job that trained to its last step: its injected failure, or its model and results file. */
  private conclude(job: Job, rows: string[], trainedTokens: number): void {
    const injected = this.jobFaults.get(job.id);
    if (injected?.failWith) {
      this.store.log(job.id, `Fine-tuning job failed: ${injected.failWith.message}`, 'error');
      this.finish(job, 'failed', { ...injected.failWith, param: null });
      return;
    }
    const csv = Buffer.from(`${rows.join('\n')}\n`);
    const result = this.store.addFile(
      `step_metrics.csv`,
      'fine-tune-results',
      this.results().encoding === 'base64' ? new TextEncoder().encode(csv.toString('base64')) : csv,
    );
    const name = this.modelName(job);
    this.store.addModel(name, { base: this.baseOf(job), weights: this.weights.get(job.id) });
    this.weights.delete(job.id);
    Object.assign(job, {
      fine_tuned_model: name,
      trained_tokens: trainedTokens,
      result_files: injected?.noResultFile ? [] : [result.id],
    });
    this.store.log(job.id, `New fine-tuned model created: ${name}`);
    this.store.log(job.id, 'The job has successfully completed');
    this.finish(job, 'succeeded');
  }

  private finish(job: Job, status: 'succeeded' | 'failed' | 'cancelled', error: Job['error'] = null): void {
    this.weights.delete(job.id);
    if (isFinished(job.status)) return;
    Object.assign(job, { status, error, finished_at: now(), estimated_finish: null });
    this.active -= 1;
    if (this.slots.delete(job.id)) this.startWaiting();
    this.options.onFinished(job);
  }
}

/** The hyperparameters a job runs with: "auto" resolved as OpenAI resolves it. */
function resolveHyperparameters(requested: Job['hyperparameters'], examples: number): Resolved {
  return {
    n_epochs: resolveEpochs(requested.n_epochs, examples),
    // OpenAI's auto batch size is about 0.2% of the examples, within 1..256.
    batch_size:
      requested.batch_size === 'auto'
        ? Math.min(256, Math.max(1, Math.round(examples * 0.002)))
        : requested.batch_size,
    // OpenAI documents 0.05-0.2 times the base rate; "auto" here reports 1.8 (this emulator's model has no learning rate).
    learning_rate_multiplier:
      requested.learning_rate_multiplier === 'auto' ? 1.8 : requested.learning_rate_multiplier,
  };
}

/** A step per batch, every epoch. */
function totalSteps(examples: number, resolved: Resolved): number {
  return Math.ceil(examples / resolved.batch_size) * resolved.n_epochs;
}

interface StepResults {
  step: number;
  train: BatchMetrics;
  /** On the held-out sample of the validation file, when the step evaluated. */
  valid: BatchMetrics | undefined;
  /** On the whole validation file, when the step evaluated and the format has such columns. */
  fullValid: BatchMetrics | undefined;
}

/** A line of results.csv in the provider's columns; a metric the step did not compute is empty. */
function resultsRow(format: ResultsFormat, { step, train, valid, fullValid }: StepResults): string {
  const value = (metrics: BatchMetrics | undefined, key: 'loss' | 'accuracy') =>
    metrics ? metrics[key].toFixed(5) : '';
  const values: Record<StepMetric, string> = {
    step: String(step),
    train_loss: value(train, 'loss'),
    train_mean_token_accuracy: value(train, 'accuracy'),
    valid_loss: value(valid, 'loss'),
    valid_mean_token_accuracy: value(valid, 'accuracy'),
    full_valid_loss: value(fullValid, 'loss'),
    full_valid_mean_token_accuracy: value(fullValid, 'accuracy'),
  };
  return format.columns.map(([, metric]) => values[metric]).join(',');
}

/** Where a job is in its steps, and which steps score the held-out validation examples. */
class StepCounter {
  step = 0;
  readonly total: number;
  readonly batchSize: number;
  readonly held: Sequence[];
  readonly validation: Sequence[];
  private readonly evalEvery: number;

  constructor(examples: number, resolved: Resolved, validation: Sequence[]) {
    this.batchSize = resolved.batch_size;
    this.total = totalSteps(examples, resolved);
    this.evalEvery = Math.max(1, Math.floor(this.total / EVALUATIONS));
    this.held = validation.slice(0, HELD_OUT);
    this.validation = validation;
  }

  next(): number {
    return ++this.step;
  }

  /** Whether the current step evaluates: every tenth of the job, and its last step. */
  evaluates(): boolean {
    return this.held.length > 0 && (this.step % this.evalEvery === 0 || this.step === this.total);
  }
}
