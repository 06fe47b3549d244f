import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunRecord } from '../../functions/core/run.js';
import { CONSOLE_CSP, renderConsolePage, type ConsoleEvent, type ConsoleMetric } from './render.js';

/**
 * The local console (#13 point 6): a status page for the local cloud on 127.0.0.1, for as long as
 * `npm run local` runs (and `npm start`, with `-- --keep` to keep it open after the demo). `/` is the page
 * (local/console/render.ts); `/files/runs/<runId>/<file>` serves a run's report and result files from
 * the local bucket, `/files/embeddings/<runId>/<file>` an embedding run's validation report and manifest,
 * and nothing else: not incoming/ or embed/ (the users' data), not the training copies under runs/, not
 * the requests or the embeddings themselves, no other key.
 */

/** What the console reads: a LocalCloud has all of it; `notifications` only once the cloud delivers them. */
export interface ConsoleSource {
  bucket: string;
  s3: S3Client;
  listRuns(): Promise<RunRecord[]>;
  metrics(): readonly ConsoleMetric[];
  events: { received(): readonly ConsoleEvent[] };
  /** Feature-detected: shown when it is a function that returns a list. */
  notifications?: () => unknown;
}

/** The port `npm start` and `npm run local` try first; another free port when it is taken. */
export const DEFAULT_CONSOLE_PORT = 8719;

/** The files of a run a person reads, by name, with their content types. */
export const SERVED_FILES: Readonly<Record<string, string>> = {
  'report.html': 'text/html; charset=utf-8',
  'validation.md': 'text/markdown; charset=utf-8',
  'validation.json': 'application/json; charset=utf-8',
  'results.csv': 'text/csv; charset=utf-8',
  'summary.json': 'application/json; charset=utf-8',
  'dataset.json': 'application/json; charset=utf-8',
};

/** The files of an embedding run a person reads (embeddings/<runId>/, #15): not its requests or vectors. */
export const SERVED_EMBEDDING_FILES: Readonly<Record<string, string>> = {
  'validation.md': 'text/markdown; charset=utf-8',
  'validation.json': 'application/json; charset=utf-8',
  'manifest.json': 'application/json; charset=utf-8',
};

/** A served file's own policy: its inline style applies, nothing loads, nothing runs (sandboxed). */
const FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

/**
 * The bucket key a /files/ path names, when the console may serve it: `runs/<runId>/<file>` with a run id
 * of the characters run ids have and a file of SERVED_FILES, or `embeddings/<runId>/<file>` with a file of
 * SERVED_EMBEDDING_FILES. Anything else (incoming/, embed/, "..", encoded slashes, training copies,
 * requests, vectors) is refused.
 */
export function servedKey(path: string): { key: string; contentType: string } | undefined {
  if (!path.startsWith('/files/')) return undefined;
  const parts = path.slice('/files/'.length).split('/');
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  const [top, runId, file, ...rest] = decoded;
  const served = top === 'runs' ? SERVED_FILES : top === 'embeddings' ? SERVED_EMBEDDING_FILES : undefined;
  if (!served || !runId || !file || rest.length > 0) return undefined;
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(runId)) return undefined;
  const contentType = Object.hasOwn(served, file) ? served[file] : undefined;
  return contentType ? { key: `${top}/${runId}/${file}`, contentType } : undefined;
}

export interface RunningConsole {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ConsoleOptions {
  /** 0 for any free port. @default DEFAULT_CONSOLE_PORT, or any free port when it is taken */
  port?: number;
  /** Seconds between the page's refreshes. @default 2 */
  refreshSeconds?: number;
}

export async function startConsole(
  source: ConsoleSource,
  options: ConsoleOptions = {},
): Promise<RunningConsole> {
  const server = createServer((request, response) => {
    handle(source, options, request, response).catch((error: unknown) => {
      if (!response.headersSent)
        send(response, 500, 'text/plain; charset=utf-8', `console error: ${(error as Error).message}\n`);
      else response.destroy();
    });
  });
  const port = await listen(server, options.port ?? DEFAULT_CONSOLE_PORT).catch(
    async (error: NodeJS.ErrnoException) => {
      if (options.port === undefined && error.code === 'EADDRINUSE') return listen(server, 0);
      throw error;
    },
  );
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function send(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  csp = CONSOLE_CSP,
) {
  response.writeHead(status, {
    'content-type': contentType,
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  response.end(body);
}

async function handle(
  source: ConsoleSource,
  options: ConsoleOptions,
  request: IncomingMessage,
  response: ServerResponse,
) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  const path = (request.url ?? '/').split('?')[0]!;
  if (path === '/') {
    const html = renderConsolePage({
      bucket: source.bucket,
      runs: await source.listRuns(),
      metrics: source.metrics(),
      events: source.events.received(),
      notifications: notificationsOf(source),
      now: new Date(),
      ...(options.refreshSeconds !== undefined ? { refreshSeconds: options.refreshSeconds } : {}),
    });
    return send(response, 200, 'text/html; charset=utf-8', request.method === 'HEAD' ? '' : html);
  }
  if (path.startsWith('/files/')) {
    const served = servedKey(path);
    if (!served)
      return send(
        response,
        403,
        'text/plain; charset=utf-8',
        'the console serves only the report and result files of runs/<runId>/ and embeddings/<runId>/\n',
      );
    const object = await source.s3
      .send(new GetObjectCommand({ Bucket: source.bucket, Key: served.key }))
      .catch((error: { name?: string }) => {
        if (error.name === 'NoSuchKey' || error.name === 'NotFound') return undefined;
        throw error;
      });
    if (!object?.Body) return send(response, 404, 'text/plain; charset=utf-8', `no ${served.key}\n`);
    const bytes = await object.Body.transformToByteArray();
    return send(response, 200, served.contentType, request.method === 'HEAD' ? '' : bytes, FILE_CSP);
  }
  return send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
}

/** The cloud's notifications, when it has them (another part of the local cloud adds them). */
function notificationsOf(source: ConsoleSource): readonly unknown[] | undefined {
  if (typeof source.notifications !== 'function') return undefined;
  const list = source.notifications();
  return Array.isArray(list) ? list : undefined;
}
