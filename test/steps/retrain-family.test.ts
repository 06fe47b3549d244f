import fc from 'fast-check';
import type { ModelEntry } from '../../functions/core/registry.js';
import { runKeys, type RunRecord, type RunStatus } from '../../functions/core/run.js';
import type { ExecutionInput } from '../../functions/core/workflow-state.js';
import { retrainFamily, retrainRunId, type RetrainRequest } from '../../functions/retrain/retrain-family.js';
import {
  memoryModelRegistry,
  memoryObjectStore,
  memoryRunStore,
  registerPromoted,
} from '../support/fakes.js';

const at = (minute: number) => `2026-11-29T10:${String(minute).padStart(2, '0')}:00.000Z`;
const NOW = new Date('2026-11-30T03:00:00.000Z');
const TRAINED: RunStatus[] = ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING', 'SUCCEEDED'];
const SETTINGS = 'incoming/support/tunedrop.json';

/** The validation.json validate wrote for a drop (the parts a retrain reads, and others it ignores). */
const storedReport = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    schemaVersion: 1,
    verdict: 'valid',
    format: 'chat',
    method: 'supervised',
    lines: 40,
    examples: 40,
    split: { threshold: 123456, classThresholds: null, validationExamples: 8, validationTokens: 80 },
    estimate: { model: 'gpt-4.1-mini-2025-04-14', epochs: 3, billedTokens: 9000, costUsd: 0.045 },
    ...fields,
  });

/**
 * A family with runs (each with its statuses after RECEIVED) and files in the bucket; the run starter
 * behaves as Step Functions' StartExecution named after the run: a second start of a name starts nothing.
 */
async function family(
  runs: Array<{ runId: string; minute: number; statuses: RunStatus[]; fields?: Partial<RunRecord> }>,
  files: Record<string, string> = {},
) {
  const store = memoryObjectStore(
    Object.fromEntries(Object.entries(files).map(([key, text]) => [`bucket/${key}`, text])),
  );
  const { runs: runStore, records } = memoryRunStore();
  for (const { runId, minute, statuses, fields } of runs) {
    const history = ['RECEIVED' as const, ...statuses].map((status) => ({ status, at: at(minute) }));
    await runStore.create({
      runId,
      family: 'support',
      status: history.at(-1)!.status,
      history,
      source: { bucket: 'bucket', key: `incoming/support/${runId}.jsonl`, versionId: `v-${runId}` },
      createdAt: at(minute),
      updatedAt: at(minute),
      ...fields,
    });
    if (!(fields?.trigger && fields.trigger !== 'drop') && statuses.includes('PREPARING'))
      await store.store.write(
        { bucket: 'bucket', key: runKeys(runId).validationJson },
        storedReport(),
        'application/json',
      );
  }
  const memory = memoryModelRegistry();
  const executions = new Map<string, ExecutionInput>();
  const starts: string[] = [];
  let clock = NOW;
  const deps = {
    runs: runStore,
    store: store.store,
    registry: memory.registry,
    startRun: async (runId: string, input: ExecutionInput) => {
      starts.push(runId);
      if (!executions.has(runId)) executions.set(runId, input);
    },
    executionArn: (runId: string) => `arn:aws:states:eu-west-1:123456789012:execution:Runs:${runId}`,
    bucket: 'bucket',
    defaults: {},
    incomingPrefix: 'incoming/',
    providers: ['openai'] as const,
    now: () => clock,
  };
  const setNow = (date: Date) => (clock = date);
  return { deps, records, store, executions, starts, setNow, ...memory };
}

const model = (name: string, runId: string, createdAt: string): ModelEntry => ({
  family: 'support',
  model: name,
  provider: 'openai',
  baseModel: 'gpt-4.1-mini-2025-04-14',
  parentModel: 'gpt-4.1-mini-2025-04-14',
  runId,
  createdAt,
});

const schedule: RetrainRequest = { family: 'support', trigger: 'schedule' };
const operator: RetrainRequest = { family: 'support', trigger: 'operator' };

describe('retrainFamily', () => {
  it('answers no_data for a family without an accepted drop, and starts nothing', async () => {
    const { deps, executions, records } = await family([
      { runId: 'rejected', minute: 1, statuses: ['REJECTED'] },
      { runId: 'stopped', minute: 2, statuses: ['CANCELLED'] },
    ]);
    const outcome = await retrainFamily(schedule, deps);
    expect(outcome).toEqual({
      outcome: 'no_data',
      message: expect.stringContaining('incoming/support/'),
    });
    expect(executions.size).toBe(0);
    expect(records.size).toBe(2);
  });

  it('answers under_way when a run of the family is going: it trains on the family’s data itself', async () => {
    const { deps, executions } = await family([
      { runId: 'd1', minute: 1, statuses: TRAINED },
      { runId: 'd2', minute: 2, statuses: ['PREPARING', 'UPLOADING', 'TRAINING'] },
    ]);
    expect(await retrainFamily({ ...operator, force: true }, deps)).toMatchObject({
      outcome: 'under_way',
      runId: 'd2',
    });
    expect(executions.size).toBe(0);
  });

  it('answers under_way while a drop is still being validated', async () => {
    const { deps } = await family([
      { runId: 'd1', minute: 1, statuses: TRAINED },
      { runId: 'd2', minute: 2, statuses: [] },
    ]);
    expect(await retrainFamily(schedule, deps)).toMatchObject({ outcome: 'under_way', runId: 'd2' });
  });

  it('answers nothing_new on the schedule when no file arrived since the current model', async () => {
    const { deps, registry, executions } = await family([
      { runId: 'd1', minute: 1, statuses: TRAINED },
      { runId: 'd2', minute: 2, statuses: TRAINED },
      { runId: 'rejected-later', minute: 3, statuses: ['REJECTED'] },
    ]);
    await registerPromoted(registry, model('ft:2', 'd2', at(30)));
    const outcome = await retrainFamily(schedule, deps);
    expect(outcome).toMatchObject({ outcome: 'nothing_new', message: expect.stringContaining('ft:2') });
    expect(outcome.message).not.toContain('--force');
    expect(executions.size).toBe(0);
  });

  it('answers nothing_new to an operator without force, and says how to retrain all the same', async () => {
    const { deps, registry, executions, records } = await family([
      { runId: 'd1', minute: 1, statuses: TRAINED },
    ]);
    await registerPromoted(registry, model('ft:1', 'd1', at(30)));
    expect(await retrainFamily(operator, deps)).toMatchObject({
      outcome: 'nothing_new',
      message: expect.stringContaining('--force'),
    });
    expect(executions.size).toBe(0);
    expect(records.size).toBe(1);
  });

  it('starts a run on all the family’s data when a file arrived since the current model', async () => {
    const { deps, registry, executions, records } = await family([
      { runId: 'd1', minute: 1, statuses: TRAINED },
      { runId: 'd2', minute: 2, statuses: ['PREPARING', 'FAILED'] },
    ]);
    await registerPromoted(registry, model('ft:1', 'd1', at(1)));
    const outcome = await retrainFamily(schedule, deps);
    const runId = retrainRunId('support', 'd2', '');
    expect(outcome).toEqual({
      outcome: 'started',
      runId,
      message: expect.stringMatching(/2 accepted file\(s\), 1 new since its current model/),
    });
    expect(records.get(runId)).toMatchObject({
      runId,
      family: 'support',
      status: 'RECEIVED',
      trigger: 'schedule',
      source: { bucket: 'bucket', key: 'incoming/support/d2.jsonl', versionId: 'v-d2' },
      createdAt: NOW.toISOString(),
    });
    expect(executions.get(runId)).toEqual({
      runId,
      family: 'support',
      receivedAt: NOW.toISOString(),
      source: { bucket: 'bucket', key: 'incoming/support/d2.jsonl', versionId: 'v-d2' },
      config: expect.objectContaining({ dataset: 'all', provider: 'openai', suffix: 'support', seed: 42 }),
      model: 'gpt-4.1-mini-2025-04-14',
      split: { seed: 42, threshold: 123456, classThresholds: null },
      validationSource: null,
      method: 'supervised',
      conversion: null,
      estimate: { billedTokens: 9000, costUsd: 0.045, epochs: 3 },
    });
  });

  it('starts the first run of a family that has data but no model yet', async () => {
    const { deps, executions } = await family([
      { runId: 'd1', minute: 1, statuses: ['PREPARING', 'FAILED'] },
    ]);
    expect(await retrainFamily(schedule, deps)).toMatchObject({ outcome: 'started' });
    expect(executions.size).toBe(1);
  });

  it('passes on the newest drop’s stored plan: classes, copies sent to training, method and conversion', async () => {
    const { deps, store, executions } = await family([{ runId: 'd1', minute: 1, statuses: TRAINED }]);
    await store.store.write(
      { bucket: 'bucket', key: runKeys('d1').validationJson },
      storedReport({
        method: 'dpo',
        conversion: { separator: ' ->', endToken: '\n', separatorStripped: 40, endTokenStripped: 40 },
        split: { threshold: null, classThresholds: { 'class:a': 5, 'class:b': null }, trainHashes: [7, 9] },
      }),
      'application/json',
    );
    await store.store.write(
      { bucket: 'bucket', key: SETTINGS },
      JSON.stringify({ seed: 7, hyperparameters: { nEpochs: 2 }, baseModel: 'latest' }),
      'application/json',
    );
    expect(await retrainFamily(operator, deps)).toMatchObject({ outcome: 'started' });
    const input = [...executions.values()][0]!;
    expect(input).toMatchObject({
      config: { seed: 7, hyperparameters: { nEpochs: 2 }, baseModel: 'latest', dataset: 'all' },
      split: {
        seed: 7,
        threshold: null,
        classThresholds: { 'class:a': 5, 'class:b': null },
        trainHashes: [7, 9],
      },
      method: 'dpo',
      conversion: { separator: ' ->', endToken: '\n' },
    });
    // Only the markers travel, not the report's counts.
    expect(input.conversion).toEqual({ separator: ' ->', endToken: '\n' });
  });

  it('trains on "dataset": "all" even when the family’s settings say "newest"', async () => {
    const { deps, executions } = await family([{ runId: 'd1', minute: 1, statuses: TRAINED }], {
      [SETTINGS]: '{ "dataset": "newest" }',
    });
    await retrainFamily(operator, deps);
    expect([...executions.values()][0]!.config.dataset).toBe('all');
  });

  it('takes the newest accepted drop as the run’s source, not a later rejected one or a retrain', async () => {
    const { deps, executions } = await family([
      { runId: 'd1', minute: 1, statuses: TRAINED },
      { runId: 'd2', minute: 5, statuses: TRAINED },
      {
        runId: 'old-retrain',
        minute: 6,
        statuses: TRAINED,
        fields: { trigger: 'operator', source: { bucket: 'bucket', key: 'incoming/support/d1.jsonl' } },
      },
      { runId: 'd3', minute: 7, statuses: ['REJECTED'] },
    ]);
    await retrainFamily(operator, deps);
    expect([...executions.values()][0]!.source.key).toBe('incoming/support/d2.jsonl');
  });

  it('retrains with force when nothing is new, as a new run each time', async () => {
    const { deps, registry, executions, setNow } = await family([
      { runId: 'd1', minute: 1, statuses: TRAINED },
    ]);
    await registerPromoted(registry, model('ft:1', 'd1', at(30)));
    const first = await retrainFamily({ ...operator, force: true }, deps);
    expect(first).toMatchObject({ outcome: 'started' });
    expect(first.outcome === 'started' && first.runId).not.toBe(retrainRunId('support', 'd1', ''));
    // The first forced run ended; a second force an hour later is another run.
    await deps.runs.advance((first as { runId: string }).runId, 'CANCELLED');
    setNow(new Date(NOW.getTime() + 3_600_000));
    const second = await retrainFamily({ ...operator, force: true }, deps);
    expect(second).toMatchObject({ outcome: 'started' });
    expect((second as { runId: string }).runId).not.toBe((first as { runId: string }).runId);
    expect(executions.size).toBe(2);
  });

  it('starts one run when the schedule fires twice for the same data', async () => {
    const { deps, executions, records } = await family([{ runId: 'd1', minute: 1, statuses: TRAINED }]);
    const first = await retrainFamily(schedule, deps);
    // The run has started and is preparing when the schedule fires again.
    await deps.runs.advance((first as { runId: string }).runId, 'PREPARING');
    const second = await retrainFamily(schedule, deps);
    expect(first).toMatchObject({ outcome: 'started' });
    expect(second).toMatchObject({ outcome: 'nothing_new', runId: (first as { runId: string }).runId });
    expect(executions.size).toBe(1);
    expect(records.size).toBe(2);
  });

  it('tries again, as a run of its own, after a retrain of the same data ended without a model', async () => {
    const { deps, executions } = await family([{ runId: 'd1', minute: 1, statuses: TRAINED }]);
    const first = (await retrainFamily(schedule, deps)) as { runId: string };
    await deps.runs.advance(first.runId, 'FAILED'); // a provider outage
    const second = await retrainFamily(schedule, deps);
    expect(second).toMatchObject({ outcome: 'started' });
    const secondId = (second as { runId: string }).runId;
    expect(secondId).not.toBe(first.runId);
    // Fired twice again while the second try prepares: still one run.
    await deps.runs.advance(secondId, 'PREPARING');
    expect(await retrainFamily(schedule, deps)).toMatchObject({ outcome: 'nothing_new', runId: secondId });
    expect(executions.size).toBe(2);
  });

  it('does nothing when the schedule fires again after its run trained the family’s current model', async () => {
    const { deps, registry, executions } = await family([{ runId: 'd1', minute: 1, statuses: TRAINED }]);
    const first = (await retrainFamily(schedule, deps)) as { runId: string };
    for (const status of TRAINED) await deps.runs.advance(first.runId, status);
    await registerPromoted(registry, model('ft:retrained', first.runId, '2026-11-30T04:00:00.000Z'));
    expect(await retrainFamily(schedule, deps)).toMatchObject({ outcome: 'nothing_new' });
    expect(executions.size).toBe(1);
  });

  it('starts again its own run that was recorded but never started (a crash in between)', async () => {
    const { deps, records, starts } = await family([{ runId: 'd1', minute: 1, statuses: TRAINED }]);
    const runId = retrainRunId('support', 'd1', '');
    await deps.runs.create({
      runId,
      family: 'support',
      status: 'RECEIVED',
      history: [{ status: 'RECEIVED', at: at(50) }],
      source: records.get('d1')!.source,
      createdAt: at(50),
      updatedAt: at(50),
      trigger: 'schedule',
    });
    expect(await retrainFamily(schedule, deps)).toMatchObject({ outcome: 'started', runId });
    expect(starts).toEqual([runId]);
  });

  it.each([
    ['settings that are not JSON', '{ "seed": ', /not valid JSON/],
    ['settings that are not valid', '{ "hyperparameters": { "nEpochs": 500 } }', /nEpochs/],
    ['a provider this stack is not deployed to', '{ "provider": "azure-openai" }', /not deployed/],
    ['a model that is not available', '{ "model": "babbage-002" }', /babbage-002/],
  ])('refuses %s, and records and starts nothing', async (_what, settings, message) => {
    const { deps, executions, records } = await family([{ runId: 'd1', minute: 1, statuses: TRAINED }], {
      [SETTINGS]: settings,
    });
    const outcome = await retrainFamily(operator, deps);
    expect(outcome).toEqual({ outcome: 'refused', message: expect.stringMatching(message) });
    expect(executions.size).toBe(0);
    expect(records.size).toBe(1);
  });

  it.each([
    ['is gone', undefined],
    ['is not a report', '{ "hello": 1 }'],
    ['is not JSON', '{ "verdict": '],
  ])(
    'refuses when the newest drop’s validation report %s, naming the file to drop again',
    async (_what, text) => {
      const { deps, store, executions, records } = await family([
        { runId: 'd1', minute: 1, statuses: TRAINED },
      ]);
      const report = runKeys('d1').validationJson;
      if (text === undefined)
        await store.store.write({ bucket: 'bucket', key: report }, '', 'application/json');
      const objects = store.store;
      const readText = objects.readText.bind(objects);
      objects.readText = async (ref) => (ref.key === report ? text : readText(ref));
      const outcome = await retrainFamily(operator, deps);
      expect(outcome).toEqual({
        outcome: 'refused',
        message: expect.stringContaining('incoming/support/d1.jsonl'),
      });
      expect(executions.size).toBe(0);
      expect(records.size).toBe(1);
    },
  );
});

describe('retrainRunId', () => {
  it('is the same for the same family and newest file, and another with another salt', () => {
    expect(retrainRunId('support', 'd1', '')).toBe(retrainRunId('support', 'd1', ''));
    expect(retrainRunId('support', 'd1', '')).not.toBe(retrainRunId('support', 'd2', ''));
    expect(retrainRunId('support', 'd1', '')).not.toBe(retrainRunId('support', 'd1', NOW.toISOString()));
    expect(retrainRunId('support', 'd1', '')).toMatch(/^retrain-support-[0-9a-f]{16}$/);
  });

  it('is a Step Functions execution name (at most 80 of [A-Za-z0-9_-]) for any family and run', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.string({ maxLength: 100 }),
        fc.string(),
        (family, runId, salt) => {
          expect(retrainRunId(family, runId, salt)).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
        },
      ),
    );
  });

  it('tells apart families whose names read the same once cleaned', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_.-]{1,128}$/),
        fc.stringMatching(/^[A-Za-z0-9_.-]{1,128}$/),
        (a, b) => {
          fc.pre(a !== b);
          expect(retrainRunId(a, 'd1', '')).not.toBe(retrainRunId(b, 'd1', ''));
        },
      ),
    );
    expect(retrainRunId('a.b', 'd1', '')).not.toBe(retrainRunId('a-b', 'd1', ''));
  });
});
