import { findModel, trainingCostUsd } from '../core/catalog.js';
import { ResultFileMissingError } from '../core/errors.js';
import type { FineTuningProvider, ObjectStore, RunStore } from '../core/ports.js';
import { decodeResultFile, summarizeResults } from '../core/results.js';
import { runKeys } from '../core/run.js';
import type { CollectedResults, ExecutionInput, JobProgress } from '../core/workflow-state.js';

export interface CollectDeps {
  store: ObjectStore;
  runs: RunStore;
  provider: FineTuningProvider;
}

/**
 * Brings a finished job home: the provider's results.csv (decoded from the base64 OpenAI delivers, the
 * content itself unchanged) and a summary.json with the final metrics, tokens and cost.
 */
export async function collectResults(
  input: ExecutionInput & { job: JobProgress },
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
  return {
    resultsKey: keys.results,
    summaryKey: keys.summary,
    fineTunedModel: job.fineTunedModel,
    trainedTokens: job.trainedTokens,
    costUsd,
  };
}
