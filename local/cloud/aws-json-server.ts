import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local endpoint of an AWS service speaking the AWS JSON protocol: the action is named by the
 * `X-Amz-Target` header (`<prefix>.<Action>`), the body is JSON, and errors come back as
 * `{"__type": ..., "message": ...}` with status 400, which the SDK turns into typed exceptions.
 *
 * Services that moved from the query protocol to JSON (SQS) answer errors with another status and extra
 * headers: SQS sends the old query error code in `x-amzn-query-error` and the SDK names the exception
 * from it. An error carries those in its options; actions may also answer asynchronously (long polling).
 */
export class AwsApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

/** An action reads the request's JSON body and, where the API says so, its HTTP headers. */
export type AwsJsonActions = Record<
  string,
  (body: Record<string, unknown>, request: { headers: IncomingMessage['headers'] }) => unknown
>;

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
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        if (response.destroyed) return;
        response.writeHead(status, {
          'content-type': `application/x-amz-json-${options.jsonVersion}`,
          ...headers,
        });
        response.end(JSON.stringify(body));
      };
      const fail = (error: unknown) => {
        const known = error instanceof AwsApiError;
        reply(
          known ? (error.options.status ?? 400) : 500,
          { __type: known ? error.type : 'InternalFailure', message: (error as Error).message },
          known ? error.options.headers : {},
        );
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
        const result = handler(body, { headers: request.headers });
        if (result instanceof Promise) result.then((value) => reply(200, value), fail);
        else reply(200, result);
      } catch (error) {
        fail(error);
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
