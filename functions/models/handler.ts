import { z } from 'zod';
import { currentModelParameters, modelRegistry, provider } from '../adapters/deps.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { deleteModel } from './delete-model.js';
import { promoteModel } from './promote-model.js';

/** `tunedrop models delete MODEL [--force]` and `tunedrop models promote MODEL` invoke this; the answer is the outcome. */
export const handler = stepHandler(
  'models',
  z.discriminatedUnion('action', [
    z.object({ action: z.literal('delete'), model: z.string().min(1), force: z.boolean().default(false) }),
    z.object({ action: z.literal('promote'), model: z.string().min(1) }),
  ]),
  async (request, context) => {
    const registry = modelRegistry();
    const parameters = currentModelParameters();
    const now = () => new Date();
    const outcome =
      request.action === 'delete'
        ? await deleteModel(request, {
            registry,
            parameters,
            provider: (name) => provider(name, context),
            now,
          })
        : await promoteModel(request, { registry, parameters, now });
    logger.info('models', { ...request, ...outcome });
    return outcome;
  },
  { providerSecrets: true },
);
