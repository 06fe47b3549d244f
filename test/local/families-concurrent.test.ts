import { TERMINAL_STATUSES, type RunRecord } from '../../functions/core/run.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Ten drops at once into three families (#12 point 8), in local mode with the real handlers, the
 * synthesized workflow and IAM enforced: no drop is lost, one run per family is active at a time, and a
 * family's runs prepare in the order they were received.
 */
let harness: LocalHarness;
let runs: RunRecord[];
const FAMILIES = { alpha: 4, beta: 3, gamma: 3 };

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: 'sk-test-families-concurrent',
    timing: { validatingMs: 20, queuedMs: 100, msPerStep: 1 },
    cloud: { onLog: () => undefined },
  });
  const keys = Object.entries(FAMILIES).flatMap(([family, count]) =>
    Array.from({ length: count }, (_, i) => `incoming/${family}/drop-${i}.jsonl`),
  );
  const runIds = await Promise.all(keys.map((key) => harness.cloud.drop(SAMPLE, key)));
  runs = [];
  for (const runId of runIds) runs.push(await harness.cloud.waitForRun(runId, { timeoutMs: 150_000 }));
}, 240_000);
afterAll(() => harness?.close());

const at = (run: RunRecord, status: string) => run.history.find((h) => h.status === status)!.at;
const endOf = (run: RunRecord) => run.history.find((h) => TERMINAL_STATUSES.has(h.status))!.at;
const familyRuns = (family: string) => runs.filter((run) => run.family === family);

it('loses none: ten runs, every one SUCCEEDED', async () => {
  expect(new Set(runs.map((run) => run.runId)).size).toBe(10);
  expect(runs.map((run) => run.status)).toEqual(Array(10).fill('SUCCEEDED'));
  const stored = await harness.cloud.listRuns();
  expect(stored).toHaveLength(10);
  expect(
    Object.fromEntries(Object.keys(FAMILIES).map((family) => [family, familyRuns(family).length])),
  ).toEqual(FAMILIES);
  const jobs = (await harness.openai.fineTuning.jobs.list({ limit: 100 })).data;
  expect(jobs.filter((job) => job.status === 'succeeded')).toHaveLength(10);
});

it.each(Object.keys(FAMILIES))(
  'keeps one run of family %s active at a time: from PREPARING to the end, no two overlap',
  (family) => {
    const intervals = familyRuns(family)
      .map((run) => ({ runId: run.runId, from: at(run, 'PREPARING'), to: endOf(run) }))
      .sort((a, b) => a.from.localeCompare(b.from));
    for (let i = 1; i < intervals.length; i++)
      expect({ next: intervals[i]!.runId, startsAt: intervals[i]!.from >= intervals[i - 1]!.to }).toEqual({
        next: intervals[i]!.runId,
        startsAt: true,
      });
  },
);

// Order kept: within a family, runs prepare in the order they were received (their items' createdAt),
// even when a file received later is checked faster and its execution starts first: the lane is queued
// by when runs were received, and waits for a run received earlier that is still being checked.
it.each(Object.keys(FAMILIES))('prepares family %s runs in the order they were received', (family) => {
  const byReceived = [...familyRuns(family)].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const byPreparing = [...familyRuns(family)].sort((a, b) =>
    at(a, 'PREPARING').localeCompare(at(b, 'PREPARING')),
  );
  expect(byPreparing.map((run) => run.runId)).toEqual(byReceived.map((run) => run.runId));
});
