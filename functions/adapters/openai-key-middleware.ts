import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { PLACEHOLDER_API_KEY } from '../core/config.js';
import { ApiKeyNotSetError, InvalidConfigError } from '../core/errors.js';
import { isPrintableAscii, registerSecret } from '../core/redact.js';

export interface ContextWithApiKey extends Context {
  /** The provider API key, read from Secrets Manager. Never log it. */
  providerApiKey: string;
}

export interface ApiKeyOptions {
  client: SecretsManagerClient;
  /** Name or ARN of the secret. */
  secretId: string;
  /** How long a container reuses the key before reading it again (a rotated key is picked up). @default 300 */
  cacheSeconds?: number;
  now?: () => number;
}

export const apiKeyDefaults = { cacheSeconds: 300, now: () => Date.now() } as const;

const OptionsSchema = z.object({
  client: z.custom<SecretsManagerClient>(
    (value) => typeof (value as { send?: unknown })?.send === 'function',
  ),
  secretId: z.string().min(1),
  cacheSeconds: z.number().min(0),
  now: z.function(),
});

/**
 * Middy middleware that puts the provider key on `context.providerApiKey`. The secret may hold the key
 * itself or JSON `{"apiKey": "..."}`. Cached per container for `cacheSeconds`.
 */
export function apiKeyMiddleware(
  options: ApiKeyOptions,
): MiddlewareObj<unknown, unknown, Error, ContextWithApiKey> {
  const settings = OptionsSchema.parse({ ...apiKeyDefaults, ...options });
  let cached: { key: string; expiresAt: number } | undefined;

  const load = async (): Promise<string> => {
    const now = settings.now() as number;
    if (cached && cached.expiresAt > now) return cached.key;
    const { SecretString } = await settings.client.send(
      new GetSecretValueCommand({ SecretId: settings.secretId }),
    );
    const key = parseApiKey(SecretString, settings.secretId);
    cached = { key, expiresAt: now + settings.cacheSeconds * 1000 };
    return key;
  };

  return {
    before: async (request) => {
      Object.assign(request.context, { providerApiKey: await load() });
    },
  };
}

/**
 * The key a secret holds. A key read is registered for masking (functions/core/redact.ts) before it
 * is checked, so that no error about it, here or later, can quote it; and no error here does.
 */
export function parseApiKey(secretString: string | undefined, secretId: string): string {
  const raw = secretString?.trim() ?? '';
  let key = raw;
  if (raw.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      // JSON.parse quotes the text it could not read, the key with it: the cause is not kept.
      for (const word of raw.match(/[^\s"'{}:,]+/g) ?? []) registerSecret(word);
      throw new InvalidConfigError(
        `secret ${secretId} starts with "{" but is not valid JSON (its text is not shown: it holds the key)`,
        `Store the key as plain text or as {"apiKey": "sk-..."} (with the quotes) in ${secretId}.`,
      );
    }
    const parsed = z.object({ apiKey: z.string() }).safeParse(json);
    if (!parsed.success) {
      throw new InvalidConfigError(
        `secret ${secretId} holds JSON without a string "apiKey"`,
        `Store the key as plain text or as {"apiKey": "sk-..."} in ${secretId}.`,
      );
    }
    key = parsed.data.apiKey.trim();
  }
  if (!key || key === PLACEHOLDER_API_KEY) {
    throw new ApiKeyNotSetError(
      `the OpenAI API key is not set in secret ${secretId}`,
      `Run: aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string '{"apiKey":"sk-..."}'`,
    );
  }
  registerSecret(key);
  if (!isPrintableAscii(key)) {
    // Sent as it is, the key would make an invalid Authorization header, and Node's HTTP layer would
    // quote the header, key and all, in its error. Say where and what, never the key.
    const unprintable = [...key]
      .map((char, index) => ({ char, index }))
      .filter(({ char }) => !isPrintableAscii(char));
    const where = unprintable
      .slice(0, 3)
      .map(
        ({ char, index }) =>
          `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at character ${index + 1}`,
      )
      .join(', ');
    throw new InvalidConfigError(
      `the OpenAI API key in secret ${secretId} has ${unprintable.length} character(s) outside printable ASCII (${where}${unprintable.length > 3 ? ', …' : ''}); an API key has none`,
      `Store the key again without line breaks, tabs or other invisible characters: aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string '{"apiKey":"sk-..."}'`,
    );
  }
  return key;
}
