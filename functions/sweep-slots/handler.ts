import middy from '@middy/core';
import { handOverSlots } from '../adapters/deps.js';
import { logger } from '../adapters/handler-kit.js';

/**
 * Every few minutes (an EventBridge schedule): gives free provider slots to waiting runs. Record and
 * reconcile hand slots over as they free them; this catches what they could not (a crash between
 * releasing and handing over, a holder whose run ended unrecorded, a resume that failed).
 */
export const handler = middy().handler(async () => {
  const handOver = await handOverSlots();
  if (handOver.granted.length > 0 || handOver.skipped.length > 0)
    logger.info('slots handed over', { ...handOver });
  return handOver;
});
