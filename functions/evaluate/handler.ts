import { chatModels, modelRegistry, objectStore, provider, runStore } from '../adapters/deps.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { findModel } from '../core/catalog.js';
import {
  CollectedResultsSchema,
  EvaluationPendingSchema,
  ExecutionInputSchema,
  PreparedFilesSchema,
} from '../core/workflow-state.js';
import { evaluateModel } from './evaluate-model.js';

const InputSchema = ExecutionInputSchema.extend({
  prepared: PreparedFilesSchema.optional(),
  results: CollectedResultsSchema,
  /** What Evaluate waits for, when Check evaluation looks again (batches, Bedrock deployments). */
  evaluation: EvaluationPendingSchema.optional(),
});

export const handler = stepHandler(
  'evaluate',
  InputSchema,
  async (input, context) => {
    const models = await chatModels(input.config.provider, context, input.model);
    // The catalog's prices of the run's base model: the base's own, or a fine-tune's of it; online or batch.
    const inference = findModel(input.model, input.config.provider)?.inference;
    return evaluateModel(input, input.config, {
      store: objectStore(),
      runs: runStore(),
      chat: models.chat,
      ...(models.chat ? {} : { unavailable: models.unavailable }),
      registry: modelRegistry(),
      deleteModel: async (model) => (await provider(input.config.provider, context)).deleteModel(model),
      inferencePrice: (_model, role, mode) => {
        const prices = mode === 'batch' ? inference?.batch : inference;
        return prices ? (role === 'base' ? prices.base : prices.fineTuned) : null;
      },
      now: () => new Date(),
      onReportError: (error) => logger.warn('adding the evaluation to report.html failed', { error }),
    });
  },
  { providerSecrets: true },
);
