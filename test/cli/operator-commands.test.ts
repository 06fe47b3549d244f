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
          (r) => (!query.family || r.family === query.family) && (!query.status || r.status === query.status),
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
        },
      ],
      total: {
        runs: 2,
        costUsd: 0.5,
        evaluationCostUsd: 0,
        estimatedCostUsd: 0.75,
        runsWithoutCost: 1,
        trainedTokens: 500,
      },
    });
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
