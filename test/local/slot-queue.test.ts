import type { RunRecord } from '../../functions/core/run.js';
import { STATE } from '../../lib/workflow.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { withoutAction } from '../support/grants.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * The provider slot queue end to end, with one slot: runs park in Acquire provider slot, the run that
 * ends hands its slot to the oldest waiting one, and the 10-minute sweep resumes a waiting run that
 * nobody handed a slot to.
 */
async function withQueue<T>(
  options: { recordCannotResume?: boolean },
  scenario: (h: LocalHarness) => Promise<T>,
): Promise<T> {
  const h = await startLocalHarness({
    apiKey: 'sk-test-slot-queue',
    // Jobs train about half a second (scaled: 500 s), long enough for the others to queue behind them.
    timing: { validatingMs: 10, queuedMs: 500, msPerStep: 0 },
    cloud: {
      pipeline: { providerConcurrency: 1 },
      onLog: () => undefined,
      ...(options.recordCannotResume
        ? {
            transformTemplate: withoutAction(
              { entry: 'functions/record/handler.ts' },
              'states:SendTaskSuccess',
            ),
          }
        : {}),
    },
  });
  try {
    return await scenario(h);
  } finally {
    await h.close();
  }
}

async function dropThree(h: LocalHarness): Promise<RunRecord[]> {
  const runIds: string[] = [];
  for (const name of ['first', 'second', 'third'])
    runIds.push(await h.cloud.drop(SAMPLE, `incoming/queue/${name}.jsonl`));
  return Promise.all(runIds.map((runId) => h.cloud.waitForRun(runId, { timeoutMs: 60_000 })));
}

/** The Acquire provider slot events of a run's execution, by type. */
function slotEvents(cloud: LocalCloud, runId: string): string[] {
  const execution = cloud.stepFunctions.list().find((e) => e.name === runId)!;
  return execution.history.filter((e) => e.stateName === STATE.acquireSlot).map((e) => e.type);
}

it('runs one job at a time, each waiting run parked once and resumed by the run before it', async () => {
  await withQueue({}, async (h) => {
    const runs = await dropThree(h);
    expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(h.emulator.maxConcurrentJobs()).toBe(1);
    for (const run of runs)
      expect(slotEvents(h.cloud, run.runId)).toEqual([
        'TaskStateEntered',
        'TaskScheduled',
        'TaskStarted',
        'TaskSubmitted',
        'TaskSucceeded',
        'TaskStateExited',
      ]);
    // Resumed by Record of the run before (SendTaskSuccess as its role), not by asking again.
    const resumers = h.cloud.iamDecisions
      .filter((d) => d.action === 'states:SendTaskSuccess' && d.allowed)
      .map((d) => d.principal);
    expect(resumers.some((p) => p.includes('PipelineRecord'))).toBe(true);
  });
}, 90_000);

it('resumes a waiting run by the sweep when the run that freed the slot could not hand it over', async () => {
  await withQueue({ recordCannotResume: true }, async (h) => {
    const runs = await dropThree(h);
    expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(h.emulator.maxConcurrentJobs()).toBe(1);
    const sendTaskSuccess = h.cloud.iamDecisions.filter((d) => d.action === 'states:SendTaskSuccess');
    // Record resumed no one (it may not; whether it tried depends on whether a sweep was quicker, between
    // its release of the slot and its hand-over), and the sweep did.
    expect(sendTaskSuccess.some((d) => d.principal.includes('PipelineRecord') && d.allowed)).toBe(false);
    expect(sendTaskSuccess.some((d) => d.principal.includes('PipelineSweepSlots') && d.allowed)).toBe(true);
  });
}, 90_000);
