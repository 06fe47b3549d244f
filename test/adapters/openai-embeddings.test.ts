import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { localEmbedding } from '../../local/embeddings/vectors.js';
import {
  azureEmbeddingModels,
  batchResultOf,
  decodeBase64Floats,
  openAiEmbeddingModels,
} from '../../functions/adapters/openai-embeddings.js';
import { retryAfterMs, throttleDelayMs } from '../../functions/adapters/embedding-retries.js';
import { ProviderRejectedError, ProviderUnavailableError } from '../../functions/core/errors.js';
import type { EmbeddingBatchResult } from '../../functions/core/ports.js';

/**
 * The EmbeddingModels adapter of OpenAI and Azure OpenAI, against the local emulator's /v1/embeddings and
 * /v1/batches (local/openai-emulator/embeddings.ts, batches.ts).
 */
const API_KEY = 'sk-embeddings-adapter';
const MODEL = 'text-embedding-3-small';
let emulator: RunningEmulator;

beforeAll(async () => {
  emulator = await startOpenAiEmulator({
    apiKey: API_KEY,
    timing: { batchValidatingMs: 5, batchMsPerRequest: 1, batchFinalizingMs: 5, batchCancellingMs: 5 },
  });
});
afterAll(async () => emulator?.close());
beforeEach(() => emulator.faults.clear());

const noWait = { random: () => 0.5, sleep: async () => undefined };
const models = (waits: number[] = []) =>
  openAiEmbeddingModels({
    apiKey: API_KEY,
    baseURL: emulator.baseUrl,
    retryTools: { random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
  });

const close = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((value, i) => Math.abs(value - b[i]!) < 1e-6);

describe('openAiEmbeddingModels.embed', () => {
  it('answers one vector per text in the texts order, of the dimensions asked, with the billed tokens', async () => {
    const texts = ['the parcel is late', 'refund my order', 'the parcel arrived late'];
    const answer = await models().embed({ model: MODEL, dimensions: 64, texts });
    expect(answer.vectors).toHaveLength(3);
    answer.vectors.forEach((vector, i) => expect(close(vector, localEmbedding(texts[i]!, 64))).toBe(true));
    expect(answer.tokens).toBeGreaterThan(0);
  });

  it('retries a 429 after its Retry-After plus jitter, then answers', async () => {
    emulator.faults.rateLimitEmbeddings(2, { retryAfterSeconds: 2 });
    const waits: number[] = [];
    const answer = await models(waits).embed({ model: MODEL, dimensions: 8, texts: ['hello'] });
    expect(answer.vectors[0]).toHaveLength(8);
    // Retry-After 2 s as the floor, plus half of the step (1 s, then 2 s): the SDK itself retried none.
    expect(waits).toEqual([2_500, 3_000]);
    expect(emulator.faults.applied.filter((fault) => fault.fault === 'rateLimit')).toHaveLength(2);
  });

  it('surfaces throttling as ProviderUnavailableError once the attempts are spent', async () => {
    emulator.faults.rateLimitEmbeddings(10, { retryAfterSeconds: 1 });
    const embed = openAiEmbeddingModels({
      apiKey: API_KEY,
      baseURL: emulator.baseUrl,
      throttle: { attempts: 3 },
      retryTools: noWait,
    }).embed({ model: MODEL, texts: ['x'] });
    await expect(embed).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(emulator.faults.applied).toHaveLength(3);
  });

  it("refuses a bad request as ProviderRejectedError with the provider's message", async () => {
    const error = await models()
      .embed({ model: MODEL, texts: [''] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect((error as Error).message).toMatch(/HTTP 400.*'\$\.input' is invalid/);
  });
});

describe('azureEmbeddingModels', () => {
  // The emulator's Azure flavour serves no /embeddings yet: a small fake of the v1 route checks what is sent.
  it('embeds through the v1 API, the key in api-key only and the deployment name as the model', async () => {
    const seen: Array<{ url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }> = [];
    const server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        const body = JSON.parse(text) as { input: string[]; dimensions: number };
        seen.push({ url: request.url!, headers: request.headers, body });
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            object: 'list',
            model: 'text-embedding-3-small',
            data: body.input
              .map((input, index) => ({
                object: 'embedding',
                index,
                embedding: localEmbedding(input, body.dimensions),
              }))
              .reverse(),
            usage: { prompt_tokens: 5, total_tokens: 5 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const models = azureEmbeddingModels({
        endpoint: `http://127.0.0.1:${port}/openai/v1`,
        apiKey: 'azure-key',
      });
      expect(models.batches).toBeUndefined();
      const answer = await models.embed({
        model: 'my-embedding-deployment',
        dimensions: 16,
        texts: ['a', 'b'],
      });
      expect(close(answer.vectors[1]!, localEmbedding('b', 16))).toBe(true);
      expect(answer.tokens).toBe(5);
      expect(seen[0]!.url).toBe('/openai/v1/embeddings');
      expect(seen[0]!.headers['api-key']).toBe('azure-key');
      expect(seen[0]!.headers.authorization).toBeUndefined();
      expect(seen[0]!.body).toEqual({
        model: 'my-embedding-deployment',
        input: ['a', 'b'],
        encoding_format: 'float',
        dimensions: 16,
      });
    } finally {
      server.close();
    }
  });
});

describe('openAiEmbeddingModels.batches', () => {
  it('submits once, finds the batch by its metadata, waits for it and streams its results', async () => {
    const batches = models().batches!;
    const lines = [0, 1, 2].map((n) =>
      JSON.stringify({
        custom_id: `req-${n}`,
        method: 'POST',
        url: '/v1/embeddings',
        body: { model: MODEL, dimensions: 8, encoding_format: 'float', input: [`text ${n}`, `more ${n}`] },
      }),
    );
    const metadata = { runId: `run-${Date.now()}`, part: '1' };
    expect(await batches.find(metadata)).toBeUndefined();
    const id = await batches.submit(
      { name: 'embed.jsonl', body: new Blob([`${lines.join('\n')}\n`]) },
      metadata,
    );
    expect(await batches.find(metadata)).toBe(id);
    expect(await batches.find({ ...metadata, part: '2' })).toBeUndefined();

    let state = await batches.state(id);
    for (let i = 0; i < 500 && state.status === 'pending'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      state = await batches.state(id);
    }
    expect(state.status).toBe('completed');
    const outputFileId = (state as { outputFileId?: string }).outputFileId!;
    const results: EmbeddingBatchResult[] = [];
    for await (const result of batches.results(outputFileId)) results.push(result);
    expect(results.map((result) => result.customId).sort()).toEqual(['req-0', 'req-1', 'req-2']);
    for (const result of results) {
      if (!('answer' in result)) throw new Error(result.error);
      const n = result.customId.slice(4);
      expect(close(result.answer.vectors[1]!, localEmbedding(`more ${n}`, 8))).toBe(true);
      expect(result.answer.tokens).toBeGreaterThan(0);
    }
  });

  it('reports a failed line by its custom_id, and a cancelled batch is not found again', async () => {
    emulator.faults.failNextBatchLines(['bad']);
    const batches = models().batches!;
    const line = (custom_id: string) =>
      JSON.stringify({
        custom_id,
        method: 'POST',
        url: '/v1/embeddings',
        body: { model: MODEL, dimensions: 4, input: ['x'] },
      });
    const metadata = { runId: `run-fail-${Date.now()}` };
    const id = await batches.submit(
      { name: 'embed.jsonl', body: new Blob([`${line('ok')}\n${line('bad')}\n`]) },
      metadata,
    );
    let state = await batches.state(id);
    for (let i = 0; i < 500 && state.status === 'pending'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      state = await batches.state(id);
    }
    const { errorFileId } = state as { errorFileId?: string };
    const errors: EmbeddingBatchResult[] = [];
    for await (const result of batches.results(errorFileId!)) errors.push(result);
    expect(errors).toEqual([{ customId: 'bad', error: expect.stringMatching(/500/) }]);
  });

  it('does not find a cancelled batch again', async () => {
    // Batches stay in validation for a minute here: the cancel always comes while the batch can be cancelled.
    const slow = await startOpenAiEmulator({ apiKey: API_KEY, timing: { batchValidatingMs: 60_000 } });
    try {
      const batches = openAiEmbeddingModels({ apiKey: API_KEY, baseURL: slow.baseUrl }).batches!;
      const line = JSON.stringify({
        custom_id: 'c',
        method: 'POST',
        url: '/v1/embeddings',
        body: { model: MODEL, dimensions: 4, input: ['x'] },
      });
      const id = await batches.submit(
        { name: 'embed.jsonl', body: new Blob([`${line}\n`]) },
        { runId: 'to-cancel' },
      );
      expect(await batches.find({ runId: 'to-cancel' })).toBe(id);
      await batches.cancel(id);
      expect(await batches.find({ runId: 'to-cancel' })).toBeUndefined();
    } finally {
      await slow.close();
    }
  });
});

describe('batch output lines and backoff', () => {
  it('reads base64 vectors as little-endian float32 and places vectors by index', () => {
    const floats = new Float32Array([0.5, -1.25, 3]);
    const base64 = Buffer.from(floats.buffer).toString('base64');
    expect(decodeBase64Floats(base64)).toEqual([0.5, -1.25, 3]);
    const result = batchResultOf(
      JSON.stringify({
        custom_id: 'r',
        response: {
          status_code: 200,
          body: {
            data: [
              { index: 1, embedding: [1, 2, 3] },
              { index: 0, embedding: base64 },
            ],
            usage: { prompt_tokens: 7, total_tokens: 7 },
          },
        },
        error: null,
      }),
    );
    expect(result).toEqual({
      customId: 'r',
      answer: {
        vectors: [
          [0.5, -1.25, 3],
          [1, 2, 3],
        ],
        tokens: 7,
      },
    });
    expect(
      batchResultOf(
        JSON.stringify({
          custom_id: 'e',
          response: { status_code: 400, body: { error: { message: 'too long' } } },
          error: null,
        }),
      ),
    ).toEqual({ customId: 'e', error: 'HTTP 400: too long' });
  });

  it('waits with full jitter, Retry-After as the floor, and not at all past the longest wait', () => {
    const policy = { attempts: 6, baseMs: 1_000, maxDelayMs: 60_000 };
    expect(throttleDelayMs(0, undefined, policy, () => 0.999)).toBe(999);
    expect(throttleDelayMs(3, undefined, policy, () => 0.5)).toBe(4_000);
    expect(throttleDelayMs(10, undefined, policy, () => 0.5)).toBe(30_000);
    expect(throttleDelayMs(0, 5_000, policy, () => 0.5)).toBe(5_500);
    expect(throttleDelayMs(0, 120_000, policy, () => 0.5)).toBeUndefined();
    const headers = (values: Record<string, string>) => (name: string) => values[name];
    expect(retryAfterMs(headers({ 'retry-after': '3' }))).toBe(3_000);
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '3' }))).toBe(250);
    expect(retryAfterMs(headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000)).toBe(6_000);
    expect(retryAfterMs(headers({}))).toBeUndefined();
  });
});
