import { findModel, type ModelInfo } from '../../functions/core/catalog.js';
import {
  suppliedValidationIssues,
  validateDataset,
  type ValidationOptions,
} from '../../functions/core/dataset.js';
import { testValidationOptions } from '../support/fakes.js';

/**
 * Amazon Bedrock's per-model rules (bedrock-rules.ts, dataset-report.ts), each with an example that
 * breaks it and one that complies, as cdk-nag's rules are tested.
 */
const NOVA = findModel('amazon.nova-micro-v1:0:128k', 'bedrock')!;
const NOVA_2_LITE = findModel('amazon.nova-2-lite-v1:0:256k', 'bedrock')!;
const LLAMA = findModel('meta.llama3-1-8b-instruct-v1:0:128k', 'bedrock')!;
const OPENAI = findModel('gpt-4.1-mini')!;

const user = (content: unknown = 'q') => ({ role: 'user', content });
const assistant = (content: unknown = 'a') => ({ role: 'assistant', content });
const system = { role: 'system', content: 'You answer briefly.' };
const example = (i: number, ...messages: unknown[]) => ({
  messages: messages.length
    ? messages
    : [system, user(`Question ${i} about ${i * 7}?`), assistant(`Answer ${i}.`)],
});
const llamaExample = (i: number) => ({ messages: [user(`Question ${i}?`), assistant(`Answer ${i}.`)] });
const file = (count: number, make: (i: number) => unknown, line?: { at: number; value: unknown }) =>
  `${Array.from({ length: count }, (_, i) =>
    JSON.stringify(line && line.at === i ? line.value : make(i)),
  ).join('\n')}\n`;

async function check(text: string, model: ModelInfo, extra: Partial<ValidationOptions> = {}) {
  const bytes = new TextEncoder().encode(text);
  return validateDataset(
    async function* () {
      yield bytes;
    },
    { ...testValidationOptions, model, ...extra },
  );
}
const errorsOf = async (text: string, model: ModelInfo, extra: Partial<ValidationOptions> = {}) =>
  (await check(text, model, extra)).errors;

describe('reserved_word (Nova)', () => {
  it('refuses an example containing a reserved word, at its line and place', async () => {
    const errors = await errorsOf(
      file(20, (i) => example(i), {
        at: 4,
        value: example(0, system, user('User: what now?'), assistant()),
      }),
      NOVA,
    );
    expect(errors).toEqual([
      expect.objectContaining({
        code: 'reserved_word',
        line: 5,
        message: expect.stringContaining('messages[1].content contains "User:"'),
      }),
    ]);
  });

  it('finds one in a text part of an answer', async () => {
    const errors = await errorsOf(
      file(20, (i) => example(i), {
        at: 0,
        value: example(0, user(), assistant([{ type: 'text', text: 'done [EOS]' }])),
      }),
      NOVA,
    );
    expect(errors.map((e) => [e.code, e.line])).toEqual([['reserved_word', 1]]);
    expect(errors[0]!.message).toContain('messages[1].content[0].text contains "[EOS]"');
  });

  it('accepts the same words where they are not reserved, and other models', async () => {
    const text = file(20, (i) => example(i), {
      at: 4,
      value: example(0, user('User - what now?'), assistant()),
    });
    expect(await errorsOf(text, NOVA)).toEqual([]);
    const openAi = file(20, (i) => example(i), {
      at: 4,
      value: example(0, user('User: what now?'), assistant()),
    });
    expect(await errorsOf(openAi, OPENAI)).toEqual([]);
  });
});

describe('role_order', () => {
  it.each([
    ['assistant first', [assistant(), user(), assistant()]],
    ['two user turns in a row', [user(), user(), assistant()]],
    ['ending with the user', [user(), assistant(), user()]],
    ['a system message after the first', [user(), system, assistant()]],
  ])('Nova refuses %s', async (_, messages) => {
    const errors = await errorsOf(
      file(20, (i) => example(i), { at: 2, value: { messages } }),
      NOVA,
    );
    expect(errors.map((e) => [e.code, e.line])).toEqual([['role_order', 3]]);
  });

  it('Nova accepts a system message first and several alternating turns', async () => {
    const value = example(0, system, user(), assistant(), user('more?'), assistant('yes'));
    expect(
      await errorsOf(
        file(20, (i) => example(i), { at: 2, value }),
        NOVA,
      ),
    ).toEqual([]);
  });

  it.each([
    ['a system message', [system, user(), assistant()]],
    ['two exchanges', [user(), assistant(), user(), assistant()]],
  ])('Llama 3.1 refuses %s', async (_, messages) => {
    const errors = await errorsOf(file(120, llamaExample, { at: 7, value: { messages } }), LLAMA);
    expect(errors.map((e) => [e.code, e.line])).toEqual([['role_order', 8]]);
  });

  it('Llama 3.1 accepts one user message and its answer', async () => {
    expect(await errorsOf(file(120, llamaExample), LLAMA)).toEqual([]);
  });
});

describe('format_not_supported', () => {
  const call = {
    role: 'assistant',
    tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
  };
  const tools = [
    { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
  ];
  it.each([
    [
      'tool calls',
      { messages: [user(), call, { role: 'tool', tool_call_id: 'c1', content: 'r' }, assistant()], tools },
    ],
    ['a weight of 0', { messages: [user(), { ...assistant(), weight: 0 }, user(), assistant()] }],
    ['a message name', { messages: [{ ...user(), name: 'alice' }, assistant()] }],
  ])('refuses %s', async (_, value) => {
    const errors = await errorsOf(
      file(20, (i) => example(i), { at: 1, value }),
      NOVA,
    );
    expect(errors.map((e) => [e.code, e.line])).toEqual([['format_not_supported', 2]]);
  });

  it('refuses images for the text-only Bedrock models (images_not_supported)', async () => {
    const image = user([
      { type: 'text', text: 'q' },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
    ]);
    const errors = await errorsOf(
      file(20, (i) => example(i), { at: 1, value: example(0, image, assistant()) }),
      NOVA,
    );
    expect(errors.map((e) => e.code)).toEqual(['images_not_supported']);
  });

  it('accepts the same tool calls for OpenAI', async () => {
    const value = {
      messages: [user(), call, { role: 'tool', tool_call_id: 'c1', content: 'r' }, assistant()],
      tools,
    };
    expect(
      await errorsOf(
        file(20, (i) => example(i), { at: 1, value }),
        OPENAI,
      ),
    ).toEqual([]);
  });
});

describe("the model's record limits", () => {
  it("Llama 3.1 needs 100 records where OpenAI's 10 would do", async () => {
    const errors = await errorsOf(file(99, llamaExample), LLAMA);
    expect(errors).toEqual([expect.objectContaining({ code: 'too_few_examples' })]);
    expect(errors[0]!.message).toContain('needs at least 100');
    expect(await errorsOf(file(100, llamaExample), LLAMA)).toEqual([]);
  });

  it('refuses more records than the model takes', async () => {
    const small = { ...LLAMA, maxExamples: 150 };
    expect((await errorsOf(file(151, llamaExample), small)).map((e) => e.code)).toEqual([
      'too_many_examples',
    ]);
    expect(await errorsOf(file(150, llamaExample), small)).toEqual([]);
  });
});

describe('a model that trains without validation data (Nova 2 Lite)', () => {
  it('gets nothing split off', async () => {
    const report = await check(
      file(100, (i) => example(i)),
      NOVA_2_LITE,
    );
    expect(report.split.validationExamples).toBe(0);
    expect(report.split.trainingExamples).toBe(100);
    const nova = await check(
      file(100, (i) => example(i)),
      NOVA,
    );
    expect(nova.split.validationExamples).toBe(20);
  });

  it('refuses a supplied validation file, and Nova Micro takes one', async () => {
    const text = file(20, (i) => example(i));
    expect((await errorsOf(text, NOVA_2_LITE, { part: 'validation' })).map((e) => e.code)).toEqual([
      'validation_file_not_supported',
    ]);
    expect(await errorsOf(text, NOVA, { part: 'validation' })).toEqual([]);
  });

  it("does not apply the model's record minimum to a validation file alone", async () => {
    expect(await errorsOf(file(20, llamaExample), LLAMA, { part: 'validation' })).toEqual([]);
  });
});

describe('suppliedValidationIssues', () => {
  const key = 'incoming/support/tickets.validation.jsonl';
  it('refuses a validation file for Nova 2 Lite and counts both files against the limits', () => {
    expect(suppliedValidationIssues(NOVA_2_LITE, { key, examples: 10 }, 100).map((i) => i.code)).toEqual([
      'validation_file_not_supported',
    ]);
    expect(suppliedValidationIssues(LLAMA, { key, examples: 2_000 }, 9_000).map((i) => i.code)).toEqual([
      'too_many_examples',
    ]);
    expect(suppliedValidationIssues(LLAMA, { key, examples: 10 }, 80).map((i) => i.code)).toEqual([
      'too_few_examples',
    ]);
  });

  it('has nothing to say within the limits, or for OpenAI', () => {
    expect(suppliedValidationIssues(LLAMA, { key, examples: 20 }, 100)).toEqual([]);
    expect(suppliedValidationIssues(NOVA, { key, examples: 20 }, 100)).toEqual([]);
    expect(suppliedValidationIssues(OPENAI, { key, examples: 20 }, 100_000)).toEqual([]);
  });
});
