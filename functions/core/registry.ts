import { z } from 'zod';
import { PROVIDERS } from './catalog.js';

/**
 * The model registry: per family, every model tunedrop trained, and which one is the family's current
 * model. One DynamoDB table (the stack's ModelRegistryTableName output), partition key `family`, sort key
 * `model`: a model item per fine-tuned model, and one pointer item per family whose `model` is
 * CURRENT_MODEL_KEY. Applications read the pointer (GetItem) or the SSM parameter
 * `<parameterPrefix>/<family>/current-model` (currentModelParameter), which holds the model id alone.
 * docs/registry.md documents the items for applications.
 */

/** The sort key of a family's current-model pointer; `~` sorts after every model id. */
export const CURRENT_MODEL_KEY = '~current';

/** One file of a run's dataset: the object version trained on, and what it gave. */
export const DatasetFileSchema = z.object({
  key: z.string(),
  versionId: z.string().optional(),
  /** SHA-256 of the object's bytes, hex. */
  sha256: z.string(),
  /** Examples read from it, and how many of those were dropped as copies of examples read before. */
  examples: z.number().int().min(0),
  duplicates: z.number().int().min(0),
});
export type DatasetFile = z.infer<typeof DatasetFileSchema>;

/**
 * What a run trained on: its own drop ("newest"), or every accepted drop of its family so far ("all"),
 * deduplicated across files (an example that appears in several files trains once).
 */
export const DatasetRecordSchema = z.object({
  mode: z.enum(['newest', 'all']),
  /**
   * The files, newest first: all of them in `runs/<runId>/dataset.json`, the newest DATASET_FILES_KEPT on
   * the run's and the model's items (a DynamoDB item holds at most 400 KB).
   */
  files: z.array(DatasetFileSchema),
  fileCount: z.number().int().min(0),
  /** Where the full list is: `runs/<runId>/dataset.json`. */
  manifestKey: z.string(),
  /** Distinct examples, training and validation together. */
  examples: z.number().int().min(0),
  duplicatesRemoved: z.number().int().min(0),
});
export type DatasetRecord = z.infer<typeof DatasetRecordSchema>;

/** How many of a dataset's files its run and model items list (the rest are in its manifest). */
export const DATASET_FILES_KEPT = 50;

export const ModelEntrySchema = z.object({
  family: z.string(),
  /** The provider's id of the fine-tuned model (OpenAI `ft:…`, Azure's model id, Bedrock's custom model ARN). */
  model: z.string(),
  provider: z.enum(PROVIDERS),
  /** The catalog base model at the root of the lineage (what the price and the rules are those of). */
  baseModel: z.string(),
  /** The model this one was trained from: the base model, or the family's previous fine-tuned model. */
  parentModel: z.string(),
  runId: z.string(),
  dataset: DatasetRecordSchema.optional(),
  trainLoss: z.number().optional(),
  validLoss: z.number().optional(),
  trainAccuracy: z.number().optional(),
  validAccuracy: z.number().optional(),
  trainedTokens: z.number().optional(),
  costUsd: z.number().optional(),
  /** ISO 8601. */
  createdAt: z.string(),
  /** ISO 8601; set once the model is deleted at the provider. */
  deletedAt: z.string().optional(),
});
export type ModelEntry = z.infer<typeof ModelEntrySchema>;

export const CurrentModelSchema = z.object({
  family: z.string(),
  model: z.literal(CURRENT_MODEL_KEY),
  /** The family's current fine-tuned model. */
  currentModel: z.string(),
  provider: z.enum(PROVIDERS),
  baseModel: z.string(),
  runId: z.string(),
  /** ISO 8601. */
  updatedAt: z.string(),
});
export type CurrentModel = z.infer<typeof CurrentModelSchema>;

/** The registry as the steps and the CLI use it; adapters/dynamodb-model-registry.ts on AWS. */
export interface ModelRegistry {
  /**
   * Adds a trained model (or updates its entry), without making it current: false when the model was
   * deleted meanwhile, which it stays. Idempotent.
   */
  register(entry: ModelEntry): Promise<boolean>;
  /**
   * Makes a registered model the family's current model, as of `at` (ISO 8601): refused (false) for a
   * model deleted meanwhile (applications must never be sent to it) and, unless `force`, when a model
   * made current later than `at` is current already (runs that end out of order do not go back in time).
   * True when it is now the current one. Idempotent.
   */
  promote(entry: ModelEntry, at: string, options?: { force?: boolean }): Promise<boolean>;
  current(family: string): Promise<CurrentModel | undefined>;
  /** A model by its id, in whichever family it was trained. */
  find(model: string): Promise<ModelEntry | undefined>;
  /** The families that have had a model. */
  families(): Promise<string[]>;
  /** The family's models (or every family's), oldest first. */
  list(family?: string): Promise<ModelEntry[]>;
  /** Marks the model deleted; it stays listed, with `deletedAt`. */
  markDeleted(family: string, model: string, at: string): Promise<void>;
  /** Clears the family's current model if it is `model` (a forced delete of the current model). */
  clearCurrent(family: string, model: string): Promise<boolean>;
}

/** Where applications read a family's current model without scanning: an SSM String parameter. */
export const DEFAULT_PARAMETER_PREFIX = '/tunedrop';
export function currentModelParameter(family: string, prefix: string = DEFAULT_PARAMETER_PREFIX): string {
  return `${prefix}/${family}/current-model`;
}

/** The SSM parameter store as the registry needs it. */
export interface CurrentModelParameters {
  put(family: string, model: string): Promise<void>;
  remove(family: string): Promise<void>;
}
