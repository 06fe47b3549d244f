import type { RunConfig } from './config.js';
import { MODEL_CATALOG, trainingCostUsd, type ModelInfo } from './catalog.js';
import { DatasetWarnings } from './dataset-warnings.js';
import { FILE_KIND_PROBLEMS, sniffFileKind, type FileKind } from './encoding.js';
import { resolveEpochs } from './epochs.js';
import {
  checkChatExample,
  checkPreferenceExample,
  checkPromptCompletion,
  detectFormat,
  FORMAT_NAMES,
  type CheckContext,
  type CheckResult,
  type DatasetFormat,
} from './formats.js';
import { ImageTally, type ImageSummary } from './images.js';
import { jsonErrorColumn } from './json-position.js';
import { NotUtf8Error, readJsonlLines } from './jsonl.js';
import {
  CommonSuffix,
  convertPromptCompletion,
  type ConversionChanges,
  type LegacyMarkers,
} from './legacy.js';
import { CLASS_LIMIT, ClassCounter } from './classes.js';
import { describeSecretKinds, findSecrets } from './secrets.js';
import {
  planStratified,
  splitHash,
  splitProblem,
  ValidationSelector,
  wantedValidationExamples,
  type SplitPlan,
} from './split.js';
import { inThreadCounter, type TokenCounter } from './token-counter.js';
import { planExampleTokens, totalsFromCounts, type ExampleTokens, type TokenPlan } from './tokens.js';

/** The provider refuses a training file with fewer examples. */
export const MIN_EXAMPLES = 10;
/** OpenAI's limit for one uploaded file. */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;
/**
 * The longest line read into memory. o200k_base's longest token is 128 bytes (every token of the
 * 199,998 measured on 2026-11-29), so an example that fits 65,536 tokens holds at most 8 MiB of text,
 * which JSON escaping can at most sextuple (`\u0001` for one byte): 48 MiB, plus room for keys and
 * spacing. A longer line could never fit and is refused by its size, unread (`line_too_long`).
 */
export const MAX_LINE_BYTES = 64 * 2 ** 20;
/**
 * Deeper JSON is refused (`too_deeply_nested`) before it is parsed: a real example nests a few levels
 * (tool schemas perhaps twenty), while thousands of levels overflow recursive JSON code — the provider's
 * Python `json` stops near 1,000 (its recursion limit), this validator's JSON.stringify near 6,000.
 */
export const MAX_JSON_DEPTH = 128;
/** Reports list this many problems of each severity; the counts stay exact. */
export const MAX_LISTED_ISSUES = 100;

export interface DatasetIssue {
  code: string;
  severity: 'error' | 'warning';
  /** The file it is in, when a run checks more than one (a supplied validation file). */
  file?: string;
  /** 1-based line in the user's file; absent for whole-file issues. */
  line?: number;
  message: string;
  fix: string;
}

export interface ValidationOptions {
  model: ModelInfo;
  seed: number;
  validationRatio: number;
  maxValidationExamples: number;
  nEpochs: number | 'auto';
  /** Convert a legacy prompt/completion file to chat (default), or refuse it (false). */
  convertLegacy?: boolean;
  /** The method the family's config sets, if it sets one; otherwise the file's format decides. */
  method?: TrainingMethod;
  /** The provider's limit for one uploaded file. @default MAX_FILE_BYTES (OpenAI's) */
  maxFileBytes?: number;
  /** Size of the file when known (S3 tells it before reading). */
  sizeBytes?: number;
  /**
   * Epoch milliseconds by which checking must stop (the Lambda's time, less what writing the report
   * needs): past it, validation ends with `ValidationOutOfTimeError` instead of being killed silently.
   */
  deadline?: number;
  /** Who counts tokens: in this thread by default; workerCounter(n) to use more cores. */
  counter?: TokenCounter;
  /**
   * Credentials in the data: an error (`secret_in_data`, the default), a warning (`possible_secret`),
   * or not looked for.
   */
  secretScan?: SecretScan;
}

export type SecretScan = 'error' | 'warning' | 'off';

/** The validator's options for a run's settings: one mapping, for the pipeline and the CLI alike. */
export function validationOptionsFor(config: RunConfig, model: ModelInfo): ValidationOptions {
  return {
    model,
    seed: config.seed,
    validationRatio: config.validationRatio,
    maxValidationExamples: config.maxValidationExamples,
    nEpochs: config.hyperparameters.nEpochs,
    convertLegacy: config.convertLegacyFormat,
    secretScan: config.secretScan,
    ...(config.method ? { method: config.method } : {}),
  };
}
export type TrainingMethod = ModelInfo['methods'][number];

export interface ValidationReport {
  verdict: 'valid' | 'invalid';
  format: DatasetFormat | 'unknown';
  /** How the provider will train on it: the configured method, or the one the format calls for. */
  method: TrainingMethod;
  /** Set when a legacy file was converted to chat: what was stripped, and how often. */
  conversion?: LegacyMarkers & ConversionChanges;
  lines: number;
  examples: number;
  /**
   * Examples that are exact copies of an earlier one (so `examples - exactCopies` are distinct). Exact
   * up to about 5.8 million distinct examples; past that, copies of the later ones are not counted.
   */
  exactCopies?: number;
  tokens: {
    total: number;
    min: number;
    max: number;
    mean: number;
    /** Examples per bin of at most `upTo` tokens (null: the open-ended last bin). */
    histogram: Array<{ upTo: number | null; examples: number }>;
    /** Set when examples have images: their tokens are in the totals, part of them an upper estimate. */
    images?: ImageSummary;
  };
  /** Examples per class (a null-prototype object: labels are user data). */
  classes?: Record<string, number>;
  split: SplitPlan & { trainingExamples: number; trainingTokens: number };
  estimate: {
    model: string;
    epochs: number;
    billedTokens: number;
    costUsd: number;
    /** True when images given as URLs were counted at their largest cost: the real cost is at most this. */
    upperEstimate?: boolean;
  };
  errorCount: number;
  warningCount: number;
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
}

/**
 * Reads a dataset and says whether the provider would accept it, with every problem located, advice as
 * warnings, and the training cost estimated from exact token counts of the training part after the
 * split. `open` is called once, or twice for a legacy file being converted (the first pass finds the
 * separator and end token the conversion strips).
 */
export async function validateDataset(
  open: () => AsyncIterable<Uint8Array>,
  options: ValidationOptions,
): Promise<ValidationReport> {
  let scanned = await scan(open(), options, undefined);
  if (scanned.format === 'prompt_completion') {
    if (options.convertLegacy === false) {
      scanned.issues.fileError(
        'legacy_format',
        'this file is in the legacy prompt/completion format, which OpenAI can no longer train (babbage-002 and davinci-002 were shut down on 2026-09-28), and "convertLegacyFormat" is false',
        'Remove "convertLegacyFormat": false from tunedrop.json (conversion to chat is the default), or write the file as chat.',
      );
    } else if (scanned.issues.errorCount === 0) {
      const markers: LegacyMarkers = {
        separator: scanned.prompts.marker(),
        endToken: scanned.completions.marker(),
      };
      scanned = await scan(open(), options, markers);
    }
  }
  return scanned.report(trainingMethod(scanned.format, options, scanned.issues));
}

/**
 * The method a file trains with. A preference file trains with DPO and a chat file with supervised
 * fine-tuning; a method set in the config must agree with the file (the provider refuses a job whose
 * file does not fit its method, after the upload), and the model must offer it (catalog.ts).
 */
function trainingMethod(
  format: DatasetFormat | undefined,
  options: ValidationOptions,
  issues: IssueList,
): TrainingMethod {
  const natural: TrainingMethod = format === 'preference' ? 'dpo' : 'supervised';
  const method = options.method ?? natural;
  if (format === 'preference' && method !== 'dpo') {
    issues.fileError(
      'method_format_mismatch',
      `the file holds preference pairs (DPO), but tunedrop.json sets "method": "${method}", which trains on chat examples`,
      'Remove "method" from tunedrop.json (preference files train with "dpo"), or write the file as chat examples.',
    );
  } else if (format === 'chat' && method === 'dpo') {
    issues.fileError(
      'method_format_mismatch',
      'tunedrop.json sets "method": "dpo", but the file holds chat examples; DPO trains on preference pairs',
      'Remove "method" from tunedrop.json to train on chat examples (supervised), or write each line as {"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}.',
    );
  } else if ((format === 'chat' || format === 'preference') && !options.model.methods.includes(method)) {
    const offering = MODEL_CATALOG.filter((m) => !m.retiredOn && m.methods.includes(method)).map((m) => m.id);
    issues.fileError(
      'method_not_supported',
      `${options.model.id} cannot be fine-tuned with "${method}"`,
      `Set "model" in tunedrop.json to one that offers it: ${offering.join(', ') || 'none does today'}.`,
    );
  }
  return method;
}

async function scan(
  source: AsyncIterable<Uint8Array>,
  options: ValidationOptions,
  convert: LegacyMarkers | undefined,
) {
  const issues = new IssueList();
  const selector = new ValidationSelector(options.maxValidationExamples);
  // Per-class selectors too, in case the dataset turns out to be classification (known only at the end).
  const labels = new ClassCounter();
  const classSelectors = new Map<string, ValidationSelector>();
  const histogram = new TokenHistogram();
  const images = new ImageTally();
  const prompts = new CommonSuffix();
  const completions = new CommonSuffix();
  const changes: ConversionChanges = { separatorStripped: 0, endTokenStripped: 0, leadingSpaceRemoved: 0 };
  let warnings: DatasetWarnings | undefined;
  const secretScan = options.secretScan ?? 'error';
  // Advice at one line (possible secrets, checks' warnings): the first few listed, all counted.
  const lineWarnings: DatasetIssue[] = [];
  let lineWarningCount = 0;
  const warnAt = (code: string, message: string, fix: string, line: number) => {
    lineWarningCount++;
    if (lineWarnings.length < 20) lineWarnings.push(issue(code, 'warning', message, fix, line));
  };
  const context: CheckContext = { model: options.model };
  let format: DatasetFormat | undefined = convert ? 'chat' : undefined;
  let mixedReported = false;
  let lineCount = 0;
  let examples = 0;
  let convertedBytes = 0;

  // Token counts arrive in batches (possibly from worker threads); each example is finished, in line
  // order, once its counts are known.
  const limit = options.model.maxExampleTokens;
  const tokens = new TokenBatches(options.counter ?? inThreadCounter(), (pending, counted) => {
    histogram.add(counted.total);
    images.add(counted.images);
    if (counted.beforeLastAnswer >= limit) {
      issues.lateError(
        'example_too_long',
        `the example has ${counted.beforeLastAnswer} tokens before its last answer; ${options.model.id} trains on at most ${limit}, so no answer would be seen`,
        'Shorten the conversation or split it into several examples.',
        pending.line,
      );
    }
    if (counted.total > limit) warnings?.truncated(pending.line);
    selector.add(pending.hash, counted.total);
    if (classSelectors.size <= CLASS_LIMIT || classSelectors.has(pending.label)) {
      let classSelector = classSelectors.get(pending.label);
      if (!classSelector) {
        classSelector = new ValidationSelector(options.maxValidationExamples);
        classSelectors.set(pending.label, classSelector);
      }
      classSelector.add(pending.hash, counted.total);
    }
  });

  const maxFileBytes = options.maxFileBytes ?? MAX_FILE_BYTES;
  const knownTooLarge = options.sizeBytes !== undefined && options.sizeBytes > maxFileBytes;
  if (options.sizeBytes !== undefined && knownTooLarge) {
    issues.fileError(
      'file_too_large',
      `the file is ${megabytes(options.sizeBytes)}; the provider takes at most ${megabytes(maxFileBytes)} per file`,
      'Split it, or drop the examples that add least.',
    );
  }

  const { kind, stream } = await sniff(source);
  if (kind !== 'text' && kind !== 'utf8_bom') {
    issues.fileError(`not_utf8_${kind}`, FILE_KIND_PROBLEMS[kind].message, FILE_KIND_PROBLEMS[kind].fix, 1);
  } else {
    if (kind === 'utf8_bom')
      issues.fileError('utf8_bom', FILE_KIND_PROBLEMS.utf8_bom.message, FILE_KIND_PROBLEMS.utf8_bom.fix, 1);
    try {
      const lines = readJsonlLines(stream, {
        maxLineBytes: MAX_LINE_BYTES,
        maxBytes: maxFileBytes,
        onLimit: (lineNumber) =>
          knownTooLarge ||
          issues.fileError(
            'file_too_large',
            `the file is larger than ${megabytes(maxFileBytes)}, the most the provider takes per file; reading stopped in line ${lineNumber}`,
            'Split it into smaller files, or drop the examples that add least.',
          ),
      });
      for await (const line of lines) {
        lineCount = line.lineNumber;
        if (options.deadline !== undefined && Date.now() > options.deadline)
          throw new ValidationOutOfTimeError(line.lineNumber);
        if (line.oversizeBytes !== undefined) {
          issues.error(
            'line_too_long',
            `the line is ${megabytes(line.oversizeBytes)}; no example that long fits ${options.model.id}'s ${options.model.maxExampleTokens} tokens, so it was not read`,
            'Shorten the example or split it into several, one per line.',
            line.lineNumber,
          );
          continue;
        }
        const text =
          line.lineNumber === 1 && kind === 'utf8_bom' ? line.text.replace(/^\uFEFF/, '') : line.text;
        if (text.trim() === '') continue;

        if (jsonDepthOver(text, MAX_JSON_DEPTH)) {
          issues.error(
            'too_deeply_nested',
            `the line nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`,
            'Flatten the data: an example needs a few levels (messages, content parts, tool schemas).',
            line.lineNumber,
          );
          continue;
        }
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          if (line.lineNumber === 1 && /^\s*[[{]\s*$/.test(text)) {
            const array = text.trim() === '[';
            issues.error(
              array ? 'json_array' : 'pretty_printed',
              array
                ? 'the file is one JSON array spread over many lines, not JSON Lines'
                : 'the file holds pretty-printed JSON objects spread over many lines, not one object per line',
              'Write one example per line, each a complete JSON object (for example: jq -c ".[]" in.json > out.jsonl).',
              1,
            );
            break;
          }
          issues.error(
            'invalid_json',
            `not valid JSON at column ${jsonErrorColumn(text)}: ${plainJsonError(error as Error)}`,
            'Each line must be one complete JSON object; check quotes, commas and brackets on this line.',
            line.lineNumber,
          );
          continue;
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          if (line.lineNumber === 1 && Array.isArray(value)) {
            issues.error(
              'json_array',
              'the file is a JSON array on one line, not JSON Lines',
              'Write one example per line, each a complete JSON object (for example: jq -c ".[]" in.json > out.jsonl).',
              1,
            );
            break;
          }
          issues.error(
            'not_an_object',
            `the line is a JSON ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value}, not an object`,
            'Write one example per line as an object: {"messages": [...]}.',
            line.lineNumber,
          );
          continue;
        }
        const object = value as Record<string, unknown>;
        if (secretScan !== 'off') {
          const secret = findSecrets(object, text);
          if (secret) {
            // Names the kind and the place, never the text: the report is read by more people than the data.
            const message = `the example contains what looks like ${describeSecretKinds(secret.kinds)} (in ${secret.path}); it is not repeated here`;
            if (secretScan === 'error') {
              issues.error(
                'secret_in_data',
                message,
                'Remove the credential from the example and revoke it: a fine-tuned model can repeat what it was trained on. If it is a deliberate fake, set "secretScan": "warning" in tunedrop.json.',
                line.lineNumber,
              );
            } else {
              warnAt(
                'possible_secret',
                message,
                'Remove credentials from training data: a fine-tuned model can repeat them.',
                line.lineNumber,
              );
            }
          }
        }
        const lineFormat = detectFormat(object);
        if (!lineFormat) {
          const keys = Object.keys(object);
          issues.error(
            'unknown_format',
            `the object's keys (${keys.length ? keys.join(', ') : 'none'}) match no fine-tuning format`,
            'Use the chat format: {"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}.',
            line.lineNumber,
          );
          continue;
        }
        format ??= lineFormat;
        if (lineFormat !== format && !(convert && lineFormat === 'prompt_completion')) {
          if (!mixedReported) {
            issues.error(
              'mixed_formats',
              `this line is ${FORMAT_NAMES[lineFormat]}, but the file began as ${FORMAT_NAMES[format]}`,
              'Use one format for the whole file.',
              line.lineNumber,
            );
            mixedReported = true;
          } else issues.countOnly();
          continue;
        }

        let checked: CheckResult;
        let canonical: string;
        if (format === 'prompt_completion') {
          const legacy = checkPromptCompletion(object);
          for (const problem of legacy.problems)
            issues.error(problem.code, problem.message, problem.fix, line.lineNumber);
          if (legacy.prompt !== undefined && legacy.completion !== undefined) {
            prompts.add(legacy.prompt);
            completions.add(legacy.completion);
            examples++;
          }
          continue;
        } else if (convert) {
          const legacy = checkPromptCompletion(object);
          const converted = convertPromptCompletion(
            legacy.prompt ?? '',
            legacy.completion ?? '',
            convert,
            changes,
          );
          checked = checkChatExample(converted, context);
          canonical = JSON.stringify(converted);
          // Prepare uploads these lines, not the user's: the provider's file limit applies to them.
          convertedBytes += Buffer.byteLength(canonical) + 1;
        } else {
          checked =
            format === 'chat' ? checkChatExample(object, context) : checkPreferenceExample(object, context);
          canonical = JSON.stringify(object);
        }
        for (const problem of checked.problems)
          issues.error(problem.code, problem.message, problem.fix, line.lineNumber);
        for (const warning of checked.warnings)
          warnAt(warning.code, warning.message, warning.fix, line.lineNumber);
        const example = checked.example;
        if (!example) continue;

        examples++;
        const hash = splitHash(options.seed, canonical);
        const label = labels.add(example) ?? '';
        warnings ??= new DatasetWarnings(format === 'preference' ? 'preference' : 'chat', labels);
        warnings.observe(line.lineNumber, hash, example, text);
        await tokens.add({
          line: line.lineNumber,
          hash,
          label,
          plan: planExampleTokens(example.messages, example.tools),
        });
      }
    } catch (error) {
      if (!(error instanceof NotUtf8Error)) throw error;
      issues.error(
        'not_utf8',
        `line ${error.lineNumber} is not UTF-8 text`,
        'Save the file as UTF-8 (without BOM) and upload it again.',
        error.lineNumber,
      );
    }
  }

  await tokens.finish();
  issues.mergeLateErrors();

  const finish = (method: TrainingMethod): ValidationReport => {
    if (convert && convertedBytes > maxFileBytes) {
      issues.fileError(
        'file_too_large',
        `converted to chat, the file would be ${megabytes(convertedBytes)}; the provider takes at most ${megabytes(maxFileBytes)} per file`,
        'Split it into smaller files, or drop the examples that add least.',
      );
    }
    if (convert) {
      issues.warning(
        'legacy_converted',
        `the file was in the legacy prompt/completion format and is trained as chat: each prompt became a user message and each completion an assistant message; ${describeConversion(convert, changes)}`,
        'Nothing to do for this run. To train as you will use the model, write new data as chat examples with a system message; set "convertLegacyFormat": false to refuse such files instead.',
      );
    }
    if (examples < MIN_EXAMPLES && lineCount > 0 && issues.errorCount === 0) {
      issues.error(
        'too_few_examples',
        `the file has ${examples} example${examples === 1 ? '' : 's'}; fine-tuning needs at least ${MIN_EXAMPLES}`,
        `Add examples until there are at least ${MIN_EXAMPLES} (50 to 100 usually give clear gains).`,
      );
    }
    const imageError = images.fileError();
    if (imageError) issues.fileError(imageError.code, imageError.message, imageError.fix);
    const imageEstimate = images.estimateWarning();
    if (imageEstimate) issues.warning(imageEstimate.code, imageEstimate.message, imageEstimate.fix);
    if (lineCount === 0 && issues.errorCount === 0) {
      issues.error(
        'empty_file',
        'the file is empty',
        'Upload a file with at least 10 examples, one JSON object per line.',
      );
    }
    const listed = warnings?.list();
    for (const warning of listed?.warnings ?? [])
      issues.warning(warning.code, warning.message, warning.fix, warning.line);
    for (const warning of lineWarnings)
      issues.warning(warning.code, warning.message, warning.fix, warning.line);
    // Some warnings are counted but not listed (duplicates past the first few, advice past 20 lines).
    issues.countUnlisted(
      (listed?.count ?? 0) - (listed?.warnings.length ?? 0) + lineWarningCount - lineWarnings.length,
    );

    const trainable = format === 'chat' || format === 'preference';
    const wanted = trainable
      ? wantedValidationExamples(examples, options.validationRatio, options.maxValidationExamples)
      : 0;
    const classes = labels.classes();
    // Classification keeps its class mix in validation (stratified); anything else splits globally.
    const plan = classes && wanted > 0 ? planStratified(classSelectors, wanted) : selector.plan(wanted);
    const trainingExamples = examples - plan.validationExamples;
    const trainingTokens = histogram.total - plan.validationTokens;
    const problem =
      trainable && issues.errorCount === 0 ? splitProblem(trainingExamples, plan.validationExamples) : null;
    if (problem) issues.error(problem.code, problem.message, problem.fix);
    const epochs = resolveEpochs(options.nEpochs, trainingExamples);
    const billedTokens = trainingTokens * epochs;
    return {
      verdict: issues.errorCount === 0 ? 'valid' : 'invalid',
      format: format ?? 'unknown',
      method,
      ...(convert ? { conversion: { ...convert, ...changes } } : {}),
      lines: lineCount,
      examples,
      // DatasetWarnings finds the copies (its hash table is the one pass's memory for them).
      exactCopies: warnings?.exactCopies ?? 0,
      tokens: { ...histogram.summary(examples), ...(images.report() ? { images: images.report() } : {}) },
      ...(classes ? { classes: nullPrototypeRecord(classes) } : {}),
      split: { ...plan, trainingExamples, trainingTokens },
      estimate: {
        model: options.model.id,
        epochs,
        billedTokens,
        costUsd: trainingCostUsd(options.model, billedTokens),
        ...(images.estimateWarning() ? { upperEstimate: true } : {}),
      },
      errorCount: issues.errorCount,
      warningCount: issues.warningCount,
      errors: issues.errors,
      warnings: issues.warnings,
    };
  };
  return { format, prompts, completions, issues, report: finish };
}

const megabytes = (bytes: number) =>
  `${bytes >= 2 ** 20 ? (bytes / 2 ** 20).toFixed(0) : (bytes / 2 ** 20).toFixed(2)} MB`;

function describeConversion(markers: LegacyMarkers, changes: ConversionChanges): string {
  const times = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const parts = [
    markers.separator
      ? `separator ${JSON.stringify(markers.separator)} stripped from ${times(changes.separatorStripped, 'prompt')}`
      : 'no common separator found',
    markers.endToken
      ? `end token ${JSON.stringify(markers.endToken)} stripped from ${times(changes.endTokenStripped, 'completion')}`
      : 'no common end token found',
    `leading space removed from ${times(changes.leadingSpaceRemoved, 'completion')}`,
  ];
  return `${parts.join(', ')}.`;
}

/** A record keyed by user data (labels): no inherited keys, and `__proto__` is a key like any other. */
export function nullPrototypeRecord<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const record = Object.create(null) as Record<string, T>;
  for (const [key, value] of entries) record[key] = value;
  return record;
}

/** Checking stopped at its deadline: the file was too slow to check in the time the function has. */
export class ValidationOutOfTimeError extends Error {
  constructor(readonly lineNumber: number) {
    super(`validation ran out of time at line ${lineNumber}`);
    this.name = 'ValidationOutOfTimeError';
  }
}

/**
 * Whether JSON text nests deeper than `limit`, without parsing it. Brackets are counted first (fast,
 * native): a line with fewer opening brackets than the limit cannot be deeper.
 */
export function jsonDepthOver(text: string, limit: number): boolean {
  let opening = 0;
  for (let i = text.indexOf('{'); i !== -1 && opening <= limit; i = text.indexOf('{', i + 1)) opening++;
  for (let i = text.indexOf('['); i !== -1 && opening <= limit; i = text.indexOf('[', i + 1)) opening++;
  if (opening <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Looks at the first bytes without losing them. */
async function sniff(
  source: AsyncIterable<Uint8Array>,
): Promise<{ kind: FileKind; stream: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let size = 0;
  let done = false;
  while (size < 4096 && !done) {
    const next = await iterator.next();
    if (next.done) done = true;
    else {
      head.push(next.value);
      size += next.value.length;
    }
  }
  const joined = Buffer.concat(head);
  async function* stream() {
    if (joined.length) yield new Uint8Array(joined);
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { kind: sniffFileKind(joined), stream: stream() };
}

class TokenHistogram {
  static readonly BOUNDS = [
    64,
    128,
    256,
    512,
    1024,
    2048,
    4096,
    8192,
    16384,
    32768,
    65536,
    Number.POSITIVE_INFINITY,
  ];
  private readonly counts = TokenHistogram.BOUNDS.map(() => 0);
  total = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = 0;

  add(tokens: number) {
    this.total += tokens;
    this.min = Math.min(this.min, tokens);
    this.max = Math.max(this.max, tokens);
    this.counts[TokenHistogram.BOUNDS.findIndex((bound) => tokens <= bound)]!++;
  }

  summary(examples: number): ValidationReport['tokens'] {
    return {
      total: this.total,
      min: examples && Number.isFinite(this.min) ? this.min : 0,
      max: this.max,
      mean: examples ? Math.round(this.total / examples) : 0,
      histogram: TokenHistogram.BOUNDS.map((upTo, i) => ({
        upTo: Number.isFinite(upTo) ? upTo : null,
        examples: this.counts[i]!,
      })).filter((bin) => bin.examples > 0),
    };
  }
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

  /** A whole-file problem goes first: it explains the rest. */
  fileError(code: string, message: string, fix: string, line?: number): void {
    this.errorCount += 1;
    this.errors.unshift(issue(code, 'error', message, fix, line));
    if (this.errors.length > MAX_LISTED_ISSUES) this.errors.pop();
  }

  /** Errors found after later lines were read (token limits): merged back into line order at the end. */
  private readonly late: DatasetIssue[] = [];
  lateError(code: string, message: string, fix: string, line: number): void {
    this.errorCount += 1;
    if (this.late.length < MAX_LISTED_ISSUES) this.late.push(issue(code, 'error', message, fix, line));
  }

  mergeLateErrors(): void {
    if (this.late.length === 0) return;
    const merged = [...this.errors, ...this.late].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    this.errors.splice(0, this.errors.length, ...merged.slice(0, MAX_LISTED_ISSUES));
    this.late.length = 0;
  }

  countOnly(): void {
    this.errorCount += 1;
  }

  countUnlisted(warnings: number): void {
    this.warningCount += warnings;
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

/** V8's JSON.parse message without its own positions (which count within the line, not the file). */
function plainJsonError(error: Error): string {
  return error.message
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/,? "[\s\S]*" is not valid JSON$/, '')
    .trim();
}

interface PendingExample {
  line: number;
  hash: number;
  label: string;
  plan: TokenPlan;
}

/**
 * Groups examples into batches for the token counter and finishes them in order as counts come back,
 * keeping a bounded number of batches in flight (memory stays flat whatever the file size).
 */
class TokenBatches {
  private static readonly MAX_TEXTS = 2048;
  private batch: PendingExample[] = [];
  private texts = 0;
  private readonly inFlight: Array<Promise<void>> = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly counter: TokenCounter,
    private readonly finishExample: (pending: PendingExample, tokens: ExampleTokens) => void,
  ) {}

  async add(pending: PendingExample): Promise<void> {
    this.batch.push(pending);
    this.texts += pending.plan.texts.length;
    if (this.texts >= TokenBatches.MAX_TEXTS) await this.flush();
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.chain;
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const items = this.batch;
    this.batch = [];
    this.texts = 0;
    const counted = this.counter.count(items.flatMap((item) => item.plan.texts));
    this.chain = this.chain.then(async () => {
      const counts = await counted;
      let offset = 0;
      for (const item of items) {
        this.finishExample(
          item,
          totalsFromCounts(item.plan, counts.slice(offset, offset + item.plan.texts.length)),
        );
        offset += item.plan.texts.length;
      }
    });
    this.inFlight.push(this.chain);
    // Room for the main thread to read ahead while the workers start up; bounded, so memory stays flat.
    if (this.inFlight.length > 8 + 2 * this.counter.parallelism) await this.inFlight.shift();
  }
}
