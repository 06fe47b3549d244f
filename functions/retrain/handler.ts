import { z } from 'zod';
import { awsClients } from '../adapters/aws-clients.js';
import { enabledProviders, modelRegistry, objectStore, runStore } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { logger, stepHandler } from '../adapters/handler-kit.js';
import { sfnRunStarter } from '../adapters/sfn-run-starter.js';
import { executionArnOf } from '../core/run-events.js';
import { retrainFamily } from './retrain-family.js';

/**
 * Invoked by a family's retrain schedule (EventBridge Scheduler, asynchronously) and by `tunedrop retrain`
 * (synchronously, whose answer is the outcome).
 */
export const handler = stepHandler(
  'retrain',
  z.object({
    family: z.string().min(1),
    trigger: z.enum(['schedule', 'operator']),
    force: z.boolean().optional(),
  }),
  async (request) => {
    const env = readEnvironment('STATE_MACHINE_ARN', 'RUN_DEFAULTS', 'INCOMING_PREFIX', 'DATA_BUCKET');
    const outcome = await retrainFamily(request, {
      runs: runStore(),
      store: objectStore(),
      registry: modelRegistry(),
      startRun: sfnRunStarter(awsClients.sfn(), env.STATE_MACHINE_ARN),
      executionArn: (runId) => executionArnOf(env.STATE_MACHINE_ARN, runId),
      bucket: env.DATA_BUCKET,
      defaults: JSON.parse(env.RUN_DEFAULTS) as Record<string, unknown>,
      incomingPrefix: env.INCOMING_PREFIX,
      providers: enabledProviders(),
      now: () => new Date(),
    });
    logger.info('retrain', { ...request, ...outcome });
    return outcome;
  },
);
