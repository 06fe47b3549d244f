import { PROVIDER_TITLES, PROVIDERS, type ProviderName } from '../core/catalog.js';
import { InvalidConfigError, TunedropError } from '../core/errors.js';
import { EMBEDDING_ISSUE_CODES } from '../core/embedding-input.js';
import type { EmbeddingExecutionInput } from '../core/embedding-run.js';
import {
  chooseEmbeddingMode,
  collectionSettingsKey,
  EMBED_PREFIX,
  embeddingInputOf,
  resolveEmbeddingSettings,
  type ResolvedEmbeddingSettings,
} from '../core/embedding-settings.js';
import {
  renderEmbeddingValidationMarkdown,
  validateEmbeddingInput,
  type EmbeddingValidationReport,
  type TokenCounter,
} from '../core/embedding-validation.js';
import type { RunMetrics } from '../core/metrics.js';
import type { ObjectStore, RunStore } from '../core/ports.js';
import { deriveRunId, embeddingKeys, FAMILY_NAME } from '../core/run.js';
import type { UploadedObject } from '../validate/validate-upload.js';

export interface ValidateEmbeddingsDeps {
  store: ObjectStore;
  runs: RunStore;
  /** Starts the embedding workflow's execution named `runId`; starting it twice is not an error. */
  startRun: (runId: string, input: EmbeddingExecutionInput) => Promise<void>;
  executionArn: (runId: string) => string;
  countTokens: TokenCounter;
  /** The providers this stack is deployed with. @default all of them */
  providers?: readonly ProviderName[];
  now: () => Date;
  /**
   * Epoch milliseconds by which checking must stop, so that the report is written and the run recorded
   * before the function's own timeout. @default none
   */
  deadline?: number;
  /** Told of each run started, rejected or failed here (the same metrics as training runs'). @default none */
  metrics?: RunMetrics;
}

export type ValidateEmbeddingsOutcome =
  | { runId: string; outcome: 'started' | 'rejected' | 'duplicate' }
  /** Checking crashed (a bug in tunedrop): the report says so and the run is FAILED. */
  | { runId: string; outcome: 'failed'; crash: string }
  /** Not an embedding input (a key outside embed/<collection>/, or not .jsonl or .csv). */
  | { runId: null; outcome: 'ignored' };

/** What validation.json holds: the run, its source, and the check's report or the settings' problem. */
export interface StoredEmbeddingValidation {
  schemaVersion: 1;
  runId: string;
  source: { bucket: string; key: string; versionId?: string };
  checkedAt: string;
  verdict: 'accepted' | 'rejected' | 'failed';
  /** The collection's settings could not be used: nothing of the file was checked. */
  settingsError?: { code: string; message: string; fix: string };
  report?: EmbeddingValidationReport;
}

/**
 * One file dropped under embed/<collection>/: the run recorded, the collection's settings read, every line
 * checked (texts, ids, token limits, cost, budget), the report written under embeddings/<run>/, then the
 * embedding workflow started, or the run REJECTED with the first problem and its fix. Safe to run twice for
 * the same object version.
 */
export async function validateEmbeddingUpload(
  object: UploadedObject,
  deps: ValidateEmbeddingsDeps,
): Promise<ValidateEmbeddingsOutcome> {
  const input = embeddingInputOf(object.key);
  if (!input) return { runId: null, outcome: 'ignored' };
  const { collection, format } = input;
  const runId = deriveRunId(object);
  const keys = embeddingKeys(runId);
  const at = deps.now().toISOString();
  const receivedAt = object.receivedAt && object.receivedAt < at ? object.receivedAt : at;
  const source = {
    bucket: object.bucket,
    key: object.key,
    ...(object.versionId ? { versionId: object.versionId } : {}),
  };
  const created = await deps.runs.create({
    runId,
    kind: 'embeddings',
    family: collection,
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at: receivedAt }],
    source: {
      ...source,
      ...(object.etag ? { etag: object.etag } : {}),
      ...(object.size !== undefined ? { size: object.size } : {}),
    },
    createdAt: receivedAt,
    updatedAt: at,
    validationReportKey: keys.validationMarkdown,
  });
  if (!created) {
    const existing = await deps.runs.get(runId);
    if (existing && existing.status !== 'RECEIVED') return { runId, outcome: 'duplicate' };
  }
  const reportUri = `s3://${object.bucket}/${keys.validationMarkdown}`;
  const write = async (
    stored: Omit<StoredEmbeddingValidation, 'schemaVersion' | 'runId' | 'source' | 'checkedAt'>,
  ) => {
    const whole: StoredEmbeddingValidation = { schemaVersion: 1, runId, source, checkedAt: at, ...stored };
    await deps.store.write(
      { bucket: object.bucket, key: keys.validationJson },
      `${JSON.stringify(whole, null, 2)}\n`,
      'application/json',
    );
    await deps.store.write(
      { bucket: object.bucket, key: keys.validationMarkdown },
      whole.report
        ? renderEmbeddingValidationMarkdown(whole.report, { source: object.key })
        : settingsErrorMarkdown(object.key, whole),
      'text/markdown; charset=utf-8',
    );
  };

  let settings: ResolvedEmbeddingSettings;
  try {
    settings = await settingsOf(collection, object.bucket, deps);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    const settingsError = { code: error.code, message: error.message, fix: error.fix };
    await write({ verdict: 'rejected', settingsError });
    deps.metrics?.runRejected({ family: collection, provider: 'openai', reason: error.code });
    await deps.runs.advance(runId, 'REJECTED', {
      error: {
        name: 'InvalidConfigError',
        code: error.code,
        message: error.message,
        fix: `${error.fix} Report: ${reportUri}`,
      },
    });
    return { runId, outcome: 'rejected' };
  }

  let report: EmbeddingValidationReport;
  try {
    report = await validateEmbeddingInput(untilDeadline(deps.store.read(object), deps.deadline), settings, {
      countTokens: deps.countTokens,
      format,
    });
  } catch (error) {
    if (error instanceof OutOfTimeError) {
      const message = `checking ${object.key} did not end within the 15 minutes one invocation of the check has`;
      const fix =
        'Split the file into smaller ones (each is its own run), and drop them under the same collection.';
      await write({ verdict: 'rejected', settingsError: { code: 'file_too_large_to_check', message, fix } });
      deps.metrics?.runRejected({
        family: collection,
        provider: settings.provider,
        reason: 'file_too_large_to_check',
      });
      await deps.runs.advance(runId, 'REJECTED', {
        error: {
          name: 'DatasetRejectedError',
          code: 'file_too_large_to_check',
          message,
          fix: `${fix} Report: ${reportUri}`,
        },
      });
      return { runId, outcome: 'rejected' };
    }
    // S3 failing is retried (the event is delivered again); anything else is a bug that the same file would
    // hit again: the run ends with a report that says so, instead of being retried into the dead letters.
    if (isAwsError(error)) throw error;
    const crash =
      error instanceof Error
        ? `${error.name}: ${error.stack?.split('\n').slice(1, 4).join(' ') ?? ''}`
        : 'unknown';
    const message = `checking ${object.key} crashed inside tunedrop (${error instanceof Error ? error.name : 'unknown error'})`;
    const fix = 'This is a bug in tunedrop, not a problem with your file: report it with the run id.';
    await write({ verdict: 'failed', settingsError: { code: 'internal_error', message, fix } });
    deps.metrics?.runEnded({ family: collection, provider: settings.provider, status: 'FAILED' });
    await deps.runs.advance(runId, 'FAILED', {
      error: { name: 'InternalError', code: 'internal_error', message, fix: `${fix} Report: ${reportUri}` },
    });
    return { runId, outcome: 'failed', crash };
  }
  await write({ verdict: report.verdict, report });

  const facts = {
    provider: settings.provider,
    baseModel: settings.model.id,
    estimatedTokens: report.tokens.total,
    ...(report.cost.usd !== null ? { estimatedCostUsd: report.cost.usd } : {}),
  };
  if (report.verdict === 'rejected') {
    const first = report.issues[0]!;
    const occurrence = first.occurrences[0];
    const total = report.issues.reduce((sum, entry) => sum + entry.count, 0);
    deps.metrics?.runRejected({ family: collection, provider: settings.provider, reason: first.code });
    await deps.runs.advance(runId, 'REJECTED', {
      ...facts,
      error: {
        name: 'DatasetRejectedError',
        code: first.code,
        message: `${total} problem${total === 1 ? '' : 's'}; first: ${occurrence?.message ?? first.code}`,
        fix: `${occurrence?.fix ?? EMBEDDING_ISSUE_CODES[first.code as keyof typeof EMBEDDING_ISSUE_CODES]?.fix ?? ''} All problems: ${reportUri}`,
      },
    });
    return { runId, outcome: 'rejected' };
  }

  const mode = chooseEmbeddingMode(settings, report.counts.records);
  await deps.runs.amend(runId, 'RECEIVED', {
    ...facts,
    executionArn: deps.executionArn(runId),
    embedding: { model: settings.model.id, dimensions: settings.outputDimensions, mode },
  });
  await deps.startRun(runId, {
    runId,
    collection,
    source,
    format,
    settings: {
      provider: settings.provider,
      model: settings.model.id,
      modelName: settings.modelName,
      ...(settings.dimensions !== undefined ? { dimensions: settings.dimensions } : {}),
      outputDimensions: settings.outputDimensions,
      mode,
      output: settings.output,
      textField: settings.textField,
      idField: settings.idField,
      ...(settings.metadataFields ? { metadataFields: settings.metadataFields } : {}),
    },
    metadataColumns: report.metadataColumns,
    records: report.counts.records,
    tokens: report.tokens.total,
    receivedAt,
  });
  deps.metrics?.runStarted({ family: collection, provider: settings.provider });
  return { runId, outcome: 'started' };
}

/** The collection's settings, or InvalidConfigError naming the file and the fix. */
async function settingsOf(
  collection: string,
  bucket: string,
  deps: Pick<ValidateEmbeddingsDeps, 'store' | 'providers'>,
): Promise<ResolvedEmbeddingSettings> {
  const key = collectionSettingsKey(collection);
  if (!FAMILY_NAME.test(collection))
    throw new InvalidConfigError(
      `the collection folder "${collection}" has characters other than letters, digits, "_", "." and "-"`,
      `Move the file into a folder named with letters, digits, "_", "." and "-" only (for example ${EMBED_PREFIX}${collection.replace(/[^A-Za-z0-9_.-]+/g, '-') || 'default'}/).`,
    );
  const text = await deps.store.readText({ bucket, key });
  let raw: unknown;
  if (text !== undefined)
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new InvalidConfigError(
        `${key} is not JSON: ${(error as Error).message}`,
        `Write ${key} as one JSON object, such as {"model": "text-embedding-3-small"} (docs/embeddings.md).`,
      );
    }
  const settings = resolveEmbeddingSettings(raw, key);
  const deployed = deps.providers ?? PROVIDERS;
  if (!deployed.includes(settings.provider))
    throw new InvalidConfigError(
      `${key} chooses "provider": "${settings.provider}", but this stack is not deployed with ${PROVIDER_TITLES[settings.provider]}`,
      `Set "provider" to one of ${deployed.map((p) => `"${p}"`).join(', ')} in ${key}, or redeploy with "${settings.provider}" among the pipeline's providers.`,
    );
  return settings;
}

/** Checking reached its deadline. */
class OutOfTimeError extends Error {
  override readonly name = 'OutOfTimeError';
}

/** The chunks, until the deadline passes: then OutOfTimeError, so the check ends with a report. */
async function* untilDeadline(chunks: AsyncIterable<Uint8Array>, deadline: number | undefined) {
  for await (const chunk of chunks) {
    if (deadline !== undefined && Date.now() > deadline)
      throw new OutOfTimeError('the check ran out of time');
    yield chunk;
  }
}

/** An AWS SDK error (it carries `$metadata`): S3 or DynamoDB failing, worth retrying. */
function isAwsError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && '$metadata' in error && !(error instanceof TunedropError)
  );
}

function settingsErrorMarkdown(key: string, stored: StoredEmbeddingValidation): string {
  const problem = stored.settingsError!;
  const verdict =
    stored.verdict === 'failed'
      ? 'FAILED: tunedrop could not check this file'
      : 'REJECTED: nothing was embedded';
  return [
    `# Embedding input check: \`${key}\``,
    '',
    `**${verdict}**`,
    '',
    `- Problem (${problem.code}): ${problem.message}`,
    `- Fix: ${problem.fix}`,
    '',
  ].join('\n');
}
