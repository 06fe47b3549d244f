import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { PLACEHOLDER_API_KEY } from '../core/config.js';
import { ApiKeyNotSetError, InvalidConfigError } from '../core/errors.js';
import { isPrintableAscii, registerSecret } from '../core/redact.js';

/** The provider credentials a step reads from Secrets Manager, each only when it is first needed. */
export interface ProviderSecrets {
  /** OpenAI's API key (the API key secret). */
  openAiKey(): Promise<string>;
  /** Azure OpenAI's endpoint and key (the Azure OpenAI secret). */
  azureOpenAi(): Promise<AzureOpenAiCredentials>;
}

export interface AzureOpenAiCredentials {
  /** The resource's endpoint, `https://<resource>.openai.azure.com`, without `/openai/v1`. */
  endpoint: string;
  apiKey: string;
  /**
   * A service principal that may deploy models on the resource (Azure Resource Manager): evaluation deploys
   * the models it asks (Developer tier). Absent, Azure OpenAI models are not evaluated.
   */
  management?: AzureManagement;
}

/** Where and as whom tunedrop deploys models on the Azure OpenAI resource (docs/evaluation.md). */
export const AzureManagementSchema = z.object({
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  subscriptionId: z.string().min(1),
  resourceGroup: z.string().min(1),
  /** The Azure OpenAI (Cognitive Services) account's name: `<resource>` of its endpoint. */
  accountName: z.string().min(1),
  /** Microsoft Entra's sign-in host. @default "https://login.microsoftonline.com" */
  authorityHost: z.url().default('https://login.microsoftonline.com'),
  /** Azure Resource Manager. @default "https://management.azure.com" */
  resourceManager: z.url().default('https://management.azure.com'),
});
export type AzureManagement = z.infer<typeof AzureManagementSchema>;

export interface ContextWithProviderSecrets extends Context {
  /** Never log what these return. */
  providerSecrets: ProviderSecrets;
}

export interface ProviderSecretsOptions {
  client: SecretsManagerClient;
  /** Name or ARN of each provider's secret; a provider without one has no credentials here. */
  secretIds: { openai: string; 'azure-openai'?: string | undefined };
  /** How long a container reuses a secret before reading it again (a rotated key is picked up). @default 300 */
  cacheSeconds?: number;
  now?: () => number;
}

export const providerSecretsDefaults = { cacheSeconds: 300, now: () => Date.now() } as const;

const OptionsSchema = z.object({
  client: z.custom<SecretsManagerClient>(
    (value) => typeof (value as { send?: unknown })?.send === 'function',
  ),
  secretIds: z.object({ openai: z.string().min(1), 'azure-openai': z.string().min(1).optional() }),
  cacheSeconds: z.number().min(0),
  now: z.function(),
});

/**
 * Middy middleware that puts `context.providerSecrets` on the context: each provider's credentials,
 * read from its secret when a step first asks (a Bedrock run needs none, and must not fail on an
 * OpenAI key nobody set), then cached per container for `cacheSeconds`.
 */
export function providerSecretsMiddleware(
  options: ProviderSecretsOptions,
): MiddlewareObj<unknown, unknown, Error, ContextWithProviderSecrets> {
  const settings = OptionsSchema.parse({ ...providerSecretsDefaults, ...options });
  const cache = new Map<string, { value: unknown; expiresAt: number }>();

  const cached = async <T>(
    secretId: string,
    parse: (text: string | undefined, id: string) => T,
  ): Promise<T> => {
    const now = settings.now() as number;
    const hit = cache.get(secretId);
    if (hit && hit.expiresAt > now) return hit.value as T;
    const { SecretString } = await settings.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const value = parse(SecretString, secretId);
    cache.set(secretId, { value, expiresAt: now + settings.cacheSeconds * 1000 });
    return value;
  };

  const secrets: ProviderSecrets = {
    openAiKey: () => cached(settings.secretIds.openai, parseApiKey),
    azureOpenAi: () => {
      const id = settings.secretIds['azure-openai'];
      if (!id)
        throw new InvalidConfigError(
          'this function has no Azure OpenAI secret configured',
          'Redeploy the stack; the function is missing configuration it needs.',
        );
      return cached(id, parseAzureOpenAiCredentials);
    },
  };

  return {
    before: async (request) => {
      Object.assign(request.context, { providerSecrets: secrets });
    },
  };
}

const AzureSecretSchema = z.object({
  endpoint: z.string(),
  apiKey: z.string(),
  management: AzureManagementSchema.optional(),
});

/**
 * Azure OpenAI's credentials from its secret: `{"endpoint": "https://<resource>.openai.azure.com",
 * "apiKey": "..."}`. The key is registered for masking before anything is checked, as OpenAI's is.
 */
export function parseAzureOpenAiCredentials(
  secretString: string | undefined,
  secretId: string,
): AzureOpenAiCredentials {
  const fix = `Run: aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string '{"endpoint":"https://<resource>.openai.azure.com","apiKey":"..."}'`;
  let json: unknown;
  try {
    json = JSON.parse(secretString ?? '');
  } catch {
    for (const word of (secretString ?? '').match(/[^\s"'{}:,]+/g) ?? []) registerSecret(word);
    throw new InvalidConfigError(
      `secret ${secretId} is not the JSON of an Azure OpenAI endpoint and key (its text is not shown: it may hold the key)`,
      fix,
    );
  }
  // The service principal's secret is masked whatever the rest of the secret looks like.
  const clientSecret = (json as { management?: { clientSecret?: unknown } } | null)?.management?.clientSecret;
  if (typeof clientSecret === 'string' && clientSecret.trim()) registerSecret(clientSecret.trim());
  const parsed = AzureSecretSchema.safeParse(json);
  if (parsed.success) registerSecret(parsed.data.apiKey.trim());
  if (!parsed.success && (json as { management?: unknown } | null)?.management !== undefined)
    throw new InvalidConfigError(
      `the "management" part of secret ${secretId} is not a service principal: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      'It takes {"tenantId", "clientId", "clientSecret", "subscriptionId", "resourceGroup", "accountName"} (docs/evaluation.md, Azure OpenAI); remove it to train without evaluating.',
    );
  if (!parsed.success || parsed.data.apiKey === PLACEHOLDER_API_KEY || !parsed.data.apiKey.trim())
    throw new ApiKeyNotSetError(`the Azure OpenAI endpoint and key are not set in secret ${secretId}`, fix);
  const apiKey = parsed.data.apiKey.trim();
  const endpoint = parsed.data.endpoint
    .trim()
    .replace(/\/+$/, '')
    .replace(/\/openai(\/v1)?$/, '');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidConfigError(
      `the Azure OpenAI endpoint in secret ${secretId} is not a URL: "${endpoint}"`,
      fix,
    );
  }
  if (url.protocol !== 'https:' && !['127.0.0.1', 'localhost'].includes(url.hostname))
    throw new InvalidConfigError(
      `the Azure OpenAI endpoint in secret ${secretId} is not https: "${endpoint}" (the key would travel in clear)`,
      fix,
    );
  if (!isPrintableAscii(apiKey))
    throw new InvalidConfigError(
      `the Azure OpenAI key in secret ${secretId} has characters outside printable ASCII; a key has none`,
      `Store the key again without line breaks or other invisible characters. ${fix}`,
    );
  const management = parsed.data.management;
  for (const host of management ? [management.authorityHost, management.resourceManager] : []) {
    const hostUrl = new URL(host);
    if (hostUrl.protocol !== 'https:' && !['127.0.0.1', 'localhost'].includes(hostUrl.hostname))
      throw new InvalidConfigError(
        `the Azure management host in secret ${secretId} is not https: "${host}" (the service principal's secret would travel in clear)`,
        'Leave "authorityHost" and "resourceManager" out: they default to Microsoft\'s https hosts.',
      );
  }
  return { endpoint, apiKey, ...(management ? { management } : {}) };
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
