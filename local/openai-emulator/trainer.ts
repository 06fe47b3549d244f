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
}

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
const RESULTS_HEADER = 'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy';

/** Read through a call: a job's status changes while training awaits, which narrowing cannot see. */
const statusOf = (job: { status: JobStatus }): JobStatus => job.status;

/** OpenAI's name for a job's model: ft:<base>:<organization>:<suffix>:<id>. */
const fineTunedModelName = (job: Job) =>
  `ft:${job.model}:${ORGANIZATION}:${job.user_provided_suffix ?? 'custom'}:${job.id.slice(6, 14)}`;

export class Trainer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly jobFaults = new Map<string, JobFault>();
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
    this.later(this.options.timing.queuedMs, () => void this.train(job, files));
  }

  /** The job's files as the model trains on them, or the first problem that fails the job. */
  private readFiles(job: Job, images: boolean): JobFiles | TrainingFileError {
    const read = { method: job.method.type, images };
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
    const model = new BigramModel();
    const rows = [RESULTS_HEADER];
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
      fine_tuned_model_checkpoint: `${fineTunedModelName(job)}:ckpt-step-${step}`,
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
      if (statusOf(job) !== 'running' || this.closed) return undefined;
      const step = steps.next();
      metrics = model.train(sequences.slice(start, start + steps.batchSize));
      const valid = steps.evaluates() ? model.evaluate(steps.held) : undefined;
      rows.push(resultsRow(step, metrics, valid));
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

  /** Ends a job that trained to its last step: its injected failure, or its model and results file. */
  private conclude(job: Job, rows: string[], trainedTokens: number): void {
    const injected = this.jobFaults.get(job.id);
    if (injected?.failWith) {
      this.store.log(job.id, `Fine-tuning job failed: ${injected.failWith.message}`, 'error');
      this.finish(job, 'failed', { ...injected.failWith, param: null });
      return;
    }
    // OpenAI serves a job's results file base64-encoded.
    const result = this.store.addFile(
      `step_metrics.csv`,
      'fine-tune-results',
      new TextEncoder().encode(Buffer.from(`${rows.join('\n')}\n`).toString('base64')),
    );
    const name = fineTunedModelName(job);
    this.store.addModel(name);
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
    if (isFinished(job.status)) return;
    Object.assign(job, { status, error, finished_at: now(), estimated_finish: null });
    this.active -= 1;
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

/** A line of results.csv: the step's training metrics, and its validation metrics when it evaluated. */
function resultsRow(step: number, train: BatchMetrics, valid: BatchMetrics | undefined): string {
  return [
    step,
    train.loss.toFixed(5),
    train.accuracy.toFixed(5),
    valid ? valid.loss.toFixed(5) : '',
    valid ? valid.accuracy.toFixed(5) : '',
  ].join(',');
}

/** Where a job is in its steps, and which steps score the held-out validation examples. */
class StepCounter {
  step = 0;
  readonly total: number;
  readonly batchSize: number;
  readonly held: Sequence[];
  private readonly evalEvery: number;

  constructor(examples: number, resolved: Resolved, validation: Sequence[]) {
    this.batchSize = resolved.batch_size;
    this.total = totalSteps(examples, resolved);
    this.evalEvery = Math.max(1, Math.floor(this.total / EVALUATIONS));
    this.held = validation.slice(0, HELD_OUT);
  }

  next(): number {
    return ++this.step;
  }

  /** Whether the current step evaluates: every tenth of the job, and its last step. */
  evaluates(): boolean {
    return this.held.length > 0 && (this.step % this.evalEvery === 0 || this.step === this.total);
  }
}
