import { metricsRecorder, type MetricEmission } from '../../functions/adapters/run-metrics.js';
import type { ActiveRuns } from '../../functions/core/ports.js';
import type { ActiveRun } from '../../functions/core/stuck-runs.js';
import { countStuck } from '../../functions/sweep-slots/count-stuck.js';

/** The sweep's count of stuck runs, on an in-memory index of runs not ended. */
const NOW = new Date('2026-11-30T12:00:00.000Z');
const hoursAgo = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000).toISOString();

function setUp(active: ActiveRun[]) {
  const asked: Date[] = [];
  const runs: ActiveRuns = {
    async statusBegunBefore(before) {
      asked.push(before);
      return active.filter((run) => Date.parse(run.since) < before.getTime());
    },
  };
  const emissions: MetricEmission[] = [];
  const metrics = metricsRecorder((emission) => emissions.push(emission));
  return { runs, metrics, asked, emissions };
}

it('asks the index only for runs whose status began before the threshold, and gauges and returns them', async () => {
  const { runs, metrics, asked, emissions } = setUp([
    { runId: 'fresh', status: 'TRAINING', since: hoursAgo(2) },
    { runId: 'stuck', status: 'RECEIVED', since: hoursAgo(80) },
  ]);
  const stuck = await countStuck({ runs, metrics, stuckMinutes: 72 * 60, now: () => NOW });
  expect(asked).toEqual([new Date(hoursAgo(72))]);
  expect(stuck).toEqual([{ runId: 'stuck', status: 'RECEIVED', since: hoursAgo(80) }]);
  expect(emissions).toEqual([{ name: 'RunsStuck', unit: 'Count', value: 1, dimensions: {} }]);
});

it('gauges zero when nothing is stuck, so the alarm and the dashboard have a datapoint', async () => {
  const { runs, metrics, emissions } = setUp([{ runId: 'fresh', status: 'UPLOADING', since: hoursAgo(1) }]);
  expect(await countStuck({ runs, metrics, stuckMinutes: 60 * 24, now: () => NOW })).toEqual([]);
  expect(emissions.map((e) => [e.name, e.value])).toEqual([['RunsStuck', 0]]);
});
