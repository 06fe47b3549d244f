import type { FineTuningProvider, ProviderJob, WebhookLog } from './ports.js';
import { jobWaitMode, phaseOf, type JobWaitMode } from './workflow-state.js';

/**
 * Cancels the job if it is still going, and returns it as it ends up. Two parties may cancel the same
 * job at once (Create job, finding its run stopped, and reconcile, finding the job Create job made), and a
 * cancel that reaches a job already finished may be refused (the emulator answers 400 "has already
 * cancelled"). So a refused cancel is not a failure when the job, read again, is no longer running:
 * whoever cancelled first did the work. Any other refusal is passed on.
 */
export async function cancelIfRunning(provider: FineTuningProvider, job: ProviderJob): Promise<ProviderJob> {
  if (phaseOf(job.status) !== 'running') return job;
  try {
    return await provider.cancelJob(job.id);
  } catch (error) {
    const now = await provider.getJob(job.id);
    if (phaseOf(now.status) !== 'running') return now;
    throw error;
  }
}

/**
 * How a run waits for its job, by whether the provider's job events are known to arrive (then the wait's
 * timeout is only a safety net). OpenAI's are its webhooks, known to arrive once one passed verification
 * lately (jobWaitMode). Bedrock's are EventBridge events the stack's own rule routes (functions/job-event):
 * nothing to register, so always. Azure OpenAI sends none: its runs poll.
 */
export async function jobWaitModeOf(
  deps: { provider: Pick<FineTuningProvider, 'name'>; webhooks: Pick<WebhookLog, 'lastVerifiedAt'> },
  nowSeconds: number,
): Promise<JobWaitMode> {
  if (deps.provider.name === 'openai') return jobWaitMode(await deps.webhooks.lastVerifiedAt(), nowSeconds);
  return deps.provider.name === 'bedrock' ? 'webhooks' : 'polling';
}
