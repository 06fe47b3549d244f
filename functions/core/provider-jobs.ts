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
 * When the provider's job events were last known to arrive, which decides how long a run waits for its
 * job (jobWaitSeconds: events known to arrive let it wait long, with a timeout only as a safety net).
 * OpenAI's are its webhooks, known to arrive once one passed verification. Bedrock's are EventBridge
 * events the stack's own rule routes (functions/job-event): nothing to register, so known to arrive
 * now. Azure OpenAI sends none: its runs wait on the polling schedule.
 */
export async function lastJobEventAt(
  deps: { provider: Pick<FineTuningProvider, 'name'>; webhooks: Pick<WebhookLog, 'lastVerifiedAt'> },
  nowSeconds: number,
): Promise<number | undefined> {
  if (deps.provider.name === 'openai') return deps.webhooks.lastVerifiedAt();
  if (deps.provider.name === 'bedrock') return nowSeconds;
  return undefined;
}
