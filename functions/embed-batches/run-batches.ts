import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProviderRejectedError, RunEndedError } from '../core/errors.js';
import {
  BATCH_WINDOW_SECONDS,
  COPY_OF_TEXTS,
  batchWaitSeconds,
  type BatchProgress,
  type PreparedRunState,
  type RunBatch,
} from '../core/embedding-run.js';
import { parseCustomId } from '../core/embedding-requests.js';
import type { EmbeddingBatches, ObjectStore, RunStore, WebhookLog } from '../core/ports.js';
import { jobWaitMode } from '../core/workflow-state.js';
import { embeddingKeys, TERMINAL_STATUSES } from '../core/run.js';
import { readLines, resultHead, writeResults } from '../core/embedding-results.js';

export interface RunBatchesDeps {
  runs: RunStore;
  store: ObjectStore;
  batches: EmbeddingBatches;
  /** Whether the provider's webhooks arrive decides how long the run waits between looks. */
  webhooks: Pick<WebhookLog, 'lastVerifiedAt'>;
  now?: () => Date;
}

export type RunBatchesInput = PreparedRunState;

/** The metadata each batch carries: how a retried step finds the batch it created (each is created once). */
export function batchMetadata(runId: string, name: string): Record<string, string> {
  return { tunedrop_run: runId, tunedrop_part: name };
}

export const RETRY_BATCH = 'retry';

/** Past a batch's window, the time the provider takes to expire it and write what it answered. */
const WINDOW_MARGIN_SECONDS = 3600;

/**
 * One look at an embedding run's batches, safe to repeat: each planned batch is created once (found by its
 * metadata if an earlier attempt created it) and linked to the run, so its webhook wakes the run; each
 * that has ended has its results copied under embeddings/<run>/results/. Once every batch has ended, the
 * requests without an answer (a failed line, a batch that failed, expired or was cancelled) are sent once
 * more, in one retry batch; what fails again is reported by Collect, by id. `pending` tells the workflow
 * whether to wait and look again.
 */
export async function runBatches(input: RunBatchesInput, deps: RunBatchesDeps): Promise<BatchProgress> {
  const { runId } = input;
  const run = await deps.runs.get(runId);
  if (!run || TERMINAL_STATUSES.has(run.status))
    throw new RunEndedError(
      run
        ? `embedding run ${runId} ended (${run.status}); its batches are not looked at again`
        : `embedding run ${runId} has no item in the runs table`,
      'Nothing to do. Drop the file again to start a new run.',
    );
  const now = () => (deps.now?.() ?? new Date()).getTime() / 1000;
  const progress: BatchProgress = input.batches ?? {
    pending: true,
    waitSeconds: 60,
    checks: 0,
    batches: input.prepared.files.map((file, index) => ({
      name: String(index + 1).padStart(4, '0'),
      requestsKey: file.key,
      status: 'pending',
    })),
  };
  const batches = progress.batches.map((batch) => ({ ...batch }));

  const created = { latest: progress.latestCreatedAt };
  const lookAt = (which: RunBatch[]) => lookAtBatches(which, input, deps, () => (created.latest = now()));
  await lookAt(batches);
  if (batches.every((batch) => batch.status !== 'pending') && !batches.some((b) => b.name === RETRY_BATCH)) {
    const retry = await writeRetryRequests(batches, input, deps.store);
    if (retry) {
      batches.push(retry);
      await lookAt([retry]);
    }
  }

  const ids = batches.flatMap((batch) => (batch.batchId ? [batch.batchId] : []));
  const detail = summary(batches);
  const last = run.history.at(-1);
  // A note in the run's history when something changed (a batch created, or its provider status), not
  // at every look.
  const unchanged =
    run.status === 'EMBEDDING' &&
    last?.detail === detail &&
    ids.every((id) => run.embedding?.batchIds?.includes(id));
  const recorded = unchanged
    ? run
    : ((await deps.runs.advance(runId, 'EMBEDDING', {
        detail,
        embedding: { ...run.embedding!, batchIds: ids },
      })) ?? (await deps.runs.get(runId)));
  if (!recorded || TERMINAL_STATUSES.has(recorded.status)) {
    // Stopped while its batches were created: reconcile may have looked before this step linked them, so
    // the batches still running are cancelled here (whoever comes second finds them cancelled already).
    for (const batch of batches)
      if (batch.status === 'pending' && batch.batchId) await deps.batches.cancel(batch.batchId);
    throw new RunEndedError(
      `embedding run ${runId} ended while its batches were looked at; the ones still running were cancelled`,
      'Nothing to clean up. Drop the file again to start a new run.',
    );
  }
  const pending = batches.some((batch) => batch.status === 'pending');
  const checks = progress.checks + 1;
  const mode = jobWaitMode(await deps.webhooks.lastVerifiedAt(), now());
  return {
    pending,
    checks,
    batches,
    ...(created.latest !== undefined ? { latestCreatedAt: created.latest } : {}),
    // Never past the window of the latest batch created (a retry batch has one of its own), plus a margin.
    waitSeconds: batchWaitSeconds(
      checks - 1,
      mode,
      (created.latest ?? now()) + BATCH_WINDOW_SECONDS + WINDOW_MARGIN_SECONDS - now(),
    ),
  };
}

/**
 * Creates the batches not created yet (telling `onCreated`) and reads the state of those not ended; changes
 * `batches` in place.
 */
async function lookAtBatches(
  batches: RunBatch[],
  input: RunBatchesInput,
  deps: RunBatchesDeps,
  onCreated: () => void,
): Promise<void> {
  const { bucket } = input.source;
  for (const batch of batches) {
    if (batch.status !== 'pending') continue;
    if (!batch.batchId) {
      const metadata = batchMetadata(input.runId, batch.name);
      batch.batchId =
        (await deps.batches.find(metadata)) ??
        (await onDisk(deps.store.read({ bucket, key: batch.requestsKey }), (body) =>
          deps.batches.submit({ name: `${input.runId}-${batch.name}.jsonl`, body }, metadata),
        ));
      // Linked before anything else can fail: the batch's webhook must find the run.
      await deps.runs.linkProviderJob(input.runId, batch.batchId);
      onCreated();
    }
    const state = await deps.batches.state(batch.batchId);
    if (state.status === 'pending') {
      batch.providerStatus = state.providerStatus;
      continue;
    }
    batch.providerStatus = state.status;
    if ('reason' in state) {
      batch.status = state.status;
      batch.reason = state.reason;
      continue;
    }
    const keys = embeddingKeys(input.runId);
    const resultKeys: string[] = [];
    for (const [suffix, fileId] of [
      ['output', state.outputFileId],
      ['errors', state.errorFileId],
    ] as const) {
      if (!fileId) continue;
      const key = keys.results(`${batch.name}-${suffix}`);
      await writeResults(deps.store, { bucket, key }, deps.batches.results(fileId), COPY_OF_TEXTS);
      resultKeys.push(key);
    }
    batch.resultKeys = resultKeys;
    batch.status = state.status;
  }
}

/**
 * The requests of the ended batches that have no answer, written as one more request file; undefined when
 * every request has its answer. Reads the result files for the answered requests' ids (one short id per
 * request, not per record), then the request files for the lines to send again.
 */
async function writeRetryRequests(
  batches: readonly RunBatch[],
  input: RunBatchesInput,
  store: ObjectStore,
): Promise<RunBatch | undefined> {
  const { bucket } = input.source;
  const answered = new Set<string>();
  for (const batch of batches)
    for (const key of batch.resultKeys ?? [])
      for await (const line of readLines(store.read({ bucket, key }))) {
        const result = resultHead(line.text);
        if (result.answered) answered.add(result.customId);
      }
  const key = embeddingKeys(input.runId).retryRequests;
  const writer = store.createWriter({ bucket, key }, 'application/jsonl', COPY_OF_TEXTS);
  let lines = 0;
  try {
    for (const batch of batches)
      for await (const line of readLines(store.read({ bucket, key: batch.requestsKey }))) {
        const customId = customIdOf(line.text);
        if (answered.has(customId)) continue;
        await writer.write(`${line.text}\n`);
        lines++;
      }
    if (lines === 0) {
      await writer.abort();
      return undefined;
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return { name: RETRY_BATCH, requestsKey: key, status: 'pending' };
}

/** The custom_id of a request line Prepare wrote (it comes first: no need to parse the texts after it). */
function customIdOf(line: string): string {
  const match = /^\{"custom_id":"([^"]+)"/.exec(line);
  if (!match || !parseCustomId(match[1]!))
    throw new ProviderRejectedError(
      `a request line of the run does not start with its custom_id: ${line.slice(0, 80)}`,
      'The request files were changed after Prepare wrote them; drop the input again to start a new run.',
    );
  return match[1]!;
}

/**
 * `use` with the object's bytes as a Blob backed by a file in the function's scratch space (Lambda's /tmp),
 * removed after: a request file of up to 200 MB is streamed to disk and sent from there, never held whole.
 */
async function onDisk<T>(chunks: AsyncIterable<Uint8Array>, use: (body: Blob) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tunedrop-batch-'));
  try {
    const path = join(dir, 'requests.jsonl');
    await pipeline(Readable.from(chunks), createWriteStream(path));
    return await use(await openAsBlob(path, { type: 'application/jsonl' }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function summary(batches: readonly RunBatch[]): string {
  const counts = new Map<string, number>();
  for (const batch of batches) {
    const key = batch.status === 'pending' ? (batch.providerStatus ?? 'pending') : batch.status;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([status, count]) => `${count} ${status}`).join(', ');
}
