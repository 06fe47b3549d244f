import { embeddingModels, objectStore, runStore } from '../adapters/deps.js';
import { createEmbeddingsJsonlWriter, createEmbeddingsParquetWriter } from '../adapters/embeddings-output.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { runMetrics } from '../adapters/run-metrics.js';
import {
  BatchProgressSchema,
  EmbeddingExecutionInputSchema,
  PreparedRequestsSchema,
} from '../core/embedding-run.js';
import { collectEmbeddings } from './collect-embeddings.js';

const InputSchema = EmbeddingExecutionInputSchema.extend({
  prepared: PreparedRequestsSchema,
  batches: BatchProgressSchema.optional(),
});

/** Time kept back from the function's timeout to close the output and record the run. */
const CLOSING_MARGIN_MS = 90_000;

export const handler = stepHandler(
  'embed-collect',
  InputSchema,
  async (input, context) =>
    collectEmbeddings(input, {
      runs: runStore(),
      store: objectStore(),
      metrics: runMetrics,
      output:
        input.settings.output === 'parquet' ? createEmbeddingsParquetWriter : createEmbeddingsJsonlWriter,
      ...(input.prepared.mode === 'direct'
        ? {
            embeddings: await embeddingModels(input.settings.provider, context),
            deadline: Date.now() + context.getRemainingTimeInMillis() - CLOSING_MARGIN_MS,
          }
        : {}),
    }),
  { providerSecrets: true },
);
