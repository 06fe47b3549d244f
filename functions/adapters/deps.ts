import { z } from 'zod';
import { findModel, PROVIDER_TITLES, PROVIDERS, type ProviderName } from '../core/catalog.js';
import { InvalidConfigError } from '../core/errors.js';
import type {
  ActiveRuns,
  ChatModels,
  EmbeddingModels,
  FamilyArrivals,
  FineTuningProvider,
  ObjectStore,
  ParkedRuns,
  ProviderSlots,
  RunStore,
  SlotLane,
  TaskTokens,
  WebhookLog,
} from '../core/ports.js';
import {
  EARLIER_ARRIVAL_GRACE_MS,
  earlierArrivalPending,
  handOverFreeSlots,
  mergeHandOvers,
  slotResumer,
  type HandOver,
} from '../core/slots.js';
import { dynamoDbParkedRuns } from './dynamodb-parked-runs.js';
import { dynamoDbModelRegistry, ssmCurrentModelParameters } from './dynamodb-model-registry.js';
import type { CurrentModelParameters, ModelRegistry } from '../core/registry.js';
import { dynamoDbWebhookLog } from './dynamodb-webhook-log.js';
import { sfnTaskTokens } from './sfn-task-tokens.js';
import { awsClients } from './aws-clients.js';
import { dynamoDbFamilyLaneIndex, dynamoDbProviderSlots, familyLaneKey } from './dynamodb-provider-slots.js';
import { dynamoDbActiveRuns, dynamoDbRunStore } from './dynamodb-run-store.js';
import { readEnvironment } from './environment.js';
import { azureChatModels, azureOpenAiProvider } from './azure-openai-provider.js';
import { bedrockProvider } from './bedrock-provider.js';
import { bedrockChatModels } from './bedrock-chat-models.js';
import { bedrockEmbeddingModels } from './bedrock-embeddings.js';
import { azureEmbeddingModels, openAiEmbeddingModels } from './openai-embeddings.js';
import type { ThrottlePolicy } from './embedding-retries.js';
import { openAiChatModels, openAiProvider } from './openai-provider.js';
import type { ContextWithProviderSecrets } from './provider-secrets.js';
import { s3FamilyArrivals } from './s3-family-arrivals.js';
import { s3ObjectStore } from './s3-object-store.js';
import type { ProviderCallOutcome } from './openai-compatible.js';
import { runMetrics } from './run-metrics.js';
import { publishingRunStore } from '../core/run-events.js';
import { eventBridgeRunEvents } from './eventbridge-run-events.js';
import { logger } from './handler-kit.js';

/** The production wiring of the ports, in one place. Steps receive these; tests pass fakes instead. */
export const objectStore = (): ObjectStore => s3ObjectStore(awsClients.s3());

/**
 * The runs, publishing every status move on the default EventBridge bus (core/run-events.ts): the only
 * RunStore the steps get, so none can forget to. Its client is made on the first move: a function that
 * only reads runs never calls EventBridge (and holds no events:PutEvents grant).
 */
export const runStore = (): RunStore =>
  publishingRunStore(
    dynamoDbRunStore(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE),
    {
      published: (events) => eventBridgeRunEvents(awsClients.eventBridge()).published(events),
    },
    {
      onPublishError: (error, events) =>
        logger.error('run event not published; the run is recorded', {
          error,
          events: events.map((event) => event.detail),
        }),
    },
  );

/** The runs not ended yet, by when their status began: the sweep's stuck runs (core/stuck-runs.ts). */
export const activeRuns = (): ActiveRuns =>
  dynamoDbActiveRuns(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

export const providerSlots = (provider: ProviderName): ProviderSlots =>
  dynamoDbProviderSlots(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE, { provider });

/** One run per family at a time: a family's lane is a slot set of one. */
export const FAMILY_LANE_LIMIT = 1;

/** A family's lane: its active run holds it, the family's other runs queue in the order received. */
export const familyLane = (family: string): ProviderSlots =>
  dynamoDbProviderSlots(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE, {
    itemKey: familyLaneKey(family),
  });

/** The families that have a lane (for the sweep). */
export const familyLanes = () =>
  dynamoDbFamilyLaneIndex(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

/** The providers this stack trains on: its functions hold their permissions and secrets. */
export const enabledProviders = (): ProviderName[] =>
  z.array(z.enum(PROVIDERS)).parse(JSON.parse(readEnvironment('PROVIDERS').PROVIDERS));

/**
 * How many jobs may train at once on a provider. Azure OpenAI runs one training job at a time per
 * resource ("Max number of simultaneous running training jobs: 1", quotas-limits, read 2026-11-29;
 * docs/providers.md A4): more would only wait in Azure's queue while their maxTrainingHours run.
 */
export const slotLimit = (provider: ProviderName): number =>
  provider === 'azure-openai' ? 1 : readEnvironment('PROVIDER_CONCURRENCY').PROVIDER_CONCURRENCY;

export const modelRegistry = (): ModelRegistry =>
  dynamoDbModelRegistry(awsClients.documents(), readEnvironment('MODEL_REGISTRY_TABLE').MODEL_REGISTRY_TABLE);

export const currentModelParameters = (): CurrentModelParameters =>
  ssmCurrentModelParameters(awsClients.ssm(), readEnvironment('PARAMETER_PREFIX').PARAMETER_PREFIX);

export const parkedRuns = (): ParkedRuns =>
  dynamoDbParkedRuns(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

export const webhookLog = (): WebhookLog =>
  dynamoDbWebhookLog(awsClients.documents(), readEnvironment('RUNS_TABLE').RUNS_TABLE);

export const taskTokens = (): TaskTokens => sfnTaskTokens(awsClients.sfn());

/** Resumes a run given a provider slot (core/slots.ts), or its family's turn (lane 'family'). */
export const slotResume = (lane: SlotLane = 'provider') =>
  slotResumer(parkedRuns(), taskTokens(), Date.now, lane);

/** The drops in a family's incoming folder (a family's lane waits for those received earlier). */
export const familyArrivals = (): FamilyArrivals => {
  const env = readEnvironment('DATA_BUCKET', 'INCOMING_PREFIX');
  return s3FamilyArrivals(awsClients.s3(), env.DATA_BUCKET, env.INCOMING_PREFIX);
};

/** Gives a family's lane to its oldest waiting run, if the lane is free, and resumes it. */
export const handOverFamilyTurn = async (family: string): Promise<HandOver> => {
  const runs = runStore();
  const lane = familyLane(family);
  return handOverFreeSlots({
    slots: lane,
    limit: FAMILY_LANE_LIMIT,
    statusOf: async (runId) => (await runs.get(runId))?.status,
    resume: slotResume('family'),
    now: Date.now,
    // A run received earlier whose file is being checked, or not yet, goes first (core/slots.ts). The drops
    // are listed before the runs: a drop recorded between the two reads is then found recorded.
    mayGrant: async (waiter) => {
      const now = Date.now();
      const arrivals = await familyArrivals().since(family, now - EARLIER_ARRIVAL_GRACE_MS);
      const queue = { waiting: await lane.waiting(), holders: await lane.holders() };
      return !earlierArrivalPending(waiter, await runs.listFamily(family), arrivals, queue, now);
    },
  });
};

/** Hands over every family's free lane (the sweep's share of families). */
export const handOverFamilyTurns = async (): Promise<HandOver> => {
  const handOvers: HandOver[] = [];
  for (const family of await familyLanes().families()) handOvers.push(await handOverFamilyTurn(family));
  return mergeHandOvers(handOvers);
};

/** Gives each provider's free slots to its queue's oldest runs and resumes them (core/slots.ts). */
export const handOverSlots = async (): Promise<HandOver> => {
  const runs = runStore();
  const handOvers: HandOver[] = [];
  for (const name of enabledProviders())
    handOvers.push(
      await handOverFreeSlots({
        slots: providerSlots(name),
        limit: slotLimit(name),
        statusOf: async (runId) => (await runs.get(runId))?.status,
        resume: slotResume(),
        now: Date.now,
      }),
    );
  return mergeHandOvers(handOvers);
};

/**
 * The provider a run trains on, for one invocation. OpenAI's key and Azure's endpoint and key come from
 * their secrets (read when first needed); Bedrock needs none (the function's role, and the service role
 * Bedrock assumes). Every provider call, with its retries, ends before the invocation does: a step that
 * runs out of time fails with a retryable error the workflow retries, instead of Lambda stopping it
 * mid-call. The per-attempt timeout of API calls is PROVIDER_TIMEOUT_MS when set (default
 * API_ATTEMPT_TIMEOUT_MS in provider-timeouts.ts); OpenAI's base URL is OPENAI_BASE_URL when set.
 */
/** Each provider call's time budget (within the invocation's) and its metrics. */
function providerBudget(
  name: ProviderName,
  invocation: Pick<ContextWithProviderSecrets, 'getRemainingTimeInMillis'>,
) {
  const timeout = Number(process.env.PROVIDER_TIMEOUT_MS);
  return {
    ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}),
    remainingTimeMs: () => invocation.getRemainingTimeInMillis(),
    // Each call's latency and failure, as the ProviderCallLatency and ProviderCallErrors metrics.
    onCall: (call: ProviderCallOutcome) => runMetrics.providerCall({ provider: name, ...call }),
  };
}

/**
 * Where evaluation asks a provider's models: OpenAI's chat completions. Azure OpenAI and Amazon Bedrock
 * serve a fine-tuned model only once it is deployed, which tunedrop does not do yet: `unavailable` says
 * so, with what the user can do (docs/evaluation-facts.md 2 and 3, read 2026-11-30).
 */
export const chatModels = async (
  name: ProviderName,
  invocation: Pick<ContextWithProviderSecrets, 'getRemainingTimeInMillis' | 'providerSecrets'>,
  /** The run's base model (the catalog's id): on Bedrock, whether its custom models answer on demand. */
  model?: string,
): Promise<{ chat: ChatModels } | { chat: undefined; unavailable: { reason: string; fix: string } }> => {
  const fix = `Compare the new model with the current one where ${PROVIDER_TITLES[name]} serves them, then \`npx tunedrop models promote <model>\`; or set "evaluation": {"enabled": false} in the family's tunedrop.json to promote each new model unevaluated.`;
  switch (name) {
    case 'openai':
      return {
        chat: openAiChatModels({
          apiKey: await invocation.providerSecrets.openAiKey(),
          ...providerBudget(name, invocation),
        }),
      };
    case 'azure-openai': {
      if (!model || !findModel(model, 'azure-openai')?.developerDeployment)
        return {
          chat: undefined,
          unavailable: {
            reason: `Azure OpenAI answers with a fine-tuned model only from a deployment of it, and a fine-tune of ${model ?? 'this base model'} has no Developer deployment (no hosting fee) but only Standard or Global ones at $1.70 an hour, which tunedrop does not make`,
            fix,
          },
        };
      const credentials = await invocation.providerSecrets.azureOpenAi();
      if (!credentials.management)
        return {
          chat: undefined,
          unavailable: {
            reason:
              'Azure OpenAI answers with a fine-tuned model only from a deployment of it, and the Azure OpenAI secret names no service principal that may deploy one',
            fix: `Add "management": {"tenantId", "clientId", "clientSecret", "subscriptionId", "resourceGroup", "accountName"} to the Azure OpenAI secret for a service principal with Microsoft.CognitiveServices/accounts/deployments/write on the resource (docs/evaluation.md): tunedrop then deploys each model it evaluates in the Developer tier (no hosting fee) and removes it. Or: ${fix}`,
          },
        };
      return { chat: azureChatModels({ ...credentials, ...providerBudget(name, invocation) }) };
    }
    case 'bedrock': {
      if (!model || !findModel(model, 'bedrock')?.onDemand)
        return {
          chat: undefined,
          unavailable: {
            reason: `Amazon Bedrock runs a custom model of ${model ?? 'this base model'} only with Provisioned Throughput (billed by the hour, which tunedrop does not buy); on-demand deployments are for Amazon Nova Micro, Lite and Pro custom models`,
            fix,
          },
        };
      const env = readEnvironment('BEDROCK_ROLE_ARN');
      return {
        chat: bedrockChatModels({
          control: awsClients.bedrock(),
          runtime: awsClients.bedrockRuntime(),
          roleArn: env.BEDROCK_ROLE_ARN ?? '',
          modelIdOf: (id) => findModel(id, 'bedrock')?.onDemand?.modelId ?? id,
        }),
      };
    }
  }
};

/** How an embedding run's provider calls are made; every field has a default. */
export interface EmbeddingModelsSettings {
  /** Bedrock: texts in flight at once per request (one InvokeModel per text). @default 8 */
  concurrency?: number | undefined;
  /** Backoff of throttled requests (429, ThrottlingException). @default DEFAULT_THROTTLE_POLICY */
  throttle?: Partial<ThrottlePolicy> | undefined;
}

/**
 * Where an embedding run embeds (#15): OpenAI's /embeddings and Batch API with the key from its secret,
 * Azure OpenAI's v1 /embeddings with the endpoint and key from its secret (no batches), Amazon Bedrock's
 * InvokeModel with the function's role. Each call's budget is within the invocation's, like `provider`'s.
 */
export const embeddingModels = async (
  name: ProviderName,
  invocation: Pick<ContextWithProviderSecrets, 'getRemainingTimeInMillis' | 'providerSecrets'>,
  settings: EmbeddingModelsSettings = {},
): Promise<EmbeddingModels> => {
  if (!enabledProviders().includes(name))
    throw new InvalidConfigError(
      `this stack is not deployed to use ${PROVIDER_TITLES[name]}`,
      `Deploy it with "${name}" among the pipeline's providers (the "providers" prop, docs/configuration.md), or set "provider" in the collection's tunedrop.json to one of: ${enabledProviders().join(', ')}.`,
    );
  const budget = providerBudget(name, invocation);
  switch (name) {
    case 'openai':
      return openAiEmbeddingModels({
        apiKey: await invocation.providerSecrets.openAiKey(),
        ...budget,
        throttle: settings.throttle,
      });
    case 'azure-openai': {
      const { endpoint, apiKey } = await invocation.providerSecrets.azureOpenAi();
      return azureEmbeddingModels({ endpoint, apiKey, ...budget, throttle: settings.throttle });
    }
    case 'bedrock':
      return bedrockEmbeddingModels({
        runtime: awsClients.bedrockRuntime(),
        concurrency: settings.concurrency,
        throttle: settings.throttle,
        remainingTimeMs: budget.remainingTimeMs,
        onCall: budget.onCall,
      });
  }
};

export const provider = async (
  name: ProviderName,
  invocation: Pick<ContextWithProviderSecrets, 'getRemainingTimeInMillis' | 'providerSecrets'>,
): Promise<FineTuningProvider> => {
  if (!enabledProviders().includes(name))
    throw new InvalidConfigError(
      `this stack is not deployed to train on ${PROVIDER_TITLES[name]}`,
      `Deploy it with "${name}" among the pipeline's providers (the "providers" prop, docs/configuration.md), or set "provider" to one of: ${enabledProviders().join(', ')}.`,
    );
  const budget = providerBudget(name, invocation);
  switch (name) {
    case 'openai':
      return openAiProvider({ apiKey: await invocation.providerSecrets.openAiKey(), ...budget });
    case 'azure-openai':
      return azureOpenAiProvider({ ...(await invocation.providerSecrets.azureOpenAi()), ...budget });
    case 'bedrock': {
      const env = readEnvironment('DATA_BUCKET', 'BEDROCK_ROLE_ARN');
      if (!env.BEDROCK_ROLE_ARN)
        throw new InvalidConfigError(
          'the Bedrock service role is not configured (BEDROCK_ROLE_ARN)',
          'Redeploy the stack with "bedrock" among its providers.',
        );
      return bedrockProvider({
        client: awsClients.bedrock(),
        store: objectStore(),
        bucket: env.DATA_BUCKET,
        roleArn: env.BEDROCK_ROLE_ARN,
        remainingTimeMs: budget.remainingTimeMs,
        onCall: budget.onCall,
      });
    }
  }
};
