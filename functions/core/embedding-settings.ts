import { z } from 'zod';
import { PROVIDER_TITLES, PROVIDERS, type ProviderName } from './catalog.js';
import {
  DEFAULT_EMBEDDING_MODELS,
  embeddingModelsOf,
  findEmbeddingModel,
  type EmbeddingModelInfo,
} from './embedding-catalog.js';
import { InvalidConfigError } from './errors.js';
import { FAMILY_SETTINGS_FILE } from './run.js';

/** A JSONL or CSV under this prefix starts an embedding run; `embed/<collection>/tunedrop.json` sets it. */
export const EMBED_PREFIX = 'embed/';
export const EMBEDDING_INPUT_SUFFIXES = ['.jsonl', '.csv'] as const;

/**
 * Files with more inputs than this go through the Batch API in mode "auto" (where the provider has one
 * here). 2,000 inputs are one or two direct requests (≤ 2048 inputs each): done in seconds, so the
 * batch's half price is not worth its wait of up to 24 h; above, the saving grows and waiting is the norm.
 */
export const DIRECT_MAX_INPUTS = 2_000;

/** Names of the output's own columns: a metadata field may not take them. */
export const RESERVED_COLUMN_NAMES = ['id', 'embedding'] as const;

const fieldName = z.string().min(1, 'a field name cannot be empty');

export const EmbeddingSettingsSchema = z
  .object({
    /** Who embeds. @default "openai" */
    provider: z.enum(PROVIDERS).default('openai'),
    /** The model at the provider. @default DEFAULT_EMBEDDING_MODELS[provider] */
    model: z.string().min(1).optional(),
    /** The vector size; the model's native size when absent. */
    dimensions: z.number().int().positive().optional(),
    /** The JSONL field or CSV column holding the text to embed. @default "text" */
    textField: fieldName.default('text'),
    /** The JSONL field or CSV column holding each record's id; null: the line number is the id. @default "id" */
    idField: fieldName.nullable().default('id'),
    /** Fields kept beside the vector; absent: every field but the text and the id. */
    metadataFields: z.array(fieldName).optional(),
    /** "auto": batch when the provider has a Batch API here and the file has over DIRECT_MAX_INPUTS inputs. */
    mode: z.enum(['auto', 'batch', 'direct']).default('auto'),
    output: z.enum(['parquet', 'jsonl']).default('parquet'),
    /** A run whose estimated cost is higher is rejected before anything is sent. @default no limit */
    budgetUsd: z.number().positive().optional(),
    /** Azure OpenAI: the embedding deployment's name, sent as `model`. Required with that provider. */
    azure: z
      .object({ deployment: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export type EmbeddingSettingsInput = z.input<typeof EmbeddingSettingsSchema>;

export interface ResolvedEmbeddingSettings {
  provider: ProviderName;
  model: EmbeddingModelInfo;
  /** What requests send as `model`: the Azure deployment's name there, the model id elsewhere. */
  modelName: string;
  /** Sent as `dimensions`; undefined: not sent (the model's native size). */
  dimensions: number | undefined;
  /** The vector size the output will have. */
  outputDimensions: number;
  textField: string;
  idField: string | null;
  metadataFields: string[] | undefined;
  mode: 'auto' | 'batch' | 'direct';
  output: 'parquet' | 'jsonl';
  budgetUsd: number | undefined;
}

const KNOWN_KEYS = Object.keys(EmbeddingSettingsSchema.shape);

/**
 * Reads a collection's tunedrop.json (already JSON-parsed; undefined or null when there is none).
 * Throws InvalidConfigError naming `source` and the first problem, with its fix.
 */
export function resolveEmbeddingSettings(raw: unknown, source: string): ResolvedEmbeddingSettings {
  const parsed = EmbeddingSettingsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `"${issue.path.join('.')}"` : 'the settings';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((key) => `"${key}"`).join(', ');
      const known = issue.path.length === 0 ? KNOWN_KEYS : ['deployment'];
      throw new InvalidConfigError(
        `${source}: unknown setting ${keys}${issue.path.length > 0 ? ` in ${where}` : ''}`,
        `Remove it or fix its spelling; the known settings are ${known.map((key) => `"${key}"`).join(', ')}.`,
      );
    }
    throw new InvalidConfigError(
      `${source}: ${where}: ${issue.message}`,
      'Correct that setting (docs/configuration.md lists the embedding settings and their values).',
    );
  }
  const settings = parsed.data;
  const { provider } = settings;
  const title = PROVIDER_TITLES[provider];
  const fail = (message: string, fix: string): never => {
    throw new InvalidConfigError(`${source}: ${message}`, fix);
  };

  const modelId = settings.model ?? DEFAULT_EMBEDDING_MODELS[provider];
  const model = findEmbeddingModel(provider, modelId);
  if (!model) {
    const known = embeddingModelsOf(provider).map((m) => `"${m.id}"`);
    return fail(
      `"${modelId}" is not an embedding model tunedrop runs at ${title}`,
      `Set "model" to one of ${known.join(', ')} (or leave it out for "${DEFAULT_EMBEDDING_MODELS[provider]}").`,
    );
  }

  if (settings.dimensions !== undefined) checkDimensions(model, settings.dimensions, fail);

  if (provider === 'azure-openai' && !settings.azure)
    fail(
      'Azure OpenAI embeds through a deployment, and "azure.deployment" is not set',
      `Add "azure": { "deployment": "<your ${model.id} deployment's name>" }.`,
    );
  if (provider !== 'azure-openai' && settings.azure)
    fail(
      '"azure" is set but the provider is not Azure OpenAI',
      'Remove "azure", or set "provider": "azure-openai".',
    );

  if (settings.mode === 'batch') {
    if (!model.batch)
      fail(
        `${title} has no Batch API for embeddings in tunedrop, and "mode" is "batch"`,
        'Set "mode" to "direct" or "auto" (or leave it out).',
      );
    if (model.prices.batch === null)
      fail(
        `the batch price of ${model.id} is not known, so a batch run's cost cannot be estimated`,
        'Set "mode" to "direct", or use "text-embedding-3-small" (half price in batch).',
      );
  }

  if (settings.idField !== null && settings.idField === settings.textField)
    fail(
      `"idField" and "textField" are both "${settings.textField}"`,
      'Name different fields for the id and the text, or set "idField": null to use line numbers as ids.',
    );

  for (const name of settings.metadataFields ?? []) {
    if ((RESERVED_COLUMN_NAMES as readonly string[]).includes(name))
      fail(
        `"metadataFields" lists "${name}", the name of an output column (${RESERVED_COLUMN_NAMES.map((n) => `"${n}"`).join(', ')})`,
        `Remove "${name}" from "metadataFields" (the id is written as "id" anyway), or rename that field in the data.`,
      );
    if (name === settings.idField)
      fail(
        `"metadataFields" lists the id field "${name}"`,
        `Remove "${name}" from "metadataFields": the id is written as the "id" column.`,
      );
  }
  if (settings.metadataFields && new Set(settings.metadataFields).size !== settings.metadataFields.length)
    fail('"metadataFields" lists a field twice', 'List each field once.');

  return {
    provider,
    model,
    modelName: settings.azure?.deployment ?? model.id,
    dimensions: settings.dimensions,
    outputDimensions: settings.dimensions ?? model.nativeDimensions,
    textField: settings.textField,
    idField: settings.idField,
    metadataFields: settings.metadataFields,
    mode: settings.mode,
    output: settings.output,
    budgetUsd: settings.budgetUsd,
  };
}

function checkDimensions(model: EmbeddingModelInfo, value: number, fail: (m: string, f: string) => never) {
  const allowed = model.dimensions;
  if (allowed.kind === 'fixed')
    fail(
      `${model.id} has no "dimensions" parameter (it always returns ${model.nativeDimensions})`,
      'Remove "dimensions", or use "text-embedding-3-small" or "text-embedding-3-large", which take it.',
    );
  if (allowed.kind === 'range' && (value < allowed.min || value > allowed.max))
    fail(
      `"dimensions" ${value} is outside ${model.id}'s ${allowed.min} to ${allowed.max}`,
      `Set "dimensions" between ${allowed.min} and ${allowed.max}, or leave it out for ${model.nativeDimensions}.`,
    );
  if (allowed.kind === 'choices' && !allowed.values.includes(value))
    fail(
      `"dimensions" ${value} is not one ${model.id} offers`,
      `Set "dimensions" to one of ${allowed.values.join(', ')}, or leave it out for ${model.nativeDimensions}.`,
    );
}

/**
 * The mode a run uses, once the number of inputs is known: "auto" picks batch only where the provider
 * has a Batch API here with a known batch price, and the file is large enough for the wait to pay.
 */
export function chooseEmbeddingMode(settings: ResolvedEmbeddingSettings, inputs: number): 'batch' | 'direct' {
  if (settings.mode !== 'auto') return settings.mode;
  const { model } = settings;
  return model.batch && model.prices.batch !== null && inputs > DIRECT_MAX_INPUTS ? 'batch' : 'direct';
}

/**
 * The collection of an input key (`embed/<collection>/<file>.jsonl|.csv`; a file directly under embed/ is
 * in the collection "default", as a file directly under incoming/ is in the family "default"), or
 * undefined for other keys.
 */
export function embeddingInputOf(key: string): { collection: string; format: 'jsonl' | 'csv' } | undefined {
  if (!key.startsWith(EMBED_PREFIX)) return undefined;
  const rest = key.slice(EMBED_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash === 0) return undefined;
  const lower = key.toLowerCase();
  const format = lower.endsWith('.jsonl') ? 'jsonl' : lower.endsWith('.csv') ? 'csv' : undefined;
  return format ? { collection: slash < 0 ? DEFAULT_COLLECTION : rest.slice(0, slash), format } : undefined;
}

/** The collection of the files dropped directly under embed/. */
export const DEFAULT_COLLECTION = 'default';

/** A collection's settings file: `embed/<collection>/tunedrop.json`, or `embed/tunedrop.json` for "default". */
export function collectionSettingsKey(collection: string): string {
  return collection === DEFAULT_COLLECTION
    ? `${EMBED_PREFIX}${FAMILY_SETTINGS_FILE}`
    : `${EMBED_PREFIX}${collection}/${FAMILY_SETTINGS_FILE}`;
}
