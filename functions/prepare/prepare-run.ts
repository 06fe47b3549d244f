import { DatasetRejectedError } from '../core/errors.js';
import { readJsonlLines } from '../core/jsonl.js';
import type { ObjectStore, ObjectWriter, RunStore } from '../core/ports.js';
import { runKeys, TRAINING_COPY_TAG } from '../core/run.js';
import { MIN_TRAINING_EXAMPLES, splitDataset } from '../core/split.js';
import type { ExecutionInput, PreparedFiles } from '../core/workflow-state.js';

export interface PrepareDeps {
  store: ObjectStore;
  runs: RunStore;
}

const JSONL = 'application/jsonl';
/** Copies of the user's data: tagged so the bucket's lifecycle rule expires them (core/run.ts). */
const TRAINING_COPY = { [TRAINING_COPY_TAG.key]: TRAINING_COPY_TAG.value };

/**
 * Splits the validated file (or, when the user supplied a validation file, copies both) into `runs/<runId>/train.jsonl` and `validation.jsonl` in one streaming
 * pass, by the threshold the validator chose. The user's object is only read, at its pinned version.
 * Running it again rewrites the same two files with the same content.
 */
export async function prepareRun(input: ExecutionInput, deps: PrepareDeps): Promise<PreparedFiles> {
  const keys = runKeys(input.runId);
  await deps.runs.advance(input.runId, 'PREPARING', {
    provider: input.config.provider,
    baseModel: input.model,
    estimatedTokens: input.estimate.billedTokens,
    ...(input.estimate.costUsd !== null ? { estimatedCostUsd: input.estimate.costUsd } : {}),
  });

  const bucket = input.source.bucket;
  const training = deps.store.createWriter({ bucket, key: keys.training }, JSONL, TRAINING_COPY);
  const splitsOff = input.split.threshold !== null || input.split.classThresholds !== null;
  const validation =
    splitsOff || input.validationSource
      ? deps.store.createWriter({ bucket, key: keys.validation }, JSONL, TRAINING_COPY)
      : undefined;
  const writers: ObjectWriter[] = validation ? [training, validation] : [training];

  try {
    const counts = await splitDataset(
      readJsonlLines(deps.store.read(input.source)),
      input.split,
      (side, text) => (side === 'training' ? training.write(text) : validation!.write(text)),
    );
    if (input.validationSource) {
      // The user's own validation file, copied as it is (converted if the training file was).
      const copied = await splitDataset(
        readJsonlLines(deps.store.read(input.validationSource)),
        { seed: input.split.seed, threshold: null, conversion: input.conversion },
        (_side, text) => validation!.write(text),
      );
      counts.validation = copied.training;
    }
    // The validator planned at least the provider's minimum; a plan that did not hold is not uploaded.
    if (counts.training < MIN_TRAINING_EXAMPLES) {
      // Permanent: the same file and plan split the same way on every retry.
      throw new DatasetRejectedError(
        `the split left ${counts.training} training example(s) and ${counts.validation} validation example(s); the provider needs at least ${MIN_TRAINING_EXAMPLES} training examples`,
        'Add distinct examples (exact copies always land on the same side), then drop the file again.',
      );
    }
    await Promise.all(writers.map((writer) => writer.close()));
    return {
      trainingKey: keys.training,
      trainingExamples: counts.training,
      validationKey: validation && counts.validation > 0 ? keys.validation : null,
      validationExamples: counts.validation,
    };
  } catch (error) {
    await Promise.allSettled(writers.map((writer) => writer.abort()));
    throw error;
  }
}
