import type { ModelEntry, CurrentModel } from '../../functions/core/registry.js';
import { main } from '../../cli/main.js';
import type { Connection } from '../../cli/context.js';
import { CliRunSchema, type CliRun, type Services } from '../../cli/services.js';

const BUCKET = 'tunedrop-data';
const at = (minute: number) => new Date(Date.UTC(2026, 10, 29, 9, minute)).toISOString();

function run(runId: string, fields: Partial<CliRun> = {}): CliRun {
  return {
    runId,
    family: 'support',
    status: 'SUCCEEDED',
    history: [
      { status: 'RECEIVED', at: at(0) },
      { status: 'PREPARING', at: at(1) },
      { status: 'SUCCEEDED', at: at(9) },
    ],
    source: { bucket: BUCKET, key: `incoming/support/${runId}.jsonl`, versionId: 'v1' },
    createdAt: at(0),
    updatedAt: at(9),
    provider: 'openai',
    baseModel: 'gpt-4o-mini-2024-07-18',
    ...fields,
  };
}

const model = (id: string, fields: Partial<ModelEntry> = {}): ModelEntry => ({
  family: 'support',
  model: id,
  provider: 'openai',
  baseModel: 'gpt-4o-mini-2024-07-18',
  parentModel: 'gpt-4o-mini-2024-07-18',
  runId: 'r1',
  createdAt: at(10),
  ...fields,
});

/** In-memory Services: the runs and registry as items, the functions as answers, calls recorded. */
function fakeServices(world: {
  runs?: CliRun[];
  models?: ModelEntry[];
  current?: CurrentModel[];
  objects?: Record<string, string>;
  answers?: Record<string, unknown>;
  /** The run as each look finds it, for watch. */
  looks?: CliRun[];
}) {
  const calls: { functionName: string; payload: unknown }[] = [];
  const outputs: Record<string, string> = {
    RunsTableName: 'runs',
    ModelRegistryTableName: 'registry',
    RetrainFunctionName: 'retrain-fn',
    ModelsFunctionName: 'models-fn',
  };
  const runs = world.runs ?? [];
  const services: Services = {
    async output(key) {
      const value = outputs[key];
      if (!value) throw new Error(`no output ${key}`);
      return value;
    },
    async getRun(runId) {
      if (world.looks) return world.looks.shift();
      return runs.find((r) => r.runId === runId);
    },
    async listRuns(query) {
      return runs
        .filter(
          (r) =>
            (!query.family || r.family === query.family) &&
            (!query.status || r.status === query.status) &&
            (!query.kind || (r.kind ?? 'fine-tuning') === query.kind),
        )
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, query.limit);
    },
    async allRuns() {
      return runs;
    },
    async registry(family) {
      return {
        models: (world.models ?? []).filter((m) => !family || m.family === family),
        current: (world.current ?? []).filter((c) => !family || c.family === family),
      };
    },
    async findModel(id) {
      return world.models?.find((m) => m.model === id);
    },
    async invoke(functionName, payload) {
      calls.push({ functionName, payload });
      return world.answers?.[functionName];
    },
    async readObject(bucket, key) {
      const text = world.objects?.[`${bucket}/${key}`];
      if (text === undefined)
        throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      return new TextEncoder().encode(text);
    },
    close() {},
  };
  return { services, calls };
}

async function tunedrop(services: Services, ...argv: string[]) {
  let out = '';
  let err = '';
  const sleeps: number[] = [];
  const connection: Connection = {
    services,
    stack: 'Tunedrop',
    target: { description: 'AWS', client: () => ({}) },
  };
  const code = await main(
    argv,
    (t) => void (out += t),
    (t) => void (err += t),
    undefined,
    { connect: async () => connection, sleep: async (ms) => void sleeps.push(ms) },
  );
  return { code, out, err, sleeps };
}

describe('tunedrop runs list', () => {
  const runs = [
    run('old', { createdAt: at(0), costUsd: 0.5, trainedTokens: 12000 }),
    run('new', { createdAt: at(30), status: 'TRAINING', estimatedCostUsd: 0.25, estimatedTokens: 9000 }),
    run('other', { family: 'sales', createdAt: at(20), status: 'FAILED' }),
  ];

  it('prints an aligned table, newest first, the estimate marked "~" while there is no cost', async () => {
    const { code, out } = await tunedrop(fakeServices({ runs }).services, 'runs', 'list');
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^RUN +FAMILY +STATUS +CREATED +PROVIDER +MODEL +TOKENS +COST$/);
    expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual(['new', 'other', 'old']);
    expect(lines[1]).toMatch(/9,000 +~\$0\.2500$/);
    expect(lines[3]).toMatch(/12,000 +\$0\.5000$/);
    // Aligned: every row's status starts where the header's does.
    const column = lines[0]!.indexOf('STATUS');
    expect(lines.slice(1).map((l) => l.slice(column).split(' ')[0])).toEqual([
      'TRAINING',
      'FAILED',
      'SUCCEEDED',
    ]);
  });

  it('filters by family and status, and prints {runs: [...]} with --json', async () => {
    const { out } = await tunedrop(
      fakeServices({ runs }).services,
      'runs',
      'list',
      '--family',
      'support',
      '--status',
      'succeeded',
      '--json',
    );
    expect(JSON.parse(out)).toEqual({
      runs: [expect.objectContaining({ runId: 'old', status: 'SUCCEEDED' })],
    });
  });

  it('says there are no runs rather than printing an empty table', async () => {
    expect((await tunedrop(fakeServices({}).services, 'runs', 'list')).out).toBe('No runs.\n');
  });
});

describe('tunedrop runs show', () => {
  it('says what a retrain trained on and who started it', async () => {
    const retrain = run('r2', {
      trigger: 'schedule',
      dataset: {
        mode: 'all',
        files: [],
        fileCount: 3,
        manifestKey: 'runs/r2/dataset.json',
        examples: 1200,
        duplicatesRemoved: 40,
      },
    });
    const { out } = await tunedrop(fakeServices({ runs: [retrain] }).services, 'runs', 'show', 'r2');
    expect(out).toContain("Started by        the family's schedule");
    expect(out).toContain(
      `Dataset           all the family's files (3), 1,200 examples, 40 copies of earlier files left out; files in s3://${BUCKET}/runs/r2/dataset.json`,
    );
  });

  const csv = [
    'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy',
    '1,2.0,0.1,,',
    '2,1.5,0.2,1.7,0.2',
    '3,1.0,0.3,,',
  ].join('\n');
  const done = run('r1', {
    parentModel: 'ft:gpt-4o-mini-2024-07-18:org::previous',
    fineTunedModel: 'ft:gpt-4o-mini-2024-07-18:org::abc',
    trainingExamples: 80,
    validationExamples: 20,
    estimatedTokens: 10000,
    trainedTokens: 9876,
    estimatedCostUsd: 0.03,
    costUsd: 0.0296,
    validationReportKey: 'runs/r1/validation.md',
    resultsKey: 'runs/r1/results.csv',
    summaryKey: 'runs/r1/summary.json',
    reportKey: 'runs/r1/report.html',
    executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:TunedropRuns:r1',
  });

  it('shows the history, lineage, tokens, cost, files as s3:// URIs and the loss curve', async () => {
    const { code, out } = await tunedrop(
      fakeServices({
        runs: [done],
        objects: { [`${BUCKET}/runs/r1/results.csv`]: Buffer.from(csv).toString('base64') },
      }).services,
      'runs',
      'show',
      'r1',
    );
    expect(code).toBe(0);
    expect(out).toContain('Parent model      ft:gpt-4o-mini-2024-07-18:org::previous');
    expect(out).toContain('Fine-tuned model  ft:gpt-4o-mini-2024-07-18:org::abc');
    expect(out).toContain('Examples          80 training, 20 validation');
    expect(out).toContain('Tokens            estimated 10,000, trained 9,876');
    expect(out).toContain('Cost              estimated $0.0300, actual $0.0296');
    expect(out).toContain('2026-11-29 09:01:00Z  PREPARING');
    expect(out).toContain(`source             s3://${BUCKET}/incoming/support/r1.jsonl (version v1)`);
    expect(out).toContain(`results.csv        s3://${BUCKET}/runs/r1/results.csv`);
    expect(out).toContain(`summary.json       s3://${BUCKET}/runs/r1/summary.json`);
    expect(out).toContain(`validation report  s3://${BUCKET}/runs/r1/validation.md`);
    expect(out).toContain(`report.html        s3://${BUCKET}/runs/r1/report.html`);
    expect(out).toContain(
      'Execution         arn:aws:states:eu-west-1:123456789012:execution:TunedropRuns:r1',
    );
    expect(out).toMatch(/^Loss\n *2 ┤•/m);
    expect(out).toContain('• train_loss   × valid_loss');
  });

  it("shows a failed run's error with its fix, and a note where the curve would be", async () => {
    const failed = run('bad', {
      status: 'FAILED',
      error: {
        name: 'ProviderError',
        code: 'invalid_file',
        message: 'The file has 3 examples',
        fix: 'Add at least 10 examples',
      },
    });
    const { out } = await tunedrop(fakeServices({ runs: [failed] }).services, 'runs', 'show', 'bad');
    expect(out).toContain(
      'Error: ProviderError (invalid_file): The file has 3 examples\nFix: Add at least 10 examples',
    );
    expect(out).toContain('Loss: no results.csv');
  });

  it('still shows the run when its results.csv cannot be read', async () => {
    const { code, out } = await tunedrop(fakeServices({ runs: [done] }).services, 'runs', 'show', 'r1');
    expect(code).toBe(0);
    expect(out).toContain(
      `Loss: cannot read s3://${BUCKET}/runs/r1/results.csv (The specified key does not exist.)`,
    );
  });

  it('prints {run, files, loss} with --json', async () => {
    const { out } = await tunedrop(
      fakeServices({ runs: [done], objects: { [`${BUCKET}/runs/r1/results.csv`]: csv } }).services,
      'runs',
      'show',
      'r1',
      '--json',
    );
    const shown = JSON.parse(out);
    expect(shown.run).toMatchObject({ runId: 'r1', costUsd: 0.0296 });
    expect(shown.files).toEqual({
      source: `s3://${BUCKET}/incoming/support/r1.jsonl`,
      validationReport: `s3://${BUCKET}/runs/r1/validation.md`,
      results: `s3://${BUCKET}/runs/r1/results.csv`,
      summary: `s3://${BUCKET}/runs/r1/summary.json`,
      report: `s3://${BUCKET}/runs/r1/report.html`,
    });
    expect(shown.loss).toEqual([
      { step: 1, trainLoss: 2, validLoss: null },
      { step: 2, trainLoss: 1.5, validLoss: 1.7 },
      { step: 3, trainLoss: 1, validLoss: null },
    ]);
  });

  it('exits 1 naming the fix when there is no such run', async () => {
    expect(await tunedrop(fakeServices({}).services, 'runs', 'show', 'nope')).toMatchObject({
      code: 1,
      err: expect.stringContaining('no run nope; "tunedrop runs list"'),
    });
  });
});

describe('tunedrop runs watch', () => {
  const history = [
    { status: 'RECEIVED' as const, at: at(0) },
    { status: 'PREPARING' as const, at: at(1) },
    { status: 'UPLOADING' as const, at: at(2) },
    { status: 'TRAINING' as const, at: at(3), detail: 'queued' },
    { status: 'TRAINING' as const, at: at(4), detail: 'running' },
    { status: 'COLLECTING' as const, at: at(8) },
  ];
  const look = (n: number, fields: Partial<CliRun> = {}) =>
    run('w', { history: history.slice(0, n), status: history[n - 1]!.status, ...fields });

  it('prints each status change once, even several between two looks, and exits 0 when the run SUCCEEDED', async () => {
    const end = { status: 'SUCCEEDED' as const, at: at(9) };
    const looks = [
      look(1),
      look(1),
      look(4),
      look(6),
      run('w', { history: [...history, end], fineTunedModel: 'ft:x' }),
    ];
    const { code, out, sleeps } = await tunedrop(
      fakeServices({ looks }).services,
      'runs',
      'watch',
      'w',
      '--interval',
      '2',
    );
    expect(code).toBe(0);
    expect(out.trimEnd().split('\n')).toEqual([
      '2026-11-29 09:00:00Z  RECEIVED',
      '2026-11-29 09:01:00Z  PREPARING',
      '2026-11-29 09:02:00Z  UPLOADING',
      '2026-11-29 09:03:00Z  TRAINING (queued)',
      '2026-11-29 09:04:00Z  TRAINING (running)',
      '2026-11-29 09:08:00Z  COLLECTING',
      '2026-11-29 09:09:00Z  SUCCEEDED',
      'Run w SUCCEEDED: ft:x.',
    ]);
    expect(sleeps).toEqual([2000, 2000, 2000, 2000]);
  });

  it('exits 1 when the run ends otherwise, with its error, and prints JSON lines with --json', async () => {
    const failed = run('w', {
      status: 'FAILED',
      history: [...history.slice(0, 2), { status: 'FAILED', at: at(3) }],
      error: { name: 'X', message: 'quota exceeded', fix: 'raise the quota' },
    });
    const human = await tunedrop(fakeServices({ looks: [failed] }).services, 'runs', 'watch', 'w');
    expect(human.code).toBe(1);
    expect(human.out).toContain('Run w ended FAILED: quota exceeded\nFix: raise the quota.');
    const json = await tunedrop(fakeServices({ looks: [failed] }).services, 'runs', 'watch', 'w', '--json');
    expect(json.code).toBe(1);
    expect(
      json.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { runId: 'w', status: 'RECEIVED', at: at(0) },
      { runId: 'w', status: 'PREPARING', at: at(1) },
      { runId: 'w', status: 'FAILED', at: at(3) },
    ]);
    expect(json.sleeps).toEqual([]);
  });

  it('polls every 5 seconds by default', async () => {
    const { sleeps } = await tunedrop(
      fakeServices({ looks: [look(2), run('w')] }).services,
      'runs',
      'watch',
      'w',
    );
    expect(sleeps).toEqual([5000]);
  });

  it('waits a minute for a run that does not exist yet (its file still being read), then exits 1', async () => {
    const late = await tunedrop(
      fakeServices({ looks: [undefined as never, undefined as never, run('w')] }).services,
      'runs',
      'watch',
      'w',
    );
    expect(late).toMatchObject({
      code: 0,
      err: expect.stringContaining('no run w yet; waiting for it to appear'),
    });
    const never = await tunedrop(
      fakeServices({ looks: [] }).services,
      'runs',
      'watch',
      'w',
      '--interval',
      '10',
    );
    expect(never.code).toBe(1);
    expect(never.err).toContain('no run w; "tunedrop runs list"');
    expect(never.sleeps).toEqual([10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
  });
});

describe('tunedrop retrain', () => {
  it('invokes the retrain function for the family as the operator and says what it did', async () => {
    const { services, calls } = fakeServices({
      answers: {
        'retrain-fn': {
          outcome: 'started',
          runId: 'support-retrain-1',
          message: 'Started run support-retrain-1.',
        },
      },
    });
    const { code, out } = await tunedrop(services, 'retrain', 'support');
    expect(code).toBe(0);
    expect(calls).toEqual([
      { functionName: 'retrain-fn', payload: { family: 'support', trigger: 'operator' } },
    ]);
    expect(out).toBe(
      'Started run support-retrain-1.\nFollow it with: tunedrop runs watch support-retrain-1\n',
    );
  });

  it('prints the answer with --json, and nothing new is not a failure', async () => {
    const answer = { outcome: 'nothing_new', message: 'No new data since the current model.' };
    const { code, out } = await tunedrop(
      fakeServices({ answers: { 'retrain-fn': answer } }).services,
      'retrain',
      'support',
      '--json',
    );
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual(answer);
  });

  it('exits 1 when the function answers something outside its contract', async () => {
    const { code, err } = await tunedrop(
      fakeServices({ answers: { 'retrain-fn': { ok: true } } }).services,
      'retrain',
      'support',
    );
    expect(code).toBe(1);
    expect(err).toContain('retrain-fn answered something unexpected');
  });
});

describe('tunedrop models', () => {
  const models = [
    model('ft:one', {
      runId: 'r1',
      validLoss: 0.51234,
      trainedTokens: 1000,
      costUsd: 0.01,
      deletedAt: at(50),
    }),
    model('ft:two', {
      runId: 'r2',
      parentModel: 'ft:one',
      createdAt: at(20),
      trainedTokens: 2000,
      costUsd: 0.02,
    }),
    model('ft:sales', { family: 'sales', runId: 'r3' }),
  ];
  const current: CurrentModel[] = [
    {
      family: 'support',
      model: '~current',
      currentModel: 'ft:two',
      provider: 'openai',
      baseModel: 'gpt-4o-mini-2024-07-18',
      runId: 'r2',
      updatedAt: at(20),
    },
  ];

  it('lists the models with the current one of each family marked', async () => {
    const { out } = await tunedrop(fakeServices({ models, current }).services, 'models', 'list');
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^FAMILY +MODEL +CURRENT +PROVIDER +PARENT +VALID LOSS +TOKENS +COST +CREATED +DELETED$/,
    );
    expect(lines.find((l) => l.includes('ft:two'))).toMatch(/ft:two +yes +openai +ft:one /);
    expect(lines.find((l) => l.includes('ft:one '))).toMatch(
      /0\.5123 +1,000 +\$0\.0100 .*2026-11-29 09:50:00Z$/,
    );
  });

  it('lists one family with --family, as {models: [...]} with --json', async () => {
    const { out } = await tunedrop(
      fakeServices({ models, current }).services,
      'models',
      'list',
      '--family',
      'support',
      '--json',
    );
    expect(
      JSON.parse(out).models.map((m: { model: string; current: boolean }) => [m.model, m.current]),
    ).toEqual([
      ['ft:one', false],
      ['ft:two', true],
    ]);
  });

  it("shows a model's lineage, run and numbers", async () => {
    const { code, out } = await tunedrop(
      fakeServices({ models, current }).services,
      'models',
      'show',
      'ft:two',
    );
    expect(code).toBe(0);
    expect(out).toContain("Family          support (the family's current model)");
    expect(out).toContain('Parent model    ft:one');
    expect(out).toContain('Run             r2 ("tunedrop runs show r2")');
    const json = await tunedrop(
      fakeServices({ models, current }).services,
      'models',
      'show',
      'ft:two',
      '--json',
    );
    expect(JSON.parse(json.out)).toEqual({
      model: expect.objectContaining({ model: 'ft:two', current: true }),
    });
    expect((await tunedrop(fakeServices({ models }).services, 'models', 'show', 'ft:none')).code).toBe(1);
  });

  it('deletes through the models function, passing --force, exit 0 when deleted', async () => {
    const { services, calls } = fakeServices({
      answers: { 'models-fn': { outcome: 'deleted', message: 'Deleted ft:two at openai.' } },
    });
    const { code, out } = await tunedrop(services, 'models', 'delete', 'ft:two', '--force');
    expect(code).toBe(0);
    expect(out).toBe('Deleted ft:two at openai.\n');
    expect(calls).toEqual([
      { functionName: 'models-fn', payload: { action: 'delete', model: 'ft:two', force: true } },
    ]);
  });

  it('exits 1 when refused as the current model, naming --force as the fix', async () => {
    const { services, calls } = fakeServices({
      answers: { 'models-fn': { outcome: 'refused_current', message: "ft:two is support's current model." } },
    });
    const { code, err } = await tunedrop(services, 'models', 'delete', 'ft:two');
    expect(code).toBe(1);
    expect(err).toContain("ft:two is support's current model.\nFix: ");
    expect(err).toContain('--force');
    expect(calls[0]!.payload).toEqual({ action: 'delete', model: 'ft:two', force: false });
  });
});

describe('tunedrop cost', () => {
  const runs = [
    run('a', { costUsd: 1.25, trainedTokens: 1000, createdAt: '2026-10-03T00:00:00.000Z' }),
    run('b', { costUsd: 0.5, trainedTokens: 500, family: 'sales' }),
    run('c', { status: 'TRAINING', estimatedCostUsd: 0.75 }),
  ];

  it('prints the groups and a total line, the estimates apart', async () => {
    const { code, out } = await tunedrop(fakeServices({ runs }).services, 'cost');
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('All runs, by family:');
    expect(lines[1]).toMatch(
      /^FAMILY +RUNS +COST +OF WHICH EVALUATION +ESTIMATED \(NO COST YET\) +TRAINED TOKENS$/,
    );
    expect(lines[2]).toMatch(/^support +2 +\$1\.25 +\$0\.00 +\$0\.7500 \(1\) +1,000$/);
    expect(lines[3]).toMatch(/^sales +1 +\$0\.5000 +\$0\.00 +- +500$/);
    expect(lines[4]).toMatch(/^TOTAL +3 +\$1\.75 +\$0\.00 +\$0\.7500 \(1\) +1,500$/);
  });

  it('filters by --since, groups by --by, and prints the report with --json', async () => {
    const { out } = await tunedrop(
      fakeServices({ runs }).services,
      'cost',
      '--since',
      '2026-11-01',
      '--by',
      'month',
      '--json',
    );
    expect(JSON.parse(out)).toEqual({
      since: '2026-11-01',
      by: 'month',
      groups: [
        {
          key: '2026-11',
          runs: 2,
          costUsd: 0.5,
          evaluationCostUsd: 0,
          estimatedCostUsd: 0.75,
          runsWithoutCost: 1,
          trainedTokens: 500,
          embeddingTokens: 0,
        },
      ],
      total: {
        runs: 2,
        costUsd: 0.5,
        evaluationCostUsd: 0,
        estimatedCostUsd: 0.75,
        runsWithoutCost: 1,
        trainedTokens: 500,
        embeddingTokens: 0,
      },
    });
  });
});

describe('embedding runs (#15)', () => {
  const embedded = run('articles-1', {
    kind: 'embeddings',
    family: 'articles',
    createdAt: at(40),
    source: { bucket: BUCKET, key: 'embed/articles/articles.jsonl', versionId: 'v7' },
    history: [
      { status: 'RECEIVED', at: at(40) },
      { status: 'PREPARING', at: at(41) },
      { status: 'EMBEDDING', at: at(42), detail: 'in_progress' },
      { status: 'COLLECTING', at: at(50) },
      { status: 'SUCCEEDED', at: at(51) },
    ],
    finishedAt: at(51),
    baseModel: 'text-embedding-3-small',
    estimatedTokens: 12_400,
    estimatedCostUsd: 0.000124,
    costUsd: 0.000123,
    validationReportKey: 'embeddings/articles-1/validation.md',
    embedding: {
      model: 'text-embedding-3-small',
      dimensions: 512,
      mode: 'batch',
      embedded: 98,
      failed: 2,
      tokens: 12_300,
      batchIds: ['batch_abc'],
      outputKey: 'embeddings/articles-1/embeddings.parquet',
      manifestKey: 'embeddings/articles-1/manifest.json',
    },
  });
  const embedding = run('articles-2', {
    kind: 'embeddings',
    family: 'articles',
    status: 'EMBEDDING',
    createdAt: at(45),
    source: { bucket: BUCKET, key: 'embed/articles/more.csv' },
    history: [
      { status: 'RECEIVED', at: at(45) },
      { status: 'PREPARING', at: at(46) },
      { status: 'EMBEDDING', at: at(47) },
    ],
    baseModel: 'text-embedding-3-small',
    estimatedTokens: 500,
    estimatedCostUsd: 0.000005,
    embedding: { model: 'text-embedding-3-small', dimensions: 512, mode: 'direct' },
  });
  const trained = run('support-1', { createdAt: at(30), costUsd: 0.5, trainedTokens: 12_000 });
  const legacy = run('support-0', { createdAt: at(10), costUsd: 0.25, trainedTokens: 6_000 });
  const runs = [embedded, embedding, trained, legacy];

  it('lists both kinds by default, a KIND column saying which, the embedding model and its tokens', async () => {
    const { code, out } = await tunedrop(fakeServices({ runs }).services, 'runs', 'list');
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^RUN +KIND +FAMILY +STATUS +CREATED +PROVIDER +MODEL +TOKENS +COST$/);
    const column = (header: string) =>
      lines.slice(1).map((l) => l.slice(lines[0]!.indexOf(header)).split(' ')[0]);
    expect(column('RUN')).toEqual(['articles-2', 'articles-1', 'support-1', 'support-0']);
    expect(column('KIND')).toEqual(['embeddings', 'embeddings', 'fine-tuning', 'fine-tuning']);
    expect(column('STATUS')).toEqual(['EMBEDDING', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(column('MODEL').slice(0, 2)).toEqual(['text-embedding-3-small', 'text-embedding-3-small']);
    expect(lines[1]).toMatch(/500 +~\$0\.0000$/);
    expect(lines[2]).toMatch(/12,300 +\$0\.0001$/);
  });

  it('lists one kind with --kind (runs without a kind are fine-tuning), the kind in --json', async () => {
    const list = async (...argv: string[]) =>
      JSON.parse(
        (await tunedrop(fakeServices({ runs }).services, 'runs', 'list', ...argv, '--json')).out,
      ) as {
        runs: CliRun[];
      };
    const embeddings = await list('--kind', 'embeddings');
    expect(embeddings.runs.map((r) => [r.runId, r.kind])).toEqual([
      ['articles-2', 'embeddings'],
      ['articles-1', 'embeddings'],
    ]);
    expect(embeddings.runs[1]!.embedding).toMatchObject({ embedded: 98, failed: 2, tokens: 12_300 });
    expect((await list('--kind', 'fine-tuning')).runs.map((r) => [r.runId, r.kind])).toEqual([
      ['support-1', 'fine-tuning'],
      ['support-0', 'fine-tuning'],
    ]);
    expect((await list()).runs.map((r) => r.kind)).toEqual([
      'embeddings',
      'embeddings',
      'fine-tuning',
      'fine-tuning',
    ]);
    expect((await list('--kind', 'embeddings', '--status', 'succeeded')).runs.map((r) => r.runId)).toEqual([
      'articles-1',
    ]);
    // A table of fine-tuning runs only stays as it was: no KIND column.
    const { out } = await tunedrop(fakeServices({ runs }).services, 'runs', 'list', '--kind', 'fine-tuning');
    expect(out.split('\n')[0]).toMatch(/^RUN +FAMILY +STATUS/);
  });

  it('refuses an unknown --kind as a usage error, naming the kinds', async () => {
    const { code, err } = await tunedrop(fakeServices({ runs }).services, 'runs', 'list', '--kind', 'chat');
    expect(code).toBe(2);
    expect(err).toContain('fine-tuning, embeddings');
  });

  it("shows an embedding run's collection, model, dimensions, mode, counts, tokens, cost and files", async () => {
    const { services } = fakeServices({ runs });
    services.readObject = async () => {
      throw new Error('an embedding run has no results.csv to read');
    };
    const { code, out } = await tunedrop(services, 'runs', 'show', 'articles-1');
    expect(code).toBe(0);
    expect(out).toContain('Run articles-1\n');
    expect(out).toMatch(/Kind +embeddings\n/);
    expect(out).toMatch(/Collection +articles\n/);
    expect(out).toMatch(/Model +text-embedding-3-small\n/);
    expect(out).toMatch(/Dimensions +512\n/);
    expect(out).toMatch(/Mode +batch \(the Batch API, its batch price\)\n/);
    expect(out).toMatch(/Records +98 embedded, 2 failed\n/);
    expect(out).toMatch(/Tokens +estimated 12,400, billed 12,300\n/);
    expect(out).toMatch(/Cost +estimated \$0\.0001, actual \$0\.0001\n/);
    expect(out).toMatch(/Batches +batch_abc\n/);
    expect(out).toContain(`s3://${BUCKET}/embed/articles/articles.jsonl (version v7)`);
    expect(out).toMatch(/validation report +s3:\/\/tunedrop-data\/embeddings\/articles-1\/validation\.md\n/);
    expect(out).toMatch(/embeddings +s3:\/\/tunedrop-data\/embeddings\/articles-1\/embeddings\.parquet\n/);
    expect(out).toMatch(/manifest\.json +s3:\/\/tunedrop-data\/embeddings\/articles-1\/manifest\.json\n?$/);
    expect(out).toContain('EMBEDDING (in_progress)');
    expect(out).not.toMatch(/Loss|results\.csv|Fine-tuned model/);
  });

  it('prints {run, files, loss: null} with --json, the files an embedding run has', async () => {
    const { out } = await tunedrop(fakeServices({ runs }).services, 'runs', 'show', 'articles-1', '--json');
    const shown = JSON.parse(out) as { run: CliRun; files: Record<string, string>; loss: unknown };
    expect(shown.run).toMatchObject({
      runId: 'articles-1',
      kind: 'embeddings',
      embedding: { dimensions: 512 },
    });
    expect(shown.files).toEqual({
      source: `s3://${BUCKET}/embed/articles/articles.jsonl`,
      validationReport: `s3://${BUCKET}/embeddings/articles-1/validation.md`,
      output: `s3://${BUCKET}/embeddings/articles-1/embeddings.parquet`,
      manifest: `s3://${BUCKET}/embeddings/articles-1/manifest.json`,
    });
    expect(shown.loss).toBeNull();
    // A run from before #15 has no kind on its item: --json says fine-tuning.
    const old = JSON.parse(
      (await tunedrop(fakeServices({ runs }).services, 'runs', 'show', 'support-0', '--json')).out,
    ) as { run: CliRun };
    expect(old.run.kind).toBe('fine-tuning');
  });

  it('shows an embedding run under way: no counts yet, the estimate, no output files', async () => {
    const { out } = await tunedrop(fakeServices({ runs }).services, 'runs', 'show', 'articles-2');
    expect(out).toMatch(/Mode +direct \(the embeddings endpoint\)\n/);
    expect(out).toMatch(/Records +-\n/);
    expect(out).toMatch(/Tokens +estimated 500, billed -\n/);
    expect(out).not.toContain('manifest.json');
  });

  it('watches an embedding run through EMBEDDING to its end, exit 0, saying what it made', async () => {
    const look = (status: 'EMBEDDING' | 'SUCCEEDED', changes: number) => ({
      ...embedded,
      status,
      history: embedded.history.slice(0, changes),
    });
    const { services } = fakeServices({
      looks: [look('EMBEDDING', 3), look('EMBEDDING', 3), look('SUCCEEDED', 5)],
    });
    const { code, out } = await tunedrop(services, 'runs', 'watch', 'articles-1');
    expect(code).toBe(0);
    expect(out.trimEnd().split('\n')).toEqual([
      '2026-11-29 09:40:00Z  RECEIVED',
      '2026-11-29 09:41:00Z  PREPARING',
      '2026-11-29 09:42:00Z  EMBEDDING (in_progress)',
      '2026-11-29 09:50:00Z  COLLECTING',
      '2026-11-29 09:51:00Z  SUCCEEDED',
      `Run articles-1 SUCCEEDED: 98 records embedded, 2 failed in s3://${BUCKET}/embeddings/articles-1/embeddings.parquet.`,
    ]);
  });

  it('counts embedding runs in the cost report, their billed tokens in a column of their own, --by kind', async () => {
    const { out } = await tunedrop(fakeServices({ runs }).services, 'cost');
    const lines = out.trimEnd().split('\n');
    expect(lines[1]).toMatch(/TRAINED TOKENS +EMBEDDING TOKENS$/);
    expect(lines[2]).toMatch(/^support +2 +\$0\.7500 +\$0\.00 +- +18,000 +0$/);
    expect(lines[3]).toMatch(/^articles +2 +\$0\.0001 +\$0\.00 +\$0\.0000 \(1\) +0 +12,300$/);
    expect(lines[4]).toMatch(/^TOTAL +4 +\$0\.7501 +\$0\.00 +\$0\.0000 \(1\) +18,000 +12,300$/);
    const byKind = JSON.parse(
      (await tunedrop(fakeServices({ runs }).services, 'cost', '--by', 'kind', '--json')).out,
    );
    expect(byKind.groups).toEqual([
      expect.objectContaining({
        key: 'fine-tuning',
        runs: 2,
        costUsd: 0.75,
        trainedTokens: 18_000,
        embeddingTokens: 0,
      }),
      expect.objectContaining({
        key: 'embeddings',
        runs: 2,
        costUsd: 0.000123,
        estimatedCostUsd: 0.000005,
        runsWithoutCost: 1,
        trainedTokens: 0,
        embeddingTokens: 12_300,
      }),
    ]);
    expect(byKind.total).toMatchObject({ runs: 4, costUsd: 0.750123, embeddingTokens: 12_300 });
    expect(
      (await tunedrop(fakeServices({ runs }).services, 'cost', '--by', 'kind')).out.split('\n')[1],
    ).toMatch(/^KIND +RUNS/);
  });
});

describe('answers the CLI cannot read', () => {
  it('exit 1, saying the CLI and the stack are of different versions', async () => {
    const { services } = fakeServices({});
    services.getRun = async () => CliRunSchema.parse({ runId: 'r', status: 'SOMETHING_NEW' });
    const { code, err } = await tunedrop(services, 'runs', 'show', 'r');
    expect(code).toBe(1);
    expect(err).toContain('AWS answered with data this CLI does not understand');
    expect(err).toContain('Fix: use the CLI of the same tunedrop version as the deployed stack.');
  });
});

describe('the target line', () => {
  it('goes to stderr for tables and is left out with --json', async () => {
    let err = '';
    const connect = async (values: Record<string, unknown>): Promise<Connection> => {
      if (!values.json) err += 'tunedrop: using AWS\n';
      return {
        services: fakeServices({}).services,
        stack: 'Tunedrop',
        target: { description: 'AWS', client: () => ({}) },
      };
    };
    await main(
      ['runs', 'list', '--json'],
      () => {},
      (t) => void (err += t),
      undefined,
      { connect },
    );
    expect(err).toBe('');
  });
});
