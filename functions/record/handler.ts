import {
  currentModelParameters,
  familyLane,
  modelRegistry,
  handOverFamilyTurn,
  handOverSlots,
  objectStore,
  providerSlots,
  runStore,
} from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { runMetrics } from '../adapters/run-metrics.js';
import { RecordInputSchema } from '../core/workflow-state.js';
import { recordOutcome } from './record-outcome.js';

export const handler = stepHandler('record', RecordInputSchema, (input) =>
  recordOutcome(input, {
    runs: runStore(),
    incomingPrefix: readEnvironment('INCOMING_PREFIX').INCOMING_PREFIX,
    slots: providerSlots(input.config.provider),
    handOver: handOverSlots,
    familyTurn: { lane: familyLane(input.family), handOver: () => handOverFamilyTurn(input.family) },
    onHandOverError: (error) => logger.warn('handing the slot over failed; the sweep will', { error }),
    reports: objectStore(),
    metrics: runMetrics,
    models: { registry: modelRegistry(), parameters: currentModelParameters() },
    onReportError: (error) =>
      logger.warn('amending the validation report failed; the run is recorded', {
        runId: input.runId,
        error,
      }),
  }),
);
