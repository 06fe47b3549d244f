import type { CheckedExample } from './formats.js';
import type { WarningCode } from './issue-codes.js';
import type { ClassCounter } from './classes.js';
import { FirstLineByHash } from './hash-table.js';
import { textOf } from './formats.js';

/**
 * Advice from the 2023 fine-tuning guide and OpenAI's data-preparation cookbook that still helps:
 * things that do not stop a run but may cost quality or leak data. Collected in one pass with bounded
 * memory; emitted once per kind with counts and example lines (duplicates and special tokens per line).
 * Credentials are looked for by the validator itself (secrets.ts): by default they are errors.
 */
export interface Warning {
  code: WarningCode;
  line?: number;
  message: string;
  fix: string;
}

export const MIN_EXAMPLES_PER_CLASS = 100;
export const MIN_GENERATION_EXAMPLES = 500;

const SPECIAL_TOKENS = /<\|(?:endoftext|im_start|im_end|fim_prefix|fim_middle|fim_suffix|endofprompt)\|>/;
const LEGACY_SEPARATORS = /(\n\n###\n\n|\s->\s*$|\n###\s*$|\sEND\s*$)/;

class Tally {
  count = 0;
  lines: number[] = [];
  add(line: number) {
    this.count++;
    if (this.lines.length < 5) this.lines.push(line);
  }
  where(): string {
    return `line${this.lines.length > 1 ? 's' : ''} ${this.lines.join(', ')}${this.count > this.lines.length ? ', …' : ''}`;
  }
}

export class DatasetWarnings {
  private readonly firstLineOfHash = new FirstLineByHash();
  private readonly duplicates: Warning[] = [];
  private duplicateCount = 0;
  private readonly perLine: Warning[] = [];
  private readonly noSystem = new Tally();
  private readonly noUser = new Tally();
  private readonly whitespace = new Tally();
  private readonly legacyMarkers = new Tally();
  private readonly longExamples = new Tally();
  private examples = 0;

  constructor(
    private readonly format: 'chat' | 'preference',
    private readonly labels: ClassCounter,
  ) {}

  /** Examples that repeat an earlier one exactly (the report's exactCopies). */
  get exactCopies(): number {
    return this.duplicateCount;
  }

  observe(line: number, hash: number, example: CheckedExample, rawText: string): void {
    this.examples++;
    const first = this.firstLineOfHash.firstOrRemember(hash, line);
    if (first !== undefined) {
      this.duplicateCount++;
      if (this.duplicates.length < 20) {
        this.duplicates.push({
          code: 'duplicate_example',
          line,
          message: `the same example as line ${first}`,
          fix: 'Remove the copy: duplicates weigh an example twice and inflate validation scores.',
        });
      }
    }

    if (this.format === 'chat') {
      if (!example.messages.some((m) => m.role === 'system')) this.noSystem.add(line);
      if (!example.messages.some((m) => m.role === 'user')) this.noUser.add(line);
    }
    for (const message of example.messages) {
      const text = textOf(message);
      if (message.role === 'assistant' && text !== text.trim() && typeof message.content === 'string')
        this.whitespace.add(line);
      if (LEGACY_SEPARATORS.test(text)) this.legacyMarkers.add(line);
    }

    const special = SPECIAL_TOKENS.exec(rawText);
    if (special) {
      this.perLine.push({
        code: 'special_token',
        line,
        message: `the example contains the special token ${special[0]}`,
        fix: 'Remove special tokens: they are reserved and either rejected or learned as plain text.',
      });
    }
  }

  /** An example longer than the model's context (known once its tokens are counted). */
  truncated(line: number): void {
    this.longExamples.add(line);
  }

  list(): { warnings: Warning[]; count: number } {
    const out: Warning[] = [...this.duplicates, ...this.perLine];
    let count = this.duplicateCount + this.perLine.length;
    // `message` is written for many examples ("have", "are", "carry"); one example gets the singular verb.
    const aggregate = (tally: Tally, code: WarningCode, message: string, fix: string) => {
      if (tally.count === 0) return;
      out.push({
        code,
        line: tally.lines[0]!,
        message: `${tally.count === 1 ? `1 example ${singularVerb(message)}` : `${tally.count} examples ${message}`} (${tally.where()})`,
        fix,
      });
      count++;
    };
    aggregate(
      this.noSystem,
      'missing_system_message',
      'have no system message',
      'Start each example with the same system message you will use in production.',
    );
    aggregate(
      this.noUser,
      'missing_user_message',
      'have no user message',
      'Include the user turn the assistant answers.',
    );
    aggregate(
      this.whitespace,
      'surrounding_whitespace',
      'have an assistant answer with leading or trailing whitespace',
      'Trim answers: the model learns to produce the spaces too.',
    );
    aggregate(
      this.legacyMarkers,
      'legacy_separator',
      'carry leftover separators or end tokens of the old prompt/completion format (###, ->, END)',
      'Remove them: chat models need no separators or stop sequences.',
    );
    aggregate(
      this.longExamples,
      'will_be_truncated',
      "are longer than the model's context and will be truncated from the end",
      'Shorten them so the whole answer is trained on.',
    );

    const counts = this.labels.classes();
    if (counts) {
      const small = counts.filter(([, n]) => n < MIN_EXAMPLES_PER_CLASS);
      const summary = counts.map(([label, n]) => `${label}: ${n}`).join(', ');
      if (small.length > 0) {
        out.push({
          code: 'few_examples_per_class',
          message: `this looks like classification into ${counts.length} classes (${summary}); ${small.length} class${small.length === 1 ? ' has' : 'es have'} fewer than ${MIN_EXAMPLES_PER_CLASS} examples`,
          fix: `Aim for at least ${MIN_EXAMPLES_PER_CLASS} examples per class, balanced across classes.`,
        });
        count++;
      }
    } else if (this.examples < MIN_GENERATION_EXAMPLES) {
      out.push({
        code: 'few_examples',
        message: `${this.examples} example${this.examples === 1 ? '' : 's'}; generation tasks usually need at least ${MIN_GENERATION_EXAMPLES} for clear gains`,
        fix: 'Add more varied examples; quality improves roughly linearly with each doubling.',
      });
      count++;
    }
    return { warnings: out, count };
  }
}

/** "have no …" → "has no …", "are longer" → "is longer", "carry" → "carries": the first word only. */
function singularVerb(phrase: string): string {
  const [verb = '', ...rest] = phrase.split(' ');
  const singular =
    verb === 'have'
      ? 'has'
      : verb === 'are'
        ? 'is'
        : verb.endsWith('y')
          ? `${verb.slice(0, -1)}ies`
          : `${verb}s`;
  return [singular, ...rest].join(' ');
}
