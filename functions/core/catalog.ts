/**
 * The models tunedrop can fine-tune, with what a run needs to know about them.
 *
 * Source: OpenAI's fine-tuning guide and pricing page, and its deprecations page, as read on 2026-11-01.
 * Prices are USD per 1M training tokens for supervised fine-tuning (billed tokens = tokens in the
 * training file × epochs). Change this table, not the code, when OpenAI changes a price or a date.
 */
export interface ModelInfo {
  /** The snapshot name the provider expects in `model`. */
  id: string;
  /** Names a user may write instead of the snapshot. */
  aliases: string[];
  /** Longest training example in tokens. */
  maxExampleTokens: number;
  trainingUsdPerMillionTokens: number;
  methods: Array<'supervised' | 'dpo'>;
  /** ISO date after which new jobs are refused, if announced. */
  newJobsUntil?: string;
  /** ISO date on which the model was shut down for fine-tuning; set on retired models only. */
  retiredOn?: string;
  /** What to use instead once it is retired. */
  replacement?: string;
}

export const CATALOG_AS_OF = '2026-11-01';

/** OpenAI stops new self-serve fine-tuning jobs on this day for every model. */
export const OPENAI_NEW_JOBS_UNTIL = '2027-01-06';

export const MODEL_CATALOG: readonly ModelInfo[] = [
  {
    id: 'gpt-4.1-mini-2025-04-14',
    aliases: ['gpt-4.1-mini'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 5,
    methods: ['supervised', 'dpo'],
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
  },
  {
    id: 'gpt-4.1-2025-04-14',
    aliases: ['gpt-4.1'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 25,
    methods: ['supervised', 'dpo'],
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
  },
  {
    id: 'gpt-4o-mini-2024-07-18',
    aliases: ['gpt-4o-mini'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 3,
    methods: ['supervised', 'dpo'],
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
  },
  {
    id: 'gpt-4o-2024-08-06',
    aliases: ['gpt-4o'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 25,
    methods: ['supervised', 'dpo'],
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
  },
  {
    id: 'gpt-4.1-nano-2025-04-14',
    aliases: ['gpt-4.1-nano'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 1.5,
    methods: ['supervised', 'dpo'],
    retiredOn: '2026-09-28',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
  {
    id: 'gpt-3.5-turbo-0125',
    aliases: ['gpt-3.5-turbo', 'gpt-3.5-turbo-1106', 'gpt-3.5-turbo-0613'],
    maxExampleTokens: 16_385,
    trainingUsdPerMillionTokens: 8,
    methods: ['supervised'],
    retiredOn: '2026-09-28',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
  {
    id: 'davinci-002',
    aliases: [],
    maxExampleTokens: 16_384,
    trainingUsdPerMillionTokens: 6,
    methods: ['supervised'],
    retiredOn: '2026-09-28',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
  {
    id: 'babbage-002',
    aliases: [],
    maxExampleTokens: 16_384,
    trainingUsdPerMillionTokens: 0.4,
    methods: ['supervised'],
    retiredOn: '2026-09-28',
    replacement: 'gpt-4.1-mini-2025-04-14',
  },
];

export const DEFAULT_MODEL = 'gpt-4.1-mini-2025-04-14';

export function findModel(name: string): ModelInfo | undefined {
  return MODEL_CATALOG.find((model) => model.id === name || model.aliases.includes(name));
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

/** What training costs: billed tokens (training file tokens x epochs) at the model's price, in USD to 1/100 cent. */
export function trainingCostUsd(model: ModelInfo, billedTokens: number): number {
  return Math.round((billedTokens * model.trainingUsdPerMillionTokens) / 100) / 10_000;
}
