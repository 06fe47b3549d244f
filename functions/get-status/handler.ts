import { z } from 'zod';
import { provider, runStore, webhookLog } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { PROVIDERS } from '../core/catalog.js';
import { JobProgressSchema } from '../core/workflow-state.js';
import { getStatus } from './get-status.js';

const InputSchema = z.object({
  runId: z.string(),
  job: JobProgressSchema,
  config: z.looseObject({ maxTrainingHours: z.number(), provider: z.enum(PROVIDERS) }),
});

export const handler = stepHandler(
  'get-status',
  InputSchema,
  async (input, context) =>
    getStatus(input, {
      runs: runStore(),
      provider: await provider(input.config.provider, context),
      webhooks: webhookLog(),
    }),
  { providerSecrets: true },
);
