import middy from '@middy/core';
import {
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

/**
 * Every few minutes (an EventBridge schedule): gives free provider slots and family lanes to waiting runs. Record and
 * reconcile hand slots over as they free them; this catches what they could not (a crash between
 * releasing and handing over, a holder whose run ended unrecorded, a resume that failed).
 */
export const handler = middy().handler(async () => {
  const handOver = mergeHandOvers([await handOverSlots(), await handOverFamilyTurns()]);
  if (handOver.granted.length > 0 || handOver.skipped.length > 0)
    logger.info('slots handed over', { ...handOver });
  await countWaiting(runMetrics).catch((error: unknown) =>
    logger.warn('counting waiting runs failed', { error }),
  );
  return handOver;
});
// The RunsWaiting gauge is written when the invocation ends.
handler.use(runMetricsMiddleware((error) => logger.warn('writing the metrics failed', { error })));
handler.use(traceInvocation());

/** The runs still waiting after the hand-over, per provider's slots and per family's lane (RunsWaiting). */
async function countWaiting(metrics: RunMetrics): Promise<void> {
  for (const provider of enabledProviders())
    metrics.runsWaiting({ provider, count: (await providerSlots(provider).waiting()).length });
  for (const family of await familyLanes().families())
    metrics.runsWaiting({ family, count: (await familyLane(family).waiting()).length });
}
