import { z } from 'zod';

/**
 * How well a model answers the run's held-out validation examples (issue #14): the numbers stored in
 * `runs/<runId>/evaluation.json`, one evaluation per model (the new one and the family's current one,
 * on the same examples), and the one number the promotion policy compares (`headlineMetric`).
 *
 * Pure and deterministic: the same answers give the same numbers, whatever their order (sums are taken
 * in a canonical order, so not even the last bit of a float depends on it). Numbers are not rounded;
 * the report rounds. Every result is a plain JSON value checked by a zod schema below.
 *
 * Definitions were looked up on 2026-11-30 and are cited where they are used:
 * - scikit-learn `precision_recall_fscore_support` / `f1_score` (zero_division) and
 *   `average_precision_score` / `precision_recall_curve`:
 *   https://scikit-learn.org/stable/modules/generated/sklearn.metrics.f1_score.html
 *   https://scikit-learn.org/stable/modules/generated/sklearn.metrics.average_precision_score.html
 *   https://scikit-learn.org/stable/modules/generated/sklearn.metrics.precision_recall_curve.html
 * - SQuAD's official evaluation script, v2.0 (`normalize_answer`, `compute_f1`):
 *   https://rajpurkar.github.io/SQuAD-explorer/ (evaluate-v2.0.py)
 * - ROUGE-L: Chin-Yew Lin, "ROUGE: A Package for Automatic Evaluation of Summaries", ACL workshop
 *   Text Summarization Branches Out, 2004, section 3.1 (sentence-level LCS F-measure).
 */

// ---------------------------------------------------------------------------------------------------
// Metric names
// ---------------------------------------------------------------------------------------------------

/** Every metric's name, as evaluation.json, the run item and the report name it. */
export const METRIC = {
  accuracy: 'accuracy',
  macroF1: 'macro_f1',
  averagePrecision: 'average_precision',
  exactMatch: 'exact_match',
  tokenF1: 'token_f1',
  rougeL: 'rouge_l_f1',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

export const METRIC_NAMES = Object.values(METRIC) as [MetricName, ...MetricName[]];

/** One line per metric, for the report's legend. */
export const METRIC_DEFINITIONS: Readonly<Record<MetricName, string>> = {
  accuracy: 'Share of examples answered with exactly their label (after trimming whitespace).',
  macro_f1:
    'Mean over the classes of each class’s F1 (2·TP / (2·TP + FP + FN)); classes neither expected nor answered in the examples are left out of the mean.',
  average_precision:
    'Two classes only: area under the precision-recall curve of the positive class (the less frequent one), ranked by the model’s probability of it (scikit-learn’s average precision).',
  exact_match: 'Share of examples answered with exactly the expected text (after trimming whitespace).',
  token_f1:
    'Mean SQuAD token F1: overlap of the words (lowercased, without punctuation and a/an/the), in any order.',
  rouge_l_f1:
    'Mean ROUGE-L F-measure (beta = 1): longest common subsequence of the same normalised words, so word order counts.',
};

// ---------------------------------------------------------------------------------------------------
// Answers and labels
// ---------------------------------------------------------------------------------------------------

/**
 * The one normalisation of a classification answer and of a label: leading and trailing whitespace
 * removed (String.prototype.trim), nothing else. It is the rule `classLabel` (classes.ts) uses to read
 * the training data's labels, so an answer matches a label exactly when it would have been counted
 * under that label had it been in the data. Case and inner whitespace are kept: "billing" and "Billing"
 * are different labels to the data, so they are to the evaluation.
 */
export function normaliseAnswer(text: string): string {
  return text.trim();
}

/**
 * The label a raw answer is, or null when it is none of them ("I think it's billing" is no label: a
 * model that answers so is counted as wrong, in the confusion matrix's last column, never dropped).
 */
export function labelOfAnswer(answer: string, labels: readonly string[]): string | null {
  const normalised = normaliseAnswer(answer);
  for (const label of labels) if (normaliseAnswer(label) === normalised) return normaliseAnswer(label);
  return null;
}

/** The label set, normalised; refuses an empty one, an empty label and two labels that normalise alike. */
function checkedLabels(labels: readonly string[]): string[] {
  if (labels.length === 0) throw new Error('a classification evaluation needs at least one label');
  const normalised = labels.map(normaliseAnswer);
  const seen = new Set<string>();
  for (const label of normalised) {
    if (label === '') throw new Error('a label cannot be empty or only whitespace');
    if (seen.has(label)) throw new Error(`the label ${JSON.stringify(label)} is given twice`);
    seen.add(label);
  }
  return normalised;
}

/** Code-unit order: the same in every locale, unlike localeCompare. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A sum that does not depend on the order of its terms (they are added smallest first), so permuting
 * the examples cannot change a metric's last bit.
 */
function orderFreeSum(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b).reduce((sum, value) => sum + value, 0);
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : orderFreeSum(values) / values.length;
}

// ---------------------------------------------------------------------------------------------------
// Class probabilities from logprobs
// ---------------------------------------------------------------------------------------------------

/** One of `choices[0].logprobs.content[0].top_logprobs` in an OpenAI chat completion (extra keys ignored). */
export const TopLogprobSchema = z.object({ token: z.string(), logprob: z.number() });
export const TopLogprobsSchema = z.array(TopLogprobSchema);
export type TopLogprob = z.infer<typeof TopLogprobSchema>;

const probability = z.number().min(0).max(1);

export const LabelProbabilitySchema = z.object({ label: z.string(), probability });
export type LabelProbability = z.infer<typeof LabelProbabilitySchema>;

export const LabelProbabilitiesSchema = z.object({
  probabilities: z
    .array(LabelProbabilitySchema)
    .describe(
      'One per label, in the label set’s order: the share of coveredMass on that label (they sum to 1), or all 0 when coveredMass is 0.',
    ),
  coveredMass: probability.describe(
    'The summed probability of the top first tokens that begin some label: how much of the model’s first token went to the labels at all.',
  ),
});
export type LabelProbabilities = z.infer<typeof LabelProbabilitiesSchema>;

/**
 * The model's probability of each label, from its first generated token's top logprobs (the 2023 guide's
 * way: classes answered in one short completion, `logprobs` for their probabilities).
 *
 * - A top token counts for a label when, trimmed like an answer, it is a non-empty prefix of the label
 *   (" Bill" counts for "Billing": the model starts that answer with it). A token that is whitespace only,
 *   or longer than / different from every label, counts for none: it begins an answer that is no label.
 * - A token that begins several labels ("B" for "Billing" and "Bug") is split evenly between them: the
 *   first token alone cannot tell them apart, and an even split claims nothing it does not know.
 * - The label masses are renormalised to sum to 1 over what the top tokens show of the labels. The score
 *   is then the model's probability of a label given that it answers with one, which is what a classifier
 *   over this label set is asked for; without it, an example where the model spends mass on preamble
 *   ("The", "I") would rank below one with the same odds between the labels. `coveredMass` keeps the
 *   unnormalised total for the report. Labels no top token begins get 0 (we only know they are below
 *   the last top token, and inventing their share would change the ranking with a guess).
 * - When no top token begins any label there is nothing to renormalise: every label gets 0.
 */
export function labelProbabilities(
  topLogprobs: readonly TopLogprob[],
  labels: readonly string[],
): LabelProbabilities {
  const labelSet = checkedLabels(labels);
  const mass = labelSet.map(() => 0);
  for (const { token, logprob } of topLogprobs) {
    const start = normaliseAnswer(token);
    const tokenProbability = Math.exp(logprob);
    if (start === '' || !Number.isFinite(tokenProbability)) continue;
    const begun = labelSet.flatMap((label, i) => (label.startsWith(start) ? [i] : []));
    for (const i of begun) mass[i]! += tokenProbability / begun.length;
  }
  const coveredMass = orderFreeSum(mass);
  return {
    probabilities: labelSet.map((label, i) => ({
      label,
      probability: coveredMass > 0 ? Math.min(1, mass[i]! / coveredMass) : 0,
    })),
    coveredMass: Math.min(1, coveredMass),
  };
}

// ---------------------------------------------------------------------------------------------------
// Average precision (two classes)
// ---------------------------------------------------------------------------------------------------

export interface ScoredExample {
  /** Whether the example's expected label is the positive class. */
  positive: boolean;
  /** The model's probability of the positive class (any finite score that ranks works). */
  score: number;
}

/**
 * Average precision as scikit-learn's `average_precision_score` defines it (looked up 2026-11-30,
 * scikit-learn.org, average_precision_score and precision_recall_curve): AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the
 * thresholds, which are the distinct scores from highest to lowest; at threshold t every example scored
 * ≥ t is predicted positive, so examples with tied scores enter together (a tie is never broken by input
 * order), and R₀ = 0. Not interpolated, no trapezoids.
 *
 * Null when no example is positive: recall is then undefined (scikit-learn warns and returns 0, a number
 * that would measure nothing here).
 */
export function averagePrecision(examples: readonly ScoredExample[]): number | null {
  for (const { score } of examples)
    if (!Number.isFinite(score)) throw new Error(`a score must be a finite number, not ${score}`);
  const positives = examples.filter((example) => example.positive).length;
  if (positives === 0) return null;
  const ranked = [...examples].sort((a, b) => b.score - a.score);
  const terms: number[] = [];
  let truePositives = 0;
  let falsePositives = 0;
  let i = 0;
  while (i < ranked.length) {
    const threshold = ranked[i]!.score;
    const before = truePositives;
    for (; i < ranked.length && ranked[i]!.score === threshold; i++) {
      if (ranked[i]!.positive) truePositives++;
      else falsePositives++;
    }
    // Recall gain × precision, with the gain kept as a count of positives and divided once at the end:
    // a perfect ranking then sums whole numbers and gives exactly 1.
    if (truePositives > before)
      terms.push((truePositives - before) * (truePositives / (truePositives + falsePositives)));
  }
  return Math.min(1, orderFreeSum(terms) / positives);
}

/**
 * For two classes, the class whose average precision is reported: the less frequent one among the
 * examples' expected labels (the rarer class is the one a ranking has to find; the frequent one's AP is
 * high even for a model that ranks at random, since AP's floor is the class's share). Ties go to the label
 * first in code-unit order, so the choice depends only on the examples, never on how labels were listed.
 * The same examples give both models the same positive class.
 */
export function positiveLabelOf(labels: readonly string[], expectedLabels: readonly string[]): string {
  const labelSet = checkedLabels(labels);
  if (labelSet.length !== 2) throw new Error('a positive class is defined for two labels only');
  const counts = labelSet.map((label) => expectedLabels.filter((e) => normaliseAnswer(e) === label).length);
  const [first, second] = labelSet.map((label, i) => ({ label, count: counts[i]! })) as [
    { label: string; count: number },
    { label: string; count: number },
  ];
  if (first.count !== second.count) return first.count < second.count ? first.label : second.label;
  return compareCodeUnits(first.label, second.label) <= 0 ? first.label : second.label;
}

// ---------------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------------

export const ClassificationPairSchema = z.object({
  expected: z.string().describe('The example’s label (its assistant answer, as classLabel reads it).'),
  predicted: z.string().describe('The model’s raw answer.'),
  probabilities: z
    .array(LabelProbabilitySchema)
    .optional()
    .describe('The model’s label probabilities from logprobs (labelProbabilities), when it gave them.'),
});
export type ClassificationPair = z.infer<typeof ClassificationPairSchema>;

const count = z.number().int().min(0);

export const ClassScoresSchema = z.object({
  label: z.string(),
  precision: probability.describe('TP / answers that are this label; 0 when the model never answered it.'),
  recall: probability.describe('TP / support; 0 when no example expects it.'),
  f1: probability.describe('2·TP / (2·TP + FP + FN); 0 when that is 0 / 0.'),
  support: count.describe('Examples whose expected label is this one.'),
  predicted: count.describe('Answers that are this label.'),
  inMacroAverage: z
    .boolean()
    .describe(
      'False for a class neither expected nor answered: nothing was measured, it is left out of macro-F1.',
    ),
});
export type ClassScores = z.infer<typeof ClassScoresSchema>;

export const ConfusionMatrixSchema = z.object({
  rows: z.array(z.string()).describe('The expected labels, in the label set’s order.'),
  columns: z
    .array(z.string().nullable())
    .describe('The answers: the same labels in the same order, then null for answers that are none of them.'),
  counts: z
    .array(z.array(count))
    .describe('counts[row][column]: examples expecting rows[row] answered columns[column].'),
});
export type ConfusionMatrix = z.infer<typeof ConfusionMatrixSchema>;

export const AveragePrecisionResultSchema = z.object({
  positiveLabel: z.string().describe('The less frequent class among the examples (ties: code-unit order).'),
  positives: count,
  negatives: count,
  value: probability,
});

export const ClassificationEvaluationSchema = z.object({
  kind: z.literal('classification'),
  examples: z.number().int().min(1).describe('Examples evaluated.'),
  labels: z.array(z.string()).min(1).describe('The label set (the dataset’s classes), normalised.'),
  accuracy: probability,
  macroF1: probability,
  answersOutsideLabels: count.describe('Answers that are none of the labels (all counted wrong).'),
  perClass: z.array(ClassScoresSchema),
  confusionMatrix: ConfusionMatrixSchema,
  averagePrecision: AveragePrecisionResultSchema.nullable().describe(
    'Two labels, probabilities for every example and both classes among the examples; otherwise null.',
  ),
});
export type ClassificationEvaluation = z.infer<typeof ClassificationEvaluationSchema>;

/**
 * Accuracy, per-class precision/recall/F1, macro-F1, the confusion matrix and, for two classes with
 * probabilities, average precision.
 *
 * Answers are mapped to labels with `labelOfAnswer`; an answer that is no label is a false negative of
 * its expected class and a false positive of no class (scikit-learn's `labels=` behaves so for predictions
 * outside the listed labels).
 *
 * Per-class numbers follow scikit-learn's `precision_recall_fscore_support` with `zero_division=0`
 * (looked up 2026-11-30, scikit-learn.org f1_score): a 0/0 precision, recall or F1 is 0. Macro-F1 is the
 * unweighted mean of per-class F1 over the classes that are expected or answered at least once, i.e.
 * scikit-learn's `f1_score(average='macro', zero_division=0)` with its default labels (those present in
 * y_true or y_pred) restricted to the label set. Why not every class of the set, as `labels=<all>` would:
 * a class absent from both sides has nothing measured, and counting it as 0 would make a perfect model
 * score below 1 whenever the evaluation sample is smaller than the number of classes, lowering the number
 * with the sample size instead of the model. A class never answered but expected still counts (F1 0),
 * and one answered but never expected too (F1 0): those are the model's mistakes.
 */
export function classificationEvaluation(
  pairs: readonly ClassificationPair[],
  labels: readonly string[],
): ClassificationEvaluation {
  const labelSet = checkedLabels(labels);
  if (pairs.length === 0) throw new Error('an evaluation needs at least one example');
  const indexOfLabel = new Map(labelSet.map((label, i) => [label, i]));
  const outsideColumn = labelSet.length;
  const counts = labelSet.map(() => new Array<number>(labelSet.length + 1).fill(0));
  for (const pair of pairs) {
    const row = indexOfLabel.get(normaliseAnswer(pair.expected));
    if (row === undefined)
      throw new Error(`the expected label ${JSON.stringify(pair.expected)} is not one of the labels`);
    const answered = labelOfAnswer(pair.predicted, labelSet);
    const column = answered === null ? outsideColumn : indexOfLabel.get(answered)!;
    counts[row]![column]! += 1;
  }

  const perClass: ClassScores[] = labelSet.map((label, i) => {
    const truePositives = counts[i]![i]!;
    const support = counts[i]!.reduce((sum, cell) => sum + cell, 0);
    const predicted = counts.reduce((sum, row) => sum + row[i]!, 0);
    const falsePositives = predicted - truePositives;
    const falseNegatives = support - truePositives;
    const f1Denominator = 2 * truePositives + falsePositives + falseNegatives;
    return {
      label,
      precision: predicted > 0 ? truePositives / predicted : 0,
      recall: support > 0 ? truePositives / support : 0,
      f1: f1Denominator > 0 ? (2 * truePositives) / f1Denominator : 0,
      support,
      predicted,
      inMacroAverage: support > 0 || predicted > 0,
    };
  });
  const correct = labelSet.reduce((sum, _, i) => sum + counts[i]![i]!, 0);
  const averaged = perClass.filter((scores) => scores.inMacroAverage);

  return {
    kind: 'classification',
    examples: pairs.length,
    labels: labelSet,
    accuracy: correct / pairs.length,
    macroF1: Math.min(1, mean(averaged.map((scores) => scores.f1))),
    answersOutsideLabels: counts.reduce((sum, row) => sum + row[outsideColumn]!, 0),
    perClass,
    confusionMatrix: { rows: labelSet, columns: [...labelSet, null], counts },
    averagePrecision: twoClassAveragePrecision(pairs, labelSet),
  };
}

function twoClassAveragePrecision(
  pairs: readonly ClassificationPair[],
  labelSet: readonly string[],
): z.infer<typeof AveragePrecisionResultSchema> | null {
  if (labelSet.length !== 2) return null;
  const expected = pairs.map((pair) => normaliseAnswer(pair.expected));
  const positiveLabel = positiveLabelOf(labelSet, expected);
  const scored: ScoredExample[] = [];
  for (const pair of pairs) {
    if (!pair.probabilities) return null;
    // A label missing from an example's probabilities had none of the model's visible mass: 0.
    const positive = pair.probabilities.find((entry) => normaliseAnswer(entry.label) === positiveLabel);
    scored.push({
      positive: normaliseAnswer(pair.expected) === positiveLabel,
      score: positive?.probability ?? 0,
    });
  }
  const positives = scored.filter((example) => example.positive).length;
  const negatives = scored.length - positives;
  // One class only among the examples: every ranking is perfect (or meaningless); no number is better.
  if (positives === 0 || negatives === 0) return null;
  return { positiveLabel, positives, negatives, value: averagePrecision(scored)! };
}

// ---------------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------------

/** Python's string.punctuation: the ASCII punctuation SQuAD's normalisation removes (and only it). */
const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/**
 * SQuAD removes articles with `\b(a|an|the)\b` on Unicode text, where a word character is a letter, a
 * digit or "_"; JavaScript's `\b` knows ASCII only, so the boundaries are spelled out.
 */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/**
 * The words the text-overlap scores compare, normalised as SQuAD's official script v2.0 does
 * (`normalize_answer`, looked up 2026-11-30): lowercase, ASCII punctuation removed, the articles a/an/the
 * removed, split on whitespace.
 */
export function normalisedTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(ASCII_PUNCTUATION, '')
    .replace(ARTICLES, ' ')
    .split(/\s+/)
    .filter((token) => token !== '');
}

/** Exact match as the issue asks: the answer equals the expected text once both are trimmed. */
export function exactMatch(expected: string, predicted: string): boolean {
  return normaliseAnswer(expected) === normaliseAnswer(predicted);
}

function f1Of(overlap: number, expectedLength: number, predictedLength: number): number {
  if (overlap === 0) return 0;
  const precision = overlap / predictedLength;
  const recall = overlap / expectedLength;
  return Math.min(1, (2 * precision * recall) / (precision + recall));
}

/**
 * SQuAD's token F1 (`compute_f1` in evaluate-v2.0.py, looked up 2026-11-30): the harmonic mean of the
 * precision and recall of the multiset of normalised tokens shared by the answer and the expected text.
 * When either has no token, it is 1 if both have none and 0 otherwise (the v2.0 script's rule for empty
 * answers). Symmetric, and 1 exactly when the two token multisets are equal.
 */
export function tokenF1(expected: string, predicted: string): number {
  const expectedTokens = normalisedTokens(expected);
  const predictedTokens = normalisedTokens(predicted);
  if (expectedTokens.length === 0 || predictedTokens.length === 0)
    return expectedTokens.length === predictedTokens.length ? 1 : 0;
  const available = new Map<string, number>();
  for (const token of expectedTokens) available.set(token, (available.get(token) ?? 0) + 1);
  let overlap = 0;
  for (const token of predictedTokens) {
    const left = available.get(token) ?? 0;
    if (left > 0) {
      overlap++;
      available.set(token, left - 1);
    }
  }
  return f1Of(overlap, expectedTokens.length, predictedTokens.length);
}

/** Length of the longest common subsequence of two token lists (dynamic programming, one row kept). */
export function longestCommonSubsequence(a: readonly string[], b: readonly string[]): number {
  const [longer, shorter] = a.length >= b.length ? [a, b] : [b, a];
  let previous = new Array<number>(shorter.length + 1).fill(0);
  for (const token of longer) {
    const current = new Array<number>(shorter.length + 1).fill(0);
    for (let j = 1; j <= shorter.length; j++)
      current[j] = token === shorter[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    previous = current;
  }
  return previous[shorter.length]!;
}

/**
 * ROUGE-L F-measure (Lin 2004, section 3.1, looked up 2026-11-30) over the same normalised tokens as
 * token F1: R = LCS/|expected|, P = LCS/|predicted|, F = (1 + β²)·R·P / (R + β²·P) with β = 1, so
 * F = 2·R·P / (R + P), symmetric in the two texts. β = 1 rather than ROUGE's recall-heavy settings because
 * an answer padded with extra words should lose as much as one that leaves words out. Both empty: 1; one
 * empty: 0. It is 1 exactly when the normalised token lists are equal.
 */
export function rougeL(expected: string, predicted: string): number {
  const expectedTokens = normalisedTokens(expected);
  const predictedTokens = normalisedTokens(predicted);
  if (expectedTokens.length === 0 || predictedTokens.length === 0)
    return expectedTokens.length === predictedTokens.length ? 1 : 0;
  const lcs = longestCommonSubsequence(expectedTokens, predictedTokens);
  return f1Of(lcs, expectedTokens.length, predictedTokens.length);
}

export const GenerationPairSchema = z.object({
  expected: z.string().describe('The example’s assistant answer.'),
  predicted: z.string().describe('The model’s answer.'),
});
export type GenerationPair = z.infer<typeof GenerationPairSchema>;

export const GenerationEvaluationSchema = z.object({
  kind: z.literal('generation'),
  examples: z.number().int().min(1).describe('Examples evaluated.'),
  exactMatch: probability.describe('Share of answers equal to the expected text once trimmed.'),
  tokenF1: probability.describe('Mean SQuAD token F1.'),
  rougeL: probability.describe('Mean ROUGE-L F-measure, beta = 1.'),
});
export type GenerationEvaluation = z.infer<typeof GenerationEvaluationSchema>;

/** Exact match, token F1 and ROUGE-L, each the mean over the examples. */
export function generationEvaluation(pairs: readonly GenerationPair[]): GenerationEvaluation {
  if (pairs.length === 0) throw new Error('an evaluation needs at least one example');
  return {
    kind: 'generation',
    examples: pairs.length,
    exactMatch: pairs.filter((pair) => exactMatch(pair.expected, pair.predicted)).length / pairs.length,
    tokenF1: Math.min(1, mean(pairs.map((pair) => tokenF1(pair.expected, pair.predicted)))),
    rougeL: Math.min(1, mean(pairs.map((pair) => rougeL(pair.expected, pair.predicted)))),
  };
}

// ---------------------------------------------------------------------------------------------------
// One evaluation, one headline number
// ---------------------------------------------------------------------------------------------------

export const ModelEvaluationSchema = z.discriminatedUnion('kind', [
  ClassificationEvaluationSchema,
  GenerationEvaluationSchema,
]);
export type ModelEvaluation = z.infer<typeof ModelEvaluationSchema>;

/**
 * The metric the promotion policy compares, per kind of evaluation.
 *
 * Classification: macro-F1, not accuracy. Classification data is usually imbalanced (support tickets:
 * mostly one class), and accuracy rewards a model that answers the majority class every time; macro-F1
 * weighs every class alike, so a new model that forgets a rare class shows it, and one that answers
 * outside the labels loses recall on the classes it missed.
 *
 * Generation: ROUGE-L, not token F1. Both are deterministic and share the same normalisation; ROUGE-L
 * also credits word order (it is never above token F1), so an answer with the right words in a scrambled
 * order cannot score as well as the right answer, and on long answers it tracks what a reader compares.
 */
export const HEADLINE_METRIC = {
  classification: METRIC.macroF1,
  generation: METRIC.rougeL,
} as const satisfies Record<ModelEvaluation['kind'], MetricName>;

export const HeadlineSchema = z.object({ metric: z.enum(METRIC_NAMES), value: probability });
export type Headline = z.infer<typeof HeadlineSchema>;

/** The one number the promotion policy compares, with the name the report gives it. */
export function headlineMetric(evaluation: ModelEvaluation): Headline {
  switch (evaluation.kind) {
    case 'classification':
      return { metric: HEADLINE_METRIC.classification, value: evaluation.macroF1 };
    case 'generation':
      return { metric: HEADLINE_METRIC.generation, value: evaluation.rougeL };
  }
}
