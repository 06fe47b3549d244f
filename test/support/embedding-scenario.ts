import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { tableFromIPC, type Table } from 'apache-arrow';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readParquet } from 'parquet-wasm';
import { embeddingKeys, type RunRecord } from '../../functions/core/run.js';
import { PROJECT_ROOT, type LocalCloud } from '../../local/cloud/index.js';
import { startLocalHarness, type LocalHarness, type LocalHarnessOptions } from './local-harness.js';

/**
 * What the local embedding scenarios share (test/local/embeddings*.test.ts, test/cli/local-cli.test.ts):
 * the sample of texts, a collection's settings, the objects a run wrote (the Parquet output read back with
 * an independent reader, parquet-wasm and apache-arrow, not the writer's), and a batch run held at its
 * batch.
 */

/** The sample of texts to embed: 64 support questions, each with an id and a label. */
export const TICKET_TEXTS = join(PROJECT_ROOT, 'local/samples/ticket-texts.jsonl');

export interface SampleText {
  id: string;
  text: string;
  label: string;
}

/** The sample's records, in the file's order. */
export async function sampleRecords(): Promise<SampleText[]> {
  return (await readFile(TICKET_TEXTS, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SampleText);
}

/** The S3 helpers of one cloud's bucket, for embedding runs. */
export function embeddingBucket(cloud: LocalCloud) {
  const bytes = async (key: string) =>
    (
      await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }))
    ).Body!.transformToByteArray();
  const parquet = async (key: string): Promise<Table> =>
    tableFromIPC(readParquet(await bytes(key)).intoIPCStream());
  return {
    /** Writes a collection's embed/<collection>/tunedrop.json. */
    settings: (collection: string, body: Record<string, unknown>) =>
      cloud.s3.send(
        new PutObjectCommand({
          Bucket: cloud.bucket,
          Key: `embed/${collection}/tunedrop.json`,
          Body: JSON.stringify(body),
        }),
      ),
    bytes,
    text: async (key: string) => new TextDecoder().decode(await bytes(key)),
    /** A Parquet object, read back with parquet-wasm into an Arrow table. */
    parquet,
    /** A Parquet object's rows as plain objects, in order. */
    parquetRows: async <Row>(key: string): Promise<Row[]> =>
      (await parquet(key)).toArray().map((row) => (row as { toJSON(): unknown }).toJSON() as Row),
    exists: async (key: string) =>
      cloud.s3.send(new HeadObjectCommand({ Bucket: cloud.bucket, Key: key })).then(
        () => true,
        (error: { name?: string }) => {
          if (error.name === 'NotFound' || error.name === 'NoSuchKey') return false;
          throw error;
        },
      ),
  };
}

export type EmbeddingBucket = ReturnType<typeof embeddingBucket>;

export interface SampleRow {
  id: string;
  label: string;
  embedding: ArrayLike<number>;
}

/**
 * The rows of a run's Parquet output over the sample, which must be the sample's records in the input
 * order (the same ids and labels), each with a vector of `dimensions` values. Returns them with the records.
 */
export async function sampleRowsOf(
  s3: EmbeddingBucket,
  runId: string,
  dimensions: number,
): Promise<{ records: SampleText[]; rows: SampleRow[] }> {
  const records = await sampleRecords();
  const rows = await s3.parquetRows<SampleRow>(embeddingKeys(runId).parquet);
  expect(rows).toHaveLength(records.length);
  expect(rows.map((row) => row.id)).toEqual(records.map((r) => r.id));
  expect(rows.map((row) => row.label)).toEqual(records.map((r) => r.label));
  for (const row of rows) expect(row.embedding.length).toBe(dimensions);
  return { records, rows };
}

export interface EmbeddingScenario {
  harness: LocalHarness;
  cloud: LocalCloud;
  s3: EmbeddingBucket;
  /** A temporary folder for the files a test writes. */
  dir: string;
  /** Closes the harness and removes the folder. */
  close(): Promise<void>;
}

/** Starts a local harness (its cloud's logs silenced unless `options.cloud` says otherwise) and a temporary folder. */
export async function startEmbeddingScenario(options: LocalHarnessOptions): Promise<EmbeddingScenario> {
  const dir = await mkdtemp(join(tmpdir(), 'tunedrop-embeddings-'));
  let harness: LocalHarness;
  try {
    harness = await startLocalHarness({ ...options, cloud: { onLog: () => undefined, ...options.cloud } });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { cloud } = harness;
  return {
    harness,
    cloud,
    s3: embeddingBucket(cloud),
    dir,
    async close() {
      await harness.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Drops the sample under embed/held/ in batch mode and waits until the run has submitted its batch: with
 * the emulator's batches held in validation (a long `batchValidatingMs`), the run is then waiting for it.
 */
export async function heldBatchRun(
  cloud: LocalCloud,
): Promise<{ runId: string; waiting: RunRecord; batchId: string }> {
  await embeddingBucket(cloud).settings('held', { mode: 'batch' });
  const runId = await cloud.drop(TICKET_TEXTS, 'embed/held/t.jsonl');
  const waiting = await cloud.waitForRun(runId, {
    timeoutMs: 60_000,
    until: (run) => (run.embedding?.batchIds?.length ?? 0) > 0,
  });
  return { runId, waiting, batchId: waiting.embedding!.batchIds![0]! };
}
