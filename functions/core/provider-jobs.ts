import type { FineTuningProvider, ProviderJob, WebhookLog } from './ports.js';
import { phaseOf } from './workflow-state.js';

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
 * When the provider's webhooks last arrived verified, which decides how long a run waits for its job
 * (jobWaitSeconds). Only OpenAI sends them (Azure OpenAI has none; Bedrock's events do not wake runs
 * yet), so a run on another provider waits on the polling schedule whatever OpenAI's webhooks do.
 */
export async function lastWebhookAt(deps: {
  provider: Pick<FineTuningProvider, 'name'>;
  webhooks: Pick<WebhookLog, 'lastVerifiedAt'>;
}): Promise<number | undefined> {
  return deps.provider.name === 'openai' ? deps.webhooks.lastVerifiedAt() : undefined;
}
