import { z } from 'zod';
import { PROVIDERS } from './catalog.js';
import { findEmbeddingModel, type EmbeddingModelInfo } from './embedding-catalog.js';
import { ProviderRejectedError, RunEndedError } from './errors.js';
import type { RunStore } from './ports.js';
import { TERMINAL_STATUSES, TRAINING_COPY_TAG, type RunRecord, type RunStatus } from './run.js';
import { nextJobWaitSeconds, type JobWaitMode } from './workflow-state.js';

/**
 * The state an embedding run's workflow carries from step to step (lib/embedding-workflow.ts), each part
 * a zod schema: what Validate starts the execution with, what Prepare requests, Run batches and Collect
 * embeddings add. Everything large (texts, requests, vectors) stays in S3; the state holds keys and counts.
 */

/**
 * The longest an embedding run may take: a batch has 24 hours to complete ("Currently only `24h` is
 * supported", CreateBatchRequest.completion_window, ../shared/openai/openapi.yaml of 2026-08-21, read
 * 2026-11-30), its failed lines one more batch of 24 hours, and a day's margin.
 */
export const EMBEDDING_RUN_TIMEOUT_DAYS = 3;

/** A batch's completion window, in seconds (see above). */
export const BATCH_WINDOW_SECONDS = 24 * 3600;

/**
 * The tags of an embedding run's copies of the user's data (its request files, which hold the texts, and the
 * provider's results): the bucket's lifecycle rule expires them as Prepare's training copies (lib/pipeline.ts).
 */
export const COPY_OF_TEXTS = { [TRAINING_COPY_TAG.key]: TRAINING_COPY_TAG.value };

/** A metadata column of the output, as validation found its values. */
export const MetadataColumnSchema = z.object({
  name: z.string(),
  type: z.enum(['string', 'number', 'boolean', 'json']),
});
export type MetadataColumn = z.infer<typeof MetadataColumnSchema>;

/** The settings a run embeds with, resolved by Validate from the collection's tunedrop.json. */
export const EmbeddingRunSettingsSchema = z.object({
  provider: z.enum(PROVIDERS),
  /** The catalog's model id (prices, limits). */
  model: z.string(),
  /** What is sent as `model`: the model id, or on Azure OpenAI the deployment's name. */
  modelName: z.string(),
  /** The vector size asked for, or undefined for the model's own (`dimensions` is then not sent). */
  dimensions: z.number().int().positive().optional(),
  /** The vector size the output has (the asked one, or the model's native one). */
  outputDimensions: z.number().int().positive(),
  mode: z.enum(['batch', 'direct']),
  output: z.enum(['parquet', 'jsonl']),
  textField: z.string(),
  /** null: the record's line number is its id. */
  idField: z.string().nullable(),
  metadataFields: z.array(z.string()).optional(),
});
export type EmbeddingRunSettings = z.infer<typeof EmbeddingRunSettingsSchema>;

export const EmbeddingExecutionInputSchema = z.object({
  runId: z.string(),
  /** The collection: the folder under embed/ (the run item's `family`). */
  collection: z.string(),
  source: z.object({ bucket: z.string(), key: z.string(), versionId: z.string().optional() }),
  format: z.enum(['jsonl', 'csv']),
  settings: EmbeddingRunSettingsSchema,
  metadataColumns: z.array(MetadataColumnSchema),
  /** Records and tokens as validation counted them. */
  records: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  receivedAt: z.string(),
});
export type EmbeddingExecutionInput = z.infer<typeof EmbeddingExecutionInputSchema>;

/** One request file Prepare wrote: the Batch API's input lines for consecutive records. */
export const RequestFileSchema = z.object({
  key: z.string(),
  requests: z.number().int().positive(),
  inputs: z.number().int().positive(),
  bytes: z.number().int().positive(),
});
export type RequestFile = z.infer<typeof RequestFileSchema>;

export const PreparedRequestsSchema = z.object({
  mode: z.enum(['batch', 'direct']),
  files: z.array(RequestFileSchema),
  requests: z.number().int().nonnegative(),
  inputs: z.number().int().nonnegative(),
});
export type PreparedRequests = z.infer<typeof PreparedRequestsSchema>;

/** A batch of the run: its request file, the provider's id once created, and how it ended. */
export const RunBatchSchema = z.object({
  /** `0001`… for Prepare's files, `retry` for the failed lines sent once more. */
  name: z.string(),
  requestsKey: z.string(),
  batchId: z.string().optional(),
  status: z.enum(['pending', 'completed', 'expired', 'failed', 'cancelled']),
  providerStatus: z.string().optional(),
  /** The provider's result files copied to S3 (batch output, then its error file), once it ended. */
  resultKeys: z.array(z.string()).optional(),
  /** Why it failed or was cancelled: none of its lines has an answer. */
  reason: z.string().optional(),
});
export type RunBatch = z.infer<typeof RunBatchSchema>;

export const BatchProgressSchema = z.object({
  /** Whether a batch is still running: the run waits, then looks again. */
  pending: z.boolean(),
  /** How long Wait for batches waits unless a batch's event wakes it first. */
  waitSeconds: z.number().int().positive(),
  checks: z.number().int().nonnegative(),
  batches: z.array(RunBatchSchema),
  /**
   * When the latest batch was created (epoch seconds): the longest wait ends with its 24-hour window (a retry
   * batch has a window of its own).
   */
  latestCreatedAt: z.number().optional(),
});
export type BatchProgress = z.infer<typeof BatchProgressSchema>;

/** What Run batches and Collect embeddings read: the execution's input, Prepare's requests, the batches. */
export const PreparedRunStateSchema = EmbeddingExecutionInputSchema.extend({
  prepared: PreparedRequestsSchema,
  batches: BatchProgressSchema.optional(),
});
export type PreparedRunState = z.infer<typeof PreparedRunStateSchema>;

export const CollectedEmbeddingsSchema = z.object({
  outputKey: z.string(),
  manifestKey: z.string(),
  embedded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  costUsd: z.number().nullable(),
});
export type CollectedEmbeddings = z.infer<typeof CollectedEmbeddingsSchema>;

/**
 * How long Wait for batches waits before Run batches looks without being woken: as Wait for job does, short
 * and growing while webhooks are not known to arrive, long when they are; never past the window's end.
 */
export function batchWaitSeconds(checks: number, mode: JobWaitMode, secondsToWindowEnd: number): number {
  return nextJobWaitSeconds(checks, mode, secondsToWindowEnd);
}

/** The catalog's entry for the run's model; a model it no longer has was validated by another version. */
export function catalogModelOf(settings: EmbeddingRunSettings): EmbeddingModelInfo {
  const model = findEmbeddingModel(settings.provider, settings.model);
  if (!model)
    throw new ProviderRejectedError(
      `the catalog has no embedding model ${settings.model} at ${settings.provider}`,
      'Redeploy tunedrop: the run was validated by a version that knew it.',
    );
  return model;
}

/**
 * A step's start: the run moved to `status` (or found already there or past it, on a retried step), and its
 * item returned; a run that has ended throws RunEndedError, so the step does nothing for it.
 */
export async function beginEmbeddingStep(
  runs: Pick<RunStore, 'advance' | 'get'>,
  runId: string,
  status: RunStatus,
  detail: string,
  what: string,
): Promise<RunRecord> {
  const run = (await runs.advance(runId, status, { detail })) ?? (await runs.get(runId));
  if (!run || TERMINAL_STATUSES.has(run.status))
    throw new RunEndedError(
      `embedding run ${runId} ended (${run?.status ?? 'no item'}) before ${what}`,
      'Nothing to clean up. Drop the file again to start a new run.',
    );
  return run;
}
