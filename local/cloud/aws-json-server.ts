import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local endpoint of an AWS service speaking the AWS JSON protocol: the action is named by the
 * `X-Amz-Target` header (`<prefix>.<Action>`), the body is JSON, and errors come back as
 * `{"__type": ..., "message": ...}` with status 400, which the SDK turns into typed exceptions.
 */
export class AwsApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export type AwsJsonActions = Record<string, (body: Record<string, unknown>) => unknown>;

export async function serveAwsJson(options: {
  service: string;
  /** The X-Amz-Target prefix, e.g. "secretsmanager" or "AWSStepFunctions". */
  targetPrefix: string;
  /** "1.0" or "1.1". */
  jsonVersion: string;
  actions: AwsJsonActions;
}): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const action = String(request.headers['x-amz-target'] ?? '').replace(`${options.targetPrefix}.`, '');
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': `application/x-amz-json-${options.jsonVersion}` });
        response.end(JSON.stringify(body));
      };
      try {
        const handler = options.actions[action];
        if (!handler) {
          throw new AwsApiError(
            'UnknownOperationException',
            `local ${options.service} does not implement ${action || 'this request'}`,
          );
        }
        const body = chunks.length
          ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
          : {};
        reply(200, handler(body));
      } catch (error) {
        const known = error instanceof AwsApiError;
        reply(known ? 400 : 500, {
          __type: known ? error.type : 'InternalFailure',
          message: (error as Error).message,
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
