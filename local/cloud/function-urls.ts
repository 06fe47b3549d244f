import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_ACCOUNT, type LocalFunctionUrl } from '../template.js';
import type { Authorizer, Principal } from './iam/authorizer.js';

/**
 * Lambda function URLs, served on 127.0.0.1: one HTTP server per AWS::Lambda::Url of the template, at
 * `http://127.0.0.1:<port>/`. Each request is authorized under the function's resource policy as Lambda
 * authorizes it, turned into the payload format version 2.0 event, run as a synchronous invocation, and
 * the function's result turned back into the HTTP response (Lambda developer guide, "Invoking Lambda
 * function URLs", https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html, read 2026-11-29;
 * the request and response shapes are those of its "Request and response payloads" section, as in
 * https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/urls-invocation.md, read 2026-11-29).
 *
 * Authorization (Lambda developer guide, "Control access to Lambda function URLs",
 * https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html, read 2026-11-29): "Starting in October
 * 2025, new function URLs will require both lambda:InvokeFunctionUrl and lambda:InvokeFunction
 * permissions." With AuthType NONE, Lambda authenticates nobody but the function's resource policy
 * still applies: the anonymous caller needs lambda:InvokeFunctionUrl (condition
 * lambda:FunctionUrlAuthType = NONE) and lambda:InvokeFunction (condition lambda:InvokedViaFunctionUrl =
 * true). aws-cdk-lib 2.276's `addFunctionUrl({ authType: NONE })` adds both permissions (checked by
 * synthesizing it). A refused request gets 403 with AccessDeniedException and Lambda's message, as
 * reported from AWS in https://github.com/awsdocs/aws-lambda-developer-guide/issues/494 (read 2026-11-29),
 * and the function is not invoked.
 *
 * With AuthType AWS_IAM, Lambda verifies the request's SigV4 signature. Local mode does not: an
 * unsigned request is refused with the same 403; a signed one is taken as its access key's identity
 * (the local cloud's identities: the administrator, the operator, the functions) without checking the
 * signature, and that identity is authorized for both actions as any other call.
 *
 * Limits: the event and the result are bounded by Lambda's 6 MB synchronous payload quota ("For
 * synchronous invocations, the maximum payload size is 6 MB", Lambda API reference, Invoke,
 * https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html, read 2026-11-29; Lambda counts
 * 6291556 bytes, as its RequestEntityTooLarge error says in reports such as
 * https://github.com/anomalyco/console/issues/63, read 2026-11-29). A request over it is refused with
 * 413 and Lambda's RequestTooLargeException; a result over it ends as a failed invocation: 502.
 *
 * Not served: CORS (the Cors settings are read into the plan, no preflight is answered and no
 * Access-Control header is added) and InvokeMode RESPONSE_STREAM (refused at start-up).
 */
export const MAX_SYNC_PAYLOAD_BYTES = 6_291_556;

export interface FunctionUrlServerOptions {
  functionUrl: LocalFunctionUrl;
  authorizer: Authorizer;
  /** A synchronous invocation of the URL's function; rejects with the function's error. */
  invoke(functionArn: string, event: unknown): Promise<unknown>;
  /** The identity behind an access key (AuthType AWS_IAM); undefined for a key nobody was given. */
  identity(accessKeyId: string): Principal | undefined;
}

export interface FunctionUrlServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  close(): Promise<void>;
}

/** Who calls a NONE function URL: nobody authenticated, in IAM's words the anonymous principal. */
const ANONYMOUS: Principal = { arn: `arn:aws:sts::${LOCAL_ACCOUNT}:anonymous`, policies: [] };

const FORBIDDEN_MESSAGE =
  'Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html';

export async function startFunctionUrlServer(options: FunctionUrlServerOptions): Promise<FunctionUrlServer> {
  const { functionUrl } = options;
  if (functionUrl.invokeMode === 'RESPONSE_STREAM')
    throw new Error(
      `function URL ${functionUrl.logicalId}: local mode does not serve InvokeMode RESPONSE_STREAM`,
    );
  const server = createServer((incoming, outgoing) => {
    void handle(options, incoming, outgoing).catch((error: unknown) => {
      // A local-mode fault, not a function error: say so rather than pretend it was the function.
      if (!outgoing.headersSent) outgoing.writeHead(500, { 'content-type': 'text/plain' });
      outgoing.end(`local function URL failed: ${String(error)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(
  options: FunctionUrlServerOptions,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  const { functionUrl, authorizer } = options;
  const received = new Date();
  const body = await readBody(incoming);
  if (!body) return tooLarge(outgoing);

  // Who is calling: anonymous for NONE; for AWS_IAM, the signer's identity (signature not verified).
  let caller: Principal | undefined;
  let accessKeyId: string | undefined;
  if (functionUrl.authType === 'NONE') caller = ANONYMOUS;
  else {
    accessKeyId = accessKeyOf(incoming);
    caller = accessKeyId ? options.identity(accessKeyId) : undefined;
  }
  if (!caller || !(await mayInvoke(authorizer, caller, functionUrl))) {
    outgoing.writeHead(403, {
      'content-type': 'application/json',
      'x-amzn-errortype': 'AccessDeniedException',
    });
    outgoing.end(JSON.stringify({ Message: FORBIDDEN_MESSAGE }));
    return;
  }

  const event = requestEvent(incoming, body, received, functionUrl, caller, accessKeyId);
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_SYNC_PAYLOAD_BYTES) return tooLarge(outgoing);

  let result: unknown;
  try {
    result = await options.invoke(functionUrl.functionArn, event);
  } catch {
    return badGateway(outgoing);
  }
  if (Buffer.byteLength(JSON.stringify(result ?? null)) > MAX_SYNC_PAYLOAD_BYTES) return badGateway(outgoing);
  const response = httpResponse(result);
  if (!response) return badGateway(outgoing);
  outgoing.writeHead(response.statusCode, response.headers);
  outgoing.end(response.body);
}

/** Both permissions a function URL needs, the second only when the first is granted (as IAM stops). */
async function mayInvoke(
  authorizer: Authorizer,
  caller: Principal,
  functionUrl: LocalFunctionUrl,
): Promise<boolean> {
  const url = await authorizer.check(caller, {
    action: 'lambda:InvokeFunctionUrl',
    resource: functionUrl.functionArn,
    context: { 'lambda:FunctionUrlAuthType': functionUrl.authType },
  });
  if (!url.allowed) return false;
  const invoke = await authorizer.check(caller, {
    action: 'lambda:InvokeFunction',
    resource: functionUrl.functionArn,
    context: { 'lambda:InvokedViaFunctionUrl': 'true' },
  });
  return invoke.allowed;
}

/** The body, or undefined once it passes the payload quota (the event could not carry it). */
async function readBody(incoming: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Past the quota the rest is read and dropped: stopping early would destroy the socket the refusal
  // must be written to.
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_SYNC_PAYLOAD_BYTES) chunks.push(chunk);
  }
  return size > MAX_SYNC_PAYLOAD_BYTES ? undefined : Buffer.concat(chunks);
}

function accessKeyOf(incoming: IncomingMessage): string | undefined {
  const authorization = incoming.headers.authorization;
  const fromHeader = authorization?.startsWith('AWS4-HMAC-SHA256 ')
    ? /Credential=([^/,\s]+)\//.exec(authorization)?.[1]
    : undefined;
  // A presigned URL carries the credential in the query instead.
  const fromQuery = new URL(incoming.url ?? '/', 'http://local').searchParams.get('X-Amz-Credential');
  return fromHeader ?? fromQuery?.split('/')[0];
}

/**
 * Whether Lambda passes a body as text. It base64-encodes every body whose content type is not text/*
 * or application/json (AWS's own function URL talk: "リクエストのContent-typeを application/json または
 * text/* に設定しないと、bodyがデフォルトでbase64でエンコードされる", i.e. unless the request's content
 * type is application/json or text/*, the body is base64-encoded by default;
 * https://speakerdeck.com/player/bf528d4f49d948b1b89ba21f3e262629, slide 15, read 2026-11-29).
 */
export function isTextContentType(contentType: string | undefined): boolean {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return media.startsWith('text/') || media === 'application/json';
}

/** The payload format version 2.0 event of a request, as Lambda builds it for a function URL. */
function requestEvent(
  incoming: IncomingMessage,
  body: Buffer,
  received: Date,
  functionUrl: LocalFunctionUrl,
  caller: Principal,
  accessKeyId: string | undefined,
) {
  const target = incoming.url ?? '/';
  const queryAt = target.indexOf('?');
  const rawPath = queryAt < 0 ? target : target.slice(0, queryAt);
  const rawQueryString = queryAt < 0 ? '' : target.slice(queryAt + 1);

  // Header names lower-cased, repeated headers' values joined with commas; cookies have their own field.
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
    const name = incoming.rawHeaders[i]!.toLowerCase();
    const value = incoming.rawHeaders[i + 1]!;
    if (name === 'cookie') {
      cookies.push(
        ...value
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const sourceIp = (incoming.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  // What Lambda's front end adds to every request it forwards.
  headers['x-forwarded-for'] ??= sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= String(incoming.socket.localPort ?? '');
  headers['x-amzn-trace-id'] ??= traceId(received);

  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString))
    queryStringParameters[name] =
      name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;

  const text = isTextContentType(headers['content-type']);
  const domainName = headers.host ?? `127.0.0.1:${incoming.socket.localPort}`;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters } : {}),
    requestContext: {
      // A NONE URL's events name the caller's account "anonymous" (the event on the same slide 15).
      accountId: functionUrl.authType === 'NONE' ? 'anonymous' : LOCAL_ACCOUNT,
      apiId: functionUrl.urlId,
      ...(functionUrl.authType === 'AWS_IAM'
        ? {
            authorizer: {
              iam: {
                accessKey: accessKeyId ?? null,
                accountId: LOCAL_ACCOUNT,
                callerId: caller.arn.split('/').slice(1).join(':') || caller.arn,
                cognitoIdentity: null,
                principalOrgId: null,
                userArn: caller.arn,
                userId: caller.arn.split('/').slice(1).join(':') || caller.arn,
              },
            },
          }
        : {}),
      domainName,
      domainPrefix: domainName.split('.')[0]!,
      http: {
        method: incoming.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${incoming.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: clfTime(received),
      timeEpoch: received.getTime(),
    },
    ...(body.length ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/**
 * The HTTP response of a function's result. A result with a statusCode is the response format
 * (statusCode, headers, body, isBase64Encoded, cookies as set-cookie headers); anything else is
 * inferred: status 200, content-type application/json, the result's JSON as the body (Lambda developer
 * guide, "Invoking Lambda function URLs", "Response payload format", read 2026-11-29). Undefined for a
 * result Lambda cannot turn into a response (a status that is not an HTTP status).
 */
export function httpResponse(result: unknown): HttpResponse | undefined {
  if (!result || typeof result !== 'object' || Array.isArray(result) || !('statusCode' in result))
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(result ?? null)),
    };
  const { statusCode, headers, body, isBase64Encoded, cookies } = result as Record<string, unknown>;
  const status = Number(statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  const out: Record<string, string | string[]> = {};
  if (headers && typeof headers === 'object')
    for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = String(value);
  if (Array.isArray(cookies) && cookies.length) out['set-cookie'] = cookies.map(String);
  const text =
    body === undefined || body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return {
    statusCode: status,
    headers: out,
    body: isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text),
  };
}

/** A function error, or a result Lambda cannot deliver: the front end answers 502. */
function badGateway(outgoing: ServerResponse): void {
  outgoing.writeHead(502, { 'content-type': 'application/json' });
  outgoing.end(JSON.stringify({ Message: 'Internal Server Error' }));
}

/** Lambda's refusal of a payload over the synchronous quota (Invoke's RequestTooLargeException, 413). */
function tooLarge(outgoing: ServerResponse): void {
  outgoing.writeHead(413, {
    'content-type': 'application/json',
    'x-amzn-errortype': 'RequestTooLargeException',
    connection: 'close',
  });
  outgoing.end(
    JSON.stringify({
      Message: `Request must be smaller than ${MAX_SYNC_PAYLOAD_BYTES} bytes for the Invoke operation`,
    }),
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, the time format of requestContext.time. */
function clfTime(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(at.getUTCDate())}/${MONTHS[at.getUTCMonth()]}/${at.getUTCFullYear()}:${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} +0000`;
}

/** An X-Ray trace header: Root=1-<epoch seconds, hex>-<24 hex digits>. */
function traceId(at: Date): string {
  return `Root=1-${Math.floor(at.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}
