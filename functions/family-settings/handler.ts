import middy from '@middy/core';
import { awsClients } from '../adapters/aws-clients.js';
import { objectStore } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { annotateRun, logger, traceInvocation } from '../adapters/handler-kit.js';
import { schedulerFamilySchedules } from '../adapters/scheduler-family-schedules.js';
import { InvalidEventError } from '../core/errors.js';
import { familyOf, familySettingsKey } from '../core/run.js';
import { S3EventSchema } from '../core/s3-event.js';
import { syncFamilySchedule } from '../core/family-schedule.js';

/** A family's tunedrop.json was written or removed (S3): its retrain schedule follows it. */
export const handler = middy().handler(async (event: unknown) => {
  const parsed = S3EventSchema.safeParse(event);
  if (!parsed.success)
    throw new InvalidEventError(
      `not an S3 event: ${parsed.error.message}`,
      'Only S3 notifications invoke this function.',
    );
  const env = readEnvironment(
    'DATA_BUCKET',
    'RUN_DEFAULTS',
    'INCOMING_PREFIX',
    'SCHEDULE_GROUP',
    'RETRAIN_FUNCTION_ARN',
    'SCHEDULER_ROLE_ARN',
  );
  const deps = {
    store: objectStore(),
    bucket: env.DATA_BUCKET,
    defaults: JSON.parse(env.RUN_DEFAULTS) as Record<string, unknown>,
    schedules: schedulerFamilySchedules(awsClients.scheduler(), {
      groupName: env.SCHEDULE_GROUP,
      targetArn: env.RETRAIN_FUNCTION_ARN,
      roleArn: env.SCHEDULER_ROLE_ARN,
    }),
  };
  const families = new Set(
    parsed.data.Records.map((record) =>
      familyOf(decodeURIComponent(record.s3.object.key.replace(/\+/g, ' ')), env.INCOMING_PREFIX),
    ),
  );
  const results = [];
  for (const family of families) {
    annotateRun({ family });
    const result = await syncFamilySchedule(family, familySettingsKey(family, env.INCOMING_PREFIX), deps);
    if (result.outcome === 'kept')
      logger.warn('the family settings are not valid; its schedule is left as it was', { ...result });
    else logger.info('family schedule', { ...result });
    results.push(result);
  }
  return results;
});
// Each invocation is a subsegment of its trace (functions/adapters/handler-kit.ts).
handler.use(traceInvocation());
