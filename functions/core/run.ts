import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DatasetRecordSchema } from './registry.js';

/**
 * A run is one dropped file's journey. Its status only moves forward along these edges, and every run
 * ends in exactly one terminal status.
 */
export const RUN_STATUSES = [
  'RECEIVED',
  'REJECTED',
  'PREPARING',
  'UPLOADING',
  'TRAINING',
  /** An embedding run's requests are at the provider (its batches run, or its direct calls are made). */
  'EMBEDDING',
  'COLLECTING',
  'EVALUATING',
  'SUCCEEDED',
  /** Trained, evaluated, and not made the family's current model (its promotion policy said no). */
  'SUCCEEDED_NOT_PROMOTED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  'REJECTED',
  'SUCCEEDED',
  'SUCCEEDED_NOT_PROMOTED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
]);

const ENDINGS: RunStatus[] = ['FAILED', 'CANCELLED', 'TIMED_OUT'];
const NEXT: Record<RunStatus, readonly RunStatus[]> = {
  RECEIVED: ['REJECTED', 'PREPARING', ...ENDINGS],
  // An embedding run: PREPARING → EMBEDDING (batches, or direct calls while it collects) → COLLECTING.
  PREPARING: ['UPLOADING', 'EMBEDDING', 'COLLECTING', ...ENDINGS],
  UPLOADING: ['TRAINING', ...ENDINGS],
  TRAINING: ['TRAINING', 'COLLECTING', ...ENDINGS],
  EMBEDDING: ['EMBEDDING', 'COLLECTING', ...ENDINGS],
  // Straight to the end: an execution started before evaluation existed (its definition has no Evaluate).
  COLLECTING: ['EVALUATING', 'SUCCEEDED', 'SUCCEEDED_NOT_PROMOTED', ...ENDINGS],
  EVALUATING: ['SUCCEEDED', 'SUCCEEDED_NOT_PROMOTED', ...ENDINGS],
  REJECTED: [],
  SUCCEEDED: [],
  SUCCEEDED_NOT_PROMOTED: [],
  FAILED: [],
  CANCELLED: [],
  TIMED_OUT: [],
};

/** The ends of a run that trained a model (and paid for it), promoted or not. */
export const TRAINED_STATUSES: ReadonlySet<RunStatus> = new Set(['SUCCEEDED', 'SUCCEEDED_NOT_PROMOTED']);

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return NEXT[from].includes(to);
}

export const RunErrorSchema = z.object({
  name: z.string(),
  code: z.string().optional(),
  message: z.string(),
  fix: z.string().optional(),
});
export type RunError = z.infer<typeof RunErrorSchema>;

export const StatusChangeSchema = z.object({
  status: z.enum(RUN_STATUSES),
  at: z.string(),
  /** The provider's own status while TRAINING (validating_files, queued, running, ...). */
  detail: z.string().optional(),
});
export type StatusChange = z.infer<typeof StatusChangeSchema>;

/** What the run item keeps of its evaluation: enough to list and compare runs without reading the file. */
export const RunEvaluationSchema = z.object({
  status: z.enum(['completed', 'skipped', 'failed']),
  /** The headline metric (macro_f1 for classification, rouge_l_f1 for generation), when evaluated. */
  metric: z.string().optional(),
  /** The new model's value of it. */
  score: z.number().optional(),
  /** What it was compared with: the family's current model, or the base model for a first model. */
  compared: z.object({ role: z.enum(['current', 'base']), model: z.string(), score: z.number() }).optional(),
  promoted: z.boolean(),
  reason: z.string(),
  /** What the evaluation's calls cost (both models); null where a price is unknown. */
  costUsd: z.number().nullable(),
});
export type RunEvaluation = z.infer<typeof RunEvaluationSchema>;

/** What a run makes. */
export const RUN_KINDS = ['fine-tuning', 'embeddings'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** An embedding run's facts on its item: enough to list runs and sum costs without reading its files. */
export const RunEmbeddingSchema = z.object({
  model: z.string(),
  dimensions: z.number().int().positive(),
  /** `batch` (the provider's Batch API, its batch price) or `direct` (the embeddings endpoint, bounded concurrency). */
  mode: z.enum(['batch', 'direct']),
  /** Records embedded, and records whose requests failed twice (their ids are in the manifest). */
  embedded: z.number().int().nonnegative().optional(),
  failed: z.number().int().nonnegative().optional(),
  /** The provider's batches (OpenAI batch ids), for the console and for cancelling a stopped run's. */
  batchIds: z.array(z.string()).optional(),
  /** Input tokens the provider billed (the estimate before is the run's estimatedTokens). */
  tokens: z.number().int().nonnegative().optional(),
  outputKey: z.string().optional(),
  manifestKey: z.string().optional(),
});
export type RunEmbedding = z.infer<typeof RunEmbeddingSchema>;

export function runKindOf(run: Pick<RunRecord, 'kind'>): RunKind {
  return run.kind ?? 'fine-tuning';
}

/** The one DynamoDB item a run has. Optional fields appear as the run gets that far. */
export const RunRecordSchema = z.object({
  runId: z.string(),
  family: z.string(),
  status: z.enum(RUN_STATUSES),
  history: z.array(StatusChangeSchema),
  source: z.object({
    bucket: z.string(),
    key: z.string(),
    versionId: z.string().optional(),
    etag: z.string().optional(),
    size: z.number().optional(),
  }),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  provider: z.string().optional(),
  baseModel: z.string().optional(),
  providerJobId: z.string().optional(),
  providerStatus: z.string().optional(),
  fineTunedModel: z.string().optional(),
  trainingExamples: z.number().optional(),
  validationExamples: z.number().optional(),
  estimatedTokens: z.number().optional(),
  estimatedCostUsd: z.number().optional(),
  trainedTokens: z.number().optional(),
  costUsd: z.number().optional(),
  validationReportKey: z.string().optional(),
  resultsKey: z.string().optional(),
  summaryKey: z.string().optional(),
  /** runs/<runId>/report.html; absent on runs collected before it was written. */
  reportKey: z.string().optional(),
  /** runs/<runId>/evaluation.json (core/evaluation.ts); absent on runs from before evaluation existed. */
  evaluationKey: z.string().optional(),
  /** The evaluation's headline numbers and the promotion decision (the whole of it is in evaluationKey). */
  evaluation: RunEvaluationSchema.optional(),
  /**
   * The run's Step Functions execution, recorded just before it is started (absent on a rejected run,
   * which never has one, and on runs started before it was recorded).
   */
  executionArn: z.string().optional(),
  /**
   * What started the run: a dropped file (the default, absent on items from before #12), the family's
   * schedule, or an operator's `tunedrop retrain`.
   */
  trigger: z.enum(['drop', 'schedule', 'operator']).optional(),
  /** The model the job trained from: the base model, or the family's current model ("baseModel": "latest"). */
  parentModel: z.string().optional(),
  /** What the run trained on (Prepare records it). */
  dataset: DatasetRecordSchema.optional(),
  error: RunErrorSchema.optional(),
  /** What the run makes: a fine-tuned model (absent: every run before #15) or a collection's embeddings. */
  kind: z.enum(RUN_KINDS).optional(),
  /** An embedding run's own facts (its `family` is the collection). */
  embedding: RunEmbeddingSchema.optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

export interface SourceObject {
  bucket: string;
  key: string;
  versionId?: string | undefined;
}

/**
 * The run id is a pure function of the object version, so a duplicated S3 event maps to the same run
 * and the same Step Functions execution name (which AWS refuses to start twice). A new upload of the
 * same key is a new version and so a new run: dropping a file again retrains. Without versioning the
 * ETag stands in for the version.
 *
 * Execution names allow 80 characters of [A-Za-z0-9_-]; the readable part helps in the console.
 */
export function deriveRunId(source: SourceObject & { etag?: string | undefined }): string {
  const version = source.versionId ?? `etag:${source.etag ?? ''}`;
  const digest = createHash('sha256')
    .update(`${source.bucket}\n${source.key}\n${version}`)
    .digest('hex')
    .slice(0, 16);
  const base = source.key
    .split('/')
    .pop()!
    .replace(/\.(jsonl|csv)$/i, '');
  const readable = base
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return readable ? `${readable}-${digest}` : digest;
}

/**
 * What a family's name may be: it names the family's SSM parameter (`/tunedrop/<family>/current-model`, whose
 * names take letters, digits, "_", ".", "-" and "/": SSM API reference, PutParameter, read 2026-11-29) and
 * its retrain schedule; a folder with other characters is refused at validation (family_name_invalid).
 */
export const FAMILY_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** `incoming/<family>/<file>.jsonl` → `<family>`; files directly under `incoming/` are family "default". */
export function familyOf(key: string, prefix = 'incoming/'): string {
  const rest = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  const parts = rest.split('/');
  return parts.length > 1 && parts[0] ? parts[0] : 'default';
}

/**
 * The object tag that marks a copy of training data under runs/ (what Prepare writes: train.jsonl and
 * validation.jsonl); the bucket's lifecycle rule that expires those copies matches it (S3 lifecycle filters
 * take a prefix and tags, not a suffix). Reports, results and summaries are never tagged, and so kept.
 */
export const TRAINING_COPY_TAG = { key: 'tunedrop:object', value: 'training-copy' } as const;

/** Where a run's files live in the bucket. One place, so handlers and docs agree. */
/**
 * Bedrock reads training files from S3 and writes its output there (docs/providers.md B5): under the
 * run's prefix, in folders its service role may read (input) and write (output), and no other.
 */
export const BEDROCK_INPUT_DIR = 'bedrock';
export const BEDROCK_OUTPUT_DIR = 'bedrock-output';

export const runKeys = (runId: string) => ({
  prefix: `runs/${runId}/`,
  validationJson: `runs/${runId}/validation.json`,
  validationMarkdown: `runs/${runId}/validation.md`,
  training: `runs/${runId}/train.jsonl`,
  validation: `runs/${runId}/validation.jsonl`,
  results: `runs/${runId}/results.csv`,
  summary: `runs/${runId}/summary.json`,
  /** The run's page for a person: summary, curves, findings (core/run-report.ts), written by Collect. */
  report: `runs/${runId}/report.html`,
  /** Every file the run trained on, with its version, hash and counts (core/registry.ts DatasetRecord). */
  dataset: `runs/${runId}/dataset.json`,
  /** The new model's evaluation beside the current one's, and the promotion decision (core/evaluation.ts). */
  evaluation: `runs/${runId}/evaluation.json`,
  /** The training or validation file as Bedrock takes it (core/bedrock-format.ts). */
  bedrockInput: (purpose: 'training' | 'validation') => `runs/${runId}/${BEDROCK_INPUT_DIR}/${purpose}.jsonl`,
  /** Where Bedrock writes the job's output (its metrics files). */
  bedrockOutput: `runs/${runId}/${BEDROCK_OUTPUT_DIR}/`,
});

/**
 * Where an embedding run's files live: everything under `embeddings/<runId>/`, apart from the user's data
 * under `embed/<collection>/` (only ever read).
 */
export const embeddingKeys = (runId: string) => ({
  prefix: `embeddings/${runId}/`,
  validationJson: `embeddings/${runId}/validation.json`,
  validationMarkdown: `embeddings/${runId}/validation.md`,
  /** The requests, in the Batch API's input format, one file per batch (`requests/0001.jsonl`, …). */
  requests: (index: number) => `embeddings/${runId}/requests/${String(index + 1).padStart(4, '0')}.jsonl`,
  /** The requests that failed once, sent again in one more batch. */
  retryRequests: `embeddings/${runId}/requests/retry.jsonl`,
  /** The provider's result files, copied as they are (batch mode), read back in input order by range. */
  results: (name: string) => `embeddings/${runId}/results/${name}.jsonl`,
  parquet: `embeddings/${runId}/embeddings.parquet`,
  jsonl: `embeddings/${runId}/embeddings.jsonl`,
  manifest: `embeddings/${runId}/manifest.json`,
});

/** Where embedding runs write (their inputs are dropped under EMBED_PREFIX, core/embedding-settings.ts). */
export const EMBEDDINGS_PREFIX = 'embeddings/';

/** The name of a family's settings file. */
export const FAMILY_SETTINGS_FILE = 'tunedrop.json';

/** A family's settings file: `incoming/<family>/tunedrop.json`, or `incoming/tunedrop.json` for "default". */
export function familySettingsKey(family: string, prefix = 'incoming/'): string {
  return family === 'default'
    ? `${prefix}${FAMILY_SETTINGS_FILE}`
    : `${prefix}${family}/${FAMILY_SETTINGS_FILE}`;
}

/**
 * A user may supply the validation set: `<name>.validation.jsonl` next to `<name>.jsonl`, uploaded
 * first. It is then used as is and nothing is split off the training data. Dropping it alone starts no run.
 */
export const VALIDATION_COMPANION_SUFFIX = '.validation.jsonl';

export function isValidationCompanion(key: string): boolean {
  return key.toLowerCase().endsWith(VALIDATION_COMPANION_SUFFIX);
}

/** The suffix of the files whose drop starts a run (the bucket's notification to Validate filters on it). */
export const DATASET_SUFFIX = '.jsonl';

/** Whether dropping `key` starts a run: a dataset under the incoming prefix that is not a validation companion. */
export function startsRun(key: string, incomingPrefix: string): boolean {
  return key.startsWith(incomingPrefix) && key.endsWith(DATASET_SUFFIX) && !isValidationCompanion(key);
}

export function validationCompanionKey(key: string): string {
  return key.replace(/\.jsonl$/i, VALIDATION_COMPANION_SUFFIX);
}
