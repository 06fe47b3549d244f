import fc from 'fast-check';
import {
  HEADLINE_METRIC,
  METRIC,
  METRIC_DEFINITIONS,
  METRIC_NAMES,
  ClassificationEvaluationSchema,
  GenerationEvaluationSchema,
  ModelEvaluationSchema,
  averagePrecision,
  classificationEvaluation,
  exactMatch,
  generationEvaluation,
  headlineMetric,
  labelOfAnswer,
  labelProbabilities,
  longestCommonSubsequence,
  normalisedTokens,
  positiveLabelOf,
  rougeL,
  tokenF1,
  type ClassificationPair,
  type ScoredExample,
} from '../../functions/core/evaluation-metrics.js';

const TICKET_LABELS = ['billing', 'bug', 'feature'];

/** Six answers to three classes, worked out by hand below. */
const TICKET_PAIRS: ClassificationPair[] = [
  { expected: 'billing', predicted: 'billing' },
  { expected: 'billing', predicted: ' billing\n' },
  { expected: 'billing', predicted: "I think it's billing" },
  { expected: 'bug', predicted: 'bug' },
  { expected: 'bug', predicted: 'billing' },
  { expected: 'feature', predicted: 'bug' },
];

describe('labelOfAnswer', () => {
  it('maps an answer to the label it equals once whitespace is trimmed', () => {
    expect(labelOfAnswer('  billing \n', TICKET_LABELS)).toBe('billing');
  });

  it('maps an answer that only mentions a label to no label', () => {
    expect(labelOfAnswer("I think it's billing", TICKET_LABELS)).toBeNull();
    expect(labelOfAnswer('billing.', TICKET_LABELS)).toBeNull();
  });

  it('keeps case and inner whitespace, as the training data’s labels do', () => {
    expect(labelOfAnswer('Billing', TICKET_LABELS)).toBeNull();
    expect(labelOfAnswer('new  feature', ['new feature'])).toBeNull();
  });
});

describe('classificationEvaluation', () => {
  const evaluation = classificationEvaluation(TICKET_PAIRS, TICKET_LABELS);

  it('counts an answer that is none of the labels in the confusion matrix’s last column', () => {
    expect(evaluation.confusionMatrix).toEqual({
      rows: ['billing', 'bug', 'feature'],
      columns: ['billing', 'bug', 'feature', null],
      counts: [
        [2, 0, 0, 1],
        [1, 1, 0, 0],
        [0, 1, 0, 0],
      ],
    });
    expect(evaluation.answersOutsideLabels).toBe(1);
  });

  it('computes accuracy and per-class precision, recall and F1 as worked out by hand', () => {
    expect(evaluation.accuracy).toBe(0.5);
    const [billing, bug, feature] = evaluation.perClass;
    // billing: TP 2, answered 3 times (twice right, once for a bug), expected 3 times (once answered off-label).
    expect(billing).toMatchObject({ label: 'billing', support: 3, predicted: 3 });
    expect(billing!.precision).toBeCloseTo(2 / 3, 12);
    expect(billing!.recall).toBeCloseTo(2 / 3, 12);
    expect(billing!.f1).toBeCloseTo(2 / 3, 12);
    // bug: TP 1, answered twice (once for a feature), expected twice.
    expect(bug).toMatchObject({
      label: 'bug',
      support: 2,
      predicted: 2,
      precision: 0.5,
      recall: 0.5,
      f1: 0.5,
    });
    // feature: expected once, never answered: precision is 0/0, taken as 0 (scikit-learn's zero_division=0).
    expect(feature).toEqual({
      label: 'feature',
      support: 1,
      predicted: 0,
      precision: 0,
      recall: 0,
      f1: 0,
      inMacroAverage: true,
    });
  });

  it('averages F1 over the classes, a class never answered counting as 0', () => {
    expect(evaluation.macroF1).toBeCloseTo((2 / 3 + 1 / 2 + 0) / 3, 12);
  });

  it('leaves a class neither expected nor answered out of macro-F1, and says so', () => {
    const withRefund = classificationEvaluation(TICKET_PAIRS, [...TICKET_LABELS, 'refund']);
    expect(withRefund.macroF1).toBeCloseTo(evaluation.macroF1, 12);
    expect(withRefund.perClass[3]).toMatchObject({
      label: 'refund',
      support: 0,
      predicted: 0,
      inMacroAverage: false,
    });
    expect(withRefund.confusionMatrix.counts[3]).toEqual([0, 0, 0, 0, 0]);
  });

  it('counts a class answered but never expected in macro-F1, with F1 0', () => {
    const result = classificationEvaluation(
      [
        { expected: 'billing', predicted: 'billing' },
        { expected: 'billing', predicted: 'refund' },
      ],
      ['billing', 'refund'],
    );
    expect(result.perClass[1]).toMatchObject({
      support: 0,
      predicted: 1,
      precision: 0,
      f1: 0,
      inMacroAverage: true,
    });
    expect(result.macroF1).toBeCloseTo((2 / 3 + 0) / 2, 12);
  });

  it('has no average precision for more than two classes', () => {
    expect(evaluation.averagePrecision).toBeNull();
  });

  it('returns a value its schema accepts, and that survives JSON', () => {
    expect(ClassificationEvaluationSchema.parse(JSON.parse(JSON.stringify(evaluation)))).toEqual(evaluation);
  });

  it('refuses an expected label outside the label set, no examples, and labels that are alike once trimmed', () => {
    expect(() => classificationEvaluation([{ expected: 'refund', predicted: 'bug' }], TICKET_LABELS)).toThrow(
      /not one of the labels/,
    );
    expect(() => classificationEvaluation([], TICKET_LABELS)).toThrow(/at least one example/);
    expect(() => classificationEvaluation(TICKET_PAIRS, ['bug', ' bug'])).toThrow(/given twice/);
    expect(() => classificationEvaluation(TICKET_PAIRS, ['bug', ' '])).toThrow(/empty/);
  });

  it('reports average precision for two classes, with the less frequent class as positive', () => {
    const probabilitiesOf = (spam: number) => [
      { label: 'ham', probability: 1 - spam },
      { label: 'spam', probability: spam },
    ];
    const result = classificationEvaluation(
      [
        { expected: 'spam', predicted: 'spam', probabilities: probabilitiesOf(0.9) },
        { expected: 'ham', predicted: 'spam', probabilities: probabilitiesOf(0.8) },
        { expected: 'spam', predicted: 'spam', probabilities: probabilitiesOf(0.8) },
        { expected: 'ham', predicted: 'ham', probabilities: probabilitiesOf(0.3) },
        { expected: 'ham', predicted: 'ham', probabilities: probabilitiesOf(0.1) },
      ],
      ['ham', 'spam'],
    );
    // Positive: spam (2 of 5). Thresholds 0.9: P 1, R 1/2; 0.8 (a tie, taken together): P 2/3, R 1.
    expect(result.averagePrecision).toEqual({
      positiveLabel: 'spam',
      positives: 2,
      negatives: 3,
      value: expect.closeTo(1 / 2 + (1 / 2) * (2 / 3), 12),
    });
  });

  it('has no average precision when an example has no probabilities or only one class is among the examples', () => {
    const withProbabilities = { probabilities: [{ label: 'ham', probability: 1 }] };
    expect(
      classificationEvaluation(
        [
          { expected: 'ham', predicted: 'ham', ...withProbabilities },
          { expected: 'spam', predicted: 'ham' },
        ],
        ['ham', 'spam'],
      ).averagePrecision,
    ).toBeNull();
    expect(
      classificationEvaluation([{ expected: 'ham', predicted: 'ham', ...withProbabilities }], ['ham', 'spam'])
        .averagePrecision,
    ).toBeNull();
  });
});

describe('averagePrecision', () => {
  const scored = (labels: number[], scores: number[]): ScoredExample[] =>
    labels.map((label, i) => ({ positive: label === 1, score: scores[i]! }));

  it('matches scikit-learn’s documented example (0.83)', () => {
    expect(averagePrecision(scored([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))).toBeCloseTo(5 / 6, 12);
  });

  it('takes tied scores together, whatever their order', () => {
    // 0.9: 1 of 3 positives found, precision 1; 0.5 (two positives and a negative tied): all 3 found,
    // precision 3/4. AP = 1/3·1 + 2/3·3/4 = 5/6. Breaking the tie positives-first would give 1,
    // negative-first 29/36.
    const labels = [1, 1, 0, 1, 0];
    const scores = [0.9, 0.5, 0.5, 0.5, 0.2];
    expect(averagePrecision(scored(labels, scores))).toBeCloseTo(5 / 6, 12);
    expect(averagePrecision(scored([0, 1, 1, 0, 1], [0.5, 0.5, 0.9, 0.2, 0.5]))).toBeCloseTo(5 / 6, 12);
  });

  it('is null when no example is positive, and 1 when every example is', () => {
    expect(averagePrecision(scored([0, 0], [0.2, 0.9]))).toBeNull();
    expect(averagePrecision(scored([1, 1], [0.2, 0.9]))).toBe(1);
  });

  it('refuses a score that is not a finite number', () => {
    expect(() => averagePrecision(scored([1, 0], [Number.NaN, 0.5]))).toThrow(/finite/);
  });
});

describe('positiveLabelOf', () => {
  it('chooses the less frequent class among the examples', () => {
    expect(positiveLabelOf(['ham', 'spam'], ['ham', 'ham', 'spam'])).toBe('spam');
    expect(positiveLabelOf(['ham', 'spam'], ['spam', 'spam', 'ham'])).toBe('ham');
  });

  it('breaks a tie by code-unit order, however the labels are listed', () => {
    expect(positiveLabelOf(['spam', 'ham'], ['ham', 'spam'])).toBe('ham');
    expect(positiveLabelOf(['ham', 'spam'], ['ham', 'spam'])).toBe('ham');
    expect(positiveLabelOf(['b', 'B'], [])).toBe('B');
  });
});

describe('labelProbabilities', () => {
  it('gives each label the renormalised mass of the top tokens that begin it, splitting shared prefixes evenly', () => {
    const result = labelProbabilities(
      [
        { token: ' Billing', logprob: Math.log(0.5) },
        { token: 'B', logprob: Math.log(0.2) }, // begins Billing and Bug: 0.1 each
        { token: 'Feat', logprob: Math.log(0.1) },
        { token: 'The', logprob: Math.log(0.1) }, // begins no label
        { token: ' ', logprob: Math.log(0.05) }, // whitespace begins nothing
      ],
      ['Billing', 'Bug', 'Feature', 'Refund'],
    );
    expect(result.coveredMass).toBeCloseTo(0.8, 12);
    expect(result.probabilities.map((entry) => entry.label)).toEqual(['Billing', 'Bug', 'Feature', 'Refund']);
    const [billing, bug, feature, refund] = result.probabilities.map((entry) => entry.probability);
    expect(billing).toBeCloseTo(0.6 / 0.8, 12);
    expect(bug).toBeCloseTo(0.1 / 0.8, 12);
    expect(feature).toBeCloseTo(0.1 / 0.8, 12);
    expect(refund).toBe(0);
  });

  it('does not count a token longer than a label, or one that differs from it', () => {
    const result = labelProbabilities(
      [
        { token: 'Bugs', logprob: Math.log(0.6) },
        { token: 'bug', logprob: Math.log(0.3) },
      ],
      ['Bug', 'Feature'],
    );
    expect(result).toEqual({
      probabilities: [
        { label: 'Bug', probability: 0 },
        { label: 'Feature', probability: 0 },
      ],
      coveredMass: 0,
    });
  });

  it('gives probabilities in [0, 1] that sum to 1 when some top token begins a label, and all 0 otherwise', () => {
    const label = fc.stringMatching(/^[ab]{1,3}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(label, { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.record({ token: fc.stringMatching(/^ ?[ab]{0,4}$/), logprob: fc.double({ min: -20, max: 0 }) }),
          {
            maxLength: 8,
          },
        ),
        (labels, top) => {
          const { probabilities, coveredMass } = labelProbabilities(top, labels);
          const sum = probabilities.reduce((total, entry) => total + entry.probability, 0);
          for (const entry of probabilities) expect(entry.probability).toBeGreaterThanOrEqual(0);
          for (const entry of probabilities) expect(entry.probability).toBeLessThanOrEqual(1);
          if (coveredMass > 0) expect(sum).toBeCloseTo(1, 9);
          else expect(sum).toBe(0);
        },
      ),
    );
  });
});

describe('classification properties', () => {
  const labelSet = fc.uniqueArray(fc.stringMatching(/^[a-d]{1,2}$/), { minLength: 1, maxLength: 5 });
  /** A label set and answers to it: labels (sometimes padded with whitespace) and off-label text. */
  const evaluationCase = labelSet.chain((labels) =>
    fc.record({
      labels: fc.constant(labels),
      pairs: fc.array(
        fc.record({
          expected: fc.constantFrom(...labels),
          predicted: fc.oneof(
            fc.constantFrom(...labels),
            fc.constantFrom(...labels).map((label) => ` ${label}\n`),
            fc.string({ maxLength: 4 }),
          ),
        }),
        { minLength: 1, maxLength: 30 },
      ),
    }),
  );

  it('keeps every metric in [0, 1] and every result valid against its schema', () => {
    fc.assert(
      fc.property(evaluationCase, ({ labels, pairs }) => {
        const result = ClassificationEvaluationSchema.parse(classificationEvaluation(pairs, labels));
        for (const value of [result.accuracy, result.macroF1]) {
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('gives accuracy and macro-F1 of exactly 1 to perfect answers', () => {
    fc.assert(
      fc.property(evaluationCase, ({ labels, pairs }) => {
        const perfect = pairs.map((pair) => ({ expected: pair.expected, predicted: pair.expected }));
        const result = classificationEvaluation(perfect, labels);
        expect(result.accuracy).toBe(1);
        expect(result.macroF1).toBe(1);
        expect(result.answersOutsideLabels).toBe(0);
      }),
    );
  });

  it('does not change when the answers are given in another order', () => {
    const permuted = evaluationCase.chain(({ labels, pairs }) =>
      fc.record({
        labels: fc.constant(labels),
        pairs: fc.constant(pairs),
        shuffled: fc.shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length }),
      }),
    );
    fc.assert(
      fc.property(permuted, ({ labels, pairs, shuffled }) => {
        expect(classificationEvaluation(shuffled, labels)).toEqual(classificationEvaluation(pairs, labels));
      }),
    );
  });

  it('has confusion-matrix cells that sum to the examples, rows to the supports and columns to the answers', () => {
    fc.assert(
      fc.property(evaluationCase, ({ labels, pairs }) => {
        const { confusionMatrix, perClass, examples, answersOutsideLabels } = classificationEvaluation(
          pairs,
          labels,
        );
        const cells = confusionMatrix.counts.flat();
        expect(cells.reduce((sum, cell) => sum + cell, 0)).toBe(pairs.length);
        expect(examples).toBe(pairs.length);
        confusionMatrix.counts.forEach((row, i) => {
          expect(row).toHaveLength(labels.length + 1);
          expect(row.reduce((sum, cell) => sum + cell, 0)).toBe(perClass[i]!.support);
        });
        perClass.forEach((scores, j) =>
          expect(confusionMatrix.counts.reduce((sum, row) => sum + row[j]!, 0)).toBe(scores.predicted),
        );
        expect(confusionMatrix.counts.reduce((sum, row) => sum + row[labels.length]!, 0)).toBe(
          answersOutsideLabels,
        );
      }),
    );
  });

  it('has macro-F1 equal to the mean of the per-class F1 of the classes expected or answered', () => {
    fc.assert(
      fc.property(evaluationCase, ({ labels, pairs }) => {
        const { perClass, macroF1 } = classificationEvaluation(pairs, labels);
        const averaged = perClass.filter((scores) => scores.support > 0 || scores.predicted > 0);
        expect(averaged.every((scores) => scores.inMacroAverage)).toBe(true);
        expect(macroF1).toBeCloseTo(
          averaged.reduce((sum, scores) => sum + scores.f1, 0) / averaged.length,
          12,
        );
        if (perClass.every((scores) => scores.support > 0))
          expect(macroF1).toBeCloseTo(
            perClass.reduce((sum, scores) => sum + scores.f1, 0) / perClass.length,
            12,
          );
      }),
    );
  });

  it('has per-class F1 equal to the harmonic mean of precision and recall', () => {
    fc.assert(
      fc.property(evaluationCase, ({ labels, pairs }) => {
        for (const { precision, recall, f1 } of classificationEvaluation(pairs, labels).perClass)
          expect(f1).toBeCloseTo(
            precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
            12,
          );
      }),
    );
  });
});

describe('average precision properties', () => {
  const scoredExamples = fc.array(
    fc.record({ positive: fc.boolean(), score: fc.constantFrom(0, 0.1, 0.25, 0.5, 0.75, 1) }),
    { minLength: 1, maxLength: 30 },
  );

  it('is in [0, 1], or null exactly when no example is positive', () => {
    fc.assert(
      fc.property(scoredExamples, (examples) => {
        const value = averagePrecision(examples);
        if (examples.some((example) => example.positive)) {
          expect(value).not.toBeNull();
          expect(value!).toBeGreaterThanOrEqual(0);
          expect(value!).toBeLessThanOrEqual(1);
        } else expect(value).toBeNull();
      }),
    );
  });

  it('is 1 when every positive outranks every negative', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.5, max: 1, noNaN: true }), { minLength: 1, maxLength: 15 }),
        fc.array(fc.double({ min: 0, max: 0.5, noNaN: true, maxExcluded: true }), { maxLength: 15 }),
        (positiveScores, negativeScores) => {
          const examples = [
            ...negativeScores.map((score) => ({ positive: false, score })),
            ...positiveScores.map((score) => ({ positive: true, score })),
          ];
          expect(averagePrecision(examples)).toBe(1);
        },
      ),
    );
  });

  it('does not change when the examples are given in another order', () => {
    fc.assert(
      fc.property(
        scoredExamples.chain((examples) =>
          fc.tuple(
            fc.constant(examples),
            fc.shuffledSubarray(examples, { minLength: examples.length, maxLength: examples.length }),
          ),
        ),
        ([examples, shuffled]) => {
          expect(averagePrecision(shuffled)).toBe(averagePrecision(examples));
        },
      ),
    );
  });
});

describe('normalisedTokens', () => {
  it('lowercases and drops punctuation and the articles a, an and the, as SQuAD does', () => {
    expect(normalisedTokens('The Cat sat on a mat, didn’t it? An apple-pie!')).toEqual([
      'cat',
      'sat',
      'on',
      'mat',
      'didn’t',
      'it',
      'applepie',
    ]);
  });

  it('keeps an article that is only part of a word, in any script', () => {
    expect(normalisedTokens('theory another éthe thé')).toEqual(['theory', 'another', 'éthe', 'thé']);
  });
});

describe('token F1 and ROUGE-L', () => {
  it('score a reordered answer 1 by token F1 and 1/3 by ROUGE-L', () => {
    expect(tokenF1('police killed the gunman', 'the gunman killed police')).toBe(1);
    expect(rougeL('police killed the gunman', 'the gunman killed police')).toBeCloseTo(1 / 3, 12);
  });

  it('score Lin’s example pair 2/3 both', () => {
    expect(rougeL('police killed the gunman', 'police kill the gunman')).toBeCloseTo(2 / 3, 12);
    expect(tokenF1('police killed the gunman', 'police kill the gunman')).toBeCloseTo(2 / 3, 12);
  });

  it('score a partly right answer by the shared words: precision 4/5, recall 4/6, F1 8/11', () => {
    const expected = 'Reset your password from the login page.';
    const predicted = 'Reset the password on the login page';
    expect(tokenF1(expected, predicted)).toBeCloseTo(8 / 11, 12);
    expect(rougeL(expected, predicted)).toBeCloseTo(8 / 11, 12);
  });

  it('count a repeated word only as often as both texts have it', () => {
    // expected: cat cat dog (3), predicted: cat cat cat (3): 2 shared → P = R = 2/3.
    expect(tokenF1('cat cat dog', 'cat cat cat')).toBeCloseTo(2 / 3, 12);
  });

  it('give 1 when both answers have no words left and 0 when only one has', () => {
    expect(tokenF1('The.', 'a')).toBe(1);
    expect(rougeL('', '  ')).toBe(1);
    expect(tokenF1('the', 'cat')).toBe(0);
    expect(rougeL('cat', '')).toBe(0);
  });

  it('finds the longest common subsequence', () => {
    expect(
      longestCommonSubsequence(['a', 'b', 'c', 'b', 'd', 'a', 'b'], ['b', 'd', 'c', 'a', 'b', 'a']),
    ).toBe(4);
    expect(longestCommonSubsequence([], ['a'])).toBe(0);
  });

  const text = fc
    .array(fc.constantFrom('the', 'a', 'An', 'cat', 'Cat', 'dog', 'sat', '.', ',', 'on', 'mat!', 'mat'), {
      maxLength: 8,
    })
    .map((words) => words.join(' '));
  const sorted = (tokens: string[]) => [...tokens].sort();

  it('are symmetric and in [0, 1], ROUGE-L never above token F1', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(tokenF1(a, b)).toBe(tokenF1(b, a));
        expect(rougeL(a, b)).toBe(rougeL(b, a));
        for (const value of [tokenF1(a, b), rougeL(a, b)]) {
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1);
        }
        expect(rougeL(a, b)).toBeLessThanOrEqual(tokenF1(a, b) + 1e-12);
      }),
    );
  });

  it('give 1 exactly when the normalised words are equal: as multisets (token F1), as lists (ROUGE-L)', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const tokensA = normalisedTokens(a);
        const tokensB = normalisedTokens(b);
        expect(tokenF1(a, b) === 1).toBe(JSON.stringify(sorted(tokensA)) === JSON.stringify(sorted(tokensB)));
        expect(rougeL(a, b) === 1).toBe(JSON.stringify(tokensA) === JSON.stringify(tokensB));
      }),
    );
  });
});

describe('generationEvaluation', () => {
  it('averages exact match, token F1 and ROUGE-L over the examples', () => {
    const result = generationEvaluation([
      { expected: 'Paris', predicted: ' Paris\n' },
      { expected: 'police killed the gunman', predicted: 'the gunman killed police' },
    ]);
    expect(result).toEqual({
      kind: 'generation',
      examples: 2,
      exactMatch: 0.5,
      tokenF1: 1,
      rougeL: expect.closeTo((1 + 1 / 3) / 2, 12),
    });
    expect(GenerationEvaluationSchema.parse(result)).toEqual(result);
  });

  it('counts exact match after trimming only: case and punctuation matter', () => {
    expect(exactMatch(' Paris ', 'Paris')).toBe(true);
    expect(exactMatch('Paris', 'paris')).toBe(false);
    expect(exactMatch('Paris', 'Paris.')).toBe(false);
  });

  it('refuses an evaluation of no examples', () => {
    expect(() => generationEvaluation([])).toThrow(/at least one example/);
  });

  it('does not change when the answers are given in another order', () => {
    const words = fc.array(fc.constantFrom('a', 'cat', 'dog', 'sat', 'on', 'mat'), { maxLength: 6 });
    const pair = fc.record({
      expected: words.map((w) => w.join(' ')),
      predicted: words.map((w) => w.join(' ')),
    });
    fc.assert(
      fc.property(
        fc
          .array(pair, { minLength: 1, maxLength: 20 })
          .chain((pairs) =>
            fc.tuple(
              fc.constant(pairs),
              fc.shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length }),
            ),
          ),
        ([pairs, shuffled]) => {
          const result = generationEvaluation(pairs);
          expect(generationEvaluation(shuffled)).toEqual(result);
          const perfect = generationEvaluation(
            pairs.map((p) => ({ expected: p.expected, predicted: p.expected })),
          );
          expect(perfect).toMatchObject({ exactMatch: 1, tokenF1: 1, rougeL: 1 });
        },
      ),
    );
  });
});

describe('headlineMetric', () => {
  it('is macro-F1 for classification', () => {
    const evaluation = classificationEvaluation(TICKET_PAIRS, TICKET_LABELS);
    expect(headlineMetric(evaluation)).toEqual({ metric: 'macro_f1', value: evaluation.macroF1 });
  });

  it('is ROUGE-L for generation', () => {
    const evaluation = generationEvaluation([{ expected: 'a b c', predicted: 'a c' }]);
    expect(headlineMetric(evaluation)).toEqual({ metric: 'rouge_l_f1', value: evaluation.rougeL });
  });

  it('names only metrics that have a definition for the report', () => {
    expect(Object.values(HEADLINE_METRIC).every((name) => METRIC_NAMES.includes(name))).toBe(true);
    expect(Object.keys(METRIC_DEFINITIONS).sort()).toEqual([...METRIC_NAMES].sort());
    expect(METRIC.rougeL).toBe('rouge_l_f1');
  });

  it('reads either kind of evaluation back from its stored JSON', () => {
    const stored = JSON.parse(JSON.stringify(classificationEvaluation(TICKET_PAIRS, TICKET_LABELS)));
    expect(headlineMetric(ModelEvaluationSchema.parse(stored)).metric).toBe('macro_f1');
  });
});
