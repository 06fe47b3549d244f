import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalCloud } from '../../local/cloud/index.js';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { WEBHOOK_ENTRY, WEBHOOK_OUTPUT, withWebhook, type WebhookOptions } from '../support/webhook-stack.js';

/**
 * A Lambda function URL is served as AWS serves it: the request becomes the payload 2.0 event, the
 * result becomes the response, and the function's resource policy decides who may call it.
 */
interface Received {
  version: string;
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded: boolean;
  requestContext: { http: { method: string; path: string }; routeKey: string; accountId: string };
}

async function withWebhookCloud<T>(
  scenario: (cloud: LocalCloud, received: () => Promise<Received[]>) => Promise<T>,
  without?: WebhookOptions['without'],
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tunedrop-url-'));
  const eventLog = join(dir, 'events.jsonl');
  let harness: LocalHarness | undefined;
  try {
    harness = await startLocalHarness({
      apiKey: 'sk-function-urls',
      cloud: {
        onLog: () => undefined,
        // Only the requests under test reach the function.
        schedules: false,
        transformTemplate: withWebhook({ eventLog, ...(without ? { without } : {}) }),
      },
    });
    const received = async () =>
      (await readFile(eventLog, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Received);
    return await scenario(harness.cloud, received);
  } finally {
    await harness?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A request as a raw HTTP client sends it: header names in the case given, repeated headers repeated. */
function send(
  url: string,
  options: { method: string; headers: Record<string, string | string[]>; body: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: options.method, headers: options.headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () =>
        resolve({
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

describe('a public function URL', () => {
  let harness: LocalHarness;
  let url: string;
  let dir: string;
  let received: () => Promise<Received[]>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tunedrop-url-'));
    const eventLog = join(dir, 'events.jsonl');
    harness = await startLocalHarness({
      apiKey: 'sk-function-urls',
      cloud: { onLog: () => undefined, schedules: false, transformTemplate: withWebhook({ eventLog }) },
    });
    url = harness.cloud.functionUrls.get(WEBHOOK_ENTRY)!;
    received = async () =>
      (await readFile(eventLog, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Received);
  });
  afterAll(async () => {
    await harness?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is served on 127.0.0.1, listed in functionUrls by entry and named by the stack output', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(harness.cloud.plan.outputs[WEBHOOK_OUTPUT]?.value).toBe(url);
    // The app's own webhook receiver has a URL too; this one is the test stack's.
    expect(harness.cloud.plan.functionUrls.filter((u) => u.url === url)).toEqual([
      expect.objectContaining({ authType: 'NONE', invokeMode: 'BUFFERED', url }),
    ]);
  });

  it('delivers a JSON POST as a version 2.0 event with the exact raw body and lower-cased headers, and returns the function response', async () => {
    const body = '{"event":"job.succeeded",  "id":"ftjob-1"}';
    const response = await send(`${url}hooks/openai?a=1&b=2&a=3`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Signature': 'v1,abc',
        'X-Repeated': ['one', 'two'],
        Cookie: 'c1=x; c2=y',
      },
      body,
    });
    expect(response.status).toBe(201);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['x-webhook']).toBe('received');
    expect(response.headers['set-cookie']).toEqual(['session=abc; Max-Age=60']);
    const { event } = JSON.parse(response.body) as { event: Received };
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/hooks/openai',
      rawQueryString: 'a=1&b=2&a=3',
      queryStringParameters: { a: '1,3', b: '2' },
      cookies: ['c1=x', 'c2=y'],
      body,
      isBase64Encoded: false,
      requestContext: {
        accountId: 'anonymous',
        routeKey: '$default',
        stage: '$default',
        http: { method: 'POST', path: '/hooks/openai', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      },
    });
    expect(event.headers).toMatchObject({
      'content-type': 'application/json',
      'x-signature': 'v1,abc',
      'x-repeated': 'one,two',
    });
    expect(Object.keys(event.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(event.headers.cookie).toBeUndefined();
  });

  it('base64-encodes a binary body and marks it isBase64Encoded', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    const response = await fetch(`${url}binary`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    const { event } = (await response.json()) as { event: Received };
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body!, 'base64')).toEqual(bytes);
  });

  it('answers a result without statusCode as 200 application/json with the result as body', async () => {
    const response = await fetch(`${url}inferred`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ inferred: true });
  });

  it('answers 502 when the function throws', async () => {
    const response = await fetch(`${url}throw`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(502);
    // The function ran and failed: the 502 is its error, not a refusal before it.
    expect((await received()).map((e) => e.rawPath)).toContain('/throw');
  });

  it('answers 502 for a result over 6 MB, and refuses a request body over 6 MB with 413 without invoking', async () => {
    expect((await fetch(`${url}big`)).status).toBe(502);
    const before = (await received()).length;
    const response = await fetch(`${url}upload`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(6 * 1024 * 1024 + 200),
    });
    expect(response.status).toBe(413);
    expect((await received()).length).toBe(before);
  });
});

it('without the public permission the URL answers 403 Forbidden and the function is not invoked', async () => {
  await withWebhookCloud(
    async (cloud, received) => {
      const url = cloud.functionUrls.get(WEBHOOK_ENTRY)!;
      const response = await fetch(url, { method: 'POST', body: '{}' });
      expect(response.status).toBe(403);
      expect(response.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
      expect(((await response.json()) as { Message: string }).Message).toMatch(/^Forbidden/);
      expect(await received()).toEqual([]);
      expect(cloud.iamDecisions).toContainEqual(
        expect.objectContaining({ action: 'lambda:InvokeFunctionUrl', allowed: false }),
      );
    },
    (id, type) => type === 'AWS::Lambda::Permission' && /invokefunctionurl/i.test(id),
  );
});

it('with only lambda:InvokeFunctionUrl granted (no lambda:InvokeFunction, as before October 2025) the URL answers 403', async () => {
  await withWebhookCloud(
    async (cloud, received) => {
      const response = await fetch(cloud.functionUrls.get(WEBHOOK_ENTRY)!);
      expect(response.status).toBe(403);
      expect(await received()).toEqual([]);
      expect(cloud.iamDecisions).toContainEqual(
        expect.objectContaining({ action: 'lambda:InvokeFunction', allowed: false }),
      );
    },
    (id, type) =>
      type === 'AWS::Lambda::Permission' && /invokefunction[A-Z0-9]{8}$/i.test(id) && !/url/i.test(id),
  );
});
