import OpenAI, { toFile } from 'openai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAiChatModels } from '../../functions/adapters/openai-provider.js';
import { ProviderRejectedError } from '../../functions/core/errors.js';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';

/**
 * The ChatModels adapter evaluation asks models through (functions/core/ports.ts), against the emulator's
 * chat completions: a fine-tuned model's greedy answer with the first token's alternatives, the tokens
 * counted, throttling retried, and a model that does not exist refused as a permanent error.
 */
const API_KEY = 'sk-chat-adapter';
const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '../../local/samples/support-tickets.jsonl');
const lines = readFileSync(SAMPLE, 'utf8').trim().split('\n');
const examples = lines.map(
  (line) => JSON.parse(line) as { messages: Array<{ role: string; content: string }> },
);
const LABELS = [...new Set(examples.map((e) => e.messages.at(-1)!.content))];

let emulator: RunningEmulator;
let fineTuned: string;

beforeAll(async () => {
  emulator = await startOpenAiEmulator({ apiKey: API_KEY });
  const client = new OpenAI({ apiKey: API_KEY, baseURL: emulator.baseUrl });
  const file = await client.files.create({
    file: await toFile(Buffer.from(lines.join('\n')), 'tickets.jsonl'),
    purpose: 'fine-tune',
  });
  const job = await client.fineTuning.jobs.create({
    model: 'gpt-4.1-mini-2025-04-14',
    training_file: file.id,
  });
  for (let i = 0; i < 2000 && !fineTuned; i++) {
    const current = await client.fineTuning.jobs.retrieve(job.id);
    if (current.status === 'failed') throw new Error(JSON.stringify(current.error));
    if (current.status === 'succeeded') fineTuned = current.fine_tuned_model!;
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!fineTuned) throw new Error(`job ${job.id} did not finish`);
}, 60_000);
afterAll(async () => emulator?.close());

const ticket = examples[0]!.messages.slice(0, -1);

describe('openAiChatModels', () => {
  it("answers greedily from the fine-tuned model, with the first token's alternatives and the tokens used", async () => {
    const chat = openAiChatModels({ apiKey: API_KEY, baseURL: emulator.baseUrl });
    expect(chat.maxTopLogprobs).toBe(20);
    const answer = await chat.complete({ model: fineTuned, messages: ticket, maxTokens: 5, topLogprobs: 5 });
    expect(LABELS).toContain(answer.text.trim());
    expect(answer.firstTokenTopLogprobs).toHaveLength(5);
    for (const alternative of answer.firstTokenTopLogprobs!)
      expect(alternative.logprob).toBeLessThanOrEqual(0);
    expect(answer.inputTokens).toBeGreaterThan(10);
    expect(answer.outputTokens).toBeGreaterThan(0);
    // Greedy: the same question, the same answer.
    const again = await chat.complete({ model: fineTuned, messages: ticket, maxTokens: 5, topLogprobs: 5 });
    expect(again.text).toBe(answer.text);
  });

  it('asks for no logprobs when none are wanted, and keeps to maxTokens', async () => {
    const chat = openAiChatModels({ apiKey: API_KEY, baseURL: emulator.baseUrl });
    const answer = await chat.complete({
      model: 'gpt-4.1-mini-2025-04-14',
      messages: ticket,
      maxTokens: 3,
      topLogprobs: 0,
    });
    expect(answer.firstTokenTopLogprobs).toBeNull();
    expect(answer.outputTokens).toBeLessThanOrEqual(3);
  });

  it('retries a 429 with backoff and answers', async () => {
    emulator.faults.onRequest({
      method: 'POST',
      path: '/chat/completions',
      fault: { kind: 'status', status: 429 },
      times: 1,
    });
    const chat = openAiChatModels({ apiKey: API_KEY, baseURL: emulator.baseUrl });
    const answer = await chat.complete({ model: fineTuned, messages: ticket, maxTokens: 5, topLogprobs: 0 });
    expect(LABELS).toContain(answer.text.trim());
  });

  it('refuses a model that does not exist as a permanent error with its code', async () => {
    const chat = openAiChatModels({ apiKey: API_KEY, baseURL: emulator.baseUrl });
    const refused = chat.complete({
      model: 'ft:gpt-4.1-mini:nobody::gone',
      messages: ticket,
      maxTokens: 5,
      topLogprobs: 0,
    });
    await expect(refused).rejects.toBeInstanceOf(ProviderRejectedError);
    await expect(refused).rejects.toMatchObject({
      code: 'model_not_found',
      message: expect.stringContaining('ask ft:gpt-4.1-mini:nobody::gone'),
    });
  });

  describe('through the Batch API', () => {
    const until = async (
      batchId: string,
      batches: NonNullable<ReturnType<typeof openAiChatModels>['batches']>,
    ) => {
      for (let i = 0; i < 500; i++) {
        const state = await batches.get(batchId);
        if (state.status !== 'pending') return state;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`batch ${batchId} never ended`);
    };

    it('answers every line as chat completions answers it, matched by custom id', async () => {
      const chat = openAiChatModels({ apiKey: API_KEY, baseURL: emulator.baseUrl });
      const questions = examples.slice(0, 6).map((e) => e.messages.slice(0, -1));
      const batchId = await chat.batches!.submit(
        questions.map((messages, i) => ({
          customId: `q${i}`,
          request: { model: fineTuned, messages, maxTokens: 5, topLogprobs: 5 },
        })),
        { tunedrop_run: 'adapter-test' },
      );
      const state = await until(batchId, chat.batches!);
      if (state.status !== 'completed') throw new Error(`batch ${state.status}`);
      expect(state.errors.size).toBe(0);
      for (const [i, messages] of questions.entries())
        expect(state.answers.get(`q${i}`)).toEqual(
          await chat.complete({ model: fineTuned, messages, maxTokens: 5, topLogprobs: 5 }),
        );
    });

    it('reports the lines the provider refused with their error, and a refused input as failed', async () => {
      const chat = openAiChatModels({ apiKey: API_KEY, baseURL: emulator.baseUrl });
      const refused = await chat.batches!.submit(
        [{ customId: 'a', request: { model: 'ft:nobody', messages: ticket, maxTokens: 5, topLogprobs: 0 } }],
        {},
      );
      const state = await until(refused, chat.batches!);
      expect(state).toMatchObject({ status: 'completed' });
      if (state.status !== 'completed') return;
      expect(state.answers.size).toBe(0);
      expect(state.errors.get('a')).toContain('does not exist');
      emulator.faults.onNextBatch({
        failWith: { code: 'invalid_request', message: 'The input file is bad.' },
      });
      const failed = await chat.batches!.submit(
        [{ customId: 'b', request: { model: fineTuned, messages: ticket, maxTokens: 5, topLogprobs: 0 } }],
        {},
      );
      expect(await until(failed, chat.batches!)).toEqual({
        status: 'failed',
        reason: 'The input file is bad.',
      });
    });
  });
});
