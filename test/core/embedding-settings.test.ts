import {
  DEFAULT_EMBEDDING_MODELS,
  EMBEDDING_MODELS,
  embeddingCostUsd,
  findEmbeddingModel,
} from '../../functions/core/embedding-catalog.js';
import {
  chooseEmbeddingMode,
  DIRECT_MAX_INPUTS,
  collectionSettingsKey,
  embeddingInputOf,
  resolveEmbeddingSettings,
} from '../../functions/core/embedding-settings.js';
import { InvalidConfigError } from '../../functions/core/errors.js';
import { PROVIDERS } from '../../functions/core/catalog.js';

const SOURCE = 'embed/docs/tunedrop.json';

function refusal(raw: unknown): InvalidConfigError {
  try {
    resolveEmbeddingSettings(raw, SOURCE);
  } catch (error) {
    if (error instanceof InvalidConfigError) return error;
    throw error;
  }
  throw new Error('the settings were accepted');
}

describe('the embedding catalog', () => {
  it('has a default model for every provider, and each default is in the catalog', () => {
    for (const provider of PROVIDERS)
      expect(findEmbeddingModel(provider, DEFAULT_EMBEDDING_MODELS[provider])).toBeDefined();
  });

  it('cites a source read on 2026-11-30 for every model', () => {
    for (const model of EMBEDDING_MODELS) {
      expect(model.sources.length).toBeGreaterThan(0);
      for (const source of model.sources) expect(source.read).toBe('2026-11-30');
    }
  });

  it('prices text-embedding-3-small at $0.02 per 1M tokens direct and $0.01 in batch', () => {
    const small = findEmbeddingModel('openai', 'text-embedding-3-small')!;
    expect(embeddingCostUsd(small, 1_000_000, 'direct')).toBeCloseTo(0.02, 10);
    expect(embeddingCostUsd(small, 500_000, 'batch')).toBeCloseTo(0.005, 10);
  });

  it('gives no cost where the price is not confirmed: Azure, and ada-002 in batch', () => {
    expect(
      embeddingCostUsd(findEmbeddingModel('azure-openai', 'text-embedding-3-small')!, 10, 'direct'),
    ).toBeNull();
    const ada = findEmbeddingModel('openai', 'text-embedding-ada-002')!;
    expect(embeddingCostUsd(ada, 10, 'batch')).toBeNull();
    expect(embeddingCostUsd(ada, 1_000_000, 'direct')).toBeCloseTo(0.1, 10);
  });

  it('keeps the Batch API limits on OpenAI models only', () => {
    for (const model of EMBEDDING_MODELS) expect(model.batch !== undefined).toBe(model.provider === 'openai');
  });
});

describe('resolveEmbeddingSettings', () => {
  it('fills every default from no settings file at all', () => {
    const settings = resolveEmbeddingSettings(undefined, SOURCE);
    expect(settings).toMatchObject({
      provider: 'openai',
      modelName: 'text-embedding-3-small',
      dimensions: undefined,
      outputDimensions: 1536,
      textField: 'text',
      idField: 'id',
      metadataFields: undefined,
      mode: 'auto',
      output: 'parquet',
      budgetUsd: undefined,
    });
    expect(settings.model.id).toBe('text-embedding-3-small');
  });

  it('refuses an unknown key, naming the file and the known settings in the fix', () => {
    const error = refusal({ modle: 'text-embedding-3-large' });
    expect(error.message).toContain(SOURCE);
    expect(error.message).toContain('"modle"');
    expect(error.fix).toContain('"model"');
    expect(error.fix).toContain('"textField"');
  });

  it('refuses a model the provider does not have, listing the ones it has', () => {
    const error = refusal({ provider: 'bedrock', model: 'text-embedding-3-small' });
    expect(error.message).toContain('Amazon Bedrock');
    expect(error.fix).toContain('"amazon.titan-embed-text-v2:0"');
  });

  it('refuses dimensions for ada-002, which has no such parameter', () => {
    expect(refusal({ model: 'text-embedding-ada-002', dimensions: 512 }).message).toContain(
      'no "dimensions"',
    );
  });

  it('accepts dimensions inside the range and refuses them past the native size', () => {
    expect(resolveEmbeddingSettings({ dimensions: 256 }, SOURCE).outputDimensions).toBe(256);
    expect(refusal({ dimensions: 1537 }).fix).toContain('between 1 and 1536');
  });

  it("accepts only Titan's offered sizes on Bedrock", () => {
    expect(resolveEmbeddingSettings({ provider: 'bedrock', dimensions: 512 }, SOURCE).dimensions).toBe(512);
    expect(refusal({ provider: 'bedrock', dimensions: 768 }).fix).toContain('1024, 512, 256');
  });

  it('requires the deployment on Azure and sends its name as the model', () => {
    expect(refusal({ provider: 'azure-openai' }).fix).toContain('"deployment"');
    const settings = resolveEmbeddingSettings(
      { provider: 'azure-openai', azure: { deployment: 'emb-small' } },
      SOURCE,
    );
    expect(settings.modelName).toBe('emb-small');
    expect(settings.model.id).toBe('text-embedding-3-small');
  });

  it('refuses batch mode where there is no Batch API, and for ada-002 whose batch price is unknown', () => {
    expect(refusal({ provider: 'bedrock', mode: 'batch' }).message).toContain('no Batch API');
    expect(refusal({ model: 'text-embedding-ada-002', mode: 'batch' }).message).toContain('batch price');
  });

  it('refuses a metadata field named like an output column, or the id field', () => {
    expect(refusal({ metadataFields: ['embedding'] }).message).toContain('"embedding"');
    expect(refusal({ idField: 'doc', metadataFields: ['doc'] }).message).toContain('id field');
  });

  it('refuses the same field as id and text, and a negative budget', () => {
    expect(refusal({ idField: 'body', textField: 'body' }).message).toContain('"idField"');
    expect(refusal({ budgetUsd: -1 }).message).toContain('"budgetUsd"');
  });

  it('takes idField null to mean line numbers', () => {
    expect(resolveEmbeddingSettings({ idField: null }, SOURCE).idField).toBeNull();
  });
});

describe('chooseEmbeddingMode', () => {
  const auto = resolveEmbeddingSettings({}, SOURCE);

  it('goes direct up to DIRECT_MAX_INPUTS inputs and batch above, on OpenAI', () => {
    expect(chooseEmbeddingMode(auto, DIRECT_MAX_INPUTS)).toBe('direct');
    expect(chooseEmbeddingMode(auto, DIRECT_MAX_INPUTS + 1)).toBe('batch');
  });

  it('never batches where there is no batch price or API, and follows an explicit mode', () => {
    const ada = resolveEmbeddingSettings({ model: 'text-embedding-ada-002' }, SOURCE);
    const titan = resolveEmbeddingSettings({ provider: 'bedrock' }, SOURCE);
    expect(chooseEmbeddingMode(ada, 1_000_000)).toBe('direct');
    expect(chooseEmbeddingMode(titan, 1_000_000)).toBe('direct');
    expect(chooseEmbeddingMode(resolveEmbeddingSettings({ mode: 'batch' }, SOURCE), 1)).toBe('batch');
  });
});

describe('embeddingInputOf', () => {
  it('reads the collection and format of keys under embed/, and nothing else', () => {
    expect(embeddingInputOf('embed/docs/a.jsonl')).toEqual({ collection: 'docs', format: 'jsonl' });
    expect(embeddingInputOf('embed/docs/sub/a.CSV')).toEqual({ collection: 'docs', format: 'csv' });
    // Directly under embed/: the collection "default", whose settings are embed/tunedrop.json.
    expect(embeddingInputOf('embed/a.jsonl')).toEqual({ collection: 'default', format: 'jsonl' });
    expect(collectionSettingsKey('default')).toBe('embed/tunedrop.json');
    expect(collectionSettingsKey('docs')).toBe('embed/docs/tunedrop.json');
    expect(embeddingInputOf('embed//a.jsonl')).toBeUndefined();
    expect(embeddingInputOf('embed/docs/tunedrop.json')).toBeUndefined();
    expect(embeddingInputOf('incoming/docs/a.jsonl')).toBeUndefined();
  });
});
