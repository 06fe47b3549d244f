import OpenAI, { toFile } from 'openai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { expectShape } from '../support/openai-spec.js';
import { expectBatchListShape, expectBatchShape } from './batch-spec.js';

/**
 * The emulator's Batch API for chat completions, through the official SDK: a batch's lines are answered
 * as POST /v1/chat/completions answers them, refused lines land in the error file, a bad input file
 * fails the batch naming its lines, and a batch can be cancelled, expire or fail (faults.ts).
 */
const API_KEY = 'sk-batches';
const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '../../local/samples/support-tickets.jsonl');

interface Example {
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>;
}
const examples = readFileSync(SAMPLE, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as Example);

let emulator: RunningEmulator;
let client: OpenAI;
let fineTuned: string;

/** A chat request as an evaluation sends it: the example's prompt, greedy, with logprobs. */
const chatBody = (model: string, example: Example, extra: Record<string, unknown> = {}) => ({
  model,
  messages: example.messages.slice(0, -1),
  max_completion_tokens: 5,
  temperature: 0,
  logprobs: true,
  top_logprobs: 2,
  ...extra,
});

const line = (customId: string, body: unknown, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body, ...overrides });

async function upload(lines: string[], purpose: 'batch' | 'fine-tune' = 'batch'): Promise<string> {
  const file = await client.files.create({
    file: await toFile(Buffer.from(lines.join('\n')), 'requests.jsonl'),
    purpose,
  });
  return file.id;
}

async function submit(lines: string[]): Promise<OpenAI.Batch> {
  return client.batches.create({
    input_file_id: await upload(lines),
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
}

async function waitFor(
  id: string,
  done: (batch: OpenAI.Batch) => boolean = (b) =>
    ['completed', 'failed', 'expired', 'cancelled'].includes(b.status),
): Promise<OpenAI.Batch> {
  for (let i = 0; i < 1000; i++) {
    const batch = await client.batches.retrieve(id);
    if (done(batch)) return batch;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`batch ${id} did not get there`);
}

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
}
async function outputLines(fileId: string | null | undefined): Promise<OutputLine[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as OutputLine);
}

beforeAll(async () => {
  emulator = await startOpenAiEmulator({
    apiKey: API_KEY,
    timing: { validatingMs: 10, queuedMs: 10, msPerStep: 0, batchMsPerRequest: 3 },
  });
  client = new OpenAI({ apiKey: API_KEY, baseURL: emulator.baseUrl, maxRetries: 0 });
  const training = await client.files.create({
    file: await toFile(Buffer.from(examples.map((e) => JSON.stringify(e)).join('\n')), 'tickets.jsonl'),
    purpose: 'fine-tune',
  });
  const job = await client.fineTuning.jobs.create({
    model: 'gpt-4o-mini-2024-07-18',
    training_file: training.id,
    suffix: 'batches',
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 1 } } },
  });
  for (let i = 0; i < 1000 && !fineTuned; i++) {
    const current = await client.fineTuning.jobs.retrieve(job.id);
    if (current.status === 'failed') throw new Error(JSON.stringify(current.error));
    if (current.status === 'succeeded') fineTuned = current.fine_tuned_model!;
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
});
afterAll(async () => {
  await emulator.close();
});

describe('a batch of chat completions', () => {
  const asked = examples.slice(0, 8);
  let batch: OpenAI.Batch;
  let lines: OutputLine[];
  let onlineBefore: number;

  beforeAll(async () => {
    onlineBefore = emulator.chatCompletions.total.calls;
    const created = await submit(
      asked.map((example, i) => line(`ticket-${i}`, chatBody(fineTuned, example))),
    );
    expect(created).toMatchObject({ status: 'validating', request_counts: { total: 0 } });
    batch = await waitFor(created.id);
    lines = await outputLines(batch.output_file_id);
  });

  it('completes with every line answered, counted and billed', () => {
    expectBatchShape(batch);
    expect(batch).toMatchObject({
      status: 'completed',
      model: fineTuned,
      error_file_id: null,
      errors: null,
      request_counts: { total: 8, completed: 8, failed: 0 },
    });
    expect(batch.in_progress_at).toBeGreaterThanOrEqual(batch.created_at);
    expect(batch.completed_at).toBeGreaterThanOrEqual(batch.finalizing_at!);
    const bodies = lines.map((l) => l.response!.body as unknown as OpenAI.ChatCompletion);
    const input = bodies.reduce((sum, b) => sum + b.usage!.prompt_tokens, 0);
    const output = bodies.reduce((sum, b) => sum + b.usage!.completion_tokens, 0);
    expect(batch.usage).toEqual({
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input + output,
    });
  });

  it('answers each line exactly as the online route answers the same body', async () => {
    expect(lines.map((l) => l.custom_id).sort()).toEqual(asked.map((_, i) => `ticket-${i}`).sort());
    for (const l of lines) {
      expect(l).toMatchObject({
        id: expect.stringMatching(/^batch_req_/),
        error: null,
        response: { status_code: 200, request_id: expect.stringMatching(/^req_/) },
      });
      expectShape('CreateChatCompletionResponse', l.response!.body);
      const example = asked[Number(l.custom_id.split('-')[1])]!;
      const online = await client.chat.completions.create(
        chatBody(fineTuned, example) as OpenAI.ChatCompletionCreateParamsNonStreaming,
      );
      const { id: _id, created: _created, ...answer } = l.response!.body;
      const { id: _onlineId, created: _onlineCreated, ...onlineAnswer } = online;
      expect(answer).toEqual(onlineAnswer);
    }
  });

  it('is counted apart from online calls, and listed on the handle', () => {
    // The 8 online calls of the test above, and none for the batch's 8 lines.
    expect(emulator.chatCompletions.total.calls).toBe(onlineBefore + 8);
    expect(emulator.batchChatCompletions.byModel[fineTuned]).toMatchObject({ calls: 8, choices: 8 });
    expect(emulator.batchChatCompletions.byModel[fineTuned]!.promptTokens).toBe(batch.usage!.input_tokens);
    expect(emulator.batches.find((b) => b.id === batch.id)).toEqual({
      id: batch.id,
      status: 'completed',
      model: fineTuned,
      requests: 8,
      completed: 8,
      failed: 0,
    });
  });
});

describe('refused lines', () => {
  it('land in the error file with the status and error body the online route answers', async () => {
    const batch = await waitFor(
      (
        await submit([
          line('good', chatBody(fineTuned, examples[0]!)),
          line('hot', chatBody(fineTuned, examples[1]!, { temperature: 5 })),
        ])
      ).id,
    );
    expect(batch).toMatchObject({
      status: 'completed',
      request_counts: { total: 2, completed: 1, failed: 1 },
    });
    expect((await outputLines(batch.output_file_id)).map((l) => l.custom_id)).toEqual(['good']);
    const [refused] = await outputLines(batch.error_file_id);
    expect(refused).toMatchObject({ custom_id: 'hot', error: null, response: { status_code: 400 } });
    expectShape('ErrorResponse', refused!.response!.body);
    expect(refused!.response!.body).toMatchObject({
      error: { param: 'temperature', type: 'invalid_request_error' },
    });
  });

  it('of a model the emulator does not know are all 404 model_not_found, with no output file', async () => {
    const batch = await waitFor(
      (await submit(examples.slice(0, 3).map((e, i) => line(`x-${i}`, chatBody('gpt-9-turbo', e))))).id,
    );
    expect(batch).toMatchObject({
      status: 'completed',
      output_file_id: null,
      request_counts: { total: 3, completed: 0, failed: 3 },
    });
    const refused = await outputLines(batch.error_file_id);
    expect(refused).toHaveLength(3);
    for (const l of refused)
      expect(l.response).toMatchObject({
        status_code: 404,
        body: {
          error: {
            message: 'The model `gpt-9-turbo` does not exist or you do not have access to it.',
            code: 'model_not_found',
          },
        },
      });
    expect((await client.files.retrieve(batch.error_file_id!)).purpose).toBe('batch_output');
  });
});

describe('a bad input file', () => {
  it('fails the batch with an error per bad line, naming the line', async () => {
    const good = chatBody(fineTuned, examples[0]!);
    const batch = await waitFor(
      (
        await submit([
          line('a', good),
          '{not json',
          line('a', good),
          line('b', good, { method: 'GET' }),
          line('c', good, { url: '/v1/embeddings' }),
          line('d', { messages: good.messages }),
          line('e', { ...good, model: 'gpt-4o-mini' }),
          JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: good }),
        ])
      ).id,
    );
    expectBatchShape(batch);
    expect(batch).toMatchObject({ status: 'failed', output_file_id: null, request_counts: { total: 0 } });
    expect(batch.failed_at).toEqual(expect.any(Number));
    expect(batch.errors!.data!.map(({ code, line, param }) => ({ code, line, param }))).toEqual([
      { code: 'invalid_json_line', line: 2, param: null },
      { code: 'duplicate_custom_id', line: 3, param: 'custom_id' },
      { code: 'invalid_value', line: 4, param: 'method' },
      { code: 'url_mismatch', line: 5, param: 'url' },
      { code: 'missing_required_parameter', line: 6, param: 'body.model' },
      { code: 'model_mismatch', line: 7, param: 'body.model' },
      { code: 'missing_required_parameter', line: 8, param: 'custom_id' },
    ]);
    expect(batch.errors!.data![0]!.message).toBe('This line is not parseable as valid JSON.');
    expect(emulator.batches.find((b) => b.id === batch.id)).toMatchObject({ status: 'failed', model: null });
  });

  it('fails an empty file with empty_file', async () => {
    const batch = await waitFor((await submit([])).id);
    expect(batch.errors!.data).toEqual([expect.objectContaining({ code: 'empty_file', line: null })]);
  });
});

describe('what creating a batch refuses', () => {
  const create = async (body: Record<string, unknown>) => {
    const response = await fetch(`${emulator.baseUrl}/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: '/v1/chat/completions', completion_window: '24h', ...body }),
    });
    const json = (await response.json()) as { error: { message: string; param: string | null } };
    expectShape('ErrorResponse', json);
    return { status: response.status, error: json.error };
  };

  it('refuses a completion window other than 24h, and another endpoint saying the emulator does not run it', async () => {
    const input_file_id = await upload([line('a', chatBody(fineTuned, examples[0]!))]);
    expect(await create({ input_file_id, completion_window: '1h' })).toMatchObject({
      status: 400,
      error: { param: 'completion_window' },
    });
    // /v1/embeddings batches run too (embedding-batches.test.ts); moderations do not.
    const moderations = await create({ input_file_id, endpoint: '/v1/moderations' });
    expect(moderations).toMatchObject({ status: 400, error: { param: 'endpoint' } });
    expect(moderations.error.message).toMatch(
      /emulator runs only \/v1\/chat\/completions and \/v1\/embeddings/,
    );
    expect(await create({ input_file_id, endpoint: '/v2/whatever' })).toMatchObject({
      status: 400,
      error: { param: 'endpoint' },
    });
    expect(await create({ input_file_id, metadata: { k: 'v'.repeat(513) } })).toMatchObject({ status: 400 });
    expect(
      await create({ input_file_id, output_expires_after: { anchor: 'created_at', seconds: 60 } }),
    ).toMatchObject({ status: 400, error: { param: 'output_expires_after.seconds' } });
  });

  it('refuses a missing input file, and one not uploaded with purpose batch', async () => {
    expect(await create({ input_file_id: 'file-nope' })).toMatchObject({
      status: 404,
      error: { param: 'input_file_id' },
    });
    const fineTune = await upload([line('a', chatBody(fineTuned, examples[0]!))], 'fine-tune');
    expect(await create({ input_file_id: fineTune })).toMatchObject({
      status: 400,
      error: { param: 'input_file_id' },
    });
    expect(await create({ endpoint: undefined, input_file_id: fineTune })).toMatchObject({
      status: 400,
      error: { param: 'endpoint', message: "Missing required parameter: 'endpoint'." },
    });
  });
});

describe('cancelling a batch', () => {
  it('goes through cancelling to cancelled, keeping the lines it answered', async () => {
    const asked = Array.from({ length: 200 }, (_, i) => examples[i % examples.length]!);
    const created = await submit(asked.map((e, i) => line(`c-${i}`, chatBody(fineTuned, e))));
    await waitFor(created.id, (b) => b.request_counts!.completed >= 2);
    const cancelling = await client.batches.cancel(created.id);
    expectBatchShape(cancelling);
    expect(cancelling).toMatchObject({ status: 'cancelling', cancelling_at: expect.any(Number) });
    const batch = await waitFor(created.id);
    expectBatchShape(batch);
    expect(batch.status).toBe('cancelled');
    const { completed, total } = batch.request_counts!;
    expect(completed).toBeGreaterThanOrEqual(2);
    expect(completed).toBeLessThan(total);
    expect(await outputLines(batch.output_file_id)).toHaveLength(completed);
    await expect(client.batches.cancel(batch.id)).rejects.toMatchObject({ status: 400 });
  });

  it('answers 404 for a batch that does not exist', async () => {
    await expect(client.batches.retrieve('batch_nope')).rejects.toMatchObject({ status: 404 });
    await expect(client.batches.cancel('batch_nope')).rejects.toMatchObject({ status: 404 });
  });
});

describe('batch faults', () => {
  it('expireAfter: the batch expires with what it answered, the rest batch_expired in the error file', async () => {
    emulator.faults.onNextBatch({ expireAfter: 2 });
    const batch = await waitFor(
      (await submit(examples.slice(0, 5).map((e, i) => line(`e-${i}`, chatBody(fineTuned, e))))).id,
    );
    expectBatchShape(batch);
    expect(batch).toMatchObject({
      status: 'expired',
      expired_at: expect.any(Number),
      request_counts: { total: 5, completed: 2, failed: 0 },
    });
    expect((await outputLines(batch.output_file_id)).map((l) => l.custom_id)).toEqual(['e-0', 'e-1']);
    expect(await outputLines(batch.error_file_id)).toEqual(
      ['e-2', 'e-3', 'e-4'].map((custom_id) => ({
        id: expect.stringMatching(/^batch_req_/),
        custom_id,
        response: null,
        error: {
          code: 'batch_expired',
          message: 'This request could not be executed before the completion window expired.',
        },
      })),
    );
  });

  it('failWith: the batch fails with that error', async () => {
    emulator.faults.onNextBatch({ failWith: { code: 'server_error', message: 'Injected batch failure' } });
    const batch = await waitFor((await submit([line('f', chatBody(fineTuned, examples[0]!))])).id);
    expectBatchShape(batch);
    expect(batch).toMatchObject({
      status: 'failed',
      errors: {
        object: 'list',
        data: [{ code: 'server_error', message: 'Injected batch failure', line: null, param: null }],
      },
    });
  });
});

describe('the batch list', () => {
  it('pages newest first with after and limit, and the SDK iterator reads it all', async () => {
    const metadata = { run: 'paging' };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const batch = await client.batches.create({
        input_file_id: await upload([line('p', chatBody(fineTuned, examples[0]!))]),
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata,
      });
      expect(batch.metadata).toEqual(metadata);
      ids.push(batch.id);
    }
    const response = await fetch(`${emulator.baseUrl}/batches?limit=2`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const first = (await response.json()) as { data: OpenAI.Batch[]; has_more: boolean };
    expectBatchListShape(first);
    expect(first.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first).toMatchObject({ has_more: true, first_id: ids[2], last_id: ids[1] });
    const next = await client.batches.list({ limit: 2, after: ids[1] });
    expect(next.data[0]!.id).toBe(ids[0]);
    const all: string[] = [];
    for await (const batch of client.batches.list({ limit: 3 })) all.push(batch.id);
    expect(all).toHaveLength(emulator.batches.length);
    expect(all.slice(0, 3)).toEqual([...ids].reverse());
  });
});
