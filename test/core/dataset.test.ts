import { findModel } from '../../functions/core/catalog.js';
import { validateDataset, type ValidationOptions } from '../../functions/core/dataset.js';
import { countMessagesTokens } from '../../functions/core/tokens.js';
import { chatDataset, chunks, testValidationOptions } from '../support/fakes.js';

const options: ValidationOptions = testValidationOptions;
const check = (text: string, overrides: Partial<ValidationOptions> = {}) =>
  validateDataset(() => chunks(text, 100), { ...options, ...overrides });

describe('validateDataset', () => {
  it('accepts a well-formed chat file and counts its examples and tokens', async () => {
    const report = await check(chatDataset(50));
    expect(report.verdict).toBe('valid');
    expect(report.errors).toEqual([]);
    expect(report.examples).toBe(50);
    expect(report.split).toMatchObject({ trainingExamples: 40, validationExamples: 10 });
    expect(report.tokens.total).toBeGreaterThan(50 * 10);
  });

  it('estimates cost from the training part only, times the resolved epochs', async () => {
    const report = await check(chatDataset(50));
    // 40 training examples x 3 epochs = 120 >= 100, so "auto" stays at 3 epochs.
    expect(report.estimate.epochs).toBe(3);
    expect(report.estimate.billedTokens).toBe(report.split.trainingTokens * 3);
    // gpt-4.1-mini: $5 per 1M training tokens.
    expect(report.estimate.costUsd).toBeCloseTo((report.estimate.billedTokens / 1e6) * 5, 4);
  });

  it('names the line and column of invalid JSON and goes on to list every bad line', async () => {
    const lines = chatDataset(12).trim().split('\n');
    lines[2] = '{"messages": [}';
    lines[7] = 'not json';
    const report = await check(lines.join('\n'));
    expect(report.verdict).toBe('invalid');
    expect(report.errors.map((e) => [e.code, e.line])).toEqual([
      ['invalid_json', 3],
      ['invalid_json', 8],
    ]);
    expect(report.errors[0]!.message).toMatch(/at column 15/);
    expect(report.errors[0]!.fix).toMatch(/one complete JSON object/);
  });

  it('rejects an example without an assistant message', async () => {
    const lines = chatDataset(12).trim().split('\n');
    lines[0] = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });
    const report = await check(lines.join('\n'));
    expect(report.errors).toEqual([expect.objectContaining({ code: 'no_assistant_message', line: 1 })]);
  });

  it('rejects a line that is an array, and a message with an unknown role', async () => {
    const lines = chatDataset(12).trim().split('\n');
    lines[1] = '[1, 2]';
    lines[2] = JSON.stringify({
      messages: [
        { role: 'robot', content: 'x' },
        { role: 'assistant', content: 'y' },
      ],
    });
    const report = await check(lines.join('\n'));
    expect(report.errors.map((e) => [e.code, e.line])).toEqual([
      ['not_an_object', 2],
      ['unknown_role', 3],
    ]);
    expect(report.errors[1]!.message).toMatch(/messages\[0\]\.role "robot"/);
  });

  it('needs at least 10 examples', async () => {
    const report = await check(chatDataset(9));
    expect(report.errors).toEqual([expect.objectContaining({ code: 'too_few_examples' })]);
    expect((await check(chatDataset(10))).verdict).toBe('valid');
  });

  it('rejects an example longer than the model allows', async () => {
    const long = { ...findModel('gpt-4o-mini')!, maxExampleTokens: 20 };
    const report = await check(chatDataset(10), { model: long });
    expect(report.errorCount).toBe(10);
    expect(report.errors[0]).toMatchObject({ code: 'example_too_long', line: 1 });
  });

  it('reports a file that is not UTF-8', async () => {
    async function* utf16() {
      yield Uint8Array.from([0xff, 0xfe, 0x7b, 0x00, 0x0a, 0x00]);
    }
    const report = await validateDataset(utf16, options);
    expect(report.errors[0]).toMatchObject({
      code: 'not_utf8_utf16',
      fix: expect.stringContaining('UTF-8'),
    });
  });
});

describe('countMessagesTokens', () => {
  it('adds 3 tokens per message, 1 per name and 3 for the reply to the content tokens', () => {
    // "hi" is one token in o200k_base, as are "user" and "assistant".
    expect(countMessagesTokens([{ role: 'user', content: 'hi' }])).toBe(3 + 3 + 1 + 1);
    expect(countMessagesTokens([{ role: 'user', content: 'hi', name: 'bob' }])).toBe(3 + 3 + 1 + 1 + 1 + 1);
  });
});

import { jsonErrorColumn } from '../../functions/core/json-position.js';

describe('jsonErrorColumn', () => {
  it.each([
    ['{"messages": [}', 15],
    ['{"a": 1,}', 9],
    ['{"a" 1}', 6],
    ["{'a': 1}", 2],
    ['{"a": tru}', 10],
    ['{"a": 1} x', 10],
    ['{"a": "unterminated', 20],
  ])('points at the first bad character of %s', (text, column) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonErrorColumn(text)).toBe(column);
  });
});

import { renderValidationMarkdown } from '../../functions/core/report.js';

describe('exact copies', () => {
  it('are counted in the report and named in its Markdown (#10)', async () => {
    const lines = chatDataset(30).trim().split('\n');
    const text = `${[...lines, lines[0], lines[0], lines[5]].join('\n')}\n`;
    const report = await check(text);
    expect(report.examples).toBe(33);
    expect(report.exactCopies).toBe(3);
    const markdown = renderValidationMarkdown({
      ...report,
      schemaVersion: 1,
      runId: 'r',
      source: { bucket: 'b', key: 'k.jsonl' },
      checkedAt: '2026-11-29T00:00:00.000Z',
    });
    expect(markdown).toContain('| Exact copies | 3 (30 distinct examples;');
  });
});
