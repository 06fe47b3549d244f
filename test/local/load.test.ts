import { runLoad } from '../bench/load.js';

describe('many files dropped at once', () => {
  it('all end in a recorded run, none lost, with at most the configured number of provider jobs at once', async () => {
    const result = await runLoad({ files: 24, concurrency: 3, timeoutMs: 90_000 });
    expect(result).toMatchObject({ dropped: 24, recorded: 24, lost: 0, statuses: { SUCCEEDED: 24 } });
    expect(result.maxConcurrentJobs).toBeLessThanOrEqual(3);
    expect(result.maxConcurrentJobs).toBeGreaterThan(1); // the cap was reached, not just never approached
  });
});
