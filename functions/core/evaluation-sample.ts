import { z } from 'zod';
import { splitHash } from './split.js';

/**
 * Which of the run's validation examples are evaluated (issue #14, point 4: cheap and bounded): at most
 * `maxExamples`, chosen with the run's seed.
 *
 * Each example is ranked by `splitHash(seed, canonicalJson)`, the hash the split already gives it, and
 * the smallest hashes are taken (within each class, for classification). So the choice depends on the
 * seed and the examples only, never on their order in the file: the same validation set and seed always
 * give the same sample. A tie (copies of one example, or a hash collision) is broken by the canonical JSON
 * itself, then by position; copies are interchangeable, so which copy is taken changes nothing evaluated.
 * Copies are kept as separate examples, as they are in the validation file: they are part of the mix the
 * model will be asked.
 *
 * Why the split's hash (and not a second, "independent" one): the validation set is the examples with
 * the smallest hashes, and among them the order of the hashes is still uniformly random, so the smallest
 * k are a uniform sample of it; and a second hash is a second thing to keep stable.
 */

/** An example the sample can choose: its canonical JSON (what the split hashes) and, for classification, its label. */
export interface EvaluationCandidate {
  /** `JSON.stringify` of the parsed line, as the split hashes it (split.ts). */
  canonicalJson: string;
  /**
   * The example's class (`classLabel`, classes.ts) when the run is classification; leave it out for
   * generation. The sample is stratified when any candidate has one; candidates without one then form a
   * class of their own (as the split treats them: `labelOfLine` gives '').
   */
  label?: string | undefined;
}

export const EvaluationSampleOptionsSchema = z.object({
  seed: z.number().int().min(0).max(2_147_483_647).describe('The run’s seed (tunedrop.json `seed`).'),
  maxExamples: z.number().int().min(0).describe('At most this many examples are evaluated.'),
});
export type EvaluationSampleOptions = z.infer<typeof EvaluationSampleOptionsSchema>;

export const ClassSampleCountsSchema = z.object({
  label: z.string().nullable().describe('The class; null for the examples without a label.'),
  available: z.number().int().min(1).describe('Validation examples of this class.'),
  chosen: z.number().int().min(0).describe('Of them, evaluated.'),
});
export type ClassSampleCounts = z.infer<typeof ClassSampleCountsSchema>;

/** What the sample took, for the evaluation's cost estimate and the report. */
export const EvaluationSampleCountsSchema = z.object({
  availableExamples: z.number().int().min(0),
  chosenExamples: z.number().int().min(0),
  stratified: z.boolean(),
  perClass: z
    .array(ClassSampleCountsSchema)
    .describe('Classes in code-unit order of their labels, the unlabelled last; empty when not stratified.'),
});
export type EvaluationSampleCounts = z.infer<typeof EvaluationSampleCountsSchema>;

export interface EvaluationSample<T extends EvaluationCandidate> {
  /** The chosen examples, in input order. */
  examples: T[];
  counts: EvaluationSampleCounts;
}

/** Code-unit order, the unlabelled (null) last: the same in every locale and for every input order. */
function compareLabels(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/**
 * How many examples each class gets when `wanted` are taken from classes of the given sizes, keeping each
 * class's share: the ideal share of a class is wanted·size/total, rounded by largest remainder (exact,
 * in integers; equal remainders go to the class earlier in `sizes`, which the caller orders).
 *
 * When wanted ≥ the number of classes, every class gets at least one: a class whose ideal share is below
 * one example is raised to exactly one, and the others share what is left, in proportion to their sizes
 * (repeated, since raising one class lowers the others' shares). Without this a rare class would be
 * missing from the evaluation, and its per-class scores with it. The price: the raised classes' extra
 * examples come out of the others' shares in proportion, so a class can then fall more than one example
 * below its ideal share; no class ever gets more than its ideal share rounded up (or one).
 *
 * When wanted ≥ the total, every example is taken.
 */
export function stratifiedAllocation(sizes: readonly number[], wanted: number): number[] {
  for (const size of sizes)
    if (!Number.isSafeInteger(size) || size < 0)
      throw new Error(`a class size must be a whole number, not ${size}`);
  if (!Number.isSafeInteger(wanted) || wanted < 0)
    throw new Error(`wanted must be a whole number, not ${wanted}`);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (wanted >= total) return [...sizes];

  const allocation = sizes.map(() => 0);
  const raised = new Set<number>();
  const nonEmpty = sizes.flatMap((size, i) => (size > 0 ? [i] : []));
  if (wanted >= nonEmpty.length) {
    for (;;) {
      const rest = nonEmpty.filter((i) => !raised.has(i));
      const restTotal = rest.reduce((sum, i) => sum + sizes[i]!, 0);
      const restWanted = wanted - raised.size;
      const belowOne = rest.filter((i) => restWanted * sizes[i]! < restTotal);
      if (belowOne.length === 0) break;
      for (const i of belowOne) raised.add(i);
    }
  }
  for (const i of raised) allocation[i] = 1;

  const rest = nonEmpty.filter((i) => !raised.has(i));
  const restTotal = rest.reduce((sum, i) => sum + sizes[i]!, 0);
  const restWanted = wanted - raised.size;
  if (restTotal === 0) return allocation;
  const remainders = rest.map((i) => {
    const numerator = restWanted * sizes[i]!; // exact: both are safe integers and their product stays small
    const remainder = numerator % restTotal;
    allocation[i] = (numerator - remainder) / restTotal;
    return { i, remainder };
  });
  let left = restWanted - rest.reduce((sum, i) => sum + allocation[i]!, 0);
  for (const { i } of remainders.sort((a, b) => b.remainder - a.remainder || a.i - b.i)) {
    if (left <= 0) break;
    allocation[i]! += 1;
    left -= 1;
  }
  return allocation;
}

interface Ranked<T> {
  candidate: T;
  position: number;
  hash: number;
}

function byRank<T extends EvaluationCandidate>(a: Ranked<T>, b: Ranked<T>): number {
  if (a.hash !== b.hash) return a.hash - b.hash;
  const x = a.candidate.canonicalJson;
  const y = b.candidate.canonicalJson;
  if (x !== y) return x < y ? -1 : 1;
  return a.position - b.position;
}

/**
 * Chooses at most `maxExamples` of the candidates (all of them when there are no more): deterministic for
 * the seed, independent of the candidates' order, stratified by label when any candidate has one
 * (`stratifiedAllocation`), a seeded uniform sample otherwise. Returns the chosen ones in input order,
 * with the counts the cost estimate needs.
 */
export function sampleEvaluationExamples<T extends EvaluationCandidate>(
  candidates: readonly T[],
  options: EvaluationSampleOptions,
): EvaluationSample<T> {
  const { seed, maxExamples } = EvaluationSampleOptionsSchema.parse(options);
  const ranked: Ranked<T>[] = candidates.map((candidate, position) => ({
    candidate,
    position,
    hash: splitHash(seed, candidate.canonicalJson),
  }));
  const stratified = candidates.some((candidate) => candidate.label !== undefined);

  const chosen: Ranked<T>[] = [];
  const perClass: ClassSampleCounts[] = [];
  if (stratified) {
    const byLabel = new Map<string | null, Ranked<T>[]>();
    for (const entry of ranked) {
      const label = entry.candidate.label ?? null;
      const members = byLabel.get(label);
      if (members) members.push(entry);
      else byLabel.set(label, [entry]);
    }
    const classes = [...byLabel.entries()].sort(([a], [b]) => compareLabels(a, b));
    const allocation = stratifiedAllocation(
      classes.map(([, members]) => members.length),
      maxExamples,
    );
    classes.forEach(([label, members], i) => {
      const taken = allocation[i]!;
      chosen.push(...members.sort(byRank).slice(0, taken));
      perClass.push({ label, available: members.length, chosen: taken });
    });
  } else {
    chosen.push(...ranked.sort(byRank).slice(0, maxExamples));
  }

  chosen.sort((a, b) => a.position - b.position);
  return {
    examples: chosen.map((entry) => entry.candidate),
    counts: {
      availableExamples: candidates.length,
      chosenExamples: chosen.length,
      stratified,
      perClass,
    },
  };
}
