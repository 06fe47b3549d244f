import type { FineTuningProvider, RunStore } from '../core/ports.js';
import { nextPollSeconds, phaseOf, type JobProgress } from '../core/workflow-state.js';

export interface GetStatusDeps {
  runs: RunStore;
  provider: FineTuningProvider;
  now?: () => Date;
}

/**
 * One poll: reads the job, records a change of the provider's status, and says when to look again.
 * A job still training after maxTrainingHours is cancelled at the provider (it costs money while it
 * runs) and reported as timed_out.
 */
export async function getStatus(
  input: { runId: string; job: JobProgress; config: { maxTrainingHours: number } },
  deps: GetStatusDeps,
): Promise<JobProgress> {
  let job = await deps.provider.getJob(input.job.jobId);
  const hours = ((deps.now?.() ?? new Date()).getTime() / 1000 - input.job.createdAt) / 3600;
  if (phaseOf(job.status) === 'running' && hours > input.config.maxTrainingHours) {
    job = await deps.provider.cancelJob(job.id);
    await deps.runs.advance(input.runId, 'TRAINING', { providerStatus: job.status, detail: job.status });
    return {
      ...input.job,
      status: job.status,
      phase: 'timed_out',
      polls: input.job.polls + 1,
      error: {
        code: 'training_timeout',
        message: `the job was still training after ${input.config.maxTrainingHours} h (maxTrainingHours), so tunedrop cancelled it`,
      },
    };
  }
  if (job.status !== input.job.status) {
    await deps.runs.advance(input.runId, 'TRAINING', { providerStatus: job.status, detail: job.status });
  }
  const polls = input.job.polls + 1;
  return {
    jobId: job.id,
    status: job.status,
    phase: phaseOf(job.status),
    createdAt: input.job.createdAt,
    polls,
    waitSeconds: nextPollSeconds(polls),
    error: job.error,
  };
}
