import { ApiError } from './api-error.js';
import { now, ORGANIZATION, type Hyperparameters, type Job, type Store } from './store.js';

/**
 * OpenAI's create-job request (CreateFineTuningJobRequest in the spec) checked as OpenAI checks it when
 * the job is created, and turned into the job the store keeps. What is only found while the job
 * validates its files is the trainer's (see trainer.ts and training-file.ts).
 */

/**
 * Base models the emulated provider fine-tunes, by name or alias, with the methods each takes and
 * whether it trains on images. Retired or unknown ones answer 400. The emulator keeps its own table
 * (not tunedrop's catalog): it stands for the provider, and must disagree with tunedrop where OpenAI
 * would. Sources, read 2026-11-29:
 * - supervised: every model below but o4-mini (https://platform.openai.com/docs/guides/supervised-fine-tuning
 *   and the fine-tuning pricing page).
 * - dpo: gpt-4.1-2025-04-14 and gpt-4.1-mini-2025-04-14 are listed in the DPO guide
 *   (https://platform.openai.com/docs/guides/direct-preference-optimization); gpt-4o-2024-08-06 took a
 *   DPO job in a live run of 2024-12-29 (see training-file.ts) and was DPO's first model at its launch
 *   (December 2024); gpt-4o-mini-2024-07-18 is not in today's guide and has no DPO job on record: it
 *   is refused DPO, so that tunedrop's catalog cannot offer what the provider may refuse.
 * - images: gpt-4o-2024-08-06 only (https://platform.openai.com/docs/guides/vision-fine-tuning).
 * - o4-mini-2025-04-16 fine-tunes with reinforcement only (OpenAI's announcement of 2025-05-08), which
 *   this emulator does not run: it refuses supervised and dpo jobs on it, as OpenAI does.
 */
export interface BaseModel {
  snapshot: string;
  methods: ReadonlyArray<MethodType>;
  images: boolean;
}
export type MethodType = 'supervised' | 'dpo' | 'reinforcement';
const BASE_MODELS: readonly BaseModel[] = [
  { snapshot: 'gpt-4.1-mini-2025-04-14', methods: ['supervised', 'dpo'], images: false },
  { snapshot: 'gpt-4.1-2025-04-14', methods: ['supervised', 'dpo'], images: false },
  { snapshot: 'gpt-4o-mini-2024-07-18', methods: ['supervised'], images: false },
  { snapshot: 'gpt-4o-2024-08-06', methods: ['supervised', 'dpo'], images: true },
  { snapshot: 'o4-mini-2025-04-16', methods: ['reinforcement'], images: false },
];
/** The models by name: the name without its date is an alias of the snapshot, as OpenAI resolves `gpt-4o-mini`. */
export function modelTable(models: readonly BaseModel[]): Record<string, BaseModel> {
  return Object.fromEntries(
    models.flatMap((model) => [
      [model.snapshot, model],
      [model.snapshot.replace(/-\d{4}-\d{2}-\d{2}$/, ''), model],
    ]),
  );
}

/** What a provider takes in a create-job request; OpenAI's are OPENAI_JOB_RULES. */
export interface JobRules {
  models: Record<string, BaseModel>;
  /** Whether the job keeps the request's `metadata` (OpenAI) or drops it (Azure, see azure-routes.ts). */
  keepMetadata: boolean;
  /** The provider's answer to a model it does not fine-tune. */
  unknownModel(name: string): ApiError;
  /** Checks the provider's own body fields (Azure's `trainingType`); throws ApiError. */
  checkExtra?(body: Record<string, unknown>): void;
}

export const OPENAI_JOB_RULES: JobRules = {
  models: modelTable(BASE_MODELS),
  keepMetadata: true,
  unknownModel: (name) =>
    new ApiError(
      400,
      `Model ${name} is not available for fine-tuning or does not exist.`,
      'model',
      'model_not_available',
    ),
};

interface MethodRequest {
  type?: string;
  supervised?: { hyperparameters?: Partial<Hyperparameters> };
  dpo?: { hyperparameters?: Partial<Hyperparameters> };
}

/** A new job, validating_files, from a create-job request body; an ApiError when the provider refuses it. */
export function jobFromRequest(
  body: Record<string, unknown>,
  store: Store,
  rules: JobRules = OPENAI_JOB_RULES,
): { job: Job; base: BaseModel } {
  const requested = String(body.model);
  // A fine-tuned model of this organization's, not deleted, trains further as its base model does
  // (OpenAI: "pass in the fine-tuned model name when creating a new fine-tuning job"; Azure's continuous
  // fine-tuning: the fine-tuned model's id as the base; sources in tunedrop's catalog, CONTINUATION).
  const base = rules.models[requested] ?? rules.models[store.fineTunedModel(requested)?.base ?? ''];
  if (!base) throw rules.unknownModel(requested);
  rules.checkExtra?.(body);
  const trainingFile = checkFiles(body, store);
  const suffix = checkSuffix(body.suffix);
  const method = (body.method ?? { type: 'supervised' }) as MethodRequest;
  const type = checkMethod(method.type ?? 'supervised', base);
  const hyperparameters = checkHyperparameters({
    ...(body.hyperparameters as Partial<Hyperparameters> | undefined),
    ...method[type]?.hyperparameters,
  });
  const job: Job = {
    object: 'fine_tuning.job',
    id: store.newId('ftjob'),
    // The model as asked for: its snapshot, or the fine-tuned model the job continues.
    model: store.fineTunedModel(requested) ? requested : base.snapshot,
    created_at: now(),
    finished_at: null,
    fine_tuned_model: null,
    organization_id: ORGANIZATION,
    result_files: [],
    status: 'validating_files',
    validation_file: body.validation_file == null ? null : String(body.validation_file),
    training_file: trainingFile,
    hyperparameters,
    trained_tokens: null,
    error: null,
    user_provided_suffix: suffix,
    seed: typeof body.seed === 'number' ? body.seed : Math.floor(Math.random() * 2 ** 31),
    estimated_finish: null,
    integrations: null,
    metadata: rules.keepMetadata ? ((body.metadata as Record<string, string> | undefined) ?? null) : null,
    method:
      type === 'dpo'
        ? { type, dpo: { hyperparameters: { ...hyperparameters, beta: 'auto' } } }
        : { type, supervised: { hyperparameters } },
  };
  return { job, base };
}

/** The training file's id, once it and the validation file (if any) are known files. */
function checkFiles(body: Record<string, unknown>, store: Store): string {
  const training = store.file(String(body.training_file));
  if (!training)
    throw new ApiError(
      400,
      `invalid training_file: ${String(body.training_file)}`,
      'training_file',
      'invalid_training_file',
    );
  if (training.purpose !== 'fine-tune')
    throw new ApiError(
      400,
      `File ${training.id} has purpose ${training.purpose}, not fine-tune.`,
      'training_file',
    );
  if (body.validation_file != null && !store.file(String(body.validation_file)))
    throw new ApiError(400, `invalid validation_file: ${String(body.validation_file)}`, 'validation_file');
  return training.id;
}

function checkSuffix(value: unknown): string | null {
  const suffix = value == null ? null : String(value);
  // The spec's CreateFineTuningJobRequest.suffix: minLength 1, maxLength 64.
  if (suffix !== null && suffix.length > 64)
    throw new ApiError(400, 'suffix must be at most 64 characters', 'suffix');
  if (suffix === '')
    throw new ApiError(
      400,
      "Invalid 'suffix': string too short. Expected a string with minimum length 1, but got an empty string instead.",
      'suffix',
    );
  return suffix;
}

/** The method, if the model takes it and this emulator runs it. */
function checkMethod(type: string, base: BaseModel): 'supervised' | 'dpo' {
  if (type !== 'supervised' && type !== 'dpo' && type !== 'reinforcement')
    throw new ApiError(400, `invalid method.type: ${JSON.stringify(type)}`, 'method.type');
  // The method against the model is checked when the job is created (the live API's wording is not
  // known; the spec's ErrorResponse shape is).
  if (!base.methods.includes(type))
    throw new ApiError(
      400,
      `Model ${base.snapshot} does not support the ${type} fine-tuning method.`,
      'method.type',
      'invalid_method',
    );
  if (type === 'reinforcement')
    throw new ApiError(400, 'This emulator does not run reinforcement fine-tuning.', 'method.type');
  return type;
}

function checkHyperparameters(given: Partial<Hyperparameters>): Hyperparameters {
  const check = (name: keyof Hyperparameters, valid: (v: number) => boolean) => {
    const value = given[name] ?? 'auto';
    if (value !== 'auto' && !(typeof value === 'number' && valid(value)))
      throw new ApiError(
        400,
        `invalid hyperparameters.${name}: ${JSON.stringify(value)}`,
        `hyperparameters.${name}`,
      );
    return value;
  };
  return {
    n_epochs: check('n_epochs', (v) => Number.isInteger(v) && v >= 1 && v <= 50),
    batch_size: check('batch_size', (v) => Number.isInteger(v) && v >= 1 && v <= 256),
    learning_rate_multiplier: check('learning_rate_multiplier', (v) => v > 0 && v <= 10),
  };
}
