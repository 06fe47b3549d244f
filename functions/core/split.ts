import type { JsonlLine } from './jsonl.js';
import { labelOfLine } from './classes.js';
import { convertPromptCompletion, type LegacyMarkers } from './legacy.js';

/**
 * Train/validation split that is seeded, deterministic and streaming.
 *
 * Every example gets a 53-bit hash of (seed, its canonical JSON). The validation set is the examples
 * with the smallest hashes: the validator finds the threshold in the same pass that counts tokens (so the
 * cost estimate is of the real training file), and Prepare then routes each line by comparing its hash,
 * in one pass with nothing held in memory. Identical examples share a hash, so a duplicate can never be
 * on both sides, and the same file with the same seed always splits the same way.
 */
export function splitHash(seed: number, canonicalJson: string): number {
  // cyrb53 (a public-domain 53-bit string hash): uniform enough to split and to find duplicates, and
  // several times cheaper per line than a cryptographic digest, which nothing here needs.
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < canonicalJson.length; i++) {
    const ch = canonicalJson.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export interface SplitPlan {
  /** Examples whose hash is <= threshold go to validation; null means no validation file. */
  threshold: number | null;
  /**
   * Hashes at or below a threshold that go to training all the same: examples with so many exact copies
   * that taking them would overshoot the validation target. Fewer than `MAX_TRAIN_HASHES` (each has more
   * than 1% of the file's examples), so the plan stays small in the workflow's state.
   */
  trainHashes?: number[];
  /**
   * For classification: a threshold per class, so validation keeps the class mix (stratified). Keyed by
   * `classThresholdKey(label)`, never by the bare label: labels are user data, and a label such as
   * `__proto__` must survive the trip through JSON and the workflow's schema like any other.
   */
  classThresholds?: Record<string, number | null>;
  validationExamples: number;
  validationTokens: number;
}

interface Bucket {
  hash: number;
  examples: number;
  tokens: number;
}

const CLASS_KEY_PREFIX = 'class:';

/** The key of a label's threshold in `classThresholds`. */
export function classThresholdKey(label: string): string {
  return `${CLASS_KEY_PREFIX}${label}`;
}

/**
 * The threshold for a line's label, looked up in own keys only. Plans made before keys were prefixed
 * (bare labels) are still read as they were meant.
 */
function thresholdLookup(thresholds: Record<string, number | null>): (label: string) => number | null {
  const keys = Object.keys(thresholds);
  const prefixed = keys.every((key) => key.startsWith(CLASS_KEY_PREFIX));
  const byKey = new Map<string, number | null>(keys.map((key) => [key, thresholds[key] ?? null]));
  return (label) => byKey.get(prefixed ? classThresholdKey(label) : label) ?? null;
}

/** At most this many hashes are sent to training against their threshold (see `ValidationSelector.plan`). */
export const MAX_TRAIN_HASHES = 100;

/**
 * How far below its target validation may stop: 1% of the file's examples (at least 1). A group of copies
 * larger than this that does not fit is skipped (sent to training) and the next ones are tried, so the
 * skipped groups are fewer than 100.
 */
export function validationSlack(examples: number): number {
  return Math.max(1, Math.ceil(examples / MAX_TRAIN_HASHES));
}

/**
 * Keeps the smallest distinct hashes seen, with how many examples (exact copies included) and tokens
 * share each: enough of them for `validationExamples` examples plus the skipped groups of copies.
 */
export class ValidationSelector {
  /** Every example offered, kept or not. */
  examples = 0;
  private readonly buckets = new Map<number, Bucket>();
  private readonly heap: number[] = []; // max-heap of hashes in `buckets`
  private readonly capacity: number;

  constructor(validationExamples: number) {
    this.capacity = validationExamples + MAX_TRAIN_HASHES;
  }

  add(hash: number, tokens: number): void {
    this.examples += 1;
    const known = this.buckets.get(hash);
    if (known) {
      known.examples += 1;
      known.tokens += tokens;
      return;
    }
    if (this.heap.length < this.capacity) {
      this.buckets.set(hash, { hash, examples: 1, tokens });
      this.push(hash);
    } else if (this.heap.length > 0 && hash < this.heap[0]!) {
      this.buckets.delete(this.popMax());
      this.buckets.set(hash, { hash, examples: 1, tokens });
      this.push(hash);
    }
  }

  /**
   * Chooses at most `wanted` validation examples, whole groups of exact copies at a time, in hash order
   * (so by seed): a group that fits is taken; one that does not is sent to training (`trainHashes`) and
   * the next is tried, until validation is within `slack` of `wanted`. Copies are never on both sides,
   * validation never exceeds `wanted`, and it falls short by more than `slack` only when every group left
   * is too large to fit.
   */
  plan(wanted: number, slack = validationSlack(this.examples)): SplitPlan {
    const plan: SplitPlan = { threshold: null, validationExamples: 0, validationTokens: 0 };
    if (wanted <= 0) return plan;
    const ascending = [...this.buckets.values()].sort((a, b) => a.hash - b.hash);
    const skipped: number[] = [];
    for (const bucket of ascending) {
      const room = wanted - plan.validationExamples;
      if (room <= 0) break;
      if (bucket.examples <= room) {
        plan.threshold = bucket.hash;
        plan.validationExamples += bucket.examples;
        plan.validationTokens += bucket.tokens;
      } else if (room <= slack || skipped.length >= MAX_TRAIN_HASHES) {
        break;
      } else {
        skipped.push(bucket.hash);
      }
    }
    const threshold = plan.threshold;
    const trainHashes = threshold === null ? [] : skipped.filter((hash) => hash < threshold);
    if (trainHashes.length > 0) plan.trainHashes = trainHashes;
    return plan;
  }

  private push(hash: number): void {
    const heap = this.heap;
    heap.push(hash);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! >= heap[i]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  private popMax(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let largest = i;
        if (left < heap.length && heap[left]! > heap[largest]!) largest = left;
        if (right < heap.length && heap[right]! > heap[largest]!) largest = right;
        if (largest === i) break;
        [heap[i], heap[largest]] = [heap[largest]!, heap[i]!];
        i = largest;
      }
    }
    return top;
  }
}

/**
 * Stratified plan: each class gets its share of the wanted validation examples (largest remainders
 * decide the rounding) and its own threshold.
 */
export function planStratified(
  selectors: ReadonlyMap<string, ValidationSelector>,
  wanted: number,
): SplitPlan {
  const total = [...selectors.values()].reduce((sum, s) => sum + s.examples, 0);
  const shares = [...selectors.entries()].map(([label, selector]) => {
    const exact = total ? (selector.examples * wanted) / total : 0;
    return { label, selector, count: Math.floor(exact), remainder: exact - Math.floor(exact) };
  });
  let left = wanted - shares.reduce((sum, s) => sum + s.count, 0);
  for (const share of [...shares].sort(
    (a, b) => b.remainder - a.remainder || a.label.localeCompare(b.label),
  )) {
    if (left <= 0) break;
    share.count += 1;
    left -= 1;
  }
  const classThresholds = Object.create(null) as Record<string, number | null>;
  const slack = validationSlack(total);
  const trainHashes: number[] = [];
  const plan: SplitPlan = {
    threshold: null,
    classThresholds,
    validationExamples: 0,
    validationTokens: 0,
  };
  const classPlans = shares.map((share) => share.selector.plan(share.count, slack));
  // A class whose copies do not fit its share (one example copied many times) leaves the rest to the
  // others, in the same order as the rounding, so validation still gets near its target.
  let short = shares.reduce((sum, share, i) => sum + share.count - classPlans[i]!.validationExamples, 0);
  for (const i of shares.map((_, i) => i).sort((a, b) => shares[b]!.count - shares[a]!.count)) {
    if (short <= slack) break;
    const got = classPlans[i]!.validationExamples;
    const more = shares[i]!.selector.plan(got + short, slack);
    if (more.validationExamples > got) {
      short -= more.validationExamples - got;
      classPlans[i] = more;
    }
  }
  shares.forEach((share, i) => {
    const classPlan = classPlans[i]!;
    classThresholds[classThresholdKey(share.label)] = classPlan.threshold;
    plan.validationExamples += classPlan.validationExamples;
    plan.validationTokens += classPlan.validationTokens;
    trainHashes.push(...(classPlan.trainHashes ?? []));
  });
  // Each skipped group holds more than `slack` examples of one class, so all classes together skip
  // fewer than MAX_TRAIN_HASHES; the cap is kept anyway (a group left out only costs validation share).
  if (trainHashes.length > 0) plan.trainHashes = trainHashes.slice(0, MAX_TRAIN_HASHES);
  return plan;
}

/** The provider refuses a training file with fewer examples, so the split never leaves fewer. */
export const MIN_TRAINING_EXAMPLES = 10;

/** How many examples the validation set should have. */
export function wantedValidationExamples(examples: number, ratio: number, max: number): number {
  return Math.max(0, Math.min(max, Math.floor(examples * ratio), examples - MIN_TRAINING_EXAMPLES));
}

export interface SplitProblem {
  code: 'too_few_training_examples';
  message: string;
  fix: string;
}

/**
 * The split's invariants, checked on every plan: the provider's minimum of training examples. (At most
 * `wanted` validation examples and copies on one side hold by construction of the plan.)
 */
export function splitProblem(trainingExamples: number, validationExamples: number): SplitProblem | null {
  if (trainingExamples >= MIN_TRAINING_EXAMPLES) return null;
  return {
    code: 'too_few_training_examples',
    message: `the split leaves ${trainingExamples} training example${trainingExamples === 1 ? '' : 's'} (and ${validationExamples} for validation); the provider needs at least ${MIN_TRAINING_EXAMPLES}`,
    fix: `Add distinct examples until training keeps at least ${MIN_TRAINING_EXAMPLES}, or supply your own validation file next to the data.`,
  };
}

export interface SplitCounts {
  training: number;
  validation: number;
}

/**
 * Routes each line of a dataset to one side, converting legacy prompt/completion lines to chat when
 * `conversion` is given (the validator chose the markers). `write` receives the line text with a newline, and may
 * return a promise to apply backpressure.
 */
export async function splitDataset(
  lines: AsyncIterable<JsonlLine>,
  options: {
    seed: number;
    threshold: number | null;
    classThresholds?: Record<string, number | null> | null;
    /** Hashes that go to training even below their threshold (plans made before this have none). */
    trainHashes?: readonly number[] | null;
    conversion?: LegacyMarkers | null;
  },
  write: (side: 'training' | 'validation', text: string) => void | Promise<void>,
): Promise<SplitCounts> {
  const counts: SplitCounts = { training: 0, validation: 0 };
  const changes = { separatorStripped: 0, endTokenStripped: 0, leadingSpaceRemoved: 0 };
  const classThreshold = options.classThresholds ? thresholdLookup(options.classThresholds) : undefined;
  const toTraining = new Set(options.trainHashes ?? []);
  for await (const line of lines) {
    if (line.text.trim() === '') continue;
    let value = JSON.parse(line.text) as Record<string, unknown>;
    let text = line.text;
    if (options.conversion) {
      const { prompt, completion } = value as { prompt: string; completion: string };
      value = convertPromptCompletion(prompt, completion, options.conversion, changes);
      text = JSON.stringify(value);
    }
    const canonical = JSON.stringify(value);
    const threshold = classThreshold ? classThreshold(labelOfLine(value)) : options.threshold;
    const hash = threshold === null ? 0 : splitHash(options.seed, canonical);
    const side = threshold !== null && hash <= threshold && !toTraining.has(hash) ? 'validation' : 'training';
    counts[side] += 1;
    await write(side, `${text}\n`);
  }
  return counts;
}
