import { embeddingModels, objectStore, runStore, webhookLog } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { ProviderRejectedError } from '../core/errors.js';
import { PreparedRunStateSchema } from '../core/embedding-run.js';
import { PROVIDER_TITLES } from '../core/catalog.js';
import { runBatches } from './run-batches.js';

export const handler = stepHandler(
  'embed-batches',
  PreparedRunStateSchema,
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
