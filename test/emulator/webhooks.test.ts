import Ajv2020 from 'ajv/dist/2020.js';
import OpenAI, { InvalidWebhookSignatureError, toFile } from 'openai';
import { runScript } from '../support/run-script.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import {
  signWebhook,
  startOpenAiEmulator,
  WEBHOOK_USER_AGENT,
  type EmulatorOptions,
  type RunningEmulator,
} from '../../local/openai-emulator/server.js';
import { chatDataset } from '../support/fakes.js';

/**
 * The emulator's fine-tuning webhooks, received by a real local HTTP server and checked with the official
 * `openai` SDK's webhooks.unwrap() and the spec's WebhookFineTuningJob* schemas.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const SPEC = parse(readFileSync(join(HERE, '../../../shared/openai/openapi.yaml'), 'utf8')) as {
  components: { schemas: Record<string, object> };
};
// The three webhook schemas are self-contained (no $ref, no OpenAPI 3.0 leftovers), so they compile alone.
const ajv = new Ajv2020.default({ strict: false, allErrors: true, validateFormats: false });
const SCHEMAS = {
  'fine_tuning.job.succeeded': ajv.compile(SPEC.components.schemas.WebhookFineTuningJobSucceeded!),
  'fine_tuning.job.failed': ajv.compile(SPEC.components.schemas.WebhookFineTuningJobFailed!),
  'fine_tuning.job.cancelled': ajv.compile(SPEC.components.schemas.WebhookFineTuningJobCancelled!),
};
function expectEventShape(type: keyof typeof SCHEMAS, body: string): void {
  const validate = SCHEMAS[type];
  if (!validate(JSON.parse(body)))
    throw new Error(`${type} does not match the spec: ${ajv.errorsText(validate.errors)}`);
}

const API_KEY = 'sk-webhooks';
const FAST: EmulatorOptions['timing'] = {
  validatingMs: 5,
  queuedMs: 5,
  msPerStep: 0,
  webhookRetryBaseMs: 40,
  webhookMaxAttempts: 4,
  webhookTimeoutMs: 400,
};

interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}
/** A webhook receiver on 127.0.0.1 answering each request with the next scripted status (then 200); 'hang' never answers. */
class Receiver {
  readonly requests: Received[] = [];
  private server!: Server;
  url = '';
  constructor(private readonly script: Array<number | 'hang'> = []) {}
  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.requests.push({
          headers: flatten(request.headers),
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        const next = this.script.shift() ?? 200;
        if (next === 'hang') return;
        response.writeHead(next, next >= 300 && next < 400 ? { location: `${this.url}/moved` } : {});
        response.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
    return this;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
const flatten = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value!]),
  );

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const started: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});
async function receiver(script: Array<number | 'hang'> = []): Promise<Receiver> {
  const r = await new Receiver(script).start();
  started.push(r);
  return r;
}
async function emulator(options: EmulatorOptions = {}): Promise<{ emu: RunningEmulator; client: OpenAI }> {
  const emu = await startOpenAiEmulator({ apiKey: API_KEY, timing: FAST, ...options });
  started.push(emu);
  return { emu, client: new OpenAI({ apiKey: API_KEY, baseURL: emu.baseUrl, maxRetries: 0 }) };
}
async function trainingFile(client: OpenAI, content = chatDataset(12)): Promise<string> {
  return (
    await client.files.create({ file: await toFile(Buffer.from(content), 't.jsonl'), purpose: 'fine-tune' })
  ).id;
}
async function finishedJob(client: OpenAI, fileId: string) {
  const job = await client.fineTuning.jobs.create({ model: 'gpt-4.1-mini', training_file: fileId });
  for (let i = 0; i < 500; i++) {
    const current = await client.fineTuning.jobs.retrieve(job.id);
    if (['succeeded', 'failed', 'cancelled'].includes(current.status)) return current;
    await sleep(5);
  }
  throw new Error(`job ${job.id} never finished`);
}

describe('fine-tuning webhooks', () => {
  it("deliver fine_tuning.job.succeeded with OpenAI's headers, and the openai SDK's unwrap accepts it", async () => {
    const hook = await receiver();
    const { emu, client } = await emulator();
    const { secret } = emu.registerWebhookEndpoint(hook.url);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);

    const job = await finishedJob(client, await trainingFile(client));
    expect(job.status).toBe('succeeded');
    await until('the webhook', () => hook.requests.length === 1);
    const [request] = hook.requests;
    expect(request!.headers).toMatchObject({
      'user-agent': WEBHOOK_USER_AGENT,
      'content-type': 'application/json',
      'webhook-id': expect.stringMatching(/^wh_[0-9a-f]{32}$/),
      'webhook-timestamp': expect.stringMatching(/^\d+$/),
      'webhook-signature': expect.stringMatching(/^v1,[A-Za-z0-9+/]{43}=$/),
    });
    const event = await client.webhooks.unwrap(request!.body, request!.headers, secret);
    expect(event).toEqual({
      object: 'event',
      id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
      type: 'fine_tuning.job.succeeded',
      created_at: job.finished_at,
      data: { id: job.id },
    });
    expect(emu.webhookDeliveries).toEqual([
      expect.objectContaining({
        eventId: event.id,
        type: 'fine_tuning.job.succeeded',
        jobId: job.id,
        attempt: 1,
        status: 200,
        ok: true,
        final: true,
      }),
    ]);
  });

  it("send bodies that validate against the spec's WebhookFineTuningJobSucceeded/Failed/Cancelled schemas", async () => {
    expect(() =>
      expectEventShape(
        'fine_tuning.job.failed',
        JSON.stringify({ id: 'evt_x', type: 'fine_tuning.job.failed' }),
      ),
    ).toThrow(/created_at/);
    const hook = await receiver();
    const { emu, client } = await emulator();
    emu.registerWebhookEndpoint(hook.url);
    const file = await trainingFile(client);
    await finishedJob(client, file);
    emu.faults.onNextJob({ failWith: { code: 'server_error', message: 'boom' } });
    await finishedJob(client, file);
    const cancelled = await client.fineTuning.jobs.create({ model: 'gpt-4.1-mini', training_file: file });
    await client.fineTuning.jobs.cancel(cancelled.id);
    await until('three webhooks', () => hook.requests.length === 3);
    const byType = new Map(
      hook.requests.map((r) => [JSON.parse(r.body).type as keyof typeof SCHEMAS, r.body]),
    );
    expect([...byType.keys()].sort()).toEqual([
      'fine_tuning.job.cancelled',
      'fine_tuning.job.failed',
      'fine_tuning.job.succeeded',
    ]);
    for (const [type, body] of byType) expectEventShape(type, body);
  });

  it('send fine_tuning.job.failed for a failed job and fine_tuning.job.cancelled for a cancelled one', async () => {
    const hook = await receiver();
    const { emu, client } = await emulator();
    const { secret } = emu.registerWebhookEndpoint(hook.url);
    const failed = await finishedJob(client, await trainingFile(client, `${chatDataset(11)}{not json\n`));
    expect(failed.status).toBe('failed');
    await until('the failed event', () => hook.requests.length === 1);
    const cancelled = await client.fineTuning.jobs.create({
      model: 'gpt-4.1-mini',
      training_file: await trainingFile(client),
    });
    const afterCancel = await client.fineTuning.jobs.cancel(cancelled.id);
    await until('the cancelled event', () => hook.requests.length === 2);
    const events = await Promise.all(
      hook.requests.map((r) => client.webhooks.unwrap(r.body, r.headers, secret)),
    );
    expect(events).toEqual([
      expect.objectContaining({
        type: 'fine_tuning.job.failed',
        data: { id: failed.id },
        created_at: failed.finished_at,
      }),
      expect.objectContaining({
        type: 'fine_tuning.job.cancelled',
        data: { id: cancelled.id },
        created_at: afterCancel.finished_at,
      }),
    ]);
  });

  it('retry a receiver answering 500 twice then 200: three attempts, same webhook-id and body, growing waits', async () => {
    const hook = await receiver([500, 500, 200]);
    const { emu, client } = await emulator();
    const { secret } = emu.registerWebhookEndpoint(hook.url);
    await finishedJob(client, await trainingFile(client));
    await emu.webhooksSettled();
    expect(hook.requests).toHaveLength(3);
    expect(new Set(hook.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(hook.requests.map((r) => r.body)).size).toBe(1);
    for (const r of hook.requests) await client.webhooks.unwrap(r.body, r.headers, secret);
    expect(emu.webhookDeliveries.map((d) => [d.attempt, d.status, d.ok, d.final])).toEqual([
      [1, 500, false, false],
      [2, 500, false, false],
      [3, 200, true, true],
    ]);
    const [first, second, third] = emu.webhookDeliveries.map((d) => d.sentAt);
    expect(second! - first!).toBeGreaterThanOrEqual(40);
    expect(third! - second!).toBeGreaterThanOrEqual(80);
  });

  it('give up after webhookMaxAttempts on a receiver that never answers 2xx, and treat a redirect as a failure', async () => {
    const target = await receiver();
    const hook = await receiver([302, 503, 503, 503, 503]);
    const { emu, client } = await emulator();
    emu.registerWebhookEndpoint(hook.url);
    await finishedJob(client, await trainingFile(client));
    await emu.webhooksSettled();
    await sleep(200);
    expect(hook.requests).toHaveLength(4);
    expect(target.requests).toHaveLength(0);
    expect(emu.webhookDeliveries.map((d) => [d.status, d.final])).toEqual([
      [302, false],
      [503, false],
      [503, false],
      [503, true],
    ]);
  });

  it('retry a receiver that does not answer in time, and one that refuses the connection', async () => {
    const slow = await receiver(['hang', 200]);
    const closedPort = await receiver();
    await closedPort.close();
    const { emu, client } = await emulator();
    emu.registerWebhookEndpoint(slow.url);
    emu.registerWebhookEndpoint(closedPort.url);
    await finishedJob(client, await trainingFile(client));
    await emu.webhooksSettled();
    const to = (url: string) => emu.webhookDeliveries.filter((d) => d.url === url);
    expect(to(slow.url).map((d) => [d.attempt, d.error ?? d.status])).toEqual([
      [1, 'timeout'],
      [2, 200],
    ]);
    expect(to(closedPort.url)).toHaveLength(4);
    expect(
      to(closedPort.url).every((d) => !d.ok && d.status === undefined && /ECONNREFUSED/.test(d.error!)),
    ).toBe(true);
  });

  it('lose an event under the lose fault: it never arrives, and the next event does', async () => {
    const hook = await receiver();
    const { emu, client } = await emulator();
    emu.registerWebhookEndpoint(hook.url);
    emu.faults.onNextWebhook({ lose: true });
    const file = await trainingFile(client);
    const lost = await finishedJob(client, file);
    const next = await finishedJob(client, file);
    await emu.webhooksSettled();
    await sleep(100);
    expect(hook.requests.map((r) => JSON.parse(r.body).data.id)).toEqual([next.id]);
    expect(emu.webhookEvents.map((e) => [e.jobId, e.fault.lose === true])).toEqual([
      [lost.id, true],
      [next.id, false],
    ]);
    expect(emu.webhookDeliveries.some((d) => d.jobId === lost.id)).toBe(false);
  });

  it('deliver an event twice under the duplicate fault, with the same webhook-id and body', async () => {
    const hook = await receiver();
    const { emu, client } = await emulator();
    const { secret } = emu.registerWebhookEndpoint(hook.url);
    emu.faults.onNextWebhook({ duplicate: true });
    await finishedJob(client, await trainingFile(client));
    await emu.webhooksSettled();
    expect(hook.requests).toHaveLength(2);
    expect(hook.requests[1]!.headers['webhook-id']).toBe(hook.requests[0]!.headers['webhook-id']);
    expect(hook.requests[1]!.body).toBe(hook.requests[0]!.body);
    for (const r of hook.requests) await client.webhooks.unwrap(r.body, r.headers, secret);
    expect(emu.webhookDeliveries.map((d) => d.duplicate)).toEqual([false, true]);
  });

  it('send the first attempt late under the delay fault', async () => {
    const hook = await receiver();
    const { emu, client } = await emulator();
    emu.registerWebhookEndpoint(hook.url);
    emu.faults.onNextWebhook({ delay: 300 });
    await finishedJob(client, await trainingFile(client));
    await emu.webhooksSettled();
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]!.at - emu.webhookEvents[0]!.emittedAt).toBeGreaterThanOrEqual(290);
  });

  it('are refused by unwrap when signed with another secret, tampered with or replayed too late', async () => {
    const hook = await receiver();
    const { emu, client } = await emulator();
    const { secret } = emu.registerWebhookEndpoint(hook.url);
    await finishedJob(client, await trainingFile(client));
    await until('the webhook', () => hook.requests.length === 1);
    const { body, headers } = hook.requests[0]!;
    await expect(client.webhooks.unwrap(body, headers, secret)).resolves.toBeDefined();
    const another = `whsec_${randomBytes(32).toString('base64')}`;
    await expect(client.webhooks.unwrap(body, headers, another)).rejects.toThrow(
      InvalidWebhookSignatureError,
    );
    await expect(
      client.webhooks.unwrap(body.replace('succeeded', 'cancelled'), headers, secret),
    ).rejects.toThrow(InvalidWebhookSignatureError);
    const id = headers['webhook-id']!;
    const now = Math.floor(Date.now() / 1000);
    const replayed = signWebhook(secret, { id, timestamp: now - 600, body });
    await expect(client.webhooks.unwrap(body, replayed, secret)).rejects.toThrow(/too old/);
    // The helper signs exactly as the emulator does: same id, body and timestamp give the same header.
    expect(signWebhook(secret, { id, timestamp: Number(headers['webhook-timestamp']), body })).toEqual({
      'webhook-id': id,
      'webhook-timestamp': headers['webhook-timestamp'],
      'webhook-signature': headers['webhook-signature'],
    });
    const forged = JSON.stringify({ ...JSON.parse(body), type: 'fine_tuning.job.cancelled' });
    await expect(
      client.webhooks.unwrap(forged, signWebhook(secret, { id, timestamp: now, body: forged }), secret),
    ).resolves.toMatchObject({ type: 'fine_tuning.job.cancelled' });
  });

  it('go to every subscribed endpoint, and stop retrying an endpoint once it is removed', async () => {
    const failing = await receiver([500, 500, 500, 500]);
    const onlyFailed = await receiver();
    const { emu, client } = await emulator({ timing: { ...FAST, webhookRetryBaseMs: 150 } });
    const { id } = emu.registerWebhookEndpoint(failing.url);
    emu.registerWebhookEndpoint(onlyFailed.url, { eventTypes: ['fine_tuning.job.failed'] });
    await finishedJob(client, await trainingFile(client));
    await until('the first attempt', () => failing.requests.length === 1);
    expect(emu.removeWebhookEndpoint(id)).toBe(true);
    await emu.webhooksSettled();
    await sleep(400);
    expect(failing.requests).toHaveLength(1);
    expect(onlyFailed.requests).toHaveLength(0);
    expect(emu.webhookEndpoints.map((e) => e.url)).toEqual([onlyFailed.url]);
  });

  it('register the endpoints given at start with the secret given, and refuse a secret not in whsec_ format', async () => {
    const hook = await receiver();
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const { emu, client } = await emulator({ webhookEndpoints: [{ url: hook.url, secret }] });
    expect(emu.webhookEndpoints).toEqual([expect.objectContaining({ url: hook.url, secret })]);
    const job = await finishedJob(client, await trainingFile(client));
    await until('the webhook', () => hook.requests.length === 1);
    await expect(
      client.webhooks.unwrap(hook.requests[0]!.body, hook.requests[0]!.headers, secret),
    ).resolves.toMatchObject({ data: { id: job.id } });
    expect(() => emu.registerWebhookEndpoint(hook.url, { secret: 'not-a-secret' })).toThrow(/whsec_/);
    expect(() => emu.registerWebhookEndpoint(hook.url, { secret: 'whsec_c2hvcnQ=' })).toThrow(/24/);
  });

  it('stop a pending retry on close(), so nothing more is sent', async () => {
    const hook = await receiver([500]);
    const { emu, client } = await emulator({ timing: { ...FAST, webhookRetryBaseMs: 200 } });
    emu.registerWebhookEndpoint(hook.url);
    await finishedJob(client, await trainingFile(client));
    await until('the first attempt', () => emu.webhookDeliveries.length === 1);
    await emu.close();
    await emu.webhooksSettled();
    await sleep(400);
    expect(hook.requests).toHaveLength(1);
    expect(emu.webhookDeliveries).toHaveLength(1);
  });

  it('let a process exit on its own once it closes an emulator with a retry pending', async () => {
    // A child process: if close() left the retry's timer (a minute away) or a socket behind, it would not exit.
    const dir = mkdtempSync(join(tmpdir(), 'tunedrop-webhooks-'));
    const server = pathToFileURL(join(HERE, '../../local/openai-emulator/server.ts')).href;
    const script = join(dir, 'close.mts');
    writeFileSync(
      script,
      `
      import { createServer } from 'node:http';
      import { startOpenAiEmulator } from ${JSON.stringify(server)};
      const receiver = createServer((_req, res) => { res.writeHead(500); res.end(); });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const emulator = await startOpenAiEmulator({
        timing: { validatingMs: 1, queuedMs: 1, msPerStep: 0, webhookRetryBaseMs: 60_000 },
      });
      emulator.registerWebhookEndpoint('http://127.0.0.1:' + (receiver.address() as { port: number }).port);
      const auth = { authorization: 'Bearer k' };
      const form = new FormData();
      form.set('purpose', 'fine-tune');
      form.set('file', new Blob([${JSON.stringify(chatDataset(12))}]), 't.jsonl');
      const file = await (await fetch(emulator.baseUrl + '/files', { method: 'POST', headers: auth, body: form })).json();
      await fetch(emulator.baseUrl + '/fine_tuning/jobs', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1-mini', training_file: file.id }),
      });
      while (emulator.webhookDeliveries.length === 0) await new Promise((r) => setTimeout(r, 5));
      receiver.closeAllConnections();
      receiver.close();
      await emulator.close();
      console.log('closed after ' + emulator.webhookDeliveries.length + ' attempt(s), status ' + emulator.webhookDeliveries[0].status);
      `,
    );
    try {
      const { code, out } = await runScript(script, [], 20_000);
      expect({ code, out: out.trim() }).toEqual({ code: 0, out: 'closed after 1 attempt(s), status 500' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
