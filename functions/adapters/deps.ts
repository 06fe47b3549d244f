import type { Context } from 'aws-lambda';
import type {
  FineTuningProvider,
  ObjectStore,
  ParkedRuns,
  ProviderSlots,
  RunStore,
  TaskTokens,
  WebhookLog,
} from '../core/ports.js';
import { handOverFreeSlots, slotResumer, type HandOver } from '../core/slots.js';
import { dynamoDbParkedRuns } from './dynamodb-parked-runs.js';
import { dynamoDbWebhookLog } from './dynamodb-webhook-log.js';
import { sfnTaskTokens } from './sfn-task-tokens.js';
import { awsClients } from './aws-clients.js';
import { dynamoDbProviderSlots } from './dynamodb-provider-slots.js';
import { dynamoDbRunStore } from './dynamodb-run-store.js';
import { readEnvironment } from './environment.js';
import { openAiProvider } from './openai-provider.js';
import { s3ObjectStore } from './s3-object-store.js';

/** The production wiring of the ports, in one place. Steps receive these; tests pass fakes instead. */
export const objectStore = (): ObjectStore => s3ObjectStore(awsClients.s3());

export const runStore = (): RunStore =>
  dynamoDbRunStore(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

export const providerSlots = (): ProviderSlots =>
  dynamoDbProviderSlots(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

export const parkedRuns = (): ParkedRuns =>
  dynamoDbParkedRuns(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

export const webhookLog = (): WebhookLog =>
  dynamoDbWebhookLog(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

export const taskTokens = (): TaskTokens => sfnTaskTokens(awsClients.sfn());

/** Resumes a run given a provider slot (core/slots.ts). */
export const slotResume = () => slotResumer(parkedRuns(), taskTokens(), Date.now);

/** Gives free provider slots to the queue's oldest runs and resumes them (core/slots.ts). */
export const handOverSlots = (): Promise<HandOver> => {
  const runs = runStore();
  return handOverFreeSlots({
    slots: providerSlots(),
    limit: readEnvironment('PROVIDER_CONCURRENCY').PROVIDER_CONCURRENCY,
    statusOf: async (runId) => (await runs.get(runId))?.status,
    resume: slotResume(),
    now: Date.now,
  });
};

/**
 * The provider for one invocation; the key comes from the middleware, the base URL from OPENAI_BASE_URL if
 * set, the per-attempt timeout of API calls from PROVIDER_TIMEOUT_MS (default API_ATTEMPT_TIMEOUT_MS in
 * provider-timeouts.ts), each capped so that every provider call (with its retries) ends before the
 * invocation does: a step that runs out of time fails with a retryable error the workflow retries,
 * instead of Lambda stopping it mid-call.
 */
export const provider = (
  apiKey: string,
  invocation: Pick<Context, 'getRemainingTimeInMillis'>,
): FineTuningProvider => {
  const timeout = Number(process.env.PROVIDER_TIMEOUT_MS);
  return openAiProvider({
    apiKey,
    ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}),
    remainingTimeMs: () => invocation.getRemainingTimeInMillis(),
  });
};
