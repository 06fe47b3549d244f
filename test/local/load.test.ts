import { runLoad } from '../bench/load.js';

describe('many files dropped at once', () => {
  // Twenty-four runs through the whole local cloud (metrics, events, alarms included) take about a minute
  // on two cores: the test has three, and the runs two and a half to end.
  it('all end in a recorded run, none lost, with at most the configured number of provider jobs at once', async () => {
    const result = await runLoad({ files: 24, concurrency: 3, timeoutMs: 150_000 });
    expect(result).toMatchObject({ dropped: 24, recorded: 24, lost: 0 });
    // Eight families of three runs: each run trains; a family's later runs are promoted only when their
    // evaluation does not fall below the family's current model.
    const { SUCCEEDED = 0, SUCCEEDED_NOT_PROMOTED = 0, ...others } = result.statuses;
    expect({ trained: SUCCEEDED + SUCCEEDED_NOT_PROMOTED, others }).toEqual({ trained: 24, others: {} });
    expect(SUCCEEDED).toBeGreaterThanOrEqual(8);
    expect(result.maxConcurrentJobs).toBeLessThanOrEqual(3);
    expect(result.maxConcurrentJobs).toBeGreaterThan(1); // the cap was reached, not just never approached
  }, 180_000);
});
