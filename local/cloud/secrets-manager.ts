import { randomUUID } from 'node:crypto';
import { AwsApiError, serveAwsJson } from './aws-json-server.js';

/**
 * Local Secrets Manager: npm has no emulator, so this answers the AWS JSON 1.1 protocol for the calls
 * tunedrop and its users make (CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret), with the
 * error shapes the SDK turns into ResourceNotFoundException and friends.
 */
export interface LocalSecretsManager {
  endpoint: string;
  /** Creates or replaces a secret under a fixed ARN (the template's). */
  define(arn: string, name: string, value: string): void;
  close(): Promise<void>;
}

interface Secret {
  arn: string;
  name: string;
  value: string;
  versionId: string;
  createdDate: number;
}

export async function startLocalSecretsManager(): Promise<LocalSecretsManager> {
  const secrets = new Map<string, Secret>();
  const find = (id: unknown): Secret => {
    const secret = [...secrets.values()].find((s) => s.arn === id || s.name === id);
    if (!secret)
      throw new AwsApiError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  };

  const actions: Record<string, (body: Record<string, unknown>) => unknown> = {
    CreateSecret(body) {
      const name = String(body.Name ?? '');
      if (!name) throw new AwsApiError('ValidationException', 'Name is required');
      if ([...secrets.values()].some((s) => s.name === name)) {
        throw new AwsApiError(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      }
      const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-${randomUUID().slice(0, 6)}`;
      const secret = {
        arn,
        name,
        value: String(body.SecretString ?? ''),
        versionId: randomUUID(),
        createdDate: Date.now() / 1000,
      };
      secrets.set(arn, secret);
      return { ARN: arn, Name: name, VersionId: secret.versionId };
    },
    GetSecretValue(body) {
      const secret = find(body.SecretId);
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        SecretString: secret.value,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: secret.createdDate,
      };
    },
    PutSecretValue(body) {
      const secret = find(body.SecretId);
      secret.value = String(body.SecretString ?? '');
      secret.versionId = randomUUID();
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        VersionStages: ['AWSCURRENT'],
      };
    },
    DescribeSecret(body) {
      const secret = find(body.SecretId);
      return { ARN: secret.arn, Name: secret.name, CreatedDate: secret.createdDate };
    },
  };

  const server = await serveAwsJson({
    service: 'Secrets Manager',
    targetPrefix: 'secretsmanager',
    jsonVersion: '1.1',
    actions,
  });
  return {
    endpoint: server.endpoint,
    define(arn, name, value) {
      secrets.set(arn, { arn, name, value, versionId: randomUUID(), createdDate: Date.now() / 1000 });
    },
    close: server.close,
  };
}
