import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { schedulerFamilySchedules } from '../../functions/adapters/scheduler-family-schedules.js';
import { scheduleName } from '../../functions/core/family-schedule.js';

const scheduler = mockClient(SchedulerClient);
const options = {
  groupName: 'tunedrop-retrain',
  targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:retrain',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
};
const schedules = () => schedulerFamilySchedules(new SchedulerClient({ region: 'us-east-1' }), options);
const conflict = () =>
  new ConflictException({
    message: 'Schedule already exists',
    Message: 'Schedule already exists',
    $metadata: {},
  });
const notFound = () =>
  new ResourceNotFoundException({
    message: 'Schedule not found',
    Message: 'Schedule not found',
    $metadata: {},
  });

describe('schedulerFamilySchedules', () => {
  beforeEach(() => scheduler.reset());

  it('creates the family’s schedule in the stack’s group, invoking retrain with the family, in UTC, at the minute', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    await schedules().put('support', 'rate(7 days)');

    const calls = scheduler.commandCalls(CreateScheduleCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({
      Name: 'retrain-support',
      GroupName: 'tunedrop-retrain',
      ScheduleExpression: 'rate(7 days)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: { Arn: options.targetArn, RoleArn: options.roleArn },
    });
    expect(JSON.parse(input.Target!.Input!)).toEqual({ family: 'support', trigger: 'schedule' });
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
  });

  it('names a long family’s schedule as Scheduler takes it', async () => {
    scheduler.on(CreateScheduleCommand).resolves({});
    const family = 'f'.repeat(100);
    await schedules().put(family, 'rate(1 day)');
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    expect(input.Name).toBe(scheduleName(family));
    expect(input.Name!.length).toBeLessThanOrEqual(64);
    expect(JSON.parse(input.Target!.Input!)).toEqual({ family, trigger: 'schedule' });
  });

  it('updates a schedule that exists already with the same definition', async () => {
    scheduler.on(CreateScheduleCommand).rejects(conflict());
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    await schedules().put('support', 'cron(0 3 ? * MON *)');

    const created = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    const updated = scheduler.commandCalls(UpdateScheduleCommand);
    expect(updated).toHaveLength(1);
    expect(updated[0]!.args[0].input).toEqual(created);
    expect(updated[0]!.args[0].input.ScheduleExpression).toBe('cron(0 3 ? * MON *)');
  });

  it('takes a conflict known only by its name (another copy of the SDK) for one too', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(Object.assign(new Error('exists'), { name: 'ConflictException' }));
    scheduler.on(UpdateScheduleCommand).resolves({});
    await schedules().put('support', 'rate(1 day)');
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(1);
  });

  it('passes on any other error of the create, and updates nothing', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(schedules().put('support', 'rate(1 day)')).rejects.toThrow('denied');
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
  });

  it('deletes the family’s schedule from the group, and says it had one', async () => {
    scheduler.on(DeleteScheduleCommand).resolves({});
    expect(await schedules().remove('support')).toBe(true);
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]!.args[0].input).toEqual({
      Name: 'retrain-support',
      GroupName: 'tunedrop-retrain',
    });
  });

  it('answers false for the delete of a schedule that does not exist', async () => {
    scheduler.on(DeleteScheduleCommand).rejects(notFound());
    expect(await schedules().remove('support')).toBe(false);
    scheduler.reset();
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(Object.assign(new Error('gone'), { name: 'ResourceNotFoundException' }));
    expect(await schedules().remove('support')).toBe(false);
  });

  it('passes on any other error of the delete', async () => {
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await expect(schedules().remove('support')).rejects.toThrow('throttled');
  });
});
