import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FineTuningProvider, ObjectStore, RunStore } from '../core/ports.js';
import type { ExecutionInput, PreparedFiles, UploadedFiles } from '../core/workflow-state.js';

export interface UploadDeps {
  store: ObjectStore;
  runs: RunStore;
  provider: FineTuningProvider;
  /** Scratch space (Lambda's /tmp). */
  scratchDir?: string;
}

/**
 * Sends the prepared files to the provider. Each file streams from S3 to local scratch space and from
 * there to the provider, so memory stays flat whatever the file size (Lambda's /tmp is sized for it):
 * `npm run bench -- upload` measures a 511 MiB upload at about 130 MB peak RSS (docs/performance.md).
 * The file on disk, rather than a stream, lets the provider's SDK send it again when it retries.
 */
export async function uploadFiles(
  input: ExecutionInput & { prepared: PreparedFiles },
  deps: UploadDeps,
): Promise<UploadedFiles> {
  await deps.runs.advance(input.runId, 'UPLOADING', {
    provider: deps.provider.name,
    trainingExamples: input.prepared.trainingExamples,
    validationExamples: input.prepared.validationExamples,
  });
  const scratch = await mkdtemp(join(deps.scratchDir ?? tmpdir(), 'tunedrop-'));
  try {
    const send = async (key: string, purpose: 'training' | 'validation') => {
      const label = purpose === 'training' ? 'train' : 'validation';
      const path = join(scratch, `${label}.jsonl`);
      await pipeline(
        Readable.from(deps.store.read({ bucket: input.source.bucket, key })),
        createWriteStream(path),
      );
      const { fileId } = await deps.provider.uploadFile({
        runId: input.runId,
        purpose,
        fileName: `${input.runId}-${label}.jsonl`,
        path,
        model: input.model,
      });
      await rm(path, { force: true });
      return fileId;
    };
    const trainingFileId = await send(input.prepared.trainingKey, 'training');
    const validationFileId = input.prepared.validationKey
      ? await send(input.prepared.validationKey, 'validation')
      : null;
    return { trainingFileId, validationFileId };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
