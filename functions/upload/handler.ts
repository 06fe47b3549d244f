import { objectStore, provider, runStore } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { ExecutionInputSchema, PreparedFilesSchema } from '../core/workflow-state.js';
import { uploadFiles } from './upload-files.js';

const InputSchema = ExecutionInputSchema.extend({ prepared: PreparedFilesSchema });

export const handler = stepHandler(
  'upload',
  InputSchema,
  (input, context) =>
    uploadFiles(input, {
      store: objectStore(),
      runs: runStore(),
      provider: provider(context.providerApiKey),
    }),
  { providerKey: true },
);
