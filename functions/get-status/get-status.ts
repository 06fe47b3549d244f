import { jobWaitModeOf } from '../core/provider-jobs.js';
import type { FineTuningProvider, RunStore, WebhookLog } from '../core/ports.js';
import { jobWaitSeconds, phaseOf, type JobProgress } from '../core/workflow-state.js';

export interface GetStatusDeps {
  runs: RunStore;
  provider: FineTuningProvider;
  /** Whether the provider's webhooks arrive decides how long the next wait may be. */
  webhooks: Pick<WebhookLog, 'lastVerifiedAt'>;
  now?: () => Date;
}

/**
 * One look at the job, after its run was woken by the job's event or its wait timed out: reads the job,
 * records a change of the provider's status, and says how long the next wait may last (jobWaitSeconds).
 * A job still training after maxTrainingHours is cancelled at the provider (it costs money while it
 * runs) and reported as timed_out.
 */
export async function getStatus(
  input: { runId: string; job: JobProgress; config: { maxTrainingHours: number } },
  deps: GetStatusDeps,
): Promise<JobProgress> {
  let job = await deps.provider.getJob(input.job.jobId);
  const nowSeconds = (deps.now?.() ?? new Date()).getTime() / 1000;
  const hours = (nowSeconds - input.job.createdAt) / 3600;
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
    waitSeconds: jobWaitSeconds(
      polls,
      { createdAt: input.job.createdAt, maxTrainingHours: input.config.maxTrainingHours },
      { nowSeconds, mode: await jobWaitModeOf(deps, nowSeconds) },
    ),
    error: job.error,
  };
}
