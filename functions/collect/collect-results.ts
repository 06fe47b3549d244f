import { findModel, trainingCostUsd } from '../core/catalog.js';
import { ResultFileMissingError } from '../core/errors.js';
import type { FineTuningProvider, ObjectStore, RunStore } from '../core/ports.js';
import { decodeResultFile, summarizeResults } from '../core/results.js';
import type { CurrentModelParameters, ModelEntry, ModelRegistry } from '../core/registry.js';
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
  /** Where the new model is registered as the family's current one. */
  registry: Pick<ModelRegistry, 'register'>;
  /** The family's current-model parameter, for applications. */
  parameters: Pick<CurrentModelParameters, 'put'>;
}

/**
 * Brings a finished job home: the provider's results.csv (decoded from the base64 OpenAI delivers, the
 * content itself unchanged) and a summary.json with the final metrics, tokens and cost.
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
  if (job.fineTunedModel !== null) {
    // The registry is the family's memory: which model is current, what it was trained from and on.
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
    if (await deps.registry.register(entry)) await deps.parameters.put(input.family, job.fineTunedModel);
  }
  return {
    resultsKey: keys.results,
    summaryKey: keys.summary,
    fineTunedModel: job.fineTunedModel,
    trainedTokens: job.trainedTokens,
    costUsd,
  };
}
