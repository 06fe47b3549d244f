import { modelRegistry, objectStore, provider, runStore } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { ExecutionInputSchema, JobProgressSchema, PreparedFilesSchema } from '../core/workflow-state.js';
import { collectResults } from './collect-results.js';

const InputSchema = ExecutionInputSchema.extend({
  prepared: PreparedFilesSchema.optional(),
  job: JobProgressSchema,
});

export const handler = stepHandler(
  'collect',
  InputSchema,
  async (input, context) =>
    collectResults(input, {
      store: objectStore(),
      runs: runStore(),
      provider: await provider(input.config.provider, context),
      registry: modelRegistry(),
    }),
  { providerSecrets: true },
);
