import { z } from 'zod';
import { provider, runStore, webhookLog } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { JobProgressSchema } from '../core/workflow-state.js';
import { getStatus } from './get-status.js';

const InputSchema = z.object({
  runId: z.string(),
  job: JobProgressSchema,
  config: z.looseObject({ maxTrainingHours: z.number() }),
});

export const handler = stepHandler(
  'get-status',
  InputSchema,
  (input, context) =>
    getStatus(input, {
      runs: runStore(),
      provider: provider(context.providerApiKey, context),
      webhooks: webhookLog(),
    }),
  { providerKey: true },
);
