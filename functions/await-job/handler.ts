import { z } from 'zod';
import { parkedRuns, taskTokens } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { awaitJob } from './await-job.js';

export const handler = stepHandler(
  'await-job',
  z.looseObject({ runId: z.string(), taskToken: z.string().min(1) }),
  (input) => awaitJob(input, { parked: parkedRuns(), tokens: taskTokens() }),
);
