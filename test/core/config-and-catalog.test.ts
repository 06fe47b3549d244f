import {
  checkModel,
  findModel,
  MODEL_CATALOG,
  modelNotices,
  trainingCostUsd,
} from '../../functions/core/catalog.js';
import { resolveRunConfig } from '../../functions/core/config.js';
import { resolveEpochs } from '../../functions/core/epochs.js';

describe('resolveRunConfig', () => {
  it('fills every default for an empty configuration', () => {
    const result = resolveRunConfig({});
    expect(result).toEqual({
      ok: true,
      config: expect.objectContaining({ model: 'gpt-4.1-mini-2025-04-14', seed: 42, validationRatio: 0.2 }),
    });
  });

  it('lets a later layer win and merges hyperparameters field by field', () => {
    const result = resolveRunConfig(
      { model: 'gpt-4o-mini', hyperparameters: { nEpochs: 2 } },
      { hyperparameters: { batchSize: 8 } },
    );
    expect(result.ok && result.config.hyperparameters).toEqual({
      nEpochs: 2,
      batchSize: 8,
      learningRateMultiplier: 'auto',
    });
  });

  it('names each bad field', () => {
    const result = resolveRunConfig({ validationRatio: 2, modle: 'x' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join('\n')).toMatch(/validationRatio/);
    expect(!result.ok && result.problems.join('\n')).toMatch(/modle/);
  });

  it('refuses an empty suffix, which the provider refuses only when the job is created', () => {
    const result = resolveRunConfig({ suffix: '' });
    expect(!result.ok && result.problems.join('\n')).toMatch(/suffix: leave "suffix" out/);
    expect(resolveRunConfig({ suffix: 'a' }).ok).toBe(true);
  });

  it('leaves the method unset unless the family sets it: the file decides', () => {
    expect(
      resolveRunConfig({}).ok && (resolveRunConfig({}) as { config: { method?: string } }).config.method,
    ).toBe(undefined);
    expect(resolveRunConfig({ method: 'dpo' })).toMatchObject({ ok: true, config: { method: 'dpo' } });
  });
});

describe('checkModel', () => {
  it('accepts a current model by alias', () => {
    expect(checkModel('gpt-4o-mini', '2026-11-24')).toMatchObject({
      ok: true,
      model: { id: 'gpt-4o-mini-2024-07-18' },
    });
  });

  it('refuses a retired model and names the replacement', () => {
    expect(checkModel('babbage-002', '2026-11-24')).toMatchObject({
      ok: false,
      reason: 'retired',
      fix: expect.stringContaining('gpt-4.1-mini'),
    });
  });

  it('refuses an unknown model and lists the ones that work', () => {
    expect(checkModel('gpt-9', '2026-11-24')).toMatchObject({
      ok: false,
      reason: 'unknown',
      fix: expect.stringContaining('gpt-4o-mini'),
    });
  });

  it('refuses every OpenAI model once self-serve fine-tuning has closed', () => {
    expect(checkModel('gpt-4.1-mini', '2027-01-06')).toMatchObject({ ok: false, reason: 'closed' });
  });
});

describe('modelNotices', () => {
  const mini = findModel('gpt-4.1-mini')!;
  it('warns that new jobs end within 30 days, and not earlier', () => {
    expect(modelNotices(mini, '2026-12-07').map((n) => n.code)).toContain('model_retiring');
    expect(modelNotices(mini, '2026-12-05').map((n) => n.code)).not.toContain('model_retiring');
  });

  it('warns within 90 days of the shutdown that takes the trained model with it', () => {
    const [notice] = modelNotices(mini, '2026-11-29');
    expect(notice).toMatchObject({ code: 'fine_tune_shutdown' });
    expect(notice!.message).toContain('2027-01-14 (46 days from now)');
    expect(modelNotices(mini, '2026-10-01')).toEqual([]);
  });
});

describe('resolveEpochs', () => {
  it("follows OpenAI's documented auto rule", () => {
    expect(resolveEpochs('auto', 10)).toBe(10);
    expect(resolveEpochs('auto', 2)).toBe(25);
    expect(resolveEpochs('auto', 40)).toBe(3);
    expect(resolveEpochs('auto', 20_000)).toBe(1);
    expect(resolveEpochs(5, 20_000)).toBe(5);
  });
});

describe('trainingCostUsd', () => {
  it('prices billed tokens per million', () => {
    expect(trainingCostUsd(findModel('gpt-4o-mini')!, 1_000_000)).toBe(3);
    expect(trainingCostUsd(findModel('gpt-4.1-mini')!, 123_456)).toBe(0.6173);
  });
});

describe('inference prices', () => {
  it('every OpenAI model that still trains has dated base and fine-tuned prices, the fine-tuned no cheaper', () => {
    const training = MODEL_CATALOG.filter((m) => m.provider === 'openai' && !m.retiredOn);
    expect(training.length).toBeGreaterThan(0);
    for (const model of training) {
      expect([model.id, model.inference?.source.read]).toEqual([
        model.id,
        expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      ]);
      const { base, fineTuned } = model.inference!;
      expect(fineTuned.inputUsdPerMillionTokens).toBeGreaterThanOrEqual(base.inputUsdPerMillionTokens);
      expect(fineTuned.outputUsdPerMillionTokens).toBeGreaterThanOrEqual(base.outputUsdPerMillionTokens);
    }
  });
});
