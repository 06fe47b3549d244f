import type { RunStatus } from './run.js';

/**
 * Runs stuck in one status: not ended, and in their current status for longer than the stack allows
 * (the pipeline's `stuckRunHours`). The slot sweep counts them every few minutes (the RunsStuck gauge) and
 * logs them; the RunStuck alarm says when there are any.
 *
 * A run moves through its statuses in minutes, except while it trains (up to its maxTrainingHours, at
 * most 66) and while it waits for its family's turn or a provider slot (behind other runs). A run whose
 * execution ended unrecorded, or whose wake-up was lost, never moves again: that is what this finds.
 */

/**
 * Three days: longer than any training tunedrop lets a job take (maxTrainingHours is at most 66,
 * functions/core/config.ts), so a job training within its limits never raises the alarm; a run held
 * that long in one status is stuck, or queued behind so much of its family's work that a person
 * should look anyway.
 */
export const STUCK_RUN_HOURS_DEFAULT = 72;

/** A run not ended yet, and since when it has been in its current status. */
export interface ActiveRun {
  runId: string;
  status: RunStatus;
  /** When its current status began (ISO 8601, UTC). */
  since: string;
}

/** The instant before which a status must have begun for its run to be stuck at `now`. */
export function stuckCutoff(now: Date, stuckMinutes: number): Date {
  if (!(Number.isFinite(stuckMinutes) && stuckMinutes > 0))
    throw new RangeError(`stuckMinutes must be a positive number, not ${String(stuckMinutes)}`);
  return new Date(now.getTime() - stuckMinutes * 60_000);
}

/**
 * The runs stuck at `now`: in their current status for more than `stuckMinutes`, longest stuck first.
 * Where the same run is listed twice (a status read as it moved), its latest status counts.
 */
export function stuckRuns(active: readonly ActiveRun[], now: Date, stuckMinutes: number): ActiveRun[] {
  const cutoff = stuckCutoff(now, stuckMinutes).getTime();
  const latest = new Map<string, ActiveRun>();
  for (const run of active) {
    const seen = latest.get(run.runId);
    if (!seen || Date.parse(run.since) > Date.parse(seen.since)) latest.set(run.runId, run);
  }
  return [...latest.values()]
    .filter((run) => Date.parse(run.since) < cutoff)
    .sort((a, b) => Date.parse(a.since) - Date.parse(b.since) || a.runId.localeCompare(b.runId));
}
