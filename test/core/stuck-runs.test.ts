import fc from 'fast-check';
import { RUN_STATUSES, TERMINAL_STATUSES } from '../../functions/core/run.js';
import {
  STUCK_RUN_HOURS_DEFAULT,
  stuckCutoff,
  stuckRuns,
  type ActiveRun,
} from '../../functions/core/stuck-runs.js';
import { RunConfigSchema } from '../../functions/core/config.js';

const NOW = new Date('2026-11-30T12:00:00.000Z');
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

describe('stuckRuns', () => {
  it('counts a run in its status longer than the threshold, not one in it for less or exactly that long', () => {
    const active: ActiveRun[] = [
      { runId: 'long', status: 'TRAINING', since: minutesAgo(61) },
      { runId: 'short', status: 'PREPARING', since: minutesAgo(59) },
      { runId: 'exactly', status: 'RECEIVED', since: minutesAgo(60) },
    ];
    expect(stuckRuns(active, NOW, 60)).toEqual([
      { runId: 'long', status: 'TRAINING', since: minutesAgo(61) },
    ]);
  });

  it('lists the longest stuck first', () => {
    const active: ActiveRun[] = [
      { runId: 'b', status: 'UPLOADING', since: minutesAgo(90) },
      { runId: 'a', status: 'COLLECTING', since: minutesAgo(300) },
    ];
    expect(stuckRuns(active, NOW, 60).map((run) => run.runId)).toEqual(['a', 'b']);
  });

  it('counts a run listed twice (read as it moved) once, by its latest status', () => {
    const active: ActiveRun[] = [
      { runId: 'moving', status: 'PREPARING', since: minutesAgo(200) },
      { runId: 'moving', status: 'UPLOADING', since: minutesAgo(100) },
    ];
    expect(stuckRuns(active, NOW, 60)).toEqual([
      { runId: 'moving', status: 'UPLOADING', since: minutesAgo(100) },
    ]);
  });

  it('refuses a threshold that is not a positive number of minutes', () => {
    for (const minutes of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => stuckCutoff(NOW, minutes)).toThrow(RangeError);
  });

  it('finds exactly the runs whose status began before the cutoff, each once, whatever the records and time', () => {
    const active = fc.record({
      runId: fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5', 'r6'),
      status: fc.constantFrom(...RUN_STATUSES.filter((s) => !TERMINAL_STATUSES.has(s))),
      since: fc.integer({ min: 0, max: 10 * 24 * 60 }).map(minutesAgo),
    });
    fc.assert(
      fc.property(
        fc.array(active, { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 * 24 * 60 }),
        (runs, minutes) => {
          const stuck = stuckRuns(runs, NOW, minutes);
          const cutoff = stuckCutoff(NOW, minutes).getTime();
          // Each run once, and the one it reports is that run's latest status.
          expect(new Set(stuck.map((r) => r.runId)).size).toBe(stuck.length);
          for (const run of stuck) {
            const latest = Math.max(
              ...runs.filter((r) => r.runId === run.runId).map((r) => Date.parse(r.since)),
            );
            expect(Date.parse(run.since)).toBe(latest);
            expect(Date.parse(run.since)).toBeLessThan(cutoff);
          }
          // Nothing left out: every run whose latest status began before the cutoff is there.
          const expected = new Set(
            runs
              .filter(
                (r) =>
                  Math.max(...runs.filter((o) => o.runId === r.runId).map((o) => Date.parse(o.since))) <
                  cutoff,
              )
              .map((r) => r.runId),
          );
          expect(new Set(stuck.map((r) => r.runId))).toEqual(expected);
          // Longest stuck first.
          const times = stuck.map((r) => Date.parse(r.since));
          expect(times).toEqual([...times].sort((a, b) => a - b));
        },
      ),
    );
  });
});

describe('the stuck-run default', () => {
  it('is longer than any maxTrainingHours a run may set, so a job training within its limits is never stuck', () => {
    expect(RunConfigSchema.safeParse({ maxTrainingHours: 66 }).success).toBe(true);
    // Not even the stuck threshold itself is a training time a run may ask for.
    expect(RunConfigSchema.safeParse({ maxTrainingHours: STUCK_RUN_HOURS_DEFAULT }).success).toBe(false);
    expect(STUCK_RUN_HOURS_DEFAULT).toBeGreaterThan(66);
  });
});
