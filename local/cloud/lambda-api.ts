import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * Local Lambda Invoke API: `POST /2015-03-31/functions/{FunctionName}/invocations` in the REST-JSON
 * protocol of @aws-sdk/client-lambda, so `tunedrop redrive` (InvokeCommand) runs against local mode.
 * It owns the HTTP side only: which function a FunctionName means, and running it, are the callbacks'.
 *
 * Facts used, read 2026-11-29:
 * - Invoke: InvocationType RequestResponse (200, the function's response; a function error is still 200
 *   with `X-Amz-Function-Error` and the error as payload), Event (202), DryRun (204); FunctionName as a
 *   name, ARN or partial ARN, optionally with a version or alias; "For synchronous invocations, the
 *   maximum payload size is 6 MB. For asynchronous invocations, the maximum payload size is 1 MB."
 *   https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
 * - MB there is MiB ("The Lambda documentation ... use the abbreviation MB (rather than MiB) to refer to
 *   1,024 KB", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). What Lambda
 *   answers past the limits, status 413 and error code RequestEntityTooLargeException (not the SDK's
 *   modelled RequestTooLargeException): "Request must be smaller than 6291456 bytes for the
 *   InvokeFunction operation" and "264496 byte payload is too large for the Event invocation type (limit
 *   262144 bytes)", quoted in github.com/pelmers/streetwarp-web/issues/14 and
 *   github.com/ASFHyP3/hyp3/issues/2241 (the Event limit has since become 1 MB, above).
 * - A response over the limit: "Exceeded maximum allowed payload size (6291556 bytes)" (quoted in
 *   github.com/anomalyco/console/issues/63): the caller gets a function error.
 * - Errors: `x-amzn-ErrorType` header and a `{"Type": "User", "Message": ...}` body; the SDK names the
 *   exception from the header. An unknown function is ResourceNotFoundException (404) "Function not
 *   found: <arn>".
 */
export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;
export const RESPONSE_PAYLOAD_LIMIT = 6 * 1024 * 1024 + 100;

export type InvocationType = 'RequestResponse' | 'Event';

export interface LocalLambdaApiOptions {
  /**
   * The function ARN a FunctionName (name, ARN or partial ARN, with `:$LATEST` or another qualifier)
   * names, or undefined if there is no such function. `functionResolver` gives one for a list of ARNs.
   */
  resolve: (functionName: string) => string | undefined;
  /**
   * Runs the function. For RequestResponse its result is the response payload and a rejection is a
   * function error; throw a LambdaServiceError for an error of the Lambda service itself (throttling).
   * For Event the API has already answered 202: retries and the on-failure destination are the
   * callback's, and a rejection is ignored here.
   */
  invoke: (functionArn: string, payload: unknown, invocationType: InvocationType) => Promise<unknown>;
}

export interface LocalLambdaApi {
  /** The endpoint for SDK clients (AWS_ENDPOINT_URL_LAMBDA). */
  endpoint: string;
  close(): Promise<void>;
}

/** An error of the Lambda service (not of the function), answered with its type and status. */
export class LambdaServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const LOCAL_REGION = 'us-east-1';
const LOCAL_ACCOUNT = '000000000000';

/** A FunctionName's parts: name, and the region, account and qualifier when it gives them. */
export interface FunctionReference {
  name: string;
  region?: string;
  account?: string;
  qualifier?: string;
}

// Lambda's pattern for FunctionName (API_Invoke.html): [arn:aws:lambda:region:]account:function:]name[:qualifier].
const FUNCTION_NAME =
  /^(?:(?:arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?(\d{12}):function:)?([a-zA-Z0-9_.-]+)(?::(\$LATEST|[a-zA-Z0-9_-]+))?$/;

export function parseFunctionName(functionName: string): FunctionReference | undefined {
  const match = FUNCTION_NAME.exec(functionName);
  if (!match) return undefined;
  const [, region, account, name, qualifier] = match;
  return {
    name: name!,
    ...(region ? { region } : {}),
    ...(account ? { account } : {}),
    ...(qualifier ? { qualifier } : {}),
  };
}

/**
 * Resolves FunctionNames against the functions' unqualified ARNs. Local mode has no published versions
 * or aliases: only `$LATEST` (or no qualifier) resolves, as on AWS for a function never published.
 */
export function functionResolver(
  functionArns: () => Iterable<string>,
): (functionName: string) => string | undefined {
  return (functionName) => {
    const wanted = parseFunctionName(functionName);
    if (!wanted || (wanted.qualifier && wanted.qualifier !== '$LATEST')) return undefined;
    for (const arn of functionArns()) {
      const candidate = parseFunctionName(arn);
      if (
        candidate?.name === wanted.name &&
        (!wanted.region || wanted.region === candidate.region) &&
        (!wanted.account || wanted.account === candidate.account)
      )
        return arn;
    }
    return undefined;
  };
}

/** What the Node.js runtime reports for a thrown error; the local Lambda's LambdaError carries it as JSON. */
const FunctionErrorSchema = z.object({
  errorType: z.string(),
  errorMessage: z.string(),
  trace: z.array(z.string()).optional(),
});
type FunctionErrorPayload = z.infer<typeof FunctionErrorSchema>;

export function functionErrorPayload(error: unknown): FunctionErrorPayload {
  const direct = FunctionErrorSchema.safeParse(error);
  if (direct.success) return { trace: [], ...direct.data };
  if (error instanceof Error) {
    try {
      const carried = FunctionErrorSchema.safeParse(JSON.parse(error.message));
      if (carried.success) return { trace: [], ...carried.data };
    } catch {
      // Not a carried payload: the error itself is the function's.
    }
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: 'Error', errorMessage: String(error), trace: [] };
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export async function startLocalLambdaApi(options: LocalLambdaApiOptions): Promise<LocalLambdaApi> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(request, Buffer.concat(chunks), options).then(
        (reply) => send(response, reply),
        (error: unknown) =>
          send(response, serviceError(error instanceof LambdaServiceError ? error : internal(error))),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

async function handle(
  request: IncomingMessage,
  body: Buffer,
  options: LocalLambdaApiOptions,
): Promise<Reply> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const path = INVOKE_PATH.exec(url.pathname);
  if (request.method !== 'POST' || !path) {
    throw new LambdaServiceError(
      'UnknownOperationException',
      `local Lambda answers only Invoke (POST /2015-03-31/functions/{FunctionName}/invocations), not ${request.method} ${url.pathname}`,
      404,
    );
  }
  const functionName = decodeURIComponent(path[1]!);
  const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  if (!['RequestResponse', 'Event', 'DryRun'].includes(invocationType)) {
    throw new LambdaServiceError(
      'ValidationException',
      `1 validation error detected: Value '${invocationType}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
    );
  }

  const reference = parseFunctionName(functionName);
  if (!reference) {
    throw new LambdaServiceError(
      'ValidationException',
      `1 validation error detected: Value '${functionName}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_NAME.source}`,
    );
  }
  const qualifier = url.searchParams.get('Qualifier') ?? undefined;
  if (qualifier && reference.qualifier && qualifier !== reference.qualifier) {
    throw new LambdaServiceError(
      'InvalidParameterValueException',
      'The derived qualifier from the function name does not match the specified qualifier.',
    );
  }
  const qualified = qualifier && !reference.qualifier ? `${functionName}:${qualifier}` : functionName;
  const functionArn = options.resolve(qualified);
  if (!functionArn) {
    const arn = `arn:aws:lambda:${reference.region ?? LOCAL_REGION}:${reference.account ?? LOCAL_ACCOUNT}:function:${reference.name}`;
    const shownQualifier = reference.qualifier ?? qualifier;
    throw new LambdaServiceError(
      'ResourceNotFoundException',
      `Function not found: ${shownQualifier ? `${arn}:${shownQualifier}` : arn}`,
      404,
    );
  }

  const limit = invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
  if (body.length > limit) {
    throw new LambdaServiceError(
      'RequestEntityTooLargeException',
      invocationType === 'Event'
        ? `${body.length} byte payload is too large for the Event invocation type (limit ${limit} bytes)`
        : `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
      413,
    );
  }
  let payload: unknown = {};
  if (body.length) {
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new LambdaServiceError(
        'InvalidRequestContentException',
        `Could not parse request body into json: ${(error as Error).message}`,
      );
    }
  }

  const requestId = randomUUID();
  if (invocationType === 'DryRun') return { status: 204, headers: { 'x-amzn-requestid': requestId } };
  if (invocationType === 'Event') {
    void options.invoke(functionArn, payload, 'Event').catch(() => undefined);
    return { status: 202, headers: { 'x-amzn-requestid': requestId } };
  }

  const headers = {
    'content-type': 'application/json',
    'x-amzn-requestid': requestId,
    'x-amz-executed-version': '$LATEST',
  };
  let result: unknown;
  try {
    result = await options.invoke(functionArn, payload, 'RequestResponse');
  } catch (error) {
    if (error instanceof LambdaServiceError) throw error;
    return {
      status: 200,
      headers: { ...headers, 'x-amz-function-error': 'Unhandled' },
      body: JSON.stringify(functionErrorPayload(error)),
    };
  }
  const text = JSON.stringify(result) ?? 'null';
  if (Buffer.byteLength(text) > RESPONSE_PAYLOAD_LIMIT) {
    return {
      status: 200,
      headers: { ...headers, 'x-amz-function-error': 'Unhandled' },
      body: JSON.stringify({
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${RESPONSE_PAYLOAD_LIMIT} bytes).`,
      }),
    };
  }
  return { status: 200, headers, body: text };
}

function internal(error: unknown): LambdaServiceError {
  return new LambdaServiceError('ServiceException', `local Lambda failed: ${(error as Error).message}`, 500);
}

function serviceError(error: LambdaServiceError): Reply {
  return {
    status: error.status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': error.type,
      'x-amzn-requestid': randomUUID(),
    },
    body: JSON.stringify({ Type: error.status >= 500 ? 'Service' : 'User', Message: error.message }),
  };
}

function send(response: ServerResponse, reply: Reply) {
  if (response.destroyed) return;
  response.writeHead(reply.status, reply.headers);
  response.end(reply.body);
}
