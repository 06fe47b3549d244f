import { embeddingKeys, type RunRecord } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { localEmbedding } from '../../local/embeddings/vectors.js';
import {
  sampleRowsOf,
  startEmbeddingScenario,
  TICKET_TEXTS as JSONL,
  type EmbeddingBucket,
  type EmbeddingScenario,
} from '../support/embedding-scenario.js';
import type { LocalHarness } from '../support/local-harness.js';

/**
 * Embedding runs on Amazon Bedrock in local mode (#15): Titan Text Embeddings V2 through InvokeModel, one
 * text per call, made by the EmbedCollect function under its own role (IAM enforced by the local cloud:
 * bedrock:InvokeModel on the foundation model). Tokens are the sum of Titan's inputTextTokenCount, the cost
 * $0.02 per 1M tokens (core/embedding-catalog.ts). A throttled call is retried with the adapter's backoff.
 */
const TITAN = 'amazon.titan-embed-text-v2:0';

let scenario: EmbeddingScenario;
let harness: LocalHarness;
let s3: EmbeddingBucket;
let cloud: LocalCloud;

const titanUsage = () => cloud.bedrock.invokeModelCalls()[TITAN] ?? { calls: 0, inputTokens: 0 };

beforeAll(async () => {
  scenario = await startEmbeddingScenario({ apiKey: 'sk-test-embeddings-bedrock', webhooks: false });
  ({ harness, cloud, s3 } = scenario);
}, 120_000);
afterAll(async () => {
  await scenario?.close();
});

describe('a JSONL dropped under embed/ with "provider": "bedrock"', () => {
  let run: RunRecord;
  let billed: { calls: number; inputTokens: number };
  beforeAll(async () => {
    await s3.settings('titan', { provider: 'bedrock', dimensions: 512 });
    const before = titanUsage();
    run = await harness.dropAndWait(JSONL, 'embed/titan/ticket-texts.jsonl', 120_000);
    const after = titanUsage();
    billed = { calls: after.calls - before.calls, inputTokens: after.inputTokens - before.inputTokens };
  }, 180_000);

  it('succeeds in direct mode with one InvokeModel per text, under the function role', () => {
    expect(run.status).toBe('SUCCEEDED');
    expect(run.kind).toBe('embeddings');
    expect(run.embedding).toMatchObject({
      model: TITAN,
      dimensions: 512,
      mode: 'direct',
      embedded: 64,
      failed: 0,
    });
    expect(billed.calls).toBe(64);
    // Nothing went to OpenAI.
    expect(harness.emulator.embeddingCalls.total.calls).toBe(0);
  });

  it('counts the tokens Titan billed (the sum of inputTextTokenCount), at $0.02 per 1M', () => {
    expect(billed.inputTokens).toBeGreaterThan(0);
    expect(run.embedding?.tokens).toBe(billed.inputTokens);
    expect(run.costUsd).toBeCloseTo((billed.inputTokens * 0.02) / 1_000_000, 12);
  });

  it('writes every record, in the input order, with its 512-float vector', async () => {
    const { records, rows } = await sampleRowsOf(s3, run.runId, 512);
    const expected = localEmbedding(records[5]!.text, 512);
    Array.from(rows[5]!.embedding).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 6));
  });

  it('writes a manifest with the model, tokens, price and cost', async () => {
    const manifest = JSON.parse(await s3.text(embeddingKeys(run.runId).manifest)) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      provider: 'bedrock',
      model: TITAN,
      dimensions: 512,
      mode: 'direct',
      count: 64,
      embedded: 64,
      failed: 0,
      tokens: billed.inputTokens,
      pricePerMillionUsd: 0.02,
      costUsd: run.costUsd,
    });
  });
});

describe('a throttled Titan call', () => {
  it('is retried once throttled, and the run succeeds with every record', async () => {
    await s3.settings('titan-throttled', { provider: 'bedrock', dimensions: 256 });
    cloud.bedrock.faults.onRequest({ operation: 'InvokeModel', fault: { kind: 'throttle' } });
    const before = titanUsage();
    const run = await harness.dropAndWait(JSONL, 'embed/titan-throttled/ticket-texts.jsonl', 120_000);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.embedding).toMatchObject({ embedded: 64, failed: 0, dimensions: 256 });
    // The throttled call was refused before it was answered: 64 answered calls, the tokens of 64 texts.
    const after = titanUsage();
    expect(after.calls - before.calls).toBe(64);
    expect(run.embedding?.tokens).toBe(after.inputTokens - before.inputTokens);
    expect(cloud.bedrock.faults.applied).toEqual([{ operation: 'InvokeModel', fault: 'throttle' }]);
  }, 180_000);

  it("is retried by the adapter's backoff once the AWS SDK's own 3 attempts are spent", async () => {
    await s3.settings('titan-throttled-more', { provider: 'bedrock', dimensions: 256 });
    cloud.bedrock.faults.clear();
    cloud.bedrock.faults.onRequest({ operation: 'InvokeModel', fault: { kind: 'throttle' }, times: 4 });
    const run = await harness.dropAndWait(JSONL, 'embed/titan-throttled-more/ticket-texts.jsonl', 120_000);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.embedding).toMatchObject({ embedded: 64, failed: 0 });
    expect(cloud.bedrock.faults.applied).toHaveLength(4);
  }, 180_000);
});
