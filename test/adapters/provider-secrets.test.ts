import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import { mockClient } from 'aws-sdk-client-mock';
import { PLACEHOLDER_API_KEY, PLACEHOLDER_AZURE_ENDPOINT } from '../../functions/core/config.js';
import { PERMANENT_ERROR_NAMES } from '../../functions/core/errors.js';
import { clearRegisteredSecrets, redactSecrets } from '../../functions/core/redact.js';
import {
  providerSecretsMiddleware,
  type ContextWithProviderSecrets,
} from '../../functions/adapters/provider-secrets.js';

const secrets = mockClient(SecretsManagerClient);
// Lambda passes a plain Context; the middleware is what adds providerApiKey.
const context = { functionName: 'test' } as ContextWithProviderSecrets;

function handlerWith(now: () => number) {
  return middy<unknown, string, Error, ContextWithProviderSecrets>()
    .use(
      providerSecretsMiddleware({
        client: new SecretsManagerClient({}),
        secretIds: { openai: 'tunedrop-key' },
        cacheSeconds: 60,
        now,
      }),
    )
    .handler(async (_event, ctx) => ctx.providerSecrets.openAiKey());
}

describe('providerSecretsMiddleware', () => {
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

  it('refuses a key with a newline as a permanent configuration error that names the secret and the character, not the key', async () => {
    const key = 'sk-newline-canary-1234\nsecond-part-5678';
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ apiKey: key }) });
    const error = await handlerWith(() => 0)({}, context).then(
      () => undefined,
      (e: unknown) => e as Error & { fix: string },
    );
    expect(error).toMatchObject({
      name: 'InvalidConfigError',
      message: expect.stringMatching(
        /secret tunedrop-key .*outside printable ASCII \(U\+000A at character 23\)/,
      ),
      fix: expect.stringContaining('--secret-id tunedrop-key'),
    });
    expect(PERMANENT_ERROR_NAMES).toContain(error!.name);
    const told = JSON.stringify({ message: error!.message, fix: error!.fix, stack: error!.stack });
    for (const part of ['sk-newline-canary-1234', 'second-part-5678']) expect(told).not.toContain(part);
  });

  it('refuses a tab, a non-breaking space or a zero-width space in a bare key too', async () => {
    for (const char of ['\t', '\u00a0', '\u200b']) {
      secrets.reset();
      secrets.on(GetSecretValueCommand).resolves({ SecretString: `sk-bare-${char}key-1234` });
      await expect(handlerWith(() => 0)({}, context)).rejects.toMatchObject({ name: 'InvalidConfigError' });
    }
  });

  it('refuses a secret that is not valid JSON as a permanent configuration error that does not quote it', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"apiKey": sk-malformed-canary-9876}' });
    const error = await handlerWith(() => 0)({}, context).then(
      () => undefined,
      (e: unknown) => e as Error & { fix: string },
    );
    expect(error).toMatchObject({
      name: 'InvalidConfigError',
      message: expect.stringContaining('secret tunedrop-key starts with "{" but is not valid JSON'),
      fix: expect.stringContaining('{"apiKey": "sk-..."}'),
    });
    expect(PERMANENT_ERROR_NAMES).toContain(error!.name);
    expect(error!.cause).toBeUndefined();
    expect(JSON.stringify({ message: error!.message, fix: error!.fix, stack: error!.stack })).not.toContain(
      'sk-malformed-canary-9876',
    );
  });

  it('has the key it loaded masked from then on, whatever its shape', async () => {
    clearRegisteredSecrets();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"apiKey":"not-an-sk-shaped-key-5555"}' });
    await handlerWith(() => 0)({}, context);
    expect(redactSecrets('Bearer not-an-sk-shaped-key-5555')).toBe('Bearer [redacted secret]');
  });

  it('refuses options without a secret id', () => {
    expect(() =>
      providerSecretsMiddleware({ client: new SecretsManagerClient({}), secretIds: { openai: '' } }),
    ).toThrow();
  });
});

describe('the Azure OpenAI secret, read only when an Azure run asks', () => {
  const azureHandler = (secretIds: { openai: string; 'azure-openai'?: string }) =>
    middy<unknown, unknown, Error, ContextWithProviderSecrets>()
      .use(providerSecretsMiddleware({ client: new SecretsManagerClient({}), secretIds, now: () => 0 }))
      .handler(async (_event, ctx) => ctx.providerSecrets.azureOpenAi());
  // A fresh middleware each time: each keeps what it read for its cache period.
  const withAzure = (event: unknown, ctx: ContextWithProviderSecrets) =>
    azureHandler({ openai: 'openai-key', 'azure-openai': 'azure-key' })(event, ctx);
  const azureSecret = (value: string) =>
    secrets.on(GetSecretValueCommand, { SecretId: 'azure-key' }).resolves({ SecretString: value });
  beforeEach(() => secrets.reset());

  it("gives the endpoint (a pasted /openai/v1 taken off) and key, without reading OpenAI's secret", async () => {
    azureSecret('{"endpoint":"https://res.openai.azure.com/openai/v1/","apiKey":"azure-canary-4242"}');
    expect(await withAzure({}, context)).toEqual({
      endpoint: 'https://res.openai.azure.com',
      apiKey: 'azure-canary-4242',
    });
    expect(secrets.commandCalls(GetSecretValueCommand, { SecretId: 'openai-key' })).toHaveLength(0);
    expect(redactSecrets('key azure-canary-4242')).not.toContain('azure-canary-4242');
  });

  it('says the placeholder is still there, with the command that sets it', async () => {
    azureSecret(
      JSON.stringify({
        endpoint: PLACEHOLDER_AZURE_ENDPOINT,
        apiKey: PLACEHOLDER_API_KEY,
        placeholderNonce: 'x',
      }),
    );
    await expect(withAzure({}, context)).rejects.toMatchObject({
      name: 'ApiKeyNotSetError',
      fix: expect.stringContaining('put-secret-value --secret-id azure-key'),
    });
  });

  it('refuses a secret that is not JSON without quoting it, and an endpoint that is not https', async () => {
    azureSecret('azure-bare-canary-5151');
    const error = (await withAzure({}, context).catch((e: unknown) => e)) as Error & { fix: string };
    expect(error).toMatchObject({ name: 'InvalidConfigError', fix: expect.stringContaining('"endpoint"') });
    expect(JSON.stringify({ message: error.message, fix: error.fix })).not.toContain(
      'azure-bare-canary-5151',
    );
    secrets.reset();
    azureSecret('{"endpoint":"http://res.openai.azure.com","apiKey":"k-6161"}');
    await expect(withAzure({}, context)).rejects.toMatchObject({
      name: 'InvalidConfigError',
      message: expect.stringContaining('is not https'),
    });
  });

  it("gives the service principal that deploys models for evaluation, its secret masked, Microsoft's hosts by default", async () => {
    const management = {
      tenantId: 't',
      clientId: 'c',
      clientSecret: 'sp-canary-7373',
      subscriptionId: 's',
      resourceGroup: 'g',
      accountName: 'res',
    };
    azureSecret(JSON.stringify({ endpoint: 'https://res.openai.azure.com', apiKey: 'k-1', management }));
    expect(await withAzure({}, context)).toEqual({
      endpoint: 'https://res.openai.azure.com',
      apiKey: 'k-1',
      management: {
        ...management,
        authorityHost: 'https://login.microsoftonline.com',
        resourceManager: 'https://management.azure.com',
      },
    });
    expect(redactSecrets('secret sp-canary-7373')).not.toContain('sp-canary-7373');
  });

  it('refuses a service principal with a part missing, or a host that is not https, naming the part', async () => {
    azureSecret(
      JSON.stringify({
        endpoint: 'https://res.openai.azure.com',
        apiKey: 'k-2',
        management: { tenantId: 't', clientId: 'c', clientSecret: 'sp-canary-8484', subscriptionId: 's' },
      }),
    );
    const error = (await withAzure({}, context).catch((e: unknown) => e)) as Error & { fix: string };
    expect(error).toMatchObject({
      name: 'InvalidConfigError',
      message: expect.stringContaining('management'),
    });
    expect(error.message).toContain('resourceGroup');
    expect(JSON.stringify({ message: error.message, fix: error.fix })).not.toContain('sp-canary-8484');
    secrets.reset();
    azureSecret(
      JSON.stringify({
        endpoint: 'https://res.openai.azure.com',
        apiKey: 'k-3',
        management: {
          tenantId: 't',
          clientId: 'c',
          clientSecret: 'x',
          subscriptionId: 's',
          resourceGroup: 'g',
          accountName: 'res',
          authorityHost: 'http://login.example.com',
        },
      }),
    );
    await expect(withAzure({}, context)).rejects.toMatchObject({
      message: expect.stringContaining('is not https'),
    });
  });

  it('names the deployment as the fix when the stack gave the function no Azure secret', async () => {
    await expect(azureHandler({ openai: 'openai-key' })({}, context)).rejects.toMatchObject({
      name: 'InvalidConfigError',
      fix: expect.stringContaining('Redeploy'),
    });
  });
});
