import middy from '@middy/core';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { awsClients } from '../adapters/aws-clients.js';
import { parkedRuns, runStore, taskTokens, webhookLog } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { annotateRun, logger, traceInvocation } from '../adapters/handler-kit.js';
import { openAiWebhookVerifier } from '../adapters/openai-webhooks.js';
import { webhookSecretReader, WebhookSecretNotSetError } from '../adapters/webhook-secret.js';
import { receiveWebhook } from './receive-webhook.js';

const secret = webhookSecretReader(
  awsClients.secrets(),
  readEnvironment('WEBHOOK_SECRET_ID').WEBHOOK_SECRET_ID,
);
const json = (statusCode: number, body: object): LambdaFunctionURLResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * The provider's webhooks, through the function URL. Answers 2xx for every verified delivery it has
 * handled (acted on, duplicate or not ours), 400 for a refused one, and 5xx when it could not act, so
 * the provider retries. Nothing of a request's body is logged.
 */
export const handler = middy<LambdaFunctionURLEvent, LambdaFunctionURLResult>().handler(async (event) => {
  const body = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
    : (event.body ?? '');
  let verify;
  try {
    verify = openAiWebhookVerifier(await secret());
  } catch (error) {
    if (!(error instanceof WebhookSecretNotSetError)) throw error;
    logger.error('webhook not verified', { error });
    // 503: the provider retries for days, and deliveries go through once the secret is set.
    return json(503, { error: 'webhook secret not configured' });
  }
  const outcome = await receiveWebhook(
    { body, headers: event.headers },
    {
      verify,
      log: webhookLog(),
      runs: runStore(),
      parked: parkedRuns(),
      tokens: taskTokens(),
      now: () => Math.floor(Date.now() / 1000),
    },
  );
  if (outcome.status === 'woken') annotateRun({ runId: outcome.runId });
  logger.info('webhook', { ...outcome });
  return outcome.status === 'refused'
    ? json(400, { error: 'refused' })
    : json(200, { status: outcome.status });
});
// Each invocation is a subsegment of its trace (functions/adapters/handler-kit.ts).
handler.use(traceInvocation());
