import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { AccessRequest, Authorizer, Decision, Principal } from './authorizer.js';
import { UnclassifiedRequestError, type HttpRequestShape } from './requests.js';

/**
 * An IAM gateway in front of a local AWS endpoint. Every request is signed by the SDK with the
 * caller's access key; the gateway finds the caller's identity by that key, asks the authorizer about
 * each action the request performs, and either forwards the request untouched (bodies stream through)
 * or answers as the service answers a refused call: S3's `AccessDenied` (403, XML), the JSON services'
 * `AccessDeniedException` (400), Lambda's `AccessDeniedException` (403), CloudFormation's
 * `AccessDenied` (403, XML). The SDK then raises the same exception it raises on AWS.
 */
export type Protocol = 'rest-xml' | 'json' | 'rest-json' | 'query';

export interface GatewayOptions {
  /** For messages: "S3", "DynamoDB"... */
  service: string;
  protocol: Protocol;
  /** The endpoint behind the gateway. */
  upstream: string;
  authorizer: Authorizer;
  /** The identity behind an access key id; undefined for a key nobody was given. */
  identity(accessKeyId: string): Principal | undefined;
  classify(request: HttpRequestShape): AccessRequest[];
  /**
   * What a caller must also be allowed to learn that the thing it asked for does not exist; without it,
   * the upstream's 404 becomes a 403 (S3 without s3:ListBucket).
   */
  notFoundNeeds?: (requests: readonly AccessRequest[]) => AccessRequest | undefined;
  /** The access key the upstream emulator accepts, put in place of the caller's (s3rver checks it). */
  upstreamAccessKeyId?: string;
  /** Whether the classification needs the body (JSON and query protocols do; S3 does not). */
  readsBody: boolean;
}

export interface Gateway {
  endpoint: string;
  close(): Promise<void>;
}

const MAX_BUFFERED_BODY = 16 * 1024 * 1024;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const upstream = new URL(options.upstream);
  const server = createServer((incoming, outgoing) => {
    void handle(incoming, outgoing).catch((error: unknown) => {
      if (!outgoing.headersSent) outgoing.writeHead(500);
      outgoing.end(String(error));
    });
  });

  async function handle(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const url = new URL(incoming.url ?? '/', 'http://local');
    const body = options.readsBody ? await readBody(incoming) : undefined;
    const accessKeyId = accessKeyOf(incoming.headers.authorization);
    const principal = accessKeyId ? options.identity(accessKeyId) : undefined;
    if (!principal) return reject(outgoing, options.protocol, 'unrecognized', accessKeyId ?? '(none)');

    let requests: AccessRequest[];
    try {
      requests = options.classify({
        method: incoming.method ?? 'GET',
        path: decodeURIComponent(url.pathname),
        query: url.searchParams,
        headers: incoming.headers,
        ...(body ? { body } : {}),
      });
    } catch (error) {
      if (!(error instanceof UnclassifiedRequestError)) throw error;
      const decision: Decision = {
        principal: principal.arn,
        action: `${options.service}:?`,
        resource: error.message,
        allowed: false,
        message: `local IAM cannot tell which action this ${options.service} request is (${error.message}); teach local/cloud/iam/requests.ts`,
      };
      options.authorizer.decisions.push(decision);
      return reject(outgoing, options.protocol, 'denied', decision.message);
    }
    for (const request of requests) {
      const decision = await options.authorizer.check(principal, request);
      if (!decision.allowed) return reject(outgoing, options.protocol, 'denied', decision.message);
    }

    const headers = { ...incoming.headers, host: upstream.host };
    if (options.upstreamAccessKeyId && headers.authorization)
      headers.authorization = headers.authorization.replace(
        /Credential=[^/]+\//,
        `Credential=${options.upstreamAccessKeyId}/`,
      );
    const forwarded = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers },
      (response) => {
        const needs = response.statusCode === 404 ? options.notFoundNeeds?.(requests) : undefined;
        if (needs) {
          void options.authorizer.check(principal, needs).then((decision) => {
            if (decision.allowed) {
              outgoing.writeHead(404, response.headers);
              response.pipe(outgoing);
            } else {
              response.resume();
              reject(outgoing, options.protocol, 'denied', decision.message);
            }
          });
          return;
        }
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    // A caller that goes away mid-response (a Lambda stopped reading an object, or was killed) must not
    // leave the upstream request streaming into nothing: the upstream server would wait for it on close.
    outgoing.on('close', () => {
      if (!outgoing.writableFinished) forwarded.destroy();
    });
    forwarded.on('error', (error) => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end(String(error));
    });
    if (body) forwarded.end(body);
    else incoming.pipe(forwarded);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function accessKeyOf(authorization: string | undefined): string | undefined {
  return authorization ? /Credential=([^/,\s]+)\//.exec(authorization)?.[1] : undefined;
}

async function readBody(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BUFFERED_BODY) throw new Error('request body too large for the local gateway');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The service's own answer to a refused or unsigned call (see each service's "common errors"). */
function reject(
  response: ServerResponse,
  protocol: Protocol,
  kind: 'denied' | 'unrecognized',
  message: string,
): void {
  const requestId = randomUUID();
  const denied = kind === 'denied';
  switch (protocol) {
    case 'rest-xml': {
      const code = denied ? 'AccessDenied' : 'InvalidAccessKeyId';
      const text = denied ? message : 'The AWS Access Key Id you provided does not exist in our records.';
      response.writeHead(403, { 'content-type': 'application/xml', 'x-amz-request-id': requestId });
      // HEAD responses carry no body; the SDK then reports the status.
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(text)}</Message><RequestId>${requestId}</RequestId></Error>`,
      );
      return;
    }
    case 'json': {
      const type = denied ? 'AccessDeniedException' : 'UnrecognizedClientException';
      response.writeHead(400, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': requestId,
        // SQS's JSON protocol names query-compatible error codes in this header.
        'x-amzn-query-error': `${denied ? 'AccessDenied' : 'InvalidClientTokenId'};Sender`,
      });
      response.end(
        JSON.stringify({
          __type: `com.amazonaws.local#${type}`,
          message: denied ? message : 'The security token included in the request is invalid.',
        }),
      );
      return;
    }
    case 'rest-json': {
      const type = denied ? 'AccessDeniedException' : 'UnrecognizedClientException';
      response.writeHead(403, {
        'content-type': 'application/json',
        'x-amzn-errortype': type,
        'x-amzn-requestid': requestId,
      });
      response.end(
        JSON.stringify({
          Type: 'User',
          Message: denied ? message : 'The security token included in the request is invalid.',
        }),
      );
      return;
    }
    case 'query': {
      const code = denied ? 'AccessDenied' : 'InvalidClientTokenId';
      response.writeHead(403, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      response.end(
        `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(denied ? message : 'The security token included in the request is invalid.')}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
      return;
    }
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
