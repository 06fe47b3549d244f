import { resolveRunConfig } from '../../functions/core/config.js';
import { validateDataset } from '../../functions/core/dataset.js';
import { BudgetExceededError, DatasetRejectedError } from '../../functions/core/errors.js';
import type { ModelEntry } from '../../functions/core/registry.js';
import { runKeys, type RunStatus } from '../../functions/core/run.js';
import type { ExecutionInput } from '../../functions/core/workflow-state.js';
import { prepareRun } from '../../functions/prepare/prepare-run.js';
import {
  chunks,
  memoryModelRegistry,
  memoryObjectStore,
  memoryRunStore,
  testValidationOptions,
  registerPromoted,
} from '../support/fakes.js';

const BASE = 'gpt-4.1-mini-2025-04-14';
const TRAINED: RunStatus[] = ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING', 'SUCCEEDED'];
const at = (minute: number) => `2026-11-29T10:${String(minute).padStart(2, '0')}:00.000Z`;

const chat = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `ticket ${i}: my invoice ${i * 13} is wrong` },
      { role: 'assistant', content: `billing ${i}` },
    ],
  });
/** The 2023 form of chat(i). */
const legacy = (i: number) =>
  JSON.stringify({
    prompt: `ticket ${i}: my invoice ${i * 13} is wrong\n\n###\n\n`,
    completion: ` billing ${i} END`,
  });
const jsonl = (lines: string[]) => `${lines.join('\n')}\n`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function config(settings: Record<string, unknown> = {}) {
  const result = resolveRunConfig({ suffix: 'support', dataset: 'all', ...settings });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

interface Drop {
  runId: string;
  minute: number;
  text: string;
  statuses?: RunStatus[];
  key?: string;
  versionId?: string;
  /** The stored validation report's conversion and split (validate's validation.json). */
  conversion?: { separator: string; endToken: string } | null;
  split?: { threshold: number | null; classThresholds?: Record<string, number | null> | null };
  /** No validation report stored. */
  reportGone?: boolean;
}

/**
 * A family of earlier drops and the run being prepared (the last drop, RECEIVED): their files in the
 * bucket at their versions (the memory store keeps one object per key, so versions live under their
 * own keys), their run items, and their stored validation reports.
 */
async function family(drops: Drop[], inputFields: Partial<ExecutionInput> = {}) {
  const files: Record<string, string> = {};
  const { runs, records } = memoryRunStore();
  const objects = memoryObjectStore();
  const refOf = (drop: Drop) => ({
    bucket: 'bucket',
    key: drop.key ?? `incoming/support/${drop.runId}.jsonl`,
    versionId: drop.versionId ?? `v-${drop.runId}`,
  });
  // Reads go to the version: `<key>@<version>` in the memory store.
  const read = objects.store.read.bind(objects.store);
  objects.store.read = (ref) =>
    read({ ...ref, key: ref.versionId ? `${ref.key}@${ref.versionId}` : ref.key });
  for (const drop of drops) {
    const ref = refOf(drop);
    files[`${ref.key}@${ref.versionId}`] = drop.text;
    await objects.store.write(
      { bucket: 'bucket', key: `${ref.key}@${ref.versionId}` },
      drop.text,
      'application/jsonl',
    );
    const statuses = drop.statuses ?? TRAINED;
    const history = ['RECEIVED' as const, ...statuses].map((status) => ({ status, at: at(drop.minute) }));
    await runs.create({
      runId: drop.runId,
      family: 'support',
      status: history.at(-1)!.status,
      history,
      source: ref,
      createdAt: at(drop.minute),
      updatedAt: at(drop.minute),
    });
    if (!drop.reportGone)
      await objects.store.write(
        { bucket: 'bucket', key: runKeys(drop.runId).validationJson },
        JSON.stringify({
          schemaVersion: 1,
          verdict: 'valid',
          method: 'supervised',
          ...(drop.conversion ? { conversion: { ...drop.conversion, separatorStripped: 1 } } : {}),
          split: { classThresholds: null, validationExamples: 0, ...(drop.split ?? { threshold: null }) },
          estimate: { model: BASE, epochs: 3, billedTokens: 1, costUsd: 0.01 },
        }),
        'application/json',
      );
  }
  const own = drops.at(-1)!;
  const input: ExecutionInput = {
    runId: own.runId,
    family: 'support',
    source: refOf(own),
    config: config(),
    model: BASE,
    split: { seed: 42, threshold: null, classThresholds: null, ...own.split },
    validationSource: null,
    conversion: own.conversion ?? null,
    estimate: { billedTokens: 1000, costUsd: 0.01, epochs: 3 },
    ...inputFields,
  };
  const memory = memoryModelRegistry();
  const deps = { store: objects.store, runs, registry: memory.registry };
  const lines = (key: string | null) => (key && objects.has(key) ? objects.text(key).trim().split('\n') : []);
  return { input, deps, objects, records, lines, ...memory };
}

const LEGACY = { separator: '\n\n###\n\n', endToken: ' END' };

describe('prepareRun with "dataset": "all"', () => {
  it('trains on every accepted file of the family, each example once, legacy files converted by their own report', async () => {
    const { input, deps, lines, objects } = await family([
      { runId: 'd1', minute: 1, text: jsonl(range(0, 12).map(legacy)), conversion: LEGACY },
      { runId: 'rejected', minute: 2, text: jsonl(range(100, 130).map(chat)), statuses: ['REJECTED'] },
      { runId: 'd2', minute: 3, text: jsonl([...range(8, 16), 3].map(chat)) },
      { runId: 'own', minute: 4, text: jsonl([...range(14, 20), 19].map(chat)), statuses: [] },
    ]);
    const prepared = await prepareRun(input, deps);

    const trained = [...lines(prepared.trainingKey), ...lines(prepared.validationKey)];
    // 0..19 once each, and the copy of 19 within the newest file kept (copies within a file stay).
    expect([...trained].sort()).toEqual([...range(0, 20), 19].map(chat).sort());
    expect(prepared).toMatchObject({ trainingExamples: 21, validationExamples: 0, startFrom: BASE });

    const files = [
      { key: 'incoming/support/own.jsonl', versionId: 'v-own', examples: 7, duplicates: 2 },
      { key: 'incoming/support/d2.jsonl', versionId: 'v-d2', examples: 9, duplicates: 5 },
      { key: 'incoming/support/d1.jsonl', versionId: 'v-d1', examples: 12, duplicates: 0 },
    ].map((f) => ({ ...f, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }));
    const dataset = {
      mode: 'all',
      files,
      fileCount: 3,
      manifestKey: 'runs/own/dataset.json',
      examples: 21,
      duplicatesRemoved: 7,
    };
    expect(prepared.dataset).toEqual(dataset);
    expect(JSON.parse(objects.text('runs/own/dataset.json'))).toEqual({ runId: 'own', ...dataset });
  });

  it('records each file’s hash as that of its bytes', async () => {
    const { createHash } = await import('node:crypto');
    const text = jsonl(range(0, 12).map(chat));
    const { input, deps } = await family([{ runId: 'own', minute: 1, text, statuses: [] }]);
    const prepared = await prepareRun(input, deps);
    expect(prepared.dataset!.files[0]!.sha256).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('refuses a family whose earlier drop lost its validation report, naming the file and the fix', async () => {
    const { input, deps, objects } = await family([
      { runId: 'd1', minute: 1, text: jsonl(range(0, 12).map(chat)), reportGone: true },
      { runId: 'own', minute: 2, text: jsonl(range(12, 24).map(chat)), statuses: [] },
    ]);
    const error = await prepareRun(input, deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetRejectedError);
    expect((error as DatasetRejectedError).message).toContain('incoming/support/d1.jsonl');
    expect((error as DatasetRejectedError).fix).toMatch(/Drop that file again.*"dataset": "newest"/);
    expect(objects.has('runs/own/dataset.json')).toBe(false);
  });

  it('refuses a family whose data grew past "maxCostUsd", and writes no dataset', async () => {
    const { input, deps, objects } = await family(
      [
        { runId: 'd1', minute: 1, text: jsonl(range(0, 30).map(chat)) },
        { runId: 'own', minute: 2, text: jsonl(range(30, 40).map(chat)), statuses: [] },
      ],
      { config: config({ maxCostUsd: 0.03 }), estimate: { billedTokens: 1000, costUsd: 0.01, epochs: 3 } },
    );
    // The newest file alone costs $0.01; the family's 40 distinct examples about $0.04.
    const error = await prepareRun(input, deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as Error).message).toMatch(/40 distinct examples from 2 files.*\$0\.04.*\$0\.03/);
    expect((error as BudgetExceededError).fix).toContain('"dataset": "newest"');
    expect(objects.has('runs/own/dataset.json')).toBe(false);
    expect(objects.has('runs/own/train.jsonl')).toBe(false);
  });

  it("counts the evaluation's bound in the budget, scaled to the examples the family's data holds out", async () => {
    // The newest file's own plan (seed 42, 20% validation); the earlier file's examples were trained on and
    // stay in training. Validate's bound was $0.01 for the one example it counted.
    const text = jsonl(range(30, 60).map(chat));
    const { threshold } = await validateDataset(() => chunks(text, 4096), testValidationOptions).then(
      (r) => r.split,
    );
    const drops = [
      { runId: 'd1', minute: 1, text: jsonl(range(0, 30).map(chat)), split: { threshold } },
      { runId: 'own', minute: 2, text, statuses: [], split: { threshold } },
    ];
    const estimate = {
      billedTokens: 1000,
      costUsd: 0.01,
      epochs: 3,
      evaluationCostUsd: 0.01,
      evaluationExamples: 1,
    };
    const roomy = await family(drops, { config: config({ maxCostUsd: 1 }), estimate });
    const heldOut = (await prepareRun(roomy.input, roomy.deps)).validationExamples;
    expect(heldOut).toBeGreaterThan(1);
    // Training alone ($0.02: twice the newest file's examples) fits in $0.03; with the bound scaled to the
    // held-out examples it does not.
    const { input, deps } = await family(drops, { config: config({ maxCostUsd: 0.03 }), estimate });
    const error = await prepareRun(input, deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as Error).message).toContain(
      `(training $0.02, evaluation at most $${(0.01 * heldOut).toFixed(2)}), over "maxCostUsd" ($0.03)`,
    );
    expect((error as BudgetExceededError).fix).toContain('"evaluation.maxExamples"');
  });

  it('records the dataset and the family’s estimated tokens and cost on the run item', async () => {
    const { input, deps, records } = await family(
      [
        { runId: 'd1', minute: 1, text: jsonl(range(0, 30).map(chat)) },
        { runId: 'own', minute: 2, text: jsonl(range(30, 40).map(chat)), statuses: [] },
      ],
      { config: config({ maxCostUsd: 0.05 }) },
    );
    const prepared = await prepareRun(input, deps);
    expect(records.get('own')).toMatchObject({ status: 'PREPARING', dataset: prepared.dataset });
    // The dropped file's 10 examples were estimated at 1,000 tokens and $0.01; the family has 40.
    expect(records.get('own')!.estimatedCostUsd).toBeCloseTo(0.04);
    expect(records.get('own')!.estimatedTokens).toBe(4000);
  });

  it('scales the estimate by the dropped version, not an older version of the same key', async () => {
    const key = 'incoming/support/tickets.jsonl';
    const { input, deps } = await family(
      [
        { runId: 'old', minute: 1, key, versionId: '1', text: jsonl(range(0, 40).map(chat)) },
        { runId: 'own', minute: 2, key, versionId: '2', text: jsonl(range(40, 50).map(chat)), statuses: [] },
      ],
      // The new version's 10 examples cost $0.01: the family's 50 cost about $0.05.
      { config: config({ maxCostUsd: 0.03 }) },
    );
    await expect(prepareRun(input, deps)).rejects.toBeInstanceOf(BudgetExceededError);
  });
});

describe('prepareRun with "baseModel": "latest"', () => {
  const current = (fields: Partial<ModelEntry> = {}): ModelEntry => ({
    family: 'support',
    model: 'ft:gpt-4.1-mini-2025-04-14:org:support:1',
    provider: 'openai',
    baseModel: BASE,
    parentModel: BASE,
    runId: 'd1',
    createdAt: at(5),
    ...fields,
  });
  const oneDrop = () => [{ runId: 'own', minute: 10, text: jsonl(range(0, 12).map(chat)), statuses: [] }];

  it('starts from the family’s current model when it was trained on this provider from this base', async () => {
    const { input, deps, registry, records } = await family(oneDrop(), {
      config: config({ baseModel: 'latest' }),
    });
    await registerPromoted(registry, current());
    const prepared = await prepareRun(input, deps);
    expect(prepared.startFrom).toBe('ft:gpt-4.1-mini-2025-04-14:org:support:1');
    expect(records.get('own')).toMatchObject({ baseModel: BASE, parentModel: prepared.startFrom });
  });

  it.each([
    ['the family has no model yet', undefined],
    ['the current model grew from another base', current({ baseModel: 'gpt-4.1-2025-04-14' })],
    ['the current model was trained elsewhere', current({ provider: 'azure-openai' })],
  ])('starts from the base model when %s', async (_what, model) => {
    const { input, deps, registry, records } = await family(oneDrop(), {
      config: config({ baseModel: 'latest' }),
    });
    if (model) await registerPromoted(registry, model);
    expect((await prepareRun(input, deps)).startFrom).toBe(BASE);
    expect(records.get('own')).toMatchObject({ parentModel: BASE });
  });

  it('starts from the base model with "baseModel": "model", whatever the family has', async () => {
    const { input, deps, registry } = await family(oneDrop(), { config: config({ baseModel: 'model' }) });
    await registerPromoted(registry, current());
    expect((await prepareRun(input, deps)).startFrom).toBe(BASE);
  });
});

describe('the split of a family’s data', () => {
  /** The plan validate makes for a file on its own (seed 42, 20% validation). */
  const planOf = async (text: string) => {
    const report = await validateDataset(() => chunks(text, 4096), testValidationOptions);
    return { threshold: report.split.threshold, classThresholds: report.split.classThresholds ?? null };
  };

  it('never validates a continued model on an example an earlier run of the family trained on', async () => {
    // Two drops whose own plans differ: the second file's threshold is above the first's, so by its plan
    // alone some examples the first run trained on would now be validation examples.
    const first = jsonl(range(0, 40).map(chat));
    const second = jsonl(range(40, 52).map(chat));
    const [plan1, plan2] = [await planOf(first), await planOf(second)];
    expect(plan2.threshold!).toBeGreaterThan(plan1.threshold!);

    const run1 = await family([{ runId: 'd1', minute: 1, text: first, split: plan1, statuses: [] }], {
      config: config({ dataset: 'newest' }),
    });
    const prepared1 = await prepareRun(run1.input, run1.deps);
    const trainedBefore = new Set(run1.lines(prepared1.trainingKey));
    const validatedBefore = new Set(run1.lines(prepared1.validationKey));
    expect(validatedBefore.size).toBeGreaterThan(0);

    const run2 = await family([
      { runId: 'd1', minute: 1, text: first, split: plan1 },
      { runId: 'd2', minute: 2, text: second, split: plan2, statuses: [] },
    ]);
    const prepared2 = await prepareRun(run2.input, run2.deps);
    const validatedNow = run2.lines(prepared2.validationKey);
    expect(validatedNow.filter((line) => trainedBefore.has(line))).toEqual([]);
    // Run 1's validation examples that are still validation examples stay so; the new file gets its share.
    expect(validatedNow.length).toBeGreaterThan(0);
    expect(prepared2.trainingExamples + prepared2.validationExamples).toBe(52);
  });

  it('splits the same data the same way in every run of the family', async () => {
    const first = jsonl(range(0, 40).map(chat));
    const plan = await planOf(first);
    const sides = async (runId: string) => {
      const run = await family([{ runId, minute: 1, text: first, split: plan, statuses: [] }]);
      const prepared = await prepareRun(run.input, run.deps);
      return [run.lines(prepared.trainingKey), run.lines(prepared.validationKey)];
    };
    expect(await sides('a')).toEqual(await sides('b'));
  });
});
