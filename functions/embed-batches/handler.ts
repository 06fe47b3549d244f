import { embeddingModels, objectStore, runStore, webhookLog } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { ProviderRejectedError } from '../core/errors.js';
import {
  BatchProgressSchema,
  EmbeddingExecutionInputSchema,
  PreparedRequestsSchema,
} from '../core/embedding-run.js';
import { PROVIDER_TITLES } from '../core/catalog.js';
import { runBatches } from './run-batches.js';

const InputSchema = EmbeddingExecutionInputSchema.extend({
  prepared: PreparedRequestsSchema,
  batches: BatchProgressSchema.optional(),
});

export const handler = stepHandler(
  'embed-batches',
  InputSchema,
  async (input, context) => {
    const { batches } = await embeddingModels(input.settings.provider, context);
    if (!batches)
      throw new ProviderRejectedError(
        `${PROVIDER_TITLES[input.settings.provider]} has no Batch API for embeddings here`,
        'Set "mode": "direct" (or "auto") in the collection\'s tunedrop.json.',
      );
    return runBatches(input, { runs: runStore(), store: objectStore(), batches, webhooks: webhookLog() });
  },
  { providerSecrets: true },
);
