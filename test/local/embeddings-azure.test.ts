import { embeddingKeys, type RunRecord } from '../../functions/core/run.js';
import { localEmbedding } from '../../local/embeddings/vectors.js';
import type { RunningEmulator } from '../../local/openai-emulator/server.js';
import {
  sampleRowsOf,
  startEmbeddingScenario,
  TICKET_TEXTS as JSONL,
  type EmbeddingBucket,
  type EmbeddingScenario,
} from '../support/embedding-scenario.js';
import type { LocalHarness } from '../support/local-harness.js';

/**
 * Embedding runs on Azure OpenAI in local mode (#15): the collection names a deployment of
 * text-embedding-3-small, made beforehand as a user makes it in the portal (here through the emulator's
 * Entra and ARM, with the service principal of the stack's Azure OpenAI secret), and the run calls Azure's
 * v1 /embeddings with the deployment's name as `model`, in direct mode (Azure has no embedding batches in
 * tunedrop). Azure's prices are not confirmed, so the cost is unknown. The output is read back with
 * parquet-wasm, not the writer.
 */
const DEPLOYMENT = 'embed-small';

let scenario: EmbeddingScenario;
let harness: LocalHarness;
let s3: EmbeddingBucket;
let azure: RunningEmulator;

/** Deploys `model` as `name` through Entra and ARM, as the portal would, and waits until it has Succeeded. */
async function deploy(name: string, model: string): Promise<void> {
  const sp = azure.servicePrincipal!;
  const tokenResponse = await fetch(`${sp.authorityHost}/${sp.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sp.clientId,
      client_secret: sp.clientSecret,
      scope: 'https://management.azure.com/.default',
    }).toString(),
  });
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const url =
    `${sp.resourceManager}/subscriptions/${sp.subscriptionId}/resourceGroups/${sp.resourceGroup}` +
    `/providers/Microsoft.CognitiveServices/accounts/${sp.accountName}/deployments/${name}?api-version=2024-10-01`;
  const put = await fetch(url, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      sku: { name: 'Standard', capacity: 10 },
      properties: { model: { format: 'OpenAI', name: model, version: '1' } },
    }),
  });
  expect(put.status).toBe(201);
  for (let i = 0; i < 1000; i++) {
    const got = (await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      properties: { provisioningState: string };
    };
    if (got.properties.provisioningState === 'Succeeded') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`deployment ${name} never succeeded`);
}

beforeAll(async () => {
  scenario = await startEmbeddingScenario({
    apiKey: 'sk-test-embeddings-azure',
    azureOpenAiKey: 'azure-test-embeddings',
    webhooks: false,
  });
  ({ harness, s3 } = scenario);
  azure = harness.azure!;
  await deploy(DEPLOYMENT, 'text-embedding-3-small');
}, 120_000);
afterAll(async () => {
  await scenario?.close();
});

describe('a JSONL dropped under embed/ for an Azure OpenAI deployment', () => {
  let run: RunRecord;
  beforeAll(async () => {
    await s3.settings('azure-tickets', {
      provider: 'azure-openai',
      azure: { deployment: DEPLOYMENT },
      dimensions: 256,
    });
    run = await harness.dropAndWait(JSONL, 'embed/azure-tickets/ticket-texts.jsonl', 120_000);
  }, 180_000);

  it('succeeds in direct mode, every call made to the deployment, with the tokens Azure billed', () => {
    expect(run.status).toBe('SUCCEEDED');
    expect(run.kind).toBe('embeddings');
    expect(run.embedding).toMatchObject({
      model: 'text-embedding-3-small',
      dimensions: 256,
      mode: 'direct',
      embedded: 64,
      failed: 0,
    });
    const billed = azure.embeddingCalls.byModel[DEPLOYMENT]!;
    expect(billed.inputs).toBe(64);
    expect(billed.calls).toBeGreaterThan(0);
    expect(azure.embeddingCalls.total).toEqual(billed);
    expect(run.embedding?.tokens).toBe(billed.tokens);
    // Nothing went to OpenAI.
    expect(harness.emulator.embeddingCalls.total.calls).toBe(0);
  });

  it('has no cost: Azure prices are not confirmed', () => {
    expect(run.costUsd).toBeUndefined();
  });

  it('writes every record, in the input order, with its 256-float vector', async () => {
    const { records, rows } = await sampleRowsOf(s3, run.runId, 256);
    const expected = localEmbedding(records[0]!.text, 256);
    Array.from(rows[0]!.embedding).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 6));
  });

  it('writes a manifest naming the deployment, with a null price and cost', async () => {
    const manifest = JSON.parse(await s3.text(embeddingKeys(run.runId).manifest)) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      provider: 'azure-openai',
      model: 'text-embedding-3-small',
      deployment: DEPLOYMENT,
      dimensions: 256,
      mode: 'direct',
      count: 64,
      embedded: 64,
      failed: 0,
      tokens: run.embedding?.tokens,
      pricePerMillionUsd: null,
      costUsd: null,
    });
  });
});

describe('a collection naming a deployment that does not exist', () => {
  it('fails the run with a fix naming the deployment and the settings file, and writes no output', async () => {
    await s3.settings('azure-missing', {
      provider: 'azure-openai',
      azure: { deployment: 'no-such-deployment' },
      dimensions: 256,
    });
    const run = await harness.dropAndWait(JSONL, 'embed/azure-missing/ticket-texts.jsonl', 120_000);
    expect(run.status).toBe('FAILED');
    expect(run.error?.code).toBe('invalid_config');
    expect(run.error?.message).toContain('"no-such-deployment"');
    expect(run.error?.message).toContain('DeploymentNotFound');
    expect(run.error?.fix).toContain('"no-such-deployment"');
    expect(run.error?.fix).toContain('embed/<collection>/tunedrop.json');
    expect(azure.embeddingCalls.byModel['no-such-deployment']).toBeUndefined();
    await expect(s3.bytes(embeddingKeys(run.runId).manifest)).rejects.toThrow();
  }, 180_000);
});
