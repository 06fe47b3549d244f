import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type OpenAI from 'openai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TERMINAL_STATUSES } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';

/**
 * What must hold after any scenario, whatever happened in it (issue #4): every run ends in exactly one
 * terminal state, no provider job exists without its run, every source object is byte-for-byte what
 * the user dropped, and the provider key appears nowhere in the bucket or the table.
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

  const { Contents = [] } = await cloud.s3.send(new ListObjectsV2Command({ Bucket: cloud.bucket }));
  for (const { Key } of Contents) {
    const body = await (
      await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key }))
    ).Body!.transformToString();
    expect({ key: Key, leaksKey: body.includes(options.apiKey) }).toEqual({ key: Key, leaksKey: false });
  }
  expect(JSON.stringify(runs).includes(options.apiKey)).toBe(false);
}
