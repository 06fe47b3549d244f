import type { FineTuningProvider, RunStore } from '../core/ports.js';
import { nextPollSeconds, phaseOf, type JobProgress } from '../core/workflow-state.js';

export interface GetStatusDeps {
  runs: RunStore;
  provider: FineTuningProvider;
}

/** One poll: reads the job, records a change of the provider's status, and says when to look again. */
export async function getStatus(
  input: { runId: string; job: JobProgress },
  deps: GetStatusDeps,
): Promise<JobProgress> {
  const job = await deps.provider.getJob(input.job.jobId);
  if (job.status !== input.job.status) {
    await deps.runs.advance(input.runId, 'TRAINING', { providerStatus: job.status, detail: job.status });
  }
  const polls = input.job.polls + 1;
  return {
    jobId: job.id,
    status: job.status,
    phase: phaseOf(job.status),
    polls,
    waitSeconds: nextPollSeconds(polls),
    error: job.error,
  };
}
