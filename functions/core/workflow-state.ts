import { z } from 'zod';
import { RunConfigSchema } from './config.js';

/**
 * The JSON the state machine carries from step to step. Each step reads what it needs through these
 * schemas and returns its own part, which the workflow stores at a fixed ResultPath:
 *   $            ExecutionInput (from validate)
 *   $.prepared   PreparedFiles  (Prepare)
 *   $.files      UploadedFiles  (Upload)
 *   $.job        JobProgress    (Create job, then Get status)
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
  }),
  /** A validation file the user supplied next to the data; when set, nothing is split off. */
  validationSource: z
    .object({ bucket: z.string(), key: z.string(), versionId: z.string().optional() })
    .nullable()
    .default(null),
  /** Separator and end token to strip when a legacy prompt/completion file is converted to chat. */
  conversion: z.object({ separator: z.string(), endToken: z.string() }).nullable().default(null),
  estimate: z.object({ billedTokens: z.number(), costUsd: z.number(), epochs: z.number() }),
});
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;

export const PreparedFilesSchema = z.object({
  trainingKey: z.string(),
  trainingExamples: z.number(),
  validationKey: z.string().nullable(),
  validationExamples: z.number(),
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
  polls: z.number().int(),
  waitSeconds: z.number().int().positive(),
  /** Why the provider failed the job, when it did. */
  error: z.object({ code: z.string().nullable(), message: z.string() }).nullable().default(null),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

export const CollectedResultsSchema = z.object({
  resultsKey: z.string(),
  summaryKey: z.string(),
  fineTunedModel: z.string().nullable(),
  trainedTokens: z.number().nullable(),
  costUsd: z.number().nullable(),
});
export type CollectedResults = z.infer<typeof CollectedResultsSchema>;

export const CaughtFailureSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

/** What Record receives: the whole state, with whatever parts the run reached. */
export const RecordInputSchema = ExecutionInputSchema.extend({
  prepared: PreparedFilesSchema.optional(),
  files: UploadedFilesSchema.optional(),
  job: JobProgressSchema.optional(),
  results: CollectedResultsSchema.optional(),
  failure: CaughtFailureSchema.optional(),
});
export type RecordInput = z.infer<typeof RecordInputSchema>;

/**
 * What Acquire provider slot returns at `$.slot`. The workflow reads `acquired` (Slot free?) and
 * `waitSeconds` (Wait for a slot); the step itself reads `since` back on its next call, so the wait can
 * grow with the time the run has already waited.
 */
export const SlotProgressSchema = z.object({
  acquired: z.boolean(),
  waitSeconds: z.number().int().positive(),
  /** When the run first asked for a slot, in epoch seconds. */
  since: z.number(),
  /** How many times the run has asked, this answer included. */
  attempts: z.number().int().positive(),
});
export type SlotProgress = z.infer<typeof SlotProgressSchema>;

/*
 * Waiting costs history events, and Step Functions fails an execution whose history reaches 25,000
 * events (States.Runtime, "The execution reached the maximum number of history events (25000)."; a hard
 * quota: https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html, read 2026-11-29).
 * Both loops of the workflow (lib/workflow.ts) cost 9 events per turn, counted as GetExecutionHistory
 * lists them (event types: https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html,
 * read 2026-11-29); each Task invokes its function by ARN, so a call is LambdaFunctionScheduled,
 * LambdaFunctionStarted, LambdaFunctionSucceeded between TaskStateEntered and TaskStateExited:
 *   slot loop  Acquire provider slot 5 + Slot free? (ChoiceStateEntered/Exited) 2 + Wait for a slot 2 = 9
 *   poll loop  Wait for job 2 + Get status 5 + Job finished? 2 = 9
 *   once       ExecutionStarted 1, Prepare 5, Upload 5, the Acquire that gets a slot 5 and its Choice 2,
 *              Create job 5 and its Job finished? 2 (Create job's answer goes through the Choice, so a job
 *              cancelled because its run ended goes to Record), Collect results 5, Record 5, Run succeeded
 *              (SucceedStateEntered/Exited) 2, ExecutionSucceeded 1 = 38 (the failure path, Record failure 5 + FailStateEntered 1 +
 *              ExecutionFailed 1, costs less than Collect + Record + Succeed)
 *   a retry    3 (Scheduled, Started, Failed); the workflow retries a call at most 4 times
 * Both waits grow, to a cap:
 *   slot  60 s until the run has waited 5 min, then a fifth of the time waited, at most 15 min:
 *         5 turns to 5 min, 15 more (x1.2 each) to 77 min, then one turn per 15 min: 72 h of waiting
 *         is 303 turns at most
 *   poll  30 s, then x1.5 per poll, at most 10 min: 8 polls to 25 min, then one per 10 min: 72 h of
 *         training is 438 polls at most
 * Each count only grows with its time, so however a 72-hour run splits between waiting for a slot and
 * training, it stays under 38 + 9 x (303 + 438) = 6,707 events, 27% of the quota (the worst split,
 * 45 min of waiting and 71 h 15 min of training, makes 4,106). Were every call retried 4 times (21
 * events a turn, the retries taking no time), the worst split would make 9,602 (38%).
 * With the old fixed 60 s slot wait, the slot loop cost 9 events a minute: a run that waited 46 h for a
 * slot and trained the 26 h left made 27,722 events, and failed at 25,000.
 * workflowHistoryEvents computes it; its tests check the bound for every split.
 */
export const HISTORY = {
  /** Step Functions' quota on one execution's history (hard). */
  limit: 25_000,
  once: 38,
  perSlotTurn: 9,
  perPoll: 9,
  perRetry: 3,
  /** Prepare, Upload, the Acquire that gets a slot, Create job, Collect results, Record. */
  callsOnce: 6,
  maxRetriesPerCall: 4,
} as const;

export const SLOT_WAITING = { firstSeconds: 60, fractionOfWaited: 0.2, maxSeconds: 900 } as const;

/** How long a run that has waited `waitedSeconds` for a provider slot waits before asking again. */
export function nextSlotWaitSeconds(waitedSeconds: number): number {
  const seconds = Math.max(
    SLOT_WAITING.firstSeconds,
    SLOT_WAITING.fractionOfWaited * Math.max(0, waitedSeconds),
  );
  return Math.min(SLOT_WAITING.maxSeconds, Math.round(seconds));
}

/** Poll often while a job is young (a fast first status), then back off: most jobs take minutes to hours. */
export const POLLING = { firstSeconds: 30, factor: 1.5, maxSeconds: 600 } as const;

export function nextPollSeconds(polls: number): number {
  const seconds = POLLING.firstSeconds * POLLING.factor ** Math.max(0, polls);
  return Math.min(POLLING.maxSeconds, Math.round(seconds));
}

export interface WaitPolicy {
  slotWait: (waitedSeconds: number) => number;
  pollWait: (polls: number) => number;
}
export const WAIT_POLICY: WaitPolicy = { slotWait: nextSlotWaitSeconds, pollWait: nextPollSeconds };

/**
 * How many times a run that gets its slot after `slotWaitSeconds` is told "not acquired", each answer
 * followed by a wait. Time spent in the functions themselves is left out: it only makes the real
 * waited time longer, the waits longer and the turns fewer, so this is an upper bound.
 */
export function slotTurns(slotWaitSeconds: number, slotWait = WAIT_POLICY.slotWait): number {
  let waited = 0;
  let turns = 0;
  while (waited < slotWaitSeconds) {
    waited += slotWait(waited);
    turns++;
  }
  return turns;
}

/** How many Get status calls see a job that trains `trainingSeconds`, the last one seeing it finished. */
export function pollsUntil(trainingSeconds: number, pollWait = WAIT_POLICY.pollWait): number {
  let waited = 0;
  let polls = 0;
  do {
    waited += pollWait(polls);
    polls++;
  } while (waited < trainingSeconds);
  return polls;
}

/**
 * The history events of a run that waits `slotWaitSeconds` for a slot and whose job trains
 * `trainingSeconds`, when each function call is retried `retriesPerCall` times (see HISTORY).
 */
export function workflowHistoryEvents(
  run: { slotWaitSeconds: number; trainingSeconds: number; retriesPerCall?: number },
  policy: WaitPolicy = WAIT_POLICY,
): number {
  const turns = slotTurns(run.slotWaitSeconds, policy.slotWait);
  const polls = pollsUntil(run.trainingSeconds, policy.pollWait);
  const calls = HISTORY.callsOnce + turns + polls;
  return (
    HISTORY.once +
    HISTORY.perSlotTurn * turns +
    HISTORY.perPoll * polls +
    HISTORY.perRetry * (run.retriesPerCall ?? 0) * calls
  );
}

export function phaseOf(status: string): JobProgress['phase'] {
  if (status === 'succeeded' || status === 'failed' || status === 'cancelled') return status;
  return 'running';
}
