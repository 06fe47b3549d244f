import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AZURE_MAX_RUNNING_JOBS,
  AZURE_RESULTS,
  azureFlavor,
  azureId,
  azureModelName,
} from './azure-routes.js';
import {
  ARM_PREFIX,
  AzureManagement,
  DEFAULT_DEPLOYMENT_TIMING,
  ENTRA_PREFIX,
  type DeploymentSummary,
  type DeploymentTiming,
  type ServicePrincipal,
} from './azure-management.js';
import { BatchRunner, DEFAULT_BATCH_TIMING, type BatchSummary, type BatchTiming } from './batches.js';
import { Faults } from './faults.js';
import {
  ChatCompletionLog,
  type EmbeddingLog,
  type ChatCompletionUsage,
  type EmbeddingUsage,
} from './store.js';
import { apiHandler } from './http.js';
import { openAiFlavor } from './routes.js';
import { Store } from './store.js';
import { Trainer, type TrainerOptions, type TrainerTiming } from './trainer.js';
import {
  DEFAULT_WEBHOOK_TIMING,
  WebhookSender,
  type WebhookType,
  type WebhookDelivery,
  type WebhookEndpointOptions,
  type WebhookEventRecord,
  type WebhookTiming,
} from './webhooks.js';

export { signWebhook, WEBHOOK_USER_AGENT } from './webhooks.js';
export type { BatchSummary, BatchTiming } from './batches.js';
export type { DeploymentSummary, DeploymentTiming, ServicePrincipal } from './azure-management.js';
export type { ChatCompletionUsage, EmbeddingUsage } from './store.js';
export { BATCH_WEBHOOK_TYPES, FINE_TUNING_WEBHOOK_TYPES } from './webhooks.js';
export type {
  BatchWebhookType,
  FineTuningWebhookType,
  WebhookType,
  WebhookDelivery,
  WebhookEndpointOptions,
  WebhookEventRecord,
  WebhookSignatureHeaders,
} from './webhooks.js';

/**
 * An emulator of OpenAI's fine-tuning API (files, fine_tuning.jobs, models delete) on 127.0.0.1, with
 * chat completions of the models it trained and of base models (chat-completions.ts), online and in
 * batches (the Batch API, batches.ts), in the
 * shapes of the official OpenAPI spec, for the official `openai` SDK pointed at it with `baseURL`.
 * Jobs move validating_files → queued → running → succeeded over accelerated time, and their results
 * are computed: a bigram model really trains on the uploaded tokens (see bigram-model.ts). When a job
 * succeeds, fails or is cancelled, every registered webhook endpoint gets OpenAI's signed event, with
 * OpenAI's retries (see webhooks.ts).
 *
 * It is wired from parts every emulated provider shares: the store (store.ts), the trainer that runs its
 * jobs (trainer.ts) and the HTTP plumbing with its faults (http.ts). OpenAI's own REST API over them is
 * routes.ts (with the per-file size limit and its source) and job-request.ts (the create-job checks, and
 * the base models each method takes, with their sources).
 *
 * With `flavor: 'azure-openai'` it is Azure OpenAI's v1 API instead (azure-routes.ts, every difference
 * with its source): paths under `{endpoint}/openai/v1/`, the key in the `api-key` header, Azure's error
 * body, statuses pending → running → succeeded, one training job at a time, models named
 * `<base>.ft-<hex>`, results.csv in plain text with Azure's columns, UTF-8 files with a BOM, no metadata,
 * no webhooks. Point the `openai` client at it with `baseURL: endpoint + '/openai/v1/'`. A fine-tuned
 * model answers only from a deployment (azure-management.ts): the service principal given as
 * `servicePrincipal` gets an Entra token at `{endpoint}/entra/{tenant}/oauth2/v2.0/token`, deploys it through
 * ARM at `{endpoint}/arm/subscriptions/…/deployments/{name}`, and `POST /openai/v1/chat/completions` with
 * `model` = the deployment's name answers once it has Succeeded. A base embedding model (text-embedding-3-small,
 * -3-large, ada-002) is deployed the same way, as a user does in the portal, and `POST /openai/v1/embeddings`
 * with `model` = that deployment's name answers as OpenAI's /v1/embeddings does.
 */
export interface EmulatorOptions {
  /** Which provider's API to serve. @default 'openai' */
  flavor?: 'openai' | 'azure-openai';
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * When set, only this key is accepted (OpenAI: as a bearer; Azure: in the `api-key` header); otherwise
   * any non-empty one.
   */
  apiKey?: string;
  /** Azure only: the Entra ID token accepted as `Authorization: Bearer …`; without it no bearer is. */
  entraToken?: string;
  /**
   * Azure only: the one service principal the Entra token endpoint accepts, and the subscription, group and
   * account whose deployments it manages in ARM. Without it no token is issued (every deployment call is a 401).
   */
  servicePrincipal?: ServicePrincipal;
  /**
   * Real milliseconds per phase and per training step, per batch stage and per batch request, and the
   * webhook retry schedule.
   */
  timing?: Partial<Timing>;
  /** Webhook endpoints registered at start, as in OpenAI's dashboard; their ids and secrets are in `webhookEndpoints`. */
  webhookEndpoints?: Array<{ url: string } & WebhookEndpointOptions>;
}

type Timing = TrainerTiming & WebhookTiming & BatchTiming & DeploymentTiming;

export interface RunningEmulator {
  /** OpenAI: `http://host:port/v1`, the client's baseURL. Azure: the resource endpoint, as `endpoint`. */
  baseUrl: string;
  /** `http://host:port`: what `https://<resource>.openai.azure.com` is to Azure. */
  endpoint: string;
  port: number;
  /** Switch provider faults on for the next requests or jobs (see faults.ts). */
  faults: Faults;
  /** The most jobs that were validating, queued or running at the same time. */
  maxConcurrentJobs(): number;
  /** Register a webhook endpoint as in OpenAI's dashboard; the secret (whsec_…) is shown only here. */
  registerWebhookEndpoint(url: string, options?: WebhookEndpointOptions): { id: string; secret: string };
  /** Delete an endpoint: it gets no further events, and its pending retries stop. */
  removeWebhookEndpoint(id: string): boolean;
  /** The endpoints registered now, secrets included (those given in EmulatorOptions too). */
  readonly webhookEndpoints: ReadonlyArray<{
    id: string;
    url: string;
    secret: string;
    eventTypes: readonly WebhookType[];
  }>;
  /** Every webhook event emitted, delivered or lost, in order. */
  readonly webhookEvents: readonly WebhookEventRecord[];
  /** Every delivery attempt, in order: event, endpoint, attempt, status or error. */
  readonly webhookDeliveries: readonly WebhookDelivery[];
  /**
   * The chat completions answered so far, in total and per model (as the request named it): calls,
   * choices and tokens, what an evaluation's recorded cost is checked against. A copy, taken when read.
   */
  readonly chatCompletions: {
    total: ChatCompletionUsage;
    byModel: Record<string, ChatCompletionUsage>;
  };
  /**
   * The chat completions answered as lines of batches, in the same shape, counted apart: a batch's lines
   * are not in `chatCompletions`. A copy, taken when read.
   */
  readonly batchChatCompletions: {
    total: ChatCompletionUsage;
    byModel: Record<string, ChatCompletionUsage>;
  };
  /**
   * The embeddings requests answered online (POST /v1/embeddings, OpenAI's or an Azure deployment's), in
   * total and per model as the request named it: calls, inputs and cl100k_base tokens. A copy, taken when
   * read.
   */
  readonly embeddingCalls: { total: EmbeddingUsage; byModel: Record<string, EmbeddingUsage> };
  /** The embeddings requests answered as lines of batches, in the same shape, counted apart. A copy. */
  readonly batchEmbeddingCalls: { total: EmbeddingUsage; byModel: Record<string, EmbeddingUsage> };
  /**
   * Every batch created (POST /v1/batches), oldest first: its status, model, request_counts.total as
   * `requests`, and the lines completed and failed. A copy, taken when read.
   */
  readonly batches: readonly BatchSummary[];
  /**
   * Azure only: the deployments there are now (deleted and auto-deleted ones are gone), oldest first. A copy,
   * taken when read; empty for OpenAI.
   */
  readonly deployments: readonly DeploymentSummary[];
  /**
   * Azure only: the chat completions answered through deployments, per deployment name (kept after the
   * deployment is deleted). They are also in `chatCompletions`, under the deployed model's name.
   */
  readonly deploymentChatCompletions: {
    total: ChatCompletionUsage;
    byDeployment: Record<string, ChatCompletionUsage>;
  };
  /**
   * Azure only, with `servicePrincipal`: its values and where this emulator serves Entra and ARM, the
   * `management` part of the stack's Azure OpenAI secret.
   */
  readonly servicePrincipal?: ServicePrincipal & { authorityHost: string; resourceManager: string };
  /** Resolves once every event emitted so far is delivered or given up on. */
  webhooksSettled(): Promise<void>;
  /** Stops the server, the jobs and every webhook retry or request still pending. */
  close(): Promise<void>;
}

const DEFAULT_TIMING: Timing = {
  validatingMs: 200,
  queuedMs: 200,
  msPerStep: 5,
  ...DEFAULT_WEBHOOK_TIMING,
  ...DEFAULT_BATCH_TIMING,
  ...DEFAULT_DEPLOYMENT_TIMING,
};

export async function startOpenAiEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const faults = new Faults();
  const webhooks = new WebhookSender(timing, faults);
  for (const { url, ...endpointOptions } of options.webhookEndpoints ?? [])
    webhooks.register(url, endpointOptions);
  const azure = options.flavor === 'azure-openai';
  const store = azure ? new Store(azureId) : new Store();
  const trainerOptions: TrainerOptions = {
    timing,
    faults,
    // The event's created_at is when the job reached this status (WebhookFineTuningJob* in the spec).
    onFinished: (job) =>
      webhooks.emit(
        `fine_tuning.job.${job.status as 'succeeded' | 'failed' | 'cancelled'}`,
        job.id,
        job.finished_at!,
      ),
  };
  const trainer = new Trainer(
    store,
    azure
      ? {
          ...trainerOptions,
          // Azure OpenAI has no fine-tuning webhooks (none in the v1 spec): a job's end is polled.
          onFinished: () => undefined,
          maxRunningJobs: AZURE_MAX_RUNNING_JOBS,
          modelName: azureModelName,
          results: AZURE_RESULTS,
          byteOrderMark: 'required',
        }
      : trainerOptions,
  );
  const management = azure ? new AzureManagement(store, faults, timing, options.servicePrincipal) : undefined;
  const flavor = management
    ? azureFlavor({ apiKey: options.apiKey, entraToken: options.entraToken }, [
        management.chatRoute,
        management.embeddingsRoute,
      ])
    : openAiFlavor(options.apiKey);
  // A batch's end is a batch.* webhook (webhooks.ts), created_at when it reached that status; Azure has
  // no webhooks.
  const batches = new BatchRunner(store, timing, faults, (batch) => {
    if (azure) return;
    const status = batch.status as 'completed' | 'failed' | 'expired' | 'cancelled';
    webhooks.emit(`batch.${status}`, batch.id, batch[`${status}_at`] ?? Math.floor(Date.now() / 1000));
  });
  const api = apiHandler({ store, trainer, batches, faults }, flavor);
  const server = createServer((request, response) => {
    if (!management?.handle(request, response)) api(request, response);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${host}:${port}`;
  return {
    baseUrl: azure ? endpoint : `${endpoint}/v1`,
    endpoint,
    port,
    faults,
    maxConcurrentJobs: () => trainer.maxConcurrentJobs(),
    registerWebhookEndpoint: (url, endpointOptions) => webhooks.register(url, endpointOptions),
    removeWebhookEndpoint: (id) => webhooks.remove(id),
    get webhookEndpoints() {
      return [...webhooks.endpoints.values()].map((endpoint) => ({ ...endpoint }));
    },
    get chatCompletions() {
      return copyLog(store.chatCompletions);
    },
    get batchChatCompletions() {
      return copyLog(store.batchChatCompletions);
    },
    get batches() {
      return batches.summaries();
    },
    get embeddingCalls() {
      return copyEmbeddingLog(store.embeddingCalls);
    },
    get batchEmbeddingCalls() {
      return copyEmbeddingLog(store.batchEmbeddingCalls);
    },
    get deployments() {
      return management?.summaries() ?? [];
    },
    get deploymentChatCompletions() {
      const log = copyLog(management?.chatByDeployment ?? new ChatCompletionLog());
      return { total: log.total, byDeployment: log.byModel };
    },
    ...(options.servicePrincipal && azure
      ? {
          servicePrincipal: {
            ...options.servicePrincipal,
            authorityHost: `${endpoint}${ENTRA_PREFIX}`,
            resourceManager: `${endpoint}${ARM_PREFIX}`,
          },
        }
      : {}),
    webhookEvents: webhooks.events,
    webhookDeliveries: webhooks.deliveries,
    webhooksSettled: () => webhooks.settled(),
    async close() {
      trainer.close();
      batches.close();
      management?.close();
      webhooks.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function copyLog(log: ChatCompletionLog) {
  return {
    total: { ...log.total },
    byModel: Object.fromEntries([...log.byModel].map(([model, usage]) => [model, { ...usage }])),
  };
}

function copyEmbeddingLog(log: EmbeddingLog) {
  return {
    total: { ...log.total },
    byModel: Object.fromEntries([...log.byModel].map(([model, usage]) => [model, { ...usage }])),
  };
}
