import { Metrics } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import {
  flushEmissions,
  metricsRecorder,
  runMetricsMiddleware,
  type MetricEmission,
  type MetricsSink,
} from '../../functions/adapters/run-metrics.js';
import { METRIC_NAMES } from '../../functions/core/metrics.js';
import { metricsOfLine } from '../../local/cloud/metrics.js';

/** The metrics port as values, and the flush as EMF lines (Powertools' own, read back as CloudWatch would). */
const recorded = () => {
  const emissions: MetricEmission[] = [];
  return { emissions, metrics: metricsRecorder((e) => emissions.push(e)) };
};

describe('metricsRecorder', () => {
  it('counts a run started, rejected (by family and provider, and by reason) and ended', () => {
    const { emissions, metrics } = recorded();
    metrics.runStarted({ family: 'support', provider: 'openai' });
    metrics.runRejected({ family: 'support', provider: 'bedrock', reason: 'invalid_json' });
    metrics.runEnded({ family: 'support', provider: 'openai', status: 'FAILED', costUsd: 3 });
    expect(emissions).toEqual([
      { name: 'RunsStarted', unit: 'Count', value: 1, dimensions: { family: 'support', provider: 'openai' } },
      {
        name: 'RunsRejected',
        unit: 'Count',
        value: 1,
        dimensions: { family: 'support', provider: 'bedrock' },
      },
      { name: 'RunsRejected', unit: 'Count', value: 1, dimensions: { reason: 'invalid_json' } },
      // No cost on a run that did not succeed, even when given.
      {
        name: 'RunsEnded',
        unit: 'Count',
        value: 1,
        dimensions: { family: 'support', provider: 'openai', status: 'FAILED' },
      },
      // By status alone too, for the failed-run alarm.
      { name: 'RunsEnded', unit: 'Count', value: 1, dimensions: { status: 'FAILED' } },
    ]);
  });

  it('gives a succeeded run its cost and trained tokens; provider calls their latency and errors; the gauges', () => {
    const { emissions, metrics } = recorded();
    metrics.runEnded({
      family: 'f',
      provider: 'azure-openai',
      status: 'SUCCEEDED',
      costUsd: 0.25,
      trainedTokens: 5000,
    });
    metrics.providerCall({ provider: 'openai', latencyMs: 12.5, failed: false });
    metrics.providerCall({ provider: 'openai', latencyMs: 40, failed: true });
    metrics.runsWaiting({ provider: 'openai', count: 2 });
    metrics.runsWaiting({ family: 'f', count: 1 });
    metrics.runsStuck(3);
    expect(emissions.map((e) => [e.name, e.unit, e.value, e.dimensions])).toEqual([
      ['RunsEnded', 'Count', 1, { family: 'f', provider: 'azure-openai', status: 'SUCCEEDED' }],
      ['RunsEnded', 'Count', 1, { status: 'SUCCEEDED' }],
      ['CostUsd', 'None', 0.25, { family: 'f', provider: 'azure-openai' }],
      ['CostUsd', 'None', 0.25, {}],
      ['TrainedTokens', 'Count', 5000, { family: 'f', provider: 'azure-openai' }],
      ['ProviderCallLatency', 'Milliseconds', 12.5, { provider: 'openai' }],
      ['ProviderCallLatency', 'Milliseconds', 40, { provider: 'openai' }],
      ['ProviderCallErrors', 'Count', 1, { provider: 'openai' }],
      ['RunsWaiting', 'Count', 2, { provider: 'openai' }],
      ['RunsWaiting', 'Count', 1, { family: 'f' }],
      // Service only: the one series the RunStuck alarm watches.
      ['RunsStuck', 'Count', 3, {}],
    ]);
    // Every metric the recorder can emit is one of the documented names, and the other way round.
    const { emissions: all, metrics: every } = recorded();
    every.runStarted({ family: 'f', provider: 'openai' });
    every.runRejected({ family: 'f', provider: 'openai', reason: 'x' });
    every.runEnded({ family: 'f', provider: 'openai', status: 'SUCCEEDED', costUsd: 1, trainedTokens: 1 });
    every.providerCall({ provider: 'openai', latencyMs: 1, failed: true });
    every.runsWaiting({ family: 'f', count: 0 });
    every.runsStuck(0);
    expect(new Set(all.map((e) => e.name))).toEqual(new Set(METRIC_NAMES));
  });
});

describe('flushEmissions', () => {
  /** A real Powertools Metrics whose lines are captured instead of printed. */
  function capturing() {
    const lines: string[] = [];
    const metrics = new Metrics({ namespace: 'Tunedrop', serviceName: 'tunedrop' });
    (metrics as unknown as { console: Pick<Console, 'log'> }).console = {
      log: (line: string) => lines.push(line),
    };
    return { lines, metrics };
  }

  it('writes one EMF line per set of dimensions, with service, and forgets what it wrote', () => {
    const { lines, metrics: sink } = capturing();
    const { emissions, metrics } = recorded();
    metrics.runRejected({ family: 'support', provider: 'openai', reason: 'invalid_json' });
    metrics.providerCall({ provider: 'openai', latencyMs: 10, failed: false });
    metrics.providerCall({ provider: 'openai', latencyMs: 30, failed: true });
    const errors: unknown[] = [];
    flushEmissions(emissions, sink, (e) => errors.push(e));
    expect(errors).toEqual([]);
    expect(emissions).toEqual([]);
    expect(lines).toHaveLength(3);
    const read = lines.flatMap((line) => metricsOfLine('fn', line));
    expect(
      read.map(({ name, dimensions, value, unit, namespace }) => ({
        name,
        dimensions,
        value,
        unit,
        namespace,
      })),
    ).toEqual([
      {
        namespace: 'Tunedrop',
        name: 'RunsRejected',
        dimensions: { service: 'tunedrop', family: 'support', provider: 'openai' },
        value: 1,
        unit: 'Count',
      },
      {
        namespace: 'Tunedrop',
        name: 'RunsRejected',
        dimensions: { service: 'tunedrop', reason: 'invalid_json' },
        value: 1,
        unit: 'Count',
      },
      // Two values of one metric in one line: a list, each counted.
      {
        namespace: 'Tunedrop',
        name: 'ProviderCallLatency',
        dimensions: { service: 'tunedrop', provider: 'openai' },
        value: 10,
        unit: 'Milliseconds',
      },
      {
        namespace: 'Tunedrop',
        name: 'ProviderCallLatency',
        dimensions: { service: 'tunedrop', provider: 'openai' },
        value: 30,
        unit: 'Milliseconds',
      },
      {
        namespace: 'Tunedrop',
        name: 'ProviderCallErrors',
        dimensions: { service: 'tunedrop', provider: 'openai' },
        value: 1,
        unit: 'Count',
      },
    ]);
    flushEmissions(emissions, sink, (e) => errors.push(e));
    expect(lines).toHaveLength(3);
  });

  it('never throws: a line that cannot be written is reported and the others are written', () => {
    const published: string[] = [];
    let dimensions: Record<string, string> = {};
    const sink: MetricsSink = {
      addDimension(name, value) {
        if (value === 'broken') throw new RangeError('refused');
        dimensions[name] = value;
        return this as never;
      },
      addMetric: () => sink as never,
      publishStoredMetrics() {
        published.push(JSON.stringify(dimensions));
        return sink as never;
      },
      clearMetrics: () => undefined,
      clearDimensions: () => void (dimensions = {}),
    };
    const { emissions, metrics } = recorded();
    metrics.runStarted({ family: 'broken', provider: 'openai' });
    metrics.runStarted({ family: 'fine', provider: 'openai' });
    const errors: unknown[] = [];
    expect(() => flushEmissions(emissions, sink, (e) => errors.push(e))).not.toThrow();
    expect(errors).toEqual([expect.any(RangeError)]);
    expect(published).toEqual([JSON.stringify({ family: 'fine', provider: 'openai' })]);
  });
});

describe('runMetricsMiddleware', () => {
  it("leaves a handler's answer and error as they were", async () => {
    const ok = middy(async () => 'answer').use(runMetricsMiddleware());
    await expect(ok({}, {} as never)).resolves.toBe('answer');
    const failing = middy(async () => {
      throw new Error('the step failed');
    }).use(runMetricsMiddleware());
    await expect(failing({}, {} as never)).rejects.toThrow('the step failed');
  });
});
