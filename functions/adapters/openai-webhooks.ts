import OpenAI from 'openai';
import { z } from 'zod';
import { WebhookRefusedError, type VerifiedEvent, type WebhookRequest } from '../webhook/receive-webhook.js';

/**
 * Verifies an OpenAI webhook delivery with the SDK's `webhooks.unwrap` (Standard Webhooks: an HMAC-SHA256
 * signature over `webhook-id.webhook-timestamp.body` with the endpoint's `whsec_` secret, and a timestamp
 * within `toleranceSeconds` of now; openai-node src/resources/webhooks, read 2026-11-29). What the SDK
 * throws for a bad request becomes WebhookRefusedError, without the body.
 */
export function openAiWebhookVerifier(secret: string, toleranceSeconds = 300) {
  // unwrap needs no API key; the client is only the SDK's way in.
  const client = new OpenAI({ apiKey: 'unused-for-webhooks', webhookSecret: secret });
  const EventSchema = z.object({ id: z.string(), type: z.string(), data: z.object({ id: z.string() }) });
  return async (request: WebhookRequest): Promise<VerifiedEvent> => {
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    let unwrapped: unknown;
    try {
      unwrapped = await client.webhooks.unwrap(request.body, headers, secret, toleranceSeconds);
    } catch (error) {
      throw new WebhookRefusedError(`webhook refused: ${(error as Error).message}`);
    }
    const event = EventSchema.safeParse(unwrapped);
    if (!event.success)
      throw new WebhookRefusedError('webhook refused: the body is not an event with data.id');
    return {
      webhookId: headers['webhook-id'] ?? event.data.id,
      type: event.data.type,
      dataId: event.data.data.id,
    };
  };
}
