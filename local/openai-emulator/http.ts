import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.js';
import type { BatchRunner } from './batches.js';
import type { Faults, RequestFault } from './faults.js';
import { MultipartError, multipartBoundary, readMultipart, type MultipartForm } from './multipart.js';
import type { Store } from './store.js';
import type { Trainer } from './trainer.js';

/**
 * The HTTP plumbing every emulated API shares: the request faults a test switches on (see faults.ts),
 * routing below the API's path prefix, JSON and multipart bodies, cursor pages. What differs between
 * OpenAI's API (routes.ts) and Azure OpenAI's (azure-routes.ts) is a `Flavor`: the prefix, the auth
 * check, the error body and the routes.
 */
export interface Api {
  store: Store;
  trainer: Trainer;
  /** Runs OpenAI's batches (batches.ts); Azure's routes have none. */
  batches: BatchRunner;
  faults: Faults;
}

export interface RouteResult {
  status?: number;
  json?: unknown;
  raw?: Uint8Array;
  /** The content type of a raw answer. @default 'application/octet-stream' */
  contentType?: string;
}

/** A request as the routes see it: its method, its path below the prefix, its URL. */
export interface RouteRequest {
  method: string;
  /** Below the flavor's prefix, without a trailing slash: `/fine_tuning/jobs/ftjob-…`. */
  path: string;
  url: URL;
  request: IncomingMessage;
}

/** A path's handler: its answer, or undefined when the path or method is not its own. */
export type Route = (
  api: Api,
  request: RouteRequest,
) => RouteResult | undefined | Promise<RouteResult | undefined>;

/** An injected fault that answers with an HTTP error. */
export type AnsweringFault = Extract<
  RequestFault,
  { kind: 'status' } | { kind: 'insufficientQuota' } | { kind: 'rateLimit' }
>;

export interface Flavor {
  /** The API's path prefix: `/v1`, `/openai/v1`. */
  prefix: string;
  /** Whether the request carries an accepted credential. */
  authorized(request: IncomingMessage): boolean;
  /** The answer to a request without an accepted credential. */
  unauthorized: { status: number; body: unknown };
  /** Checks a request before it is routed (query parameters the API takes on every path); throws ApiError. */
  check?(url: URL): void;
  /** The body of an ApiError in this API's error shape. */
  errorBody(error: ApiError): unknown;
  /** The status, body and headers with which this API answers an injected fault. */
  faultAnswer(fault: AnsweringFault): { status: number; body: unknown; headers?: Record<string, string> };
  routes: readonly Route[];
}

/** The handler of every request to an emulated API of this flavor. */
export function apiHandler(
  api: Api,
  flavor: Flavor,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    if (!flavor.authorized(request)) {
      request.resume();
      sendJson(response, flavor.unauthorized.status, flavor.unauthorized.body);
      return;
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    const below = url.pathname.startsWith(`${flavor.prefix}/`)
      ? url.pathname.slice(flavor.prefix.length)
      : url.pathname;
    const path = below.replace(/\/+$/, '');
    const method = request.method ?? 'GET';
    const fault = api.faults.take(method, path);
    if (fault && answerFault(fault, flavor, request, response)) return;
    const inside = url.pathname.startsWith(`${flavor.prefix}/`);
    respond(response, fault, flavor, async () => {
      if (!inside) throw new ApiError(404, `Invalid URL (${method} ${url.pathname})`);
      flavor.check?.(url);
      return route(api, flavor, { method, path, url, request });
    });
  };
}

/** Answers with `handle`'s result after a slow fault's delay, unless the fault loses the answer. */
function respond(
  response: ServerResponse,
  fault: RequestFault | undefined,
  flavor: Flavor,
  handle: () => Promise<RouteResult>,
): void {
  const delay = fault?.kind === 'slow' ? fault.delayMs : 0;
  new Promise<void>((resolve) => setTimeout(resolve, delay)).then(handle).then(
    (result) => {
      if (fault?.kind === 'lostResponse') response.socket?.destroy();
      else sendResult(response, result);
    },
    (error: unknown) => {
      const apiError =
        error instanceof ApiError
          ? error
          : new ApiError(500, (error as Error).message, null, null, 'server_error');
      sendJson(response, apiError.status, flavor.errorBody(apiError));
    },
  );
}

/** Answers the request in the fault's stead; false when the fault lets the request through. */
function answerFault(
  fault: RequestFault,
  flavor: Flavor,
  request: IncomingMessage,
  response: ServerResponse,
): boolean {
  if (fault.kind === 'slow' || fault.kind === 'lostResponse') return false;
  request.resume();
  if (fault.kind === 'reset') {
    request.socket.destroy();
    return true;
  }
  const { status, body, headers } = flavor.faultAnswer(fault);
  sendJson(response, status, body, headers);
  return true;
}

async function route(api: Api, flavor: Flavor, request: RouteRequest): Promise<RouteResult> {
  for (const handler of flavor.routes) {
    const result = await handler(api, request);
    if (result) return result;
  }
  throw new ApiError(404, `Invalid URL (${request.method} ${request.url.pathname})`);
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function sendResult(response: ServerResponse, { status = 200, json, raw, contentType }: RouteResult): void {
  if (!raw) return sendJson(response, status, json);
  response.writeHead(status, { 'content-type': contentType ?? 'application/octet-stream' });
  response.end(raw);
}

/** A multipart upload read with a per-file limit; a malformed body is a 400. */
export async function readUpload(request: IncomingMessage, maxFileBytes: number): Promise<MultipartForm> {
  const boundary = multipartBoundary(request.headers['content-type']);
  if (!boundary)
    throw new ApiError(
      400,
      `Invalid Content-Type header (${request.headers['content-type'] ?? 'none'}), expected multipart/form-data.`,
    );
  const contentLength = Number(request.headers['content-length']);
  try {
    return await readMultipart(request, {
      boundary,
      maxFileBytes,
      sizeHint: Number.isFinite(contentLength) ? contentLength : undefined,
    });
  } catch (error) {
    if (error instanceof MultipartError) throw new ApiError(400, error.message);
    throw error;
  }
}

export async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new ApiError(400, 'We could not parse the JSON body of your request.');
  }
}

/** OpenAI's cursor pages, which Azure's v1 API shares: `limit` (1..100, 20 by default) items after `after`. */
export function page<T extends { id: string }>(items: T[], url: URL) {
  const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20)));
  const after = url.searchParams.get('after');
  const start = after ? items.findIndex((item) => item.id === after) + 1 : 0;
  const data = items.slice(start, start + limit);
  return {
    object: 'list' as const,
    data,
    has_more: start + limit < items.length,
    ...(data.length
      ? { first_id: data[0]!.id, last_id: data.at(-1)!.id }
      : { first_id: null, last_id: null }),
  };
}
