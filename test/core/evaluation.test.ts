import {
  evaluationCostBound,
  evaluationExampleOf,
  EvaluationSettingsSchema,
  promotionDecision,
} from '../../functions/core/evaluation.js';

const line = (messages: unknown[]) => ({ messages });
const asked = (value: Record<string, unknown>, labels: string[] | null = null) =>
  evaluationExampleOf(value, JSON.stringify(value), labels);

describe('evaluationExampleOf', () => {
  it('asks the turns before the last trained answer, without training weights, and expects that answer', () => {
    const example = asked(
      line([
        { role: 'system', content: 'Classify.' },
        { role: 'user', content: 'first', weight: 1 },
        { role: 'assistant', content: 'billing', weight: 0 },
        { role: 'user', content: 'second' },
        { role: 'assistant', content: ' bug ', weight: 1 },
      ]),
      ['billing', 'bug'],
    );
    expect(example).toMatchObject({
      prompt: [
        { role: 'system', content: 'Classify.' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'billing' },
        { role: 'user', content: 'second' },
      ],
      expected: ' bug ',
      label: 'bug',
    });
  });

  it('asks a preference example its input, expecting the preferred answer', () => {
    expect(
      asked({
        input: { messages: [{ role: 'user', content: 'q' }] },
        preferred_output: [{ role: 'assistant', content: 'good' }],
        non_preferred_output: [{ role: 'assistant', content: 'bad' }],
      }),
    ).toMatchObject({ prompt: [{ role: 'user', content: 'q' }], expected: 'good' });
  });

  it('leaves out tool calls, tool answers and images, and a line with nothing to ask', () => {
    const toolCall = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } };
    expect(
      asked(
        line([
          { role: 'user', content: 'q' },
          { role: 'assistant', tool_calls: [toolCall] },
        ]),
      ),
    ).toBeUndefined();
    expect(
      asked(
        line([
          { role: 'user', content: 'q' },
          { role: 'assistant', tool_calls: [toolCall] },
          { role: 'tool', tool_call_id: 'c1', content: '42' },
          { role: 'assistant', content: 'It is 42.' },
        ]),
      ),
    ).toBeUndefined();
    expect(
      asked(
        line([
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
          { role: 'assistant', content: 'a cat' },
        ]),
      ),
    ).toBeUndefined();
    expect(asked(line([{ role: 'assistant', content: 'alone' }]))).toBeUndefined();
  });
});

describe('promotionDecision', () => {
  const at = (value: number) => ({ metric: 'macro_f1' as const, value });
  it('promotes without a current model, when the metric does not drop, and within the margin', () => {
    expect(promotionDecision({ challenger: at(0.1), current: null, margin: 0 }).promote).toBe(true);
    expect(promotionDecision({ challenger: at(0.7), current: at(0.7), margin: 0 }).promote).toBe(true);
    expect(promotionDecision({ challenger: at(0.68), current: at(0.7), margin: 0.05 }).promote).toBe(true);
  });

  it('keeps the current model when the drop is larger than the margin, saying both numbers', () => {
    expect(promotionDecision({ challenger: at(0.6), current: at(0.7), margin: 0.05 })).toEqual({
      promote: false,
      reason: "macro_f1 0.600 is below the current model's 0.700 by 0.100, more than the margin 0.05",
    });
  });
});

describe('evaluationCostBound', () => {
  const settings = EvaluationSettingsSchema.parse({ maxExamples: 50 });
  const price = { inputUsdPerMillionTokens: 0.8, outputUsdPerMillionTokens: 3.2 };
  it('counts the examples asked, at their share of the validation tokens, for two models at input and output price', () => {
    // 50 of 100 examples, 20,000 validation tokens: 10,000 tokens, twice, at $4 per 1M.
    expect(
      evaluationCostBound({ settings, validationExamples: 100, validationTokens: 20_000, price }),
    ).toBeCloseTo(0.08, 10);
  });

  it('is 0 when nothing will be asked, and unknown without a price', () => {
    expect(evaluationCostBound({ settings, validationExamples: 0, validationTokens: 0, price })).toBe(0);
    expect(
      evaluationCostBound({
        settings: EvaluationSettingsSchema.parse({ enabled: false }),
        validationExamples: 100,
        validationTokens: 1,
        price,
      }),
    ).toBe(0);
    expect(
      evaluationCostBound({ settings, validationExamples: 10, validationTokens: 100, price: undefined }),
    ).toBeNull();
  });
});
