import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../functions/core/run.js';
import { STATE } from '../../lib/workflow.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { completedEvaluationOf, dropRelabelledSample } from '../support/evaluation-scenario.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Evaluation in batch mode on the local cloud (#14 point 4): a family whose tunedrop.json asks for
 * `"evaluation": {"mode": "batch"}` has its models asked through the emulator's Batch API, one batch per
 * model, while the run waits in the synthesized workflow's Wait for evaluation / Check evaluation loop;
 * the answers are scored as online ones. Its second model, trained on shuffled labels, is worse, and
 * `"notPromoted": "delete"` deletes it at the provider.
 */
const API_KEY = 'sk-test-evaluation-batch';
const FAMILY = 'batched';

let harness: LocalHarness;
let cloud: LocalCloud;
let dir: string;
let first: RunRecord;
let second: RunRecord;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-evaluation-batch-'));
  harness = await startLocalHarness({ apiKey: API_KEY, cloud: { onLog: () => undefined } });
  ({ cloud } = harness);
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: `incoming/${FAMILY}/tunedrop.json`,
      Body: JSON.stringify({ evaluation: { mode: 'batch' }, promotion: { notPromoted: 'delete' } }),
    }),
  );
  first = await harness.dropAndWait(SAMPLE, `incoming/${FAMILY}/tickets.jsonl`, 120_000);

  second = await dropRelabelledSample(harness, FAMILY, dir, 120_000);
}, 300_000);
afterAll(async () => {
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a family's first model, evaluated in batch mode", () => {
  it('is asked through two batches, one per model, and never online', async () => {
    const record = await completedEvaluationOf(harness, first);
    expect(record.mode).toBe('batch');
    const batches = harness.emulator.batches.filter((b) =>
      record.batches!.some((asked) => asked.batchId === b.id),
    );
    expect(batches.map((b) => [b.model, b.status, b.requests, b.failed])).toEqual([
      [first.fineTunedModel, 'completed', record.sample.chosenExamples, 0],
      ['gpt-4.1-mini-2025-04-14', 'completed', record.sample.chosenExamples, 0],
    ]);
    // Its model was asked only through batches (this run's, and the next run's, which compares with it).
    expect(harness.emulator.chatCompletions.byModel[first.fineTunedModel!]).toBeUndefined();
    const batchedRequests = harness.emulator.batches
      .filter((b) => b.model === first.fineTunedModel)
      .reduce((sum, b) => sum + b.requests, 0);
    expect(harness.emulator.batchChatCompletions.byModel[first.fineTunedModel!]!.calls).toBe(batchedRequests);
  });

  it('beats the base model and is promoted, its cost at the Batch API prices', async () => {
    expect(first.status).toBe('SUCCEEDED');
    expect(first.evaluation).toMatchObject({
      status: 'completed',
      compared: { role: 'base' },
      promoted: true,
    });
    expect(first.evaluation!.score).toBeGreaterThan(first.evaluation!.compared!.score);
    const record = await completedEvaluationOf(harness, first);
    const newModel = record.models.find((m) => m.role === 'new')!;
    // gpt-4.1-mini fine-tuned through the Batch API, per 1M: $0.40 in, $1.60 out (catalog; half of online).
    expect(newModel.usage.costUsd).toBeCloseTo(
      (newModel.usage.inputTokens * 0.4 + newModel.usage.outputTokens * 1.6) / 1e6,
      10,
    );
  });

  it('waits for the batches in the workflow: Wait for evaluation, then Check evaluation, until they end', async () => {
    // The history as GetExecutionHistory lists it (local Step Functions keeps it; its API does not serve it).
    const entered = cloud.stepFunctions
      .describe(first.executionArn!)
      .history.filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => e.stateName);
    const from = entered.indexOf(STATE.evaluate);
    expect(entered.slice(from, from + 4)).toEqual([
      STATE.evaluate,
      STATE.evaluated,
      STATE.evaluationWait,
      STATE.checkEvaluation,
    ]);
    expect(entered.at(-1)).toBe(STATE.record);
    expect(entered.at(-2)).toBe(STATE.evaluated);
  });
});

describe('a worse model under "notPromoted": "delete"', () => {
  it('ends SUCCEEDED_NOT_PROMOTED and is deleted at the provider, the current model staying current', async () => {
    expect(second.status).toBe('SUCCEEDED_NOT_PROMOTED');
    expect(second.evaluation).toMatchObject({
      status: 'completed',
      compared: { role: 'current', model: first.fineTunedModel },
      promoted: false,
      reason: expect.stringContaining('deleted at the provider ("notPromoted": "delete")'),
    });
    const ask = (model: string) =>
      harness.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });
    await expect(ask(second.fineTunedModel!)).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(ask(first.fineTunedModel!)).resolves.toMatchObject({ model: first.fineTunedModel });
  });
});
