import OpenAI, { toFile } from 'openai';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { localEmbedding } from '../../local/embeddings/vectors.js';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { expectShape } from '../support/openai-spec.js';
import { expectBatchShape } from './batch-spec.js';

/**
 * Batches of /v1/embeddings end to end through the openai SDK: input file, batch, polling, output and
 * error files mapped by custom_id, the 50,000-input limit, line faults retried once, signed batch.*
 * webhooks, and the memory of a 100,000-input run.
 */
const API_KEY = 'sk-embedding-batches';
let emulator: RunningEmulator;
let client: OpenAI;
let receiver: Server;
const received: Array<{ body: string; headers: IncomingHttpHeaders }> = [];
let secret: string;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  emulator = await startOpenAiEmulator({
    apiKey: API_KEY,
    timing: { batchValidatingMs: 5, batchMsPerRequest: 0, batchFinalizingMs: 5 },
  });
  ({ secret } = emulator.registerWebhookEndpoint(
    `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
    { eventTypes: ['batch.completed', 'batch.failed', 'batch.expired', 'batch.cancelled'] },
  ));
  client = new OpenAI({ apiKey: API_KEY, baseURL: emulator.baseUrl, maxRetries: 0 });
});
afterAll(async () => {
  await emulator.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});
beforeEach(() => emulator.faults.clear());

const line = (customId: string, body: Record<string, unknown>, url = '/v1/embeddings') =>
  JSON.stringify({ custom_id: customId, method: 'POST', url, body });

async function runBatch(lines: string[]): Promise<OpenAI.Batch> {
  const file = await client.files.create({
    file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'embed.jsonl'),
    purpose: 'batch',
  });
  const created = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/embeddings',
    completion_window: '24h',
  });
  for (;;) {
    const batch = await client.batches.retrieve(created.id);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) return batch;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- output lines are read as plain JSON
type Line = Record<string, any>;
async function readLines(fileId: string | null | undefined): Promise<Line[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

describe('embedding batches', () => {
  it('answers each line as POST /v1/embeddings does, maps results by custom_id and reports usage', async () => {
    const texts = ['parcel late', 'refund please', 'password reset'];
    const lines = texts.map((t, i) =>
      line(`doc-${i}`, { model: 'text-embedding-3-small', input: t, dimensions: 16 }),
    );
    lines.push(line('multi', { model: 'text-embedding-3-small', input: texts, dimensions: 16 }));
    const batch = await runBatch(lines);
    expectBatchShape(batch);
    expect(batch.status).toBe('completed');
    expect(batch.model).toBe('text-embedding-3-small');
    expect(batch.request_counts).toEqual({ total: 4, completed: 4, failed: 0 });
    const output = await readLines(batch.output_file_id);
    const byId = new Map(output.map((o) => [o.custom_id, o]));
    for (const [i, text] of texts.entries()) {
      const answer = byId.get(`doc-${i}`)!;
      expect(answer.response.status_code).toBe(200);
      expectShape('CreateEmbeddingResponse', answer.response.body);
      expect(answer.response.body.data[0].embedding).toEqual(localEmbedding(text, 16));
      const online = await client.embeddings.create({
        model: 'text-embedding-3-small',
        input: text,
        dimensions: 16,
        encoding_format: 'float',
      });
      expect(answer.response.body.usage).toEqual(online.usage);
    }
    expect(byId.get('multi')!.response.body.data).toHaveLength(3);
    const tokens = output.reduce((sum, o) => sum + (o.response.body.usage.prompt_tokens as number), 0);
    expect(batch.usage).toMatchObject({ input_tokens: tokens, output_tokens: 0, total_tokens: tokens });
    expect(emulator.batchEmbeddingCalls.total).toMatchObject({ calls: 4, inputs: 6, tokens });
  });

  it('writes refused lines to the error file in the guide shape, with the status and error OpenAI gives online', async () => {
    const batch = await runBatch([
      line('ok', { model: 'text-embedding-3-small', input: 'fine', dimensions: 8 }),
      line('too-long', { model: 'text-embedding-3-small', input: 'word '.repeat(8300), dimensions: 8 }),
      line('empty', { model: 'text-embedding-3-small', input: '' }),
    ]);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    const errors = await readLines(batch.error_file_id);
    expect(errors.map((e) => e.custom_id).sort()).toEqual(['empty', 'too-long']);
    for (const error of errors) {
      expect(Object.keys(error).sort()).toEqual(['custom_id', 'error', 'id', 'response']);
      expect(error.response.status_code).toBe(400);
      expect(error.response.request_id).toMatch(/^req_/);
      expect(error.response.body.error.type).toBe('invalid_request_error');
    }
  });

  it('fails the batch at validation when a line url is not the batch endpoint', async () => {
    const batch = await runBatch([
      line('a', { model: 'text-embedding-3-small', input: 'x' }),
      line('b', { model: 'text-embedding-3-small', input: 'y' }, '/v1/chat/completions'),
    ]);
    expect(batch.status).toBe('failed');
    expect(batch.errors?.data?.[0]).toMatchObject({ code: 'url_mismatch', line: 2 });
  });

  it('fails a batch of more than 50,000 embedding inputs across its requests at validation', async () => {
    const chunk = Array(2000).fill('a');
    const over = await runBatch(
      Array.from({ length: 26 }, (_, i) =>
        line(`c${i}`, { model: 'text-embedding-3-small', input: i === 25 ? chunk.slice(0, 1) : chunk }),
      ),
    );
    expect(over.status).toBe('failed');
    expect(over.errors?.data?.[0]?.message).toContain('50000');
    expect(over.errors?.data?.[0]?.message).toContain('50001');
  });

  it('fails chosen lines once, so that a retry of the failed ones succeeds', async () => {
    emulator.faults.failNextBatchLines(['b', 'c']);
    const body = (input: string) => ({ model: 'text-embedding-3-small', input, dimensions: 8 });
    const first = await runBatch([line('a', body('one')), line('b', body('two')), line('c', body('three'))]);
    expect(first.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    const failed = await readLines(first.error_file_id);
    expect(failed.map((f) => f.custom_id).sort()).toEqual(['b', 'c']);
    expect(failed[0]!.response.status_code).toBe(500);
    expect(failed[0]!.response.body.error.type).toBe('server_error');
    const retry = await runBatch([line('b', body('two')), line('c', body('three'))]);
    expect(retry.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    expect(retry.error_file_id).toBeNull();
  });

  it('emits signed batch.completed and batch.failed webhooks with the spec payload', async () => {
    received.length = 0;
    const ok = await runBatch([line('a', { model: 'text-embedding-3-small', input: 'x', dimensions: 4 })]);
    const bad = await runBatch([line('a', { model: 'text-embedding-3-small', input: 'x' }, '/v1/x')]);
    await emulator.webhooksSettled();
    const events = await Promise.all(
      received.map((r) => client.webhooks.unwrap(r.body, r.headers as Record<string, string>, secret)),
    );
    const completed = events.find((e) => e.type === 'batch.completed')!;
    const failed = events.find((e) => e.type === 'batch.failed')!;
    expectShape('WebhookBatchCompleted', completed);
    expectShape('WebhookBatchFailed', failed);
    expect(completed.data.id).toBe(ok.id);
    expect(failed.data.id).toBe(bad.id);
    expect(completed.created_at).toBe(ok.completed_at);
    await expect(
      client.webhooks.unwrap(
        received[0]!.body,
        received[0]!.headers as Record<string, string>,
        `whsec_${Buffer.alloc(32).toString('base64')}`,
      ),
    ).rejects.toThrow();
  });
});
