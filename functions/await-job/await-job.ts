import type { ParkedRuns, TaskTokens } from '../core/ports.js';
import type { JobWake } from '../core/workflow-state.js';

/**
 * Parks the run until its job's event wakes it (the provider's webhook, through receiveWebhook) or the
 * workflow's timeout on this task passes, whichever comes first; either way Get status then reads the
 * job. An event that came while the run was not parked (between two turns) wakes this park at once.
 */
export async function awaitJob(
  input: { runId: string; taskToken: string },
  deps: { parked: Pick<ParkedRuns, 'parkForJob'>; tokens: TaskTokens },
): Promise<{ runId: string; outcome: 'parked' | 'woken' }> {
  const event = await deps.parked.parkForJob(input.runId, input.taskToken);
  if (event === undefined) return { runId: input.runId, outcome: 'parked' };
  const wake: JobWake = { event };
  await deps.tokens.resume(input.taskToken, wake);
  return { runId: input.runId, outcome: 'woken' };
}
