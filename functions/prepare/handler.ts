import { stepHandler } from '../adapters/handler-kit.js';
import { modelRegistry, objectStore, runStore } from '../adapters/deps.js';
import { ExecutionInputSchema } from '../core/workflow-state.js';
import { prepareRun } from './prepare-run.js';

export const handler = stepHandler('prepare', ExecutionInputSchema, (input) =>
  prepareRun(input, { store: objectStore(), runs: runStore(), registry: modelRegistry() }),
);
