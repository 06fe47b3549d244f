import fc from 'fast-check';
import {
  HISTORY,
  nextPollSeconds,
  nextSlotWaitSeconds,
  pollsUntil,
  slotTurns,
  workflowHistoryEvents,
  type WaitPolicy,
} from '../../functions/core/workflow-state.js';

const HOUR = 3600;
/** The state machine's timeout (lib/workflow.ts): the longest a run can take. */
const LONGEST_RUN = 72 * HOUR;
const BOUND = 0.4 * HISTORY.limit;

/** The waits before this change: a slot every minute, a poll at most every 5 minutes. */
const OLD_POLICY: WaitPolicy = {
  slotWait: () => 60,
  pollWait: (polls) => Math.min(300, Math.round(30 * 1.5 ** polls)),
};

/** Any split of the longest run between waiting for a slot and training, to the second. */
const split = fc
  .tuple(fc.integer({ min: 0, max: LONGEST_RUN }), fc.integer({ min: 0, max: LONGEST_RUN }))
  .map(([a, b]) => ({ slotWaitSeconds: Math.min(a, b), trainingSeconds: Math.abs(a - b) }));

describe('nextSlotWaitSeconds', () => {
  it('waits a minute at first, then a fifth of the time already waited, and never more than 15 minutes', () => {
    expect(nextSlotWaitSeconds(0)).toBe(60);
    expect(nextSlotWaitSeconds(299)).toBe(60);
    expect(nextSlotWaitSeconds(1800)).toBe(360);
    expect(nextSlotWaitSeconds(4500)).toBe(900);
    expect(nextSlotWaitSeconds(60 * HOUR)).toBe(900);
  });

  it('treats a clock that went backwards as no wait yet', () => {
    expect(nextSlotWaitSeconds(-30)).toBe(60);
  });
});

describe('nextPollSeconds', () => {
  it('polls after 30 s first, then 1.5 times longer each time, and never more than 10 minutes apart', () => {
    expect([0, 1, 2, 3, 4].map(nextPollSeconds)).toEqual([30, 45, 68, 101, 152]);
    expect(nextPollSeconds(7)).toBe(513);
    expect(nextPollSeconds(8)).toBe(600);
    expect(nextPollSeconds(500)).toBe(600);
  });
});

describe('slotTurns and pollsUntil', () => {
  it('count no slot turn for a run that gets its slot at once, and one poll for a job done at the first', () => {
    expect(slotTurns(0)).toBe(0);
    expect(pollsUntil(0)).toBe(1);
    expect(pollsUntil(30)).toBe(1);
    expect(pollsUntil(31)).toBe(2);
  });

  it('count the turns of the slot loop: five one-minute waits cover five minutes', () => {
    expect(slotTurns(300)).toBe(5);
    expect(slotTurns(301)).toBe(6);
  });

  it('count 303 slot turns and 438 polls at most in 72 hours', () => {
    expect(slotTurns(LONGEST_RUN)).toBe(303);
    expect(pollsUntil(LONGEST_RUN)).toBe(438);
  });
});

describe('workflowHistoryEvents', () => {
  it('counts 47 events, 38 once and 9 for its one poll, for a run that gets its slot at once and a job done at the first poll', () => {
    expect(workflowHistoryEvents({ slotWaitSeconds: 0, trainingSeconds: 0 })).toBe(
      HISTORY.once + HISTORY.perPoll,
    );
    expect(HISTORY.once + HISTORY.perPoll).toBe(47);
  });

  it('adds 3 events per retry of each call', () => {
    const plain = workflowHistoryEvents({ slotWaitSeconds: 300, trainingSeconds: 0 });
    // 6 calls once, 5 slot turns, 1 poll: 12 calls, each retried twice.
    expect(workflowHistoryEvents({ slotWaitSeconds: 300, trainingSeconds: 0, retriesPerCall: 2 })).toBe(
      plain + 3 * 2 * 12,
    );
  });

  it('keeps the longest run (23 h waiting for a slot, then a 48-hour job) at 3,647 events, 15% of the quota', () => {
    const events = workflowHistoryEvents({ slotWaitSeconds: 23 * HOUR, trainingSeconds: 48 * HOUR });
    expect(events).toBe(3647);
    expect(events).toBeLessThan(BOUND);
  });

  it('shows the old one-minute slot wait spending 71% of the quota on the longest run', () => {
    const events = workflowHistoryEvents(
      { slotWaitSeconds: 23 * HOUR, trainingSeconds: 48 * HOUR },
      OLD_POLICY,
    );
    expect(events).toBe(17_678);
    expect(events).toBeGreaterThan(BOUND);
  });

  it('shows the old one-minute slot wait failing a run that waited 46 hours for a slot and trained 26', () => {
    const old = workflowHistoryEvents({ slotWaitSeconds: 46 * HOUR, trainingSeconds: 26 * HOUR }, OLD_POLICY);
    expect(old).toBe(27_722);
    expect(old).toBeGreaterThan(HISTORY.limit);
    expect(workflowHistoryEvents({ slotWaitSeconds: 46 * HOUR, trainingSeconds: 26 * HOUR })).toBeLessThan(
      BOUND,
    );
  });

  it('stays under 40% of the quota for any split of 72 hours between waiting for a slot and training', () => {
    fc.assert(
      fc.property(split, (run) => workflowHistoryEvents(run) < BOUND),
      { numRuns: 500 },
    );
  });

  it('stays under the quota for any split even if every call is retried the 4 times the workflow allows', () => {
    fc.assert(
      fc.property(
        split,
        (run) => workflowHistoryEvents({ ...run, retriesPerCall: HISTORY.maxRetriesPerCall }) < HISTORY.limit,
      ),
      { numRuns: 500 },
    );
  });

  it('finds, with the old waits, a split of 72 hours that passes the quota', () => {
    // The property the new waits keep, run against the old ones: fast-check must find a counterexample.
    expect(() =>
      fc.assert(
        fc.property(split, (run) => workflowHistoryEvents(run, OLD_POLICY) < HISTORY.limit),
        { numRuns: 500, seed: 7 },
      ),
    ).toThrow(/Property failed/);
  });
});
