import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LocalCloud } from './cloud/index.js';
import type { RunningEmulator } from './openai-emulator/server.js';

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
  const { id, secret } = emulator.registerWebhookEndpoint(url);
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
