import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errorBody, type ErrorBody } from './api-error.js';
import type { Faults, RequestFault } from './faults.js';
import { jobFromRequest } from './job-request.js';
import { MultipartError, multipartBoundary, readMultipart, type MultipartForm } from './multipart.js';
import { isFinished, type Job, type StoredFile, type Store } from './store.js';
import type { Trainer } from './trainer.js';

/**
 * OpenAI's REST API over the store and the trainer: its paths (files, fine_tuning.jobs, models delete),
 * its bearer-key check, its error shapes, and the request faults a test switches on (see faults.ts).
 */
export interface OpenAiApi {
  store: Store;
  trainer: Trainer;
  faults: Faults;
  /** When set, only this bearer key is accepted; otherwise any non-empty key. */
  apiKey: string | undefined;
}

interface RouteResult {
  status?: number;
  json?: unknown;
  raw?: Uint8Array;
}

/** A path's handler: its answer, or undefined when the path or method is not its own. */
type Route = (
  api: OpenAiApi,
  request: IncomingMessage,
  url: URL,
) => RouteResult | undefined | Promise<RouteResult | undefined>;

/**
 * OpenAI's limit per uploaded file: "Individual files can be up to 512 MB" (createFile in
 * ../shared/openai/openapi.yaml and https://platform.openai.com/docs/api-reference/files/create, read
 * 2026-11-29), taken as MiB like tunedrop's validation (functions/core/dataset.ts). A file over a size
 * limit is refused with 400 {message: "File is too large.", type: invalid_request_error, param: null,
 * code: null}, as the live API answered for the Batch API's 200 MB limit
 * (https://github.com/bespokelabsai/curator/issues/111, read 2026-11-29).
 */
const MAX_FILE_BYTES = 512 * 1024 * 1024;
/** OpenAI's words for a 429 that no retry fixes (see faults.ts for the source). */
const INSUFFICIENT_QUOTA_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.';

/** The handler of every request to the emulated OpenAI API. */
export function openAiHandler(api: OpenAiApi): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    if (!authorized(request, api.apiKey)) {
      request.resume();
      sendJson(
        response,
        401,
        errorBody('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key'),
      );
      return;
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    const fault = api.faults.take(
      request.method ?? 'GET',
      url.pathname.replace(/^\/v1/, '').replace(/\/+$/, ''),
    );
    if (fault && answerFault(fault, request, response)) return;
    respond(api, request, response, url, fault);
  };
}

/** Routes the request, after a slow fault's delay, and sends the answer unless the fault loses it. */
function respond(
  api: OpenAiApi,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  fault: RequestFault | undefined,
): void {
  const delay = fault?.kind === 'slow' ? fault.delayMs : 0;
  const handled = new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() =>
    route(api, request, url),
  );
  handled.then(
    (result) => {
      if (fault?.kind === 'lostResponse') request.socket.destroy();
      else sendResult(response, result);
    },
    (error: unknown) => sendJson(response, ...errorAnswer(error)),
  );
}

function authorized(request: IncomingMessage, apiKey: string | undefined): boolean {
  const authorization = String(request.headers.authorization ?? '');
  const key = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
  return key !== '' && (apiKey === undefined || key === apiKey);
}

/** Answers the request in the fault's stead; false when the fault lets the request through. */
function answerFault(fault: RequestFault, request: IncomingMessage, response: ServerResponse): boolean {
  if (fault.kind === 'slow' || fault.kind === 'lostResponse') return false;
  request.resume();
  if (fault.kind === 'reset') request.socket.destroy();
  else if (fault.kind === 'insufficientQuota')
    sendJson(
      response,
      429,
      errorBody(INSUFFICIENT_QUOTA_MESSAGE, 'insufficient_quota', null, 'insufficient_quota'),
    );
  else
    sendJson(
      response,
      fault.status,
      errorBody(
        fault.message ?? `Injected fault: HTTP ${fault.status}`,
        faultType(fault),
        null,
        fault.code ?? null,
      ),
      fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {},
    );
  return true;
}

/** The error type OpenAI gives an injected status. */
function faultType(fault: { status: number; code?: string }): string {
  if (fault.code === 'insufficient_quota') return 'insufficient_quota';
  if (fault.status === 429) return 'rate_limit_error';
  return fault.status >= 500 ? 'server_error' : 'invalid_request_error';
}

function errorAnswer(error: unknown): [number, ErrorBody] {
  if (error instanceof ApiError) return [error.status, error.body()];
  return [500, errorBody((error as Error).message, 'server_error')];
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function sendResult(response: ServerResponse, { status = 200, json, raw }: RouteResult) {
  if (!raw) return sendJson(response, status, json);
  response.writeHead(status, { 'content-type': 'application/octet-stream' });
  response.end(raw);
}

/** The first route that answers, in order; the rest is 404. */
async function route(api: OpenAiApi, request: IncomingMessage, url: URL): Promise<RouteResult> {
  for (const handler of ROUTES) {
    const result = await handler(api, request, url);
    if (result) return result;
  }
  throw new ApiError(404, `Invalid URL (${request.method ?? 'GET'} ${url.pathname})`);
}

const methodAndPath = (request: IncomingMessage, url: URL) => ({
  method: request.method ?? 'GET',
  path: url.pathname.replace(/\/+$/, ''),
});

const uploadFile: Route = async ({ store }, request, url) => {
  const { method, path } = methodAndPath(request, url);
  if (method !== 'POST' || path !== '/v1/files') return undefined;
  const form = await readUpload(request);
  const file = form.files.get('file');
  const purpose = form.fields.get('purpose');
  if (!file) throw new ApiError(400, "Missing required parameter: 'file'.", 'file');
  if (!purpose) throw new ApiError(400, "Missing required parameter: 'purpose'.", 'purpose');
  if (!file.content) throw new ApiError(400, 'File is too large.');
  return { json: fileView(store.addFile(file.filename || 'upload.jsonl', purpose, file.content)) };
};

async function readUpload(request: IncomingMessage): Promise<MultipartForm> {
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
      maxFileBytes: MAX_FILE_BYTES,
      sizeHint: Number.isFinite(contentLength) ? contentLength : undefined,
    });
  } catch (error) {
    if (error instanceof MultipartError) throw new ApiError(400, error.message);
    throw error;
  }
}

const listFiles: Route = ({ store }, request, url) => {
  const { method, path } = methodAndPath(request, url);
  if (method !== 'GET' || path !== '/v1/files') return undefined;
  return { json: page(store.allFiles().map(fileView), url) };
};

const fileById: Route = ({ store }, request, url) => {
  const { method, path } = methodAndPath(request, url);
  const m = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
  if (!m) return undefined;
  const file = store.file(decodeURIComponent(m[1]!));
  if (!file) throw new ApiError(404, `No such File object: ${m[1]}`, 'id');
  if (method === 'GET' && m[2]) return { raw: file.content };
  if (method === 'GET') return { json: fileView(file) };
  if (method !== 'DELETE') return undefined;
  store.deleteFile(file.id);
  return { json: { id: file.id, object: 'file', deleted: true } };
};

const jobs: Route = async ({ store, trainer }, request, url) => {
  const { method, path } = methodAndPath(request, url);
  if (path !== '/v1/fine_tuning/jobs') return undefined;
  if (method === 'POST') {
    const { job, base } = jobFromRequest((await readJson(request)) as Record<string, unknown>, store);
    store.addJob(job);
    store.log(job.id, `Created fine-tuning job: ${job.id}`);
    trainer.start(job, { images: base.images });
    return { json: job };
  }
  if (method === 'GET') return { json: page(jobsWithMetadata(store, url.searchParams), url) };
  return undefined;
};

/** Newest first, those whose metadata has every `metadata[key]=value` of the query. */
function jobsWithMetadata(store: Store, query: URLSearchParams): Job[] {
  const filters = [...query.entries()].flatMap(([k, v]) => {
    const key = /^metadata\[(.+)\]$/.exec(k);
    return key ? [[key[1]!, v] as const] : [];
  });
  return store.jobsNewestFirst().filter((job) => filters.every(([k, v]) => job.metadata?.[k] === v));
}

const jobById: Route = ({ store, trainer }, request, url) => {
  const { method, path } = methodAndPath(request, url);
  const m = /^\/v1\/fine_tuning\/jobs\/([^/]+)(?:\/(cancel|events|checkpoints))?$/.exec(path);
  if (!m) return undefined;
  const job = getJob(store, decodeURIComponent(m[1]!));
  if (method === 'GET' && !m[2]) return { json: job };
  if (method === 'POST' && m[2] === 'cancel') {
    if (isFinished(job.status))
      throw new ApiError(400, `Job ${job.id} has already ${job.status}.`, null, 'invalid_request_error');
    trainer.cancel(job);
    return { json: job };
  }
  if (method === 'GET' && m[2] === 'events') return { json: page(store.eventsNewestFirst(job.id), url) };
  if (method === 'GET' && m[2] === 'checkpoints')
    return { json: page(store.checkpointsNewestFirst(job.id), url) };
  return undefined;
};

const deleteModel: Route = ({ store }, request, url) => {
  const { method, path } = methodAndPath(request, url);
  const m = method === 'DELETE' ? /^\/v1\/models\/(.+)$/.exec(path) : null;
  if (!m) return undefined;
  const model = decodeURIComponent(m[1]!);
  if (!store.deleteModel(model))
    throw new ApiError(404, `The model '${model}' does not exist`, 'model', 'model_not_found');
  return { json: { id: model, object: 'model', deleted: true } };
};

const ROUTES: readonly Route[] = [uploadFile, listFiles, fileById, jobs, jobById, deleteModel];

/** A file as the API shows it: everything but its content. */
const fileView = ({ content: _content, ...file }: StoredFile) => file;

function getJob(store: Store, id: string): Job {
  const job = store.job(id);
  if (!job) throw new ApiError(404, `No such job: ${id}`, 'fine_tuning_job_id', 'fine_tuning_job_not_found');
  return job;
}

/** OpenAI's cursor pages: `limit` (1..100, 20 by default) items after the `after` id. */
function page<T extends { id: string }>(items: T[], url: URL) {
  const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20)));
  const after = url.searchParams.get('after');
  const start = after ? items.findIndex((item) => item.id === after) + 1 : 0;
  const data = items.slice(start, start + limit);
  return {
    object: 'list',
    data,
    has_more: start + limit < items.length,
    ...(data.length
      ? { first_id: data[0]!.id, last_id: data.at(-1)!.id }
      : { first_id: null, last_id: null }),
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new ApiError(400, 'We could not parse the JSON body of your request.');
  }
}
