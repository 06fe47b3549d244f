/**
 * The models tunedrop can fine-tune, with what a run needs to know about them.
 *
 * Source: OpenAI's fine-tuning guide and pricing page, and its deprecations page, as read on 2026-11-01;
 * inputs and methods re-read on 2026-11-29 (each entry's `sources` says where). Prices are USD per 1M
 * training tokens for supervised fine-tuning (billed tokens = tokens in the training file × epochs).
 * Change this table, not the code, when OpenAI changes a price, a date or what a model trains on.
 */

/**
 * Who trains the model. One line of a family's tunedrop.json (`"provider"`) picks one; the catalog
 * holds each provider's models apart, since the same model name has other dates and prices on each.
 */
export const PROVIDERS = ['openai', 'azure-openai', 'bedrock'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** Providers as people write them in prose and fixes. */
export const PROVIDER_TITLES: Readonly<Record<ProviderName, string>> = {
  openai: 'OpenAI',
  'azure-openai': 'Azure OpenAI',
  bedrock: 'Amazon Bedrock',
};

/**
 * How the provider wants a training line written. tunedrop checks and splits every file as OpenAI
 * chat (or preference) lines; the provider adapter writes each line in this format on upload.
 * - `openai-chat`: as is (OpenAI and Azure OpenAI).
 * - `bedrock-conversation-2024`: Amazon Nova's records (system and messages of content blocks).
 * - `prompt-completion`: one `{"prompt", "completion"}` per line (Meta Llama on Bedrock).
 */
export type DataFormat = 'openai-chat' | 'bedrock-conversation-2024' | 'prompt-completion';

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

/** A hyperparameter's allowed values at a provider that checks them itself (Bedrock does, at create). */
export interface HyperparameterRange {
  min: number;
  max: number;
  /** What the provider uses when tunedrop sends nothing (or "auto"). */
  default: number;
}

export interface ModelInfo {
  /** Who trains it; the same id may be listed once per provider. */
  provider: ProviderName;
  /** The snapshot name the provider expects in `model`. */
  id: string;
  /** Names a user may write instead of the snapshot. */
  aliases: string[];
  /** Longest training example in tokens. */
  maxExampleTokens: number;
  /** USD per 1M billed training tokens; null where no source gives the price (the cost is then unknown). */
  trainingUsdPerMillionTokens: number | null;
  /** Where the price comes from, when it is not the provider's pricing page named in this file's header. */
  priceSource?: CatalogSource;
  /** How a line is written for this provider. @default 'openai-chat' */
  dataFormat?: DataFormat;
  /**
   * Ranges the provider enforces when the job is created (Bedrock): tunedrop checks them at validation,
   * before anything is uploaded. Absent where the provider resolves "auto" itself (OpenAI, Azure).
   */
  hyperparameters?: {
    epochs: HyperparameterRange;
    learningRate: HyperparameterRange;
    /** Nova only. */
    learningRateWarmupSteps?: HyperparameterRange;
    source: CatalogSource;
  };
  /** Fewest training examples the provider accepts. @default 10 (OpenAI's and Azure's minimum) */
  minExamples?: number;
  /** Most training plus validation examples the provider accepts, if it limits them. */
  maxExamples?: number;
  /** Whether the provider trains with a validation file for this model. @default true */
  takesValidationFile?: boolean;
  /** Words the provider's training refuses inside any message (Nova's reserved words). */
  reservedWords?: readonly string[];
  /**
   * What keeping the trained model costs besides using it, where the provider charges for that: Azure's
   * hourly hosting of a deployment, Bedrock's monthly storage of a custom model. Absent for OpenAI, which
   * charges fine-tuned models per token only. Null `usd` where no source gives the amount.
   */
  upkeep?: { usd: number | null; per: 'hour' | 'month'; what: string; source: CatalogSource };
  /**
   * Amazon Bedrock: a custom model of it answers on demand from a custom model deployment (no hosting fee,
   * billed per token), and the base model answers as `modelId` (its id without the customization's
   * context length). Absent where a custom model needs Provisioned Throughput to answer.
   */
  onDemand?: { modelId: string; source: CatalogSource };
  /**
   * Azure OpenAI: a fine-tune of it can be deployed in the Developer tier (no hosting fee, per-token
   * billing, deleted after 24 hours), which is how evaluation asks it. Absent where only Standard or Global
   * deployments ($1.70 an hour) would answer.
   */
  developerDeployment?: CatalogSource;
  /**
   * USD per 1M tokens of calling the base model, and of calling a model fine-tuned from it (OpenAI charges
   * fine-tuned models more): what evaluation's calls cost (functions/evaluate). Absent where no source
   * gives them; the evaluation's cost is then unknown, as a training cost is without a price.
   */
  inference?: {
    base: TokenPrice;
    fineTuned: TokenPrice;
    /** Through the provider's Batch API (not always half: docs/evaluation-facts.md 1.1). */
    batch?: { base: TokenPrice; fineTuned: TokenPrice };
    source: CatalogSource;
  };
  /** A warning every run on this model gets (a limit on who may still train it). */
  accessNote?: { message: string; fix: string; source: CatalogSource };
  methods: readonly TrainingMethodName[];
  /** What its training examples may contain: every model trains on text; some on images too. */
  inputs: readonly TrainingInput[];
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

/** USD per 1M input and output tokens of calling a model (uncached input, standard processing). */
export interface TokenPrice {
  inputUsdPerMillionTokens: number;
  outputUsdPerMillionTokens: number;
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
/**
 * Inference prices. OpenAI's pricing page itself is not stored here; its figures are those of copies of it
 * that agree with each other (one "verified on 2026-07-31" against the page), read 2026-11-30
 * (docs/evaluation-facts.md, section 1.1). Batch prices are not half everywhere, so none is derived.
 */
const INFERENCE_PRICES: CatalogSource = {
  url: 'https://developers.openai.com/api/docs/pricing',
  read: '2026-11-30',
  note: 'as copies of the page give it (docs/evaluation-facts.md 1.1); uncached input, standard processing and, where given, batch',
};
const perMillion = (input: number, output: number): TokenPrice => ({
  inputUsdPerMillionTokens: input,
  outputUsdPerMillionTokens: output,
});

// Reinforcement fine-tuning (https://developers.openai.com/api/docs/guides/reinforcement-fine-tuning,
// read 2026-11-29) is for reasoning models (o4-mini-2025-04-16); no model in this catalog offers it.

const OPENAI_MODELS: readonly ModelInfo[] = [
  {
    provider: 'openai',
    id: 'gpt-4.1-mini-2025-04-14',
    aliases: ['gpt-4.1-mini'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 5,
    methods: ['supervised', 'dpo'],
    inputs: ['text'],
    sources: { supervised: SUPERVISED_GUIDE, dpo: DPO_GUIDE },
    inference: {
      base: perMillion(0.4, 1.6),
      fineTuned: perMillion(0.8, 3.2),
      batch: { base: perMillion(0.2, 0.8), fineTuned: perMillion(0.4, 1.6) },
      source: INFERENCE_PRICES,
    },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    provider: 'openai',
    id: 'gpt-4.1-2025-04-14',
    aliases: ['gpt-4.1'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 25,
    methods: ['supervised', 'dpo'],
    inputs: ['text'],
    sources: { supervised: SUPERVISED_GUIDE, dpo: DPO_GUIDE },
    inference: {
      base: perMillion(2, 8),
      fineTuned: perMillion(3, 12),
      batch: { base: perMillion(1, 4), fineTuned: perMillion(1.5, 6) },
      source: INFERENCE_PRICES,
    },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    provider: 'openai',
    id: 'gpt-4o-mini-2024-07-18',
    aliases: ['gpt-4o-mini'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 3,
    methods: ['supervised'],
    inputs: ['text'],
    sources: { supervised: FINE_TUNING_GUIDE },
    inference: {
      base: perMillion(0.15, 0.6),
      fineTuned: perMillion(0.3, 1.2),
      batch: { base: perMillion(0.075, 0.3), fineTuned: perMillion(0.15, 0.6) },
      source: INFERENCE_PRICES,
    },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    provider: 'openai',
    id: 'gpt-4o-2024-08-06',
    aliases: ['gpt-4o'],
    maxExampleTokens: 65_536,
    trainingUsdPerMillionTokens: 25,
    methods: ['supervised', 'dpo'],
    inputs: ['text', 'image'],
    sources: { supervised: FINE_TUNING_GUIDE, image: VISION_GUIDE, dpo: DPO_GPT_4O },
    inference: {
      base: perMillion(2.5, 10),
      fineTuned: perMillion(3.75, 15),
      // Not half of Standard in the copies read: kept as they give it (docs/evaluation-facts.md 1.1).
      batch: { base: perMillion(1.25, 5), fineTuned: perMillion(2.225, 12.5) },
      source: INFERENCE_PRICES,
    },
    newJobsUntil: OPENAI_NEW_JOBS_UNTIL,
    shutdownOn: OPENAI_SHUTDOWN_2027_01_14,
  },
  {
    provider: 'openai',
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
    provider: 'openai',
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
    provider: 'openai',
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
    provider: 'openai',
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

/**
 * Azure OpenAI trains the same OpenAI models through the same API (docs/providers.md, section A), on
 * Microsoft's schedule. Fine-tuning "retires in two phases: training and deployment": training "no
 * earlier than" the date below for existing customers only ("Otherwise, training retirement occurs at
 * base model retirement", which was 2026-10-01 for gpt-4o and gpt-4o-mini, 2026-10-14 for gpt-4.1*),
 * and deployments of fine-tunes a year after the base model (MSD concepts-model-retirement-schedule,
 * page date 2026-07-07, read 2026-11-29). Per-model training prices were not found offline (the
 * pricing page is rendered client-side; Microsoft's cost guide gives $2 per 1M tokens for gpt-4.1
 * Global "for example purposes only"): the cost of an Azure run is reported as unknown, not guessed.
 */
const AZURE_MODELS_PAGE: CatalogSource = {
  url: 'https://learn.microsoft.com/en-us/azure/foundry/openai/concepts/fine-tuning-considerations',
  read: READ_2026_11_29,
  note: 'MSD articles/foundry/includes/fine-tune-supported-models.md (page date 2026-03-05): gpt-4o-mini SFT; gpt-4o, gpt-4.1, gpt-4.1-mini, gpt-4.1-nano SFT and DPO',
};
const AZURE_RETIREMENTS: CatalogSource = {
  url: 'https://learn.microsoft.com/en-us/azure/foundry/openai/concepts/model-retirements',
  read: READ_2026_11_29,
  note: 'fine-tune training retires no earlier than the date given, for existing customers only; deployments a year later',
};
const AZURE_VISION: CatalogSource = {
  url: 'https://learn.microsoft.com/en-us/azure/foundry/openai/how-to/fine-tuning-vision',
  read: READ_2026_11_29,
  note: 'vision fine-tuning on gpt-4o (2024-08-06) and gpt-4.1 (2025-04-14)',
};
const azureAccess = (baseRetired: string): ModelInfo['accessNote'] => ({
  message: `Azure lets only existing fine-tuning customers train this model since its base model retired on ${baseRetired}; a resource that has never fine-tuned it may be refused`,
  fix: 'If Azure refuses the job, train on Amazon Bedrock instead: set "provider": "bedrock" in tunedrop.json.',
  source: AZURE_RETIREMENTS,
});
/** Azure's own minimum: "Fine-tuning jobs won't proceed without at least 10 training examples". */
const AZURE_COMMON = {
  provider: 'azure-openai',
  upkeep: {
    usd: 1.7,
    per: 'hour',
    what: 'hosting a Standard or Global Standard deployment (Developer tier: none, removed after 24 h)',
    source: {
      url: 'https://learn.microsoft.com/en-us/azure/foundry/fine-tuning/cost-management',
      read: READ_2026_11_29,
      note: '"same token price as the base model plus $1.70/hour" hosting (page date 2026-10-05)',
    },
  },
  // Not published for Azure separately; the same models, so OpenAI's per-example limit.
  maxExampleTokens: 65_536,
  trainingUsdPerMillionTokens: null,
  minExamples: 10,
} as const;

/** An Azure OpenAI model: what varies between them is the name, methods, inputs and dates. */
const azureModel = (
  id: string,
  alias: string,
  { dpo, images }: { dpo: boolean; images: boolean },
  dates: { training: string; deployments: string; baseRetired: string },
): ModelInfo => ({
  ...AZURE_COMMON,
  id,
  aliases: [alias],
  methods: dpo ? ['supervised', 'dpo'] : ['supervised'],
  inputs: images ? ['text', 'image'] : ['text'],
  sources: {
    supervised: AZURE_MODELS_PAGE,
    ...(dpo ? { dpo: AZURE_MODELS_PAGE } : {}),
    ...(images ? { image: AZURE_VISION } : {}),
  },
  newJobsUntil: dates.training,
  shutdownOn: dates.deployments,
  accessNote: azureAccess(dates.baseRetired),
});
/** "Developer deployments are available from all Azure OpenAI regions for … GPT-4.1, GPT-4.1-mini, GPT-4.1-nano". */
const AZURE_DEVELOPER_TIER: CatalogSource = {
  url: 'https://learn.microsoft.com/en-us/azure/foundry/openai/how-to/fine-tuning-deploy',
  read: '2026-11-30',
  note: 'the deployment types of fine-tuned models (page date 2026-02-11; docs/evaluation-facts.md 2.1): Developer for o4-mini and the gpt-4.1 family, not gpt-4o or gpt-4o-mini',
};
const GPT_41_DATES = { training: '2027-04-14', deployments: '2027-10-14', baseRetired: '2026-10-14' };
const GPT_4O_DATES = { training: '2027-04-01', deployments: '2027-10-01', baseRetired: '2026-10-01' };

const AZURE_MODELS: readonly ModelInfo[] = [
  {
    ...azureModel('gpt-4.1-mini-2025-04-14', 'gpt-4.1-mini', { dpo: true, images: false }, GPT_41_DATES),
    developerDeployment: AZURE_DEVELOPER_TIER,
  },
  {
    ...azureModel('gpt-4.1-2025-04-14', 'gpt-4.1', { dpo: true, images: true }, GPT_41_DATES),
    developerDeployment: AZURE_DEVELOPER_TIER,
  },
  {
    ...azureModel('gpt-4.1-nano-2025-04-14', 'gpt-4.1-nano', { dpo: true, images: false }, GPT_41_DATES),
    developerDeployment: AZURE_DEVELOPER_TIER,
  },
  azureModel('gpt-4o-2024-08-06', 'gpt-4o', { dpo: true, images: true }, GPT_4O_DATES),
  azureModel('gpt-4o-mini-2024-07-18', 'gpt-4o-mini', { dpo: false, images: false }, GPT_4O_DATES),
];

/**
 * Amazon Bedrock model customization (docs/providers.md, section B): the `:NNk` customization ids of
 * https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html (read 2026-11-29).
 * Bedrock checks hyperparameters when the job is created, so their ranges are here and tunedrop checks
 * them first. Numeric training prices were not found offline (https://aws.amazon.com/bedrock/pricing
 * renders them client-side): the cost of a Bedrock run is reported as unknown, not guessed.
 */
const NOVA_DATA: CatalogSource = {
  url: 'https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html',
  read: READ_2026_11_29,
  note: 'bedrock-conversation-2024 records; first turn user, last assistant; reserved words fail the job',
};
const NOVA_HYPERPARAMETERS = {
  epochs: { min: 1, max: 5, default: 2 },
  learningRate: { min: 1e-6, max: 1e-4, default: 1e-5 },
  learningRateWarmupSteps: { min: 0, max: 100, default: 10 },
  source: {
    url: 'https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-nova-mm.html',
    read: READ_2026_11_29,
  },
} as const;
const LLAMA_HYPERPARAMETERS = {
  epochs: { min: 1, max: 10, default: 5 },
  learningRate: { min: 5e-6, max: 0.1, default: 1e-4 },
  source: {
    url: 'https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-meta-llama31.html',
    read: READ_2026_11_29,
  },
} as const;
/** "If your prompt starts with or contains one of these, the training job will fail due to data issues" (NOVA_DATA). */
export const NOVA_RESERVED_WORDS = [
  'User:',
  'Bot:',
  'Assistant:',
  'System:',
  '<image>',
  '<video>',
  '[EOS]',
] as const;
const NOVA_STORAGE = {
  per: 'month',
  what: 'storing the custom model',
  source: {
    url: 'https://aws.amazon.com/blogs/machine-learning/customize-amazon-nova-models/',
    read: READ_2026_11_29,
    note: 'AWS ML blog (2026-04-08): "a $1.75 monthly recurring storage fee" for a Nova Micro model; the AWS Price List gives $1.95 for Nova 2 Lite (docs/providers.md B7)',
  },
} as const;
/**
 * "Deploy a custom model for on-demand inference" (https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html,
 * read 2026-11-30): Nova Micro, Lite and Pro custom models customized on or after 2025-07-16, in US East
 * (N. Virginia); "you use the deployment's Amazon Resource Name (ARN) as the modelId parameter".
 */
const NOVA_ON_DEMAND: CatalogSource = {
  url: 'https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html',
  read: '2026-11-30',
  note: 'Nova Micro, Lite and Pro custom models customized on or after 2025-07-16; us-east-1',
};
/** Nova's on-demand token prices: the base model's, and a custom model's deployment's, the same. */
const NOVA_INFERENCE_PRICES: CatalogSource = {
  url: 'https://aws.amazon.com/bedrock/pricing/',
  read: '2026-11-30',
  note: 'us-east-1, as third-party price tables give them (the page renders client-side; docs/evaluation-facts.md 3.1); customized Nova models on demand are "charged at the same rate as the non-customized models" (AWS ML blog, 2026-04-08)',
};
const NOVA_COMMON = {
  provider: 'bedrock',
  aliases: [],
  trainingUsdPerMillionTokens: null,
  dataFormat: 'bedrock-conversation-2024',
  methods: ['supervised'],
  inputs: ['text'],
  sources: { supervised: NOVA_DATA },
  hyperparameters: NOVA_HYPERPARAMETERS,
  reservedWords: NOVA_RESERVED_WORDS,
} as const;
/**
 * "Model requirements for training and validation datasets" (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html,
 * read 2026-11-29): Llama 3.1, input+output at most 16,000 tokens; 100 to 10,000 training plus
 * validation records ("adjustable using service quotas").
 */
const LLAMA_COMMON = {
  provider: 'bedrock',
  maxExampleTokens: 16_000,
  minExamples: 100,
  maxExamples: 10_000,
  upkeep: {
    usd: null,
    per: 'month',
    what: 'storing the custom model',
    source: {
      url: 'https://aws.amazon.com/bedrock/pricing/',
      read: READ_2026_11_29,
      note: 'a monthly storage fee per custom model; the amount for Llama was not found offline',
    },
  },
  trainingUsdPerMillionTokens: null,
  dataFormat: 'prompt-completion',
  methods: ['supervised'],
  inputs: ['text'],
  sources: {
    supervised: {
      url: 'https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-code-samples.html',
      read: READ_2026_11_29,
      note: 'Llama 3.1 Instruct fine-tunes on {"prompt", "completion"} lines',
    },
  },
  hyperparameters: LLAMA_HYPERPARAMETERS,
} as const;

const BEDROCK_MODELS: readonly ModelInfo[] = [
  // Nova's per-record limits were not found offline (docs/providers.md, section B3): the context length
  // of the customization id (`:128k`, `:300k`, `:256k`) bounds an example. Claude 3 Haiku (EOL
  // 2026-09-10) and Llama 3.2 (EOL 2026-07-07) are past end of life on Bedrock's model lifecycle page,
  // and a Legacy model takes no new fine-tuning jobs: not offered.
  {
    ...NOVA_COMMON,
    id: 'amazon.nova-micro-v1:0:128k',
    inference: {
      base: perMillion(0.035, 0.14),
      fineTuned: perMillion(0.035, 0.14),
      source: NOVA_INFERENCE_PRICES,
    },
    onDemand: { modelId: 'amazon.nova-micro-v1:0', source: NOVA_ON_DEMAND },
    aliases: ['nova-micro'],
    maxExampleTokens: 128_000,
    upkeep: { ...NOVA_STORAGE, usd: 1.75 },
  },
  {
    ...NOVA_COMMON,
    id: 'amazon.nova-lite-v1:0:300k',
    inference: {
      base: perMillion(0.06, 0.24),
      fineTuned: perMillion(0.06, 0.24),
      source: NOVA_INFERENCE_PRICES,
    },
    onDemand: { modelId: 'amazon.nova-lite-v1:0', source: NOVA_ON_DEMAND },
    aliases: ['nova-lite'],
    maxExampleTokens: 300_000,
    upkeep: { ...NOVA_STORAGE, usd: null },
  },
  {
    ...NOVA_COMMON,
    id: 'amazon.nova-pro-v1:0:300k',
    inference: { base: perMillion(0.8, 3.2), fineTuned: perMillion(0.8, 3.2), source: NOVA_INFERENCE_PRICES },
    onDemand: { modelId: 'amazon.nova-pro-v1:0', source: NOVA_ON_DEMAND },
    aliases: ['nova-pro'],
    maxExampleTokens: 300_000,
    upkeep: { ...NOVA_STORAGE, usd: null },
  },
  {
    ...NOVA_COMMON,
    id: 'amazon.nova-2-lite-v1:0:256k',
    aliases: ['nova-2-lite'],
    maxExampleTokens: 256_000,
    trainingUsdPerMillionTokens: 3.78,
    priceSource: {
      url: 'https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonBedrock/current/index.json',
      read: READ_2026_11_29,
      note: 'AWS Price List API, USE1-Nova2.0Lite-Customization-Training $0.00378 per 1K tokens (queried 2026-08-02, as quoted by a third-party project; docs/providers.md B7); storage $1.95 per model per month',
    },
    // "20,000 train+validation records", reported verified live by a third-party project (docs/providers.md B3).
    maxExamples: 20_000,
    upkeep: { ...NOVA_STORAGE, usd: 1.95 },
    // "Validation sets … will not be supported during SFT training" (nova-2-sft-data-prep, read 2026-11-29).
    takesValidationFile: false,
  },
  {
    ...LLAMA_COMMON,
    id: 'meta.llama3-1-8b-instruct-v1:0:128k',
    aliases: ['llama3-1-8b'],
  },
  {
    ...LLAMA_COMMON,
    id: 'meta.llama3-1-70b-instruct-v1:0:128k',
    aliases: ['llama3-1-70b'],
  },
  // Past Bedrock's Legacy date, when a model stops taking new fine-tuning jobs ("Legacy models can't be
  // used to create new fine-tuning jobs"; https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html,
  // read 2026-11-29, docs/providers.md B2): refused with the replacement named.
  ...['1b', '3b', '11b', '90b'].map((size): ModelInfo => ({
    ...LLAMA_COMMON,
    id: `meta.llama3-2-${size}-instruct-v1:0:128k`,
    aliases: [`llama3-2-${size}`],
    // Legacy from 2026-01-07, end of life 2026-07-07.
    retiredOn: '2026-01-07',
    replacement: 'amazon.nova-micro-v1:0:128k',
  })),
  {
    ...NOVA_COMMON,
    id: 'anthropic.claude-3-haiku-20240307-v1:0:200k',
    aliases: ['claude-3-haiku'],
    maxExampleTokens: 32_000,
    // Legacy from 2026-03-10, end of life 2026-09-10 in most regions.
    retiredOn: '2026-03-10',
    replacement: 'amazon.nova-lite-v1:0:300k',
  },
];

/** Every model of every provider. */
export const MODEL_CATALOG: readonly ModelInfo[] = [...OPENAI_MODELS, ...AZURE_MODELS, ...BEDROCK_MODELS];

/** The model a run trains when its settings name none. */
export const DEFAULT_MODELS: Readonly<Record<ProviderName, string>> = {
  openai: 'gpt-4.1-mini-2025-04-14',
  'azure-openai': 'gpt-4.1-mini-2025-04-14',
  // Text-only and the smallest Nova: the cheapest to try.
  bedrock: 'amazon.nova-micro-v1:0:128k',
};
export const DEFAULT_MODEL = DEFAULT_MODELS.openai;

/**
 * Whether a provider trains a fine-tuned model further (`"baseModel": "latest"`), and on whose word.
 * Bedrock's API takes a custom model's ARN as `baseModelIdentifier` (its pattern allows `custom-model/…`),
 * but no AWS page found says which models train that way: tunedrop refuses it rather than find out after
 * the upload.
 */
export const CONTINUATION: Readonly<
  Record<ProviderName, { supported: boolean; note: string; source: CatalogSource }>
> = {
  openai: {
    supported: true,
    note: 'a fine-tuned model ("ft:…") is the "model" of the next job',
    source: {
      url: 'https://community.openai.com/t/continuous-fine-tuning-best-practices/18942',
      read: READ_2026_11_29,
      note: 'quotes the fine-tuning guide: "pass in the fine-tuned model name when creating a new fine-tuning job"',
    },
  },
  'azure-openai': {
    supported: true,
    note: 'continuous fine-tuning, "supported only for OpenAI models": the fine-tuned model\'s id is the base',
    source: {
      url: 'https://learn.microsoft.com/en-us/azure/foundry/openai/how-to/fine-tuning',
      read: READ_2026_11_29,
      note: 'MicrosoftDocs/azure-ai-docs includes/fine-tuning-rest.md, "Continuous fine-tuning"',
    },
  },
  bedrock: {
    supported: false,
    note: 'no Amazon Bedrock page says which models train from a custom model',
    source: {
      url: 'https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelCustomizationJob.html',
      read: READ_2026_11_29,
      note: 'baseModelIdentifier: "Name of the base model"',
    },
  },
};

export function findModel(name: string, provider: ProviderName = 'openai'): ModelInfo | undefined {
  return MODEL_CATALOG.find(
    (model) => model.provider === provider && (model.id === name || model.aliases.includes(name)),
  );
}

/** The notices a run on a model may get; each is a warning of the validation report. */
export type ModelNoticeCode = 'model_retiring' | 'fine_tune_shutdown' | 'model_access_limited';

/**
 * The settings line that moves a family to another provider: the fix of every refusal that only another
 * provider can get around (OpenAI's end of new jobs, a model's retirement).
 */
export function switchProviderFix(from: ProviderName): string {
  const others = PROVIDERS.filter((provider) => provider !== from);
  return `Train on another provider: put "provider": "${others[0]}" (or "${others[1]}") in the family's tunedrop.json (${FAMILY_SETTINGS_PLACEHOLDER}), with a model it trains (docs/configuration.md, "Choosing a provider" in the README).`;
}

/** Where a fix says "the family's settings file" before the run's own path is known (Record fills it in). */
export const FAMILY_SETTINGS_PLACEHOLDER = 'incoming/<family>/tunedrop.json';

/** Advice about a model for a run starting `today`: new jobs ending soon, the fine-tune's end, access limits. */
export function modelNotices(
  model: ModelInfo,
  today: string,
): Array<{ code: ModelNoticeCode; message: string; fix: string }> {
  const notices: Array<{ code: ModelNoticeCode; message: string; fix: string }> = [];
  const daysUntil = (date: string) => Math.round((Date.parse(date) - Date.parse(today)) / 86_400_000);
  const at = PROVIDER_TITLES[model.provider];
  if (model.newJobsUntil && daysUntil(model.newJobsUntil) <= RETIRING_WARNING_DAYS) {
    notices.push({
      code: 'model_retiring',
      message: `${at} takes new fine-tuning jobs for ${model.id} only until ${model.newJobsUntil} (${daysUntil(model.newJobsUntil)} days from now)`,
      fix: `Train what you need before then; after it, ${switchProviderFix(model.provider).replace(/^Train on/, 'train on')}`,
    });
  }
  if (model.shutdownOn && daysUntil(model.shutdownOn) <= SHUTDOWN_WARNING_DAYS) {
    notices.push({
      code: 'fine_tune_shutdown',
      message: `${at} shuts ${model.id} down on ${model.shutdownOn} (${daysUntil(model.shutdownOn)} days from now), and every fine-tune of it with it: the model this run trains stops working then`,
      fix: 'Plan its replacement now, or train on a model with a later shutdown date.',
    });
  }
  if (model.accessNote)
    notices.push({
      code: 'model_access_limited',
      message: model.accessNote.message,
      fix: model.accessNote.fix,
    });
  return notices;
}

export type ModelCheck =
  | { ok: true; model: ModelInfo }
  | { ok: false; reason: 'unknown' | 'retired' | 'closed'; message: string; fix: string };

/** The models a provider can still fine-tune (not retired), for fixes that name them. */
export function modelsOf(provider: ProviderName): string[] {
  return MODEL_CATALOG.filter((m) => m.provider === provider && !m.retiredOn).map((m) => m.id);
}

/** Can a new job be created for this model, at this provider, on this day? */
export function checkModel(name: string, today: string, provider: ProviderName = 'openai'): ModelCheck {
  const model = findModel(name, provider);
  const at = PROVIDER_TITLES[provider];
  if (!model) {
    const elsewhere = PROVIDERS.filter((other) => other !== provider && findModel(name, other));
    return {
      ok: false,
      reason: 'unknown',
      message: `"${name}" is not a model tunedrop can fine-tune on ${at}${elsewhere.length ? ` (${elsewhere.map((p) => PROVIDER_TITLES[p]).join(' and ')} ${elsewhere.length > 1 ? 'train' : 'trains'} it)` : ''}`,
      fix: `Set "model" to one of ${at}'s: ${modelsOf(provider).join(', ')}${elsewhere.length ? `; or set "provider": "${elsewhere[0]}"` : ''}.`,
    };
  }
  if (model.retiredOn && model.retiredOn <= today) {
    return {
      ok: false,
      reason: 'retired',
      message: `${at} shut ${model.id} down for fine-tuning on ${model.retiredOn}`,
      fix: `Set "model" to ${model.replacement ?? modelsOf(provider)[0]}.`,
    };
  }
  if (model.newJobsUntil && today >= model.newJobsUntil) {
    return {
      ok: false,
      reason: 'closed',
      message: `${at} accepts no new fine-tuning jobs for ${model.id} since ${model.newJobsUntil}`,
      fix: switchProviderFix(provider),
    };
  }
  return { ok: true, model };
}

/** The models of a provider that can be fine-tuned on this input today (not retired), for fixes that name them. */
export function modelsTrainingOn(input: TrainingInput, provider: ProviderName = 'openai'): string[] {
  return MODEL_CATALOG.filter(
    (model) => model.provider === provider && !model.retiredOn && model.inputs.includes(input),
  ).map((model) => model.id);
}

/**
 * What training costs: billed tokens (training file tokens x epochs) at the model's price, in USD to
 * 1/100 cent; null when no source gives the model's price.
 */
export function trainingCostUsd(model: ModelInfo, billedTokens: number): number | null {
  if (model.trainingUsdPerMillionTokens === null) return null;
  return Math.round((billedTokens * model.trainingUsdPerMillionTokens) / 100) / 10_000;
}
