import { findModel } from '../../functions/core/catalog.js';
import { validateDataset, type ValidationOptions } from '../../functions/core/dataset.js';
import { chatDataset, chunks, testValidationOptions } from '../support/fakes.js';

const options: ValidationOptions = testValidationOptions;
const check = (text: string, overrides: Partial<ValidationOptions> = {}) =>
  validateDataset(() => chunks(text, 50), { ...options, ...overrides });
const file = (...lines: unknown[]) =>
  `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`;
const times = <T>(n: number, make: (i: number) => T) => Array.from({ length: n }, (_, i) => make(i));
const codes = async (text: string, overrides: Partial<ValidationOptions> = {}) =>
  (await check(text, overrides)).errors.map((e) => [e.code, e.line ?? null]);

const chat = (i: number, extra: Record<string, unknown> = {}) => ({
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: `Question ${i}?` },
    { role: 'assistant', content: `Answer ${i}.` },
  ],
  ...extra,
});

describe('chat examples', () => {
  it('accept tools, parallel_tool_calls, tool calls without content, tool results and weights', async () => {
    const tools = [
      { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
    ];
    const withTools = (i: number) => ({
      messages: [
        { role: 'user', content: `Order ${i}?` },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: `c${i}`, type: 'function', function: { name: 'lookup', arguments: '{"id": 1}' } },
          ],
          weight: 0,
        },
        { role: 'tool', tool_call_id: `c${i}`, content: '{"status": "shipped"}' },
        { role: 'assistant', content: [{ type: 'text', text: `Order ${i} shipped.` }], weight: 1 },
      ],
      tools,
      parallel_tool_calls: false,
    });
    expect(await codes(file(...times(12, withTools)))).toEqual([]);
  });

  it('accept the legacy function role and images in user content', async () => {
    const legacy = (i: number) => ({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `https://example.com/${i}.png` } },
          ],
        },
        { role: 'assistant', function_call: { name: 'describe', arguments: '{}' } },
        { role: 'function', name: 'describe', content: 'a cat' },
        { role: 'assistant', content: `A cat ${i}.` },
      ],
      functions: [{ name: 'describe', parameters: { type: 'object', properties: {} } }],
    });
    expect(await codes(file(...times(12, legacy)), { model: findModel('gpt-4o-2024-08-06')! })).toEqual([]);
  });

  it.each([
    ['an unknown top-level key', chat(0, { metadata: 1 }), 'unknown_key'],
    [
      'an unknown message key',
      {
        messages: [
          { role: 'user', content: 'x', mood: 'sad' },
          { role: 'assistant', content: 'y' },
        ],
      },
      'unknown_key',
    ],
    [
      'a weight of 2',
      {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: 'y', weight: 2 },
        ],
      },
      'invalid_weight',
    ],
    [
      'only weight-0 answers',
      {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: 'y', weight: 0 },
        ],
      },
      'no_trained_message',
    ],
    [
      'content that is a number',
      {
        messages: [
          { role: 'user', content: 5 },
          { role: 'assistant', content: 'y' },
        ],
      },
      'invalid_content',
    ],
    ['messages that is not a list', { messages: 'hello' }, 'missing_field'],
    [
      'a tool message without tool_call_id',
      {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'tool', content: 'r' },
          { role: 'assistant', content: 'y' },
        ],
      },
      'missing_field',
    ],
    [
      'tool call arguments that are an object',
      {
        messages: [
          { role: 'user', content: 'x' },
          {
            role: 'assistant',
            tool_calls: [{ id: '1', type: 'function', function: { name: 'f', arguments: {} } }],
          },
        ],
      },
      'invalid_tool_calls',
    ],
    [
      'an assistant message with nothing in it',
      { messages: [{ role: 'user', content: 'x' }, { role: 'assistant' }] },
      'missing_content',
    ],
    [
      'the developer role',
      {
        messages: [
          { role: 'developer', content: 'x' },
          { role: 'assistant', content: 'y' },
        ],
      },
      'unknown_role',
    ],
  ])('reject %s, on its line', async (_name, bad, code) => {
    expect(await codes(file(chat(0), bad, ...times(11, (i) => chat(i + 1))))).toEqual([[code, 2]]);
  });
});

describe('preference (DPO) examples', () => {
  const dpo = (i: number) => ({
    input: { messages: [{ role: 'user', content: `Tell me about ${i}.` }] },
    preferred_output: [{ role: 'assistant', content: `A clear answer about ${i}.` }],
    non_preferred_output: [{ role: 'assistant', content: `A rambling answer about ${i}...` }],
  });

  it('are accepted and counted with both outputs', async () => {
    const report = await check(file(...times(12, dpo)));
    expect(report).toMatchObject({ verdict: 'valid', format: 'preference', examples: 12 });
  });

  it('need exactly one preferred and one non-preferred assistant message, after a user turn', async () => {
    const two = { ...dpo(0), preferred_output: [dpo(0).preferred_output[0], dpo(0).preferred_output[0]] };
    const lastNotUser = {
      ...dpo(0),
      input: {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: 'y' },
        ],
      },
    };
    expect(await codes(file(dpo(1), two, lastNotUser, ...times(10, dpo)))).toEqual([
      ['missing_field', 2],
      ['invalid_preference', 3],
    ]);
  });
});

describe('file-level problems', () => {
  it('a file mixing formats fails at the first line that differs, once', async () => {
    const legacy = { prompt: 'p', completion: 'c' };
    const report = await check(file(...times(11, chat), legacy, legacy));
    expect(report.errors).toEqual([expect.objectContaining({ code: 'mixed_formats', line: 12 })]);
    expect(report.errorCount).toBe(2);
  });

  it('a JSON array file is named as such', async () => {
    expect(await codes(`[\n${times(12, (i) => JSON.stringify(chat(i))).join(',\n')}\n]\n`)).toEqual([
      ['json_array', 1],
    ]);
    expect(await codes(`${JSON.stringify(times(12, chat))}\n`)).toEqual([['json_array', 1]]);
  });

  it('pretty-printed objects are named as such', async () => {
    expect(await codes(`${JSON.stringify(chat(0), null, 2)}\n`)).toEqual([['pretty_printed', 1]]);
  });

  it('a gzip file, a UTF-8 BOM and binary data are each named', async () => {
    const bytes = (b: number[]) =>
      async function* () {
        yield Uint8Array.from(b);
      };
    const first = async (source: () => AsyncIterable<Uint8Array>) =>
      (await validateDataset(source, options)).errors[0]?.code;
    expect(await first(bytes([0x1f, 0x8b, 8, 0, 0, 0]))).toBe('not_utf8_gzip');
    expect(await first(bytes([0x7b, 0x00, 0x01, 0x7d, 0x0a, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]))).toBe(
      'not_utf8_binary',
    );
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(chatDataset(12))]);
    const report = await validateDataset(async function* () {
      yield bom;
    }, options);
    expect(report.errors.map((e) => e.code)).toEqual(['utf8_bom']);
    expect(report.examples).toBe(12); // the rest of the file is still checked
  });

  it('a file over 512 MB is refused before reading it', async () => {
    expect(await codes(chatDataset(12), { sizeBytes: 600 * 2 ** 20 })).toEqual([['file_too_large', null]]);
  });

  it('an object in no known format lists its keys', async () => {
    const report = await check(file(...times(12, (i) => ({ question: `q${i}`, answer: 'a' }))));
    expect(report.errors[0]).toMatchObject({
      code: 'unknown_format',
      line: 1,
      message: expect.stringContaining('question, answer'),
    });
  });

  it('lists every problem up to the cap and counts them all', async () => {
    const report = await check(file(...times(150, (i) => (i % 2 ? 'nope' : '"text"'))));
    expect(report.errors).toHaveLength(100);
    expect(report.errorCount).toBe(150);
  });

  it('gives the same problem on consecutive lines one row with its range and count', async () => {
    const report = await check(file(chat(0), chat(1), ...times(500, () => 'nope'), ...times(12, chat)));
    expect(report.errorCount).toBe(500);
    expect(report.errors).toEqual([
      expect.objectContaining({ code: 'invalid_json', line: 3, lastLine: 502, times: 500 }),
    ]);
  });
});

describe('warnings', () => {
  const warningCodes = async (text: string) => (await check(text)).warnings.map((w) => w.code);

  it('flag duplicates by line, and not distinct examples', async () => {
    const report = await check(file(...times(12, chat), chat(3)));
    expect(report.warnings).toContainEqual(
      expect.objectContaining({ code: 'duplicate_example', line: 13, message: 'the same example as line 4' }),
    );
    expect(await warningCodes(file(...times(12, chat)))).not.toContain('duplicate_example');
  });

  it('flag missing system and user messages', async () => {
    const bare = (i: number) => ({ messages: [{ role: 'assistant', content: `x${i}` }] });
    expect(await warningCodes(file(...times(12, bare)))).toEqual(
      expect.arrayContaining(['missing_system_message', 'missing_user_message']),
    );
    expect(await warningCodes(file(...times(12, chat)))).not.toContain('missing_system_message');
  });

  it('recognise classification, count each class and flag small ones', async () => {
    const report = await check(chatDataset(60));
    expect(report.classes).toEqual({ billing: 20, bug: 20, account: 20 });
    expect(report.warnings).toContainEqual(expect.objectContaining({ code: 'few_examples_per_class' }));
  });

  it('flag a small generation dataset, but not a classification one', async () => {
    expect(await warningCodes(file(...times(12, chat)))).toContain('few_examples');
    expect(await warningCodes(chatDataset(60))).not.toContain('few_examples');
  });

  it('flag leftover separators, surrounding whitespace, secrets (when they are allowed) and special tokens', async () => {
    const say = (content: string, i = 0) => ({
      messages: [
        { role: 'user', content: `q${i}` },
        { role: 'assistant', content },
      ],
    });
    const text = file(
      say('positive END', 0),
      say(' spaced answer ', 1),
      say('use key sk-proj-abcdefghijklmnopqrstuvwxyz0123', 2),
      say('done <|endoftext|>', 3),
      ...times(10, (i) => say(`clean ${i}`, i + 4)),
    );
    const report = await check(text, { secretScan: 'warning' });
    expect(report.verdict).toBe('valid');
    const found = Object.fromEntries(report.warnings.map((w) => [w.code, w.line]));
    expect(found).toMatchObject({
      legacy_separator: 1,
      surrounding_whitespace: 2,
      possible_secret: 3,
      special_token: 4,
    });
  });

  it('flag an example that will be truncated, and reject one whose answer would be cut off entirely', async () => {
    const tiny = { ...findModel('gpt-4o-mini')!, maxExampleTokens: 30 };
    const long = {
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'word '.repeat(40) },
      ],
    };
    const report = await check(file(long, ...times(11, chat)), { model: tiny });
    expect(report.warnings).toContainEqual(expect.objectContaining({ code: 'will_be_truncated', line: 1 }));
    const prompt = {
      messages: [
        { role: 'user', content: 'word '.repeat(40) },
        { role: 'assistant', content: 'ok' },
      ],
    };
    expect(await codes(file(prompt, ...times(11, chat)), { model: tiny })).toContainEqual([
      'example_too_long',
      1,
    ]);
  });
});
