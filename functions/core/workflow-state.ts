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

/** Poll often while a job is young, then back off: most jobs take minutes to hours. */
export const POLLING = { firstSeconds: 30, factor: 1.5, maxSeconds: 300 } as const;

export function nextPollSeconds(polls: number): number {
  const seconds = POLLING.firstSeconds * POLLING.factor ** Math.max(0, polls);
  return Math.min(POLLING.maxSeconds, Math.round(seconds));
}

export function phaseOf(status: string): JobProgress['phase'] {
  if (status === 'succeeded' || status === 'failed' || status === 'cancelled') return status;
  return 'running';
}
