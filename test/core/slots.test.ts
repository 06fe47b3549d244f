import fc from 'fast-check';
import { RUN_STATUSES, TERMINAL_STATUSES, type RunStatus } from '../../functions/core/run.js';
import { deadHolders, VANISHED_HOLDER_GRACE_MS } from '../../functions/core/slots.js';

describe('deadHolders', () => {
  const holderArbitrary = fc.record({
    runId: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
    acquiredAt: fc.integer({ min: 0, max: 10 * VANISHED_HOLDER_GRACE_MS }),
    status: fc.option(fc.constantFrom(...RUN_STATUSES), { nil: undefined }),
  });

  it('takes back exactly the slots of ended runs and of runs gone for the grace period', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(holderArbitrary, { selector: (h) => h.runId, maxLength: 8 }),
        fc.integer({ min: 0, max: 12 * VANISHED_HOLDER_GRACE_MS }),
        (holders, now) => {
          const statuses = new Map<string, RunStatus | undefined>(holders.map((h) => [h.runId, h.status]));
          const dead = deadHolders(holders, statuses, now);
          for (const holder of holders) {
            const expected =
              holder.status === undefined
                ? now - holder.acquiredAt >= VANISHED_HOLDER_GRACE_MS
                  ? 'run_vanished'
                  : undefined
                : TERMINAL_STATUSES.has(holder.status)
                  ? 'run_ended'
                  : undefined;
            expect(dead.find((d) => d.runId === holder.runId)?.reason).toBe(expected);
          }
        },
      ),
    );
  });

  it('never takes back a slot whose run was not looked up', () => {
    const holders = [{ runId: 'unread', acquiredAt: 0 }];
    expect(deadHolders(holders, new Map(), Number.MAX_SAFE_INTEGER)).toEqual([]);
  });
});
