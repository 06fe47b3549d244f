import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type OpenAI from 'openai';
import { readFileSync } from 'node:fs';
import type { LocalCloud } from '../../local/cloud/index.js';
import { BROKEN, SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { main } from '../../cli/main.js';
import { expectRunInvariants } from './invariants.js';
import { TRAINING_COPY_TAG } from '../../functions/core/run.js';

/**
 * The whole pipeline, locally: the synthesized template's resources, the real handlers and the real
 * state machine, against the OpenAI emulator.
 */
const API_KEY = 'sk-test-local';

let harness: LocalHarness;
let cloud: LocalCloud;
let openai: OpenAI;

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: API_KEY,
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1 },
  });
  ({ cloud, openai } = harness);
});
afterAll(() => harness?.close());

const text = async (key: string) =>
  (await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }))).Body!.transformToString();

describe('a good file dropped into incoming/', () => {
  let runId: string;

  beforeAll(async () => {
    runId = await cloud.drop(SAMPLE, 'incoming/support/support-tickets.jsonl');
    await cloud.waitForRun(runId, { timeoutMs: 60_000 });
  });

  it('ends SUCCEEDED with the model, tokens, cost and every status on the way', async () => {
    const run = await cloud.getRun(runId);
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      family: 'support',
      baseModel: 'gpt-4.1-mini-2025-04-14',
      providerJobId: expect.stringMatching(/^ftjob-/),
      fineTunedModel: expect.stringMatching(/^ft:gpt-4\.1-mini-2025-04-14:.*:support:/),
      trainedTokens: expect.any(Number),
      costUsd: expect.any(Number),
      resultsKey: `runs/${runId}/results.csv`,
    });
    expect(run!.history.map((h) => h.status)).toEqual(
      expect.arrayContaining([
        'RECEIVED',
        'PREPARING',
        'UPLOADING',
        'TRAINING',
        'COLLECTING',
        'EVALUATING',
        'SUCCEEDED',
      ]),
    );
    // Evaluated on its held-out tickets beside the base model (the family's first model), and promoted.
    expect(run!.evaluation).toMatchObject({
      status: 'completed',
      metric: 'macro_f1',
      compared: { role: 'base', model: 'gpt-4.1-mini-2025-04-14' },
      promoted: true,
    });
    expect(run!.evaluation!.score).toBeGreaterThan(run!.evaluation!.compared!.score);
    expect(run!.evaluationKey).toBe(`runs/${runId}/evaluation.json`);
    // Billed tokens are the training file's tokens times the epochs, at gpt-4.1-mini's $5 per 1M.
    expect(run!.costUsd).toBeCloseTo((run!.trainedTokens! * 5) / 1e6, 4);
  });

  it('writes results.csv with real per-step metrics and a summary next to the data', async () => {
    const csv = await text(`runs/${runId}/results.csv`);
    const [header, ...rows] = csv.trim().split('\n');
    expect(header).toBe('step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy');
    expect(rows.length).toBeGreaterThan(3);
    const summary = JSON.parse(await text(`runs/${runId}/summary.json`));
    expect(summary).toMatchObject({
      runId,
      metrics: { steps: rows.length },
      costUsd: (await cloud.getRun(runId))!.costUsd,
    });
    expect(summary.metrics.final.trainLoss).toBeLessThan(summary.metrics.first.trainLoss);
  });

  it('leaves the validation report and the uploaded split', async () => {
    expect(await text(`runs/${runId}/validation.md`)).toContain('Valid: training will start');
    const train = (await text(`runs/${runId}/train.jsonl`)).trim().split('\n');
    const validation = (await text(`runs/${runId}/validation.jsonl`)).trim().split('\n');
    expect(train.length + validation.length).toBe(64);
  });

  it('tags the training copies for their expiry, and leaves the report and results untagged', async () => {
    const tagsOf = async (key: string) =>
      (await cloud.s3.send(new GetObjectTaggingCommand({ Bucket: cloud.bucket, Key: key }))).TagSet;
    const tag = [{ Key: TRAINING_COPY_TAG.key, Value: TRAINING_COPY_TAG.value }];
    expect(await tagsOf(`runs/${runId}/train.jsonl`)).toEqual(tag);
    expect(await tagsOf(`runs/${runId}/validation.jsonl`)).toEqual(tag);
    expect(await tagsOf(`runs/${runId}/validation.md`)).toEqual([]);
    expect(await tagsOf(`runs/${runId}/results.csv`)).toEqual([]);
  });

  it("leaves the user's file untouched", async () => {
    expect(await text('incoming/support/support-tickets.jsonl')).toBe(readFileSync(SAMPLE, 'utf8'));
  });

  it('ran the synthesized state machine to success under the run id', () => {
    const execution = cloud.stepFunctions.list().find((e) => e.name === runId);
    expect(execution?.status).toBe('SUCCEEDED');
  });
});

describe('a bad file dropped into incoming/', () => {
  it('ends REJECTED with a report, and nothing reaches the provider', async () => {
    const filesBefore = (await openai.files.list()).data.length;
    const jobsBefore = (await openai.fineTuning.jobs.list()).data.length;
    const runId = await cloud.drop(BROKEN, 'incoming/support/broken-tickets.jsonl');
    const run = await cloud.waitForRun(runId, { timeoutMs: 30_000 });

    expect(run).toMatchObject({
      status: 'REJECTED',
      error: { code: 'invalid_json', message: expect.stringContaining('line 4') },
    });
    const report = JSON.parse(await text(`runs/${runId}/validation.json`));
    expect(report.errors.map((e: { code: string; line: number }) => [e.code, e.line])).toEqual([
      ['invalid_json', 4],
      ['no_assistant_message', 9],
    ]);
    expect((await openai.files.list()).data.length).toBe(filesBefore);
    expect((await openai.fineTuning.jobs.list()).data.length).toBe(jobsBefore);
    expect(cloud.stepFunctions.list().some((e) => e.name === runId)).toBe(false);
    await expect(
      cloud.s3.send(
        new HeadObjectCommand({ Bucket: cloud.bucket, Key: 'incoming/support/broken-tickets.jsonl' }),
      ),
    ).resolves.toBeDefined();
  });
});

describe('the same S3 event delivered again, three times at once', () => {
  it('gives one run, one execution and one provider job', async () => {
    const key = 'incoming/dup/tickets.jsonl';
    const runId = await cloud.drop(SAMPLE, key);
    const event = cloud.lastEvent(key);
    expect(event?.Records[0]?.s3.object.key).toBe('incoming/dup/tickets.jsonl');
    const validate = cloud.plan.functions.find((f) => f.entry === 'functions/validate/handler.ts')!;
    const outcomes = await Promise.all([1, 2, 3].map(() => cloud.invoke(validate.arn, event)));
    expect(outcomes.flat()).toEqual([
      { runId, outcome: expect.stringMatching(/^(started|duplicate)$/) },
      { runId, outcome: expect.stringMatching(/^(started|duplicate)$/) },
      { runId, outcome: expect.stringMatching(/^(started|duplicate)$/) },
    ]);
    const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });

    expect(run.status).toBe('SUCCEEDED');
    expect(cloud.stepFunctions.list().filter((e) => e.name === runId)).toHaveLength(1);
    expect((await openai.fineTuning.jobs.list({ metadata: { runId } })).data).toHaveLength(1);
    expect((await cloud.listRuns()).filter((r) => r.runId === runId)).toHaveLength(1);
  });
});

describe('a job still training after maxTrainingHours', () => {
  it('is cancelled at the provider and the run recorded TIMED_OUT', async () => {
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: 'incoming/slow/tunedrop.json',
        // Many epochs, so that the job is surely still training when the limit is checked.
        Body: JSON.stringify({ maxTrainingHours: 0.00001, hyperparameters: { nEpochs: 40 } }),
      }),
    );
    const runId = await cloud.drop(SAMPLE, 'incoming/slow/tickets.jsonl');
    const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
    expect(run).toMatchObject({ status: 'TIMED_OUT', error: { code: 'training_timeout' } });
    const job = await openai.fineTuning.jobs.retrieve(run.providerJobId!);
    expect(job.status).toBe('cancelled');
    // The report no longer says that training will start: it says how the run ended.
    await untilReportSays(runId, 'Validation passed, but the run TIMED OUT');
    // The Markdown is rewritten first and validation.json right after it (core/report.ts): wait for both.
    expect(await untilValidationJson(runId, (report) => report.outcome !== undefined)).toMatchObject({
      verdict: 'valid',
      outcome: { status: 'TIMED_OUT', code: 'training_timeout' },
    });
  });
});

/** Waits until the run's validation.md says `wanted` (the step that records the end rewrites it after). */
async function untilReportSays(runId: string, wanted: string): Promise<void> {
  let report = '';
  for (let i = 0; i < 200; i++) {
    report = await text(`runs/${runId}/validation.md`);
    if (report.includes(wanted)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`runs/${runId}/validation.md never said "${wanted}"; it says:\n${report.slice(0, 500)}`);
}

/** Waits until the run's validation.json satisfies `done`, and gives it. */
async function untilValidationJson(
  runId: string,
  done: (report: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  let report: Record<string, unknown> = {};
  for (let i = 0; i < 200; i++) {
    report = JSON.parse(await text(`runs/${runId}/validation.json`)) as Record<string, unknown>;
    if (done(report)) return report;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return report;
}

/**
 * Waits until the run's job is training at the provider. The run itself may not say so: parked until the
 * job's webhook, it reads the job's status only when woken or at its timeout.
 */
async function untilJobTrains(runId: string): Promise<void> {
  const { providerJobId } = await cloud.waitForRun(runId, {
    timeoutMs: 30_000,
    until: (run) => run.providerJobId !== undefined,
  });
  for (let i = 0; i < 600; i++) {
    if ((await openai.fineTuning.jobs.retrieve(providerJobId!)).status === 'running') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`job ${providerJobId} never started training`);
}

describe('a run stopped from the console (StopExecution)', () => {
  it('is recorded CANCELLED and its provider job cancelled', async () => {
    // Many epochs, so that the job is still training when the execution is stopped.
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: 'incoming/stopped/tunedrop.json',
        Body: JSON.stringify({ hyperparameters: { nEpochs: 40 } }),
      }),
    );
    const runId = await cloud.drop(SAMPLE, 'incoming/stopped/tickets.jsonl');
    await untilJobTrains(runId);
    const sfn = new SFNClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SFN });
    const execution = cloud.stepFunctions.list().find((e) => e.name === runId)!;
    await sfn.send(new StopExecutionCommand({ executionArn: execution.executionArn }));
    sfn.destroy();

    const run = await cloud.waitForRun(runId, { timeoutMs: 30_000 });
    expect(run).toMatchObject({ status: 'CANCELLED', error: { code: 'execution_stopped' } });
    expect((await openai.fineTuning.jobs.retrieve(run.providerJobId!)).status).toBe('cancelled');
    await untilReportSays(runId, 'Validation passed, but the run was CANCELLED');
  });
});

describe('npx tunedrop cancel RUN', () => {
  const cli = async (...argv: string[]) => {
    let text = '';
    const code = await main(
      argv,
      (t) => void (text += t),
      (t) => void (text += t),
    );
    return { code, text };
  };

  it('stops a training run: recorded CANCELLED, provider job cancelled', async () => {
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: 'incoming/cancelled/tunedrop.json',
        Body: JSON.stringify({ hyperparameters: { nEpochs: 40 } }),
      }),
    );
    const runId = await cloud.drop(SAMPLE, 'incoming/cancelled/tickets.jsonl');
    await untilJobTrains(runId);
    expect(await cli('cancel', runId, '--state-machine', cloud.stateMachineArn)).toMatchObject({
      code: 0,
      text: expect.stringContaining('Stopped run'),
    });
    const run = await cloud.waitForRun(runId, { timeoutMs: 30_000 });
    expect(run).toMatchObject({ status: 'CANCELLED' });
    expect((await openai.fineTuning.jobs.retrieve(run.providerJobId!)).status).toBe('cancelled');
    expect(await cli('cancel', runId, '--state-machine', cloud.stateMachineArn)).toMatchObject({
      code: 1,
      text: expect.stringContaining('already ended'),
    });
  });

  it('says so, with exit 1, for a run that has no workflow', async () => {
    expect(await cli('cancel', 'no-such-run', '--state-machine', cloud.stateMachineArn)).toMatchObject({
      code: 1,
      text: expect.stringContaining('no run no-such-run'),
    });
  });
});

describe('after every scenario above', () => {
  it('every run has one terminal state, every job its run, sources are intact and the key is nowhere', async () => {
    await cloud.stepFunctions.settle();
    await expectRunInvariants(cloud, openai, {
      apiKey: API_KEY,
      sources: [
        { key: 'incoming/support/support-tickets.jsonl', localPath: SAMPLE },
        { key: 'incoming/support/broken-tickets.jsonl', localPath: BROKEN },
        { key: 'incoming/dup/tickets.jsonl', localPath: SAMPLE },
        { key: 'incoming/slow/tickets.jsonl', localPath: SAMPLE },
        { key: 'incoming/stopped/tickets.jsonl', localPath: SAMPLE },
        { key: 'incoming/cancelled/tickets.jsonl', localPath: SAMPLE },
      ],
    });
  });
});
