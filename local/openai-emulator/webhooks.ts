import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Faults, WebhookFault } from './faults.js';

/**
 * OpenAI's fine-tuning webhooks, sent the way OpenAI sends them, so local mode can run the event-driven
 * path end to end and tests can break it on purpose.
 *
 * What OpenAI documents, and this module follows:
 * - Registration: an endpoint is a URL plus event types, configured per project; "After creating a new
 *   webhook, you'll receive a signing secret" (https://platform.openai.com/docs/guides/webhooks, read
 *   2026-11-29). The secret follows Standard Webhooks: random bytes, "At least 24 bytes (192 bits, 512
 *   maximum)", "base64 encoded, prefixed with `whsec_`"
 *   (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md, read
 *   2026-11-29). OpenAI does not say how many bytes; 32 here.
 * - The request: a POST with `user-agent: OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)`,
 *   `content-type: application/json`, `webhook-id: wh_<32 hex>`, `webhook-timestamp: <unix seconds>`,
 *   `webhook-signature: v1,<base64>`, and the body `{"object":"event","id":"evt_<32 hex>","type":…,
 *   "created_at":…,"data":{"id":…}}` (the example request in the guide above, read 2026-11-29). The
 *   fine-tuning bodies are WebhookFineTuningJobSucceeded/Failed/Cancelled in ../shared/openai/openapi.yaml:
 *   created_at is when the job reached that status, data.id the job id.
 * - The signature: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the secret's
 *   base64-decoded bytes after `whsec_` (Standard Webhooks spec above; openai-node's verifyWebhookSignature
 *   in node_modules/openai/lib/webhook-signature.mjs, 7.57.0, read 2026-11-29, decodes a `whsec_` secret
 *   from base64 and any other secret as UTF-8, and accepts a timestamp within 300 s either way).
 * - The timestamp is the attempt's, not the event's: "Every time an attempt is retried the timestamp of
 *   the attempt is updated", while the id "remains the same no matter how many times a webhook that has
 *   failed is retried" (Standard Webhooks spec above, read 2026-11-29). So each attempt is signed anew.
 * - Retries: "If the endpoint doesn't return a successful (2xx) status code, or doesn't respond within a
 *   few seconds, the webhook request will be retried. OpenAI will continue to attempt delivery for up to
 *   72 hours with exponential backoff. Note that 3xx redirects will not be followed; they are treated as
 *   failures" (OpenAI's guide above, read 2026-11-29). OpenAI publishes no schedule; Standard Webhooks'
 *   example schedule has 10 attempts over about 75 hours. Here: attempt n+1 waits
 *   `webhookRetryBaseMs × 2^(n-1)` after attempt n fails, up to `webhookMaxAttempts` attempts (default
 *   10, so the real 72 hours become 100 ms × 511 ≈ 51 s), and a receiver gets `webhookTimeoutMs`
 *   (default 5 s, "a few seconds") to answer. No jitter, so tests can measure the backoff.
 *
 * Not emulated: the webhook_endpoints REST API (openai-node 7.57 has client.webhooks.create/list/…),
 * secret rotation's second signature, and disabling an endpoint that keeps failing (OpenAI documents none).
 */

export type FineTuningWebhookType =
  'fine_tuning.job.succeeded' | 'fine_tuning.job.failed' | 'fine_tuning.job.cancelled';

/**
 * The Batch API's events: WebhookBatchCompleted/Failed/Expired/Cancelled of ../shared/openai/openapi.yaml
 * (the `webhooks:` section batch_completed, batch_failed, batch_expired, batch_cancelled; docs/embeddings-facts.md
 * 1.7, read 2026-11-30): the same body as the fine-tuning ones, {id, object: "event", type, created_at,
 * data: {id: <batch id>}}, created_at being when the batch reached that status, signed and retried the
 * same way. An endpoint gets them when it subscribes to them (`eventTypes`), as OpenAI's dashboard has an
 * endpoint choose its events; the default stays the fine-tuning events, which is what endpoints
 * registered before batch events existed here expect.
 */
export type BatchWebhookType = 'batch.completed' | 'batch.failed' | 'batch.expired' | 'batch.cancelled';

export const BATCH_WEBHOOK_TYPES: readonly BatchWebhookType[] = [
  'batch.completed',
  'batch.failed',
  'batch.expired',
  'batch.cancelled',
];

/** Every event type the emulator emits. */
export type WebhookType = FineTuningWebhookType | BatchWebhookType;

export const FINE_TUNING_WEBHOOK_TYPES: readonly FineTuningWebhookType[] = [
  'fine_tuning.job.succeeded',
  'fine_tuning.job.failed',
  'fine_tuning.job.cancelled',
];

/** OpenAI's user agent on webhook requests (the guide's example request, read 2026-11-29). */
export const WEBHOOK_USER_AGENT = 'OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)';

export interface WebhookTiming {
  /** Wait before the first retry; each further retry waits twice the one before. */
  webhookRetryBaseMs: number;
  /** Attempts per event and endpoint, the first included: the scaled-down stand-in for 72 hours. */
  webhookMaxAttempts: number;
  /** How long a receiver has to answer before the attempt counts as failed. */
  webhookTimeoutMs: number;
}

export const DEFAULT_WEBHOOK_TIMING: WebhookTiming = {
  webhookRetryBaseMs: 100,
  webhookMaxAttempts: 10,
  webhookTimeoutMs: 5_000,
};

export interface WebhookEndpoint {
  id: string;
  url: string;
  secret: string;
  eventTypes: readonly WebhookType[];
}

export interface WebhookEndpointOptions {
  /** Reuse a secret (`whsec_` + base64 of at least 24 bytes) instead of generating one. */
  secret?: string;
  /** Event types the endpoint subscribes to. @default all three fine-tuning ones */
  eventTypes?: readonly WebhookType[];
}

/** One event the emulator emitted, delivered or not. */
export interface WebhookEventRecord {
  /** The body's `id` (evt_…). */
  id: string;
  /** The `webhook-id` header (wh_…), the same on every attempt and copy. */
  webhookId: string;
  type: WebhookType;
  /** data.id: the job's id, or the batch's for a batch.* event. */
  jobId: string;
  /** The exact body sent. */
  body: string;
  /** When the job reached its status and the event was emitted, in epoch milliseconds. */
  emittedAt: number;
  /** The webhook fault it met, if any. */
  fault: WebhookFault;
}

/** One HTTP attempt to deliver an event to an endpoint. */
export interface WebhookDelivery {
  eventId: string;
  webhookId: string;
  type: WebhookType;
  /** data.id: the job's id, or the batch's for a batch.* event. */
  jobId: string;
  endpointId: string;
  url: string;
  /** 1 for the first try, 2 for the first retry… counted separately for a duplicate copy. */
  attempt: number;
  /** Sent as the second copy of a `duplicate` fault. */
  duplicate: boolean;
  /** The webhook-timestamp header sent (unix seconds). */
  timestamp: number;
  /** When the attempt started, in epoch milliseconds (to measure the backoff). */
  sentAt: number;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** The connection error, or `timeout` when the receiver did not answer in time. */
  error?: string;
  ok: boolean;
  /** The last attempt for this copy: delivered, or retries exhausted. */
  final: boolean;
}

/** The headers that carry a Standard Webhooks signature (a type, so it fits a plain headers record). */
export type WebhookSignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * Sign a webhook as OpenAI does: `v1,` + base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`. The key is the
 * base64 after `whsec_`, or the secret's UTF-8 bytes otherwise, as openai-node decodes it, so tests can
 * forge, replay or age a request that unwrap() judges exactly like a real one.
 */
export function signWebhook(
  secret: string,
  { id, timestamp, body }: { id: string; timestamp: number; body: string },
): WebhookSignatureHeaders {
  const key = secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}

/** A fresh signing secret in the format OpenAI hands out once, at endpoint creation. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const hexId = (prefix: string) => `${prefix}_${randomBytes(16).toString('hex')}`;

function checkSecret(secret: string): void {
  const encoded = secret.slice('whsec_'.length);
  const bytes = Buffer.from(encoded, 'base64');
  if (!secret.startsWith('whsec_') || bytes.toString('base64') !== encoded || bytes.length < 24)
    throw new Error('A webhook secret is whsec_ followed by the base64 of at least 24 random bytes');
}

type Outcome = { status: number } | { error: string };

/** Sends, retries and records webhook events for one emulator; `close()` stops every timer and request. */
export class WebhookSender {
  readonly endpoints = new Map<string, WebhookEndpoint>();
  readonly events: WebhookEventRecord[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  private closed = false;
  /** Pending waits (backoff, delay fault), resolved with false on close so their chains end. */
  private readonly waits = new Map<NodeJS.Timeout, (open: boolean) => void>();
  private readonly inFlight = new Set<ClientRequest>();
  private readonly chains = new Set<Promise<void>>();

  constructor(
    private readonly timing: WebhookTiming,
    private readonly faults: Faults,
  ) {}

  register(url: string, options: WebhookEndpointOptions = {}): { id: string; secret: string } {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new Error(`A webhook URL is http(s), not ${url}`);
    if (options.secret !== undefined) checkSecret(options.secret);
    const endpoint: WebhookEndpoint = {
      id: hexId('whe'),
      url,
      secret: options.secret ?? newWebhookSecret(),
      eventTypes: [...(options.eventTypes ?? FINE_TUNING_WEBHOOK_TYPES)],
    };
    this.endpoints.set(endpoint.id, endpoint);
    return { id: endpoint.id, secret: endpoint.secret };
  }

  /** Remove an endpoint: its pending retries stop, as when it is deleted in the dashboard. */
  remove(id: string): boolean {
    return this.endpoints.delete(id);
  }

  /** Emit an event to every endpoint subscribed to its type now; delivery runs in the background. */
  emit(type: WebhookType, jobId: string, createdAt: number): void {
    if (this.closed) return;
    const fault = this.faults.takeWebhookFault();
    const id = hexId('evt');
    // Key order as in OpenAI's example request; the string is signed and sent byte for byte.
    const body = JSON.stringify({ object: 'event', id, type, created_at: createdAt, data: { id: jobId } });
    const event: WebhookEventRecord = {
      id,
      webhookId: hexId('wh'),
      type,
      jobId,
      body,
      emittedAt: Date.now(),
      fault,
    };
    this.events.push(event);
    if (fault.lose) return;
    for (const endpoint of this.endpoints.values()) {
      if (!endpoint.eventTypes.includes(type)) continue;
      const chain = (async () => {
        if (fault.delay && !(await this.wait(fault.delay))) return;
        await this.deliver(event, endpoint, false);
        if (fault.duplicate) await this.deliver(event, endpoint, true);
      })();
      this.chains.add(chain);
      void chain.finally(() => this.chains.delete(chain));
    }
  }

  /** Resolves once every event emitted so far is delivered or given up on (or the sender closed). */
  async settled(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains]);
  }

  close(): void {
    this.closed = true;
    for (const [timer, resolve] of this.waits) {
      clearTimeout(timer);
      resolve(false);
    }
    this.waits.clear();
    for (const request of this.inFlight) request.destroy(new Error('emulator closed'));
    this.inFlight.clear();
  }

  private async deliver(event: WebhookEventRecord, endpoint: WebhookEndpoint, duplicate: boolean) {
    for (let attempt = 1; ; attempt++) {
      if (this.closed || !this.endpoints.has(endpoint.id)) return;
      const timestamp = Math.floor(Date.now() / 1000);
      const sentAt = Date.now();
      const outcome = await this.post(endpoint, event, timestamp);
      if (this.closed) return;
      const ok = 'status' in outcome && outcome.status >= 200 && outcome.status < 300;
      const final = ok || attempt >= this.timing.webhookMaxAttempts;
      this.deliveries.push({
        eventId: event.id,
        webhookId: event.webhookId,
        type: event.type,
        jobId: event.jobId,
        endpointId: endpoint.id,
        url: endpoint.url,
        attempt,
        duplicate,
        timestamp,
        sentAt,
        ...outcome,
        ok,
        final,
      });
      if (final) return;
      if (!(await this.wait(this.timing.webhookRetryBaseMs * 2 ** (attempt - 1)))) return;
    }
  }

  private post(endpoint: WebhookEndpoint, event: WebhookEventRecord, timestamp: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const url = new URL(endpoint.url);
      let settled = false;
      const done = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(request);
        resolve(outcome);
      };
      // agent: false, so no keep-alive socket outlives the attempt (or close()).
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        agent: false,
        headers: {
          'user-agent': WEBHOOK_USER_AGENT,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(event.body),
          ...signWebhook(endpoint.secret, { id: event.webhookId, timestamp, body: event.body }),
        },
      });
      const timer = setTimeout(() => {
        done({ error: 'timeout' });
        request.destroy();
      }, this.timing.webhookTimeoutMs);
      this.inFlight.add(request);
      request.on('response', (response) => {
        // The answer is the status; the body is drained so the socket closes.
        response.resume();
        done({ status: response.statusCode ?? 0 });
      });
      request.on('error', (error) => done({ error: error.message || 'connection error' }));
      request.end(event.body);
    });
  }

  private wait(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve(true);
      }, ms);
      this.waits.set(timer, resolve);
    });
  }
}
