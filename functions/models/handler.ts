import { z } from 'zod';
import { currentModelParameters, modelRegistry, provider } from '../adapters/deps.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { deleteModel } from './delete-model.js';

/** `tunedrop models delete MODEL [--force]` invokes this; the answer is the outcome. */
export const handler = stepHandler(
  'models',
  z.object({ action: z.literal('delete'), model: z.string().min(1), force: z.boolean().default(false) }),
  async (request, context) => {
    const outcome = await deleteModel(request, {
      registry: modelRegistry(),
      parameters: currentModelParameters(),
      provider: (name) => provider(name, context),
      now: () => new Date(),
    });
    logger.info('models', { ...request, ...outcome });
    return outcome;
  },
  { providerSecrets: true },
);
