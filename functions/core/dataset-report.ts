import { count } from './report.js';
import { PROVIDER_TITLES, trainingCostUsd } from './catalog.js';
import { tooManyExamples } from './bedrock-rules.js';
import { megabytes } from './dataset-lines.js';
import type { DatasetScan } from './dataset-scan.js';
import {
  MAX_FILE_BYTES,
  MIN_EXAMPLES,
  type TrainingMethod,
  type ValidationOptions,
  type ValidationReport,
} from './dataset.js';
import { resolveEpochs } from './epochs.js';
import type { ConversionChanges, LegacyMarkers } from './legacy.js';
import { planStratified, splitProblem, wantedValidationExamples } from './split.js';

/**
 * Step 4, building the report: the whole-file problems only known at the end (too few examples, the
 * converted size, images per file), the advice, the split plan, and the cost of training on the
 * training part.
 */
export function buildReport(
  scan: DatasetScan,
  options: ValidationOptions,
  method: TrainingMethod,
): ValidationReport {
  const { issues, checker, convert, images } = scan;
  const maxFileBytes = options.maxFileBytes ?? MAX_FILE_BYTES;
  if (convert && checker.convertedBytes > maxFileBytes) {
    issues.fileError(
      'file_too_large',
      `converted to chat, the file would be ${megabytes(checker.convertedBytes)}; the provider takes at most ${megabytes(maxFileBytes)} per file`,
    );
  }
  if (convert) {
    issues.warning(
      'legacy_converted',
      `the file was in the legacy prompt/completion format and is trained as chat: each prompt became a user message and each completion an assistant message; ${describeConversion(convert, checker.changes)}`,
      'Nothing to do for this run. To train as you will use the model, write new data as chat examples with a system message; set "convertLegacyFormat": false to refuse such files instead.',
    );
  }
  const { model } = options;
  const isValidationFile = options.part === 'validation';
  if (isValidationFile && model.takesValidationFile === false) {
    issues.fileError(
      'validation_file_not_supported',
      `this is a validation file, and ${PROVIDER_TITLES[model.provider]} trains ${model.id} without validation data`,
      'Delete the validation file (or rename it so that it does not end in .validation.jsonl), or set "model" in tunedrop.json to one that takes a validation file.',
    );
  }
  // The model's record limits (catalog) count training plus validation records: the whole training
  // file before its split; a supplied validation file is added by the caller (suppliedValidationIssues).
  const minimum = isValidationFile ? MIN_EXAMPLES : (model.minExamples ?? MIN_EXAMPLES);
  if (scan.examples < minimum && !scan.empty && issues.errorCount === 0) {
    issues.error(
      'too_few_examples',
      `the file has ${count(scan.examples, 'example')}; fine-tuning ${model.minExamples !== undefined && !isValidationFile ? `${model.id} on ${PROVIDER_TITLES[model.provider]} ` : ''}needs at least ${minimum}`,
      `Add examples until there are at least ${minimum} (50 to 100 usually give clear gains).`,
    );
  }
  if (!isValidationFile && model.maxExamples !== undefined && scan.examples > model.maxExamples) {
    const tooMany = tooManyExamples(model, scan.examples);
    issues.fileError('too_many_examples', tooMany.message, tooMany.fix);
  }
  const imageError = images.fileError();
  if (imageError) issues.fileError(imageError.code, imageError.message, imageError.fix);
  const imageEstimate = images.estimateWarning();
  if (imageEstimate) issues.warning(imageEstimate.code, imageEstimate.message, imageEstimate.fix);
  if (scan.empty && issues.errorCount === 0) {
    issues.error(
      'empty_file',
      scan.lineCount ? 'the file has only blank lines' : 'the file is empty',
      'Upload a file with at least 10 examples, one JSON object per line.',
    );
  }
  const listed = scan.warnings?.list();
  for (const warning of listed?.warnings ?? [])
    issues.warning(warning.code, warning.message, warning.fix, warning.line);
  for (const warning of scan.lineWarnings)
    issues.warning(warning.code, warning.message, warning.fix, warning.line);
  // Some warnings are counted but not listed (copies past the first few, advice past 20 lines).
  issues.countUnlisted(
    (listed?.count ?? 0) - (listed?.warnings.length ?? 0) + scan.lineWarningCount - scan.lineWarnings.length,
  );

  const format = checker.format;
  const trainable = format === 'chat' || format === 'preference';
  // A model that trains without validation data (Nova 2 Lite) gets none split off: all of it trains.
  const wanted =
    trainable && model.takesValidationFile !== false
      ? wantedValidationExamples(scan.examples, options.validationRatio, options.maxValidationExamples)
      : 0;
  const classes = scan.labels.classes();
  // Classification keeps its class mix in validation (stratified); anything else splits globally.
  const plan =
    classes && wanted > 0 ? planStratified(scan.classSelectors, wanted) : scan.selector.plan(wanted);
  const trainingExamples = scan.examples - plan.validationExamples;
  const trainingTokens = scan.histogram.total - plan.validationTokens;
  const problem =
    trainable && issues.errorCount === 0 ? splitProblem(trainingExamples, plan.validationExamples) : null;
  if (problem) issues.error(problem.code, problem.message, problem.fix);
  // Bedrock takes no "auto": its own default applies (catalog); OpenAI and Azure resolve "auto" by size.
  const bedrockEpochs = options.model.hyperparameters?.epochs.default;
  const epochs =
    options.nEpochs === 'auto' && bedrockEpochs !== undefined
      ? bedrockEpochs
      : resolveEpochs(options.nEpochs, trainingExamples);
  const billedTokens = trainingTokens * epochs;
  const imageSummary = images.report();
  return {
    verdict: issues.errorCount === 0 ? 'valid' : 'invalid',
    format: format ?? 'unknown',
    method,
    ...(convert ? { conversion: { ...convert, ...checker.changes } } : {}),
    ...(options.model.dataFormat && options.model.dataFormat !== 'openai-chat'
      ? { providerFormat: options.model.dataFormat }
      : {}),
    lines: scan.lineCount,
    examples: scan.examples,
    // DatasetWarnings finds the copies (its hash table is the one pass's memory for them).
    exactCopies: scan.warnings?.exactCopies ?? 0,
    tokens: { ...scan.histogram.summary(scan.examples), ...(imageSummary ? { images: imageSummary } : {}) },
    ...(classes ? { classes: nullPrototypeRecord(classes) } : {}),
    split: { ...plan, trainingExamples, trainingTokens },
    estimate: {
      model: options.model.id,
      epochs,
      billedTokens,
      costUsd: trainingCostUsd(options.model, billedTokens),
      ...(imageEstimate ? { upperEstimate: true } : {}),
      ...(options.model.upkeep
        ? {
            upkeep: {
              usd: options.model.upkeep.usd,
              per: options.model.upkeep.per,
              what: options.model.upkeep.what,
            },
          }
        : {}),
    },
    errorCount: issues.errorCount,
    warningCount: issues.warningCount,
    errors: issues.errors,
    warnings: issues.warnings,
  };
}

function describeConversion(markers: LegacyMarkers, changes: ConversionChanges): string {
  const parts = [
    markers.separator
      ? `separator ${JSON.stringify(markers.separator)} stripped from ${count(changes.separatorStripped, 'prompt')}`
      : 'no common separator found',
    markers.endToken
      ? `end token ${JSON.stringify(markers.endToken)} stripped from ${count(changes.endTokenStripped, 'completion')}`
      : 'no common end token found',
    `leading space removed from ${count(changes.leadingSpaceRemoved, 'completion')}`,
  ];
  return `${parts.join(', ')}.`;
}

/** A record keyed by user data (labels): no inherited keys, and `__proto__` is a key like any other. */
export function nullPrototypeRecord<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const record = Object.create(null) as Record<string, T>;
  for (const [key, value] of entries) record[key] = value;
  return record;
}
