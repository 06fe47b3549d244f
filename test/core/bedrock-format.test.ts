import fc from 'fast-check';
import {
  BedrockFormatError,
  toBedrockLine,
  toConversationRecord,
  toPromptCompletionRecord,
} from '../../functions/core/bedrock-format.js';

/** Text content as a string or as a list of text parts, which the conversion must carry exactly. */
const content = fc.oneof(
  fc.string(),
  fc.array(
    fc.string().map((text) => ({ type: 'text', text })),
    { minLength: 1, maxLength: 3 },
  ),
);
const textsOf = (value: string | Array<{ text: string }>) =>
  typeof value === 'string' ? [value] : value.map((part) => part.text);

/** A conversation as the validator accepts it for Nova: optional system, then user/assistant alternating. */
const conversation = fc
  .record({
    system: fc.option(content, { nil: undefined }),
    turns: fc.array(fc.tuple(content, content), { minLength: 1, maxLength: 4 }),
  })
  .map(({ system, turns }) => ({
    messages: [
      ...(system === undefined ? [] : [{ role: 'system', content: system }]),
      ...turns.flatMap(([question, answer]) => [
        { role: 'user', content: question },
        { role: 'assistant', content: answer },
      ]),
    ],
  }));

describe('bedrock-conversation-2024 (Nova)', () => {
  it('writes the documented record', () => {
    const line = JSON.stringify({
      messages: [
        { role: 'system', content: 'You answer.' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'text', text: 'a' }] },
      ],
    });
    expect(JSON.parse(toBedrockLine(line, 'bedrock-conversation-2024'))).toEqual({
      schemaVersion: 'bedrock-conversation-2024',
      system: [{ text: 'You answer.' }],
      messages: [
        { role: 'user', content: [{ text: 'q' }] },
        { role: 'assistant', content: [{ text: 'a' }] },
      ],
    });
  });

  it('leaves "system" out when the example has none', () => {
    const record = toConversationRecord({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a' },
      ],
    });
    expect(record).not.toHaveProperty('system');
  });

  it('carries every text exactly, keeps the role order, and folds the first system message into "system"', () => {
    fc.assert(
      fc.property(conversation, (example) => {
        const record = JSON.parse(toBedrockLine(JSON.stringify(example), 'bedrock-conversation-2024')) as {
          system?: Array<{ text: string }>;
          messages: Array<{ role: string; content: Array<{ text: string }> }>;
        };
        const [first, ...rest] = example.messages;
        const hasSystem = first!.role === 'system';
        const turns = hasSystem ? rest : example.messages;
        expect(record.system?.map((block) => block.text)).toEqual(
          hasSystem ? textsOf(first!.content) : undefined,
        );
        expect(record.messages.map((m) => m.role)).toEqual(turns.map((m) => m.role));
        record.messages.forEach((message, i) =>
          expect(message.content.map((block) => block.text)).toEqual(textsOf(turns[i]!.content)),
        );
      }),
    );
  });

  it('refuses what it has no place for (the validator refuses it first)', () => {
    expect(() =>
      toConversationRecord({
        messages: [
          { role: 'user', content: 'q' },
          { role: 'tool', content: 'r', tool_call_id: 'c' },
        ],
      }),
    ).toThrow(BedrockFormatError);
    expect(() =>
      toConversationRecord({
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
          { role: 'assistant', content: 'a' },
        ],
      }),
    ).toThrow(/not a text part/);
    expect(() => toConversationRecord({ prompt: 'p', completion: 'c' })).toThrow(/not a chat example/);
  });
});

describe('prompt-completion (Llama 3.1)', () => {
  it('writes the user turn as the prompt and the assistant turn as the completion', () => {
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'Translate: hello' },
        { role: 'assistant', content: 'bonjour' },
      ],
    });
    expect(JSON.parse(toBedrockLine(line, 'prompt-completion'))).toEqual({
      prompt: 'Translate: hello',
      completion: 'bonjour',
    });
  });

  it('carries the text exactly (text parts joined in order)', () => {
    fc.assert(
      fc.property(content, content, (question, answer) => {
        const record = toPromptCompletionRecord({
          messages: [
            { role: 'user', content: question },
            { role: 'assistant', content: answer },
          ],
        });
        expect(record).toEqual({ prompt: textsOf(question).join(''), completion: textsOf(answer).join('') });
      }),
    );
  });

  it('refuses a system message, several turns or a missing answer', () => {
    const user = { role: 'user', content: 'q' };
    const assistant = { role: 'assistant', content: 'a' };
    for (const messages of [
      [{ role: 'system', content: 's' }, user, assistant],
      [user, assistant, user, assistant],
      [user],
      [],
    ])
      expect(() => toPromptCompletionRecord({ messages })).toThrow(BedrockFormatError);
  });
});
