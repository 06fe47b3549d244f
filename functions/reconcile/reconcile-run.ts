import type { FineTuningProvider, ProviderSlots, RunStore } from '../core/ports.js';
import { TERMINAL_STATUSES, type RunStatus } from '../core/run.js';
import { phaseOf } from '../core/workflow-state.js';

export interface ExecutionEnded {
  /** The execution name, which is the run id. */
  runId: string;
  status: 'ABORTED' | 'TIMED_OUT' | 'FAILED';
  error?: string | undefined;
  cause?: string | undefined;
}

export interface ReconcileDeps {
  runs: RunStore;
  provider: FineTuningProvider;
  slots: ProviderSlots;
}

const OUTCOME: Record<
  ExecutionEnded['status'],
  { status: RunStatus; code: string; message: string; fix: string }
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
    message: 'the run took longer than the workflow allows (72 hours)',
    fix: 'Lower "maxTrainingHours" below the workflow timeout, or split the data, then drop the file again.',
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
 * nothing keeps costing money. A run already recorded is left as it is.
 */
export async function reconcileRun(
  event: ExecutionEnded,
  deps: ReconcileDeps,
): Promise<{ runId: string; status: RunStatus | 'unknown'; changed: boolean }> {
  await deps.slots.release(event.runId);
  const run = await deps.runs.get(event.runId);
  if (!run) return { runId: event.runId, status: 'unknown', changed: false };
  if (TERMINAL_STATUSES.has(run.status)) return { runId: run.runId, status: run.status, changed: false };

  let providerStatus: string | undefined;
  if (run.providerJobId) {
    const job = await deps.provider.getJob(run.providerJobId);
    providerStatus =
      phaseOf(job.status) === 'running' ? (await deps.provider.cancelJob(job.id)).status : job.status;
  }
  const outcome = OUTCOME[event.status];
  const updated = await deps.runs.advance(run.runId, outcome.status, {
    ...(providerStatus ? { providerStatus } : {}),
    error: {
      name: `Execution${event.status === 'ABORTED' ? 'Stopped' : event.status === 'TIMED_OUT' ? 'TimedOut' : 'Failed'}`,
      code: outcome.code,
      message: event.cause ? `${outcome.message}: ${event.cause}` : outcome.message,
      fix: outcome.fix,
    },
  });
  return { runId: run.runId, status: updated?.status ?? run.status, changed: updated !== undefined };
}
