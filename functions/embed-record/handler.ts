import { embeddingModels, runStore } from '../adapters/deps.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { runMetrics } from '../adapters/run-metrics.js';
import { CaughtFailureSchema } from '../core/workflow-state.js';
import { BatchProgressSchema, EmbeddingExecutionInputSchema } from '../core/embedding-run.js';
import { recordEmbeddingFailure } from './record-embedding-failure.js';

const InputSchema = EmbeddingExecutionInputSchema.extend({
  failure: CaughtFailureSchema,
  batches: BatchProgressSchema.optional(),
});

export const handler = stepHandler(
  'embed-record',
  InputSchema,
  async (input, context) => {
    const running = input.batches?.batches.some((batch) => batch.status === 'pending' && batch.batchId);
    const batches = running ? (await embeddingModels(input.settings.provider, context)).batches : undefined;
    return recordEmbeddingFailure(input, {
      runs: runStore(),
      metrics: runMetrics,
      ...(batches ? { batches } : {}),
      onCancelError: (error, batchId) => logger.warn('cancelling a batch failed', { batchId, error }),
    });
  },
  { providerSecrets: true },
);
