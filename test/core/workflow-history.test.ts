import fc from 'fast-check';
import {
  HISTORY,
  jobTurns,
  jobWaitMode,
  jobWaitSeconds,
  JOB_WAITING,
  nextJobWaitSeconds,
  slotTurns,
  workflowHistoryEvents,
  workflowTransitions,
  type JobWaitMode,
} from '../../functions/core/workflow-state.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
/** The state machine's timeout (lib/workflow.ts): the longest a run can take. */
const LONGEST_RUN = 72 * HOUR;
/** RunConfig's largest maxTrainingHours (functions/core/config.ts). */
const LONGEST_JOB = 66 * HOUR;

/** Any split of the longest run between waiting for a slot and training, to the second. */
const split = fc
  .tuple(fc.integer({ min: 0, max: LONGEST_RUN }), fc.integer({ min: 0, max: LONGEST_RUN }))
  .map(([a, b]) => ({ slotWaitSeconds: Math.min(a, b), trainingSeconds: Math.abs(a - b) }));
const mode = fc.constantFrom<JobWaitMode>('polling', 'webhooks');

describe('nextJobWaitSeconds', () => {
  it('polls after 60 s, doubling each turn, at most every 10 minutes, when webhooks are not known to arrive', () => {
    expect([0, 1, 2, 3, 4, 5, 500].map((turn) => nextJobWaitSeconds(turn, 'polling'))).toEqual([
      60, 120, 240, 480, 600, 600, 600,
    ]);
  });

  it('looks after 1 h, 4 h, 16 h, then every 64 h, only as the safety net, when webhooks arrive', () => {
    expect([0, 1, 2, 3, 4].map((turn) => nextJobWaitSeconds(turn, 'webhooks'))).toEqual([
      HOUR,
      4 * HOUR,
      16 * HOUR,
      64 * HOUR,
      64 * HOUR,
    ]);
  });

  it('never waits past the job deadline by more than a minute, and at least a second', () => {
    expect(nextJobWaitSeconds(3, 'webhooks', 2 * HOUR)).toBe(2 * HOUR + 60);
    expect(nextJobWaitSeconds(0, 'polling', -5_000)).toBe(1);
  });

  it('is a whole number of seconds from 1 to 64 hours for any turn, mode and deadline', () => {
    fc.assert(
      fc.property(fc.nat(10_000), mode, fc.integer({ min: -DAY, max: 10 * DAY }), (turn, m, left) => {
        const seconds = nextJobWaitSeconds(turn, m, left);
        return Number.isInteger(seconds) && seconds >= 1 && seconds <= 64 * HOUR;
      }),
    );
  });
});

describe('jobWaitMode and jobWaitSeconds', () => {
  it('trusts webhooks for a week after one was verified, and polls otherwise', () => {
    const now = 1_800_000_000;
    expect(jobWaitMode(undefined, now)).toBe('polling');
    expect(jobWaitMode(now - JOB_WAITING.webhooksTrustedForSeconds, now)).toBe('webhooks');
    expect(jobWaitMode(now - JOB_WAITING.webhooksTrustedForSeconds - 1, now)).toBe('polling');
  });

  it('counts the deadline from the job creation and its maxTrainingHours', () => {
    const job = { createdAt: 1_800_000_000, maxTrainingHours: 2 };
    const nowSeconds = job.createdAt + HOUR;
    const at = { nowSeconds, mode: jobWaitMode(job.createdAt, nowSeconds) };
    expect(jobWaitSeconds(1, job, at)).toBe(HOUR + 60);
  });
});

describe('turns of waiting', () => {
  it('parks a run for its slot once, asking again only once a day it waits', () => {
    expect([0, HOUR, DAY, DAY + 1, 2 * DAY, LONGEST_RUN].map(slotTurns)).toEqual([0, 0, 0, 1, 1, 2]);
  });

  it('takes 9 turns for a one-hour job by polling, and 1 with webhooks', () => {
    expect(jobTurns(HOUR, 'polling')).toBe(9);
    expect(jobTurns(HOUR, 'webhooks')).toBe(1);
  });

  it('takes at most 4 turns with webhooks for any job maxTrainingHours allows', () => {
    expect(jobTurns(LONGEST_JOB, 'webhooks')).toBe(4);
    expect(jobTurns(24 * HOUR, 'webhooks')).toBe(4);
  });
});

describe('state transitions per run', () => {
  it("are 13 for a one-hour job with webhooks, and 37 by polling alone (targets: 22 and 42: #8's, and evaluation's two)", () => {
    expect(workflowTransitions({ slotWaitSeconds: 0, trainingSeconds: HOUR, mode: 'webhooks' })).toBe(13);
    expect(workflowTransitions({ slotWaitSeconds: 0, trainingSeconds: HOUR, mode: 'polling' })).toBe(37);
  });

  it('stay at most 22 with webhooks for any job length maxTrainingHours allows, after a slot wait of up to a day', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: LONGEST_JOB }), fc.integer({ min: 0, max: DAY }), (t, s) => {
        return workflowTransitions({ slotWaitSeconds: s, trainingSeconds: t, mode: 'webhooks' }) <= 22;
      }),
      { numRuns: 1000 },
    );
  });

  it('grow by one per day of waiting for a slot, not one per minute', () => {
    const run = (days: number) =>
      workflowTransitions({ slotWaitSeconds: days * DAY, trainingSeconds: HOUR, mode: 'webhooks' });
    expect([run(0), run(1), run(2), run(3)]).toEqual([13, 13, 14, 15]);
  });
});

describe('history events per run', () => {
  it('are 5,703 for a 72-hour job by polling alone, 23% of the quota', () => {
    expect(workflowHistoryEvents({ slotWaitSeconds: 0, trainingSeconds: 72 * HOUR, mode: 'polling' })).toBe(
      5703,
    );
  });

  it('are 48 once, 13 per job turn and 6 per slot turn', () => {
    expect(workflowHistoryEvents({ slotWaitSeconds: 0, trainingSeconds: HOUR, mode: 'webhooks' })).toBe(
      HISTORY.once + HISTORY.perJobTurn,
    );
    expect(workflowHistoryEvents({ slotWaitSeconds: 2 * DAY, trainingSeconds: HOUR, mode: 'webhooks' })).toBe(
      HISTORY.once + HISTORY.perJobTurn + HISTORY.perSlotTurn,
    );
  });

  it('stay under a quarter of the quota for any split of 72 hours, and under the quota with every call retried 4 times', () => {
    fc.assert(
      fc.property(split, mode, (run, m) => {
        const events = workflowHistoryEvents({ ...run, mode: m, retriesPerCall: HISTORY.maxRetriesPerCall });
        return events < HISTORY.limit && workflowHistoryEvents({ ...run, mode: m }) < 0.25 * HISTORY.limit;
      }),
      { numRuns: 500 },
    );
  });
});
