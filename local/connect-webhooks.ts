import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LocalCloud } from './cloud/index.js';
import {
  BATCH_WEBHOOK_TYPES,
  FINE_TUNING_WEBHOOK_TYPES,
  type RunningEmulator,
} from './openai-emulator/server.js';

/**
 * What the README tells a user to do after deploying, done for local mode: register the stack's
 * WebhookUrl with the provider (the emulator standing in for OpenAI's dashboard), and store the signing
 * secret it gives in the secret the WebhookSecretArn output names, with put-secret-value.
 */
export async function connectProviderWebhooks(
  cloud: Pick<LocalCloud, 'plan' | 'clientConfig' | 'endpoints'>,
  emulator: Pick<RunningEmulator, 'registerWebhookEndpoint'>,
): Promise<{ url: string; endpointId: string }> {
  const url = cloud.plan.outputs.WebhookUrl?.value;
  const secretId = cloud.plan.outputs.WebhookSecretArn?.value;
  if (!url || !secretId) throw new Error('the stack has no WebhookUrl or WebhookSecretArn output');
  // The events the README has a user select: a fine-tuning job's end, and a batch's (embedding runs).
  const { id, secret } = emulator.registerWebhookEndpoint(url, {
    eventTypes: [...FINE_TUNING_WEBHOOK_TYPES, ...BATCH_WEBHOOK_TYPES],
  });
  const secrets = new SecretsManagerClient({
    ...cloud.clientConfig,
    endpoint: cloud.endpoints.SECRETS_MANAGER,
  });
  try {
    await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: secret }));
  } finally {
    secrets.destroy();
  }
  return { url, endpointId: id };
}
