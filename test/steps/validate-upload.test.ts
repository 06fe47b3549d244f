import type { ExecutionInput } from '../../functions/core/workflow-state.js';
import {
  validateUpload as validateAny,
  type UploadedObject,
  type ValidateDeps,
} from '../../functions/validate/validate-upload.js';
import { MIN_TRAINING_EXAMPLES } from '../../functions/core/split.js';
import { prepareRun } from '../../functions/prepare/prepare-run.js';
import { chatDataset, memoryModelRegistry, memoryObjectStore, memoryRunStore } from '../support/fakes.js';
import { runKeys } from '../../functions/core/run.js';

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
    executionArn: (runId) => `arn:aws:states:eu-west-1:123456789012:execution:Runs:${runId}`,
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

  it('records the run as received when S3 took the file, not when Validate ran, and starts it with that time', async () => {
    const { deps, records, started } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const { runId } = await validateUpload({ ...upload, receivedAt: '2026-11-24T09:52:10.250Z' }, deps);
    expect(records.get(runId)).toMatchObject({
      createdAt: '2026-11-24T09:52:10.250Z',
      history: expect.arrayContaining([{ status: 'RECEIVED', at: '2026-11-24T09:52:10.250Z' }]),
    });
    expect(started[0]!.input.receivedAt).toBe('2026-11-24T09:52:10.250Z');
    // A time after Validate's own is a clock's error: Validate's time is kept.
    const later = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const again = await validateUpload({ ...upload, receivedAt: '2026-11-24T10:05:00.000Z' }, later.deps);
    expect(later.records.get(again.runId)?.createdAt).toBe('2026-11-24T10:00:00.000Z');
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

  it('rejects a file in a family folder whose name an SSM parameter cannot carry, with the folder to use', async () => {
    const key = 'incoming/customer support/tickets.jsonl';
    const { deps, records, started } = setup({ [key]: chatDataset(50) });
    const { runId, outcome } = await validateUpload({ ...upload, key }, deps);

    expect(outcome).toBe('rejected');
    expect(started).toEqual([]);
    expect(records.get(runId)).toMatchObject({
      status: 'REJECTED',
      error: {
        code: 'family_name_invalid',
        message: expect.stringContaining('"customer support"'),
        fix: expect.stringContaining('incoming/customer-support/'),
      },
    });
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

  it("counts the evaluation's bound in the budget, and shows it in the report", async () => {
    // A budget the training alone fits in: the evaluation's calls take the run over it.
    const open = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const { runId } = await validateUpload(upload, open.deps);
    const estimate = (
      JSON.parse(open.objects.text(runKeys(runId).validationJson)) as {
        estimate: { costUsd: number; evaluationCostUsd: number };
      }
    ).estimate;
    expect(estimate.evaluationCostUsd).toBeGreaterThan(0);
    expect(open.objects.text(runKeys(runId).validationMarkdown)).toContain(
      '| Evaluation (estimate) | at most $',
    );
    const budget = estimate.costUsd + estimate.evaluationCostUsd / 2;
    const tight = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) }, { maxCostUsd: budget });
    const rejected = await validateUpload(upload, tight.deps);
    expect(rejected.outcome).toBe('rejected');
    expect(tight.records.get(rejected.runId)?.error).toMatchObject({
      code: 'over_budget',
      message: expect.stringContaining('evaluation at most $'),
    });
    // Without evaluation, the same budget holds.
    const unevaluated = setup(
      { 'incoming/support/tickets.jsonl': chatDataset(50) },
      { maxCostUsd: budget, evaluation: { enabled: false } },
    );
    expect((await validateUpload(upload, unevaluated.deps)).outcome).toBe('started');
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

  describe('with credentials in the data', () => {
    const secret = 'ghp_Q3EGRZ7MV4WXN2DPq3egrz7mv4wxn2dpAB12';
    const data = () => {
      const lines = chatDataset(50).trim().split('\n');
      lines[9] = JSON.stringify({
        messages: [
          { role: 'user', content: 'How do I clone it?' },
          { role: 'assistant', content: `Use the token ${secret}.` },
        ],
      });
      return `${lines.join('\n')}\n`;
    };

    it('rejects the run naming the line and the kind, and neither report holds the credential', async () => {
      const { deps, objects, records, started } = setup({ 'incoming/support/tickets.jsonl': data() });
      const { runId, outcome } = await validateUpload(upload, deps);
      expect(outcome).toBe('rejected');
      expect(started).toEqual([]);
      expect(records.get(runId)).toMatchObject({
        status: 'REJECTED',
        error: { code: 'secret_in_data', message: expect.stringContaining('line 10: ') },
      });
      expect(records.get(runId)?.error?.message).toContain('a GitHub token');
      const reports = [
        objects.text(`runs/${runId}/validation.json`),
        objects.text(`runs/${runId}/validation.md`),
        JSON.stringify(records.get(runId)),
      ];
      expect(reports[1]).toMatch(/\| 10 \| the example contains what looks like a GitHub token/);
      for (const text of reports) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(secret.slice(4, 20));
      }
    });

    it('trains anyway, listing them as warnings, when the family file allows them', async () => {
      const { deps, objects, started } = setup({
        'incoming/support/tickets.jsonl': data(),
        'incoming/support/tunedrop.json': '{"secretScan": "warning"}',
      });
      const { runId, outcome } = await validateUpload(upload, deps);
      expect(outcome).toBe('started');
      expect(started[0]!.input.config.secretScan).toBe('warning');
      const report = JSON.parse(objects.text(`runs/${runId}/validation.json`)) as {
        warnings: Array<{ code: string; line?: number }>;
      };
      expect(report.warnings).toContainEqual(expect.objectContaining({ code: 'possible_secret', line: 10 }));
    });
  });

  describe('the family file', () => {
    /** The memory store, counting the bytes it hands out when reading tunedrop.json. */
    function counting(files: Record<string, string>, headSize = true) {
      const built = setup(files);
      const store = built.deps.store;
      const read = { bytes: 0, calls: 0 };
      built.deps.store = {
        ...store,
        head: async (ref) => {
          const head = await store.head(ref);
          if (!head || headSize) return head;
          const { size: _size, ...rest } = head;
          return rest;
        },
        read: (ref) => {
          if (!ref.key.endsWith('tunedrop.json')) return store.read(ref);
          read.calls++;
          return (async function* () {
            for await (const chunk of store.read(ref)) {
              read.bytes += chunk.length;
              yield chunk;
            }
          })();
        },
      };
      return { ...built, read };
    }
    const big = JSON.stringify({ model: 'gpt-4o-mini', suffix: 'x', padding: 'y'.repeat(70 * 1024) });

    it('over 64 KB is refused by its size, without being read', async () => {
      const { deps, records, read } = counting({
        'incoming/support/tickets.jsonl': chatDataset(50),
        'incoming/support/tunedrop.json': big,
      });
      const { runId } = await validateUpload(upload, deps);
      expect(read.calls).toBe(0);
      expect(records.get(runId)).toMatchObject({
        status: 'REJECTED',
        error: {
          code: 'config_too_large',
          message: expect.stringContaining('incoming/support/tunedrop.json is larger than 64 KB'),
          fix: expect.stringContaining('Keep only the settings you need in incoming/support/tunedrop.json'),
        },
      });
    });

    it('over 64 KB is refused after at most 64 KB read when its size is not known beforehand', async () => {
      const { deps, records, read } = counting(
        { 'incoming/support/tickets.jsonl': chatDataset(50), 'incoming/support/tunedrop.json': big },
        false,
      );
      const { runId } = await validateUpload(upload, deps);
      expect(read.calls).toBe(1);
      expect(read.bytes).toBeLessThanOrEqual(64 * 1024 + 7);
      expect(records.get(runId)?.error?.code).toBe('config_too_large');
    });

    it('of exactly 64 KB is read and applied', async () => {
      const json = JSON.stringify({ model: 'gpt-4o-mini', suffix: 'x' });
      const exact = `${json}${' '.repeat(64 * 1024 - json.length)}`;
      const { deps, started } = counting({
        'incoming/support/tickets.jsonl': chatDataset(50),
        'incoming/support/tunedrop.json': exact,
      });
      await validateUpload(upload, deps);
      expect(started[0]!.input).toMatchObject({ model: 'gpt-4o-mini-2024-07-18', config: { suffix: 'x' } });
    });

    it('with a "__proto__" key is refused as an unknown key, not merged into the settings', async () => {
      const { deps, records, started } = setup({
        'incoming/support/tickets.jsonl': chatDataset(50),
        'incoming/support/tunedrop.json': '{"__proto__": {"model": "gpt-4o-mini", "maxCostUsd": 0.000001}}',
      });
      const { runId } = await validateUpload(upload, deps);
      expect(started).toEqual([]);
      expect(records.get(runId)).toMatchObject({
        status: 'REJECTED',
        error: { code: 'invalid_config', message: expect.stringContaining('__proto__') },
      });
    });
  });
});

describe('validateUpload and Prepare on a file of many copies', () => {
  it.each([1, 2, 3, 4, 5, 6])(
    'hand Prepare the plan that keeps the validation share and every group of copies on one side (seed %i)',
    async (seed) => {
      // 100 distinct free-text examples, and 200 copies of one more: the copies must not swamp validation
      // (the plan sends their group to training by its hash when the threshold alone would not).
      const line = (q: string, a: string) =>
        JSON.stringify({
          messages: [
            { role: 'user', content: q },
            { role: 'assistant', content: a },
          ],
        });
      const unique = Array.from({ length: 100 }, (_, i) =>
        line(`Question ${i}: how do I do thing ${i}?`, `You do thing ${i} by step ${i * 7}, then ${i * 13}.`),
      );
      const copy = line('The same question, asked again and again', 'The same long and detailed answer.');
      const data = `${[...unique, ...Array.from({ length: 200 }, () => copy)].join('\n')}\n`;
      const { deps, objects, started } = setup({
        'incoming/support/tickets.jsonl': data,
        'incoming/support/tunedrop.json': JSON.stringify({ seed }),
      });
      const { runId } = await validateUpload(upload, deps);
      const input = started[0]!.input;

      const { runs } = memoryRunStore();
      await runs.create({
        runId,
        family: 'support',
        status: 'RECEIVED',
        history: [],
        source: { bucket: 'bucket', key: upload.key },
        createdAt: '2026-11-24T10:00:00.000Z',
        updatedAt: '2026-11-24T10:00:00.000Z',
      });
      const prepared = await prepareRun(input, {
        store: objects.store,
        runs,
        registry: memoryModelRegistry().registry,
      });
      const train = objects.text(prepared.trainingKey).trim().split('\n');
      const validation = prepared.validationKey
        ? objects.text(prepared.validationKey).trim().split('\n')
        : [];
      expect(train.length + validation.length).toBe(300);
      // Validation takes at most its share (20% of 300), and the copies all land on one side.
      expect(validation.length).toBeLessThanOrEqual(60);
      expect(train.includes(copy) && validation.includes(copy)).toBe(false);
      expect(train.length).toBeGreaterThanOrEqual(MIN_TRAINING_EXAMPLES);
    },
  );
});

describe('validateUpload out of time', () => {
  it('stops at its deadline with an internal_error report that says where it got to, and the run FAILED', async () => {
    const { deps, objects, records, started } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const outcome = await validateAny(upload, { ...deps, deadline: Date.now() - 1 });
    expect(outcome).toMatchObject({
      outcome: 'failed',
      crash: expect.stringMatching(/^ValidationOutOfTimeError/),
    });
    expect(started).toEqual([]);
    expect(records.get(outcome.runId!)).toMatchObject({
      status: 'FAILED',
      error: { code: 'internal_error' },
    });
    const json = JSON.parse(objects.text(`runs/${outcome.runId}/validation.json`));
    expect(json.errors[0].message).toContain('ran out of time while checking the training file');
    expect(json.errors[0].message).toContain('line 1');
  });

  it('is no matter while the deadline is ahead', async () => {
    const { deps } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    expect(await validateAny(upload, { ...deps, deadline: Date.now() + 60_000 })).toMatchObject({
      outcome: 'started',
    });
  });
});

describe('validateUpload when validation crashes', () => {
  const crashing = () =>
    Promise.reject(new RangeError('Maximum call stack size exceeded near "secret text from the data"'));

  it('writes an internal_error report, records the run FAILED and resolves (no retry)', async () => {
    const { deps, objects, records, started } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const outcome = await validateAny(upload, { ...deps, validateDataset: crashing });

    expect(outcome).toMatchObject({ outcome: 'failed', crash: expect.stringMatching(/^RangeError/) });
    const runId = outcome.runId!;
    expect(started).toEqual([]);
    expect(records.get(runId)).toMatchObject({
      status: 'FAILED',
      error: { name: 'InternalError', code: 'internal_error' },
      finishedAt: expect.any(String),
    });
    const json = JSON.parse(objects.text(`runs/${runId}/validation.json`));
    expect(json).toMatchObject({ schemaVersion: 1, runId, verdict: 'invalid', errorCount: 1 });
    expect(json.errors[0]).toMatchObject({
      code: 'internal_error',
      severity: 'error',
      message: expect.stringContaining('checking the training file incoming/support/tickets.jsonl'),
      fix: expect.stringContaining(runId),
    });
    expect(objects.text(`runs/${runId}/validation.md`)).toContain('internal_error');
    // The error's message can quote the data: it is in neither the report nor the run nor the log line.
    for (const text of [
      objects.text(`runs/${runId}/validation.json`),
      objects.text(`runs/${runId}/validation.md`),
      JSON.stringify(records.get(runId)),
      JSON.stringify(outcome),
    ]) {
      expect(text).not.toContain('secret text');
    }
  });

  it('names the supplied validation file when checking that one crashes', async () => {
    const { deps, objects } = setup({
      'incoming/support/tickets.jsonl': chatDataset(50),
      'incoming/support/tickets.validation.jsonl': chatDataset(12),
    });
    let calls = 0;
    const real = (await import('../../functions/core/dataset.js')).validateDataset;
    const outcome = await validateAny(upload, {
      ...deps,
      validateDataset: (open, options) =>
        ++calls === 1 ? real(open, options) : Promise.reject(new Error('boom')),
    });
    expect(outcome.outcome).toBe('failed');
    const json = JSON.parse(objects.text(`runs/${outcome.runId}/validation.json`));
    expect(json.errors[0].message).toContain('checking the validation file');
  });

  it('is not what a line nested 100,000 deep gets any more: that is a content error at its line', async () => {
    const deep = `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}\n`;
    const { deps, records } = setup({ 'incoming/support/tickets.jsonl': chatDataset(12) + deep });
    const { runId, outcome } = await validateUpload(upload, deps);
    expect(outcome).toBe('rejected');
    expect(records.get(runId)).toMatchObject({ status: 'REJECTED', error: { code: 'too_deeply_nested' } });
  });

  it('still throws when S3 fails to write the report, so Lambda retries', async () => {
    const { deps, records } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const store = {
      ...deps.store,
      write: () => Promise.reject(Object.assign(new Error('slow down'), { name: 'SlowDown' })),
    };
    await expect(validateAny(upload, { ...deps, store, validateDataset: crashing })).rejects.toThrow(
      'slow down',
    );
    await expect(validateAny(upload, { ...deps, store })).rejects.toThrow('slow down');
    expect([...records.values()].map((r) => r.status)).toEqual(['RECEIVED']);
  });

  it('still throws when S3 fails while the file is being read', async () => {
    const { deps, records } = setup({ 'incoming/support/tickets.jsonl': chatDataset(50) });
    const store = {
      ...deps.store,
      read: async function* () {
        yield new TextEncoder().encode('{"messages": [');
        throw Object.assign(new Error('connection reset'), { name: 'ECONNRESET' });
      },
    };
    await expect(validateAny(upload, { ...deps, store })).rejects.toThrow('connection reset');
    expect([...records.values()].map((r) => r.status)).toEqual(['RECEIVED']);
  });
});
