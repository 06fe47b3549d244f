import { z } from 'zod';
import {
  embeddingModels,
  enabledProviders,
  familyLane,
  handOverFamilyTurn,
  handOverSlots,
  objectStore,
  provider,
  providerSlots,
  runStore,
} from '../adapters/deps.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { runMetrics } from '../adapters/run-metrics.js';
import { reconcileRun } from './reconcile-run.js';

/** EventBridge's "Step Functions Execution Status Change" event, the part that is read. */
const ExecutionStatusChangeSchema = z.looseObject({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.looseObject({
    name: z.string(),
    status: z.enum(['ABORTED', 'TIMED_OUT', 'FAILED']),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});

export const handler = stepHandler(
  'reconcile',
  ExecutionStatusChangeSchema,
  ({ detail }, context) =>
    reconcileRun(
      {
        runId: detail.name,
        status: detail.status,
        error: detail.error ?? undefined,
        cause: detail.cause ?? undefined,
      },
      {
        runs: runStore(),
        provider: (name) => provider(name, context),
        providers: enabledProviders(),
        slots: providerSlots,
        handOver: handOverSlots,
        familyTurn: (family) => ({ lane: familyLane(family), handOver: () => handOverFamilyTurn(family) }),
        onHandOverError: (error) => logger.warn('handing the slot over failed; the sweep will', { error }),
        reports: objectStore(),
        metrics: runMetrics,
        embeddingBatches: async (name) => (await embeddingModels(name, context)).batches,
        onReportError: (error) =>
          logger.warn('amending the validation report failed; the run is recorded', {
            runId: detail.name,
            error,
          }),
      },
    ),
  { providerSecrets: true },
);
