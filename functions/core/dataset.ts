import { z } from 'zod';
import { trainingCostUsd, type ModelInfo } from './catalog.js';
import { resolveEpochs } from './epochs.js';
import { jsonErrorColumn } from './json-position.js';
import { NotUtf8Error, type JsonlLine } from './jsonl.js';
import { splitHash, ValidationSelector, wantedValidationExamples, type SplitPlan } from './split.js';
import { countMessagesTokens } from './tokens.js';

/** The provider refuses a training file with fewer examples. */
export const MIN_EXAMPLES = 10;
/** Reports list this many problems of each severity; the counts stay exact. */
export const MAX_LISTED_ISSUES = 100;

export interface DatasetIssue {
  code: string;
  severity: 'error' | 'warning';
  /** 1-based line in the user's file; absent for whole-file issues. */
  line?: number;
  message: string;
  fix: string;
}

const ContentPartSchema = z.looseObject({ type: z.string() });
const MessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(ContentPartSchema), z.null()]).optional(),
  name: z.string().optional(),
  weight: z.union([z.literal(0), z.literal(1)]).optional(),
  tool_calls: z.array(z.unknown()).optional(),
  function_call: z.unknown().optional(),
  tool_call_id: z.string().optional(),
});
const ChatExampleSchema = z.looseObject({
  messages: z.array(MessageSchema).min(1),
  tools: z.array(z.unknown()).optional(),
  functions: z.array(z.unknown()).optional(),
  parallel_tool_calls: z.boolean().optional(),
});
export type ChatExample = z.infer<typeof ChatExampleSchema>;

export interface ValidationOptions {
  model: ModelInfo;
  seed: number;
  validationRatio: number;
  maxValidationExamples: number;
  nEpochs: number | 'auto';
}

export interface ValidationReport {
  verdict: 'valid' | 'invalid';
  format: 'chat';
  lines: number;
  examples: number;
  tokens: { total: number; min: number; max: number; mean: number };
  split: SplitPlan & { trainingExamples: number; trainingTokens: number };
  estimate: { model: string; epochs: number; billedTokens: number; costUsd: number };
  errorCount: number;
  warningCount: number;
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
}

/**
 * Reads a dataset once and says whether the provider would accept it, with every problem located and
 * the training cost estimated from exact token counts of the training part after the split.
 */
export async function validateDataset(
  lines: AsyncIterable<JsonlLine>,
  options: ValidationOptions,
): Promise<ValidationReport> {
  const issues = new IssueList();
  const selector = new ValidationSelector(options.maxValidationExamples);
  let lineCount = 0;
  let examples = 0;
  const tokens = { total: 0, min: Number.POSITIVE_INFINITY, max: 0 };

  try {
    for await (const line of lines) {
      lineCount = line.lineNumber;
      if (line.text.trim() === '') continue;
      const parsed = parseExample(line, issues);
      if (!parsed) continue;
      const { example, canonical } = parsed;
      examples += 1;
      const count = countMessagesTokens(example.messages, example.tools ?? example.functions);
      tokens.total += count;
      tokens.min = Math.min(tokens.min, count);
      tokens.max = Math.max(tokens.max, count);
      if (count > options.model.maxExampleTokens) {
        issues.error(
          'example_too_long',
          `example has ${count} tokens; ${options.model.id} trains on at most ${options.model.maxExampleTokens}`,
          'Shorten the conversation or split it into several examples.',
          line.lineNumber,
        );
      }
      selector.add(splitHash(options.seed, canonical), count);
    }
  } catch (error) {
    if (!(error instanceof NotUtf8Error)) throw error;
    issues.error(
      'not_utf8',
      `the file is not UTF-8 text (first bad bytes on line ${error.lineNumber})`,
      'Save the file as UTF-8 (without BOM) and upload it again.',
      error.lineNumber,
    );
  }

  if (examples < MIN_EXAMPLES && issues.errorCount === 0) {
    issues.error(
      'too_few_examples',
      `the file has ${examples} valid example${examples === 1 ? '' : 's'}; fine-tuning needs at least ${MIN_EXAMPLES}`,
      `Add examples until there are at least ${MIN_EXAMPLES} (50 to 100 usually give clear gains).`,
    );
  }

  const plan = selector.plan(
    wantedValidationExamples(examples, options.validationRatio, options.maxValidationExamples),
  );
  const trainingExamples = examples - plan.validationExamples;
  const trainingTokens = tokens.total - plan.validationTokens;
  const epochs = resolveEpochs(options.nEpochs, trainingExamples);
  const billedTokens = trainingTokens * epochs;
  return {
    verdict: issues.errorCount === 0 ? 'valid' : 'invalid',
    format: 'chat',
    lines: lineCount,
    examples,
    tokens: {
      total: tokens.total,
      min: examples ? tokens.min : 0,
      max: tokens.max,
      mean: examples ? Math.round(tokens.total / examples) : 0,
    },
    split: { ...plan, trainingExamples, trainingTokens },
    estimate: {
      model: options.model.id,
      epochs,
      billedTokens,
      costUsd: trainingCostUsd(options.model, billedTokens),
    },
    errorCount: issues.errorCount,
    warningCount: issues.warningCount,
    errors: issues.errors,
    warnings: issues.warnings,
  };
}

/** Parses one line; `canonical` is the JSON text the split hashes (the same in Prepare). */
function parseExample(
  line: JsonlLine,
  issues: IssueList,
): { example: ChatExample; canonical: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch (error) {
    const column = jsonErrorColumn(line.text);
    issues.error(
      'invalid_json',
      `not valid JSON at column ${column}: ${(error as Error).message}`,
      'Each line must be one complete JSON object; check quotes, commas and brackets on this line.',
      line.lineNumber,
    );
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.error(
      'not_an_object',
      `the line is a JSON ${Array.isArray(value) ? 'array' : typeof value}, not an object`,
      'Write one example per line as an object: {"messages": [...]}.',
      line.lineNumber,
    );
    return undefined;
  }
  const parsed = ChatExampleSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the example';
    issues.error(
      'invalid_example',
      `${where}: ${issue.message}`,
      'Each example needs "messages": a list of {"role": "system"|"user"|"assistant", "content": "..."}.',
      line.lineNumber,
    );
    return undefined;
  }
  if (!parsed.data.messages.some((message) => message.role === 'assistant')) {
    issues.error(
      'no_assistant_message',
      'the example has no assistant message, so there is nothing to learn from',
      'Add the answer the model should give as a message with "role": "assistant".',
      line.lineNumber,
    );
    return undefined;
  }
  return { example: parsed.data, canonical: JSON.stringify(value) };
}

class IssueList {
  readonly errors: DatasetIssue[] = [];
  readonly warnings: DatasetIssue[] = [];
  errorCount = 0;
  warningCount = 0;

  error(code: string, message: string, fix: string, line?: number): void {
    this.errorCount += 1;
    if (this.errors.length < MAX_LISTED_ISSUES) this.errors.push(issue(code, 'error', message, fix, line));
  }

  warning(code: string, message: string, fix: string, line?: number): void {
    this.warningCount += 1;
    if (this.warnings.length < MAX_LISTED_ISSUES)
      this.warnings.push(issue(code, 'warning', message, fix, line));
  }
}

function issue(
  code: string,
  severity: DatasetIssue['severity'],
  message: string,
  fix: string,
  line?: number,
): DatasetIssue {
  return line === undefined ? { code, severity, message, fix } : { code, severity, line, message, fix };
}
