import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { RunningEmulator } from '../../local/openai-emulator/server.js';
import { completedEvaluationOf, dropRelabelledSample } from '../support/evaluation-scenario.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Evaluation on Azure OpenAI in local mode (#14 point 5): a fine-tuned model answers only from a deployment,
 * so Evaluate signs in the service principal of the Azure OpenAI secret (Microsoft Entra), deploys the
 * models it asks in the Developer tier through Azure Resource Manager, waits in the workflow until they have
 * Succeeded, asks them through the same chat-completions client as OpenAI, and removes them. The base
 * models are retired on Azure: a family's first model is promoted with its numbers and a note. A second
 * model trained on shuffled labels is compared with the current one, both through deployments, and kept out.
 */
const FAMILY = 'azured';

let harness: LocalHarness;
let cloud: LocalCloud;
let azure: RunningEmulator;
let dir: string;
let first: RunRecord;
let second: RunRecord;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-evaluation-azure-'));
  harness = await startLocalHarness({
    apiKey: 'sk-test-evaluation-azure',
    azureOpenAiKey: 'azure-test-evaluation',
    cloud: { onLog: () => undefined },
  });
  ({ cloud } = harness);
  azure = harness.azure!;
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: `incoming/${FAMILY}/tunedrop.json`,
      Body: JSON.stringify({ provider: 'azure-openai' }),
    }),
  );
  first = await harness.dropAndWait(SAMPLE, `incoming/${FAMILY}/tickets.jsonl`, 120_000);

  second = await dropRelabelledSample(harness, FAMILY, dir, 120_000);
}, 300_000);
afterAll(async () => {
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("an Azure OpenAI family's first model", () => {
  it('is asked through a Developer deployment and promoted; the retired base model could not be asked', async () => {
    expect(first.status).toBe('SUCCEEDED');
    expect(first.evaluation).toMatchObject({
      status: 'completed',
      promoted: true,
      reason: expect.stringContaining('the base model gpt-4.1-mini-2025-04-14 could not be asked'),
    });
    const record = await completedEvaluationOf(harness, first);
    expect(record.deployments).toEqual([
      { model: first.fineTunedModel, deploymentId: expect.stringMatching(/^tunedrop-new-[0-9a-f]{24}$/) },
    ]);
    const name = record.deployments![0]!.deploymentId;
    expect(azure.deploymentChatCompletions.byDeployment[name]!.calls).toBe(record.sample.chosenExamples);
  });
});

describe('a worse Azure OpenAI model', () => {
  it('is compared with the current model, both through deployments, and kept out', async () => {
    expect(second.status).toBe('SUCCEEDED_NOT_PROMOTED');
    expect(second.evaluation).toMatchObject({
      status: 'completed',
      compared: { role: 'current', model: first.fineTunedModel },
      promoted: false,
    });
    expect(second.evaluation!.score).toBeLessThan(second.evaluation!.compared!.score);
    const record = await completedEvaluationOf(harness, second);
    expect(record.deployments!.map((d) => d.model)).toEqual([second.fineTunedModel, first.fineTunedModel]);
  });

  it('leaves no deployment behind', () => {
    expect(azure.deployments).toEqual([]);
  });
});
