import { embeddingModels, objectStore, runStore } from '../adapters/deps.js';
import { createEmbeddingsJsonlWriter, createEmbeddingsParquetWriter } from '../adapters/embeddings-output.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { runMetrics } from '../adapters/run-metrics.js';
import { PreparedRunStateSchema } from '../core/embedding-run.js';
import { collectEmbeddings } from './collect-embeddings.js';

/** Time kept back from the function's timeout to close the output and record the run. */
const CLOSING_MARGIN_MS = 90_000;

export const handler = stepHandler(
  'embed-collect',
  PreparedRunStateSchema,
  async (input, context) => {
    const provider = await embeddingModels(input.settings.provider, context);
    return collectEmbeddings(input, {
      runs: runStore(),
      store: objectStore(),
      metrics: runMetrics,
      output:
        input.settings.output === 'parquet' ? createEmbeddingsParquetWriter : createEmbeddingsJsonlWriter,
      ...(input.prepared.mode === 'direct'
        ? {
            embeddings: provider,
            deadline: Date.now() + context.getRemainingTimeInMillis() - CLOSING_MARGIN_MS,
          }
        : { ...(provider.batches ? { batches: provider.batches } : {}) }),
      onDiscardError: (error, batchId) =>
        logger.warn("deleting a batch's files at the provider failed; delete them there", { batchId, error }),
    });
  },
  { providerSecrets: true },
);
