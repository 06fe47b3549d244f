import {
  checkModel,
  DEFAULT_MODELS,
  findModel,
  modelNotices,
  switchProviderFix,
} from '../../functions/core/catalog.js';
import { resolveRunConfig, type RunConfig } from '../../functions/core/config.js';
import { providerSettingIssues } from '../../functions/core/provider-settings.js';
import { validateUpload, type ValidateDeps } from '../../functions/validate/validate-upload.js';
import { chatDataset, memoryObjectStore, memoryRunStore } from '../support/fakes.js';

const configOf = (...layers: Array<Record<string, unknown>>): RunConfig => {
  const result = resolveRunConfig(...layers);
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
};
const problemsOf = (...layers: Array<Record<string, unknown>>): string[] => {
  const result = resolveRunConfig(...layers);
  return result.ok ? [] : result.problems;
};

describe('choosing a provider in the run settings', () => {
  it('trains on OpenAI unless a layer says otherwise', () => {
    expect(configOf({})).toMatchObject({ provider: 'openai', model: DEFAULT_MODELS.openai });
  });

  it('switches provider with one line, and the default model follows the provider', () => {
    expect(configOf({ provider: 'bedrock' })).toMatchObject({
      provider: 'bedrock',
      model: 'amazon.nova-micro-v1:0:128k',
    });
    expect(configOf({ provider: 'azure-openai' })).toMatchObject({
      provider: 'azure-openai',
      model: DEFAULT_MODELS['azure-openai'],
    });
  });

  it("lets the family's file switch away from the stack default", () => {
    expect(configOf({ provider: 'azure-openai' }, { provider: 'bedrock' }).provider).toBe('bedrock');
  });

  it('refuses an unknown provider, naming the ones there are', () => {
    expect(problemsOf({ provider: 'vertex' }).join()).toMatch(
      /provider: .*"openai".*"azure-openai".*"bedrock"/,
    );
  });

  it("refuses another provider's settings instead of ignoring them, naming the line that would make them apply", () => {
    expect(problemsOf({ azure: { trainingType: 'GlobalStandard' } })).toEqual([
      expect.stringMatching(/^azure: .*Azure OpenAI only.*set "provider": "azure-openai"/),
    ]);
    expect(problemsOf({ provider: 'azure-openai', bedrock: { learningRate: 1e-5 } })).toEqual([
      expect.stringMatching(/^bedrock: .*Amazon Bedrock only.*"provider": "bedrock"/),
    ]);
  });

  it("checks each provider's settings for their own shape", () => {
    expect(problemsOf({ provider: 'azure-openai', azure: { trainingType: 'Cheap' } }).join()).toMatch(
      /azure.trainingType/,
    );
    expect(problemsOf({ provider: 'bedrock', bedrock: { learningRate: -1 } }).join()).toMatch(
      /bedrock.learningRate/,
    );
    expect(problemsOf({ provider: 'bedrock', bedrock: { warmup: 3 } }).join()).toMatch(/bedrock.*warmup/);
  });

  it('refuses "notPromoted": "delete" on Azure OpenAI, whose API deletes no model', () => {
    expect(problemsOf({ provider: 'azure-openai', promotion: { notPromoted: 'delete' } })).toEqual([
      expect.stringMatching(
        /^promotion.notPromoted: .*cannot delete a fine-tuned model.*"notPromoted": "keep"/,
      ),
    ]);
    expect(problemsOf({ provider: 'bedrock', promotion: { notPromoted: 'delete' } })).toEqual([]);
  });

  it('evaluates through the Batch API only on OpenAI, and says which line to change elsewhere', () => {
    expect(configOf({ evaluation: { mode: 'batch' } }).evaluation.mode).toBe('batch');
    expect(configOf({}).evaluation.mode).toBe('online');
    for (const provider of ['azure-openai', 'bedrock'])
      expect(problemsOf({ provider, evaluation: { mode: 'batch' } })).toEqual([
        expect.stringMatching(
          /^evaluation.mode: "mode": "batch" evaluates through OpenAI's Batch API.*"mode": "online"/,
        ),
      ]);
  });

  it('refuses the hyperparameters Bedrock does not take, saying what to set instead', () => {
    expect(problemsOf({ provider: 'bedrock', hyperparameters: { learningRateMultiplier: 2 } })).toEqual([
      expect.stringMatching(
        /hyperparameters.learningRateMultiplier: .*absolute learning rate.*"bedrock": \{ "learningRate"/,
      ),
    ]);
    expect(problemsOf({ provider: 'bedrock', hyperparameters: { batchSize: 8 } }).join()).toMatch(
      /hyperparameters.batchSize/,
    );
  });
});

describe('the catalog of every provider', () => {
  it("keeps the same model name apart per provider, with each provider's own dates", () => {
    const openai = findModel('gpt-4.1-mini')!;
    const azure = findModel('gpt-4.1-mini', 'azure-openai')!;
    expect(openai.provider).toBe('openai');
    expect(azure.provider).toBe('azure-openai');
    expect(openai.newJobsUntil).toBe('2027-01-06');
    expect(azure.newJobsUntil).toBe('2027-04-14');
  });

  it('gives every model a source for each method and a price or an explicit unknown', () => {
    for (const provider of ['openai', 'azure-openai', 'bedrock'] as const) {
      const model = findModel(DEFAULT_MODELS[provider], provider)!;
      expect(model).toBeDefined();
      for (const method of model.methods) expect(model.sources[method]?.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(model.trainingUsdPerMillionTokens === null || model.trainingUsdPerMillionTokens > 0).toBe(true);
    }
  });

  it("says when a model belongs to another provider, and names that provider's line", () => {
    const check = checkModel('amazon.nova-micro-v1:0:128k', '2026-11-29', 'openai');
    expect(check).toMatchObject({ ok: false, reason: 'unknown' });
    if (check.ok) return;
    expect(check.message).toMatch(/Amazon Bedrock trains it/);
    expect(check.fix).toMatch(/"provider": "bedrock"/);
  });

  it("refuses a model past Bedrock's Legacy date, naming the replacement", () => {
    expect(checkModel('claude-3-haiku', '2026-11-29', 'bedrock')).toMatchObject({
      ok: false,
      reason: 'retired',
      message:
        'Amazon Bedrock shut anthropic.claude-3-haiku-20240307-v1:0:200k down for fine-tuning on 2026-03-10',
      fix: 'Set "model" to amazon.nova-lite-v1:0:300k.',
    });
    expect(checkModel('llama3-2-3b', '2026-11-29', 'bedrock')).toMatchObject({
      ok: false,
      reason: 'retired',
    });
  });

  it('closes OpenAI on 2027-01-06 with a fix that names the exact line switching provider', () => {
    const check = checkModel('gpt-4.1-mini', '2027-01-06', 'openai');
    expect(check).toMatchObject({ ok: false, reason: 'closed' });
    if (check.ok) return;
    expect(check.fix).toBe(switchProviderFix('openai'));
    expect(check.fix).toMatch(
      /put "provider": "azure-openai" \(or "bedrock"\) in the family's tunedrop.json/,
    );
  });

  it('keeps Azure open after OpenAI closes, and warns that Azure limits who may still train', () => {
    expect(checkModel('gpt-4.1-mini', '2027-01-06', 'azure-openai').ok).toBe(true);
    const notices = modelNotices(findModel('gpt-4.1-mini', 'azure-openai')!, '2026-11-29').map((n) => n.code);
    expect(notices).toContain('model_access_limited');
    expect(notices).not.toContain('fine_tune_shutdown');
  });

  it('warns within 30 days of a provider closing new jobs, naming the provider', () => {
    const [notice] = modelNotices(findModel('gpt-4.1-mini', 'azure-openai')!, '2027-03-20');
    expect(notice).toMatchObject({
      code: 'model_retiring',
      message: expect.stringMatching(/^Azure OpenAI takes new/),
    });
  });
});

describe("Bedrock's hyperparameter ranges, checked before any upload", () => {
  const nova = findModel('amazon.nova-micro-v1:0:128k', 'bedrock')!;
  it('accepts values inside the range and leaves "auto" to Bedrock', () => {
    expect(providerSettingIssues(configOf({ provider: 'bedrock' }), nova)).toEqual([]);
    expect(
      providerSettingIssues(
        configOf({ provider: 'bedrock', hyperparameters: { nEpochs: 5 }, bedrock: { learningRate: 1e-4 } }),
        nova,
      ),
    ).toEqual([]);
  });

  it('refuses a value outside the range, naming the setting, the range and the default', () => {
    const issues = providerSettingIssues(
      configOf({ provider: 'bedrock', hyperparameters: { nEpochs: 6 }, bedrock: { learningRate: 0.5 } }),
      nova,
    );
    expect(issues.map((i) => [i.code, i.message])).toEqual([
      ['setting_out_of_range', expect.stringMatching(/^hyperparameters.nEpochs = 6 .* 1 to 5$/)],
      ['setting_out_of_range', expect.stringMatching(/^bedrock.learningRate = 0.5 .* 0.000001 to 0.0001$/)],
    ]);
    expect(issues[0]!.fix).toMatch(/leave it out for 2/);
  });

  it('refuses a setting the model does not take (warm-up steps on Llama)', () => {
    const llama = findModel('meta.llama3-1-8b-instruct-v1:0:128k', 'bedrock')!;
    const issues = providerSettingIssues(
      configOf({ provider: 'bedrock', model: llama.id, bedrock: { learningRateWarmupSteps: 5 } }),
      llama,
    );
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'setting_out_of_range',
        message: expect.stringMatching(/takes no such setting/),
      }),
    ]);
  });
});

describe('a run whose price no source gives', () => {
  function setup(settings: Record<string, unknown>) {
    const objects = memoryObjectStore({
      'bucket/incoming/support/tickets.jsonl': chatDataset(50),
      'bucket/incoming/support/tunedrop.json': JSON.stringify(settings),
    });
    const { runs, records } = memoryRunStore();
    const deps: ValidateDeps = {
      store: objects.store,
      runs,
      startRun: async () => undefined,
      executionArn: (runId) => `arn:aws:states:eu-west-1:123456789012:execution:Runs:${runId}`,
      defaults: {},
      incomingPrefix: 'incoming/',
      now: () => new Date('2026-11-29T10:00:00Z'),
    };
    return { deps, objects, records };
  }
  const upload = { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1', size: 10 };
  /** validateUpload of a training file, which always has a run. */
  const trainingRun = async (object: typeof upload, deps: ValidateDeps) => {
    const outcome = await validateUpload(object, deps);
    if (outcome.runId === null) throw new Error('expected a run');
    return { runId: outcome.runId, outcome: outcome.outcome };
  };

  it('trains with a price_unknown warning, and the report says the cost is unknown', async () => {
    const { deps, objects } = setup({ provider: 'bedrock' });
    const { runId, outcome } = await trainingRun(upload, deps);
    expect(outcome).toBe('started');
    const report = JSON.parse(objects.text(`runs/${runId}/validation.json`));
    expect(report.estimate.costUsd).toBeNull();
    expect(report.warnings.map((w: { code: string }) => w.code)).toContain('price_unknown');
    expect(objects.text(`runs/${runId}/validation.md`)).toMatch(/Cost \(estimate\) \| unknown/);
  });

  it("says in the report that Bedrock gets each line in the model's own format", async () => {
    const { deps, objects } = setup({ provider: 'bedrock' });
    const { runId } = await trainingRun(upload, deps);
    expect(JSON.parse(objects.text(`runs/${runId}/validation.json`)).providerFormat).toBe(
      'bedrock-conversation-2024',
    );
    expect(objects.text(`runs/${runId}/validation.md`)).toMatch(
      /### Written in amazon.nova-micro-v1:0:128k's format on upload\n\nAmazon Bedrock trains Nova on `bedrock-conversation-2024` records/,
    );
    expect(objects.text(`runs/${runId}/validation.md`)).toContain(
      '| After training | $1.75 per month for storing the custom model |',
    );
    const openai = setup({});
    const plain = await trainingRun(upload, openai.deps);
    expect(openai.objects.text(`runs/${plain.runId}/validation.md`)).not.toMatch(/format on upload/);
  });

  it('is rejected when a budget is set, since the budget cannot be kept', async () => {
    const { deps, records } = setup({ provider: 'bedrock', maxCostUsd: 5 });
    const { runId, outcome } = await trainingRun(upload, deps);
    expect(outcome).toBe('rejected');
    expect(records.get(runId)).toMatchObject({ provider: 'bedrock', error: { code: 'budget_uncheckable' } });
  });

  it('is rejected when the stack was not deployed with the provider, naming the deployed ones and the file', async () => {
    const { deps, objects } = setup({ provider: 'bedrock' });
    const { runId, outcome } = await trainingRun(upload, { ...deps, providers: ['openai', 'azure-openai'] });
    expect(outcome).toBe('rejected');
    const [first] = JSON.parse(objects.text(`runs/${runId}/validation.json`)).errors;
    expect(first).toMatchObject({
      code: 'provider_not_deployed',
      fix: expect.stringContaining(
        'Set "provider" to one of "openai", "azure-openai" in incoming/support/tunedrop.json',
      ),
    });
  });

  it("is rejected for a Bedrock hyperparameter out of the model's range", async () => {
    const { deps, records } = setup({ provider: 'bedrock', hyperparameters: { nEpochs: 9 } });
    const { runId, outcome } = await trainingRun(upload, deps);
    expect(outcome).toBe('rejected');
    expect(records.get(runId)?.error?.code).toBe('setting_out_of_range');
  });
});
