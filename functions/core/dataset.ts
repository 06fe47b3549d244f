import type { RunConfig } from './config.js';
import { MODEL_CATALOG, type DataFormat, type ModelInfo } from './catalog.js';
import type { SecretScan } from './check-example.js';
import { buildReport } from './dataset-report.js';
import { scanDataset } from './dataset-scan.js';
import type { DatasetFormat } from './formats.js';
import type { ImageSummary } from './images.js';
import type { IssueList, DatasetIssue } from './issue-list.js';
import type { ConversionChanges, LegacyMarkers } from './legacy.js';
import type { SplitPlan } from './split.js';
import type { TokenCounter } from './token-counter.js';
import type { TokenSummary } from './token-batches.js';

/**
 * The dataset check, in four steps a reader finds by name: reading lines (dataset-lines.ts),
 * classifying a line (classify-line.ts), checking an example (check-example.ts, formats.ts and the
 * modules it uses), and building the report (dataset-report.ts); dataset-scan.ts runs the first three
 * over a file. Every problem's code is in issue-codes.ts.
 */
export { MAX_FILE_BYTES, MAX_LINE_BYTES, ValidationOutOfTimeError } from './dataset-lines.js';
export { jsonDepthOver, MAX_JSON_DEPTH } from './classify-line.js';
export { MAX_LISTED_ISSUES, type DatasetIssue } from './issue-list.js';
export { nullPrototypeRecord } from './dataset-report.js';
export type { SecretScan } from './check-example.js';

/** The provider refuses a training file with fewer examples (OpenAI, Azure); catalog `minExamples` overrides it. */
export const MIN_EXAMPLES = 10;
export { suppliedValidationIssues } from './bedrock-rules.js';

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
  /**
   * Which file of the run this is: the training file (the default, split unless the model takes no
   * validation data), or a supplied `<name>.validation.jsonl`. A validation file is refused for a model
   * that trains without one (`validation_file_not_supported`), and the model's record limits, which
   * count both files together, are not applied to it alone: the caller checks the sum with
   * `suppliedValidationIssues`.
   */
  part?: 'training' | 'validation';
}

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
  /**
   * Set when the provider takes another format than OpenAI's chat lines: each line is written in it on
   * upload (functions/core/bedrock-format.ts), the text unchanged.
   */
  providerFormat?: Exclude<DataFormat, 'openai-chat'>;
  lines: number;
  examples: number;
  /**
   * Examples that are exact copies of an earlier one (so `examples - exactCopies` are distinct). Exact
   * up to about 5.8 million distinct examples; past that, copies of the later ones are not counted.
   */
  exactCopies?: number;
  tokens: TokenSummary & {
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
    /** Null when no source gives the model's price (catalog): the cost is unknown, not guessed. */
    costUsd: number | null;
    /** True when images given as URLs were counted at their largest cost: the real cost is at most this. */
    upperEstimate?: boolean;
    /** What keeping the trained model costs at the provider, where it charges for that (catalog `upkeep`). */
    upkeep?: { usd: number | null; per: 'hour' | 'month'; what: string };
    /**
     * At most what evaluating the new model beside the current one will cost (core/evaluation.ts
     * evaluationCostBound); null when its price is unknown. Absent when the run will not be evaluated.
     */
    evaluationCostUsd?: number | null;
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
  let scanned = await scanDataset(open(), options, undefined);
  if (scanned.checker.format === 'prompt_completion') {
    if (options.convertLegacy === false) {
      scanned.issues.fileError(
        'legacy_format',
        'this file is in the legacy prompt/completion format, which OpenAI can no longer train (babbage-002 and davinci-002 were shut down on 2026-09-28), and "convertLegacyFormat" is false',
        'Remove "convertLegacyFormat": false from tunedrop.json (conversion to chat is the default), or write the file as chat.',
      );
    } else if (scanned.issues.errorCount === 0) {
      const markers: LegacyMarkers = {
        separator: scanned.checker.prompts.marker(),
        endToken: scanned.checker.completions.marker(),
      };
      scanned = await scanDataset(open(), options, markers);
    }
  }
  return buildReport(scanned, options, trainingMethod(scanned.checker.format, options, scanned.issues));
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
    const offering = MODEL_CATALOG.filter(
      (m) => m.provider === options.model.provider && !m.retiredOn && m.methods.includes(method),
    ).map((m) => m.id);
    issues.fileError(
      'method_not_supported',
      `${options.model.id} cannot be fine-tuned with "${method}"`,
      `Set "model" in tunedrop.json to one that offers it: ${offering.join(', ') || 'none does today'}.`,
    );
  }
  return method;
}
