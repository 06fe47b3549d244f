import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { CURRENT_MODEL_KEY, currentModelParameter } from '../../functions/core/registry.js';
import { TERMINAL_STATUSES, type RunRecord } from '../../functions/core/run.js';
import { STATE } from '../../lib/workflow.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { operatorCli } from '../support/operator-cli.js';

/**
 * Families in local mode (#12 point 8), with the real handlers, the synthesized workflow and IAM
 * enforced: two drops in a family with "baseModel": "latest" (the second queues while the first trains,
 * then continues from its model), `tunedrop models delete` as an operator (refused, then done, then
 * forced), and `tunedrop cost` against the run items. families-concurrent.test.ts has ten drops into
 * three families; families-schedule.test.ts the scheduled retrain.
 */
const API_KEY = 'sk-test-families';
const FAMILY = 'lineage';

let harness: LocalHarness;
let cloud: LocalCloud;
let openai: OpenAI;
let dir: string;
let connectionFile: string;
/** `tunedrop …` as the operator, against this local cloud. */
let tunedrop: ReturnType<typeof operatorCli>;
let ssm: SSMClient;
let documents: DynamoDBDocumentClient;
let registryTable: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-families-'));
  connectionFile = join(dir, 'cloud.json');
  tunedrop = operatorCli(connectionFile);
  harness = await startLocalHarness({
    apiKey: API_KEY,
    // A job waits 1.5 s queued at the provider: the family's second drop arrives and parks meanwhile.
    timing: { validatingMs: 20, queuedMs: 1500, msPerStep: 1 },
    cloud: { connectionFile, onLog: () => undefined },
  });
  ({ cloud, openai } = harness);
  ssm = new SSMClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SSM });
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.DYNAMODB }),
  );
  registryTable = cloud.plan.outputs.ModelRegistryTableName!.value;
}, 60_000);
afterAll(async () => {
  ssm?.destroy();
  documents?.destroy();
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The sample with each question changed a little: distinct examples, so a distinct file. */
async function variant(tag: string): Promise<string> {
  const lines = (await readFile(SAMPLE, 'utf8')).trim().split('\n');
  const changed = lines.map((line) => {
    const example = JSON.parse(line) as { messages: Array<{ role: string; content: string }> };
    for (const message of example.messages)
      if (message.role === 'user') message.content = `${message.content} (${tag})`;
    return JSON.stringify(example);
  });
  const path = join(dir, `${tag}.jsonl`);
  await writeFile(path, `${changed.join('\n')}\n`);
  return path;
}

const putSettings = (family: string, settings: Record<string, unknown>) =>
  cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: `incoming/${family}/tunedrop.json`,
      Body: JSON.stringify(settings),
    }),
  );

/** Polls a condition on the cloud's state (not a timer race): resolves once it holds. */
async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether the run's execution is parked in Wait for family turn (submitted, not yet resumed). */
function parkedForFamilyTurn(runId: string): boolean {
  const execution = cloud.stepFunctions.list().find((e) => e.name === runId);
  const events = execution?.history.filter((e) => e.stateName === STATE.familyTurn).map((e) => e.type) ?? [];
  return events.includes('TaskSubmitted') && !events.includes('TaskSucceeded');
}

const at = (run: RunRecord, status: string) => run.history.find((h) => h.status === status)?.at;
const endOf = (run: RunRecord) => run.history.find((h) => TERMINAL_STATUSES.has(h.status))!.at;

async function registry(family: string) {
  const { Items = [] } = await documents.send(
    new QueryCommand({
      TableName: registryTable,
      KeyConditionExpression: '#family = :family',
      ExpressionAttributeNames: { '#family': 'family' },
      ExpressionAttributeValues: { ':family': family },
      ConsistentRead: true,
    }),
  );
  return {
    models: Items.filter((item) => item.model !== CURRENT_MODEL_KEY),
    pointer: Items.find((item) => item.model === CURRENT_MODEL_KEY),
  };
}

async function parameter(family: string): Promise<string | undefined> {
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: currentModelParameter(family) }));
    return Parameter?.Value;
  } catch (error) {
    if (error instanceof ParameterNotFound || (error as Error).name === 'ParameterNotFound') return undefined;
    throw error;
  }
}

const operatorDecisions = () => cloud.iamDecisions.filter((d) => d.principal.endsWith('user/local-operator'));

describe('two drops in a family whose tunedrop.json says "baseModel": "latest"', () => {
  let first: RunRecord;
  let second: RunRecord;
  let secondWhileFirstTrained: RunRecord | undefined;
  let firstWhileSecondParked: RunRecord | undefined;

  beforeAll(async () => {
    // The lineage is the subject here: this family promotes every new model, its evaluation recorded
    // (a margin of 1 on a 0-1 metric); test/local/evaluation.test.ts has the policy at work.
    await putSettings(FAMILY, { baseModel: 'latest', promotion: { margin: 1 } });
    const firstId = await cloud.drop(SAMPLE, `incoming/${FAMILY}/first.jsonl`);
    await cloud.waitForRun(firstId, { timeoutMs: 60_000, until: (run) => run.status === 'TRAINING' });
    const secondId = await cloud.drop(await variant('second'), `incoming/${FAMILY}/second.jsonl`);
    await until('the second run is parked for its family turn', () => parkedForFamilyTurn(secondId));
    firstWhileSecondParked = await cloud.getRun(firstId);
    secondWhileFirstTrained = await cloud.getRun(secondId);
    first = await cloud.waitForRun(firstId, { timeoutMs: 90_000 });
    second = await cloud.waitForRun(secondId, { timeoutMs: 90_000 });
  }, 120_000);

  it('queues the second while the first trains: it prepares only once the first has ended', () => {
    expect(firstWhileSecondParked?.status).toBe('TRAINING');
    expect(secondWhileFirstTrained?.history.map((h) => h.status)).toEqual(['RECEIVED']);
    expect(first.status).toBe('SUCCEEDED');
    expect(at(second, 'RECEIVED')! < at(first, 'SUCCEEDED')!).toBe(true);
    expect(at(second, 'PREPARING')! >= endOf(first)).toBe(true);
  });

  it("starts the second from the first's model", () => {
    expect(first.parentModel).toBe(first.baseModel);
    expect(first.fineTunedModel).toMatch(/^ft:/);
    expect(second.parentModel).toBe(first.fineTunedModel);
  });

  it("continues from the first's model: the provider's second job trains the first's fine-tuned model", async () => {
    expect(second.status).toBe('SUCCEEDED');
    const [firstJob] = (await openai.fineTuning.jobs.list({ metadata: { runId: first.runId } })).data;
    const [secondJob] = (await openai.fineTuning.jobs.list({ metadata: { runId: second.runId } })).data;
    expect(firstJob?.model).toBe(first.baseModel);
    expect(secondJob?.model).toBe(first.fineTunedModel);
    expect(second.fineTunedModel).toBe(secondJob?.fine_tuned_model);
  });

  it('registers both models, the second with the first as its parent and as the current model', async () => {
    const { models, pointer } = await registry(FAMILY);
    const byModel = new Map(models.map((m) => [m.model as string, m]));
    expect(byModel.get(first.fineTunedModel!)).toMatchObject({
      family: FAMILY,
      provider: 'openai',
      baseModel: first.baseModel,
      parentModel: first.baseModel,
      runId: first.runId,
    });
    expect(byModel.get(second.fineTunedModel!)).toMatchObject({
      family: FAMILY,
      baseModel: first.baseModel,
      parentModel: first.fineTunedModel,
      runId: second.runId,
    });
    expect(models).toHaveLength(2);
    expect(pointer).toMatchObject({ currentModel: second.fineTunedModel, runId: second.runId });
    expect(await parameter(FAMILY)).toBe(second.fineTunedModel);
  });
});

describe('tunedrop models delete, as an operator', () => {
  const family = 'deletes';
  let older: RunRecord;
  let current: RunRecord;

  beforeAll(async () => {
    // Two models in one family, each trained from the base model; the newer one is current (this family
    // promotes every new model: deleting is the subject here, not the promotion policy).
    await putSettings(family, { promotion: { margin: 1 } });
    older = await harness.dropAndWait(SAMPLE, `incoming/${family}/older.jsonl`, 60_000);
    current = await harness.dropAndWait(await variant('newer'), `incoming/${family}/newer.jsonl`, 60_000);
    expect([older.status, current.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect((await registry(family)).pointer?.currentModel).toBe(current.fineTunedModel);
    expect(await parameter(family)).toBe(current.fineTunedModel);
  }, 150_000);

  it("refuses the family's current model", async () => {
    const refused = await tunedrop('models', 'delete', current.fineTunedModel!);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('current model');
    expect(refused.err).toContain('--force');
    expect((await registry(family)).models.every((m) => m.deletedAt === undefined)).toBe(true);
    expect(await parameter(family)).toBe(current.fineTunedModel);
  });

  it('deletes an older model at the provider and marks it deleted, keeping the current one', async () => {
    const deleted = await tunedrop('models', 'delete', older.fineTunedModel!);
    expect(deleted).toMatchObject({
      code: 0,
      out: expect.stringContaining(`deleted ${older.fineTunedModel}`),
    });
    // The provider no longer has it: deleting it again is a 404.
    await expect(openai.models.delete(older.fineTunedModel!)).rejects.toMatchObject({ status: 404 });
    const { models, pointer } = await registry(family);
    expect(models.find((m) => m.model === older.fineTunedModel)).toMatchObject({
      deletedAt: expect.any(String),
    });
    expect(models.find((m) => m.model === current.fineTunedModel)?.deletedAt).toBeUndefined();
    expect(pointer?.currentModel).toBe(current.fineTunedModel);
    expect(await parameter(family)).toBe(current.fineTunedModel);
  });

  it('deletes the current model with --force, clearing the pointer and the SSM parameter', async () => {
    const forced = await tunedrop('models', 'delete', current.fineTunedModel!, '--force');
    expect(forced.code).toBe(0);
    expect(forced.out).toContain(`deleted ${current.fineTunedModel}`);
    await expect(openai.models.delete(current.fineTunedModel!)).rejects.toMatchObject({ status: 404 });
    const { models, pointer } = await registry(family);
    expect(models.find((m) => m.model === current.fineTunedModel)).toMatchObject({
      deletedAt: expect.any(String),
    });
    // Cleared: no pointer item, or one that names no model.
    expect(pointer?.currentModel ?? undefined).toBeUndefined();
    expect(await parameter(family)).toBeUndefined();
    const shown = await tunedrop('models', 'list', '--family', family, '--json');
    expect(shown.code).toBe(0);
    const listed = (JSON.parse(shown.out) as { models: Array<{ model: string; current: boolean }> }).models;
    expect(listed.map((m) => m.model).sort()).toEqual([current.fineTunedModel, older.fineTunedModel].sort());
    expect(listed.filter((m) => m.current)).toEqual([]);
  });

  it('made every call as the operator, each allowed by the operator policy', () => {
    const decisions = operatorDecisions();
    expect(decisions.map((d) => d.action)).toEqual(expect.arrayContaining(['lambda:InvokeFunction']));
    expect(decisions.filter((d) => !d.allowed)).toEqual([]);
  });
});

describe('tunedrop cost', () => {
  beforeAll(async () => {
    // Another family, so the report has more than one group: a good run and a run whose job fails.
    await harness.dropAndWait(SAMPLE, 'incoming/costs/tickets.jsonl', 60_000);
    harness.emulator.faults.onNextJob({ failWith: { code: 'server_error', message: 'the job broke' } });
    await harness.dropAndWait(await variant('costs'), 'incoming/costs/failing.jsonl', 60_000);
  }, 150_000);

  /** Sums over the run items, in micro-dollars as the report sums. */
  function sums(runs: RunRecord[], keyOf: (run: RunRecord) => string) {
    const groups = new Map<string, { runs: number; costMicros: number; trainedTokens: number }>();
    for (const run of runs) {
      const group = groups.get(keyOf(run)) ?? { runs: 0, costMicros: 0, trainedTokens: 0 };
      group.runs += 1;
      // What the run cost: its training and its evaluation.
      group.costMicros +=
        Math.round((run.costUsd ?? 0) * 1e6) + Math.round((run.evaluation?.costUsd ?? 0) * 1e6);
      group.trainedTokens += run.trainedTokens ?? 0;
      groups.set(keyOf(run), group);
    }
    return groups;
  }

  it.each([
    ['family', (run: RunRecord) => run.family],
    ['model', (run: RunRecord) => run.baseModel ?? '(unknown)'],
  ])('--by %s: each group and the total equal the sums over the run items', async (by, keyOf) => {
    const runs = await cloud.listRuns();
    expect(runs.every((run) => TERMINAL_STATUSES.has(run.status))).toBe(true);
    expect(runs.filter((run) => run.costUsd !== undefined).length).toBeGreaterThanOrEqual(3);
    const result = await tunedrop('cost', '--json', '--by', by);
    expect(result).toMatchObject({ code: 0, err: '' });
    const report = JSON.parse(result.out) as {
      by: string;
      groups: Array<{ key: string; runs: number; costUsd: number; trainedTokens: number }>;
      total: { runs: number; costUsd: number; trainedTokens: number };
    };
    expect(report.by).toBe(by);
    const expected = sums(runs, keyOf);
    expect(
      Object.fromEntries(
        report.groups.map((g) => [
          g.key,
          { runs: g.runs, costMicros: Math.round(g.costUsd * 1e6), trainedTokens: g.trainedTokens },
        ]),
      ),
    ).toEqual(Object.fromEntries(expected));
    const total = [...expected.values()].reduce(
      (sum, g) => ({
        runs: sum.runs + g.runs,
        costMicros: sum.costMicros + g.costMicros,
        trainedTokens: sum.trainedTokens + g.trainedTokens,
      }),
      { runs: 0, costMicros: 0, trainedTokens: 0 },
    );
    expect({
      runs: report.total.runs,
      costMicros: Math.round(report.total.costUsd * 1e6),
      trainedTokens: report.total.trainedTokens,
    }).toEqual(total);
    expect(total.runs).toBe(runs.length);
  });
});
