import { RunEndedError } from '../core/errors.js';
import type { FineTuningProvider, RunStore, WebhookLog } from '../core/ports.js';
import { cancelIfRunning, jobWaitModeOf } from '../core/provider-jobs.js';
import { TERMINAL_STATUSES } from '../core/run.js';
import {
  jobWaitSeconds,
  phaseOf,
  type ExecutionInput,
  type JobProgress,
  type PreparedFiles,
  type UploadedFiles,
} from '../core/workflow-state.js';

export interface CreateJobDeps {
  runs: RunStore;
  provider: FineTuningProvider;
  /** Whether the provider's webhooks arrive decides how long the first wait may be. */
  webhooks: Pick<WebhookLog, 'lastVerifiedAt'>;
  now?: () => Date;
}

/**
 * Creates the provider job for this run, at most once: the job carries `metadata.runId`, and a job that
 * already exists for the run (an earlier attempt that crashed after the provider accepted it) is
 * adopted instead of creating a second, paid one.
 *
 * A stopped execution does not stop a Lambda already running, so the run may end (reconcile records it
 * CANCELLED, TIMED_OUT or FAILED) while the job is being created. Nobody would then poll, collect or
 * cancel the job, and it would train at the user's cost. So a run that has ended gets no job, and one
 * that ends while its job is created has that job cancelled here. Reconcile, for its part, cancels a
 * job it finds for the run; whichever of the two comes second finds the job cancelled already.
 */
export async function createJob(
  input: ExecutionInput & { files: UploadedFiles; prepared?: Pick<PreparedFiles, 'startFrom'> | undefined },
  deps: CreateJobDeps,
): Promise<JobProgress> {
  const before = await deps.runs.get(input.runId);
  if (!before || TERMINAL_STATUSES.has(before.status)) {
    throw new RunEndedError(
      before
        ? `run ${input.runId} ended (${before.status}) before its provider job was created; none was`
        : `run ${input.runId} has no item in the runs table; no provider job was created for it`,
      'Nothing to clean up. Drop the file again to start a new run.',
    );
  }
  const job =
    (await deps.provider.findJobByRunId(input.runId)) ??
    (await deps.provider.createJob({
      runId: input.runId,
      // The family's current model when the run continues from it (Prepare settled which).
      model: input.prepared?.startFrom ?? input.model,
      trainingFileId: input.files.trainingFileId,
      validationFileId: input.files.validationFileId,
      suffix: input.config.suffix ?? input.family,
      seed: input.config.seed,
      method: input.method ?? input.config.method ?? 'supervised',
      azure: input.config.azure,
      bedrock: input.config.bedrock,
      hyperparameters: input.config.hyperparameters,
    }));
  // The move to TRAINING is the re-read: it is refused, atomically, when the run has ended meanwhile.
  const recorded = await deps.runs.advance(input.runId, 'TRAINING', {
    providerJobId: job.id,
    providerStatus: job.status,
    detail: job.status,
  });
  const ended = recorded ? undefined : await endedRun(input.runId, deps.runs);
  const nowSeconds = (deps.now?.() ?? new Date()).getTime() / 1000;
  const progress: JobProgress = {
    jobId: job.id,
    status: job.status,
    phase: phaseOf(job.status),
    createdAt: job.createdAt,
    polls: 0,
    waitSeconds: jobWaitSeconds(
      0,
      { createdAt: job.createdAt, maxTrainingHours: input.config.maxTrainingHours },
      { nowSeconds, mode: await jobWaitModeOf(deps, nowSeconds) },
    ),
    error: job.error,
  };
  if (!ended) return progress;

  const cancelled = await cancelIfRunning(deps.provider, job);
  await deps.runs.recordLateJob(input.runId, {
    providerJobId: cancelled.id,
    providerStatus: cancelled.status,
  });
  // Phase cancelled sends the workflow to Record, not to polling, if its execution is still running.
  return {
    ...progress,
    status: cancelled.status,
    phase: 'cancelled',
    error: {
      code: 'run_ended',
      message: `run ${input.runId} ended (${ended.status}) while its job ${job.id} was being created, so tunedrop cancelled the job`,
    },
  };
}

/** The run's status if it has ended (or its item is gone, as `{ status: 'deleted' }`), else undefined. */
async function endedRun(runId: string, runs: RunStore): Promise<{ status: string } | undefined> {
  const run = await runs.get(runId);
  if (!run) return { status: 'deleted' };
  // Refused for another reason (a retried step that finds the run past TRAINING): the job is the run's.
  return TERMINAL_STATUSES.has(run.status) ? run : undefined;
}
