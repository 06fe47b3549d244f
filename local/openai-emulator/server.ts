import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Faults } from './faults.js';
import { openAiHandler } from './routes.js';
import { Store } from './store.js';
import { Trainer, type TrainerTiming } from './trainer.js';
import {
  DEFAULT_WEBHOOK_TIMING,
  WebhookSender,
  type FineTuningWebhookType,
  type WebhookDelivery,
  type WebhookEndpointOptions,
  type WebhookEventRecord,
  type WebhookTiming,
} from './webhooks.js';

export { signWebhook, WEBHOOK_USER_AGENT } from './webhooks.js';
export type {
  FineTuningWebhookType,
  WebhookDelivery,
  WebhookEndpointOptions,
  WebhookEventRecord,
  WebhookSignatureHeaders,
} from './webhooks.js';

/**
 * An emulator of OpenAI's fine-tuning API (files, fine_tuning.jobs, models delete) on 127.0.0.1, in the
 * shapes of the official OpenAPI spec, for the official `openai` SDK pointed at it with `baseURL`.
 * Jobs move validating_files → queued → running → succeeded over accelerated time, and their results
 * are computed: a bigram model really trains on the uploaded tokens (see bigram-model.ts). When a job
 * succeeds, fails or is cancelled, every registered webhook endpoint gets OpenAI's signed event, with
 * OpenAI's retries (see webhooks.ts).
 *
 * It is wired from parts an Azure-shaped mode or a Bedrock emulator can share: the store (store.ts) and
 * the trainer that runs its jobs (trainer.ts). OpenAI's own REST API over them is routes.ts (with the
 * per-file size limit and its source) and job-request.ts (the create-job checks, and the base models
 * each method takes, with their sources).
 */
export interface EmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** When set, only this bearer key is accepted; otherwise any non-empty key. */
  apiKey?: string;
  /** Real milliseconds per phase and per training step, and the webhook retry schedule. */
  timing?: Partial<Timing>;
  /** Webhook endpoints registered at start, as in OpenAI's dashboard; their ids and secrets are in `webhookEndpoints`. */
  webhookEndpoints?: Array<{ url: string } & WebhookEndpointOptions>;
}

type Timing = TrainerTiming & WebhookTiming;

export interface RunningEmulator {
  baseUrl: string;
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
    eventTypes: readonly FineTuningWebhookType[];
  }>;
  /** Every webhook event emitted, delivered or lost, in order. */
  readonly webhookEvents: readonly WebhookEventRecord[];
  /** Every delivery attempt, in order: event, endpoint, attempt, status or error. */
  readonly webhookDeliveries: readonly WebhookDelivery[];
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
};

export async function startOpenAiEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const faults = new Faults();
  const webhooks = new WebhookSender(timing, faults);
  for (const { url, ...endpointOptions } of options.webhookEndpoints ?? [])
    webhooks.register(url, endpointOptions);
  const store = new Store();
  const trainer = new Trainer(store, {
    timing,
    faults,
    // The event's created_at is when the job reached this status (WebhookFineTuningJob* in the spec).
    onFinished: (job) =>
      webhooks.emit(
        `fine_tuning.job.${job.status as 'succeeded' | 'failed' | 'cancelled'}`,
        job.id,
        job.finished_at!,
      ),
  });
  const server = createServer(openAiHandler({ store, trainer, faults, apiKey: options.apiKey }));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://${host}:${port}/v1`,
    port,
    faults,
    maxConcurrentJobs: () => trainer.maxConcurrentJobs(),
    registerWebhookEndpoint: (url, endpointOptions) => webhooks.register(url, endpointOptions),
    removeWebhookEndpoint: (id) => webhooks.remove(id),
    get webhookEndpoints() {
      return [...webhooks.endpoints.values()].map((endpoint) => ({ ...endpoint }));
    },
    webhookEvents: webhooks.events,
    webhookDeliveries: webhooks.deliveries,
    webhooksSettled: () => webhooks.settled(),
    async close() {
      trainer.close();
      webhooks.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
