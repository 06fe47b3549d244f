import fc from 'fast-check';
import { RUN_STATUSES, TERMINAL_STATUSES, type RunStatus } from '../../functions/core/run.js';
import {
  deadHolders,
  EARLIER_ARRIVAL_GRACE_MS,
  earlierArrivalPending,
  handOverFreeSlots,
  VANISHED_HOLDER_GRACE_MS,
} from '../../functions/core/slots.js';
import { memoryRunStore, memorySlots } from '../support/fakes.js';

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

describe('earlierArrivalPending', () => {
  const waiter = { runId: 'late', queuedAt: 10_000 };

  it('holds the lane for a run received earlier that is still being checked, and for no other', () => {
    const checking = { runId: 'early', status: 'RECEIVED' as const, createdAt: at(9_000) };
    expect(earlierArrivalPending(waiter, [checking], new Set(), 11_000)).toBe(true);
    // Already queued (it will be served first anyway), holding the lane, or rejected: nothing to wait for.
    expect(earlierArrivalPending(waiter, [checking], new Set(['early']), 11_000)).toBe(false);
    expect(earlierArrivalPending(waiter, [{ ...checking, status: 'REJECTED' }], new Set(), 11_000)).toBe(
      false,
    );
    // Received after the waiter, or the waiter itself: not ahead of it.
    expect(earlierArrivalPending(waiter, [{ ...checking, createdAt: at(12_000) }], new Set(), 13_000)).toBe(
      false,
    );
    expect(earlierArrivalPending(waiter, [{ ...checking, runId: 'late' }], new Set(), 11_000)).toBe(false);
  });

  it('stops waiting for a run whose check was lost once the grace period has passed', () => {
    const lost = { runId: 'early', status: 'RECEIVED' as const, createdAt: at(9_000) };
    expect(earlierArrivalPending(waiter, [lost], new Set(), 9_000 + EARLIER_ARRIVAL_GRACE_MS - 1)).toBe(true);
    expect(earlierArrivalPending(waiter, [lost], new Set(), 9_000 + EARLIER_ARRIVAL_GRACE_MS)).toBe(false);
  });
});

describe('handOverFreeSlots with mayGrant', () => {
  it('gives the slot to nobody while the oldest waiter may not have it, and to it once it may', async () => {
    const { runs } = memoryRunStore();
    for (const runId of ['a', 'b'])
      await runs.create({
        runId,
        family: 'f',
        status: 'RECEIVED',
        history: [],
        source: { bucket: 'b', key: `incoming/f/${runId}.jsonl` },
        createdAt: at(0),
        updatedAt: at(0),
      });
    const slots = memorySlots({ runs }).slots;
    await slots.enqueue('a', 1);
    await slots.enqueue('b', 2);
    let allowed = false;
    const handOver = () =>
      handOverFreeSlots({
        slots,
        limit: 1,
        statusOf: async (runId) => (await runs.get(runId))?.status,
        resume: async () => true,
        now: () => 5,
        mayGrant: async () => allowed,
      });
    expect((await handOver()).granted).toEqual([]);
    expect(await slots.holders()).toEqual([]);
    allowed = true;
    expect((await handOver()).granted.map((g) => g.runId)).toEqual(['a']);
  });
});

function at(ms: number) {
  return new Date(ms).toISOString();
}
