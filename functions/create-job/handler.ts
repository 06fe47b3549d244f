import { provider, runStore, webhookLog } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { ExecutionInputSchema, UploadedFilesSchema } from '../core/workflow-state.js';
import { createJob } from './create-job.js';

const InputSchema = ExecutionInputSchema.extend({ files: UploadedFilesSchema });

export const handler = stepHandler(
  'create-job',
  InputSchema,
  (input, context) =>
    createJob(input, {
      runs: runStore(),
      provider: provider(context.providerApiKey, context),
      webhooks: webhookLog(),
    }),
  { providerKey: true },
);
