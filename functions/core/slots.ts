import { TERMINAL_STATUSES, type RunStatus } from './run.js';

/** A run holding a provider slot, and since when (epoch milliseconds). */
export interface SlotHolder {
  runId: string;
  acquiredAt: number;
}

/**
 * How long a holder whose run item cannot be found keeps its slot. A live holder always has its item:
 * validate writes it before the execution starts, minutes before the run asks for a slot. So a holder
 * without one lost it afterwards (deleted by hand, a table restored from an older backup). The grace
 * keeps a slot from being taken from under a run on one odd read, and is short next to the hours a
 * blocked queue would cost.
 */
export const VANISHED_HOLDER_GRACE_MS = 15 * 60 * 1000;

/** Why a holder no longer deserves its slot. */
export type DeadHolder = SlotHolder & { reason: 'run_ended' | 'run_vanished' };

/**
 * The holders whose slots can be taken back: those whose run has ended (its Record or reconcile did
 * not release it: a crash, a lost event, an acquire that finished after the run was stopped), and those
 * whose run no longer exists once the grace period has passed. A holder whose run is still going keeps
 * its slot, however long it has held it: training may take days.
 *
 * `statusOf` maps each holder's run id to its run's status, or to undefined when the run item is gone.
 */
export function deadHolders(
  holders: readonly SlotHolder[],
  statusOf: ReadonlyMap<string, RunStatus | undefined>,
  now: number,
  graceMs: number = VANISHED_HOLDER_GRACE_MS,
): DeadHolder[] {
  const dead: DeadHolder[] = [];
  for (const holder of holders) {
    if (!statusOf.has(holder.runId)) continue; // not looked up: no grounds to evict
    const status = statusOf.get(holder.runId);
    if (status === undefined) {
      if (now - holder.acquiredAt >= graceMs) dead.push({ ...holder, reason: 'run_vanished' });
    } else if (TERMINAL_STATUSES.has(status)) {
      dead.push({ ...holder, reason: 'run_ended' });
    }
  }
  return dead;
}
