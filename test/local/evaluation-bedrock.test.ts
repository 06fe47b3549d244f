import { BedrockClient, GetCustomModelCommand } from '@aws-sdk/client-bedrock';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { completedEvaluationOf, dropRelabelledSample } from '../support/evaluation-scenario.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Evaluation on Amazon Bedrock in local mode (#14 point 5): a Nova custom model answers only from an
 * on-demand custom model deployment, so Evaluate deploys the models it asks (the new one, and the current
 * one), waits in the workflow until they are Active, asks them through Converse under its own role (IAM
 * enforced), and removes the deployments. A family's first model beats the base model and is promoted; a
 * second one trained on shuffled labels is worse, kept out, and under `"notPromoted": "delete"` deleted,
 * which Bedrock allows only once its deployments are gone.
 */
const FAMILY = 'nova';
const BASE = 'amazon.nova-micro-v1:0:128k';

let harness: LocalHarness;
let cloud: LocalCloud;
let dir: string;
let bedrock: BedrockClient;
let first: RunRecord;
let second: RunRecord;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-evaluation-bedrock-'));
  harness = await startLocalHarness({
    apiKey: 'sk-test-evaluation-bedrock',
    cloud: { onLog: () => undefined },
  });
  ({ cloud } = harness);
  bedrock = new BedrockClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.BEDROCK });
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: `incoming/${FAMILY}/tunedrop.json`,
      Body: JSON.stringify({ provider: 'bedrock', promotion: { notPromoted: 'delete' } }),
    }),
  );
  first = await harness.dropAndWait(SAMPLE, `incoming/${FAMILY}/tickets.jsonl`, 120_000);

  second = await dropRelabelledSample(harness, FAMILY, dir, 120_000);
}, 300_000);
afterAll(async () => {
  bedrock?.destroy();
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a Nova family's first model", () => {
  it('is asked through an on-demand deployment, beside the base model asked as it is, and promoted', async () => {
    expect(first.status).toBe('SUCCEEDED');
    expect(first.evaluation).toMatchObject({
      status: 'completed',
      compared: { role: 'base', model: BASE },
      promoted: true,
    });
    expect(first.evaluation!.score).toBeGreaterThan(first.evaluation!.compared!.score);
    const record = await completedEvaluationOf(harness, first);
    expect(record.deployments).toEqual([
      {
        model: first.fineTunedModel,
        deploymentId: expect.stringMatching(/:custom-model-deployment\/[a-z0-9]{12}$/),
      },
    ]);
    const calls = cloud.bedrock.converseCalls();
    expect(calls[record.deployments![0]!.deploymentId]!.calls).toBe(record.sample.chosenExamples);
    // The base model answers under its on-demand id, without the customization's context length.
    expect(calls['amazon.nova-micro-v1:0']!.calls).toBeGreaterThanOrEqual(record.sample.chosenExamples);
    // Nova Micro on demand, per 1M: $0.035 in, $0.14 out (a custom model's deployment the same).
    const usage = record.models.find((m) => m.role === 'new')!.usage;
    expect(usage.costUsd).toBeCloseTo((usage.inputTokens * 0.035 + usage.outputTokens * 0.14) / 1e6, 12);
  });

  it('leaves no deployment behind', () => {
    expect(cloud.bedrock.deployments()).toEqual([]);
  });
});

describe('a worse Nova model under "notPromoted": "delete"', () => {
  it('is compared with the current model, both through deployments, kept out and deleted', async () => {
    expect(second.status).toBe('SUCCEEDED_NOT_PROMOTED');
    expect(second.evaluation).toMatchObject({
      status: 'completed',
      compared: { role: 'current', model: first.fineTunedModel },
      promoted: false,
      reason: expect.stringContaining('deleted at the provider ("notPromoted": "delete")'),
    });
    const record = await completedEvaluationOf(harness, second);
    expect(record.deployments!.map((d) => d.model)).toEqual([second.fineTunedModel, first.fineTunedModel]);
    await expect(
      bedrock.send(new GetCustomModelCommand({ modelIdentifier: second.fineTunedModel! })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(
      bedrock.send(new GetCustomModelCommand({ modelIdentifier: first.fineTunedModel! })),
    ).resolves.toMatchObject({
      modelArn: first.fineTunedModel,
    });
    expect(cloud.bedrock.deployments()).toEqual([]);
  });
});
