import { answersOfValidLine, type CheckedExample } from './formats.js';

/**
 * When a dataset is classification: every example has one short, single-line answer (its label), and
 * few distinct labels repeat. Used for the per-class advice and for a split stratified by class.
 */
export const CLASS_LIMIT = 50;
const SHORT_ANSWER_CHARS = 40;

/** The example's label if its answer looks like one. */
export function classLabel(example: CheckedExample): string | undefined {
  if (example.answers.length !== 1) return undefined;
  const answer = example.answers[0]!.trim();
  return answer.length > 0 && answer.length <= SHORT_ANSWER_CHARS && !answer.includes('\n')
    ? answer
    : undefined;
}

/** Counts labels with bounded memory and decides, at the end, whether the dataset is classification. */
export class ClassCounter {
  private readonly counts = new Map<string, number>();
  private unlabelled = 0;
  private examples = 0;
  private overflow = false;

  /** Returns the label the example is counted under, or undefined. */
  add(example: CheckedExample): string | undefined {
    this.examples++;
    const label = classLabel(example);
    if (label === undefined) {
      this.unlabelled++;
      return undefined;
    }
    if (!this.counts.has(label) && this.counts.size >= CLASS_LIMIT) {
      this.overflow = true;
      return undefined;
    }
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
    return label;
  }

  /** The classes, most frequent first, when the answers look like labels; otherwise undefined. */
  classes(): Array<[string, number]> | undefined {
    if (this.overflow || this.examples === 0 || this.unlabelled > this.examples * 0.05) return undefined;
    if (this.counts.size < 2 || this.counts.size > this.examples / 2) return undefined;
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }
}

/** The label a line is split under: its class, or '' for an example without one. */
export function labelOfLine(value: Record<string, unknown>): string {
  return classLabel({ messages: [], answers: answersOfValidLine(value) }) ?? '';
}
