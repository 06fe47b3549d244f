import { evaluationCostBound } from '../core/evaluation.js';
import {
  DEFAULT_MODEL,
  PROVIDER_TITLES,
  PROVIDERS,
  type ModelInfo,
  type ProviderName,
} from '../core/catalog.js';
import { MAX_CONFIG_BYTES, resolveRunConfig, type RunConfig } from '../core/config.js';
import {
  validateDataset,
  validationOptionsFor,
  ValidationOutOfTimeError,
  type DatasetIssue,
  type ValidationOptions,
  type ValidationReport,
} from '../core/dataset.js';
import type { ErrorCode } from '../core/issue-codes.js';
import type { RunMetrics } from '../core/metrics.js';
import { suppliedValidationIssues } from '../core/bedrock-rules.js';
import { modelForRun, readSmallObject, settingsFromFile, suffixFor } from '../core/run-settings.js';
import { issue, whereIs } from '../core/issue-list.js';
import type { ObjectStore, RunStore } from '../core/ports.js';
import { renderValidationMarkdown, withRunIssues, type StoredValidationReport } from '../core/report.js';
import {
  deriveRunId,
  FAMILY_NAME,
  familyOf,
  familySettingsKey,
  isValidationCompanion,
  runKeys,
  validationCompanionKey,
} from '../core/run.js';
import type { ExecutionInput } from '../core/workflow-state.js';

export interface UploadedObject {
  bucket: string;
  key: string;
  versionId?: string | undefined;
  etag?: string | undefined;
  size?: number | undefined;
  /** When S3 took the object (its event's eventTime, ISO 8601). @default when Validate runs */
  receivedAt?: string | undefined;
}

export interface ValidateDeps {
  store: ObjectStore;
  runs: RunStore;
  /** Starts the workflow execution named `runId`; starting it twice is not an error. */
  startRun: (runId: string, input: ExecutionInput) => Promise<void>;
  /** The ARN of the execution `startRun` starts for the run. */
  executionArn: (runId: string) => string;
  defaults: Record<string, unknown>;
  incomingPrefix: string;
  now: () => Date;
  /**
   * Epoch milliseconds by which checking must stop so that the report is written and the run recorded
   * before the function's own timeout.
   */
  deadline?: number;
  /** The dataset check; the real one unless a test makes it crash. */
  validateDataset?: typeof validateDataset;
  /** The providers this stack is deployed to train on. @default all of them */
  providers?: readonly ProviderName[];
  /** Told of each run started, rejected or failed here. @default none */
  metrics?: RunMetrics;
}

export type ValidateOutcome =
  | { runId: string; outcome: 'started' | 'rejected' | 'duplicate' }
  /**
   * Checking the file crashed (a bug in tunedrop, not a problem it recognised): the report says so with
   * `internal_error` and the run is FAILED. `crash` is the error's name and stack frames, for the log;
   * never its message, which can quote the data.
   */
  | { runId: string; outcome: 'failed'; crash: string }
  /** A supplied validation file: it waits for its training file and starts nothing itself. */
  | { runId: null; outcome: 'validation_file' };

/**
 * One uploaded file: record the run, check the file and its configuration, write the report next to the
 * data, then either start training or record the rejection. Safe to run twice for the same object.
 */
export async function validateUpload(object: UploadedObject, deps: ValidateDeps): Promise<ValidateOutcome> {
  if (isValidationCompanion(object.key)) return { runId: null, outcome: 'validation_file' };
  const runId = deriveRunId(object);
  const family = familyOf(object.key, deps.incomingPrefix);
  const keys = runKeys(runId);
  const at = deps.now().toISOString();
  // Received when S3 took the file, not when Validate ran (Lambda may queue the event for minutes): a
  // family's runs train in that order (core/slots.ts). A time after Validate's own is a clock's error.
  const receivedAt = object.receivedAt && object.receivedAt < at ? object.receivedAt : at;
  const source = {
    bucket: object.bucket,
    key: object.key,
    ...(object.versionId ? { versionId: object.versionId } : {}),
    ...(object.etag ? { etag: object.etag } : {}),
    ...(object.size !== undefined ? { size: object.size } : {}),
  };

  const created = await deps.runs.create({
    runId,
    family,
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at: receivedAt }],
    source,
    createdAt: receivedAt,
    updatedAt: at,
    validationReportKey: keys.validationMarkdown,
  });
  let receivedRecorded = receivedAt;
  if (!created) {
    const existing = await deps.runs.get(runId);
    // Past RECEIVED means an earlier delivery of this event already did the work.
    if (existing && existing.status !== 'RECEIVED') return { runId, outcome: 'duplicate' };
    if (existing) receivedRecorded = existing.createdAt;
  }

  const reportRef = (key: string) => ({ bucket: object.bucket, key });
  const writeReports = async (report: ValidationReport) => {
    const stored: StoredValidationReport = { schemaVersion: 1, runId, source, checkedAt: at, ...report };
    await deps.store.write(
      reportRef(keys.validationJson),
      `${JSON.stringify(stored, null, 2)}\n`,
      'application/json',
    );
    await deps.store.write(
      reportRef(keys.validationMarkdown),
      renderValidationMarkdown(stored),
      'text/markdown; charset=utf-8',
    );
  };

  // Everything the file's content goes through happens in here. A crash in it is a bug that the same
  // file would hit on every retry, so it ends the run with a report instead of throwing; a failing
  // S3, DynamoDB or Step Functions call (marked by `infrastructure`) still throws, to be retried.
  const where: CrashSite = { phase: 'reading the run settings', modelId: DEFAULT_MODEL, issues: [] };
  let checked: Checked;
  try {
    checked = await checkUpload(object, deps, family, at, where);
  } catch (error) {
    if (isInfrastructureError(error)) throw error;
    const report = internalErrorReport(where, runId, error);
    await writeReports(report);
    const first = report.errors[0]!;
    await deps.runs.advance(runId, 'FAILED', {
      baseModel: where.modelId,
      error: {
        name: 'InternalError',
        code: INTERNAL_ERROR,
        message: first.message,
        fix: `${first.fix} Report: s3://${object.bucket}/${keys.validationMarkdown}`,
      },
    });
    deps.metrics?.runEnded({ family, provider: where.provider ?? 'openai', status: 'FAILED' });
    return { runId, outcome: 'failed', crash: describeCrash(error) };
  }
  const { report, config, model, validationSource } = checked;
  await writeReports(report);

  if (report.verdict === 'invalid') {
    const first = report.errors[0]!;
    await deps.runs.advance(runId, 'REJECTED', {
      provider: model.provider,
      baseModel: model.id,
      error: {
        name: 'DatasetRejectedError',
        code: first.code,
        message: `${report.errorCount} problem${report.errorCount === 1 ? '' : 's'}; first: ${first.file ? `${first.file} ` : ''}${first.line ? `${whereIs(first)}: ` : ''}${first.message}`,
        fix: `${first.fix} All problems: s3://${object.bucket}/${keys.validationMarkdown}`,
      },
    });
    deps.metrics?.runRejected({ family, provider: model.provider, reason: first.code });
    return { runId, outcome: 'rejected' };
  }

  // Recorded before the start, while the run is surely still RECEIVED: from here on each of its events
  // links the execution.
  await deps.runs.amend(runId, 'RECEIVED', { executionArn: deps.executionArn(runId) });
  await deps.startRun(runId, {
    runId,
    family,
    source: {
      bucket: object.bucket,
      key: object.key,
      ...(object.versionId ? { versionId: object.versionId } : {}),
      ...(object.etag ? { etag: object.etag } : {}),
    },
    config,
    model: model.id,
    split: {
      seed: config.seed,
      threshold: report.split.threshold,
      classThresholds: report.split.classThresholds ?? null,
      // Groups of copies the plan sends to training although their hash is under the threshold.
      ...(report.split.trainHashes ? { trainHashes: report.split.trainHashes } : {}),
    },
    validationSource,
    method: report.method,
    conversion: report.conversion
      ? { separator: report.conversion.separator, endToken: report.conversion.endToken }
      : null,
    estimate: {
      billedTokens: report.estimate.billedTokens,
      costUsd: report.estimate.costUsd,
      epochs: report.estimate.epochs,
      ...(report.estimate.evaluationCostUsd !== undefined
        ? {
            evaluationCostUsd: report.estimate.evaluationCostUsd,
            evaluationExamples: Math.min(config.evaluation.maxExamples, report.split.validationExamples),
          }
        : {}),
    },
    receivedAt: receivedRecorded,
  });
  deps.metrics?.runStarted({ family, provider: model.provider });
  return { runId, outcome: 'started' };
}

/** The issue code of a crash inside validation (docs/validation-report.md). */
export const INTERNAL_ERROR = 'internal_error';

/** How far checking got, kept up to date so a crash can say where it happened. */
interface CrashSite {
  phase: string;
  modelId: string;
  /** The model's provider, once known (the run's metrics count the crash under it). */
  provider?: ProviderName;
  /** Problems with the run's settings found before the crash, kept in its report. */
  issues: DatasetIssue[];
}

interface Checked {
  report: ValidationReport;
  config: RunConfig;
  model: ModelInfo;
  validationSource: ExecutionInput['validationSource'];
}

/** The run's settings, the training file and any supplied validation file, checked into one report. */
async function checkUpload(
  object: UploadedObject,
  deps: ValidateDeps,
  family: string,
  at: string,
  where: CrashSite,
): Promise<Checked> {
  const validate = deps.validateDataset ?? validateDataset;
  const { config, issues: configIssues } = await loadConfig(family, object.bucket, deps);
  const runIssues: DatasetIssue[] = [...configIssues];
  where.issues = runIssues;
  const today = at.slice(0, 10);
  const deployed = deps.providers ?? PROVIDERS;
  if (!deployed.includes(config.provider))
    runIssues.push(
      runIssue(
        'provider_not_deployed',
        `the settings choose "provider": "${config.provider}", but this stack is not deployed to train on ${PROVIDER_TITLES[config.provider]}`,
        `Set "provider" to one of ${deployed.map((p) => `"${p}"`).join(', ')} in ${familySettingsKey(family, deps.incomingPrefix)}, or redeploy with "${config.provider}" among the pipeline's providers (docs/configuration.md).`,
      ),
    );
  if (!FAMILY_NAME.test(family))
    runIssues.push(
      runIssue(
        'family_name_invalid',
        `the family folder "${family}" (of ${object.key}) has characters other than letters, digits, "_", "." and "-"; it names the family's current-model parameter and schedule, which take no others`,
        `Move the file into a folder named with letters, digits, "_", "." and "-" only (for example ${deps.incomingPrefix}${family.replace(/[^A-Za-z0-9_.-]+/g, '-') || 'default'}/).`,
      ),
    );
  const { model, issues: modelIssues } = modelForRun(config, today);
  runIssues.push(...modelIssues);
  where.modelId = model.id;
  where.provider = model.provider;

  const companionKey = validationCompanionKey(object.key);
  where.phase = `looking for ${companionKey}`;
  const companion = await infrastructure(deps.store.head({ bucket: object.bucket, key: companionKey }));
  const validationSource = companion
    ? {
        bucket: object.bucket,
        key: companionKey,
        ...(companion.versionId ? { versionId: companion.versionId } : {}),
      }
    : null;
  const options: ValidationOptions = {
    ...validationOptionsFor(config, model),
    // A supplied validation file replaces the split.
    ...(validationSource ? { validationRatio: 0 } : {}),
    ...(deps.deadline !== undefined ? { deadline: deps.deadline } : {}),
  };
  where.phase = `checking the training file ${object.key}`;
  let report: ValidationReport = await validate(() => infrastructureStream(() => deps.store.read(object)), {
    ...options,
    ...(object.size !== undefined ? { sizeBytes: object.size } : {}),
  });
  if (validationSource) {
    where.phase = `checking the validation file ${companionKey}`;
    const supplied = await validate(() => infrastructureStream(() => deps.store.read(validationSource)), {
      ...options,
      part: 'validation',
      ...(companion?.size !== undefined ? { sizeBytes: companion.size } : {}),
    });
    runIssues.push(...supplied.errors.map((issue) => ({ ...issue, file: companionKey })));
    // The provider's limits on both files together (Bedrock: records, or no validation file at all).
    runIssues.push(
      ...suppliedValidationIssues(model, { key: companionKey, examples: supplied.examples }, report.examples),
    );
    if (supplied.verdict === 'valid' && supplied.format !== report.format) {
      runIssues.push(
        runIssue(
          'validation_format_mismatch',
          `${companionKey} is ${supplied.format}, but the training file is ${report.format}`,
          'Write the validation file in the same format as the training file.',
        ),
      );
    }
    report = {
      ...report,
      split: {
        ...report.split,
        validationExamples: supplied.examples,
        validationTokens: supplied.tokens.total,
      },
    };
  }
  where.phase = 'estimating the cost';
  // Evaluation asks the new model (and the one it is compared with) after training: counted in the
  // budget too, where the provider's models can be asked (OpenAI; Bedrock's Nova models, on demand;
  // docs/evaluation.md).
  if (config.evaluation.enabled && (model.provider === 'openai' || model.onDemand !== undefined))
    report = {
      ...report,
      estimate: {
        ...report.estimate,
        evaluationCostUsd: evaluationCostBound({
          settings: config.evaluation,
          validationExamples: report.split.validationExamples,
          validationTokens: report.split.validationTokens,
          // The Batch API's prices in batch mode (not always half: docs/evaluation-facts.md 1.1).
          price:
            config.evaluation.mode === 'batch'
              ? model.inference?.batch?.fineTuned
              : model.inference?.fineTuned,
        }),
      },
    };
  const trainingCostUsd = report.estimate.costUsd;
  const evaluationCostUsd = report.estimate.evaluationCostUsd ?? 0;
  const costUsd =
    trainingCostUsd === null || evaluationCostUsd === null
      ? trainingCostUsd
      : trainingCostUsd + evaluationCostUsd;
  if (costUsd === null)
    runIssues.push(
      config.maxCostUsd === undefined
        ? issue(
            'price_unknown',
            `no source known to tunedrop gives ${PROVIDER_TITLES[model.provider]}'s training price for ${model.id}, so this run's cost is not estimated`,
            "Check the provider's pricing page (docs/providers.md names it) before training a large file.",
          )
        : runIssue(
            'budget_uncheckable',
            `"maxCostUsd": ${config.maxCostUsd} is set, but no source known to tunedrop gives ${PROVIDER_TITLES[model.provider]}'s training price for ${model.id}, so the budget cannot be kept`,
            'Leave "maxCostUsd" out of tunedrop.json to train without a budget check, or pick a model whose price tunedrop knows (functions/core/catalog.ts).',
          ),
    );
  else if (config.maxCostUsd !== undefined && costUsd > config.maxCostUsd) {
    runIssues.push(
      runIssue(
        'over_budget',
        `the estimated cost $${costUsd.toFixed(2)}${evaluationCostUsd ? ` (training $${trainingCostUsd!.toFixed(2)}, evaluation at most $${evaluationCostUsd.toFixed(2)})` : ''} is over the budget maxCostUsd = $${config.maxCostUsd}`,
        'Raise "maxCostUsd" in tunedrop.json, pick a cheaper model, train on fewer examples or epochs, or lower "evaluation.maxExamples".',
      ),
    );
  }
  report = withRunIssues(report, runIssues);
  return { report, config, model, validationSource };
}

/**
 * Errors from S3, DynamoDB or Step Functions calls made while checking: retrying may help, so they are
 * thrown on rather than reported as a crash. Marked where they are caught, since the validator passes
 * a read error through unchanged.
 */
const infrastructureErrors = new WeakSet<object>();

function isInfrastructureError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && infrastructureErrors.has(error);
}

function markInfrastructure(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) infrastructureErrors.add(error);
  return error;
}

async function infrastructure<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw markInfrastructure(error);
  }
}

/** The object's bytes, with a failing read marked as infrastructure. */
async function* infrastructureStream(open: () => AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array>;
  try {
    iterator = open()[Symbol.asyncIterator]();
  } catch (error) {
    throw markInfrastructure(error);
  }
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw markInfrastructure(error);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}

/** A report for a crash: invalid, with `internal_error` saying where, and whatever was found before. */
function internalErrorReport(where: CrashSite, runId: string, error: unknown): ValidationReport {
  const issue =
    error instanceof ValidationOutOfTimeError
      ? runIssue(
          INTERNAL_ERROR,
          `tunedrop ran out of time while ${where.phase} (it had reached line ${error.lineNumber}); checking should never take this long, so this is a bug in tunedrop`,
          `Report this to the maintainers with the run id ${runId}; meanwhile, split the file into smaller files. Nothing was uploaded and no training started.`,
        )
      : runIssue(
          INTERNAL_ERROR,
          `tunedrop failed unexpectedly while ${where.phase}; this is a bug in tunedrop, not a problem it found in the file`,
          `Report this to the maintainers with the run id ${runId}; the file was not uploaded and no training started.`,
        );
  const errors = [issue, ...where.issues.filter((found) => found.severity === 'error')];
  const warnings = where.issues.filter((found) => found.severity === 'warning');
  return {
    verdict: 'invalid',
    format: 'unknown',
    method: 'supervised',
    lines: 0,
    examples: 0,
    tokens: { total: 0, min: 0, max: 0, mean: 0, histogram: [] },
    split: {
      threshold: null,
      validationExamples: 0,
      validationTokens: 0,
      trainingExamples: 0,
      trainingTokens: 0,
    },
    estimate: { model: where.modelId, epochs: 0, billedTokens: 0, costUsd: 0 },
    errorCount: errors.length,
    warningCount: warnings.length,
    errors,
    warnings,
  };
}

/** The error's name and where in the code it was thrown; never its message, which can quote the data. */
function describeCrash(error: unknown): string {
  if (!(error instanceof Error)) return `a thrown ${typeof error}`;
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 8)
    .map((line) => line.trim());
  return [error.name, ...frames].join(' ');
}

async function loadConfig(
  family: string,
  bucket: string,
  deps: ValidateDeps,
): Promise<{ config: RunConfig; issues: DatasetIssue[] }> {
  const key = familySettingsKey(family, deps.incomingPrefix);
  const stackDefaults = resolveRunConfig(deps.defaults, { suffix: suffixFor(family) });
  if (!stackDefaults.ok) {
    // The deployment's settings, not the file: thrown on like an infrastructure failure.
    throw markInfrastructure(new Error(`stack defaults are invalid: ${stackDefaults.problems.join('; ')}`));
  }

  // Anyone who can write under the incoming prefix can write this file: it is read only when small.
  const text = await infrastructure(readSmallObject(deps.store, { bucket, key }, MAX_CONFIG_BYTES));
  return settingsFromFile(text, key, [deps.defaults, { suffix: suffixFor(family) }, 'file']);
}

function runIssue(code: ErrorCode, message: string, fix: string): DatasetIssue {
  return issue(code, message, fix);
}
