import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { PLACEHOLDER_WEBHOOK_SECRET } from '../core/config.js';
import { InvalidConfigError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';

/** The webhook signing secret is not set yet: webhooks cannot be verified, so none is acted on. */
export class WebhookSecretNotSetError extends InvalidConfigError {}

/**
 * The provider's webhook signing secret (`whsec_...`), stored as plain text or as
 * `{"webhookSecret": "whsec_..."}`, read from Secrets Manager and kept per container for
 * `cacheSeconds` (a rotated secret is picked up after that).
 */
export function webhookSecretReader(
  client: SecretsManagerClient,
  secretId: string,
  options: { cacheSeconds?: number; now?: () => number } = {},
): () => Promise<string> {
  const cacheMs = (options.cacheSeconds ?? 300) * 1000;
  const now = options.now ?? Date.now;
  let cached: { secret: string; until: number } | undefined;
  return async () => {
    if (cached && cached.until > now()) return cached.secret;
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const secret = parseWebhookSecret(SecretString, secretId);
    // Masked, like the provider key, in everything this container logs or returns from now on.
    registerSecret(secret);
    cached = { secret, until: now() + cacheMs };
    return secret;
  };
}

export function parseWebhookSecret(secretString: string | undefined, secretId: string): string {
  let raw = secretString?.trim() ?? '';
  if (raw.startsWith('{')) {
    const parsed = z.object({ webhookSecret: z.string() }).safeParse(JSON.parse(raw));
    raw = parsed.success ? parsed.data.webhookSecret.trim() : '';
  }
  if (!raw.startsWith('whsec_') || raw === PLACEHOLDER_WEBHOOK_SECRET) {
    throw new WebhookSecretNotSetError(
      `the webhook signing secret is not set in secret ${secretId}, so no webhook can be verified`,
      `Register the WebhookUrl output in OpenAI's dashboard (Settings > Webhooks, events fine_tuning.job.*), then run: aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string 'whsec_...'`,
    );
  }
  return raw;
}
