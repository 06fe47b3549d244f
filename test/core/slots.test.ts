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
  const source = (name: string, etag = `"${name}-etag"`) => ({ key: `incoming/f/${name}.jsonl`, etag });
  const run = (runId: string, createdAtMs: number, status: RunStatus = 'RECEIVED') => ({
    runId,
    status,
    createdAt: at(createdAtMs),
    source: source(runId),
  });
  const none = { holders: [], waiting: [] };
  const drop = (name: string, atMs: number, etag = `"${name}-etag"`) => ({ ...source(name, etag), at: atMs });

  it('holds the lane for a run received earlier that is still being checked, and for no other', () => {
    const checking = run('early', 9_000);
    expect(earlierArrivalPending(waiter, [checking], [], none, 11_000)).toBe(true);
    // Holding the lane (the waiter's turn comes when it is released) or rejected: nothing to wait for.
    expect(earlierArrivalPending(waiter, [checking], [], { holders: ['early'], waiting: [] }, 11_000)).toBe(
      false,
    );
    expect(earlierArrivalPending(waiter, [{ ...checking, status: 'REJECTED' }], [], none, 11_000)).toBe(
      false,
    );
    // Received after the waiter, or the waiter itself: not ahead of it.
    expect(earlierArrivalPending(waiter, [{ ...checking, createdAt: at(12_000) }], [], none, 13_000)).toBe(
      false,
    );
    expect(earlierArrivalPending(waiter, [{ ...checking, runId: 'late' }], [], none, 11_000)).toBe(false);
  });

  it('holds the lane for a run ahead of the waiter in the queue as it is now (it queued after the hand-over listed the waiters)', () => {
    const queued = { ...run('early', 9_000), status: 'RECEIVED' as const };
    const lane = (waiting: Array<{ runId: string; queuedAt: number }>) => ({ holders: [], waiting });
    expect(
      earlierArrivalPending(
        waiter,
        [queued],
        [],
        lane([{ runId: 'early', queuedAt: 9_000 }, waiter]),
        11_000,
      ),
    ).toBe(true);
    // Behind the waiter, or level with it but after it by run id: the waiter goes first.
    expect(
      earlierArrivalPending(waiter, [], [], lane([waiter, { runId: 'later', queuedAt: 10_000 }]), 11_000),
    ).toBe(false);
    expect(
      earlierArrivalPending(waiter, [], [], lane([{ runId: 'earlier', queuedAt: 10_000 }, waiter]), 11_000),
    ).toBe(true);
    // Holding the lane is no reason to wait here: the hand-over grants only a free lane.
    expect(
      earlierArrivalPending(waiter, [queued], [], { holders: ['early'], waiting: [waiter] }, 11_000),
    ).toBe(false);
  });

  it('stops waiting for a run whose check was lost once the grace period has passed', () => {
    const lost = run('early', 9_000);
    const justBefore = 9_000 + EARLIER_ARRIVAL_GRACE_MS - 1;
    expect(earlierArrivalPending(waiter, [lost], [], none, justBefore)).toBe(true);
    expect(earlierArrivalPending(waiter, [lost], [], none, 9_000 + EARLIER_ARRIVAL_GRACE_MS)).toBe(false);
  });

  it('holds the lane for a file dropped earlier whose run is not recorded yet (its Validate waits)', () => {
    const own = run('late', 10_000);
    expect(
      earlierArrivalPending(waiter, [own], [drop('early', 9_000), drop('late', 9_000)], none, 11_000),
    ).toBe(true);
    // Once Validate records it (RECEIVED, then queued or ended), the run's own status decides.
    const recorded = run('early', 9_400, 'REJECTED');
    expect(earlierArrivalPending(waiter, [own, recorded], [drop('early', 9_000)], none, 11_000)).toBe(false);
    // S3 lists to the second: a drop listed before the waiter's time but received after it is waited for
    // until it is recorded, and then goes behind the waiter.
    const sameSecond = { ...run('early', 10_500), status: 'RECEIVED' as const };
    expect(earlierArrivalPending(waiter, [own], [drop('early', 10_000 - 1)], none, 11_000)).toBe(true);
    expect(earlierArrivalPending(waiter, [own, sameSecond], [drop('early', 9_999)], none, 11_000)).toBe(
      false,
    );
  });

  it('does not count a file dropped after the waiter, nor one older than the grace period', () => {
    expect(earlierArrivalPending(waiter, [], [drop('later', 10_000)], none, 11_000)).toBe(false);
    const old = drop('early', 9_000);
    expect(earlierArrivalPending(waiter, [], [old], none, 9_000 + EARLIER_ARRIVAL_GRACE_MS)).toBe(false);
  });

  it('tells a new drop of a file from the run of its earlier drop: other bytes, or the same bytes again later', () => {
    const earlierRun = run('early', 1_000, 'SUCCEEDED');
    // The same name with other bytes: a new ETag.
    expect(
      earlierArrivalPending(waiter, [earlierRun], [drop('early', 9_000, '"other-etag"')], none, 11_000),
    ).toBe(true);
    // The same bytes dropped again after the first run was received.
    expect(earlierArrivalPending(waiter, [earlierRun], [drop('early', 9_000)], none, 11_000)).toBe(true);
    // S3's quotes around an ETag do not matter, nor does a moment's skew between S3's two clocks.
    const quoted = {
      ...run('early', 8_000),
      status: 'SUCCEEDED' as const,
      source: source('early', 'early-etag'),
    };
    expect(earlierArrivalPending(waiter, [quoted], [drop('early', 9_000)], none, 11_000)).toBe(false);
  });

  it('waits exactly for the earlier drops within the grace period that no run records (property)', () => {
    const dropArbitrary = fc.record({
      name: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      at: fc.integer({ min: 0, max: 3 * EARLIER_ARRIVAL_GRACE_MS }),
      recorded: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(dropArbitrary, { selector: (d) => d.name, maxLength: 5 }),
        fc.integer({ min: 0, max: 3 * EARLIER_ARRIVAL_GRACE_MS }),
        fc.integer({ min: 0, max: 4 * EARLIER_ARRIVAL_GRACE_MS }),
        (drops, queuedAt, now) => {
          // Recorded runs have moved on (queued, in the lane or ended): only the drops can hold the lane.
          const runs = drops
            .filter((d) => d.recorded)
            .map((d) => ({ ...run(d.name, d.at + 200), status: 'PREPARING' as const }));
          const arrivals = drops.map((d) => drop(d.name, d.at));
          const expected = drops.some(
            (d) => !d.recorded && d.at < queuedAt && now - d.at < EARLIER_ARRIVAL_GRACE_MS,
          );
          expect(earlierArrivalPending({ runId: 'w', queuedAt }, runs, arrivals, none, now)).toBe(expected);
        },
      ),
    );
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
