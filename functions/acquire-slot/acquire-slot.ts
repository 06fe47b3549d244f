import type { ParkedRuns, ProviderSlots, SlotLane } from '../core/ports.js';
import type { HandOver, HandOverDeps } from '../core/slots.js';

export interface AcquireSlotDeps {
  slots: ProviderSlots;
  parked: Pick<ParkedRuns, 'parkForSlot'>;
  /** Resumes a run given a slot with its stored token (slotResumer). */
  resume: HandOverDeps['resume'];
  /** Gives free slots to the queue's oldest runs and resumes them (handOverFreeSlots). */
  handOver(): Promise<HandOver>;
}

export interface AcquireSlotInput {
  runId: string;
  taskToken: string;
  /** Which queue: the run's provider's slots (the default), or its family's lane. @default 'provider' */
  lane?: SlotLane;
  /** The run's place in the queue (epoch ms): when it was received, for a family's lane. @default now */
  queuedAt?: number;
}

/**
 * Asks for a slot: a provider slot, so that no more than the provider's limit of jobs train at once, or
 * the family's turn, so that one run per family trains at a time and the next starts from its model. The
 * run is parked on `taskToken` (the workflow's `.waitForTaskToken` task) and resumed with a SlotGrant when
 * it gets one: here and now if one is free, else later by whoever frees one (Record, reconcile) or by the
 * sweep. A run asking again (its wait timed out) that was given a slot meanwhile is resumed at once.
 *
 * The token is stored before the run joins the queue: whoever grants it a slot finds the token.
 */
export async function acquireSlot(
  input: AcquireSlotInput,
  deps: AcquireSlotDeps,
): Promise<{ runId: string; outcome: 'held' | 'granted' | 'queued' }> {
  await deps.parked.parkForSlot(input.runId, input.taskToken, input.lane ?? 'provider');
  if (await deps.slots.holds(input.runId)) {
    await deps.resume(input.runId, 0);
    return { runId: input.runId, outcome: 'held' };
  }
  await deps.slots.enqueue(input.runId, input.queuedAt);
  const { granted } = await deps.handOver();
  return {
    runId: input.runId,
    outcome: granted.some((g) => g.runId === input.runId) ? 'granted' : 'queued',
  };
}
