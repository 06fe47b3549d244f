import { TRAINED_STATUSES } from '../core/run.js';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricName, RunMetrics } from '../core/metrics.js';

/**
 * The RunMetrics port as CloudWatch metrics: embedded metric format lines on stdout (Powertools
 * Metrics), which Lambda's log delivery turns into metrics of the namespace "Tunedrop". Facts are kept
 * until the invocation ends, then written (flushRunMetrics, from runMetricsMiddleware): one line per set
 * of dimensions, every line with `service` = "tunedrop".
 */
export const METRICS_NAMESPACE = 'Tunedrop';
export const METRICS_SERVICE = 'tunedrop';

export type MetricUnitName = (typeof MetricUnit)[keyof typeof MetricUnit];

/** One metric value, with the dimensions it is counted by (besides `service`). */
export interface MetricEmission {
  name: MetricName;
  unit: MetricUnitName;
  value: number;
  dimensions: Record<string, string>;
}

/** A RunMetrics that turns each fact into the metric values it stands for and hands them to `emit`. */
export function metricsRecorder(emit: (emission: MetricEmission) => void): RunMetrics {
  const count = (name: MetricName, dimensions: Record<string, string>) =>
    emit({ name, unit: MetricUnit.Count, value: 1, dimensions });
  return {
    runStarted: ({ family, provider }) => count('RunsStarted', { family, provider }),
    runRejected: ({ family, provider, reason }) => {
      count('RunsRejected', { family, provider });
      count('RunsRejected', { reason });
    },
    runEnded: ({ family, provider, status, costUsd, trainedTokens }) => {
      count('RunsEnded', { family, provider, status });
      // By status alone too: CloudWatch alarms cannot SEARCH, so the failed-run alarm needs one series.
      count('RunsEnded', { status });
      if (!TRAINED_STATUSES.has(status)) return;
      if (costUsd !== undefined) {
        emit({ name: 'CostUsd', unit: MetricUnit.NoUnit, value: costUsd, dimensions: { family, provider } });
        // And the total (service only), for the cost alarms (lib/notifications.ts).
        emit({ name: 'CostUsd', unit: MetricUnit.NoUnit, value: costUsd, dimensions: {} });
      }
      if (trainedTokens !== undefined)
        emit({
          name: 'TrainedTokens',
          unit: MetricUnit.Count,
          value: trainedTokens,
          dimensions: { family, provider },
        });
    },
    providerCall: ({ provider, latencyMs, failed }) => {
      emit({
        name: 'ProviderCallLatency',
        unit: MetricUnit.Milliseconds,
        value: latencyMs,
        dimensions: { provider },
      });
      if (failed) count('ProviderCallErrors', { provider });
    },
    runsWaiting: ({ count: waiting, ...queue }) =>
      emit({
        name: 'RunsWaiting',
        unit: MetricUnit.Count,
        value: waiting,
        dimensions: 'provider' in queue ? { provider: queue.provider } : { family: queue.family },
      }),
    // Service only: one series the RunStuck alarm watches (lib/notifications.ts).
    runsStuck: (stuck) => emit({ name: 'RunsStuck', unit: MetricUnit.Count, value: stuck, dimensions: {} }),
  };
}

/** What of Powertools' Metrics the flush uses; tests pass a fake. */
export type MetricsSink = Pick<
  Metrics,
  'addDimension' | 'addMetric' | 'publishStoredMetrics' | 'clearMetrics' | 'clearDimensions'
>;

/**
 * Writes the kept values, one EMF line per set of dimensions (values of the same metric in one line
 * become a list, which CloudWatch counts one by one), and forgets them. Never throws: a metric that
 * cannot be written is reported to `onError` and the invocation's outcome stands.
 */
export function flushEmissions(
  emissions: MetricEmission[],
  sink: MetricsSink,
  onError: (error: unknown) => void,
): void {
  const groups = new Map<string, MetricEmission[]>();
  for (const emission of emissions.splice(0)) {
    const key = JSON.stringify(Object.entries(emission.dimensions).sort(([a], [b]) => a.localeCompare(b)));
    groups.set(key, [...(groups.get(key) ?? []), emission]);
  }
  for (const group of groups.values()) {
    try {
      for (const [name, value] of Object.entries(group[0]!.dimensions)) sink.addDimension(name, value);
      for (const { name, unit, value } of group) sink.addMetric(name, unit, value);
      sink.publishStoredMetrics();
    } catch (error) {
      try {
        sink.clearMetrics();
        sink.clearDimensions();
      } catch {
        // nothing more to do: the next flush starts with whatever is left
      }
      onError(error);
    }
  }
}

/** The one Metrics instance of a function's execution environment. */
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
const kept: MetricEmission[] = [];

/** The functions' RunMetrics: what it is told is written when the invocation ends. */
export const runMetrics: RunMetrics = metricsRecorder((emission) => kept.push(emission));

/** Writes what this invocation's steps told runMetrics; logs (never throws) when it cannot. */
export function flushRunMetrics(onError: (error: unknown) => void = () => undefined): void {
  flushEmissions(kept, metrics, onError);
}

/**
 * Middy middleware that writes the invocation's metrics when the handler returns or throws; a failure
 * to write them is reported to `onError` and changes neither the answer nor the error.
 */
export function runMetricsMiddleware(onError: (error: unknown) => void = () => undefined) {
  const flush = async () => flushRunMetrics(onError);
  return { after: flush, onError: flush };
}
