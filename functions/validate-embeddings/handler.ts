import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { awsClients } from '../adapters/aws-clients.js';
import { enabledProviders, objectStore, runStore } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { logger, traceInvocation, validateEachObject } from '../adapters/handler-kit.js';
import { runMetrics, runMetricsMiddleware } from '../adapters/run-metrics.js';
import { sfnRunStarter } from '../adapters/sfn-run-starter.js';
import { InvalidEventError } from '../core/errors.js';
import type { EmbeddingExecutionInput } from '../core/embedding-run.js';
import { cl100kCounter } from '../core/embedding-validation.js';
import { deriveRunId } from '../core/run.js';
import { executionArnOf } from '../core/run-events.js';
import { createdObjects, S3EventSchema } from '../core/s3-event.js';
import { validateEmbeddingUpload } from './validate-embeddings.js';

/** A JSONL or CSV dropped under embed/<collection>/: checked, then embedded (functions/validate-embeddings). */
/** Time kept back from the function's timeout to write the report and record the run. */
const REPORT_MARGIN_MS = 60_000;

export const handler = middy().handler(async (event: unknown, context: Context) => {
  const parsed = S3EventSchema.safeParse(event);
  if (!parsed.success)
    throw new InvalidEventError(
      `not an S3 event: ${parsed.error.message}`,
      'Only S3 notifications invoke this function.',
    );
  const env = readEnvironment('STATE_MACHINE_ARN');
  const deps = {
    store: objectStore(),
    runs: runStore(),
    startRun: sfnRunStarter<EmbeddingExecutionInput>(awsClients.sfn(), env.STATE_MACHINE_ARN),
    executionArn: (runId: string) => executionArnOf(env.STATE_MACHINE_ARN, runId),
    countTokens: cl100kCounter(),
    providers: enabledProviders(),
    now: () => new Date(),
    deadline: Date.now() + context.getRemainingTimeInMillis() - REPORT_MARGIN_MS,
    metrics: runMetrics,
  };
  return validateEachObject(
    createdObjects(parsed.data),
    (object) => ({ runId: deriveRunId(object) }),
    (object) => validateEmbeddingUpload(object, deps),
  );
});
// Runs started, rejected and failed here are written as metrics when the invocation ends.
handler.use(runMetricsMiddleware((error) => logger.warn('writing the metrics failed', { error })));
handler.use(traceInvocation());
