/**
 * The models tunedrop can fine-tune, with what a run needs to know about them.
 *
 * Source: OpenAI's fine-tuning guide and pricing page, and its deprecations page, as read on 2026-11-01;
 * inputs and methods re-read on 2026-11-29 (each entry's `sources` says where). Prices are USD per 1M
 * training tokens for supervised fine-tuning (billed tokens = tokens in the training file × epochs).
 * Change this table, not the code, when OpenAI changes a price, a date or what a model trains on.
 */

/** What an example may contain for the model to train on it. */
export type TrainingInput = 'text' | 'image';
export type TrainingMethodName = 'supervised' | 'dpo';

/** Where a fact in the catalog comes from, and when it was read (facts change; this says how old). */
export interface CatalogSource {
  url: string;
  /** ISO date the page was read. */
  read: string;
  /** What the page says, in short, when it is not plain from the field. */
  note?: string;
}

export interface ModelInfo {
  /** The snapshot name the provider expects in `model`. */
  id: string;
  /** Names a user may write instead of the snapshot. */
  aliases: string[];
  /** Longest training example in tokens. */
  maxExampleTokens: number;
  trainingUsdPerMillionTokens: number;
  methods: TrainingMethodName[];
  /** What its training examples may contain: every model trains on text; some on images too. */
  inputs: TrainingInput[];
  /** The source of each input beyond text and of each method. */
  sources: Partial<Record<Exclude<TrainingInput, 'text'> | TrainingMethodName, CatalogSource>>;
  /** ISO date after which new jobs are refused, if announced. */
  newJobsUntil?: string;
  /**
   * ISO date on which the provider shuts the base model down, and with it every fine-tune of it: the
   * last day a model trained now can be used is the day before.
   */
  shutdownOn?: string;
  /** ISO date on which the model was shut down for fine-tuning; set on retired models only. */
  retiredOn?: string;
  /** What to use instead once it is retired. */
  replacement?: string;
}

export const CATALOG_AS_OF = '2026-11-01';

/** OpenAI stops new self-serve fine-tuning jobs on this day for every model. */
export const OPENAI_NEW_JOBS_UNTIL = '2027-01-06';
/**
 * OpenAI shuts down gpt-4o (2024-08-06), gpt-4o-mini, gpt-4.1 and gpt-4.1-mini on this day, "Fine-tuned
 * versions of these models follow the same shutdown schedule as the base models" (deprecations page as
 * mirrored, read 2026-11-29; docs/providers.md section C gives the sources).
 */
export const OPENAI_SHUTDOWN_2027_01_14 = '2027-01-14';
/** A run starting this many days or fewer before a model stops taking new jobs is warned. */
export const RETIRING_WARNING_DAYS = 30;
/** A model trained this many days or fewer before its base model's shutdown is warned: it will not live long. */
export const SHUTDOWN_WARNING_DAYS = 90;

const READ_2026_11_01 = '2026-11-01';
const READ_2026_11_29 = '2026-11-29';
const FINE_TUNING_GUIDE: CatalogSource = {
  url: 'https://developers.openai.com/api/docs/guides/fine-tuning',
  read: READ_2026_11_01,
};
const SUPERVISED_GUIDE: CatalogSource = {
  url: 'https://developers.openai.com/api/docs/guides/supervised-fine-tuning',
  read: READ_2026_11_29,
  note: 'lists gpt-4.1-2025-04-14, gpt-4.1-mini-2025-04-14 and gpt-4.1-nano-2025-04-14',
};
/**
 * Images: only gpt-4o-2024-08-06 on OpenAI ("Use with gpt-4o-2024-08-06"). Azure's page also lists
 * gpt-4.1 (2025-04-14) for vision fine-tuning, but that is Azure's service; OpenAI's guide does not.
 */
export const VISION_GUIDE: CatalogSource = {
  url: 'https://developers.openai.com/api/docs/guides/vision-fine-tuning',
  read: READ_2026_11_29,
  note: 'vision fine-tuning is supervised, with gpt-4o-2024-08-06 only',
};
const DPO_GUIDE: CatalogSource = {
  url: 'https://developers.openai.com/api/docs/guides/direct-preference-optimization',
  read: READ_2026_11_29,
  note: 'lists gpt-4.1-2025-04-14, gpt-4.1-mini-2025-04-14 and gpt-4.1-nano-2025-04-14; text inputs and outputs only',
};
/**
 * gpt-4o-2024-08-06 was DPO's first model when OpenAI launched preference fine-tuning (December 2024),
 * and a live DPO job on it is on record (2024-12-29; see local/openai-emulator/job-request.ts), though the
 * DPO guide read on 2026-11-29 lists only the gpt-4.1 family. gpt-4o-mini-2024-07-18 has no such
 * evidence, so it is not offered DPO: what tunedrop accepts must train (#10), and a refused DPO file
 * names the models that offer it.
 */
const DPO_GPT_4O: CatalogSource = {
  ...FINE_TUNING_GUIDE,
  note: 'DPO launch model (December 2024) and a live DPO job of 2024-12-29; not in the DPO guide read on 2026-11-29',
};
// Reinforcement fine-tuning (https://developers.openai.com/api/docs/guides/reinforcement-fine-tuning,
// read 2026-11-29) is for reasoning models (o4-mini-2025-04-16); no model in this catalog offers it.

export const MODEL_CATALOG: readonly ModelInfo[] = [
  {
    id: 'gpt-4.1-mini-2025-04-14',
    aliases: ['gpt-4.1-mini'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 5,
    methods: ['supervised', 'dpo'],
    inputs: ['text'],
    sources: { supervised: SUPERVISED_GUIDE, dpo: DPO_GUIDE },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    id: 'gpt-4.1-2025-04-14',
    aliases: ['gpt-4.1'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 25,
    methods: ['supervised', 'dpo'],
    inputs: ['text'],
    sources: { supervised: SUPERVISED_GUIDE, dpo: DPO_GUIDE },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    id: 'gpt-4o-mini-2024-07-18',
    aliases: ['gpt-4o-mini'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 3,
    methods: ['supervised'],
    inputs: ['text'],
    sources: { supervised: FINE_TUNING_GUIDE },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    id: 'gpt-4o-2024-08-06',
    aliases: ['gpt-4o'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 25,
    methods: ['supervised', 'dpo'],
    inputs: ['text', 'image'],
    sources: { supervised: FINE_TUNING_GUIDE, image: VISION_GUIDE, dpo: DPO_GPT_4O },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    id: 'gpt-4.1-nano-2025-04-14',
    aliases: ['gpt-4.1-nano'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 1.5,
    methods: ['supervised', 'dpo'],
    inputs: ['text'],
    sources: { supervised: SUPERVISED_GUIDE, dpo: DPO_GUIDE },
    // OpenAI's deprecations page as mirrored (docs/providers.md, section C; read 2026-11-29): shut down
    // on 2026-10-23. The 2026-09-28 of the 2026-11-01 catalog had no source.
    retiredOn: '2026-10-23',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
  {
    id: 'gpt-3.5-turbo-0125',
    aliases: ['gpt-3.5-turbo', 'gpt-3.5-turbo-1106', 'gpt-3.5-turbo-0613'],
    maxExampleTokens: 16_385,
    trainingUsdPerMillionTokens: 8,
    methods: ['supervised'],
    inputs: ['text'],
    sources: { supervised: FINE_TUNING_GUIDE },
    // OpenAI's deprecations page as mirrored (docs/providers.md, section C; read 2026-11-29): shut down
    // on 2026-10-23. The 2026-09-28 of the 2026-11-01 catalog had no source.
    retiredOn: '2026-10-23',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
  {
    id: 'davinci-002',
    aliases: [],
    maxExampleTokens: 16_384,
    trainingUsdPerMillionTokens: 6,
    methods: ['supervised'],
    inputs: ['text'],
    sources: { supervised: FINE_TUNING_GUIDE },
    // ARCHITECTURE.md's facts (shut down 2026-09-28); a tracker gives 2026-10-23 for ft-davinci-002
    // (docs/providers.md, section C). Past either way: refused.
    retiredOn: '2026-09-28',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
  {
    id: 'babbage-002',
    aliases: [],
    maxExampleTokens: 16_384,
    trainingUsdPerMillionTokens: 0.4,
    methods: ['supervised'],
    inputs: ['text'],
    sources: { supervised: FINE_TUNING_GUIDE },
    // ARCHITECTURE.md's facts (shut down 2026-09-28); a tracker gives 2026-10-23 for ft-davinci-002
    // (docs/providers.md, section C). Past either way: refused.
    retiredOn: '2026-09-28',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
];

export const DEFAULT_MODEL = 'gpt-4.1-mini-2025-04-14';

export function findModel(name: string): ModelInfo | undefined {
  return MODEL_CATALOG.find((model) => model.id === name || model.aliases.includes(name));
}

/** Advice about a model's dates for a run starting `today`: new jobs ending soon, the fine-tune's end. */
export function modelNotices(
  model: ModelInfo,
  today: string,
): Array<{ code: 'model_retiring' | 'fine_tune_shutdown'; message: string; fix: string }> {
  const notices: Array<{ code: 'model_retiring' | 'fine_tune_shutdown'; message: string; fix: string }> = [];
  const daysUntil = (date: string) => Math.round((Date.parse(date) - Date.parse(today)) / 86_400_000);
  if (model.newJobsUntil && daysUntil(model.newJobsUntil) <= RETIRING_WARNING_DAYS) {
    notices.push({
      code: 'model_retiring',
      message: `${model.id} takes new fine-tuning jobs only until ${model.newJobsUntil} (${daysUntil(model.newJobsUntil)} days from now)`,
      fix: 'Train what you need before then; after it, use another provider (docs/providers.md).',
    });
  }
  if (model.shutdownOn && daysUntil(model.shutdownOn) <= SHUTDOWN_WARNING_DAYS) {
    notices.push({
      code: 'fine_tune_shutdown',
      message: `the provider shuts ${model.id} down on ${model.shutdownOn} (${daysUntil(model.shutdownOn)} days from now), and every fine-tune of it with it: the model this run trains stops working then`,
      fix: 'Plan its replacement now, or train on a model with a later shutdown date.',
    });
  }
  return notices;
}

export type ModelCheck =
  | { ok: true; model: ModelInfo }
  | { ok: false; reason: 'unknown' | 'retired' | 'closed'; message: string; fix: string };

/** Can a new job be created for this model on this day? */
export function checkModel(name: string, today: string): ModelCheck {
  const model = findModel(name);
  const known = MODEL_CATALOG.filter((m) => !m.retiredOn).map((m) => m.id);
  if (!model) {
    return {
      ok: false,
      reason: 'unknown',
      message: `"${name}" is not a model tunedrop can fine-tune`,
      fix: `Set "model" to one of: ${known.join(', ')}.`,
    };
  }
  if (model.retiredOn && model.retiredOn <= today) {
    return {
      ok: false,
      reason: 'retired',
      message: `${model.id} was shut down for fine-tuning on ${model.retiredOn}`,
      fix: `Set "model" to ${model.replacement ?? known[0]}.`,
    };
  }
  if (model.newJobsUntil && today >= model.newJobsUntil) {
    return {
      ok: false,
      reason: 'closed',
      message: `OpenAI accepts no new fine-tuning jobs for ${model.id} since ${model.newJobsUntil}`,
      fix: 'Use another provider (Azure OpenAI or Amazon Bedrock model customization).',
    };
  }
  return { ok: true, model };
}

/** The models that can be fine-tuned on this input today (not retired), for fixes that name them. */
export function modelsTrainingOn(input: TrainingInput): string[] {
  return MODEL_CATALOG.filter((model) => !model.retiredOn && model.inputs.includes(input)).map(
    (model) => model.id,
  );
}

/** What training costs: billed tokens (training file tokens x epochs) at the model's price, in USD to 1/100 cent. */
export function trainingCostUsd(model: ModelInfo, billedTokens: number): number {
  return Math.round((billedTokens * model.trainingUsdPerMillionTokens) / 100) / 10_000;
}
