import { HISTORY } from '../../functions/core/workflow-state.js';
import { measureWaiting, waitingVerdicts, WAITING_SCENARIOS } from '../bench/waiting.js';

/**
 * The synthesized state machine, on simulated time, with the real waiting steps on in-memory stores (the
 * scenarios of `npm run bench -- waiting`): what a run costs in state transitions and history events is
 * what functions/core/workflow-state.ts predicts, and meets issue #8's targets. Counts, not timings.
 */
describe('waiting on the synthesized state machine', () => {
  let results: Awaited<ReturnType<typeof measureWaiting>>[];
  beforeAll(async () => {
    results = [];
    for (const scenario of WAITING_SCENARIOS) results.push(await measureWaiting(scenario));
  });

  it('ends every scenario SUCCEEDED, a lost webhook included', () => {
    expect(results.map((r) => [r.name, r.mode, r.status])).toEqual(
      WAITING_SCENARIOS.map((s) => [s.name, s.mode, 'SUCCEEDED']),
    );
  });

  it('makes exactly the transitions and history events workflow-state.ts predicts', () => {
    for (const r of results) {
      expect({ name: r.name, mode: r.mode, transitions: r.transitions, events: r.historyEvents }).toEqual({
        name: r.name,
        mode: r.mode,
        transitions: r.predictedTransitions,
        events: r.predictedHistoryEvents,
      });
    }
  });

  it("meets the issue's targets: 20 transitions with webhooks, 40 polling a 1 h job, constant slot waits, under 25,000 events", () => {
    expect(waitingVerdicts(results).filter((v) => !v.ok)).toEqual([]);
    expect(Math.max(...results.map((r) => r.historyEvents))).toBeLessThan(0.25 * HISTORY.limit);
  });

  it('ends a run as its job ends when the webhook comes, and at the safety net when it is lost', () => {
    const late = (name: string) => results.find((r) => r.name === name && r.mode === 'webhooks')!.lateSeconds;
    expect(late('24 h job')).toBe(0);
    // A 2 h job: the safety-net turns are 1 h then 4 h, so the lost webhook costs 3 h.
    expect(late('2 h job, webhook lost')).toBe(3 * 3600);
  });
});
