import type { ParkedRuns, RunStore, TaskTokens, WebhookLog } from '../core/ports.js';
import type { JobWake } from '../core/workflow-state.js';

/**
 * The provider events that end a fine-tuning job or a batch: each wakes the run it belongs to (OpenAI's
 * names; the batch events are the spec's `webhooks:` batch_completed, _failed, _expired and _cancelled,
 * ../shared/openai/openapi.yaml of 2026-08-21, read 2026-11-30). An embedding run links its batches to
 * itself (RunStore.linkProviderJob); a batch no run linked (an evaluation's) is ignored.
 */
export const JOB_ENDED_EVENTS: ReadonlySet<string> = new Set([
  'fine_tuning.job.succeeded',
  'fine_tuning.job.failed',
  'fine_tuning.job.cancelled',
  'batch.completed',
  'batch.failed',
  'batch.expired',
  'batch.cancelled',
]);

/** A webhook delivery as it arrived: the raw body (signatures cover its exact bytes) and its headers. */
export interface WebhookRequest {
  body: string;
  headers: Record<string, string | undefined>;
}

/** An event whose signature, timestamp and id passed verification. */
export interface VerifiedEvent {
  /** The delivery's `webhook-id`, the same on each retry of one event. */
  webhookId: string;
  type: string;
  /** The object the event is about: for fine-tuning events, the job id. */
  dataId: string;
}

/** Refused before anything else is read: unsigned, badly signed, stale, or not an event. */
export class WebhookRefusedError extends Error {
  override readonly name = 'WebhookRefusedError';
}

export interface ReceiveWebhookDeps {
  /** Verifies the delivery (signature with the webhook secret, timestamp tolerance); throws WebhookRefusedError. */
  verify(request: WebhookRequest): Promise<VerifiedEvent>;
  log: WebhookLog;
  runs: Pick<RunStore, 'findByProviderJob'>;
  parked: Pick<ParkedRuns, 'wakeForJob'>;
  tokens: TaskTokens;
  /** Epoch seconds. */
  now(): number;
}

export type WebhookOutcome =
  | { status: 'refused'; reason: string }
  | { status: 'duplicate'; webhookId: string }
  | { status: 'ignored'; webhookId: string; reason: string }
  | { status: 'woken'; webhookId: string; runId: string; resumed: boolean };

/** How long a delivery id is remembered: far past the SDK's 5-minute timestamp tolerance. */
export const CLAIM_SECONDS = 24 * 3600;

/**
 * One webhook delivery: verified first (nothing of a refused request is read further or logged), then
 * claimed by its id, so a duplicated or replayed delivery acts once; a job-ended event wakes the job's
 * run, which then asks the provider for the job's status itself (the event only says when to look).
 * When acting fails, the claim is given back and the error thrown: the caller answers 5xx and the
 * provider retries the delivery.
 */
export async function receiveWebhook(
  request: WebhookRequest,
  deps: ReceiveWebhookDeps,
): Promise<WebhookOutcome> {
  let event: VerifiedEvent;
  try {
    event = await deps.verify(request);
  } catch (error) {
    if (error instanceof WebhookRefusedError) return { status: 'refused', reason: error.message };
    throw error;
  }
  const now = deps.now();
  await deps.log.noteVerified(now);
  if (!(await deps.log.claim(event.webhookId, now + CLAIM_SECONDS)))
    return { status: 'duplicate', webhookId: event.webhookId };
  try {
    if (!JOB_ENDED_EVENTS.has(event.type))
      return { status: 'ignored', webhookId: event.webhookId, reason: `event type ${event.type}` };
    const runId = await deps.runs.findByProviderJob(event.dataId);
    if (!runId)
      return { status: 'ignored', webhookId: event.webhookId, reason: `no run has job ${event.dataId}` };
    const token = await deps.parked.wakeForJob(runId, event.type);
    const wake: JobWake = { event: event.type };
    const resumed = token ? await deps.tokens.resume(token, wake) : false;
    return { status: 'woken', webhookId: event.webhookId, runId, resumed };
  } catch (error) {
    await deps.log.unclaim(event.webhookId);
    throw error;
  }
}
