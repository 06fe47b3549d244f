import { findModel, trainingCostUsd } from '../core/catalog.js';
import { ResultFileMissingError } from '../core/errors.js';
import type { FineTuningProvider, ObjectStore, RunStore } from '../core/ports.js';
import { decodeResultFile, resultRows, summarizeResults } from '../core/results.js';
import { renderRunReport, validationFindings, type ValidationFindings } from '../core/run-report.js';
import type { ModelEntry, ModelRegistry } from '../core/registry.js';
import { runKeys } from '../core/run.js';
import type { CollectedResults, ExecutionInput, JobProgress, PreparedFiles } from '../core/workflow-state.js';

/** The fields whose values are numbers (null and undefined left out: the item has no such attribute). */
function defined(fields: Record<string, number | null | undefined>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(fields).filter((entry): entry is [string, number] => typeof entry[1] === 'number'),
  );
}

export interface CollectDeps {
  store: ObjectStore;
  runs: RunStore;
  provider: FineTuningProvider;
  /** Where the new model is registered (Record makes it current, if it is promoted). */
  registry: Pick<ModelRegistry, 'register'>;
}

/**
 * The run's validation findings for its report, from the validation.json Validate (or retrain) wrote:
 * best effort, as the report is for a person and the run's results stand without it.
 */
async function readFindings(store: ObjectStore, ref: { bucket: string; key: string }) {
  try {
    const text = await store.readText(ref);
    return text === undefined ? null : validationFindings(text);
  } catch {
    return null;
  }
}

/**
 * Brings a finished job home: the provider's results.csv (decoded from the base64 OpenAI delivers, the
 * content itself unchanged), a summary.json with the final metrics, tokens and cost, and report.html
 * for a person (core/run-report.ts: the summary, the curves, the validation findings).
 */
export async function collectResults(
  input: ExecutionInput & { job: JobProgress; prepared?: PreparedFiles | undefined },
  deps: CollectDeps,
): Promise<CollectedResults> {
  const keys = runKeys(input.runId);
  await deps.runs.advance(input.runId, 'COLLECTING');
  const job = await deps.provider.getJob(input.job.jobId);
  const bytes = await deps.provider.resultFile(job);
  if (!bytes) {
    throw new ResultFileMissingError(
      `job ${job.id} succeeded but the provider has no result file for it`,
      'The model may still be usable; check the job in the provider console. Drop the file again to retrain.',
    );
  }
  const csv = decodeResultFile(bytes);
  // The price is the run's provider's: the same model name costs differently elsewhere (or is unknown).
  const provider = input.config.provider;
  const model = findModel(job.model, provider) ?? findModel(input.model, provider);
  const costUsd = job.trainedTokens !== null && model ? trainingCostUsd(model, job.trainedTokens) : null;
  const summary = {
    runId: input.runId,
    family: input.family,
    source: input.source,
    provider: deps.provider.name,
    jobId: job.id,
    baseModel: job.model,
    fineTunedModel: job.fineTunedModel,
    epochs: job.epochs,
    trainedTokens: job.trainedTokens,
    costUsd,
    estimatedCostUsd: input.estimate.costUsd,
    createdAt: new Date(job.createdAt * 1000).toISOString(),
    finishedAt: job.finishedAt === null ? null : new Date(job.finishedAt * 1000).toISOString(),
    metrics: summarizeResults(csv),
  };
  const bucket = input.source.bucket;
  await deps.store.write({ bucket, key: keys.results }, csv, 'text/csv; charset=utf-8');
  await deps.store.write(
    { bucket, key: keys.summary },
    `${JSON.stringify(summary, null, 2)}\n`,
    'application/json',
  );
  const findings: ValidationFindings | null = await readFindings(deps.store, {
    bucket,
    key: keys.validationJson,
  });
  const report = renderRunReport({
    runId: input.runId,
    family: input.family,
    status: job.status,
    provider: summary.provider,
    jobId: job.id,
    baseModel: input.model,
    parentModel: input.prepared?.startFrom ?? input.model,
    fineTunedModel: job.fineTunedModel,
    dataset: input.prepared?.dataset ?? null,
    trainingExamples: input.prepared?.trainingExamples ?? null,
    validationExamples: input.prepared?.validationExamples ?? null,
    epochs: job.epochs,
    trainedTokens: job.trainedTokens,
    costUsd,
    estimatedCostUsd: input.estimate.costUsd,
    createdAt: summary.createdAt,
    finishedAt: summary.finishedAt,
    validation: findings,
    rows: resultRows(csv),
  });
  await deps.store.write({ bucket, key: keys.report }, report, 'text/html; charset=utf-8');
  if (job.fineTunedModel !== null) {
    // The registry is the family's memory: every model, what it was trained from and on. Whether this one
    // becomes current is evaluation's question (functions/evaluate), and Record's to carry out.
    const final = summary.metrics.final;
    const entry: ModelEntry = {
      family: input.family,
      model: job.fineTunedModel,
      provider: input.config.provider,
      baseModel: input.model,
      parentModel: input.prepared?.startFrom ?? input.model,
      runId: input.runId,
      ...(input.prepared?.dataset ? { dataset: input.prepared.dataset } : {}),
      ...defined({
        trainLoss: final?.trainLoss,
        validLoss: final?.validLoss,
        trainAccuracy: final?.trainAccuracy,
        validAccuracy: final?.validMeanTokenAccuracy,
        trainedTokens: job.trainedTokens,
        costUsd,
      }),
      createdAt: summary.finishedAt ?? new Date().toISOString(),
    };
    await deps.registry.register(entry);
  }
  return {
    resultsKey: keys.results,
    summaryKey: keys.summary,
    reportKey: keys.report,
    fineTunedModel: job.fineTunedModel,
    trainedTokens: job.trainedTokens,
    costUsd,
  };
}
