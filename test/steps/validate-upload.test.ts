import type { ExecutionInput } from '../../functions/core/workflow-state.js';
import {
  validateUpload as validateAny,
  type UploadedObject,
  type ValidateDeps,
} from '../../functions/validate/validate-upload.js';
import { chatDataset, memoryObjectStore, memoryRunStore } from '../support/fakes.js';

function setup(files: Record<string, string>, defaults: Record<string, unknown> = {}) {
  const objects = memoryObjectStore(
    Object.fromEntries(Object.entries(files).map(([k, v]) => [`bucket/${k}`, v])),
  );
  const { runs, records } = memoryRunStore();
  const started: Array<{ runId: string; input: ExecutionInput }> = [];
  const deps: ValidateDeps = {
    store: objects.store,
    runs,
    startRun: async (runId, input) => void started.push({ runId, input }),
    defaults,
    incomingPrefix: 'incoming/',
    now: () => new Date('2026-11-24T10:00:00Z'),
  };
  return { deps, objects, records, started };
}

/** validateUpload for a training file, which always has a run id. */
async function validateUpload(object: UploadedObject, deps: ValidateDeps) {
  const outcome = await validateAny(object, deps);
  if (outcome.runId === null) throw new Error(`expected a run for ${object.key}`);
  return outcome;
}

const upload = {
  bucket: 'bucket',
  key: 'incoming/support/tickets.jsonl',
  versionId: 'v1',
  etag: '"e1"',
  size: 10,
};

describe('validateUpload', () => {
  it('records the run, writes both reports and starts the workflow for a valid file', async () => {
    const { deps, objects, records, started } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const { runId, outcome } = await validateUpload(upload, deps);

    expect(outcome).toBe('started');
    expect(records.get(runId)).toMatchObject({
      status: 'RECEIVED',
      family: 'support',
      source: { versionId: 'v1' },
    });
    expect(JSON.parse(objects.text(`runs/${runId}/validation.json`))).toMatchObject({
      verdict: 'valid',
      examples: 50,
      schemaVersion: 1,
    });
    expect(objects.text(`runs/${runId}/validation.md`)).toContain('Valid: training will start');
    expect(started).toEqual([
      {
        runId,
        input: expect.objectContaining({
          runId,
          family: 'support',
          model: 'gpt-4.1-mini-2025-04-14',
          source: { bucket: 'bucket', key: upload.key, versionId: 'v1', etag: '"e1"' },
          config: expect.objectContaining({ suffix: 'support' }),
        }),
      },
    ]);
  });

  it('rejects a bad file with the first problem and a pointer to the full report, and starts nothing', async () => {
    const bad = chatDataset(12).replace(/\n/, '\n{oops\n');
    const { deps, objects, records, started } = setup({ 'incoming/support/tickets.jsonl': bad });
    const { runId, outcome } = await validateUpload(upload, deps);

    expect(outcome).toBe('rejected');
    expect(started).toEqual([]);
    expect(records.get(runId)).toMatchObject({
      status: 'REJECTED',
      error: {
        code: 'invalid_json',
        message: expect.stringContaining('line 2'),
        fix: expect.stringContaining(`runs/${runId}/validation.md`),
      },
    });
    expect(objects.text(`runs/${runId}/validation.md`)).toMatch(/\| 2 \| not valid JSON/);
  });

  it('does the work once when the same event arrives again', async () => {
    const { deps, started } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    await validateUpload(upload, deps);
    await deps.runs.advance((await validateUpload(upload, deps)).runId, 'PREPARING');
    const third = await validateUpload(upload, deps);
    expect(third.outcome).toBe('duplicate');
    // The second delivery found the run still RECEIVED and started it again, which Step Functions
    // collapses by execution name; after the run moved on, a delivery does nothing.
    expect(new Set(started.map((s) => s.runId)).size).toBe(1);
  });

  it('applies the family configuration file and reports a bad one by name', async () => {
    const good = setup({
      'incoming/support/tickets.jsonl': chatDataset(50),
      'incoming/support/tunedrop.json': JSON.stringify({
        model: 'gpt-4o-mini',
        hyperparameters: { nEpochs: 2 },
      }),
    });
    await validateUpload(upload, good.deps);
    expect(good.started[0]!.input).toMatchObject({
      model: 'gpt-4o-mini-2024-07-18',
      estimate: { epochs: 2 },
    });

    const bad = setup({
      'incoming/support/tickets.jsonl': chatDataset(50),
      'incoming/support/tunedrop.json': '{"validationRatio": 0.9}',
    });
    const { runId } = await validateUpload(upload, bad.deps);
    expect(bad.records.get(runId)).toMatchObject({
      status: 'REJECTED',
      error: {
        code: 'invalid_config',
        message: expect.stringContaining('incoming/support/tunedrop.json: validationRatio'),
      },
    });
  });

  it('rejects a retired model with its replacement before anything is uploaded', async () => {
    const { deps, records, started } = setup(
      { 'incoming/support/tickets.jsonl': chatDataset(50) },
      { model: 'davinci-002' },
    );
    const { runId } = await validateUpload(upload, deps);
    expect(started).toEqual([]);
    expect(records.get(runId)?.error).toMatchObject({
      code: 'model_not_available',
      fix: expect.stringContaining('gpt-4.1-mini'),
    });
  });

  it('stops a run whose estimate is over the budget', async () => {
    const { deps, records } = setup(
      { 'incoming/support/tickets.jsonl': chatDataset(50) },
      { maxCostUsd: 0.000001 },
    );
    const { runId, outcome } = await validateUpload(upload, deps);
    expect(outcome).toBe('rejected');
    expect(records.get(runId)?.error).toMatchObject({ code: 'over_budget' });
  });

  it('uses a supplied validation file as is, and names it in its own errors', async () => {
    const lines = chatDataset(60).trim().split('\n');
    const files = {
      'incoming/support/tickets.jsonl': `${lines.slice(0, 50).join('\n')}\n`,
      'incoming/support/tickets.validation.jsonl': `${lines.slice(50).join('\n')}\n`,
    };
    const good = setup(files);
    expect(
      await validateAny({ ...upload, key: 'incoming/support/tickets.validation.jsonl' }, good.deps),
    ).toEqual({
      runId: null,
      outcome: 'validation_file',
    });
    expect(good.records.size).toBe(0);
    await validateUpload(upload, good.deps);
    expect(good.started[0]!.input).toMatchObject({
      validationSource: { key: 'incoming/support/tickets.validation.jsonl' },
      split: { threshold: null },
    });

    const bad = setup({ ...files, 'incoming/support/tickets.validation.jsonl': `${lines[50]}\n{broken\n` });
    const { runId } = await validateUpload(upload, bad.deps);
    expect(bad.records.get(runId)?.error?.message).toMatch(
      /incoming\/support\/tickets\.validation\.jsonl line 2/,
    );
    expect(bad.objects.text(`runs/${runId}/validation.md`)).toContain(
      '| incoming/support/tickets.validation.jsonl 2 |',
    );
  });
});
