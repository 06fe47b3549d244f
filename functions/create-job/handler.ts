import { provider, runStore, webhookLog } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { ExecutionInputSchema, PreparedFilesSchema, UploadedFilesSchema } from '../core/workflow-state.js';
import { createJob } from './create-job.js';

const InputSchema = ExecutionInputSchema.extend({
  prepared: PreparedFilesSchema.optional(),
  files: UploadedFilesSchema,
});

export const handler = stepHandler(
  'create-job',
  InputSchema,
  async (input, context) =>
    createJob(input, {
      runs: runStore(),
      provider: await provider(input.config.provider, context),
      webhooks: webhookLog(),
    }),
  { providerSecrets: true },
);
