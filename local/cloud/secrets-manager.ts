import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startLocalSecretsManager(): Promise<LocalSecretsManager> {
  const secrets = new Map<string, Secret>();
  const find = (id: unknown): Secret => {
    const secret = [...secrets.values()].find((s) => s.arn === id || s.name === id);
    if (!secret)
      throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  };

  const actions: Record<string, (body: Record<string, unknown>) => unknown> = {
    CreateSecret(body) {
      const name = String(body.Name ?? '');
      if (!name) throw new AwsError('ValidationException', 'Name is required');
      if ([...secrets.values()].some((s) => s.name === name)) {
        throw new AwsError(
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

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const action = target.replace(/^secretsmanager\./, '');
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(body));
      };
      try {
        const handler = actions[action];
        if (!handler)
          throw new AwsError(
            'UnknownOperationException',
            `local Secrets Manager does not implement ${action || 'this request'}`,
          );
        reply(
          200,
          handler(
            chunks.length
              ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
              : {},
          ),
        );
      } catch (error) {
        const type = error instanceof AwsError ? error.type : 'InternalServiceError';
        reply(error instanceof AwsError ? 400 : 500, { __type: type, message: (error as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    define(arn, name, value) {
      secrets.set(arn, { arn, name, value, versionId: randomUUID(), createdDate: Date.now() / 1000 });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
