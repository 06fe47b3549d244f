import { CLASS_LIMIT, ClassCounter } from './classes.js';
import { ExampleChecker } from './check-example.js';
import { classifyLine } from './classify-line.js';
import { datasetLines, MAX_FILE_BYTES } from './dataset-lines.js';
import { DatasetWarnings } from './dataset-warnings.js';
import { ImageTally } from './images.js';
import { IssueList } from './issue-list.js';
import { ISSUE_CODES, type WarningCode } from './issue-codes.js';
import type { LegacyMarkers } from './legacy.js';
import { splitHash, ValidationSelector } from './split.js';
import { TokenBatches, TokenHistogram } from './token-batches.js';
import { inThreadCounter } from './token-counter.js';
import { planExampleTokens } from './tokens.js';
import type { ValidationOptions } from './dataset.js';

/** Advice given at single lines (possible secrets, checks' warnings): this many listed, all counted. */
const LISTED_LINE_WARNINGS = 20;

/** Advice at one line, listed in the report as a warning. */
export interface LineWarning {
  code: WarningCode;
  message: string;
  fix: string;
  line: number;
}

/** Everything one pass over a file learned, for the report (dataset-report.ts). */
export interface DatasetScan {
  issues: IssueList;
  checker: ExampleChecker;
  convert: LegacyMarkers | undefined;
  lineCount: number;
  examples: number;
  histogram: TokenHistogram;
  images: ImageTally;
  labels: ClassCounter;
  /** The split's candidates: one selector for the whole file, one per class if it is classification. */
  selector: ValidationSelector;
  classSelectors: Map<string, ValidationSelector>;
  warnings: DatasetWarnings | undefined;
  lineWarnings: LineWarning[];
  lineWarningCount: number;
  /** No line of the file has anything on it. */
  empty: boolean;
}

/**
 * One pass over a file: read its lines (dataset-lines.ts), classify each (classify-line.ts), check each
 * example (check-example.ts), and count its tokens in batches, keeping only what the report and the
 * split need. `convert` is set on the second pass over a legacy file, which converts it to chat.
 */
export async function scanDataset(
  source: AsyncIterable<Uint8Array>,
  options: ValidationOptions,
  convert: LegacyMarkers | undefined,
): Promise<DatasetScan> {
  const issues = new IssueList();
  const scan: DatasetScan = {
    issues,
    checker: undefined as unknown as ExampleChecker,
    convert,
    lineCount: 0,
    examples: 0,
    histogram: new TokenHistogram(),
    images: new ImageTally(),
    labels: new ClassCounter(),
    selector: new ValidationSelector(options.maxValidationExamples),
    classSelectors: new Map(),
    warnings: undefined,
    lineWarnings: [],
    lineWarningCount: 0,
    empty: false,
  };
  const warnAt = (code: WarningCode, message: string, fix: string, line: number) => {
    scan.lineWarningCount++;
    if (scan.lineWarnings.length < LISTED_LINE_WARNINGS) scan.lineWarnings.push({ code, message, fix, line });
  };
  const checker = new ExampleChecker(options.model, issues, warnAt, options.secretScan, convert);
  scan.checker = checker;

  // Token counts arrive in batches (possibly from worker threads); each example is finished, in line
  // order, once its counts are known.
  const limit = options.model.maxExampleTokens;
  const tokens = new TokenBatches(
    options.counter ?? inThreadCounter(),
    (pending, counted) => {
      scan.histogram.add(counted.total);
      scan.images.add(counted.images);
      if (counted.beforeLastAnswer >= limit) {
        // Past the model's limit a count may be a lower bound (token-counter.ts countOrBound).
        const tokensBefore =
          counted.beforeLastAnswer > limit
            ? `at least ${counted.beforeLastAnswer}`
            : `${counted.beforeLastAnswer}`;
        issues.lateError(
          'example_too_long',
          `the example has ${tokensBefore} tokens before its last answer; ${options.model.id} trains on at most ${limit}, so no answer would be seen`,
          'Shorten the conversation or split it into several examples.',
          pending.line,
        );
        // The same cause is not also a warning (will_be_truncated) at this line.
      } else if (counted.total > limit) scan.warnings?.truncated(pending.line);
      scan.selector.add(pending.hash, counted.total);
      // Per-class selectors too, in case the dataset turns out to be classification (known only at the end).
      if (scan.classSelectors.size <= CLASS_LIMIT || scan.classSelectors.has(pending.label)) {
        let classSelector = scan.classSelectors.get(pending.label);
        if (!classSelector) {
          classSelector = new ValidationSelector(options.maxValidationExamples);
          scan.classSelectors.set(pending.label, classSelector);
        }
        classSelector.add(pending.hash, counted.total);
      }
    },
    limit,
  );

  const lines = datasetLines(
    source,
    {
      maxFileBytes: options.maxFileBytes ?? MAX_FILE_BYTES,
      sizeBytes: options.sizeBytes,
      deadline: options.deadline,
      modelId: options.model.id,
      maxExampleTokens: limit,
    },
    issues,
    (lineNumber) => (scan.lineCount = lineNumber),
    () => (scan.empty = true),
  );
  for await (const { lineNumber, text } of lines) {
    const line = classifyLine(text, lineNumber, issues);
    if (line.kind === 'not_jsonl') break;
    if (line.kind === 'problem') continue;
    if (line.duplicateKey !== undefined)
      warnAt(
        'duplicate_key',
        `the key ${JSON.stringify(line.duplicateKey)} appears twice in one object; only its last value is read (as the provider reads it), the first is lost`,
        ISSUE_CODES.duplicate_key.fix,
        lineNumber,
      );
    const accepted = checker.check(line.object, line.format, text, lineNumber);
    if (!accepted) continue;
    scan.examples++;
    const hash = splitHash(options.seed, accepted.canonical);
    const label = scan.labels.add(accepted.example) ?? '';
    scan.warnings ??= new DatasetWarnings(
      checker.format === 'preference' ? 'preference' : 'chat',
      scan.labels,
    );
    scan.warnings.observe(lineNumber, hash, accepted.example, text);
    await tokens.add({
      line: lineNumber,
      hash,
      label,
      plan: planExampleTokens(accepted.example.messages, accepted.example.tools),
    });
  }
  await tokens.finish();
  issues.mergeLateErrors();
  if (checker.format === 'prompt_completion') scan.examples = checker.legacyExamples;
  return scan;
}
