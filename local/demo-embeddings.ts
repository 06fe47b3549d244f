import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { tableFromIPC } from 'apache-arrow';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { readParquet } from 'parquet-wasm';
import { embeddingKeys, type RunRecord } from '../functions/core/run.js';
import type { LocalCloud } from './cloud/index.js';
import { PROJECT_ROOT } from './cloud/index.js';
import { cosine } from './embeddings/vectors.js';
import { describeChange } from './progress.js';

/** The texts of the support tickets the training demo uses, as a collection to embed (local/samples/README.md). */
export const EMBEDDING_SAMPLE = join(PROJECT_ROOT, 'local/samples/ticket-texts.jsonl');

/** The text the demo searches the collection for. */
export const DEMO_QUERY = 'The app crashes when I paste an image';

/** The collection's settings the demo writes: the Batch API (half price), 256 dimensions. */
export const DEMO_EMBEDDING_SETTINGS = { mode: 'batch', dimensions: 256 } as const;

/**
 * `npm start -- --embeddings`: drops the sample under embed/tickets/ as a user would, follows the run, and
 * prints where its output is, what it cost, and the three tickets nearest to a query (embedded by the same
 * model through the emulator), the vectors read from the Parquet file with an independent reader
 * (parquet-wasm). Returns the run.
 */
export async function embeddingsDemo(
  cloud: LocalCloud,
  provider: { baseUrl: string; apiKey: string },
): Promise<RunRecord> {
  const settingsKey = 'embed/tickets/tunedrop.json';
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: settingsKey,
      Body: JSON.stringify(DEMO_EMBEDDING_SETTINGS),
    }),
  );
  console.log(`\nWrote ${JSON.stringify(DEMO_EMBEDDING_SETTINGS)} to s3://${cloud.bucket}/${settingsKey}`);
  const key = 'embed/tickets/ticket-texts.jsonl';
  console.log(`Dropping local/samples/ticket-texts.jsonl into s3://${cloud.bucket}/${key}`);
  const runId = await cloud.drop(EMBEDDING_SAMPLE, key);
  const run = await cloud.waitForRun(runId, { onChange: (r) => console.log(describeChange(r)) });
  console.log(`\nRun ${run.runId}: ${run.status}`);
  if (run.status !== 'SUCCEEDED') {
    console.log(`  ${run.error?.message ?? ''}\n  fix: ${run.error?.fix ?? ''}`);
    return run;
  }
  const keys = embeddingKeys(run.runId);
  const e = run.embedding!;
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(20)}${value}`);
  row('output', `s3://${cloud.bucket}/${e.outputKey}`);
  row('manifest', `s3://${cloud.bucket}/${keys.manifest}`);
  row('model', `${e.model}, ${e.dimensions} dimensions, ${e.mode} mode (${e.batchIds?.length ?? 0} batch)`);
  row('records', `${e.embedded} embedded, ${e.failed} failed`);
  row('tokens', String(e.tokens));
  row('cost', `$${(run.costUsd ?? 0).toFixed(8)} (batch price, $0.01 per 1M tokens)`);

  const object = await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: e.outputKey }));
  const table = tableFromIPC(readParquet(await object.Body!.transformToByteArray()).intoIPCStream());
  const rows = table.toArray().map((r) => {
    const json = r.toJSON() as { id: string; embedding: ArrayLike<number> };
    return { id: json.id, vector: Array.from(json.embedding) };
  });
  const texts = new Map(
    (await readFile(EMBEDDING_SAMPLE, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; text: string })
      .map((record) => [record.id, record.text] as const),
  );
  // A search, as a user of the output would run one: the query embedded by the same model, at the same size.
  const openai = new OpenAI({ apiKey: provider.apiKey, baseURL: provider.baseUrl });
  const answer = await openai.embeddings.create({
    model: e.model,
    input: DEMO_QUERY,
    dimensions: e.dimensions,
  });
  const query = answer.data[0]!.embedding;
  const nearest = rows
    .map((r) => ({ ...r, similarity: cosine(query, r.vector) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, 3);
  console.log(`\nThe three tickets nearest to "${DEMO_QUERY}" (cosine similarity):`);
  for (const n of nearest) console.log(`  ${n.similarity.toFixed(3)}  ${n.id}  ${texts.get(n.id)}`);
  return run;
}
