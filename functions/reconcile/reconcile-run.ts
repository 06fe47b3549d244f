import type {
  EmbeddingBatches,
  FineTuningProvider,
  ObjectStore,
  ProviderJob,
  ProviderSlots,
  RunStore,
} from '../core/ports.js';
import { amendReport } from '../core/report.js';
import { runKindOf, TERMINAL_STATUSES, type RunStatus } from '../core/run.js';
import { endFamilyTurn, type FamilyTurn, type HandOver } from '../core/slots.js';
import { cancelIfRunning } from '../core/provider-jobs.js';
import { phaseOf } from '../core/workflow-state.js';
import { redactSecrets } from '../core/redact.js';
import { PROVIDERS, type ProviderName } from '../core/catalog.js';
import { ApiKeyNotSetError } from '../core/errors.js';
import { EMBEDDING_RUN_TIMEOUT_DAYS } from '../core/embedding-run.js';
import type { RunRecord } from '../core/run.js';
import type { RunEnd, RunMetrics } from '../core/metrics.js';

export interface ExecutionEnded {
  /** The execution name, which is the run id. */
  runId: string;
  status: 'ABORTED' | 'TIMED_OUT' | 'FAILED';
  error?: string | undefined;
  cause?: string | undefined;
}

export interface ReconcileDeps {
  runs: RunStore;
  /** The provider a run trained on (its item's `provider`; OpenAI for runs from before there were others). */
  provider(name: ProviderName): Promise<FineTuningProvider>;
  /** The providers a run of this stack may have trained on: where a run without an item is looked for. */
  providers: readonly ProviderName[];
  slots(name: ProviderName): ProviderSlots;
  /** Gives the freed slot to the oldest waiting run (handOverFreeSlots). */
  handOver(): Promise<HandOver>;
  onHandOverError?(error: unknown): void;
  /** A family's lane: the ended run's is given to the family's next run. */
  familyTurn?(family: string): FamilyTurn;
  /** Where the run's validation report is, amended once the run has ended (see RecordDeps). */
  reports?: ObjectStore;
  /** Told when amending the report failed; the run's recorded end stands regardless. */
  onReportError?(error: unknown): void;
  /** Told of the run's end when this records it. @default none */
  metrics?: RunMetrics;
  /** An embedding run's provider batches, to cancel those still running. @default none: they run out */
  embeddingBatches?(name: ProviderName): Promise<Pick<EmbeddingBatches, 'state' | 'cancel'> | undefined>;
}

const OUTCOME: Record<
  ExecutionEnded['status'],
  { status: RunEnd; code: string; message: string; fix: string }
> = {
  ABORTED: {
    status: 'CANCELLED',
    code: 'execution_stopped',
    message: 'the run was stopped (its Step Functions execution was stopped)',
    fix: 'Drop the file again to start a new run.',
  },
  TIMED_OUT: {
    status: 'TIMED_OUT',
    code: 'execution_timed_out',
    message: "the run took longer than the workflow allows (the pipeline's runTimeout, 14 days unless set)",
    fix: 'Lower "maxTrainingHours", or drop fewer files into the family at once (its runs train one after another), then drop the file again.',
  },
  FAILED: {
    status: 'FAILED',
    code: 'execution_failed',
    message: 'the workflow failed before it could record the run',
    fix: 'See the execution in the Step Functions console; drop the file again when the cause is fixed.',
  },
};

/**
 * Every run ends in a recorded state, even when its workflow ended without recording it: stopped from
 * the console or by `tunedrop cancel`, timed out, or failed in Record itself. Step Functions reports
 * the end through EventBridge; this records it and cancels a provider job that is still training, so
 * nothing keeps costing money. A run already recorded keeps its status and cause.
 *
 * A job the run already names is cancelled before the end is recorded, so whoever sees the run ended
 * sees its job ended too. Create job may still be running, though (a stopped execution does not stop
 * its Lambda), so the job is looked for again once the end is recorded: if Create job recorded its job
 * before the end was, the recorded item names it; if after, Create job finds the run ended and cancels
 * the job itself; and a job made but not yet recorded is found by its run id. In every order the job
 * ends cancelled.
 */
export async function reconcileRun(
  event: ExecutionEnded,
  deps: ReconcileDeps,
): Promise<{ runId: string; status: RunStatus | 'unknown'; changed: boolean }> {
  let run = await deps.runs.get(event.runId);
  if (run && runKindOf(run) === 'embeddings') return reconcileEmbeddingRun(run, event, deps);
  // Releasing is harmless where the run held nothing; without its item, its provider is not known.
  for (const name of run ? [providerOf(run)] : deps.providers) await deps.slots(name).release(event.runId);
  await deps.handOver().catch((error: unknown) => deps.onHandOverError?.(error));
  if (!run) {
    // No item to record on, but a job made for the run would still train for nobody.
    for (const name of deps.providers) {
      const provider = await deps.provider(name).catch((error: unknown) => {
        // A provider whose credentials were never set has no job of this run's.
        if (error instanceof ApiKeyNotSetError) return undefined;
        throw error;
      });
      const orphan = await provider?.findJobByRunId(event.runId);
      if (provider && orphan) await cancelIfRunning(provider, orphan);
    }
    return { runId: event.runId, status: 'unknown', changed: false };
  }
  const provider = await deps.provider(providerOf(run));

  let changed = false;
  let job: ProviderJob | undefined;
  if (!TERMINAL_STATUSES.has(run.status)) {
    if (run.providerJobId) job = await cancelIfRunning(provider, await provider.getJob(run.providerJobId));
    const outcome = OUTCOME[event.status];
    const updated = await deps.runs.advance(run.runId, outcome.status, {
      ...(job ? { providerStatus: job.status } : {}),
      error: {
        name: `Execution${event.status === 'ABORTED' ? 'Stopped' : event.status === 'TIMED_OUT' ? 'TimedOut' : 'Failed'}`,
        code: outcome.code,
        // The execution's cause is a task's error as Step Functions kept it: stored masked.
        message: event.cause ? redactSecrets(`${outcome.message}: ${event.cause}`) : outcome.message,
        fix: outcome.fix,
      },
    });
    if (updated) [run, changed] = [updated, true];
    if (updated)
      deps.metrics?.runEnded({ family: run.family, provider: providerOf(run), status: outcome.status });
    else run = (await deps.runs.get(run.runId)) ?? run; // recorded by someone else meanwhile
  }

  // The run has ended, whoever recorded it. Its job, unless handled above or recorded as finished:
  const settled = job !== undefined && job.id === run.providerJobId;
  const finished = run.providerStatus !== undefined && phaseOf(run.providerStatus) !== 'running';
  if (!settled && !(run.providerJobId && finished)) {
    const found = run.providerJobId
      ? await provider.getJob(run.providerJobId)
      : await provider.findJobByRunId(run.runId);
    if (found) job = await cancelIfRunning(provider, found);
  }
  if (job && (job.id !== run.providerJobId || job.status !== run.providerStatus)) {
    run =
      (await deps.runs.recordLateJob(run.runId, { providerJobId: job.id, providerStatus: job.status })) ??
      run;
  }
  // Whoever recorded the end, the report says it: Record may have failed before amending it.
  await amendReport(run, deps);
  if (deps.familyTurn) await endFamilyTurn(run.runId, deps.familyTurn(run.family), deps.onHandOverError);
  return { runId: run.runId, status: run.status, changed };
}

/**
 * An embedding run whose workflow ended without recording it: its end recorded as for a training run, and
 * its batches still running cancelled (it holds no slot, no family lane and no provider job).
 */
async function reconcileEmbeddingRun(
  run: RunRecord,
  event: ExecutionEnded,
  deps: ReconcileDeps,
): Promise<{ runId: string; status: RunStatus; changed: boolean }> {
  let changed = false;
  if (!TERMINAL_STATUSES.has(run.status)) {
    const outcome =
      event.status === 'TIMED_OUT'
        ? {
            ...OUTCOME.TIMED_OUT,
            message: `the embedding run took longer than its workflow allows (${EMBEDDING_RUN_TIMEOUT_DAYS} days: a batch's 24-hour window, its retry's, and a margin)`,
          }
        : OUTCOME[event.status];
    const updated = await deps.runs.advance(run.runId, outcome.status, {
      error: {
        name: `Execution${event.status === 'ABORTED' ? 'Stopped' : event.status === 'TIMED_OUT' ? 'TimedOut' : 'Failed'}`,
        code: outcome.code,
        message: event.cause ? redactSecrets(`${outcome.message}: ${event.cause}`) : outcome.message,
        fix: 'Drop the file again to start a new run.',
      },
    });
    if (updated) {
      changed = true;
      run = updated;
      deps.metrics?.runEnded({ family: run.family, provider: providerOf(run), status: outcome.status });
    } else run = (await deps.runs.get(run.runId)) ?? run;
  }
  const batchIds = run.embedding?.batchIds ?? [];
  const batches = batchIds.length ? await deps.embeddingBatches?.(providerOf(run)) : undefined;
  for (const batchId of batchIds) {
    const state = await batches?.state(batchId);
    if (state?.status === 'pending') await batches!.cancel(batchId);
  }
  return { runId: run.runId, status: run.status, changed };
}

/** The provider of a run's item; items from before there were other providers trained on OpenAI. */
function providerOf(run: RunRecord): ProviderName {
  return (PROVIDERS as readonly string[]).includes(run.provider ?? '')
    ? (run.provider as ProviderName)
    : 'openai';
}
