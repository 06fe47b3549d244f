import { objectStore, runStore } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { EmbeddingExecutionInputSchema } from '../core/embedding-run.js';
import { cl100kCounter } from '../core/embedding-validation.js';
import { prepareRequests } from './prepare-requests.js';

export const handler = stepHandler('embed-prepare', EmbeddingExecutionInputSchema, (input) =>
  prepareRequests(input, { runs: runStore(), store: objectStore(), countTokens: cl100kCounter() }),
);
