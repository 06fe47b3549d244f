import type { ParkedRuns, ProviderSlots } from '../core/ports.js';
import type { HandOver, HandOverDeps } from '../core/slots.js';

export interface AcquireSlotDeps {
  slots: ProviderSlots;
  parked: Pick<ParkedRuns, 'parkForSlot'>;
  /** Resumes a run given a slot with its stored token (slotResumer). */
  resume: HandOverDeps['resume'];
  /** Gives free slots to the queue's oldest runs and resumes them (handOverFreeSlots). */
  handOver(): Promise<HandOver>;
}

/**
 * Asks for a provider slot, so that no more than the provider's limit of jobs train at once. The run is
 * parked on `taskToken` (the workflow's `.waitForTaskToken` task) and resumed with a SlotGrant when it
 * gets one: here and now if one is free, else later by whoever frees one (Record, reconcile) or by the
 * sweep. A run asking again (its wait timed out) that was given a slot meanwhile is resumed at once.
 *
 * The token is stored before the run joins the queue: whoever grants it a slot finds the token.
 */
export async function acquireSlot(
  input: { runId: string; taskToken: string },
  deps: AcquireSlotDeps,
): Promise<{ runId: string; outcome: 'held' | 'granted' | 'queued' }> {
  await deps.parked.parkForSlot(input.runId, input.taskToken);
  if (await deps.slots.holds(input.runId)) {
    await deps.resume(input.runId, 0);
    return { runId: input.runId, outcome: 'held' };
  }
  await deps.slots.enqueue(input.runId);
  const { granted } = await deps.handOver();
  return {
    runId: input.runId,
    outcome: granted.some((g) => g.runId === input.runId) ? 'granted' : 'queued',
  };
}
