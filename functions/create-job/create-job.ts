import type { FineTuningProvider, RunStore } from '../core/ports.js';
import {
  nextPollSeconds,
  phaseOf,
  type ExecutionInput,
  type JobProgress,
  type UploadedFiles,
} from '../core/workflow-state.js';

export interface CreateJobDeps {
  runs: RunStore;
  provider: FineTuningProvider;
}

/**
 * Creates the provider job for this run, at most once: the job carries `metadata.runId`, and a job that
 * already exists for the run (an earlier attempt that crashed after the provider accepted it) is
 * adopted instead of creating a second, paid one.
 */
export async function createJob(
  input: ExecutionInput & { files: UploadedFiles },
  deps: CreateJobDeps,
): Promise<JobProgress> {
  const job =
    (await deps.provider.findJobByRunId(input.runId)) ??
    (await deps.provider.createJob({
      runId: input.runId,
      model: input.model,
      trainingFileId: input.files.trainingFileId,
      validationFileId: input.files.validationFileId,
      suffix: input.config.suffix ?? input.family,
      seed: input.config.seed,
      method: input.config.method,
      hyperparameters: input.config.hyperparameters,
    }));
  await deps.runs.advance(input.runId, 'TRAINING', {
    providerJobId: job.id,
    providerStatus: job.status,
    detail: job.status,
  });
  return {
    jobId: job.id,
    status: job.status,
    phase: phaseOf(job.status),
    createdAt: job.createdAt,
    polls: 0,
    waitSeconds: nextPollSeconds(0),
    error: job.error,
  };
}
