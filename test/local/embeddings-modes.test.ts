import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { embeddingKeys, type RunRecord } from '../../functions/core/run.js';
import { EMBEDDING_STATE } from '../../lib/embedding-workflow.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import {
  sampleRecords,
  startEmbeddingScenario,
  TICKET_TEXTS as JSONL,
  type EmbeddingBucket,
  type EmbeddingScenario,
} from '../support/embedding-scenario.js';
import type { LocalHarness } from '../support/local-harness.js';

/**
 * Embedding runs' other modes end to end on the local cloud (#15): direct calls under rate limiting (the
 * adapter's backoff on 429), the JSONL output, a batch run woken by its batch's webhook against one that
 * polls (no webhook endpoint registered), and a file over the Batch API's 50,000 inputs per batch cut into
 * two batches. Each run's Step Functions history is read from the local Step Functions, which keeps it
 * as GetExecutionHistory lists it.
 */
const API_KEY = 'sk-test-embedding-modes';
/** The Wait for batches task's events in a run's execution history, in order. */
function waitEvents(cloud: LocalCloud, run: RunRecord): string[] {
  return cloud.stepFunctions
    .describe(run.executionArn!)
    .history.filter((e) => e.stateName === EMBEDDING_STATE.wait)
    .map((e) => e.type);
}

/** How many times the execution entered a state. */
function entered(cloud: LocalCloud, run: RunRecord, state: string): number {
  return cloud.stepFunctions
    .describe(run.executionArn!)
    .history.filter((e) => e.type.endsWith('StateEntered') && e.stateName === state).length;
}

describe("with the stack's webhook endpoint registered at the provider (the README's deploy steps)", () => {
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

  describe('direct mode under rate limiting (two 429s with retry-after: 1)', () => {
    let run: RunRecord;
    /** The same file in direct mode with no fault, after. */
    let control: RunRecord;
    let refused: number;
    let calls: { calls: number; inputs: number; tokens: number };
    beforeAll(async () => {
      await s3.settings('limited', { mode: 'direct', dimensions: 64 });
      const callsBefore = { ...harness.emulator.embeddingCalls.total };
      const refusedBefore = harness.emulator.faults.applied.length;
      harness.emulator.faults.rateLimitEmbeddings(2, { retryAfterSeconds: 1 });
      run = await harness.dropAndWait(JSONL, 'embed/limited/ticket-texts.jsonl', 120_000);
      refused = harness.emulator.faults.applied
        .slice(refusedBefore)
        .filter((f) => f.method === 'POST' && f.path === '/embeddings' && f.fault === 'rateLimit').length;
      const after = harness.emulator.embeddingCalls.total;
      calls = {
        calls: after.calls - callsBefore.calls,
        inputs: after.inputs - callsBefore.inputs,
        tokens: after.tokens - callsBefore.tokens,
      };
      control = await harness.dropAndWait(JSONL, 'embed/limited/control.jsonl', 120_000);
    }, 180_000);

    it('still succeeds, every record embedded', async () => {
      expect(run.status).toBe('SUCCEEDED');
      expect(run.embedding).toMatchObject({ mode: 'direct', embedded: 64, failed: 0 });
      const rows = await s3.parquetRows<{ id: string; embedding: unknown[] }>(
        embeddingKeys(run.runId).parquet,
      );
      expect(rows.map((row) => row.id)).toEqual((await sampleRecords()).map((r) => r.id));
      for (const row of rows) expect(row.embedding).toHaveLength(64);
    });

    it('backed off: the emulator refused two calls with 429, and later calls were answered and billed', () => {
      expect(refused).toBe(2);
      // The answered calls: every input once, and only those are billed (the 429s were not).
      expect(calls.calls).toBeGreaterThanOrEqual(1);
      expect(calls.inputs).toBe(64);
      expect(run.embedding?.tokens).toBe(calls.tokens);
      expect(run.costUsd).toBeCloseTo((calls.tokens * 0.02) / 1_000_000, 12);
    });

    it("waited at least the provider's Retry-After before each retry (two of 1 s: 2 s or more)", () => {
      // Collect embeds between EMBEDDING ("1 requests, called directly") and COLLECTING ("writing the
      // output"), in real time (only Step Functions' waits are scaled).
      const calling = (r: RunRecord) => {
        const at = (status: string) => Date.parse(r.history.find((h) => h.status === status)!.at);
        return at('COLLECTING') - at('EMBEDDING');
      };
      expect(control.status).toBe('SUCCEEDED');
      expect(calling(run)).toBeGreaterThanOrEqual(2_000);
      expect(calling(run)).toBeGreaterThan(calling(control));
    });
  });

  describe('"output": "jsonl"', () => {
    let run: RunRecord;
    beforeAll(async () => {
      await s3.settings('as-jsonl', { output: 'jsonl', dimensions: 32 });
      run = await harness.dropAndWait(JSONL, 'embed/as-jsonl/ticket-texts.jsonl', 120_000);
    }, 180_000);

    it('writes embeddings/<runId>/embeddings.jsonl: one line per record, in input order, with id, metadata and embedding', async () => {
      expect(run.status).toBe('SUCCEEDED');
      const keys = embeddingKeys(run.runId);
      expect(run.embedding?.outputKey).toBe(keys.jsonl);
      const text = await s3.text(keys.jsonl);
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.trimEnd().split('\n');
      const records = await sampleRecords();
      expect(lines).toHaveLength(records.length);
      const rows = lines.map(
        (line) => JSON.parse(line) as { id: string; metadata: Record<string, unknown>; embedding: number[] },
      );
      expect(rows.map((row) => row.id)).toEqual(records.map((r) => r.id));
      rows.forEach((row, i) => {
        expect(Object.keys(row).sort()).toEqual(['embedding', 'id', 'metadata']);
        expect(row.metadata).toEqual({ label: records[i]!.label });
        expect(row.embedding).toHaveLength(32);
        expect(row.embedding.every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
      });
      // No Parquet beside it.
      expect(await s3.exists(keys.parquet)).toBe(false);
    });

    it('names it in the manifest', async () => {
      const manifest = JSON.parse(await s3.text(embeddingKeys(run.runId).manifest)) as Record<
        string,
        unknown
      >;
      expect(manifest).toMatchObject({
        dimensions: 32,
        count: 64,
        embedded: 64,
        output: { key: embeddingKeys(run.runId).jsonl, format: 'jsonl' },
      });
    });
  });

  describe("a batch run, once the provider's webhooks are known to arrive", () => {
    let first: RunRecord;
    let run: RunRecord;
    beforeAll(async () => {
      // The first batch run's batch.completed is the first verified webhook: from then on the runs wait
      // for webhooks (an hour between looks, 3.6 s at the harness's 1/1000) instead of polling (60 s).
      await s3.settings('woken', { mode: 'batch', dimensions: 64 });
      first = await harness.dropAndWait(JSONL, 'embed/woken/first.jsonl', 120_000);
      run = await harness.dropAndWait(JSONL, 'embed/woken/second.jsonl', 120_000);
    }, 240_000);

    it('is woken by its batch.completed webhook: Wait for batches ends TaskSucceeded (SendTaskSuccess), never by its timeout', () => {
      expect(first.status).toBe('SUCCEEDED');
      expect(run.status).toBe('SUCCEEDED');
      const batchIds = run.embedding?.batchIds ?? [];
      expect(batchIds).toHaveLength(1);
      const delivered = harness.emulator.webhookEvents.filter(
        (e) => e.type === 'batch.completed' && e.jobId === batchIds[0],
      );
      expect(delivered).toHaveLength(1);
      const events = waitEvents(cloud, run);
      expect(events).toContain('TaskSucceeded');
      expect(events).not.toContain('TaskTimedOut');
      // A .waitForTaskToken task: scheduled, started, the function returned (submitted), then resumed by
      // SendTaskSuccess (the Lambda function's own result never ends such a task). Its timeout was an hour
      // (3.6 s here): the webhook came well before.
      expect(events.filter((type) => type === 'TaskSucceeded')).toHaveLength(
        entered(cloud, run, EMBEDDING_STATE.wait),
      );
      expect(events.slice(0, 5)).toEqual([
        'TaskStateEntered',
        'TaskScheduled',
        'TaskStarted',
        'TaskSubmitted',
        'TaskSucceeded',
      ]);
    });
  });

  describe('a file over the Batch API\'s 50,000 inputs per batch (50,050 records of "a b")', () => {
    const RECORDS = 50_050;
    let run: RunRecord;
    beforeAll(async () => {
      const path = join(dir, 'many.jsonl');
      const out = createWriteStream(path);
      for (let i = 1; i <= RECORDS; i++)
        if (!out.write(`{"id":"r${i}","text":"a b"}\n`)) await once(out, 'drain');
      out.end();
      await once(out, 'finish');
      await s3.settings('many', { mode: 'batch', dimensions: 8 });
      // About 8 s from drop to end on 2 shared cores (2026-11-30).
      run = await harness.dropAndWait(path, 'embed/many/many.jsonl', 240_000);
    }, 300_000);

    it('is cut into two batches, of 50,000 and 50 inputs', async () => {
      expect(run.status).toBe('SUCCEEDED');
      expect(run.embedding?.batchIds).toHaveLength(2);
      expect(new Set(run.embedding?.batchIds).size).toBe(2);
      const inputsOf = async (index: number) =>
        (await s3.text(embeddingKeys(run.runId).requests(index)))
          .trimEnd()
          .split('\n')
          .reduce(
            (sum, line) => sum + (JSON.parse(line) as { body: { input: string[] } }).body.input.length,
            0,
          );
      expect([await inputsOf(0), await inputsOf(1)]).toEqual([50_000, 50]);
    });

    it('embeds every record, in the input order', async () => {
      expect(run.embedding).toMatchObject({ embedded: RECORDS, failed: 0 });
      const table = await s3.parquet(embeddingKeys(run.runId).parquet);
      expect(table.numRows).toBe(RECORDS);
      const ids = table.getChild('id')!;
      const vectors = table.getChild('embedding')!;
      for (let i = 0; i < RECORDS; i++) {
        if (ids.get(i) !== `r${i + 1}`) throw new Error(`row ${i} is ${ids.get(i)}, not r${i + 1}`);
        if ((vectors.get(i) as { length: number } | null)?.length !== 8)
          throw new Error(`row ${i} has no 8-value vector`);
      }
    });
  });
});

describe('with no webhook endpoint registered', () => {
  let scenario: EmbeddingScenario;
  let harness: LocalHarness;
  let cloud: LocalCloud;
  let run: RunRecord;

  beforeAll(async () => {
    scenario = await startEmbeddingScenario({
      apiKey: API_KEY,
      webhooks: false,
      // A batch that validates for 300 ms: longer than the first wait (60 s, 60 ms at 1/1000).
      timing: { validatingMs: 10, queuedMs: 10, msPerStep: 0, batchValidatingMs: 300 },
    });
    ({ harness, cloud } = scenario);
    await scenario.s3.settings('polled', { mode: 'batch', dimensions: 64 });
    run = await harness.dropAndWait(JSONL, 'embed/polled/ticket-texts.jsonl', 120_000);
  }, 240_000);
  afterAll(async () => {
    await scenario?.close();
  });

  it('a batch run still ends SUCCEEDED, by polling: Wait for batches timed out and Run batches looked again', () => {
    expect(run.status).toBe('SUCCEEDED');
    expect(run.embedding).toMatchObject({ mode: 'batch', embedded: 64, failed: 0 });
    // The batch's end was an event at the provider, sent to no one.
    expect(harness.emulator.webhookEndpoints).toHaveLength(0);
    expect(
      harness.emulator.webhookEvents.filter(
        (e) => e.type === 'batch.completed' && e.jobId === run.embedding?.batchIds?.[0],
      ),
    ).toHaveLength(1);
    expect(harness.emulator.webhookDeliveries).toHaveLength(0);
    const events = waitEvents(cloud, run);
    expect(events).toContain('TaskTimedOut');
    expect(events).not.toContain('TaskSucceeded');
    // Every wait ended by its timeout, each followed by another look.
    const waits = entered(cloud, run, EMBEDDING_STATE.wait);
    expect(waits).toBeGreaterThanOrEqual(1);
    expect(events.filter((type) => type === 'TaskTimedOut')).toHaveLength(waits);
    expect(entered(cloud, run, EMBEDDING_STATE.batches)).toBe(waits + 1);
  });
});
