import type { ProviderSlots } from '../core/ports.js';
import { nextSlotWaitSeconds, type SlotProgress } from '../core/workflow-state.js';

/**
 * Takes a provider slot for the run before its job is created, so that no more than `limit` jobs
 * train at once; the workflow waits and asks again while none is free. Record and reconcile release it.
 *
 * The wait grows with the time the run has already waited (nextSlotWaitSeconds): each turn of the
 * slot loop costs history events, and a fixed one-minute wait would exhaust Step Functions' 25,000
 * events after 46 hours. `since` comes back in the input on the next call (the workflow stores this
 * answer at `$.slot` and passes the whole state), which is how the step knows how long the run waited.
 */
export async function acquireSlot(
  input: { runId: string; slot?: Partial<SlotProgress> | undefined },
  deps: { slots: ProviderSlots; limit: number; now?: () => Date },
): Promise<SlotProgress> {
  const now = (deps.now?.() ?? new Date()).getTime() / 1000;
  const since = input.slot?.since ?? now;
  return {
    acquired: await deps.slots.acquire(input.runId, deps.limit),
    waitSeconds: nextSlotWaitSeconds(now - since),
    since,
    attempts: (input.slot?.attempts ?? 0) + 1,
  };
}
