import type { ParkedRuns, RunStore, TaskTokens } from '../core/ports.js';
import type { JobWake } from '../core/workflow-state.js';

/**
 * Bedrock's statuses after which a job trains no more ("Model Customization Job State Change", the
 * `jobStatus` of its detail: https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge-how-it-works.html,
 * read 2026-11-29). `Stopping` is not one: the job has not stopped yet.
 */
export const BEDROCK_JOB_ENDED: ReadonlySet<string> = new Set(['Completed', 'Failed', 'Stopped']);

export interface JobStateChange {
  /** The job's ARN, which is the run's providerJobId. */
  jobArn: string;
  jobStatus: string;
}

export interface WakeOnJobEventDeps {
  runs: Pick<RunStore, 'findByProviderJob'>;
  parked: Pick<ParkedRuns, 'wakeForJob'>;
  tokens: TaskTokens;
}

export type JobEventOutcome =
  { status: 'ignored'; reason: string } | { status: 'woken'; runId: string; resumed: boolean };

/**
 * Wakes the run whose Bedrock job ended, as OpenAI's webhooks do for OpenAI jobs (docs/waiting.md): its
 * Wait for job is resumed at once, instead of at its timeout. EventBridge delivers at least once, so a
 * second delivery finds the run awake; it leaves a wake-up that makes the run's next wait (if any)
 * return at once, and Get status then looks one more time. Nothing else is done with the event: the
 * job is read from Bedrock by Get status, so the event is a hint, never a fact tunedrop records.
 */
export async function wakeOnJobEvent(
  event: JobStateChange,
  deps: WakeOnJobEventDeps,
): Promise<JobEventOutcome> {
  if (!BEDROCK_JOB_ENDED.has(event.jobStatus))
    return { status: 'ignored', reason: `job status ${event.jobStatus} does not end a job` };
  const runId = await deps.runs.findByProviderJob(event.jobArn);
  if (!runId) return { status: 'ignored', reason: `no run has job ${event.jobArn}` };
  const wake: JobWake = { event: `bedrock.job.${event.jobStatus}` };
  const token = await deps.parked.wakeForJob(runId, wake.event);
  const resumed = token ? await deps.tokens.resume(token, wake) : false;
  return { status: 'woken', runId, resumed };
}
