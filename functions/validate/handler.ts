import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import { awsClients } from '../adapters/aws-clients.js';
import { objectStore, runStore } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { logger } from '../adapters/handler-kit.js';
import { InvalidEventError } from '../core/errors.js';
import { createdObjects, S3EventSchema } from '../core/s3-event.js';
import type { ExecutionInput } from '../core/workflow-state.js';
import { validateUpload } from './validate-upload.js';

/** Starts the execution named after the run; a second start of the same run is not an error. */
async function startRun(stateMachineArn: string, runId: string, input: ExecutionInput): Promise<void> {
  try {
    await awsClients
      .sfn()
      .send(new StartExecutionCommand({ stateMachineArn, name: runId, input: JSON.stringify(input) }));
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') return;
    throw error;
  }
}

export const handler = middy().handler(async (event: unknown) => {
  const parsed = S3EventSchema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidEventError(
      `not an S3 event: ${parsed.error.message}`,
      'Only S3 notifications invoke this function.',
    );
  }
  const env = readEnvironment('STATE_MACHINE_ARN', 'RUN_DEFAULTS', 'INCOMING_PREFIX');
  const deps = {
    store: objectStore(),
    runs: runStore(),
    startRun: (runId: string, input: ExecutionInput) => startRun(env.STATE_MACHINE_ARN, runId, input),
    defaults: JSON.parse(env.RUN_DEFAULTS) as Record<string, unknown>,
    incomingPrefix: env.INCOMING_PREFIX,
    now: () => new Date(),
  };
  const outcomes = [];
  for (const object of createdObjects(parsed.data)) {
    const outcome = await validateUpload(object, deps);
    logger.info('validated', { ...outcome, key: object.key });
    outcomes.push(outcome);
  }
  return outcomes;
});
