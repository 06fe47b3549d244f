import { ISSUE_CODES, type IssueCode } from '../../functions/core/issue-codes.js';
import { MAX_LINE_BYTES, validateDataset, type ValidationOptions } from '../../functions/core/dataset.js';
import { findModel } from '../../functions/core/catalog.js';
import { testValidationOptions } from '../support/fakes.js';

/**
 * Every error and warning the validator knows, each with a file that triggers it and a near-identical
 * file that does not.
 */
const options: ValidationOptions = testValidationOptions;
const enc = (text: string) => new TextEncoder().encode(text);
const lines = (n: number, make: (i: number) => unknown) =>
  `${Array.from({ length: n }, (_, i) => JSON.stringify(make(i))).join('\n')}\n`;
const chat = (i: number, extra: Record<string, unknown> = {}) => ({
  messages: [
    { role: 'system', content: 'You answer questions.' },
    { role: 'user', content: `Question number ${i} about topic ${i * 13}?` },
    { role: 'assistant', content: `Answer ${i}: it depends on ${i * 7}.` },
  ],
  ...extra,
});
const good = lines(12, chat);
const withLine = (index: number, value: unknown) => {
  const all = good.trim().split('\n');
  all[index] = typeof value === 'string' ? value : JSON.stringify(value);
  return `${all.join('\n')}\n`;
};
const msg = (...messages: unknown[]) => ({ messages });
// Tool use (tool-schemas.ts): a declared tool, a call to it, its result.
const toolDef = (name = 'lookup', parameters: unknown = { type: 'object', properties: {} }) => ({
  type: 'function',
  function: { name, parameters },
});
const callOf = (id: string, name = 'lookup') => ({
  role: 'assistant',
  tool_calls: [{ id, type: 'function', function: { name, arguments: '{}' } }],
});
const resultOf = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'r' });
const reply = { role: 'assistant', content: 'a' };
/** A line whose assistant answer is written as raw JSON text (escapes kept as written). */
const rawAnswer = (jsonText: string) =>
  `{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "${jsonText}"}]}`;
const user = { role: 'user', content: 'q' };
const dpo = (i: number) => ({
  input: { messages: [{ role: 'user', content: `q${i}` }] },
  preferred_output: [{ role: 'assistant', content: `good ${i}` }],
  non_preferred_output: [{ role: 'assistant', content: `bad ${i}` }],
});

/** A JSON schema nested `levels` deep (objects within objects). */
const deep = (levels: number): Record<string, unknown> =>
  levels <= 1 ? { type: 'string' } : { type: 'object', properties: { next: deep(levels - 1) } };

const vision: Partial<ValidationOptions> = { model: findModel('gpt-4o-2024-08-06')! };
const nova: Partial<ValidationOptions> = { model: findModel('amazon.nova-micro-v1:0:128k', 'bedrock')! };
const answer = { role: 'assistant', content: 'a' };
const imageAt = (url: string) => ({ type: 'image_url', image_url: { url } });
const withImages = (...parts: unknown[]) => ({
  role: 'user',
  content: [{ type: 'text', text: 'q' }, ...parts],
});
/** A 1×1 PNG header of the given colour type (2 RGB, 3 palette), as a data URL. */
const pngUrl = (colourType: number) =>
  `data:image/png;base64,${Buffer.from([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    0,
    0,
    0,
    13,
    0x49,
    0x48,
    0x44,
    0x52,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
    8,
    colourType,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]).toString('base64')}`;

type Case = { bad: Uint8Array | string; clean?: Uint8Array | string; options?: Partial<ValidationOptions> };
const cases: Record<string, Case> = {
  file_too_large: { bad: good, options: { sizeBytes: 513 * 2 ** 20 }, clean: good },
  not_utf8_gzip: { bad: Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]) },
  not_utf8_zip: { bad: Uint8Array.from([0x50, 0x4b, 3, 4, 1, 2, 3]) },
  not_utf8_utf16: { bad: Uint8Array.from([0xff, 0xfe, 0x7b, 0, 0x7d, 0]) },
  not_utf8_utf32: { bad: Uint8Array.from([0xff, 0xfe, 0, 0, 0x7b, 0, 0, 0]) },
  not_utf8_binary: { bad: Uint8Array.from([0x7b, 0, 0x7d, 0x0a, ...enc(good)]) },
  utf8_bom: { bad: Uint8Array.from([0xef, 0xbb, 0xbf, ...enc(good)]) },
  not_utf8: { bad: Uint8Array.from([...enc(good), 0x7b, 0xc3, 0x28, 0x7d, 0x0a]) },
  json_array: { bad: `[\n${good.trim().split('\n').join(',\n')}\n]\n` },
  pretty_printed: { bad: `${JSON.stringify(chat(0), null, 2)}\n` },
  invalid_json: { bad: withLine(3, '{"messages": [') },
  not_an_object: { bad: withLine(3, '"text"') },
  unknown_format: { bad: withLine(3, { question: 'q', answer: 'a' }) },
  mixed_formats: { bad: withLine(3, dpo(0)) },
  legacy_format: {
    bad: lines(12, (i) => ({ prompt: `p${i}`, completion: `c${i}` })),
    options: { convertLegacy: false },
  },
  method_format_mismatch: { bad: lines(12, dpo), options: { method: 'supervised' } },
  method_not_supported: {
    bad: lines(12, dpo),
    clean: good,
    options: { model: findModel('gpt-3.5-turbo-0125')! },
  },
  unknown_key: { bad: withLine(3, chat(3, { source: 'web' })) },
  missing_field: {
    bad: withLine(3, msg(user, { role: 'tool', content: 'r' }, { role: 'assistant', content: 'a' })),
  },
  unknown_role: { bad: withLine(3, msg({ role: 'bot', content: 'x' }, { role: 'assistant', content: 'a' })) },
  invalid_message: { bad: withLine(3, msg('hello', { role: 'assistant', content: 'a' })) },
  invalid_weight: { bad: withLine(3, msg(user, { role: 'assistant', content: 'a', weight: 0.5 })) },
  no_trained_message: { bad: withLine(3, msg(user, { role: 'assistant', content: 'a', weight: 0 })) },
  missing_content: { bad: withLine(3, msg(user, { role: 'assistant', content: null })) },
  invalid_content: {
    bad: withLine(3, msg({ role: 'user', content: [] }, { role: 'assistant', content: 'a' })),
  },
  invalid_tool_calls: {
    bad: withLine(
      3,
      msg(user, {
        role: 'assistant',
        tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
      }),
    ),
  },
  invalid_tools: { bad: withLine(3, chat(3, { tools: [{ type: 'function' }] })) },
  invalid_parameters: {
    bad: withLine(
      3,
      chat(3, { tools: [toolDef('lookup', { type: 'object', properties: { a: { type: 'strin' } } })] }),
    ),
    clean: withLine(
      3,
      chat(3, { tools: [toolDef('lookup', { type: 'object', properties: { a: { type: 'string' } } })] }),
    ),
  },
  invalid_function_name: {
    bad: withLine(3, chat(3, { tools: [toolDef('look up')] })),
    clean: withLine(3, chat(3, { tools: [toolDef('look_up')] })),
  },
  unmatched_tool_result: {
    bad: withLine(3, msg(user, callOf('c1'), resultOf('c2'), reply)),
    clean: withLine(3, msg(user, callOf('c1'), resultOf('c1'), reply)),
  },
  unanswered_tool_call: {
    bad: withLine(3, msg(user, callOf('c1'), reply)),
    clean: withLine(3, msg(user, callOf('c1'), resultOf('c1'), reply)),
  },
  duplicate_tool_call_id: {
    bad: withLine(3, msg(user, callOf('c1'), resultOf('c1'), callOf('c1'))),
    clean: withLine(3, msg(user, callOf('c1'), resultOf('c1'), callOf('c2'))),
  },
  empty_answer: {
    bad: withLine(3, msg(user, { role: 'assistant', content: ' ' })),
    clean: withLine(3, msg(user, { role: 'assistant', content: '.' })),
  },
  lone_surrogate: {
    bad: withLine(3, rawAnswer('a\\ud800')),
    clean: withLine(3, rawAnswer('a\\ud83d\\ude00')),
  },
  nul_character: { bad: withLine(3, rawAnswer('a\\u0000')), clean: withLine(3, rawAnswer('a\\\\u0000')) },
  invalid_type: { bad: withLine(3, chat(3, { parallel_tool_calls: 'yes' })) },
  no_assistant_message: { bad: withLine(3, msg(user)) },
  invalid_preference: {
    bad: lines(12, (i) =>
      i === 3 ? { ...dpo(i), input: { messages: [{ role: 'assistant', content: 'x' }] } } : dpo(i),
    ),
    clean: lines(12, dpo),
  },
  too_few_examples: { bad: lines(9, chat) },
  empty_file: { bad: '' },
  example_too_long: {
    bad: withLine(
      3,
      msg({ role: 'user', content: 'word '.repeat(70_000) }, { role: 'assistant', content: 'a' }),
    ),
  },
  too_deeply_nested: {
    bad: withLine(
      3,
      chat(3, { tools: [{ type: 'function', function: { name: 'f', parameters: deep(200) } }] }),
    ),
    clean: withLine(
      3,
      chat(3, { tools: [{ type: 'function', function: { name: 'f', parameters: deep(20) } }] }),
    ),
  },
  line_too_long: {
    bad: withLine(3, msg(user, { role: 'assistant', content: 'x'.repeat(MAX_LINE_BYTES) })),
  },
  secret_in_data: {
    bad: withLine(3, msg(user, { role: 'assistant', content: 'key AKIAQ3EGRZ7MV4WXN2DP' })),
  },
  // Warnings
  undeclared_function: {
    bad: withLine(3, { ...msg(user, callOf('c1', 'refund')), tools: [toolDef()] }),
    clean: withLine(3, { ...msg(user, callOf('c1')), tools: [toolDef()] }),
  },
  duplicate_example: { bad: withLine(3, chat(2)) },
  identical_preference: {
    bad: lines(12, (i) =>
      i === 3 ? { ...dpo(i), non_preferred_output: [{ role: 'assistant', content: `good ${i}` }] } : dpo(i),
    ),
    clean: lines(12, dpo),
  },
  duplicate_key: {
    bad: withLine(
      3,
      '{"messages": "lost", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}',
    ),
  },
  possible_secret: {
    bad: withLine(3, msg(user, { role: 'assistant', content: 'key AKIAQ3EGRZ7MV4WXN2DP' })),
    options: { secretScan: 'warning' },
  },
  special_token: { bad: withLine(3, msg(user, { role: 'assistant', content: 'done<|im_end|>' })) },
  missing_system_message: { bad: withLine(3, msg(user, { role: 'assistant', content: 'a' })) },
  missing_user_message: {
    bad: withLine(3, msg({ role: 'system', content: 's' }, { role: 'assistant', content: 'a' })),
  },
  surrounding_whitespace: { bad: withLine(3, msg(user, { role: 'assistant', content: 'answer\n' })) },
  legacy_separator: {
    bad: withLine(3, msg({ role: 'user', content: 'q\n\n###\n\n' }, { role: 'assistant', content: 'a' })),
  },
  will_be_truncated: { bad: withLine(3, msg(user, { role: 'assistant', content: 'word '.repeat(70_000) })) },
  few_examples_per_class: {
    bad: lines(30, (i) =>
      msg({ role: 'user', content: `t${i}` }, { role: 'assistant', content: ['yes', 'no'][i % 2] }),
    ),
    clean: lines(600, (i) =>
      msg({ role: 'user', content: `t${i}` }, { role: 'assistant', content: `free text answer number ${i}` }),
    ),
  },
  few_examples: { bad: good, clean: lines(500, chat) },
  legacy_converted: { bad: lines(12, (i) => ({ prompt: `p${i} ->`, completion: ` c${i}\n` })) },
  // Images (images.ts): the catalog's vision model, except where the model is the point.
  images_not_supported: { bad: withLine(3, msg(withImages(imageAt('https://example.com/a.png')), answer)) },
  unsupported_modality: {
    bad: withLine(
      3,
      msg(withImages({ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }), answer),
    ),
  },
  invalid_image: {
    bad: withLine(3, msg(withImages(imageAt('ftp://example.com/a.png')), answer)),
    options: vision,
  },
  unsupported_image_format: {
    bad: withLine(
      3,
      msg(withImages(imageAt(`data:image/gif;base64,${btoa('GIF89a\x01\x00\x01\x00')}`)), answer),
    ),
    options: vision,
  },
  unsupported_image_mode: {
    bad: withLine(3, msg(withImages(imageAt(pngUrl(3))), answer)),
    clean: withLine(3, msg(withImages(imageAt(pngUrl(2))), answer)),
    options: vision,
  },
  image_too_large: {
    bad: withLine(3, msg(withImages(imageAt(`${pngUrl(2)}${'A'.repeat(13_400_000)}`)), answer)),
    options: vision,
  },
  too_many_images: {
    bad: withLine(3, msg(withImages(...Array.from({ length: 11 }, () => imageAt(pngUrl(2)))), answer)),
    clean: withLine(3, msg(withImages(...Array.from({ length: 10 }, () => imageAt(pngUrl(2)))), answer)),
    options: vision,
  },
  image_tokens_estimated: {
    bad: withLine(3, msg(withImages(imageAt('https://example.com/a.png')), answer)),
    clean: withLine(3, msg(withImages(imageAt(pngUrl(2))), answer)),
    options: vision,
  },
  // too_many_image_examples (over 50,000 examples with images) is tested on ImageTally in images.test.ts.
  // Amazon Bedrock's per-model rules (more cases, each with a compliant one: test/core/bedrock-rules.test.ts).
  reserved_word: {
    bad: withLine(3, msg(user, { role: 'assistant', content: 'Assistant: a' })),
    clean: withLine(3, msg(user, { role: 'assistant', content: 'Assistant - a' })),
    options: nova,
  },
  role_order: {
    bad: withLine(3, msg(user, user, reply)),
    clean: withLine(3, msg(user, reply)),
    options: nova,
  },
  format_not_supported: {
    bad: withLine(3, msg(user, { ...reply, name: 'bot' })),
    clean: withLine(3, msg(user, reply)),
    options: nova,
  },
  too_many_examples: {
    bad: good,
    clean: lines(10, chat),
    options: { model: { ...nova.model!, maxExamples: 11 } },
  },
};

async function codesOf(input: Uint8Array | string, extra: Partial<ValidationOptions> = {}) {
  const bytes = typeof input === 'string' ? enc(input) : input;
  const report = await validateDataset(
    async function* () {
      if (bytes.length) yield bytes;
    },
    { ...options, ...extra },
  );
  return [...report.errors, ...report.warnings].map((issue) => issue.code);
}

describe.each(Object.entries(cases))('%s', (code, { bad, clean = good, options: extra }) => {
  it('is reported for a file that has the problem', async () => {
    expect(await codesOf(bad, extra)).toContain(code);
  });

  it('is not reported for a file that does not', async () => {
    expect(await codesOf(clean, code === 'file_too_large' ? {} : extra)).not.toContain(code);
  });
});

/** Codes no file can trigger through validateDataset, with where each is tested instead. */
const testedElsewhere: Partial<Record<IssueCode, string>> = {
  invalid_config: "the run's settings: test/steps/validate-upload.test.ts",
  config_too_large: "the run's settings: test/steps/validate-upload.test.ts",
  model_not_available: "the run's settings: test/steps/validate-upload.test.ts",
  over_budget: "the run's settings: test/steps/validate-upload.test.ts",
  validation_format_mismatch: 'a supplied validation file: test/steps/validate-upload.test.ts',
  internal_error: 'a crash or timeout: test/steps/validate-upload.test.ts, test/local/internal-error.test.ts',
  too_few_training_examples: "the split's backstop the planner never reaches: test/core/split.test.ts",
  too_many_image_examples: 'needs 50,001 image examples: the tally is tested in test/core/images.test.ts',
  model_retiring: "the model's dates against the run's day: test/core/config-and-catalog.test.ts",
  model_access_limited: "the catalog's access note of an Azure model: test/core/providers-config.test.ts",
  price_unknown: 'a model whose price no source gives: test/core/providers-config.test.ts',
  family_name_invalid: 'a family folder named with a space: test/steps/validate-upload.test.ts',
  provider_not_deployed: 'a provider the stack was not deployed with: test/core/providers-config.test.ts',
  budget_uncheckable:
    'maxCostUsd with a model whose price no source gives: test/core/providers-config.test.ts',
  setting_out_of_range:
    "a hyperparameter outside Bedrock's range for the model: test/core/providers-config.test.ts",
  fine_tune_shutdown: "the model's dates against the run's day: test/core/config-and-catalog.test.ts",
  validation_file_not_supported:
    'a supplied validation file for a model that takes none (the same file is fine as a training file): test/core/bedrock-rules.test.ts',
};

describe('the registry', () => {
  it.each(Object.keys(ISSUE_CODES) as IssueCode[])(
    '%s has a file that triggers it, or says where it is tested',
    (code) => {
      expect(code in cases || code in testedElsewhere).toBe(true);
    },
  );

  it('has every code that has a case', () => {
    for (const code of Object.keys(cases)) expect(ISSUE_CODES).toHaveProperty(code);
  });
});
