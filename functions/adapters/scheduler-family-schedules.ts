import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { scheduleName, type FamilySchedules } from '../core/family-schedule.js';

export interface FamilySchedulesOptions {
  /** The stack's schedule group. */
  groupName: string;
  /** The retrain function each schedule invokes. */
  targetArn: string;
  /** The role Scheduler invokes it as. */
  roleArn: string;
}

/**
 * Families' retrain schedules in EventBridge Scheduler, one per family in the stack's group, invoking the
 * retrain function with `{ family, trigger: "schedule" }`, in UTC, at the scheduled minute (no flexible
 * window). Create, and update when it exists (ConflictException); delete, ignoring one that is gone.
 */
export function schedulerFamilySchedules(
  scheduler: SchedulerClient,
  options: FamilySchedulesOptions,
): FamilySchedules {
  const definition = (family: string, expression: string) => ({
    Name: scheduleName(family),
    GroupName: options.groupName,
    ScheduleExpression: expression,
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' as const },
    State: 'ENABLED' as const,
    Description: `tunedrop: retrain family ${family} when new data arrived`,
    Target: {
      Arn: options.targetArn,
      RoleArn: options.roleArn,
      Input: JSON.stringify({ family, trigger: 'schedule' }),
      // A retrain that finds nothing new does nothing, so one missed occurrence costs nothing.
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
    },
  });
  return {
    async put(family, expression) {
      try {
        await scheduler.send(new CreateScheduleCommand(definition(family, expression)));
      } catch (error) {
        if (!(error instanceof ConflictException || (error as Error).name === 'ConflictException'))
          throw error;
        await scheduler.send(new UpdateScheduleCommand(definition(family, expression)));
      }
    },
    async remove(family) {
      try {
        await scheduler.send(
          new DeleteScheduleCommand({ Name: scheduleName(family), GroupName: options.groupName }),
        );
        return true;
      } catch (error) {
        if (
          error instanceof ResourceNotFoundException ||
          (error as Error).name === 'ResourceNotFoundException'
        )
          return false;
        throw error;
      }
    },
  };
}
