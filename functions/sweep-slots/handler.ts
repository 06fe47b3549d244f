import middy from '@middy/core';
import {
  activeRuns,
  enabledProviders,
  familyLane,
  familyLanes,
  handOverFamilyTurns,
  handOverSlots,
  providerSlots,
} from '../adapters/deps.js';
import { mergeHandOvers } from '../core/slots.js';
import { logger, traceInvocation } from '../adapters/handler-kit.js';
import { runMetrics, runMetricsMiddleware } from '../adapters/run-metrics.js';
import type { RunMetrics } from '../core/metrics.js';
import { readEnvironment } from '../adapters/environment.js';
import { countStuck } from './count-stuck.js';

/** The stuck runs logged by id in one sweep: enough to start from; the gauge counts them all. */
const STUCK_RUNS_LOGGED = 50;

/**
 * Every few minutes (an EventBridge schedule): gives free provider slots and family lanes to waiting runs. Record and
 * reconcile hand slots over as they free them; this catches what they could not (a crash between
 * releasing and handing over, a holder whose run ended unrecorded, a resume that failed). Then counts the
 * runs stuck in one status (RunsStuck; the RunStuck alarm) and logs them, so the operator can find them.
 */
export const handler = middy().handler(async () => {
  const handOver = mergeHandOvers([await handOverSlots(), await handOverFamilyTurns()]);
  if (handOver.granted.length > 0 || handOver.skipped.length > 0)
    logger.info('slots handed over', { ...handOver });
  await countWaiting(runMetrics).catch((error: unknown) =>
    logger.warn('counting waiting runs failed', { error }),
  );
  await logStuck().catch((error: unknown) => logger.warn('counting stuck runs failed', { error }));
  return handOver;
});
// The RunsWaiting and RunsStuck gauges are written when the invocation ends.
handler.use(runMetricsMiddleware((error) => logger.warn('writing the metrics failed', { error })));
handler.use(traceInvocation());

/** The runs still waiting after the hand-over, per provider's slots and per family's lane (RunsWaiting). */
async function countWaiting(metrics: RunMetrics): Promise<void> {
  for (const provider of enabledProviders())
    metrics.runsWaiting({ provider, count: (await providerSlots(provider).waiting()).length });
  for (const family of await familyLanes().families())
    metrics.runsWaiting({ family, count: (await familyLane(family).waiting()).length });
}

/** Counts the stuck runs (RunsStuck) and logs them at warn level: their ids, statuses and since when. */
async function logStuck(): Promise<void> {
  const stuckMinutes = readEnvironment('STUCK_RUN_MINUTES').STUCK_RUN_MINUTES;
  const stuck = await countStuck({ runs: activeRuns(), metrics: runMetrics, stuckMinutes });
  if (stuck.length > 0)
    logger.warn('runs stuck in one status', {
      stuckRunMinutes: stuckMinutes,
      count: stuck.length,
      runs: stuck.slice(0, STUCK_RUNS_LOGGED),
    });
}
