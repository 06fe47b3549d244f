import { FAMILY_SETTINGS_PLACEHOLDER } from '../core/catalog.js';
import { parseErrorCause } from '../core/errors.js';
import { familySettingsKey } from '../core/run.js';
import { redactFields } from '../core/redact.js';
import type { ObjectStore, ProviderSlots, RunStore, RunUpdate } from '../core/ports.js';
import { amendReport } from '../core/report.js';
import { endFamilyTurn, type FamilyTurn, type HandOver } from '../core/slots.js';
import type { RunStatus } from '../core/run.js';
import type { EvaluationOutcome, RecordInput } from '../core/workflow-state.js';
import type { RunEnd, RunMetrics } from '../core/metrics.js';
import type { CurrentModelParameters, ModelRegistry } from '../core/registry.js';
import type { RunEvaluation } from '../core/run.js';

export interface RecordDeps {
  runs: RunStore;
  /** Where families' folders are, to name a family's settings file in a fix. @default 'incoming/' */
  incomingPrefix?: string;
  slots: ProviderSlots;
  /** Gives the freed slot to the oldest waiting run (handOverFreeSlots). */
  handOver(): Promise<HandOver>;
  /** Told when handing over failed; the sweep hands the slot over instead, minutes later. */
  onHandOverError?(error: unknown): void;
  /** The run's family's lane, given to the family's next run once this one's end is recorded. */
  familyTurn?: FamilyTurn;
  /**
   * Where the run's validation report is. A run that ends without a model has its report amended to say
   * so (core/report.ts amendReport); without a store the report is left as Validate wrote it.
   */
  reports?: ObjectStore;
  /** Told when amending the report failed; the run's recorded end stands regardless. */
  onReportError?(error: unknown): void;
  /** Told of the run's end when this records it (not when the run had already ended). @default none */
  metrics?: RunMetrics;
  /** Where a promoted model becomes the family's current one, and the parameter applications read. */
  models: {
    registry: Pick<ModelRegistry, 'find' | 'promote'>;
    parameters: Pick<CurrentModelParameters, 'put'>;
  };
}

/**
 * Writes the run's final state: SUCCEEDED with results and cost, or FAILED/CANCELLED with the cause a
 * person needs. It is the last step of every path through the workflow, including every Catch.
 */
export async function recordOutcome(
  input: RecordInput,
  deps: RecordDeps,
): Promise<{ runId: string; status: RunStatus }> {
  const { runId } = input;
  // The run is over whatever happened: its provider slot goes to the next run. Handing it over is
  // best effort: recording this run's end matters more, and the sweep hands over what this could not.
  await deps.slots.release(runId);
  await deps.handOver().catch((error: unknown) => deps.onHandOverError?.(error));
  // The status the run ends in: this one, or the one it had already ended in (stopped while this
  // execution went on, e.g. while Create job ran), which a recorded end keeps.
  // Its cause is stored as it came (a task's, the provider's) but masked: no provider key is kept.
  const end = async (status: RunEnd, { error, ...fields }: RunUpdate) => {
    const recorded = await deps.runs.advance(runId, status, {
      ...fields,
      ...(error ? { error: redactFields(error) } : {}),
    });
    if (recorded)
      deps.metrics?.runEnded({
        family: input.family,
        provider: input.config.provider,
        status,
        // What the run cost: its training and its evaluation's calls, where their prices are known.
        costUsd:
          recorded.costUsd === undefined ? undefined : recorded.costUsd + (recorded.evaluation?.costUsd ?? 0),
        trainedTokens: recorded.trainedTokens,
      });
    const run = recorded ?? (await deps.runs.get(runId));
    if (run) await amendReport(run, deps);
    if (deps.familyTurn) await endFamilyTurn(runId, deps.familyTurn, deps.onHandOverError);
    return run?.status ?? status;
  };
  if (input.failure) {
    const error = parseErrorCause(input.failure.Error, input.failure.Cause);
    // A fix that names the family's settings file names this run's: the folder its data was dropped in.
    if (error.fix)
      error.fix = error.fix.replace(
        FAMILY_SETTINGS_PLACEHOLDER,
        familySettingsKey(input.family, deps.incomingPrefix),
      );
    return { runId, status: await end('FAILED', { error }) };
  }
  if (input.job?.phase === 'cancelled') {
    return {
      runId,
      status: await end('CANCELLED', {
        providerStatus: input.job.status,
        error: {
          name: 'ProviderJobCancelled',
          code: 'job_cancelled',
          message: `provider job ${input.job.jobId} was cancelled`,
          fix: 'Drop the file again to start a new run.',
        },
      }),
    };
  }
  if (input.job?.phase === 'timed_out') {
    return {
      runId,
      status: await end('TIMED_OUT', {
        providerStatus: input.job.status,
        error: {
          name: 'TrainingTimeout',
          code: input.job.error?.code ?? 'training_timeout',
          message: input.job.error?.message ?? `provider job ${input.job.jobId} took too long`,
          fix: 'Raise "maxTrainingHours" in tunedrop.json if such long jobs are expected, then drop the file again.',
        },
      }),
    };
  }
  if (input.job?.phase === 'failed') {
    return {
      runId,
      status: await end('FAILED', {
        providerStatus: input.job.status,
        error: {
          name: 'ProviderJobFailedError',
          code: input.job.error?.code ?? 'job_failed',
          message: `provider job ${input.job.jobId} failed: ${input.job.error?.message ?? 'no reason given'}`,
          fix: 'Read the message above; fix the data or settings it names, then drop the file again.',
        },
      }),
    };
  }
  if (input.results) {
    const { fineTunedModel, trainedTokens, costUsd, resultsKey, summaryKey, reportKey } = input.results;
    const outcome = input.evaluation && 'evaluationKey' in input.evaluation ? input.evaluation : undefined;
    const evaluation = await promoteIfDecided(input, outcome, fineTunedModel, deps.models);
    return {
      runId,
      status: await end(evaluation.promoted ? 'SUCCEEDED' : 'SUCCEEDED_NOT_PROMOTED', {
        providerStatus: input.job?.status,
        ...(fineTunedModel !== null ? { fineTunedModel } : {}),
        ...(trainedTokens !== null ? { trainedTokens } : {}),
        ...(costUsd !== null ? { costUsd } : {}),
        resultsKey,
        summaryKey,
        ...(reportKey ? { reportKey } : {}),
        ...(outcome ? { evaluationKey: outcome.evaluationKey } : {}),
        ...(evaluation.recorded ? { evaluation: evaluation.recorded } : {}),
      }),
    };
  }
  return {
    runId,
    status: await end('FAILED', {
      error: {
        name: 'WorkflowError',
        code: 'incomplete_state',
        message: 'the workflow reached Record with neither results nor a failure',
        fix: 'Report this to the tunedrop maintainers with the run id.',
      },
    }),
  };
}

/**
 * Carries out the promotion decision: the model becomes the family's current one (the registry's pointer
 * and the SSM parameter applications read) when Evaluate said so, or when the run never went through
 * Evaluate (an execution started before it existed, promoted as it was then). The registry may still
 * refuse: a model made current later is current already, or the model was deleted meanwhile.
 */
async function promoteIfDecided(
  input: RecordInput,
  outcome: EvaluationOutcome | undefined,
  model: string | null,
  deps: RecordDeps['models'],
): Promise<{ promoted: boolean; recorded?: RunEvaluation }> {
  let recorded: RunEvaluation | undefined = outcome?.evaluation;
  // Work still pending here means checking it failed (evaluationFailure says how): not promoted.
  const pending = input.evaluation && 'pending' in input.evaluation ? input.evaluation.pending : undefined;
  if (input.evaluationFailure || pending) {
    const cause = input.evaluationFailure
      ? parseErrorCause(input.evaluationFailure.Error, input.evaluationFailure.Cause).message
      : 'what it waited for never ended';
    const ids = pending?.submitted.map((b) => b.id).join(', ');
    const running = !pending
      ? ''
      : pending.kind === 'batches'
        ? `; its batches (${ids}) may still run at the provider, billed as they answer`
        : `; its deployments (${ids}) may still exist at Amazon Bedrock (no charge while unused; delete them with aws bedrock delete-custom-model-deployment)`;
    recorded = {
      status: 'failed',
      promoted: false,
      reason: `the evaluation step failed (${cause}): the model is kept, not promoted (tunedrop models promote makes it current)${running}`,
      costUsd: null,
    };
  }
  const wanted = recorded ? recorded.promoted : true;
  if (!wanted || model === null) return { promoted: false, ...(recorded ? { recorded } : {}) };
  const entry = await deps.registry.find(model);
  const promoted = entry ? await deps.registry.promote(entry, entry.createdAt) : false;
  if (promoted) await deps.parameters.put(input.family, model);
  if (recorded && !promoted)
    recorded = {
      ...recorded,
      promoted: false,
      reason: `${recorded.reason}; but the registry kept the current model (${entry ? 'a model made current later, or the model was deleted meanwhile' : 'the model is not in the registry'})`,
    };
  return { promoted, ...(recorded ? { recorded } : {}) };
}
