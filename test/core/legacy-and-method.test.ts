import { findModel } from '../../functions/core/catalog.js';
import { resolveRunConfig } from '../../functions/core/config.js';
import {
  validateDataset,
  validationOptionsFor,
  type ValidationOptions,
} from '../../functions/core/dataset.js';
import { testValidationOptions } from '../support/fakes.js';

const check = (text: string, overrides: Partial<ValidationOptions> = {}) =>
  validateDataset(
    async function* () {
      yield new TextEncoder().encode(text);
    },
    { ...testValidationOptions, ...overrides },
  );
const jsonl = (n: number, make: (i: number) => unknown) =>
  `${Array.from({ length: n }, (_, i) => JSON.stringify(make(i))).join('\n')}\n`;
const legacy = (i: number) => ({
  prompt: `Review ${i}: great product\n\n###\n\n`,
  completion: ` positive ${i}\n`,
});
const chat = (i: number) => ({
  messages: [
    { role: 'user', content: `q${i}` },
    { role: 'assistant', content: `a${i}` },
  ],
});
const preference = (i: number) => ({
  input: { messages: [{ role: 'user', content: `q${i}` }] },
  preferred_output: [{ role: 'assistant', content: `good ${i}` }],
  non_preferred_output: [{ role: 'assistant', content: `bad ${i}` }],
});

describe('legacy prompt/completion files', () => {
  it('are converted to chat by default, with a warning that lists what conversion stripped', async () => {
    const report = await check(jsonl(12, legacy));
    expect(report).toMatchObject({
      verdict: 'valid',
      format: 'chat',
      method: 'supervised',
      conversion: { separator: '\n\n###\n\n', endToken: '\n', separatorStripped: 12, endTokenStripped: 12 },
    });
    const warning = report.warnings.find((w) => w.code === 'legacy_converted');
    expect(warning?.message).toContain('separator "\\n\\n###\\n\\n" stripped from 12 prompts');
    expect(warning?.message).toContain('end token "\\n" stripped from 12 completions');
    expect(warning?.message).toContain('leading space removed from 12 completions');
    expect(report.warningCount).toBe(report.warnings.length);
  });

  it('are refused when the config sets convertLegacyFormat to false, saying how to train them', async () => {
    const config = resolveRunConfig({ convertLegacyFormat: false });
    if (!config.ok) throw new Error(config.problems.join('; '));
    const report = await check(
      jsonl(12, legacy),
      validationOptionsFor(config.config, testValidationOptions.model),
    );
    expect(report.verdict).toBe('invalid');
    expect(report.errors).toEqual([
      expect.objectContaining({ code: 'legacy_format', fix: expect.stringContaining('convertLegacyFormat') }),
    ]);
  });

  it('are checked against the file limit at their size after conversion, which is larger', async () => {
    const text = jsonl(12, legacy);
    const limit = Buffer.byteLength(text) + 100;
    const report = await check(text, { maxFileBytes: limit });
    expect(report.errors).toEqual([expect.objectContaining({ code: 'file_too_large' })]);
    expect(report.errors[0]!.message).toContain('converted to chat');
    expect((await check(text, { maxFileBytes: 10 * limit })).verdict).toBe('valid');
  });
});

describe('the training method', () => {
  it('follows the file when the config sets none: preference pairs train with dpo, chat with supervised', async () => {
    expect(await check(jsonl(12, preference))).toMatchObject({ verdict: 'valid', method: 'dpo' });
    expect(await check(jsonl(12, chat))).toMatchObject({ verdict: 'valid', method: 'supervised' });
  });

  it('set to supervised refuses a preference file, naming the setting', async () => {
    const report = await check(jsonl(12, preference), { method: 'supervised' });
    expect(report.verdict).toBe('invalid');
    expect(report.errors[0]).toMatchObject({ code: 'method_format_mismatch' });
    expect(report.errors[0]!.message).toContain('"method": "supervised"');
  });

  it('set to dpo refuses a chat file, with the fix', async () => {
    const report = await check(jsonl(12, chat), { method: 'dpo' });
    expect(report.errors[0]).toMatchObject({ code: 'method_format_mismatch' });
    expect(report.errors[0]!.fix).toContain('preferred_output');
  });

  it('must be one the model offers, per the catalog', async () => {
    const report = await check(jsonl(12, preference), { model: findModel('gpt-3.5-turbo-0125')! });
    expect(report.errors[0]).toMatchObject({ code: 'method_not_supported' });
    expect(report.errors[0]!.fix).toContain('gpt-4.1-mini-2025-04-14');
  });

  it('agreeing with the file is no error', async () => {
    expect((await check(jsonl(12, preference), { method: 'dpo' })).verdict).toBe('valid');
    expect((await check(jsonl(12, chat), { method: 'supervised' })).verdict).toBe('valid');
  });
});
