import { z } from 'zod';
import { DatasetRecordSchema } from './registry.js';
import { RunConfigSchema } from './config.js';
import { MAX_TRAIN_HASHES } from './split.js';
import { RunEvaluationSchema } from './run.js';

/**
 * The JSON the state machine carries from step to step. Each step reads what it needs through these
 * schemas and returns its own part, which the workflow stores at a fixed ResultPath:
 *   $            ExecutionInput (from validate)
 *   $.prepared   PreparedFiles  (Prepare)
 *   $.files      UploadedFiles  (Upload)
 *   $.slot       SlotGrant      (Acquire provider slot, through its task token)
 *   $.job        JobProgress    (Create job, then Get status)
 *   $.wake       JobWake        (Wait for job, through its task token) or the timeout's {Error, Cause}
 *   $.results    CollectedResults (Collect)
 *   $.failure    {Error, Cause} (any Catch)
 */
export const ExecutionInputSchema = z.object({
  runId: z.string(),
  family: z.string(),
  source: z.object({
    bucket: z.string(),
    key: z.string(),
    versionId: z.string().optional(),
    etag: z.string().optional(),
  }),
  config: RunConfigSchema,
  /** The model's snapshot id, resolved from the catalog by validate. */
  model: z.string(),
  split: z.object({
    seed: z.number(),
    threshold: z.number().nullable(),
    classThresholds: z.record(z.string(), z.number().nullable()).nullable().default(null),
    /** Heavily copied examples sent to training below the threshold (core/split.ts); absent before #10. */
    trainHashes: z.array(z.number()).max(MAX_TRAIN_HASHES).optional(),
  }),
  /** A validation file the user supplied next to the data; when set, nothing is split off. */
  validationSource: z
    .object({ bucket: z.string(), key: z.string(), versionId: z.string().optional() })
    .nullable()
    .default(null),
  /**
   * The training method validate settled on (the config's, or the one the file's format calls for);
   * absent in inputs from before #10, whose config always named one.
   */
  method: z.enum(['supervised', 'dpo']).optional(),
  /** Separator and end token to strip when a legacy prompt/completion file is converted to chat. */
  conversion: z.object({ separator: z.string(), endToken: z.string() }).nullable().default(null),
  estimate: z.object({
    billedTokens: z.number(),
    costUsd: z.number().nullable(),
    epochs: z.number(),
    /**
     * The evaluation's bound (core/evaluation.ts evaluationCostBound) and the held-out examples it counted:
     * Prepare scales it to the examples the family's data holds out ("dataset": "all"). Absent before #14.
     */
    evaluationCostUsd: z.number().nullable().optional(),
    evaluationExamples: z.number().int().min(0).optional(),
  }),
  /**
   * When tunedrop received the run (its item's createdAt, ISO 8601): its place in its family's queue, so
   * that a file that takes longer to check keeps its place. Absent in inputs from before #12.
   */
  receivedAt: z.string().optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;

export const PreparedFilesSchema = z.object({
  trainingKey: z.string(),
  trainingExamples: z.number(),
  validationKey: z.string().nullable(),
  validationExamples: z.number(),
  /** The model the job trains from (the base, or the family's current model); absent before #12: `model`. */
  startFrom: z.string().optional(),
  /** What the run trains on; absent before #12. */
  dataset: DatasetRecordSchema.optional(),
});
export type PreparedFiles = z.infer<typeof PreparedFilesSchema>;

export const UploadedFilesSchema = z.object({
  trainingFileId: z.string(),
  validationFileId: z.string().nullable(),
});
export type UploadedFiles = z.infer<typeof UploadedFilesSchema>;

export const JobProgressSchema = z.object({
  jobId: z.string(),
  /** The provider's status, or one tunedrop does not know yet. */
  status: z.string(),
  /** Folded for the workflow's Choice; timed_out is tunedrop's own (maxTrainingHours passed). */
  phase: z.enum(['running', 'succeeded', 'failed', 'cancelled', 'timed_out']),
  /** When the provider created the job, in epoch seconds: the start of maxTrainingHours. */
  createdAt: z.number(),
  /** Turns of Wait for job so far (each ends woken by the job's event or at its timeout). */
  polls: z.number().int(),
  /** Wait for job's timeout: how long before Get status looks without being woken. */
  waitSeconds: z.number().int().positive(),
  /** Why the provider failed the job, when it did. */
  error: z.object({ code: z.string().nullable(), message: z.string() }).nullable().default(null),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

export const CollectedResultsSchema = z.object({
  resultsKey: z.string(),
  summaryKey: z.string(),
  /** The run's report.html; absent in states collected before it was written. */
  reportKey: z.string().optional(),
  fineTunedModel: z.string().nullable(),
  trainedTokens: z.number().nullable(),
  costUsd: z.number().nullable(),
});
export type CollectedResults = z.infer<typeof CollectedResultsSchema>;

export const CaughtFailureSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

/** What Evaluate hands Record, at `$.evaluation`: where the evaluation is, its numbers and the decision. */
export const EvaluationOutcomeSchema = z.object({
  evaluationKey: z.string(),
  evaluation: RunEvaluationSchema,
});
export type EvaluationOutcome = z.infer<typeof EvaluationOutcomeSchema>;

/**
 * What Evaluate hands on at `$.evaluation` while it waits for the provider: in batch mode its batches, on
 * Amazon Bedrock the on-demand deployments the custom models answer from. The workflow waits
 * `waitSeconds` and Evaluate looks again (Check evaluation), until it answers an EvaluationOutcome.
 */
export const EvaluationPendingSchema = z.object({
  pending: z.object({
    kind: z.enum(['batches', 'deployments']),
    /**
     * Batches: one per model asked (a batch takes one model), the new model's, then the compared model's.
     * Deployments: one per custom model asked (a base model answers without one).
     */
    submitted: z
      .array(z.object({ role: z.enum(['new', 'current', 'base']), model: z.string(), id: z.string() }))
      .min(1),
    submittedAt: z.string(),
    /** How many times they were looked at. */
    checks: z.number().int().min(0),
    waitSeconds: z.number().int().positive(),
  }),
});
export type EvaluationPending = z.infer<typeof EvaluationPendingSchema>;

/** `$.evaluation` as it can be: an outcome, or work still pending (when a check failed, at Record). */
export const EvaluationStateSchema = z.union([EvaluationOutcomeSchema, EvaluationPendingSchema]);

/** What Record receives: the whole state, with whatever parts the run reached. */
export const RecordInputSchema = ExecutionInputSchema.extend({
  prepared: PreparedFilesSchema.optional(),
  files: UploadedFilesSchema.optional(),
  job: JobProgressSchema.optional(),
  results: CollectedResultsSchema.optional(),
  failure: CaughtFailureSchema.optional(),
  /**
   * Absent in executions started before evaluation existed: their model is promoted as it was then. Work
   * still pending (batches, deployments) reaches Record only with an evaluationFailure (checking failed).
   */
  evaluation: EvaluationStateSchema.optional(),
  /** Evaluate failed after its retries: the model is kept, not promoted. */
  evaluationFailure: CaughtFailureSchema.optional(),
});
export type RecordInput = z.infer<typeof RecordInputSchema>;

/**
 * What a run receives when it is given a provider slot, at `$.slot`: the task token it parked on in
 * Acquire provider slot is completed with this (by itself when a slot was free, else by the run that
 * freed one, or by the sweep). See docs/waiting.md.
 */
export const SlotGrantSchema = z.object({
  /** When the run was given its slot, in epoch seconds. */
  grantedAt: z.number(),
  /** How long it waited in the queue, in seconds. */
  waitedSeconds: z.number(),
});
export type SlotGrant = z.infer<typeof SlotGrantSchema>;

/** What wakes a run parked in Wait for job before its timeout: a provider event about its job. */
export const JobWakeSchema = z.object({
  /** The provider's event type, e.g. `fine_tuning.job.succeeded`. */
  event: z.string(),
});
export type JobWake = z.infer<typeof JobWakeSchema>;

/*
 * Waiting costs nothing but history events and state transitions, and a run waits for most of its
 * life: for a provider slot, then for its job. It waits parked on a task token (docs/waiting.md), so
 * each wait costs the same whatever its length; only the safety-net timeouts add turns.
 *
 * Step Functions fails an execution whose history reaches 25,000 events (States.Runtime, "The execution
 * reached the maximum number of history events (25000)."; a hard quota:
 * https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html, read 2026-11-29) and bills
 * Standard workflows per state transition ("You are charged for each state transition", counting
 * retries: https://aws.amazon.com/step-functions/pricing/, read 2026-11-29). Counted as GetExecutionHistory
 * lists them (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html, read
 * 2026-11-29): a Task that invokes its function by ARN is TaskStateEntered, LambdaFunctionScheduled,
 * LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited (5); a `.waitForTaskToken` Task adds
 * TaskSubmitted once the function has returned: TaskStateEntered, TaskScheduled, TaskStarted,
 * TaskSubmitted, TaskSucceeded | TaskTimedOut, TaskStateExited (6); a Choice 2.
 *   once       ExecutionStarted 1, Wait for family turn 6, Prepare 5, Upload 5, Acquire provider slot 6,
 *              Create job 5 and its Job finished? 2, Collect results 5, Evaluate model 5 and its
 *              Evaluation finished? 2, Record 5 (the last state: no Succeed state after it),
 *              ExecutionSucceeded 1 = 48 (10 transitions: Wait for family turn, Prepare, Upload, Acquire,
 *              Create job, Job finished?, Collect, Evaluate, Evaluation finished?, Record). A run whose family
 *              is busy waits in Wait for family turn as in Acquire provider slot: a slot turn per timeout.
 *   job turn   Wait for job 6 + Get status 5 + Job finished? 2 = 13 (3 transitions); a turn ends when the
 *              job's event wakes the run or when its timeout passes (then Get status looks anyway)
 *   slot turn  Acquire provider slot timed out and entered again: 6 (1 transition), once per
 *              SLOT_WAITING.timeoutSeconds of waiting
 *   a retry    3 events (Scheduled, Started, Failed) and 1 transition; at most 4 per call
 * The job-wait timeouts (JOB_WAITING):
 *   polling   no verified webhook lately: 60 s, x2 per turn, at most 10 min: 9 turns for a 1-hour job
 *             (35 transitions), 147 for 24 hours
 *   webhooks  the provider's webhooks are known to arrive: the timeout is only the safety net for a lost
 *             one, 1 h, x4 per turn (1 h, 4 h, 16 h, 64 h): 4 turns cover any job the 66-hour
 *             maxTrainingHours allows, so at most 10 + 3 x 4 = 22 transitions per run (8 + 12 before Evaluate)
 *   batch look  in evaluation's batch mode only: Wait for evaluation 2 (a Wait state: entered, exited) +
 *              Check evaluation 5 + Evaluation finished? 2 = 9 (3 transitions), per look at the batches;
 *              the looks back off from a minute to half an hour (EVALUATION_BATCH_WAIT), so a batch that
 *              takes OpenAI's whole 24 hours costs about 52 looks: 468 events, 156 transitions
 * Either timeout is cut at the job's maxTrainingHours deadline (plus a minute), where Get status
 * cancels it. workflowHistoryEvents and workflowTransitions compute all this; their tests check the
 * bounds, and `npm run bench -- waiting` measures them on the synthesized state machine.
 */
export const HISTORY = {
  /** Step Functions' quota on one execution's history (hard). */
  limit: 25_000,
  once: 48,
  perJobTurn: 13,
  perSlotTurn: 6,
  perRetry: 3,
  /**
   * Wait for family turn, Prepare, Upload, Acquire provider slot, Create job, Collect results, Evaluate
   * model, Record.
   */
  callsOnce: 8,
  maxRetriesPerCall: 4,
} as const;

export const TRANSITIONS = { once: 10, perJobTurn: 3, perSlotTurn: 1, perRetry: 1 } as const;

/**
 * How long a run's execution may last by default (the pipeline's runTimeout): long enough to wait for
 * its family's turn behind a few runs of up to maxTrainingHours each, then train. Standard workflows
 * may run for a year (Step Functions quotas, read 2026-11-29).
 */
export const RUN_TIMEOUT_DAYS = 14;

/**
 * A run parked for a slot (or its family's turn) is resumed by whoever frees one; the timeout only
 * catches a resume that was lost (the run asks again, and finds the slot it was given). The sweep (every
 * SWEEP_MINUTES) catches slots nobody handed over.
 */
export const SLOT_WAITING = { timeoutSeconds: 24 * 3600, sweepMinutes: 10 } as const;

export type JobWaitMode = 'polling' | 'webhooks';

export const JOB_WAITING = {
  polling: { firstSeconds: 60, factor: 2, maxSeconds: 600 },
  webhooks: { firstSeconds: 3600, factor: 4, maxSeconds: 64 * 3600 },
  /** Past the deadline by this much, so Get status sees the job over maxTrainingHours. */
  deadlineMarginSeconds: 60,
  /** A verified webhook within this long means webhooks work: wait for them. */
  webhooksTrustedForSeconds: 7 * 24 * 3600,
} as const;

/**
 * How long Wait for job waits, after `turns` turns, before Get status looks without being woken. Cut
 * at the job's deadline (`secondsToDeadline` from now), so a job past maxTrainingHours is cancelled in time.
 */
export function nextJobWaitSeconds(turns: number, mode: JobWaitMode, secondsToDeadline = Infinity): number {
  const schedule = JOB_WAITING[mode];
  const nominal = Math.min(
    schedule.maxSeconds,
    schedule.firstSeconds * schedule.factor ** Math.max(0, turns),
  );
  const deadline = Math.max(1, secondsToDeadline + JOB_WAITING.deadlineMarginSeconds);
  return Math.max(1, Math.round(Math.min(nominal, deadline)));
}

/** Webhooks are trusted when one was verified within JOB_WAITING.webhooksTrustedForSeconds. */
export function jobWaitMode(lastVerifiedWebhookAt: number | undefined, nowSeconds: number): JobWaitMode {
  return lastVerifiedWebhookAt !== undefined &&
    nowSeconds - lastVerifiedWebhookAt <= JOB_WAITING.webhooksTrustedForSeconds
    ? 'webhooks'
    : 'polling';
}

/**
 * Wait for job's timeout for the next turn of a job created at `createdAt` (epoch seconds) that may
 * train `maxTrainingHours`, waiting in `mode` (whether the job's events are known to arrive: see
 * jobWaitModeOf in provider-jobs.ts).
 */
export function jobWaitSeconds(
  turns: number,
  job: { createdAt: number; maxTrainingHours: number },
  at: { nowSeconds: number; mode: JobWaitMode },
): number {
  const deadline = job.createdAt + job.maxTrainingHours * 3600;
  return nextJobWaitSeconds(turns, at.mode, deadline - at.nowSeconds);
}

/** Slot turns for a run that waits `slotWaitSeconds` for its slot: one per timeout that passes. */
export function slotTurns(slotWaitSeconds: number): number {
  return Math.max(0, Math.ceil(slotWaitSeconds / SLOT_WAITING.timeoutSeconds) - 1);
}

/**
 * Job turns for a job that trains `trainingSeconds`: the timeouts that pass before it ends, plus the
 * turn that sees it end (woken by its webhook, or at the next timeout when none comes).
 */
export function jobTurns(trainingSeconds: number, mode: JobWaitMode): number {
  let waited = 0;
  let turns = 0;
  do {
    waited += nextJobWaitSeconds(turns, mode);
    turns++;
  } while (waited < trainingSeconds);
  return turns;
}

export interface WaitingRun {
  slotWaitSeconds: number;
  trainingSeconds: number;
  mode: JobWaitMode;
  retriesPerCall?: number;
}

function counts(run: WaitingRun) {
  const slot = slotTurns(run.slotWaitSeconds);
  const job = jobTurns(run.trainingSeconds, run.mode);
  const calls = HISTORY.callsOnce + slot + 2 * job;
  return { slot, job, retries: (run.retriesPerCall ?? 0) * calls };
}

/** The history events of a run (see HISTORY). */
export function workflowHistoryEvents(run: WaitingRun): number {
  const { slot, job, retries } = counts(run);
  return HISTORY.once + HISTORY.perSlotTurn * slot + HISTORY.perJobTurn * job + HISTORY.perRetry * retries;
}

/** The state transitions of a run, which Step Functions bills (see HISTORY). */
export function workflowTransitions(run: WaitingRun): number {
  const { slot, job, retries } = counts(run);
  return (
    TRANSITIONS.once +
    TRANSITIONS.perSlotTurn * slot +
    TRANSITIONS.perJobTurn * job +
    TRANSITIONS.perRetry * retries
  );
}

export function phaseOf(status: string): JobProgress['phase'] {
  if (status === 'succeeded' || status === 'failed' || status === 'cancelled') return status;
  return 'running';
}
