import { resolveRunConfig } from '../../functions/core/config.js';
import { validateDataset } from '../../functions/core/dataset.js';
import { readJsonlLines } from '../../functions/core/jsonl.js';
import { renderValidationMarkdown } from '../../functions/core/report.js';
import { splitDataset } from '../../functions/core/split.js';
import { ExecutionInputSchema } from '../../functions/core/workflow-state.js';
import { chunks, testValidationOptions } from '../support/fakes.js';

/** Labels that name members of Object.prototype: they must count, split and print like any other. */
const LABELS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
const PER_LABEL = 30;
const text = `${LABELS.flatMap((label, l) =>
  Array.from({ length: PER_LABEL }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `ticket ${l}-${i}: something about ${i * 7 + l}` },
        { role: 'assistant', content: label },
      ],
    }),
  ),
).join('\n')}\n`;

describe('class labels that are names of object members', () => {
  const validate = () => validateDataset(() => chunks(text, 97), testValidationOptions);

  it('are counted as classes of their own', async () => {
    const report = await validate();
    expect(Object.keys(report.classes!).sort()).toEqual([...LABELS].sort());
    for (const label of LABELS)
      expect(Object.getOwnPropertyDescriptor(report.classes, label)?.value).toBe(30);
    expect(Object.getPrototypeOf(report.classes)).toBeNull();
  });

  it('survive the JSON report and are listed in the Markdown one', async () => {
    const report = await validate();
    const stored = {
      schemaVersion: 1 as const,
      runId: 'r',
      source: { bucket: 'b', key: 'k' },
      checkedAt: '2026-11-24T10:00:00Z',
      ...report,
    };
    const parsed = JSON.parse(JSON.stringify(stored)) as { classes: object };
    expect(Object.keys(parsed.classes).sort()).toEqual([...LABELS].sort());
    const markdown = renderValidationMarkdown(stored);
    for (const label of LABELS) expect(markdown).toContain(`| ${label} | 30 |`);
  });

  it('keep their share of validation after the plan travels through the workflow input', async () => {
    const report = await validate();
    // What Prepare receives: the plan as JSON, parsed by the workflow's schema.
    const input = ExecutionInputSchema.parse(
      JSON.parse(
        JSON.stringify({
          runId: 'r',
          family: 'f',
          source: { bucket: 'b', key: 'k' },
          config: {},
          model: 'gpt-4o-mini-2024-07-18',
          split: { seed: 42, threshold: null, classThresholds: report.split.classThresholds },
          validationSource: null,
          conversion: null,
          estimate: { billedTokens: 1, costUsd: 0, epochs: 1 },
        }),
      ),
    );
    const validation = new Map<string, number>();
    await splitDataset(readJsonlLines(chunks(text, 128)), input.split, (side, line) => {
      const label = (JSON.parse(line) as { messages: Array<{ content: string }> }).messages[1]!.content;
      if (side === 'validation') validation.set(label, (validation.get(label) ?? 0) + 1);
    });
    expect(LABELS.map((label) => validation.get(label) ?? 0)).toEqual([6, 6, 6, 6]);
    expect(report.split.validationExamples).toBe(24);
  });
});

describe('run settings from a family file', () => {
  it('refuse a "__proto__" key instead of inheriting settings through it', () => {
    const file = JSON.parse('{"__proto__": {"maxCostUsd": 1, "model": "gpt-4o-mini"}}') as Record<
      string,
      unknown
    >;
    const resolved = resolveRunConfig({}, file);
    expect(resolved).toEqual({ ok: false, problems: [expect.stringContaining('__proto__')] });
  });

  it('refuse a "__proto__" key inside hyperparameters', () => {
    const file = JSON.parse('{"hyperparameters": {"__proto__": {"nEpochs": 3}}}') as Record<string, unknown>;
    expect(resolveRunConfig({ hyperparameters: { batchSize: 2 } }, file).ok).toBe(false);
  });

  it('refuse "constructor" and "toString" as unknown keys', () => {
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      const resolved = resolveRunConfig({}, { [key]: 1 });
      expect(resolved).toEqual({ ok: false, problems: [expect.stringContaining(key)] });
    }
  });

  it('still merge hyperparameters from the layers', () => {
    const resolved = resolveRunConfig(
      { hyperparameters: { batchSize: 2 } },
      { hyperparameters: { nEpochs: 3 } },
    );
    expect(resolved.ok && resolved.config.hyperparameters).toEqual({
      nEpochs: 3,
      batchSize: 2,
      learningRateMultiplier: 'auto',
    });
  });
});
