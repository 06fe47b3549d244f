import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { embeddingKeys, type RunRecord } from '../../functions/core/run.js';
import { PROJECT_ROOT, type LocalCloud } from '../../local/cloud/index.js';
import { cosine } from '../../local/embeddings/vectors.js';
import {
  sampleRowsOf,
  startEmbeddingScenario,
  TICKET_TEXTS as JSONL,
  type EmbeddingBucket,
  type EmbeddingScenario,
} from '../support/embedding-scenario.js';
import type { LocalHarness } from '../support/local-harness.js';

/**
 * Embedding runs end to end on the local cloud (#15): the synthesized embedding workflow, its functions
 * under their own roles (IAM enforced), the emulator's /v1/embeddings and Batch API with its webhooks.
 * The output is read back with an independent Parquet reader (parquet-wasm, arrow-rs), not the writer's.
 */
const API_KEY = 'sk-test-embeddings';
const CSV = join(PROJECT_ROOT, 'local/samples/ticket-texts.csv');

let scenario: EmbeddingScenario;
let harness: LocalHarness;
let cloud: LocalCloud;
let s3: EmbeddingBucket;
let dir: string;

beforeAll(async () => {
  scenario = await startEmbeddingScenario({ apiKey: API_KEY });
  ({ harness, cloud, s3, dir } = scenario);
}, 120_000);
afterAll(async () => {
  await scenario?.close();
});

describe('a JSONL dropped under embed/ with "mode": "batch"', () => {
  let run: RunRecord;
  beforeAll(async () => {
    await s3.settings('tickets', { mode: 'batch', dimensions: 256 });
    run = await harness.dropAndWait(JSONL, 'embed/tickets/ticket-texts.jsonl', 120_000);
  }, 180_000);

  it('succeeds as an embedding run, recorded with its model, mode, tokens and batch-priced cost', () => {
    expect(run.status).toBe('SUCCEEDED');
    expect(run.kind).toBe('embeddings');
    expect(run.family).toBe('tickets');
    expect(run.embedding).toMatchObject({ model: 'text-embedding-3-small', dimensions: 256, mode: 'batch' });
    expect(run.embedding?.embedded).toBe(64);
    expect(run.embedding?.failed).toBe(0);
    const billed = harness.emulator.batchEmbeddingCalls.total;
    expect(billed.inputs).toBe(64);
    expect(run.embedding?.tokens).toBe(billed.tokens);
    // text-embedding-3-small in batch: $0.01 per 1M tokens (core/embedding-catalog.ts).
    expect(run.costUsd).toBeCloseTo((billed.tokens * 0.01) / 1_000_000, 12);
    expect(run.history.map((h) => h.status)).toEqual(
      expect.arrayContaining(['RECEIVED', 'PREPARING', 'EMBEDDING', 'COLLECTING', 'SUCCEEDED']),
    );
  });

  it("writes the run's start and its end with its cost as metrics, as a training run's are", async () => {
    // Written when Collect's invocation ends, just after it recorded the run's end.
    const mine = () => cloud.metrics().filter((m) => m.dimensions.family === 'tickets');
    for (let i = 0; i < 100 && !mine().some((m) => m.name === 'CostUsd'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(mine().some((m) => m.name === 'RunsStarted' && m.value === 1)).toBe(true);
    expect(mine().some((m) => m.name === 'RunsEnded' && m.dimensions.status === 'SUCCEEDED')).toBe(true);
    expect(mine().find((m) => m.name === 'CostUsd')?.value).toBeCloseTo(run.costUsd!, 12);
  });

  it('writes every record, in the input order, with its id, metadata and a 256-float vector', async () => {
    await sampleRowsOf(s3, run.runId, 256);
  });

  it('writes a manifest with the model, dimensions, counts, tokens, cost and the input version', async () => {
    const manifest = JSON.parse(await s3.text(embeddingKeys(run.runId).manifest)) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      model: 'text-embedding-3-small',
      dimensions: 256,
      mode: 'batch',
      count: 64,
      embedded: 64,
      failed: 0,
      tokens: run.embedding?.tokens,
      costUsd: run.costUsd,
      input: { key: 'embed/tickets/ticket-texts.jsonl', versionId: run.source.versionId, format: 'jsonl' },
    });
  });

  it('tags its copies of the texts and of the results for the expiry rule, and not its output', async () => {
    const tagsOf = async (key: string) =>
      (await cloud.s3.send(new GetObjectTaggingCommand({ Bucket: cloud.bucket, Key: key }))).TagSet ?? [];
    const keys = embeddingKeys(run.runId);
    const copy = [{ Key: 'tunedrop:object', Value: 'training-copy' }];
    expect(await tagsOf(keys.requests(0))).toEqual(copy);
    expect(await tagsOf(keys.results('0001-output'))).toEqual(copy);
    expect(await tagsOf(keys.parquet)).toEqual([]);
    expect(await tagsOf(keys.manifest)).toEqual([]);
  });

  it("deletes the batch's files at the provider once the output is written (they hold the texts)", async () => {
    const [batchId] = run.embedding!.batchIds!;
    const batch = await harness.openai.batches.retrieve(batchId!);
    expect(batch.output_file_id).toBeTruthy();
    for (const fileId of [batch.input_file_id, batch.output_file_id])
      await expect(harness.openai.files.retrieve(fileId!)).rejects.toMatchObject({ status: 404 });
  });

  it("was woken by the batch's webhook, not only by its own timer", () => {
    const batchIds = run.embedding?.batchIds ?? [];
    expect(batchIds).toHaveLength(1);
    const events = harness.emulator.webhookEvents.filter((e) => e.type === 'batch.completed');
    expect(events.map((e) => e.jobId)).toEqual(expect.arrayContaining(batchIds));
  });
});

describe("a CSV dropped under embed/ (direct mode, the guide's case)", () => {
  let run: RunRecord;
  beforeAll(async () => {
    await s3.settings('questions', { textField: 'question', idField: 'ticket', dimensions: 512 });
    run = await harness.dropAndWait(CSV, 'embed/questions/ticket-texts.csv', 120_000);
  }, 180_000);

  it('is embedded by direct calls (64 inputs are under the batch threshold) at the standard price', () => {
    expect(run.status).toBe('SUCCEEDED');
    expect(run.embedding?.mode).toBe('direct');
    expect(run.costUsd).toBeCloseTo((run.embedding!.tokens! * 0.02) / 1_000_000, 12);
  });

  it("gives vectors whose nearest neighbours share the question's label", async () => {
    const rows = (
      await s3.parquetRows<{ ticket?: string; id: string; label: string; embedding: ArrayLike<number> }>(
        embeddingKeys(run.runId).parquet,
      )
    ).map((json) => ({ id: json.id, label: json.label, vector: Array.from(json.embedding) }));
    expect(rows).toHaveLength(64);
    // For most questions, the nearest other question has the same label (hashed words and trigrams:
    // questions about charges and refunds share words; so do crashes).
    let same = 0;
    for (const row of rows) {
      const nearest = rows
        .filter((other) => other !== row)
        .reduce((best, other) =>
          cosine(row.vector, other.vector) > cosine(row.vector, best.vector) ? other : best,
        );
      if (nearest.label === row.label) same++;
    }
    expect(same / rows.length).toBeGreaterThan(0.5);
  });
});

describe('a batch line that fails once', () => {
  it('is sent again in a retry batch, and the run ends with every record embedded', async () => {
    await s3.settings('retried', { mode: 'batch', dimensions: 64 });
    harness.emulator.faults.failNextBatchLines(1, { status: 500 });
    const run = await harness.dropAndWait(JSONL, 'embed/retried/ticket-texts.jsonl', 120_000);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.embedding?.batchIds).toHaveLength(2);
    expect(run.embedding?.failed).toBe(0);
    expect(run.embedding?.embedded).toBe(64);
  }, 180_000);
});

describe('a file with mistakes', () => {
  it('is rejected with a report naming each line and its fix, and nothing is sent', async () => {
    const path = join(dir, 'broken.jsonl');
    await writeFile(
      path,
      [
        JSON.stringify({ id: 'a', text: 'first' }),
        JSON.stringify({ id: 'a', text: 'the same id again' }),
        JSON.stringify({ id: 'c', text: '   ' }),
        '{"id": "d", "text": ',
      ].join('\n'),
    );
    const before =
      harness.emulator.embeddingCalls.total.calls + harness.emulator.batchEmbeddingCalls.total.calls;
    const run = await harness.dropAndWait(path, 'embed/broken/broken.jsonl');
    expect(run.status).toBe('REJECTED');
    expect(run.error?.fix).toContain(`s3://${cloud.bucket}/${embeddingKeys(run.runId).validationMarkdown}`);
    const report = await s3.text(embeddingKeys(run.runId).validationMarkdown);
    expect(report).toMatch(/line 2/);
    expect(report).toMatch(/line 3/);
    expect(report).toMatch(/line 4/);
    expect(
      harness.emulator.embeddingCalls.total.calls + harness.emulator.batchEmbeddingCalls.total.calls,
    ).toBe(before);
  });
});
