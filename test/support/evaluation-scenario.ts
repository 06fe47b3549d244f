import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EvaluationRecordSchema } from '../../functions/core/evaluation.js';
import { runKeys, type RunRecord } from '../../functions/core/run.js';
import { SAMPLE, type LocalHarness } from './local-harness.js';

/**
 * What the local evaluation scenarios share (test/local/evaluation*.test.ts): a worse second model to
 * drop, and the evaluation a run wrote.
 */

/**
 * Drops the sample with every label moved to the next one, so that a model that learns it learns nonsense,
 * beside a validation file of the sample's first 24 tickets with their true labels (dropped first, as a
 * user supplies one), so that both models are judged on the truth. Waits for the run.
 */
export async function dropRelabelledSample(
  harness: LocalHarness,
  family: string,
  dir: string,
  timeoutMs: number,
): Promise<RunRecord> {
  const all = (await readFile(SAMPLE, 'utf8')).trim().split('\n');
  const answerOf = (line: string) =>
    (JSON.parse(line) as { messages: Array<{ content: string }> }).messages.at(-1)!.content;
  const labels = [...new Set(all.map(answerOf))];
  const shuffled = all.map((line) => {
    const example = JSON.parse(line) as { messages: Array<{ role: string; content: string }> };
    const answer = example.messages.at(-1)!;
    answer.content = labels[(labels.indexOf(answer.content) + 1) % labels.length]!;
    return JSON.stringify(example);
  });
  const { cloud } = harness;
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: `incoming/${family}/relabelled.validation.jsonl`,
      Body: `${all.slice(0, 24).join('\n')}\n`,
    }),
  );
  const path = join(dir, `${family}-relabelled.jsonl`);
  await writeFile(path, `${shuffled.join('\n')}\n`);
  return harness.dropAndWait(path, `incoming/${family}/relabelled.jsonl`, timeoutMs);
}

/** The run's evaluation.json, parsed (functions/core/evaluation.ts EvaluationRecordSchema). */
export async function evaluationRecordOf(harness: LocalHarness, run: RunRecord) {
  const { cloud } = harness;
  const object = await cloud.s3.send(
    new GetObjectCommand({ Bucket: cloud.bucket, Key: runKeys(run.runId).evaluation }),
  );
  return EvaluationRecordSchema.parse(JSON.parse(await object.Body!.transformToString()));
}

/** The run's evaluation.json, which must have numbers: it throws, with the reason, when it has none. */
export async function completedEvaluationOf(harness: LocalHarness, run: RunRecord) {
  const record = await evaluationRecordOf(harness, run);
  if (record.status !== 'completed') throw new Error(`evaluation ${record.status}: ${record.reason}`);
  return record;
}
