import type { RunMetrics } from '../core/metrics.js';
import type { ActiveRuns } from '../core/ports.js';
import { stuckCutoff, stuckRuns, type ActiveRun } from '../core/stuck-runs.js';

export interface CountStuckDeps {
  runs: ActiveRuns;
  metrics: RunMetrics;
  /** How long a run may stay in one status (the pipeline's stuckRunHours, in minutes). */
  stuckMinutes: number;
  now?: () => Date;
}

/**
 * The sweep's look for stuck runs: reads only the runs whose current status began before the cutoff
 * (the run store's index of runs not ended), writes the RunsStuck gauge (zero included, so the alarm's
 * period has a datapoint and the dashboard a line), and returns them, longest stuck first, for the log.
 */
export async function countStuck(deps: CountStuckDeps): Promise<ActiveRun[]> {
  const now = deps.now?.() ?? new Date();
  const candidates = await deps.runs.statusBegunBefore(stuckCutoff(now, deps.stuckMinutes));
  const stuck = stuckRuns(candidates, now, deps.stuckMinutes);
  deps.metrics.runsStuck(stuck.length);
  return stuck;
}
