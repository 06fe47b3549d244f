import {
  splitDataset,
  splitHash,
  ValidationSelector,
  wantedValidationExamples,
} from '../../functions/core/split.js';
import { readJsonlLines } from '../../functions/core/jsonl.js';
import { chatDataset, chunks } from '../support/fakes.js';

function planFor(text: string, seed: number, wanted: number) {
  const selector = new ValidationSelector(1000);
  for (const line of text.trim().split('\n'))
    selector.add(splitHash(seed, JSON.stringify(JSON.parse(line))), 1);
  return selector.plan(wanted);
}

async function split(text: string, seed: number, threshold: number | null) {
  const sides = { training: [] as string[], validation: [] as string[] };
  const counts = await splitDataset(readJsonlLines(chunks(text, 64)), { seed, threshold }, (side, line) => {
    sides[side].push(line);
  });
  return { counts, sides };
}

describe('splitDataset', () => {
  const data = chatDataset(50);

  it('puts exactly the planned number of distinct examples in validation', async () => {
    const plan = planFor(data, 42, 10);
    const { counts } = await split(data, 42, plan.threshold);
    expect(plan.validationExamples).toBe(10);
    expect(counts).toEqual({ training: 40, validation: 10 });
  });

  it('splits the same file with the same seed the same way, and differently with another seed', async () => {
    const a = await split(data, 42, planFor(data, 42, 10).threshold);
    const b = await split(data, 42, planFor(data, 42, 10).threshold);
    const c = await split(data, 7, planFor(data, 7, 10).threshold);
    expect(b.sides).toEqual(a.sides);
    expect(c.sides.validation).not.toEqual(a.sides.validation);
  });

  it('never puts copies of one example on both sides', async () => {
    const lines = data.trim().split('\n');
    const withCopies = `${[...lines, ...lines.slice(0, 25), ...lines.slice(0, 25)].join('\n')}\n`;
    const { sides } = await split(withCopies, 42, planFor(withCopies, 42, 20).threshold);
    const validation = new Set(sides.validation);
    expect(sides.training.filter((line) => validation.has(line))).toEqual([]);
  });

  it('makes no validation file when the threshold is null', async () => {
    const { counts } = await split(data, 42, null);
    expect(counts).toEqual({ training: 50, validation: 0 });
  });

  it('keeps the original line text', async () => {
    const text = '{"messages": [ {"role":"user","content":"x"} ]}\n';
    const { sides } = await split(text, 1, null);
    expect(sides.training).toEqual([text]);
  });
});

describe('wantedValidationExamples', () => {
  it('takes the ratio of the examples, rounded down, up to the cap', () => {
    expect(wantedValidationExamples(50, 0.2, 1000)).toBe(10);
    expect(wantedValidationExamples(4, 0.2, 1000)).toBe(0);
    expect(wantedValidationExamples(100_000, 0.2, 1000)).toBe(1000);
  });
});

describe('ValidationSelector', () => {
  it('keeps only the smallest hashes when more arrive than it holds', () => {
    const selector = new ValidationSelector(3);
    for (const hash of [50, 10, 40, 30, 20, 60]) selector.add(hash, hash);
    expect(selector.plan(3)).toEqual({ threshold: 30, validationExamples: 3, validationTokens: 60 });
  });
});

import { findModel } from '../../functions/core/catalog.js';
import { validateDataset } from '../../functions/core/dataset.js';

describe('a classification dataset', () => {
  // 90 / 60 / 30 examples of three classes.
  const lines = [...Array.from({ length: 180 }, (_, i) => i)].map((i) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `ticket ${i}` },
        { role: 'assistant', content: i < 90 ? 'bug' : i < 150 ? 'billing' : 'account' },
      ],
    }),
  );
  const text = `${lines.join('\n')}\n`;

  it('is split stratified by class: validation keeps the class mix', async () => {
    const report = await validateDataset(() => chunks(text, 256), {
      model: findModel('gpt-4o-mini')!,
      seed: 42,
      validationRatio: 0.2,
      maxValidationExamples: 1000,
      nEpochs: 'auto',
    });
    expect(report.classes).toEqual({ bug: 90, billing: 60, account: 30 });
    expect(report.split.classThresholds).toBeDefined();
    const sides = { training: [] as string[], validation: [] as string[] };
    await splitDataset(
      readJsonlLines(chunks(text, 256)),
      { seed: 42, threshold: null, classThresholds: report.split.classThresholds! },
      (side, line) => {
        sides[side].push(JSON.parse(line).messages[1].content);
      },
    );
    const count = (label: string) => sides.validation.filter((l) => l === label).length;
    expect([count('bug'), count('billing'), count('account')]).toEqual([18, 12, 6]);
    expect(report.split.validationExamples).toBe(36);
  });
});

import { FirstLineByHash } from '../../functions/core/hash-table.js';

describe('FirstLineByHash', () => {
  it('remembers the first line of each hash through growth, and stops remembering at its cap', () => {
    const table = new FirstLineByHash(4, 1 << 12);
    for (let i = 0; i < 2000; i++) expect(table.firstOrRemember(i * 7919 + 3, i + 1)).toBeUndefined();
    for (let i = 0; i < 2000; i++) expect(table.firstOrRemember(i * 7919 + 3, 99_999)).toBe(i + 1);
    for (let i = 0; i < 5000; i++) table.firstOrRemember(10_000_000 + i, 1);
    expect(table.firstOrRemember(10_000_000 + 4999, 2)).toBeUndefined(); // past the cap: not remembered
  });
});

describe('a small dataset', () => {
  it('keeps at least 10 training examples, which the provider requires, before giving any to validation', () => {
    expect(wantedValidationExamples(12, 0.2, 1000)).toBe(2);
    expect(wantedValidationExamples(11, 0.2, 1000)).toBe(1);
    expect(wantedValidationExamples(10, 0.2, 1000)).toBe(0);
  });
});
