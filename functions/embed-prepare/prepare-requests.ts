import { readEmbeddingRecords, type EmbeddingRecord } from '../core/embedding-input.js';
import { createRequestPacker, type PackedOutput } from '../core/embedding-requests.js';
import {
  beginEmbeddingStep,
  catalogModelOf,
  COPY_OF_TEXTS,
  type EmbeddingExecutionInput,
  type PreparedRequests,
  type RequestFile,
} from '../core/embedding-run.js';
import type { TokenCounter } from '../core/embedding-validation.js';
import type { ObjectStore, ObjectWriter, RunStore } from '../core/ports.js';
import { embeddingKeys } from '../core/run.js';

export interface PrepareRequestsDeps {
  runs: RunStore;
  store: ObjectStore;
  countTokens: TokenCounter;
}

/** Texts counted together: one call of the tokenizer for many short texts. */
const COUNT_BATCH = 256;

/**
 * Cuts the validated input into the provider's requests (at most its inputs and tokens per request),
 * written as the Batch API's input lines in files that each fit one batch (core/embedding-requests.ts),
 * under embeddings/<run>/requests/. Streamed: the input is read once, a request at a time. Safe to repeat:
 * the same input makes the same files.
 */
export async function prepareRequests(
  input: EmbeddingExecutionInput,
  deps: PrepareRequestsDeps,
): Promise<PreparedRequests> {
  const { runId, settings } = input;
  const model = catalogModelOf(settings);
  await beginEmbeddingStep(
    deps.runs,
    runId,
    'PREPARING',
    `${input.records} records into requests`,
    'its requests were prepared',
  );

  const keys = embeddingKeys(runId);
  const { bucket } = input.source;
  const packer = createRequestPacker(model, {
    modelName: settings.modelName,
    dimensions: settings.dimensions,
  });
  const files: RequestFile[] = [];
  let writer: ObjectWriter | undefined;
  let requests = 0;
  let inputs = 0;
  const emit = async (outputs: PackedOutput[]) => {
    for (const output of outputs) {
      if (output.kind === 'request') {
        writer ??= deps.store.createWriter(
          { bucket, key: keys.requests(files.length) },
          'application/jsonl',
          COPY_OF_TEXTS,
        );
        await writer.write(output.line);
        requests++;
        inputs += output.count;
      } else {
        await writer!.close();
        writer = undefined;
        files.push({
          key: keys.requests(output.file),
          requests: output.requests,
          inputs: output.inputs,
          bytes: output.bytes,
        });
      }
    }
  };
  let pending: EmbeddingRecord[] = [];
  const pack = async () => {
    const counts = await deps.countTokens(pending.map((record) => record.text));
    for (const [i, record] of pending.entries())
      await emit(packer.add({ text: record.text, tokens: counts[i]! }));
    pending = [];
  };
  try {
    for await (const item of readEmbeddingRecords(deps.store.read(input.source), {
      format: input.format,
      textField: settings.textField,
      idField: settings.idField,
      metadataFields: settings.metadataFields,
    })) {
      if (item.kind !== 'record')
        throw new Error(
          `line ${item.line} of the input, validated before, has a problem now: ${item.message}`,
        );
      pending.push(item);
      if (pending.length >= COUNT_BATCH) await pack();
    }
    await pack();
    await emit(packer.finish());
  } catch (error) {
    await writer?.abort();
    throw error;
  }
  if (inputs !== input.records)
    throw new Error(`the input has ${inputs} records now; validation counted ${input.records}`);
  return { mode: settings.mode, files, requests, inputs };
}
