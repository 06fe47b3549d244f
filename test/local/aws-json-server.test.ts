import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsApiError, serveAwsJson } from '../../local/cloud/aws-json-server.js';
import { startLocalSecretsManager } from '../../local/cloud/secrets-manager.js';

/** The shared AWS JSON server: its first users' behaviour kept, and what SQS needed added. */
it('Secrets Manager still answers values and ResourceNotFoundException (400) through the SDK', async () => {
  const secrets = await startLocalSecretsManager();
  secrets.define('arn:aws:secretsmanager:us-east-1:000000000000:secret:key-abc123', 'key', '{"apiKey":"sk"}');
  const client = new SecretsManagerClient({
    region: 'us-east-1',
    endpoint: secrets.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  expect((await client.send(new GetSecretValueCommand({ SecretId: 'key' }))).SecretString).toBe(
    '{"apiKey":"sk"}',
  );
  await expect(client.send(new GetSecretValueCommand({ SecretId: 'other' }))).rejects.toMatchObject({
    name: 'ResourceNotFoundException',
    $metadata: { httpStatusCode: 400 },
  });
  client.destroy();
  await secrets.close();
});

it('an action may answer asynchronously, and an error may carry its own status and headers', async () => {
  const server = await serveAwsJson({
    service: 'Test',
    targetPrefix: 'Test',
    jsonVersion: '1.0',
    actions: {
      Later: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { answered: true };
      },
      Refuse: async () => {
        throw new AwsApiError('ns#Busy', 'come back later', {
          status: 403,
          headers: { 'x-amzn-query-error': 'Busy;Sender' },
        });
      },
    },
  });
  const call = (action: string) =>
    fetch(server.endpoint, { method: 'POST', headers: { 'x-amz-target': `Test.${action}` }, body: '{}' });
  const later = await call('Later');
  expect(later.status).toBe(200);
  expect(await later.json()).toEqual({ answered: true });
  const refused = await call('Refuse');
  expect(refused.status).toBe(403);
  expect(refused.headers.get('x-amzn-query-error')).toBe('Busy;Sender');
  expect(await refused.json()).toEqual({ __type: 'ns#Busy', message: 'come back later' });
  const unknown = await call('Nothing');
  expect(unknown.status).toBe(400);
  expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
  await server.close();
});
