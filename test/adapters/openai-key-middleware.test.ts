import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import { mockClient } from 'aws-sdk-client-mock';
import { PLACEHOLDER_API_KEY } from '../../functions/core/config.js';
import { apiKeyMiddleware, type ContextWithApiKey } from '../../functions/adapters/openai-key-middleware.js';

const secrets = mockClient(SecretsManagerClient);
// Lambda passes a plain Context; the middleware is what adds providerApiKey.
const context = { functionName: 'test' } as ContextWithApiKey;

function handlerWith(now: () => number) {
  return middy<unknown, string, Error, ContextWithApiKey>()
    .use(
      apiKeyMiddleware({
        client: new SecretsManagerClient({}),
        secretId: 'tunedrop-key',
        cacheSeconds: 60,
        now,
      }),
    )
    .handler(async (_event, ctx) => ctx.providerApiKey);
}

describe('apiKeyMiddleware', () => {
  beforeEach(() => secrets.reset());

  it('puts the key from a JSON secret on the context', async () => {
    secrets
      .on(GetSecretValueCommand, { SecretId: 'tunedrop-key' })
      .resolves({ SecretString: '{"apiKey":"sk-json"}' });
    expect(await handlerWith(() => 0)({}, context)).toBe('sk-json');
  });

  it('accepts the bare key as the secret value', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: ' sk-bare\n' });
    expect(await handlerWith(() => 0)({}, context)).toBe('sk-bare');
  });

  it('reads the secret once per cache period, then again', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'sk-1' });
    let now = 0;
    const handler = handlerWith(() => now);
    await handler({}, context);
    now = 59_000;
    await handler({}, context);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    now = 61_000;
    await handler({}, context);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('fails with ApiKeyNotSetError and the command to fix it while the placeholder is in place', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ apiKey: PLACEHOLDER_API_KEY, placeholderNonce: 'x' }) });
    await expect(handlerWith(() => 0)({}, context)).rejects.toMatchObject({
      name: 'ApiKeyNotSetError',
      fix: expect.stringContaining('aws secretsmanager put-secret-value --secret-id tunedrop-key'),
    });
  });

  it('refuses options without a secret id', () => {
    expect(() => apiKeyMiddleware({ client: new SecretsManagerClient({}), secretId: '' })).toThrow();
  });
});
