import { LOCAL_ACCOUNT, type LocalAlarm } from '../template.js';

/**
 * CloudWatch alarms, locally: the template's alarms evaluated against the metrics the local cloud sees
 * (the functions' EMF metrics, local/cloud/metrics.ts; Step Functions' executions ended; the SQS queues'
 * depth), a change of state published to the alarm's actions as CloudWatch does, in CloudWatch's message.
 *
 * What it does: static-threshold alarms on one metric (Namespace, MetricName, Dimensions, Statistic Sum,
 * Average, Minimum, Maximum or SampleCount, Period, EvaluationPeriods, DatapointsToAlarm, Threshold, the
 * four comparison operators, TreatMissingData), and metric-math alarms whose expression adds metrics
 * (`a + b`). A metric's datapoints are matched by exactly the alarm's dimensions, as CloudWatch does. The
 * period is scaled by the local cloud's time scale (a 5-minute period lasts 0.5 s at 1/600); periods are
 * aligned to the epoch. Every change of state (INSUFFICIENT_DATA, OK, ALARM) is published to the alarm's
 * AlarmActions, OKActions or InsufficientDataActions that are SNS topics.
 *
 * What it does not: anomaly detection, percentiles, M-of-N reasons worded exactly as CloudWatch, other
 * math functions, metrics no local service produces (Lambda's, a function's errors or durations; they
 * are missing data here), the one-minute delay of CloudWatch's own metrics, or actions other than SNS.
 */

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** One metric as an alarm names it. */
export interface MetricSpec {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
}

export interface Datapoint {
  /** Epoch milliseconds. */
  timestamp: number;
  value: number;
}

export interface LocalAlarmsOptions {
  /** Every datapoint of a metric with exactly these dimensions (the caller keeps them). */
  datapoints(metric: MetricSpec): Datapoint[];
  /** Publishes to an SNS topic as cloudwatch.amazonaws.com for the alarm; the refusal, or undefined. */
  publish(alarm: LocalAlarm, topicArn: string, subject: string, message: string): Promise<string | undefined>;
  /** Real seconds per simulated second: periods are scaled by it. @default 1 */
  timeScale?: number;
  /** A notification that could not be published (the topic policy refused it). */
  onRefused?(alarm: LocalAlarm, topicArn: string, reason: string): void;
}

interface MathMetric {
  id: string;
  expression?: string;
  metric?: MetricSpec;
  stat?: string;
  period?: number;
  returnData: boolean;
}

/** An alarm's definition as this module reads it from the template's properties. */
export interface AlarmDefinition {
  name: string;
  description?: string;
  arn: string;
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparison: string;
  treatMissingData: string;
  statistic?: string;
  metric?: MetricSpec;
  metrics?: MathMetric[];
  alarmActions: string[];
  okActions: string[];
  insufficientDataActions: string[];
}

const COMPARISONS: Record<string, (value: number, threshold: number) => boolean> = {
  GreaterThanOrEqualToThreshold: (v, t) => v >= t,
  GreaterThanThreshold: (v, t) => v > t,
  LessThanThreshold: (v, t) => v < t,
  LessThanOrEqualToThreshold: (v, t) => v <= t,
};
const COMPARISON_WORDS: Record<string, string> = {
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  GreaterThanThreshold: 'greater than',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

/** Reads an AWS::CloudWatch::Alarm's properties; throws on what local evaluation does not do. */
export function alarmDefinition(alarm: LocalAlarm): AlarmDefinition {
  const p = alarm.properties as Record<string, unknown>;
  const dimensions = (list: unknown) =>
    Object.fromEntries(
      ((list ?? []) as Array<{ Name: string; Value: string }>).map((d) => [d.Name, String(d.Value)]),
    );
  const comparison = String(p.ComparisonOperator);
  if (!COMPARISONS[comparison])
    throw new Error(`alarm ${alarm.logicalId}: local mode does not evaluate ${comparison}`);
  const evaluationPeriods = Number(p.EvaluationPeriods ?? 1);
  const base = {
    name: alarm.name,
    ...(typeof p.AlarmDescription === 'string' ? { description: p.AlarmDescription } : {}),
    arn: alarm.arn,
    evaluationPeriods,
    datapointsToAlarm: Number(p.DatapointsToAlarm ?? evaluationPeriods),
    threshold: Number(p.Threshold),
    comparison,
    treatMissingData: String(p.TreatMissingData ?? 'missing'),
    alarmActions: ((p.AlarmActions ?? []) as unknown[]).map(String),
    okActions: ((p.OKActions ?? []) as unknown[]).map(String),
    insufficientDataActions: ((p.InsufficientDataActions ?? []) as unknown[]).map(String),
  };
  if (p.Metrics) {
    const metrics = (p.Metrics as Array<Record<string, unknown>>).map((m): MathMetric => {
      const stat = m.MetricStat as
        | {
            Metric: { Namespace: string; MetricName: string; Dimensions?: unknown };
            Period: number;
            Stat: string;
          }
        | undefined;
      return {
        id: String(m.Id),
        ...(typeof m.Expression === 'string' ? { expression: m.Expression } : {}),
        ...(stat
          ? {
              metric: {
                namespace: stat.Metric.Namespace,
                metricName: stat.Metric.MetricName,
                dimensions: dimensions(stat.Metric.Dimensions),
              },
              stat: stat.Stat,
              period: Number(stat.Period),
            }
          : {}),
        returnData: m.ReturnData !== false,
      };
    });
    const result = metrics.find((m) => m.returnData);
    if (!result) throw new Error(`alarm ${alarm.logicalId} returns no data`);
    const period = Number(result.period ?? metrics.find((m) => m.period)?.period ?? p.Period);
    if (result.expression !== undefined && !/^\s*\w+(\s*\+\s*\w+)*\s*$/.test(result.expression))
      throw new Error(
        `alarm ${alarm.logicalId}: local mode evaluates only sums of metrics, not ${result.expression}`,
      );
    return { ...base, period, metrics };
  }
  if (p.ExtendedStatistic !== undefined)
    throw new Error(`alarm ${alarm.logicalId}: local mode does not evaluate percentiles`);
  return {
    ...base,
    period: Number(p.Period),
    statistic: String(p.Statistic),
    metric: {
      namespace: String(p.Namespace),
      metricName: String(p.MetricName),
      dimensions: dimensions(p.Dimensions),
    },
  };
}

/** A statistic of the values, or undefined for none. */
export function statistic(stat: string, values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'SampleCount':
      return values.length;
    default:
      throw new Error(`local mode does not compute the statistic ${stat}`);
  }
}

/** What CloudWatch names us-east-1 in its notifications. */
const REGION_NAME = 'US East (N. Virginia)';

/** CloudWatch's time format in notifications: `2015-06-03T17:43:27.123+0000`. */
function cloudWatchTime(at: Date): string {
  return at.toISOString().replace('Z', '+0000');
}

/**
 * The notification CloudWatch publishes on a change of state: the subject `ALARM: "<name>" in <region>`
 * and a JSON message with the alarm, the states, the reason and the Trigger (the metric, or the metric
 * math's Metrics). Its shape follows AWS's own test payload for CloudWatch alarm notifications
 * (aws/aws-lambda-go, events/testdata/cloudwatch-alarm-sns-payload-single-metric.json, read 2026-11-30).
 */
export function alarmNotification(
  alarm: AlarmDefinition,
  change: { oldState: AlarmState; newState: AlarmState; reason: string; at: Date },
): { subject: string; message: string } {
  const dims = (d: Record<string, string>) => Object.entries(d).map(([name, value]) => ({ value, name }));
  const trigger = alarm.metric
    ? {
        MetricName: alarm.metric.metricName,
        Namespace: alarm.metric.namespace,
        StatisticType: 'Statistic',
        Statistic: alarm.statistic!.toUpperCase(),
        Unit: null,
        Dimensions: dims(alarm.metric.dimensions),
      }
    : {
        Metrics: alarm.metrics!.map((m) =>
          m.expression !== undefined
            ? { Expression: m.expression, Id: m.id, ReturnData: m.returnData }
            : {
                Id: m.id,
                MetricStat: {
                  Metric: {
                    Dimensions: dims(m.metric!.dimensions),
                    MetricName: m.metric!.metricName,
                    Namespace: m.metric!.namespace,
                  },
                  Period: m.period,
                  Stat: m.stat,
                },
                ReturnData: m.returnData,
              },
        ),
      };
  const message = {
    AlarmName: alarm.name,
    AlarmDescription: alarm.description ?? null,
    AWSAccountId: LOCAL_ACCOUNT,
    NewStateValue: change.newState,
    NewStateReason: change.reason,
    StateChangeTime: cloudWatchTime(change.at),
    Region: REGION_NAME,
    AlarmArn: alarm.arn,
    OldStateValue: change.oldState,
    OKActions: alarm.okActions,
    AlarmActions: alarm.alarmActions,
    InsufficientDataActions: alarm.insufficientDataActions,
    Trigger: {
      ...trigger,
      Period: alarm.period,
      EvaluationPeriods: alarm.evaluationPeriods,
      DatapointsToAlarm: alarm.datapointsToAlarm,
      ComparisonOperator: alarm.comparison,
      Threshold: alarm.threshold,
      TreatMissingData: alarm.treatMissingData,
      EvaluateLowSampleCountPercentile: '',
    },
  };
  return {
    subject: `${change.newState}: "${alarm.name}" in ${REGION_NAME}`.slice(0, 100),
    message: JSON.stringify(message),
  };
}

/**
 * The state an alarm's datapoints put it in at `at`: the last EvaluationPeriods periods (the current one
 * included), each breaching, not breaching or missing; ALARM when at least DatapointsToAlarm breach.
 * Missing periods count as TreatMissingData says (breaching, notBreaching; missing and ignore leave the
 * alarm as it is unless no period has data, which is INSUFFICIENT_DATA).
 */
export function evaluate(
  alarm: AlarmDefinition,
  datapoints: (metric: MetricSpec, stat: string) => Datapoint[],
  at: number,
  periodMs: number,
  current: AlarmState,
): { state: AlarmState; reason: string; values: Array<number | undefined> } {
  const start = Math.floor(at / periodMs) * periodMs;
  const windows = Array.from({ length: alarm.evaluationPeriods }, (_, i) => ({
    from: start - (alarm.evaluationPeriods - 1 - i) * periodMs,
    to: start - (alarm.evaluationPeriods - 2 - i) * periodMs,
  }));
  const valueIn = (metric: MetricSpec, stat: string, from: number, to: number) =>
    statistic(
      stat,
      datapoints(metric, stat)
        .filter((d) => d.timestamp >= from && d.timestamp < to)
        .map((d) => d.value),
    );
  const values = windows.map(({ from, to }) => {
    if (alarm.metric) return valueIn(alarm.metric, alarm.statistic!, from, to);
    const result = alarm.metrics!.find((m) => m.returnData)!;
    const ids =
      result.expression !== undefined ? result.expression.split('+').map((s) => s.trim()) : [result.id];
    const parts = ids.map((id) => {
      const m = alarm.metrics!.find((x) => x.id === id);
      return m?.metric ? valueIn(m.metric, m.stat!, from, to) : undefined;
    });
    // CloudWatch's metric math: a sum of series with no data in a period has no data there.
    return parts.every((v) => v === undefined) ? undefined : parts.reduce<number>((a, v) => a + (v ?? 0), 0);
  });
  const compare = COMPARISONS[alarm.comparison]!;
  const breaching = values.filter((v) =>
    v === undefined ? alarm.treatMissingData === 'breaching' : compare(v, alarm.threshold),
  ).length;
  const present = values.filter((v) => v !== undefined);
  const words = COMPARISON_WORDS[alarm.comparison]!;
  const shown = `[${present.map((v) => v!.toFixed(1)).join(', ')}]`;
  if (breaching >= alarm.datapointsToAlarm)
    return {
      state: 'ALARM',
      reason: `Threshold Crossed: ${breaching} out of the last ${alarm.evaluationPeriods} datapoints ${shown} was ${words} the threshold (${alarm.threshold.toFixed(1)}) (minimum ${alarm.datapointsToAlarm} datapoint for OK -> ALARM transition).`,
      values,
    };
  if (
    present.length === 0 &&
    alarm.treatMissingData !== 'notBreaching' &&
    alarm.treatMissingData !== 'breaching'
  )
    return {
      state:
        current === 'INSUFFICIENT_DATA' || alarm.treatMissingData === 'missing'
          ? 'INSUFFICIENT_DATA'
          : current,
      reason: 'Insufficient Data: no datapoints were received for the evaluation periods.',
      values,
    };
  return {
    state: 'OK',
    reason: `Threshold Crossed: ${present.length} datapoints ${shown} were not ${words} the threshold (${alarm.threshold.toFixed(1)}).`,
    values,
  };
}

/** The stack's alarms, each with its state; `evaluate()` moves them and notifies. */
export class LocalAlarms {
  readonly definitions: AlarmDefinition[] = [];
  /** Alarms local mode does not evaluate, and why. */
  readonly skipped: Array<{ alarm: string; reason: string }> = [];
  private readonly states = new Map<string, AlarmState>();
  private readonly alarms = new Map<string, LocalAlarm>();
  private evaluating: Promise<void> = Promise.resolve();

  constructor(
    alarms: readonly LocalAlarm[],
    private readonly options: LocalAlarmsOptions,
  ) {
    for (const alarm of alarms) {
      try {
        const definition = alarmDefinition(alarm);
        this.definitions.push(definition);
        this.alarms.set(definition.name, alarm);
        this.states.set(definition.name, 'INSUFFICIENT_DATA');
      } catch (error) {
        this.skipped.push({ alarm: alarm.logicalId, reason: (error as Error).message });
      }
    }
  }

  /** Each evaluated alarm's state, by name. */
  state(name: string): AlarmState | undefined {
    return this.states.get(name);
  }

  /** Evaluates every alarm at `at` (now by default), one evaluation at a time; resolves once notified. */
  evaluate(at = Date.now()): Promise<void> {
    this.evaluating = this.evaluating.then(() => this.evaluateNow(at)).catch(() => undefined);
    return this.evaluating;
  }

  private async evaluateNow(at: number): Promise<void> {
    const scale = this.options.timeScale ?? 1;
    for (const definition of this.definitions) {
      const current = this.states.get(definition.name)!;
      const { state, reason } = evaluate(
        definition,
        (metric) => this.options.datapoints(metric),
        at,
        Math.max(1, definition.period * 1000 * scale),
        current,
      );
      if (state === current) continue;
      this.states.set(definition.name, state);
      const actions =
        state === 'ALARM'
          ? definition.alarmActions
          : state === 'OK'
            ? definition.okActions
            : definition.insufficientDataActions;
      const { subject, message } = alarmNotification(definition, {
        oldState: current,
        newState: state,
        reason,
        at: new Date(at),
      });
      for (const topicArn of actions.filter((a) => a.startsWith('arn:aws:sns:'))) {
        const refused = await this.options.publish(
          this.alarms.get(definition.name)!,
          topicArn,
          subject,
          message,
        );
        if (refused) this.options.onRefused?.(this.alarms.get(definition.name)!, topicArn, refused);
      }
    }
  }
}
