import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { BigramModel, END_OF_TEXT, type Sequence } from '../../local/openai-emulator/bigram-model.js';
import { chatPrompt, parseTrainingFile } from '../../local/openai-emulator/training-file.js';

/** The emulator's model as it answers: generate() against probability(), and the end of an answer. */
const HEADER = 100;
/** An example: untrained prompt tokens, then the trained answer and its end token. */
const example = (prompt: number[], answer: number[]): Sequence => ({
  tokens: [...prompt, ...answer, END_OF_TEXT],
  trained: [...prompt.map(() => false), ...answer.map(() => true), true],
});
const GREEDY = { maxTokens: 10, temperature: 0, seed: 0, topLogprobs: 5 };

function trained(sequences: Sequence[]): BigramModel {
  const model = new BigramModel();
  model.train(sequences);
  return model;
}

describe('generate', () => {
  const model = trained([
    ...Array.from({ length: 3 }, () => example([7, HEADER], [1, 2])),
    example([7, HEADER], [1, 3]),
  ]);

  it("follows each token's most probable follower at temperature 0, and ends at the end token", () => {
    const answer = model.generate([7, HEADER], GREEDY);
    expect(answer.tokens.map((t) => t.token)).toEqual([1, 2]);
    expect(answer.finishReason).toBe('stop');
  });

  it('gives each token the logprob probability() gives it', () => {
    const [first, second] = model.generate([7, HEADER], GREEDY).tokens;
    expect(first!.logprob).toBeCloseTo(Math.log(model.probability(HEADER, 1, [7, HEADER])), 12);
    expect(second!.logprob).toBeCloseTo(Math.log(model.probability(1, 2)), 12);
  });

  it('lists the top tokens most probable first, distinct, within the vocabulary, as probability() has them', () => {
    for (const { top } of model.generate([7, HEADER], GREEDY).tokens) {
      expect(top).toHaveLength(5);
      expect(new Set(top.map((t) => t.token)).size).toBe(5);
      for (const [i, alternative] of top.entries()) {
        if (i > 0) expect(alternative.logprob).toBeLessThanOrEqual(top[i - 1]!.logprob);
        expect(alternative.token).toBeGreaterThanOrEqual(0);
        expect(alternative.token).toBeLessThanOrEqual(END_OF_TEXT);
        expect(alternative.token).not.toBe(199_998);
      }
    }
    const [, second] = model.generate([7, HEADER], GREEDY).tokens;
    expect(second!.top.slice(0, 2).map((t) => t.token)).toEqual([2, 3]);
    expect(second!.top[1]!.logprob).toBeCloseTo(Math.log(model.probability(1, 3)), 12);
  });

  it('is a distribution: every next token of the vocabulary sums to 1, at an opener too', () => {
    for (const [prev, prompt] of [
      [1, undefined],
      [HEADER, [7, HEADER]],
    ] as const) {
      let sum = 0;
      for (let token = 0; token <= END_OF_TEXT; token++)
        if (token !== 199_998) sum += model.probability(prev, token, prompt);
      expect(sum).toBeCloseTo(1, 9);
    }
  });

  it('stops at maxTokens with length', () => {
    const answer = model.generate([7, HEADER], { ...GREEDY, maxTokens: 1 });
    expect(answer).toMatchObject({ finishReason: 'length', tokens: [{ token: 1 }] });
  });

  it('answers from a model trained on nothing with its lowest ids, all equally likely, and never ends', () => {
    const answer = new BigramModel().generate([7, HEADER], { ...GREEDY, maxTokens: 3 });
    expect(answer.finishReason).toBe('length');
    expect(answer.tokens[0]!.top.map((t) => t.token)).toEqual([0, 1, 2, 3, 4]);
    for (const t of answer.tokens[0]!.top) expect(t.logprob).toBeCloseTo(-Math.log(199_999), 9);
  });

  it('samples the same answer from the same seed, and another from another seed', () => {
    const sample = (seed: number) =>
      new BigramModel()
        .generate([7], { ...GREEDY, temperature: 1, seed, maxTokens: 6 })
        .tokens.map((t) => t.token);
    expect(sample(3)).toEqual(sample(3));
    expect(sample(3)).not.toEqual(sample(4));
  });

  it('opens an answer from what the prompt says, which a bigram alone could not tell apart', () => {
    const classifier = trained(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 ? example([5, 9, HEADER], [40, 41]) : example([6, 9, HEADER], [50]),
      ),
    );
    expect(classifier.generate([5, 9, HEADER], GREEDY).tokens.map((t) => t.token)).toEqual([40, 41]);
    expect(classifier.generate([6, 9, HEADER], GREEDY).tokens.map((t) => t.token)).toEqual([50]);
  });

  it('learns from training: accuracy at the answers rises to every token once seen', () => {
    const sequences = Array.from({ length: 8 }, (_, i) =>
      i % 2 ? example([5, HEADER], [40]) : example([6, HEADER], [50]),
    );
    const model = new BigramModel();
    const first = model.train(sequences);
    const again = model.train(sequences);
    expect(again.loss).toBeLessThan(first.loss);
    expect(again.accuracy).toBe(1);
  });
});

describe('a training file as the model reads it', () => {
  it('ends every assistant message with the end token, trained, and chatPrompt serialises the same way', () => {
    const line = {
      messages: [
        { role: 'system', content: 'Classify.' },
        { role: 'user', content: 'My card was charged twice.' },
        { role: 'assistant', content: 'billing' },
      ],
    };
    const lines = Array.from({ length: 10 }, () => JSON.stringify(line)).join('\n');
    const { sequences, tokens } = parseTrainingFile(new TextEncoder().encode(lines), {
      fileId: 'file-1',
      method: 'supervised',
      images: false,
    });
    const [sequence] = sequences;
    expect(sequence!.tokens.at(-1)).toBe(END_OF_TEXT);
    expect(sequence!.trained.at(-1)).toBe(true);
    expect(sequence!.tokens.slice(0, -2)).toEqual(chatPrompt(line.messages.slice(0, -1)));
    // Billing is unchanged: the messages' tokens and framing, not the end token.
    const text = (s: string) => encode(s).length;
    const billed = line.messages.reduce((sum, m) => sum + text(`${m.role}\n`) + text(m.content) + 3, 0) + 3;
    expect(tokens).toBe(billed * 10);
  });
});
