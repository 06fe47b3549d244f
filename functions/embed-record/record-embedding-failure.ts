import { parseErrorCause } from '../core/errors.js';
import type { BatchProgress, EmbeddingExecutionInput } from '../core/embedding-run.js';
import type { CaughtFailureSchema } from '../core/workflow-state.js';
import type { z } from 'zod';
import type { EmbeddingBatches, RunStore } from '../core/ports.js';
import type { RunMetrics } from '../core/metrics.js';
import { redactFields } from '../core/redact.js';
import type { RunStatus } from '../core/run.js';

export interface RecordEmbeddingFailureDeps {
  runs: RunStore;
  /** The provider's batches, to cancel those still running; absent where the run made none. */
  batches?: Pick<EmbeddingBatches, 'cancel'>;
  /** Told when cancelling a batch failed; the run's recorded end stands regardless. */
  onCancelError?(error: unknown, batchId: string): void;
  /** Told of the run's end when this records it. @default none */
  metrics?: RunMetrics;
}

export type RecordEmbeddingFailureInput = EmbeddingExecutionInput & {
  failure: z.infer<typeof CaughtFailureSchema>;
  batches?: BatchProgress | undefined;
};

/**
 * An embedding run that failed: its cause recorded (masked: no provider key is kept) with the fix a person
 * needs, and its batches still running cancelled, so nothing goes on being billed for a run that has ended.
 */
export async function recordEmbeddingFailure(
  input: RecordEmbeddingFailureInput,
  deps: RecordEmbeddingFailureDeps,
): Promise<{ runId: string; status: RunStatus }> {
  for (const batch of input.batches?.batches ?? [])
    if (batch.status === 'pending' && batch.batchId && deps.batches)
      await deps.batches
        .cancel(batch.batchId)
        .catch((error: unknown) => deps.onCancelError?.(error, batch.batchId!));
  const error = parseErrorCause(input.failure.Error, input.failure.Cause);
  const recorded = await deps.runs.advance(input.runId, 'FAILED', { error: redactFields(error) });
  if (recorded)
    deps.metrics?.runEnded({ family: input.collection, provider: input.settings.provider, status: 'FAILED' });
  const run = recorded ?? (await deps.runs.get(input.runId));
  return { runId: input.runId, status: run?.status ?? 'FAILED' };
}
