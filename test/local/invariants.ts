import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type OpenAI from 'openai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TERMINAL_STATUSES } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';

/**
 * What must hold after any scenario, whatever happened in it (issue #4): every run ends in exactly one
 * terminal state, no provider job exists without its run, every source object is byte-for-byte what
 * the user dropped, and the provider key appears nowhere in the bucket, the tables or the executions.
 */
export async function expectRunInvariants(
  cloud: LocalCloud,
  provider: OpenAI,
  options: { apiKey: string; sources: Array<{ key: string; localPath: string }> },
): Promise<void> {
  const runs = await cloud.listRuns();
  for (const run of runs) {
    const terminal = run.history.filter((change) => TERMINAL_STATUSES.has(change.status));
    expect({ runId: run.runId, ended: TERMINAL_STATUSES.has(run.status), terminal: terminal.length }).toEqual(
      {
        runId: run.runId,
        ended: true,
        terminal: 1,
      },
    );
  }

  const runIds = new Set(runs.map((run) => run.runId));
  for await (const job of provider.fineTuning.jobs.list({ limit: 100 })) {
    const runId = job.metadata?.runId;
    if (runId) expect({ job: job.id, runKnown: runIds.has(runId) }).toEqual({ job: job.id, runKnown: true });
  }
  const jobsPerRun = new Map<string, number>();
  for await (const job of provider.fineTuning.jobs.list({ limit: 100 })) {
    const runId = job.metadata?.runId;
    if (runId) jobsPerRun.set(runId, (jobsPerRun.get(runId) ?? 0) + 1);
  }
  for (const [runId, jobs] of jobsPerRun) expect({ runId, jobs }).toEqual({ runId, jobs: 1 });

  for (const source of options.sources) {
    const head = await cloud.s3.send(new HeadObjectCommand({ Bucket: cloud.bucket, Key: source.key }));
    const expectedEtag = `"${createHash('md5').update(readFileSync(source.localPath)).digest('hex')}"`;
    expect({ key: source.key, etag: head.ETag }).toEqual({ key: source.key, etag: expectedEtag });
  }

  await expectSecretsNowhere(cloud, [options.apiKey]);
}

/**
 * The ways a secret can show in stored text: as it is, JSON-escaped (as a log line or a Step Functions
 * cause quotes it), and, if it has characters outside printable ASCII, each printable run of 8 or more
 * (a message may break it at a newline).
 */
export function secretTraces(secret: string): string[] {
  const runs = /^[\x20-\x7e]*$/.test(secret) ? [] : (secret.match(/[\x21-\x7e]{8,}/g) ?? []);
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), ...runs])];
}

/** The texts among `texts` (labelled) in which any of the secrets shows, to compare with `[]`. */
export function textsWithSecrets(
  secrets: readonly string[],
  texts: Iterable<[label: string, text: string]>,
): string[] {
  const traces = secrets.flatMap(secretTraces);
  const leaks: string[] = [];
  for (const [label, text] of texts) if (traces.some((trace) => text.includes(trace))) leaks.push(label);
  return leaks;
}

/**
 * None of the secrets shows in any S3 object, any item of any table, or any Step Functions execution
 * (input, output, error and cause, state events and history).
 */
export async function expectSecretsNowhere(cloud: LocalCloud, secrets: readonly string[]): Promise<void> {
  const texts: Array<[string, string]> = [];
  const { Contents = [] } = await cloud.s3.send(new ListObjectsV2Command({ Bucket: cloud.bucket }));
  for (const { Key } of Contents) {
    const body = await (
      await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key }))
    ).Body!.transformToString();
    texts.push([`s3://${cloud.bucket}/${Key}`, body]);
  }
  const dynamodb = new DynamoDBClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.DYNAMODB });
  try {
    for (const table of cloud.plan.tables) {
      let items = 0;
      for await (const page of paginateScan({ client: dynamodb }, { TableName: table.name })) {
        for (const item of page.Items ?? [])
          texts.push([`${table.name} item ${items++}`, JSON.stringify(item)]);
      }
    }
  } finally {
    dynamodb.destroy();
  }
  for (const execution of cloud.stepFunctions.list())
    texts.push([`execution ${execution.name}`, JSON.stringify(execution)]);
  expect(texts.length).toBeGreaterThan(0);
  expect(textsWithSecrets(secrets, texts)).toEqual([]);
}
