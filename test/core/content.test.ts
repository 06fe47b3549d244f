import fc from 'fast-check';
import { findModel } from '../../functions/core/catalog.js';
import { isEmptyAnswer, stringProblems } from '../../functions/core/content.js';
import { checkChatExample, checkPreferenceExample, type CheckContext } from '../../functions/core/formats.js';

const context: CheckContext = { model: findModel('gpt-4o-mini')! };
const user = { role: 'user', content: 'q' };
/** Checks a line as the validator reads it: parsed from its text, with the text in the context. */
const checkLine = (line: string) =>
  checkChatExample(JSON.parse(line) as Record<string, unknown>, { ...context, line });
const codes = (line: string) => checkLine(line).problems.map((p) => p.code);
const say = (content: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ messages: [user, { role: 'assistant', content, ...extra }] });

describe('empty answers', () => {
  it.each([
    ['an empty string', ''],
    ['only whitespace', ' \n\t'],
    [
      'parts whose text is all empty',
      [
        { type: 'text', text: '' },
        { type: 'text', text: ' ' },
      ],
    ],
  ])('are refused when the content is %s and there is no tool call, at the message', (_name, content) => {
    const checked = checkLine(say(content));
    expect(checked.problems).toEqual([
      expect.objectContaining({
        code: 'empty_answer',
        message: expect.stringMatching(/^messages\[1\]\.content/),
      }),
    ]);
  });

  it('are refused in preference outputs too', () => {
    const checked = checkPreferenceExample(
      {
        input: { messages: [user] },
        preferred_output: [{ role: 'assistant', content: '' }],
        non_preferred_output: [{ role: 'assistant', content: 'b' }],
      },
      context,
    );
    expect(checked.problems.map((p) => p.code)).toEqual(['empty_answer']);
  });

  it('are fine next to tool calls, and a single character is an answer', () => {
    const call = { id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } };
    expect(codes(say('', { tool_calls: [call] }))).toEqual([]);
    expect(codes(say([{ type: 'text', text: '' }], { tool_calls: [call] }))).toEqual([]);
    expect(codes(say('0'))).toEqual([]);
    expect(
      codes(
        say([
          { type: 'text', text: '' },
          { type: 'text', text: 'x' },
        ]),
      ),
    ).toEqual([]);
  });

  it('isEmptyAnswer agrees with trimming the joined text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('', ' ', '\n', 'a', '.'), { minLength: 1, maxLength: 4 }),
        (texts) => {
          const parts = texts.map((text) => ({ type: 'text', text }));
          expect(isEmptyAnswer(parts)).toBe(texts.join('').trim() === '');
          expect(isEmptyAnswer(texts.join(''))).toBe(texts.join('').trim() === '');
        },
      ),
    );
  });
});

describe('lone surrogates', () => {
  it('are refused wherever they are, keys included, with the place and the character', () => {
    const inContent =
      '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "ab\\ud800"}]}';
    expect(checkLine(inContent).problems).toEqual([
      expect.objectContaining({
        code: 'lone_surrogate',
        message: expect.stringMatching(
          /^messages\[1\]\.content holds a lone surrogate \(\\ud800 at character 3\)/,
        ),
      }),
    ]);
    const inKey =
      '{"messages": [{"role": "user", "content": "q", "\\udc00": 1}, {"role": "assistant", "content": "a"}]}';
    expect(codes(inKey)).toEqual(['unknown_key', 'lone_surrogate']);
    const inArguments =
      '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\\"a\\": \\"\\udbff\\"}"}}]}]}';
    expect(codes(inArguments)).toEqual(['lone_surrogate']);
  });

  it('are not confused with a well-formed pair, or an escaped backslash before "ud800"', () => {
    expect(codes(say('smile \ud83d\ude00'))).toEqual([]);
    expect(
      codes(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "\\ud83d\\ude00"}]}',
      ),
    ).toEqual([]);
    expect(codes(say('a path C:\\ud800'))).toEqual([]);
  });

  it('are found the same whether or not the line text is given', () => {
    const example = { messages: [user, { role: 'assistant', content: 'x\udfff' }] };
    expect(checkChatExample(example, context).problems.map((p) => p.code)).toEqual(['lone_surrogate']);
  });

  it('are refused exactly when a string is not well-formed UTF-16 (property)', () => {
    const unit = fc.oneof(
      fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00'),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 6 }), (pieces) => {
        const text = pieces.join('');
        const line = say(`answer ${text}`);
        const lone = !(text as string & { isWellFormed(): boolean }).isWellFormed();
        expect(codes(line).includes('lone_surrogate')).toBe(lone);
      }),
    );
  });
});

describe('NUL characters', () => {
  it('are refused at their place', () => {
    expect(checkLine(say('a\u0000b')).problems).toEqual([
      expect.objectContaining({
        code: 'nul_character',
        message: expect.stringMatching(/^messages\[1\]\.content .*character 2/),
      }),
    ]);
    expect(
      codes(
        JSON.stringify({
          messages: [
            { role: 'user', content: [{ type: 'text', text: '\u0000' }] },
            { role: 'assistant', content: 'a' },
          ],
        }),
      ),
    ).toEqual(['nul_character']);
  });

  it('are not confused with the text "\\u0000" written out', () => {
    expect(codes(say('write \\u0000 for NUL'))).toEqual([]);
  });
});

describe('the raw-text shortcut', () => {
  it('walks no strings when the line has no surrogate or NUL escape', () => {
    // A getter that would be read by a walk: its absence of effect shows the walk was skipped.
    let read = false;
    const example = { messages: [] as unknown[] };
    Object.defineProperty(example, 'trap', { enumerable: true, get: () => ((read = true), 'x') });
    expect(stringProblems(example, '{"messages": [], "trap": "x"}')).toEqual([]);
    expect(read).toBe(false);
    stringProblems(example, '{"trap": "\\u0000"}');
    expect(read).toBe(true);
  });
});
