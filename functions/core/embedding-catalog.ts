import type { CatalogSource, ProviderName } from './catalog.js';

/**
 * The embedding models tunedrop can run (#15), with the limits and prices a run needs. Every fact comes
 * from docs/embeddings-facts.md (gathered 2026-11-30); each entry's `sources` says where, and a fact no
 * stored source confirms says NOT CONFIRMED beside it. Change this table, not the code, when a provider
 * changes a limit or a price.
 */

/** The vector sizes a model accepts in its `dimensions` parameter. */
export type EmbeddingDimensions =
  | { kind: 'range'; min: number; max: number }
  | { kind: 'choices'; values: number[] }
  /** No `dimensions` parameter: the model always answers with its native size. */
  | { kind: 'fixed' };

/** OpenAI Batch API's per-file limits for /v1/embeddings. */
export interface EmbeddingBatchLimits {
  maxRequestsPerFile: number;
  /** UTF-8 bytes of the input file. */
  maxBytesPerFile: number;
  /** Embedding inputs summed over every request of one batch. */
  maxInputsPerBatch: number;
}

export interface EmbeddingModelInfo {
  provider: ProviderName;
  /** The model as the provider names it (on Azure, the deployment's model; requests name the deployment). */
  id: string;
  /** Vector size when no `dimensions` is sent. */
  nativeDimensions: number;
  dimensions: EmbeddingDimensions;
  /** Longest single input, in tokens of `tokenizer`. */
  maxInputTokens: number;
  /** Longest single input in characters, where the provider also caps characters (Titan). */
  maxInputChars?: number;
  maxInputsPerRequest: number;
  /** Tokens summed across the inputs of one request. */
  maxTokensPerRequest: number;
  /**
   * How tunedrop counts tokens locally. 'none': the provider's tokenizer is not public; counts are made
   * with cl100k_base as an estimate (limits and the cost estimate are then approximate; the billed count
   * comes back from the provider).
   */
  tokenizer: 'cl100k_base' | 'none';
  /** USD per 1M input tokens; null where no source gives the price (the cost is then unknown). */
  prices: { standard: number | null; batch: number | null };
  /** Set where tunedrop uses the provider's Batch API for embeddings (OpenAI only). */
  batch?: EmbeddingBatchLimits;
  sources: CatalogSource[];
}

const READ = '2026-11-30';

/** The spec's CreateEmbeddingRequest (openai/openai-openapi f85dbe22, 2026-08-21), read 2026-11-30. */
const OPENAI_SPEC: CatalogSource = {
  url: 'https://github.com/openai/openai-openapi (CreateEmbeddingRequest, CreateBatchRequest)',
  read: READ,
  note: '≤ 8192 tokens per input (8191 in many 3p tables: the safe cap), ≤ 2048 inputs and ≤ 300,000 tokens per request; batch files ≤ 50,000 requests, ≤ 200 MB, ≤ 50,000 embedding inputs per batch',
};
const OPENAI_MODEL_PAGE: CatalogSource = {
  url: 'https://developers.openai.com/api/docs/models/text-embedding-3-large',
  read: READ,
  note: 'standard price: $0.13 (-3-large), $0.02 (-3-small) per 1M tokens',
};
const OPENAI_BATCH_PRICES: CatalogSource = {
  url: 'https://embeddingcost.com/openai',
  read: READ,
  note: '3p ("Verified May 2026"): batch $0.010 (-3-small), $0.065 (-3-large), "N/A" for ada-002',
};
const ADA_PRICE: CatalogSource = {
  url: 'https://zilliz.com/ai-models/text-embedding-ada-002',
  read: READ,
  note: '3p (2024-07-25): $0.10 per 1M tokens; the batch price is NOT CONFIRMED',
};
const TOKENIZER: CatalogSource = {
  url: 'https://developers.llamaindex.ai/typescript/framework-api-reference/variables/all_openai_embedding_models',
  read: READ,
  note: '3p: cl100k_base for all three OpenAI embedding models (not confirmed from an OpenAI page)',
};
const AZURE_EMBEDDINGS: CatalogSource = {
  url: 'https://learn.microsoft.com/en-ca/Azure/foundry/openai/how-to/embeddings',
  read: READ,
  note: '`model` is the deployment name; 8,192 tokens per input, ≤ 2048 inputs per request. The per-request token total and the prices are NOT CONFIRMED',
};
const TITAN_LIMITS: CatalogSource = {
  url: 'https://docs.aws.amazon.com/bedrock/latest/userguide/titan-embedding-models.html',
  read: READ,
  note: '8,192 tokens or 50,000 characters per input; dimensions 1024 (default), 512, 256; one inputText per InvokeModel',
};
const TITAN_PRICE: CatalogSource = {
  url: 'https://aws.amazon.com/bedrock/pricing/',
  read: READ,
  note: '3p copies only: $0.00002 per 1K tokens ($0.02 per 1M); not shown on the stored AWS page; batch price NOT CONFIRMED',
};

/** OpenAI's Batch API limits for /v1/embeddings (spec CreateBatchRequest, read 2026-11-30). */
export const OPENAI_EMBEDDING_BATCH: EmbeddingBatchLimits = {
  maxRequestsPerFile: 50_000,
  maxBytesPerFile: 200 * 1024 * 1024,
  maxInputsPerBatch: 50_000,
};

/**
 * 8191, not the spec's 8192: 3p tables say 8191, and 8191 satisfies both (docs/embeddings-facts.md 1.1,
 * read 2026-11-30).
 */
const OPENAI_MAX_INPUT_TOKENS = 8191;
const OPENAI_LIMITS = {
  maxInputTokens: OPENAI_MAX_INPUT_TOKENS,
  maxInputsPerRequest: 2048,
  maxTokensPerRequest: 300_000,
  tokenizer: 'cl100k_base',
} as const;

const OPENAI_FAMILY: ReadonlyArray<
  Pick<EmbeddingModelInfo, 'id' | 'nativeDimensions' | 'dimensions'> & {
    prices: EmbeddingModelInfo['prices'];
    priceSources: CatalogSource[];
  }
> = [
  {
    id: 'text-embedding-3-small',
    nativeDimensions: 1536,
    // The spec says only "minimum: 1"; the maximum being the native size is what every copy says
    // (NOT CONFIRMED from an official page, read 2026-11-30).
    dimensions: { kind: 'range', min: 1, max: 1536 },
    prices: { standard: 0.02, batch: 0.01 },
    priceSources: [OPENAI_MODEL_PAGE, OPENAI_BATCH_PRICES],
  },
  {
    id: 'text-embedding-3-large',
    nativeDimensions: 3072,
    dimensions: { kind: 'range', min: 1, max: 3072 },
    prices: { standard: 0.13, batch: 0.065 },
    priceSources: [OPENAI_MODEL_PAGE, OPENAI_BATCH_PRICES],
  },
  {
    id: 'text-embedding-ada-002',
    nativeDimensions: 1536,
    // "Only supported in text-embedding-3 and later models" (spec, read 2026-11-30).
    dimensions: { kind: 'fixed' },
    // The batch price is NOT CONFIRMED (one 3p page says N/A, another 50%): null, so that a batch run
    // of ada-002 is refused (embedding-settings.ts) rather than billed at a price nobody has seen.
    prices: { standard: 0.1, batch: null },
    priceSources: [ADA_PRICE],
  },
];

export const EMBEDDING_MODELS: readonly EmbeddingModelInfo[] = [
  ...OPENAI_FAMILY.map(({ priceSources, ...model }): EmbeddingModelInfo => ({
    provider: 'openai',
    ...model,
    ...OPENAI_LIMITS,
    batch: OPENAI_EMBEDDING_BATCH,
    sources: [OPENAI_SPEC, TOKENIZER, ...priceSources],
  })),
  ...OPENAI_FAMILY.map(({ id, nativeDimensions, dimensions }): EmbeddingModelInfo => ({
    provider: 'azure-openai',
    id,
    nativeDimensions,
    dimensions,
    // Azure documents 8,192 tokens and 2048 inputs; its per-request token total is NOT CONFIRMED
    // (read 2026-11-30): OpenAI's 300,000 is assumed, as the same models behind the same API.
    ...OPENAI_LIMITS,
    // Azure's prices are NOT CONFIRMED (read 2026-11-30): the cost is unknown, and a run with a
    // budget is refused rather than guessed (embedding-validation.ts).
    prices: { standard: null, batch: null },
    // No `batch`: whether Azure Global Batch serves /embeddings is NOT CONFIRMED (read 2026-11-30).
    sources: [AZURE_EMBEDDINGS, TOKENIZER],
  })),
  {
    provider: 'bedrock',
    id: 'amazon.titan-embed-text-v2:0',
    nativeDimensions: 1024,
    dimensions: { kind: 'choices', values: [1024, 512, 256] },
    maxInputTokens: 8192,
    maxInputChars: 50_000,
    // InvokeModel takes one inputText (read 2026-11-30), so a request is one text and its token cap is
    // the input's.
    maxInputsPerRequest: 1,
    maxTokensPerRequest: 8192,
    // Titan's tokenizer is not public: tokens are estimated with cl100k_base; Bedrock bills from its
    // own `inputTextTokenCount`.
    tokenizer: 'none',
    // Bedrock batch inference exists for Titan V2 but its batch price and quotas are NOT CONFIRMED
    // (read 2026-11-30): tunedrop calls InvokeModel, at the on-demand price.
    prices: { standard: 0.02, batch: null },
    sources: [TITAN_LIMITS, TITAN_PRICE],
  },
];

/** The model a collection embeds with when its tunedrop.json names none. */
export const DEFAULT_EMBEDDING_MODELS: Readonly<Record<ProviderName, string>> = {
  openai: 'text-embedding-3-small',
  'azure-openai': 'text-embedding-3-small',
  bedrock: 'amazon.titan-embed-text-v2:0',
};

export function findEmbeddingModel(provider: ProviderName, id: string): EmbeddingModelInfo | undefined {
  return EMBEDDING_MODELS.find((model) => model.provider === provider && model.id === id);
}

export function embeddingModelsOf(provider: ProviderName): EmbeddingModelInfo[] {
  return EMBEDDING_MODELS.filter((model) => model.provider === provider);
}

/** The price a mode is billed at, USD per 1M tokens; null where unknown. */
export function embeddingPricePerMillion(model: EmbeddingModelInfo, mode: 'batch' | 'direct'): number | null {
  return mode === 'batch' ? model.prices.batch : model.prices.standard;
}

/**
 * What `tokens` input tokens cost in `mode`, in USD; null where the price is unknown (Azure, ada-002 in
 * batch). Embeddings bill input tokens only.
 */
export function embeddingCostUsd(
  model: EmbeddingModelInfo,
  tokens: number,
  mode: 'batch' | 'direct',
): number | null {
  const price = embeddingPricePerMillion(model, mode);
  return price === null ? null : (tokens * price) / 1_000_000;
}
