import type { ProviderName } from './catalog.js';

/**
 * The custom metrics tunedrop publishes (namespace "Tunedrop", as CloudWatch embedded metric format
 * lines; functions/adapters/run-metrics.ts). Each is emitted by the step that knows the fact, through the
 * RunMetrics port, so the steps stay free of AWS and tests can count what they emit.
 *
 * Dimensions are kept few and bounded: `family` and `provider` where they apply, `status` (a run's end),
 * `reason` (an issue code of docs/validation-report.md); never a run id.
 */
export const METRIC_NAMES = [
  /** A run whose file passed validation and whose workflow was started. Count; family, provider. */
  'RunsStarted',
  /**
   * A run whose file was rejected. Count; family, provider — and once more with `reason`, the first
   * error's issue code, alone.
   */
  'RunsRejected',
  /**
   * A run that ended after starting: status SUCCEEDED, SUCCEEDED_NOT_PROMOTED, FAILED, CANCELLED or
   * TIMED_OUT. Count; family, provider, status.
   */
  'RunsEnded',
  /**
   * What a run that trained a model cost (SUCCEEDED or SUCCEEDED_NOT_PROMOTED): its training (the run item's
   * costUsd) and its evaluation's calls (evaluation.costUsd). None; family, provider.
   */
  'CostUsd',
  /** The tokens a run that trained a model trained on. Count; family, provider. */
  'TrainedTokens',
  /** One call to a provider's API, with the SDK's retries. Milliseconds; provider. */
  'ProviderCallLatency',
  /** A provider call that failed after its retries. Count; provider. */
  'ProviderCallErrors',
  /** Runs waiting, sampled by the sweep: for a provider slot (provider) or their family's turn (family). Count. */
  'RunsWaiting',
  /**
   * Runs stuck: not ended, and in their current status longer than the pipeline's stuckRunHours
   * (core/stuck-runs.ts), sampled by the sweep. Count; no dimension but `service`, for the RunStuck alarm.
   */
  'RunsStuck',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

/** How a started run ended, as RunsEnded's `status` says. */
export type RunEnd = 'SUCCEEDED' | 'SUCCEEDED_NOT_PROMOTED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';

/** Which run a metric is about, in the dimensions it is counted by. */
export interface RunDimensions {
  family: string;
  provider: ProviderName;
}

/** The metrics port: steps tell it facts; the adapter turns them into metrics. */
export interface RunMetrics {
  runStarted(run: RunDimensions): void;
  /** `reason`: the first error's issue code. */
  runRejected(run: RunDimensions & { reason: string }): void;
  /** A run's end, as recorded by whoever recorded it (once); cost and tokens on a succeeded run. */
  runEnded(
    run: RunDimensions & { status: RunEnd; costUsd?: number | undefined; trainedTokens?: number | undefined },
  ): void;
  providerCall(call: { provider: ProviderName; latencyMs: number; failed: boolean }): void;
  /** How many runs wait in one queue: a provider's slots or a family's lane. */
  runsWaiting(queue: ({ provider: ProviderName } | { family: string }) & { count: number }): void;
  /** How many runs are stuck in one status (core/stuck-runs.ts), zero included. */
  runsStuck(count: number): void;
}

/** A RunMetrics that drops everything: the default where no metrics are asked for. */
export const NO_METRICS: RunMetrics = {
  runStarted: () => undefined,
  runRejected: () => undefined,
  runEnded: () => undefined,
  providerCall: () => undefined,
  runsWaiting: () => undefined,
  runsStuck: () => undefined,
};
