import fc from 'fast-check';
import { findModel } from '../../functions/core/catalog.js';
import { checkChatExample, checkPreferenceExample, type CheckContext } from '../../functions/core/formats.js';
import { parametersProblem } from '../../functions/core/tool-schemas.js';

const context: CheckContext = { model: findModel('gpt-4o-mini')! };
const tool = (name: string, parameters: unknown = { type: 'object', properties: {} }) => ({
  type: 'function',
  function: { name, parameters },
});
const call = (id: string, name = 'lookup') => ({
  id,
  type: 'function',
  function: { name, arguments: '{}' },
});
const calls = (...list: ReturnType<typeof call>[]) => ({
  role: 'assistant',
  content: null,
  tool_calls: list,
});
const result = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'ok' });
const user = { role: 'user', content: 'q' };
const answer = { role: 'assistant', content: 'a' };
const chat = (messages: unknown[], extra: Record<string, unknown> = { tools: [tool('lookup')] }) =>
  checkChatExample({ messages, ...extra }, context);
const errors = (checked: ReturnType<typeof chat>) => checked.problems.map((p) => p.code);
const warnings = (checked: ReturnType<typeof chat>) => checked.warnings.map((p) => p.code);

describe('tool definitions', () => {
  it('accept a valid JSON Schema object as parameters, and no parameters at all', () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string', pattern: '^[A-Z]' }, days: { type: 'integer', minimum: 1 } },
      required: ['city'],
      additionalProperties: false,
    };
    const noParameters = { type: 'function', function: { name: 'ping' } };
    expect(errors(chat([user, answer], { tools: [tool('lookup', schema), noParameters] }))).toEqual([]);
  });

  it('reject a parameters schema the meta-schema refuses, naming the place inside it', () => {
    const bad = { type: 'object', properties: { city: { type: 'strin' } } };
    const checked = chat([user, answer], { tools: [tool('ok'), tool('lookup', bad)] });
    expect(checked.problems).toEqual([
      expect.objectContaining({
        code: 'invalid_parameters',
        message: expect.stringMatching(/^tools\[1\]\.function\.parameters\.properties\.city\.type must be/),
      }),
    ]);
  });

  it.each([
    ['an array', []],
    ['an empty object (no root type)', {}],
    ['a string schema', { type: 'string' }],
    ['a root oneOf', { oneOf: [{ type: 'object' }] }],
    ['"required" that is not a list', { type: 'object', required: 'city' }],
    ['a pattern that is not a regular expression', { type: 'object', properties: { a: { pattern: '[' } } }],
    ['a draft-04 exclusiveMinimum', { type: 'object', properties: { a: { exclusiveMinimum: true } } }],
  ])('reject parameters that are %s', (_name, parameters) => {
    expect(errors(chat([user, answer], { tools: [tool('lookup', parameters)] }))).toEqual([
      'invalid_parameters',
    ]);
  });

  it('give the same verdict for the same schema every time (the cache keeps verdicts, not state)', () => {
    const bad = { type: 'object', required: 'x' };
    const first = parametersProblem(bad, 'p');
    expect(parametersProblem(structuredClone(bad), 'p')).toEqual(first);
    expect(parametersProblem({ type: 'object' }, 'p')).toBeUndefined();
  });

  it.each([
    ['a space', 'get weather'],
    ['a dot', 'weather.get'],
    ['65 characters', 'a'.repeat(65)],
    ['nothing', ''],
  ])('reject a function name with %s, in tools, legacy functions and calls', (_name, name) => {
    expect(errors(chat([user, answer], { tools: [tool(name)] }))).toEqual(['invalid_function_name']);
    expect(
      errors(chat([user, answer], { functions: [{ name, parameters: { type: 'object', properties: {} } }] })),
    ).toEqual(['invalid_function_name']);
    expect(errors(chat([user, calls(call('c1', name))], {}))).toEqual(['invalid_function_name']);
    expect(errors(chat([user, { role: 'assistant', function_call: { name, arguments: '{}' } }], {}))).toEqual(
      ['invalid_function_name'],
    );
  });

  it('accept names of 64 letters, digits, underscores and dashes', () => {
    const name = `get-Weather_2${'x'.repeat(51)}`;
    expect(name).toHaveLength(64);
    expect(errors(chat([user, calls(call('c1', name))], { tools: [tool(name)] }))).toEqual([]);
  });

  it('reject an empty functions list (the spec wants 1 to 128)', () => {
    expect(errors(chat([user, answer], { functions: [] }))).toEqual(['invalid_tools']);
  });
});

describe('calls to undeclared functions', () => {
  it('are a warning when the example declares tools', () => {
    const checked = chat([user, calls(call('c1', 'refund'))]);
    expect(checked.problems).toEqual([]);
    expect(checked.warnings).toEqual([
      expect.objectContaining({ code: 'undeclared_function', message: expect.stringContaining('"refund"') }),
    ]);
    expect(warnings(chat([user, calls(call('c1', 'lookup'))]))).toEqual([]);
  });

  it('are not flagged when the example declares no tools at all (a deliberate way to save tokens)', () => {
    expect(warnings(chat([user, calls(call('c1', 'refund'))], {}))).toEqual([]);
  });

  it('count legacy functions and function_call alike', () => {
    const legacy = (name: string) => ({ role: 'assistant', function_call: { name, arguments: '{}' } });
    const functions = [{ name: 'lookup', parameters: { type: 'object', properties: {} } }];
    expect(warnings(chat([user, legacy('refund')], { functions }))).toEqual(['undeclared_function']);
    expect(warnings(chat([user, legacy('lookup')], { functions }))).toEqual([]);
  });
});

describe('tool call ids', () => {
  it('pair calls and results, several at a time, with the last calls left open', () => {
    const messages = [
      user,
      calls(call('a'), call('b')),
      result('b'),
      result('a'),
      answer,
      user,
      calls(call('c')),
    ];
    expect(errors(chat(messages))).toEqual([]);
  });

  it('reject a result that answers no earlier call, at its place', () => {
    const checked = chat([user, calls(call('a')), result('x'), answer]);
    expect(checked.problems.map((p) => [p.code, p.message.split(' ')[0]])).toEqual([
      ['unmatched_tool_result', 'messages[2].tool_call_id'],
      ['unanswered_tool_call', 'messages[1].tool_calls[0]'],
    ]);
  });

  it('reject a result that comes before its call, and a second answer to the same call', () => {
    expect(errors(chat([user, result('a'), calls(call('a')), result('a'), answer]))).toEqual([
      'unmatched_tool_result',
    ]);
    expect(errors(chat([user, calls(call('a')), result('a'), result('a'), answer]))).toEqual([
      'unmatched_tool_result',
    ]);
  });

  it('reject a call the conversation goes past without answering', () => {
    expect(errors(chat([user, calls(call('a')), answer]))).toEqual(['unanswered_tool_call']);
    expect(errors(chat([user, calls(call('a')), user]))).toEqual(['unanswered_tool_call']);
  });

  it('reject an id used twice in an example', () => {
    const checked = chat([user, calls(call('a')), result('a'), calls(call('a'))]);
    expect(errors(checked)).toEqual(['duplicate_tool_call_id']);
    expect(checked.problems[0]!.message).toContain('messages[1].tool_calls[0].id');
  });

  it('apply to preference examples: the input pairs, and an output may call but not reuse an input id', () => {
    const dpo = (output: unknown, input: unknown[] = [user, calls(call('a')), result('a'), user]) =>
      checkPreferenceExample(
        {
          input: { messages: input, tools: [tool('lookup')] },
          preferred_output: [output],
          non_preferred_output: [answer],
        },
        context,
      );
    expect(dpo(calls(call('b'))).problems).toEqual([]);
    expect(dpo(calls(call('a'))).problems.map((p) => p.code)).toEqual(['duplicate_tool_call_id']);
    expect(dpo(answer, [user, calls(call('a')), user]).problems.map((p) => p.code)).toEqual([
      'unanswered_tool_call',
    ]);
    expect(dpo(calls(call('b', 'refund'))).warnings.map((p) => p.code)).toEqual(['undeclared_function']);
  });
});

describe('tool call sequences (property)', () => {
  // A conversation of rounds: the assistant calls some tools, each is answered (in any order), then
  // it answers; the last round may end on its calls.
  const rounds = fc.array(
    fc.record({ calls: fc.integer({ min: 1, max: 3 }), order: fc.array(fc.nat(), { maxLength: 3 }) }),
    { minLength: 1, maxLength: 5 },
  );
  const build = (spec: Array<{ calls: number; order: number[] }>, endOnCalls: boolean) => {
    const messages: unknown[] = [user];
    let next = 0;
    spec.forEach((round, r) => {
      const ids = Array.from({ length: round.calls }, () => `call_${next++}`);
      messages.push(calls(...ids.map((id) => call(id))));
      if (endOnCalls && r === spec.length - 1) return;
      const answers = [...ids];
      round.order.forEach((k, i) => {
        const j = k % answers.length;
        [answers[i % answers.length], answers[j]] = [answers[j]!, answers[i % answers.length]!];
      });
      for (const id of answers) messages.push(result(id));
      messages.push(answer, user);
    });
    if (!endOnCalls) messages.push(answer);
    return messages;
  };

  it('well-formed sequences are valid', () => {
    fc.assert(
      fc.property(rounds, fc.boolean(), (spec, endOnCalls) => {
        expect(errors(chat(build(spec, endOnCalls)))).toEqual([]);
      }),
    );
  });

  it('removing one answer makes exactly one unanswered call', () => {
    fc.assert(
      fc.property(rounds, fc.nat(), (spec, pick) => {
        const messages = build(spec, false);
        const results = messages.flatMap((m, i) => ((m as { role: string }).role === 'tool' ? [i] : []));
        messages.splice(results[pick % results.length]!, 1);
        expect(errors(chat(messages))).toEqual(['unanswered_tool_call']);
      }),
    );
  });

  it('changing one answer id to an unknown one makes exactly one unmatched result and one unanswered call', () => {
    fc.assert(
      fc.property(rounds, fc.nat(), (spec, pick) => {
        const messages = build(spec, false);
        const results = messages.flatMap((m, i) => ((m as { role: string }).role === 'tool' ? [i] : []));
        const at = results[pick % results.length]!;
        messages[at] = result('nobody');
        expect(errors(chat(messages)).sort()).toEqual(['unanswered_tool_call', 'unmatched_tool_result']);
      }),
    );
  });
});
