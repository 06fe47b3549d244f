import OpenAI from 'openai';
import { get_encoding } from 'tiktoken';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { cosine, localEmbedding } from '../../local/embeddings/vectors.js';
import { expectShape } from '../support/openai-spec.js';

/**
 * The emulator's POST /v1/embeddings over HTTP: the spec's request rules (CreateEmbeddingRequest) and
 * response shape (CreateEmbeddingResponse), exact cl100k_base usage, the local vectors, the counters and
 * the injectable rate limit.
 */
const API_KEY = 'sk-embeddings';
let emulator: RunningEmulator;
let client: OpenAI;
const cl100k = get_encoding('cl100k_base');

beforeAll(async () => {
  emulator = await startOpenAiEmulator({ apiKey: API_KEY });
  client = new OpenAI({ apiKey: API_KEY, baseURL: emulator.baseUrl, maxRetries: 0 });
});
afterAll(async () => {
  await emulator.close();
  cl100k.free();
});
beforeEach(() => emulator.faults.clear());

/** POSTs a raw body, so that what the SDK would not send can be sent. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any answer, errors included
type Answer = { status: number; json: any; headers: Headers };
async function post(body: unknown): Promise<Answer> {
  const response = await fetch(`${emulator.baseUrl}/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

describe('POST /v1/embeddings', () => {
  it('answers a list of embeddings in the spec shape, with the exact cl100k_base token count as usage', async () => {
    const texts = ['My order has not arrived', 'Where is my parcel?', '<|endoftext|> is plain text here'];
    const request = { model: 'text-embedding-3-small', input: texts, encoding_format: 'float' as const };
    expectShape('CreateEmbeddingRequest', request);
    const { status, json } = await post(request);
    expect(status).toBe(200);
    expectShape('CreateEmbeddingResponse', json);
    expect(json.object).toBe('list');
    expect(json.model).toBe('text-embedding-3-small');
    expect(json.data.map((d: { index: number }) => d.index)).toEqual([0, 1, 2]);
    expect(json.data[0].embedding).toHaveLength(1536);
    expect(json.data[1].embedding).toEqual(localEmbedding(texts[1]!, 1536));
    const tokens = texts.reduce((sum, t) => sum + cl100k.encode(t, [], []).length, 0);
    expect(json.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
  });

  it('shortens vectors to the requested dimensions, up to the model native size, and refuses more', async () => {
    const large = await client.embeddings.create({
      model: 'text-embedding-3-large',
      input: 'hi',
      dimensions: 256,
    });
    expect(large.data[0]!.embedding).toHaveLength(256);
    const native = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'hi' });
    expect(native.data[0]!.embedding).toHaveLength(3072);
    const over = await post({ model: 'text-embedding-3-small', input: 'hi', dimensions: 1537 });
    expect(over.status).toBe(400);
    expect(over.json.error.param).toBe('dimensions');
    const zero = await post({ model: 'text-embedding-3-small', input: 'hi', dimensions: 0 });
    expect(zero.status).toBe(400);
  });

  it('refuses dimensions on text-embedding-ada-002, which has a fixed size of 1536', async () => {
    const refused = await post({ model: 'text-embedding-ada-002', input: 'hi', dimensions: 256 });
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toBe('This model does not support specifying dimensions.');
    const ada = await post({ model: 'text-embedding-ada-002', input: 'hi' });
    expect(ada.json.data[0].embedding).toHaveLength(1536);
  });

  it('encodes base64 as little-endian float32 bytes that decode to the float answer', async () => {
    const input = 'The refund has been processed';
    const floats = await post({ model: 'text-embedding-3-small', input, dimensions: 64 });
    const b64 = await post({
      model: 'text-embedding-3-small',
      input,
      dimensions: 64,
      encoding_format: 'base64',
    });
    expectShape('CreateEmbeddingResponse', floats.json);
    const bytes = Buffer.from(b64.json.data[0].embedding as string, 'base64');
    expect(bytes.length).toBe(64 * 4);
    const decoded = Array.from({ length: 64 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(floats.json.data[0].embedding);
  });

  it('decodes token arrays with cl100k_base and bills each one by its length', async () => {
    const text = 'Cancel my subscription please';
    const tokens = [...cl100k.encode(text)];
    const one = await post({ model: 'text-embedding-3-small', input: tokens, dimensions: 32 });
    expect(one.status).toBe(200);
    expect(one.json.data).toHaveLength(1);
    expect(one.json.data[0].embedding).toEqual(localEmbedding(text, 32));
    expect(one.json.usage.prompt_tokens).toBe(tokens.length);
    const many = await post({
      model: 'text-embedding-3-small',
      input: [tokens, tokens.slice(0, 2)],
      dimensions: 32,
    });
    expect(many.json.data).toHaveLength(2);
    expect(many.json.usage.prompt_tokens).toBe(tokens.length + 2);
  });

  it('refuses what the spec refuses: unknown fields, empty strings, more than 2048 inputs', async () => {
    const extra = await post({ model: 'text-embedding-3-small', input: 'a', temperature: 0 });
    expect(extra.status).toBe(400);
    expect(extra.json.error.message).toContain('temperature');
    for (const input of ['', ['ok', ''], [], [[]]]) {
      const empty = await post({ model: 'text-embedding-3-small', input });
      expect(empty.status).toBe(400);
      expect(empty.json.error.message).toContain("'$.input' is invalid");
    }
    const tooMany = await post({ model: 'text-embedding-3-small', input: Array(2049).fill('a') });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.message).toContain('2048');
    const missing = await post({ model: 'text-embedding-3-small' });
    expect(missing.json.error.code).toBe('missing_required_parameter');
    const format = await post({ model: 'text-embedding-3-small', input: 'a', encoding_format: 'int8' });
    expect(format.json.error.param).toBe('encoding_format');
  });

  it('refuses an input over 8192 tokens and a request over 300,000 tokens in total', async () => {
    const long = 'word '.repeat(8193);
    expect(cl100k.encode(long).length).toBeGreaterThan(8192);
    const over = await post({ model: 'text-embedding-3-small', input: long });
    expect(over.status).toBe(400);
    expect(over.json.error.message).toMatch(
      /maximum context length is 8192 tokens, however you requested \d+ tokens/,
    );
    const chunk = 'word '.repeat(8000); // 8,000 tokens each
    const total = await post({ model: 'text-embedding-3-small', input: Array(38).fill(chunk) });
    expect(total.status).toBe(400);
    expect(total.json.error.code).toBe('max_tokens_per_request');
    const fits = await post({ model: 'text-embedding-3-small', input: Array(37).fill(chunk), dimensions: 4 });
    expect(fits.status).toBe(200);
  });

  it('answers a model that is not an embedding model 404 model_not_found, as chat completions do', async () => {
    const refused = await post({ model: 'gpt-4o-mini', input: 'a' });
    expect(refused.status).toBe(404);
    expect(refused.json.error.code).toBe('model_not_found');
  });

  it('counts what was asked in embeddingCalls, refused requests not included', async () => {
    const before = emulator.embeddingCalls.total;
    await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a b', 'c'], dimensions: 8 });
    await post({ model: 'text-embedding-3-small', input: '' });
    const after = emulator.embeddingCalls.total;
    expect(after.calls - before.calls).toBe(1);
    expect(after.inputs - before.inputs).toBe(2);
    expect(after.tokens - before.tokens).toBe(cl100k.encode('a b').length + cl100k.encode('c').length);
  });

  it('answers 429 rate_limit_exceeded with retry-after and x-ratelimit headers on the next N calls, then serves', async () => {
    emulator.faults.rateLimitEmbeddings(2, { retryAfterSeconds: 0 });
    const first = await post({ model: 'text-embedding-3-small', input: 'a' });
    expect(first.status).toBe(429);
    expect(first.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(first.headers.get('retry-after')).toBe('0');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBeTruthy();
    // The SDK backs off and retries on 429: the third attempt is served.
    const retrying = new OpenAI({ apiKey: API_KEY, baseURL: emulator.baseUrl, maxRetries: 2 });
    const before = emulator.embeddingCalls.total.calls;
    const answer = await retrying.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'a',
      dimensions: 4,
    });
    expect(answer.data).toHaveLength(1);
    expect(emulator.faults.applied.filter((a) => a.path === '/embeddings')).toHaveLength(2);
    expect(emulator.embeddingCalls.total.calls - before).toBe(1);
  });

  it('makes similar support texts each other nearest neighbours among a small set, through the HTTP route', async () => {
    const texts = [
      'My order has not arrived yet',
      'The order I placed has still not arrived',
      'How do I reset my password?',
      'I forgot my password and cannot log in',
      'Please refund my payment',
      'I want a refund for this payment',
    ];
    const answer = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: texts,
      dimensions: 256,
    });
    const vectors = answer.data.sort((a, b) => a.index - b.index).map((d) => d.embedding);
    texts.forEach((_, i) => {
      const nearest = vectors
        .map((v, j) => ({ j, score: j === i ? -Infinity : cosine(vectors[i]!, v) }))
        .sort((a, b) => b.score - a.score)[0]!.j;
      // Pairs are (0,1), (2,3), (4,5).
      expect(nearest).toBe(i ^ 1);
    });
  });
});
