import { z } from 'zod';
import { CONTINUATION, DEFAULT_MODELS, PROVIDER_TITLES, PROVIDERS, type ProviderName } from './catalog.js';
import { EvaluationSettingsSchema, PromotionSettingsSchema } from './evaluation.js';

/**
 * What a run trains and how. Read in one place: stack-wide defaults (set at deploy time) overlaid by an
 * optional per-family `incoming/<family>/tunedrop.json`. Every field has a default, so dropping a bare
 * JSONL file works.
 */
const autoOr = <T extends z.ZodTypeAny>(schema: T) => z.union([z.literal('auto'), schema]);

export const HyperparametersSchema = z
  .object({
    nEpochs: autoOr(z.number().int().min(1).max(50)).default('auto'),
    batchSize: autoOr(z.number().int().min(1).max(256)).default('auto'),
    learningRateMultiplier: autoOr(z.number().positive().max(10)).default('auto'),
  })
  .strict();

/**
 * Azure OpenAI's own settings. `trainingType` is the body field Microsoft documents for choosing where a
 * job trains (MSD fine-tuning-rest.md, `?api-version=2025-04-01-preview`; read 2026-11-29): Standard
 * (in the resource's region, data residency kept), GlobalStandard (cheaper, data may leave the region),
 * developerTier (cheapest, preemptible, no SLA). Left out, Azure chooses.
 */
export const AzureSettingsSchema = z
  .object({ trainingType: z.enum(['Standard', 'GlobalStandard', 'developerTier']).optional() })
  .strict();

/**
 * Amazon Bedrock's own settings: it takes an absolute learning rate (not a multiplier) and, for Nova,
 * warm-up steps; their allowed ranges depend on the model (functions/core/catalog.ts), checked at
 * validation. Left out, Bedrock's defaults apply.
 */
export const BedrockSettingsSchema = z
  .object({
    learningRate: z.number().positive().optional(),
    learningRateWarmupSteps: z.number().int().min(0).optional(),
  })
  .strict();

/**
 * EventBridge Scheduler's rate and cron forms (Scheduler User Guide, "Schedule types", read 2026-11-29):
 * rate(value unit) with unit minute(s), hour(s) or day(s); cron with six fields. The cron fields are checked
 * by Scheduler itself when the schedule is created; a refusal is reported on the family's settings.
 */
export const SCHEDULE_EXPRESSION =
  /^(rate\((1 (minute|hour|day)|[1-9][0-9]* (minutes|hours|days))\)|cron\(\S+( \S+){5}\))$/;

export type AzureSettings = z.infer<typeof AzureSettingsSchema>;
export type BedrockSettings = z.infer<typeof BedrockSettingsSchema>;

/**
 * Azure's how-to allows a suffix of "up to 18 characters" while its v1 spec allows 64 (docs/providers.md
 * A4, read 2026-11-29): the stricter is kept, so that Azure cannot refuse a suffix after the upload.
 */
export const AZURE_SUFFIX_MAX = 18;

const SETTINGS_KEY: Readonly<Record<Exclude<ProviderName, 'openai'>, 'azure' | 'bedrock'>> = {
  'azure-openai': 'azure',
  bedrock: 'bedrock',
};

const RunConfigObject = z
  .object({
    /**
     * Who trains: "openai", "azure-openai" or "bedrock". The same file, reports, results and run item
     * for each; credentials and limits differ (README, "Choosing a provider"). @default "openai"
     */
    provider: z.enum(PROVIDERS).default('openai'),
    /** The base model, at the provider. @default the provider's default model (DEFAULT_MODELS) */
    model: z.string().min(1).optional(),
    /**
     * 1 to 64 characters of the fine-tuned model's name (OpenAI's API spec: minLength 1, maxLength 64,
     * read 2026-11-29); the family name when absent.
     */
    suffix: z
      .string()
      .min(1, 'leave "suffix" out to use the family name; an empty one is refused by the provider')
      .max(64)
      .regex(/^[A-Za-z0-9_-]*$/, 'use letters, digits, "-" and "_" only')
      .optional(),
    /**
     * How the model learns. Left out, it follows the file: preference (DPO) files train with "dpo",
     * chat files with "supervised". Set, it must agree with the file. @default from the file's format
     */
    method: z.enum(['supervised', 'dpo']).optional(),
    hyperparameters: HyperparametersSchema.default({
      nEpochs: 'auto',
      batchSize: 'auto',
      learningRateMultiplier: 'auto',
    }),
    /** Seeds both the train/validation split and the provider's training. @default 42 */
    seed: z.number().int().min(0).max(2_147_483_647).default(42),
    /** Share of examples held out for validation. @default 0.2 */
    validationRatio: z.number().min(0).max(0.5).default(0.2),
    /** The validation set never grows past this many examples. @default 1000 */
    maxValidationExamples: z.number().int().min(1).default(1000),
    /**
     * Convert a legacy prompt/completion file to chat (the only way it can still train); false refuses
     * such a file instead. @default true
     */
    convertLegacyFormat: z.boolean().default(true),
    /** A run whose estimated cost is higher stops before anything is uploaded. @default no limit */
    maxCostUsd: z.number().positive().optional(),
    /**
     * After this long in training the provider job is cancelled and the run recorded TIMED_OUT. At most
     * 66, so that a run with a day's wait for its family's turn still ends inside the default
     * 14-day workflow timeout with room for a few queued behind it. @default 48
     */
    maxTrainingHours: z.number().positive().max(66).default(48),
    /**
     * Credentials found in the data (API keys, AWS keys, private keys): "error" rejects the run,
     * "warning" lets it train and lists them, "off" does not look. @default "error"
     */
    secretScan: z.enum(['error', 'warning', 'off']).default('error'),
    /** Azure OpenAI's settings; only with "provider": "azure-openai". */
    azure: AzureSettingsSchema.optional(),
    /** Amazon Bedrock's settings; only with "provider": "bedrock". */
    bedrock: BedrockSettingsSchema.optional(),
    /**
     * What a run trains from: "latest" continues from the family's current fine-tuned model (the model
     * registry's), when it was trained on the same provider from the same base model, and from "model"
     * otherwise (the first run of a family, or after "model" or "provider" changed); "model" always starts
     * from "model". Not on Amazon Bedrock (CONTINUATION in catalog.ts says why). @default "model"
     */
    baseModel: z.enum(['model', 'latest']).default('model'),
    /**
     * What a run trains on: "newest", the dropped file alone; "all", every accepted file of the family so
     * far (this one included), each example once however many files have it. Files trained on are
     * recorded with their versions and hashes (the run item's and the registry's `dataset`). @default "newest"
     */
    dataset: z.enum(['newest', 'all']).default('newest'),
    /**
     * Retrain the family on a schedule (EventBridge Scheduler, in UTC): `rate(7 days)`, `cron(0 3 ? * MON *)`.
     * At each time the family retrains on all its data if a file arrived since its last model, and does
     * nothing otherwise. Only in a family's own tunedrop.json. @default no schedule
     */
    schedule: z
      .string()
      .regex(
        SCHEDULE_EXPRESSION,
        'use "rate(N minutes|hours|days)" or "cron(minutes hours day-of-month month day-of-week year)"',
      )
      .optional(),
    /**
     * Evaluation of each new model on the held-out examples, beside the family's current model, before it is
     * promoted (core/evaluation.ts; docs/evaluation.md). @default enabled, at most 200 examples, online, 4 calls at once
     */
    evaluation: EvaluationSettingsSchema.default({
      enabled: true,
      maxExamples: 200,
      concurrency: 4,
      mode: 'online',
    }),
    /**
     * When a new model becomes the family's current one. @default promoted unless its headline metric drops
     * below the current model's; a model not promoted is kept
     */
    promotion: PromotionSettingsSchema.default({ margin: 0, notPromoted: 'keep' }),
  })
  .strict();

/**
 * Settings that one provider has and another does not: each is refused with the provider it belongs to,
 * rather than ignored (a setting that silently does nothing is a bug the user cannot see).
 */
function checkProviderSettings(config: z.infer<typeof RunConfigObject>, context: z.RefinementCtx): void {
  for (const [provider, key] of Object.entries(SETTINGS_KEY) as Array<[ProviderName, 'azure' | 'bedrock']>) {
    if (config[key] !== undefined && config.provider !== provider)
      context.addIssue({
        code: 'custom',
        path: [key],
        message: `"${key}" settings apply to ${PROVIDER_TITLES[provider]} only, and this run trains on ${PROVIDER_TITLES[config.provider]}: set "provider": "${provider}" or remove "${key}"`,
      });
  }
  if (
    config.provider === 'azure-openai' &&
    config.suffix !== undefined &&
    config.suffix.length > AZURE_SUFFIX_MAX
  )
    context.addIssue({
      code: 'custom',
      path: ['suffix'],
      message: `Azure OpenAI takes a suffix of at most ${AZURE_SUFFIX_MAX} characters ("${config.suffix}" has ${config.suffix.length}): shorten it`,
    });
  if (config.promotion.notPromoted === 'delete' && config.provider === 'azure-openai')
    context.addIssue({
      code: 'custom',
      path: ['promotion', 'notPromoted'],
      message:
        'Azure OpenAI\'s API cannot delete a fine-tuned model (it costs nothing while not deployed): set "notPromoted": "keep", and delete models you do not want in the Azure AI Foundry portal',
    });
  if (config.evaluation.mode === 'batch' && config.provider !== 'openai')
    context.addIssue({
      code: 'custom',
      path: ['evaluation', 'mode'],
      message: `"mode": "batch" evaluates through OpenAI's Batch API, and this run trains on ${PROVIDER_TITLES[config.provider]}: set "mode": "online" or remove it`,
    });
  if (config.baseModel === 'latest' && !CONTINUATION[config.provider].supported)
    context.addIssue({
      code: 'custom',
      path: ['baseModel'],
      message: `${PROVIDER_TITLES[config.provider]} cannot continue training a fine-tuned model here (${CONTINUATION[config.provider].note}): remove "baseModel" or set it to "model"`,
    });
  if (config.provider !== 'bedrock') return;
  const { batchSize, learningRateMultiplier } = config.hyperparameters;
  if (learningRateMultiplier !== 'auto')
    context.addIssue({
      code: 'custom',
      path: ['hyperparameters', 'learningRateMultiplier'],
      message:
        'Amazon Bedrock takes an absolute learning rate, not a multiplier: remove it and set "bedrock": { "learningRate": … } instead',
    });
  if (batchSize !== 'auto')
    context.addIssue({
      code: 'custom',
      path: ['hyperparameters', 'batchSize'],
      message:
        'Amazon Bedrock sets the batch size itself for the models tunedrop trains there: remove "batchSize"',
    });
}

export const RunConfigSchema = RunConfigObject.superRefine(checkProviderSettings).transform((config) => ({
  ...config,
  model: config.model ?? DEFAULT_MODELS[config.provider],
}));

export type RunConfig = z.infer<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;

export type ConfigResult = { ok: true; config: RunConfig } | { ok: false; problems: string[] };

/** The most bytes a `tunedrop.json` may have; a larger one is refused before it is read whole. */
export const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * Overlays the layers (later wins) and validates the result. The layers are user data, so they are
 * merged into null-prototype objects: a key such as `__proto__` stays a key (and is refused as unknown)
 * instead of changing what the merged settings inherit.
 */
/** Settings objects merged field by field across layers, so a family can change one field of the defaults. */
const NESTED_SETTINGS = new Set(['hyperparameters', 'evaluation', 'promotion']);

export function resolveRunConfig(...layers: Array<Record<string, unknown> | undefined>): ConfigResult {
  const merged = Object.create(null) as Record<string, unknown>;
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer)) {
      const earlier = merged[key];
      merged[key] =
        NESTED_SETTINGS.has(key) && isObject(value) && isObject(earlier)
          ? Object.assign(Object.create(null) as object, earlier, value)
          : value;
    }
  }
  const parsed = RunConfigSchema.safeParse(merged);
  if (parsed.success) return { ok: true, config: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value the stack puts in the API key secret; a run fails with a clear fix until the user replaces it. */
export const PLACEHOLDER_API_KEY = 'REPLACE_WITH_YOUR_OPENAI_API_KEY';
/** The endpoint the Azure OpenAI secret holds until the user stores the resource's. */
export const PLACEHOLDER_AZURE_ENDPOINT = 'https://REPLACE-WITH-YOUR-RESOURCE.openai.azure.com';
/** What the webhook secret holds until the user stores the one the provider gave for the endpoint. */
export const PLACEHOLDER_WEBHOOK_SECRET = 'REPLACE_WITH_YOUR_WEBHOOK_SIGNING_SECRET';
