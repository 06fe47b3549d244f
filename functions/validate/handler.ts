import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { awsClients } from '../adapters/aws-clients.js';
import { enabledProviders, objectStore, runStore } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { logger, traceInvocation, validateEachObject } from '../adapters/handler-kit.js';
import { runMetrics, runMetricsMiddleware } from '../adapters/run-metrics.js';
import { sfnRunStarter } from '../adapters/sfn-run-starter.js';
import { InvalidEventError } from '../core/errors.js';
import { deriveRunId, familyOf } from '../core/run.js';
import { executionArnOf } from '../core/run-events.js';
import { createdObjects, S3EventSchema } from '../core/s3-event.js';
import { validateUpload } from './validate-upload.js';

/** Time kept back from the function's timeout to write the report and record the run. */
const REPORT_MARGIN_MS = 60_000;

export const handler = middy().handler(async (event: unknown, context: Context) => {
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
    startRun: sfnRunStarter(awsClients.sfn(), env.STATE_MACHINE_ARN),
    executionArn: (runId: string) => executionArnOf(env.STATE_MACHINE_ARN, runId),
    defaults: JSON.parse(env.RUN_DEFAULTS) as Record<string, unknown>,
    incomingPrefix: env.INCOMING_PREFIX,
    now: () => new Date(),
    deadline: Date.now() + context.getRemainingTimeInMillis() - REPORT_MARGIN_MS,
    providers: enabledProviders(),
    metrics: runMetrics,
  };
  // Each line about a file says its run and family (as the workflow's steps' lines do).
  return validateEachObject(
    createdObjects(parsed.data),
    (object) => ({ runId: deriveRunId(object), family: familyOf(object.key, env.INCOMING_PREFIX) }),
    (object) => validateUpload(object, deps),
  );
});
// Runs started, rejected and failed here are written as metrics when the invocation ends.
handler.use(runMetricsMiddleware((error) => logger.warn('writing the metrics failed', { error })));
// Each invocation is a subsegment of its trace (functions/adapters/handler-kit.ts).
handler.use(traceInvocation());
