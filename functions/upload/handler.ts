import { objectStore, provider, runStore } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { ExecutionInputSchema, PreparedFilesSchema } from '../core/workflow-state.js';
import { uploadFiles } from './upload-files.js';

const InputSchema = ExecutionInputSchema.extend({ prepared: PreparedFilesSchema });

export const handler = stepHandler(
  'upload',
  InputSchema,
  async (input, context) =>
    uploadFiles(input, {
      store: objectStore(),
      runs: runStore(),
      // With the context, each upload may use the invocation's remaining time, retries included.
      provider: await provider(input.config.provider, context),
    }),
  { providerSecrets: true },
);
