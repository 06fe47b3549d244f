import type { ProviderSlots } from '../core/ports.js';

/** How long a run waits before asking for a provider slot again. */
export const SLOT_RETRY_SECONDS = 60;

/**
 * Takes a provider slot for the run before its job is created, so that no more than `limit` jobs
 * train at once; the workflow waits and asks again while none is free. Record and reconcile release it.
 */
export async function acquireSlot(
  input: { runId: string },
  deps: { slots: ProviderSlots; limit: number },
): Promise<{ acquired: boolean; waitSeconds: number }> {
  return { acquired: await deps.slots.acquire(input.runId, deps.limit), waitSeconds: SLOT_RETRY_SECONDS };
}
