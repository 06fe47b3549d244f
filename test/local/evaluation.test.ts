import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvaluationRecordSchema } from '../../functions/core/evaluation.js';
import { RUN_STATUS_CHANGE, type RunEventDetail } from '../../functions/core/run-events.js';
import { currentModelParameter } from '../../functions/core/registry.js';
import { runKeys, type RunRecord } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { dropRelabelledSample } from '../support/evaluation-scenario.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { operatorCli } from '../support/operator-cli.js';

/**
 * Evaluation before promotion on the local cloud (#14): the same functions, state machine and IAM as a
 * deployment, the emulator's models answering for real. A family's first model is compared with the base
 * model and promoted; a second model trained on shuffled labels, evaluated on a clean validation file the
 * user supplied, is worse than the current one and is kept out (SUCCEEDED_NOT_PROMOTED), until the operator
 * promotes it with `tunedrop models promote`.
 */
const API_KEY = 'sk-test-evaluation';
const FAMILY = 'judged';

let harness: LocalHarness;
let cloud: LocalCloud;
let dir: string;
let connectionFile: string;
let tunedrop: ReturnType<typeof operatorCli>;
let ssm: SSMClient;
let first: RunRecord;
let second: RunRecord;

const parameter = async () =>
  (await ssm.send(new GetParameterCommand({ Name: currentModelParameter(FAMILY) }))).Parameter?.Value;
const text = async (key: string) =>
  (await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }))).Body!.transformToString();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-evaluation-'));
  connectionFile = join(dir, 'cloud.json');
  tunedrop = operatorCli(connectionFile);
  harness = await startLocalHarness({ apiKey: API_KEY, cloud: { connectionFile, onLog: () => undefined } });
  ({ cloud } = harness);
  ssm = new SSMClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SSM });

  first = await harness.dropAndWait(SAMPLE, `incoming/${FAMILY}/tickets.jsonl`, 90_000);

  second = await dropRelabelledSample(harness, FAMILY, dir, 90_000);
}, 240_000);
afterAll(async () => {
  ssm?.destroy();
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a family's first model", () => {
  it('is evaluated beside the base model on its held-out tickets, beats it, and is promoted', async () => {
    expect(first.status).toBe('SUCCEEDED');
    expect(first.history.map((h) => h.status)).toContain('EVALUATING');
    expect(first.evaluation).toMatchObject({
      status: 'completed',
      compared: { role: 'base', model: 'gpt-4.1-mini-2025-04-14' },
      promoted: true,
    });
    expect(first.evaluation!.score).toBeGreaterThan(first.evaluation!.compared!.score);
    expect(await parameter()).toBe(first.fineTunedModel);
  });

  it('writes evaluation.json whose calls and tokens are the ones the provider answered', async () => {
    const record = EvaluationRecordSchema.parse(JSON.parse(await text(runKeys(first.runId).evaluation)));
    if (record.status !== 'completed') throw new Error(`evaluation ${record.status}`);
    expect(record.kind).toBe('classification');
    const served = harness.emulator.chatCompletions.byModel;
    const newModel = record.models.find((m) => m.role === 'new')!;
    expect(newModel.model).toBe(first.fineTunedModel);
    expect(newModel.usage.calls).toBe(record.sample.chosenExamples);
    // The first run's calls to its model are all there was of them (the second run asks it too, later).
    expect(served[first.fineTunedModel!]!.calls).toBeGreaterThanOrEqual(newModel.usage.calls);
    expect(newModel.usage.inputTokens).toBeGreaterThan(0);
    // gpt-4.1-mini's fine-tuned price per 1M: $0.80 in, $3.20 out; the base's $0.40 and $1.60.
    expect(newModel.usage.costUsd).toBeCloseTo(
      (newModel.usage.inputTokens * 0.8 + newModel.usage.outputTokens * 3.2) / 1e6,
      10,
    );
    expect(first.evaluation!.costUsd).toBeGreaterThan(newModel.usage.costUsd!);
  });
});

describe('a worse model', () => {
  it('ends SUCCEEDED_NOT_PROMOTED with both numbers; the current model stays current', async () => {
    expect(second.status).toBe('SUCCEEDED_NOT_PROMOTED');
    expect(second.fineTunedModel).toBeDefined();
    expect(second.evaluation).toMatchObject({
      status: 'completed',
      compared: { role: 'current', model: first.fineTunedModel },
      promoted: false,
      reason: expect.stringContaining('below the current model'),
    });
    expect(second.evaluation!.score).toBeLessThan(second.evaluation!.compared!.score);
    expect(await parameter()).toBe(first.fineTunedModel);
  });

  it('says so on the bus and to the notifications topic', async () => {
    const events = cloud.events
      .received()
      .filter((e) => e['detail-type'] === RUN_STATUS_CHANGE)
      .map((e) => e.detail as RunEventDetail)
      .filter((d) => d.runId === second.runId);
    expect(events.map((e) => e.status)).toContain('EVALUATING');
    expect(events.at(-1)).toMatchObject({
      status: 'SUCCEEDED_NOT_PROMOTED',
      terminal: true,
      evaluation: { promoted: false },
    });
    for (let i = 0; i < 100 && !cloud.notifications().some((n) => n.message.includes(second.runId)); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const notice = cloud.notifications().find((n) => n.message.includes(`run ${second.runId} `));
    expect(notice?.message).toContain('NOT PROMOTED: ');
    expect(notice?.message).toContain(`runs/${second.runId}/evaluation.json`);
  });

  it('is made current by the operator with tunedrop models promote, and the parameter follows', async () => {
    const promoted = await tunedrop('models', 'promote', second.fineTunedModel!);
    expect(promoted).toMatchObject({ code: 0, err: '' });
    expect(promoted.out).toContain(`is now family "${FAMILY}"'s current model`);
    expect(await parameter()).toBe(second.fineTunedModel);
    const listed = await tunedrop('models', 'list', '--family', FAMILY, '--json');
    const models = (JSON.parse(listed.out) as { models: Array<{ model: string; current: boolean }> }).models;
    expect(models.filter((m) => m.current).map((m) => m.model)).toEqual([second.fineTunedModel]);
    expect((await tunedrop('models', 'promote', 'ft:nobody')).code).toBe(1);
  });
});
