import fc from 'fast-check';
import { jsonDepthOver, MAX_JSON_DEPTH, ValidationOutOfTimeError } from '../../functions/core/dataset.js';
import { minimalChatLine, validateBytes } from '../support/fakes.js';

/** The nesting depth of a JSON value, the plain recursive way (the reference the fast check must match). */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (typeof value === 'object' && value !== null)
    return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

const chatLine = minimalChatLine;
const twelve = Array.from({ length: 12 }, (_, i) => chatLine(i));

describe('jsonDepthOver', () => {
  it('agrees with the depth of the parsed value, for any JSON and any limit (brackets in strings included)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.nat(10), (value, limit) => {
        expect(jsonDepthOver(JSON.stringify(value), limit)).toBe(depthOf(value) > limit);
      }),
    );
  });
});

describe('validation of lines that break naive validators', () => {
  it('refuses a line nested 100,000 levels deep as too_deeply_nested, at its line, and checks the rest', async () => {
    const deep = `{"messages": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const report = await validateBytes([...twelve.slice(0, 4), deep, ...twelve.slice(4)].join('\n'));
    expect(report.errors).toEqual([expect.objectContaining({ code: 'too_deeply_nested', line: 5 })]);
    expect(report.examples).toBe(12);
  });

  it('accepts nesting up to the limit inside a tool schema', async () => {
    let schema: Record<string, unknown> = { type: 'string' };
    // messages (2 levels) + tools + tool + function + parameters: the schema may take the rest.
    while (depthOf({ messages: [{}], tools: [{ function: { parameters: schema } }] }) < MAX_JSON_DEPTH - 1)
      schema = { type: 'object', properties: { next: schema } };
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: schema } }],
    });
    expect(depthOf(JSON.parse(line))).toBeGreaterThanOrEqual(MAX_JSON_DEPTH - 1);
    expect(depthOf(JSON.parse(line))).toBeLessThanOrEqual(MAX_JSON_DEPTH);
    const report = await validateBytes([...twelve, line].join('\n'));
    expect(report.errors.map((e) => e.code)).not.toContain('too_deeply_nested');
  });

  it('ends with ValidationOutOfTimeError, naming the line, once the deadline has passed', async () => {
    await expect(validateBytes(twelve.join('\n'), { deadline: Date.now() - 1 })).rejects.toThrow(
      ValidationOutOfTimeError,
    );
    await expect(validateBytes(twelve.join('\n'), { deadline: Date.now() - 1 })).rejects.toMatchObject({
      lineNumber: 1,
    });
  });
});
