import middy from '@middy/core';
import { z } from 'zod';
import { parkedRuns, runStore, taskTokens } from '../adapters/deps.js';
import { annotateRun, logger, traceInvocation } from '../adapters/handler-kit.js';
import { InvalidEventError } from '../core/errors.js';
import { wakeOnJobEvent } from './wake-on-job-event.js';

/** EventBridge's "Model Customization Job State Change" from aws.bedrock, the part that is read. */
const JobStateChangeSchema = z.looseObject({
  source: z.literal('aws.bedrock'),
  'detail-type': z.literal('Model Customization Job State Change'),
  detail: z.looseObject({ jobArn: z.string(), jobStatus: z.string() }),
});

/** Bedrock's job state changes, from the stack's EventBridge rule: wakes the run whose job ended. */
export const handler = middy().handler(async (event: unknown) => {
  const parsed = JobStateChangeSchema.safeParse(event);
  if (!parsed.success)
    throw new InvalidEventError(
      `not a Bedrock job state change: ${parsed.error.message}`,
      "Only the stack's Bedrock job rule invokes this function.",
    );
  const outcome = await wakeOnJobEvent(parsed.data.detail, {
    runs: runStore(),
    parked: parkedRuns(),
    tokens: taskTokens(),
  });
  if (outcome.status === 'woken') annotateRun({ runId: outcome.runId });
  logger.info('bedrock job event', { ...outcome, jobStatus: parsed.data.detail.jobStatus });
  return outcome;
});
// Each invocation is a subsegment of its trace (functions/adapters/handler-kit.ts).
handler.use(traceInvocation());
