import middy from '@middy/core';
import { handOverFamilyTurns, handOverSlots } from '../adapters/deps.js';
import { mergeHandOvers } from '../core/slots.js';
import { logger } from '../adapters/handler-kit.js';

/**
 * Every few minutes (an EventBridge schedule): gives free provider slots and family lanes to waiting runs. Record and
 * reconcile hand slots over as they free them; this catches what they could not (a crash between
 * releasing and handing over, a holder whose run ended unrecorded, a resume that failed).
 */
export const handler = middy().handler(async () => {
  const handOver = mergeHandOvers([await handOverSlots(), await handOverFamilyTurns()]);
  if (handOver.granted.length > 0 || handOver.skipped.length > 0)
    logger.info('slots handed over', { ...handOver });
  return handOver;
});
