import { wakeOnJobEvent } from '../../functions/job-event/wake-on-job-event.js';
import { trainingRunWithJob } from '../support/fakes.js';

const JOB =
  'arn:aws:bedrock:us-east-1:111122223333:model-customization-job/amazon.nova-micro-v1:0:128k/abc123';

async function world() {
  const { runs, parked, tokens, park } = await trainingRunWithJob(JOB, 'bedrock');
  return { deps: { runs, parked, tokens: tokens.tokens }, park, tokens };
}

describe('a Bedrock job state change', () => {
  it.each(['Completed', 'Failed', 'Stopped'])(
    '%s wakes the parked run of the job it names',
    async (jobStatus) => {
      const w = await world();
      const parked = await w.park();
      expect(await wakeOnJobEvent({ jobArn: JOB, jobStatus }, w.deps)).toEqual({
        status: 'woken',
        runId: 'run-1',
        resumed: true,
      });
      expect(await parked.output).toEqual({ event: `bedrock.job.${jobStatus}` });
    },
  );

  it.each(['InProgress', 'Stopping'])('%s wakes nobody: the job still trains', async (jobStatus) => {
    const w = await world();
    const parked = await w.park();
    expect(await wakeOnJobEvent({ jobArn: JOB, jobStatus }, w.deps)).toMatchObject({ status: 'ignored' });
    expect(w.tokens.completed.has(parked.token)).toBe(false);
  });

  it('about a job no run has (another tool in the account) is ignored', async () => {
    const w = await world();
    expect(await wakeOnJobEvent({ jobArn: `${JOB}-other`, jobStatus: 'Completed' }, w.deps)).toMatchObject({
      status: 'ignored',
      reason: expect.stringContaining('no run has job'),
    });
  });

  it('that comes before the run parks wakes it when it does', async () => {
    const w = await world();
    expect(await wakeOnJobEvent({ jobArn: JOB, jobStatus: 'Completed' }, w.deps)).toMatchObject({
      status: 'woken',
      resumed: false,
    });
    const parked = await w.park();
    expect(await parked.output).toEqual({ event: 'bedrock.job.Completed' });
  });
});
