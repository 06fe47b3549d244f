import { Duration } from 'aws-cdk-lib';
import {
  Dashboard,
  GraphWidget,
  GraphWidgetView,
  MathExpression,
  Metric,
  TextWidget,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { MetricName } from '../functions/core/metrics.js';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../functions/adapters/run-metrics.js';

export interface TunedropDashboardProps {
  /** The run workflow: its executions started, failed and timed out. */
  stateMachine: IStateMachine;
  /** The embedding workflow (#15): its executions beside the run workflow's, when the stack has one. */
  embeddingStateMachine?: IStateMachine;
  /** Every function of the deployment: errors, throttles and durations, labelled by construct id. */
  functions: readonly IFunction[];
  /** The dead-letter queue: its depth. */
  deadLetters: IQueue;
  /** The providers the deployment trains on: one latency and error-rate line each. */
  providers: readonly string[];
  /** @default a name CloudFormation makes up (the DashboardUrl output links to it) */
  dashboardName?: string;
  /** The period of the graphs of counts. @default 5 minutes */
  period?: Duration;
}

/**
 * The CloudWatch dashboard a person opens to see what runs, what failed and why, and what it cost: the
 * custom metrics of functions/core/metrics.ts (as metric math SEARCH expressions over their `family`,
 * `provider`, `status` and `reason` dimensions) beside the built-in metrics of the workflow, the
 * functions and the dead-letter queue. No business logic here.
 */
export class TunedropDashboard extends Construct {
  readonly dashboard: Dashboard;
  /** The custom metrics (namespace "Tunedrop") the widgets show, by name: every one must be produced. */
  readonly customMetricNames: readonly MetricName[];

  constructor(scope: Construct, id: string, props: TunedropDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const seconds = period.toSeconds();
    const names = new Set<MetricName>();
    /** SEARCH over one custom metric's series with the given dimensions, filtered by `where`. */
    const search = (
      name: MetricName,
      dimensions: string[],
      stat: string,
      periodSeconds: number,
      where = '',
    ) => {
      names.add(name);
      const schema = [METRICS_NAMESPACE, ...[...dimensions, 'service'].sort()].join(',');
      return `SEARCH('{${schema}} MetricName="${name}" service="${METRICS_SERVICE}"${where}', '${stat}', ${periodSeconds})`;
    };
    const sumOf = (label: string, name: MetricName, dimensions: string[], where = '') =>
      new MathExpression({
        expression: `SUM(${search(name, dimensions, 'Sum', seconds, where)})`,
        label,
        period,
      });
    /** Every series a SEARCH finds, each labelled by its dimensions' values (CloudWatch's dynamic labels). */
    const each = (expression: string, seriesPeriod: Duration, dimensions: string[]) =>
      new MathExpression({
        expression,
        period: seriesPeriod,
        label: dimensions.map((d) => `\${PROP('Dim.${d}')}`).join(' / '),
      });
    const custom = (name: MetricName, dimensionsMap: Record<string, string>, statistic: string) => {
      names.add(name);
      return new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { ...dimensionsMap, service: METRICS_SERVICE },
        statistic,
        period,
      });
    };
    const graph = (
      title: string,
      left: IMetric[],
      extra: Partial<ConstructorParameters<typeof GraphWidget>[0]> = {},
    ) => new GraphWidget({ title, left, width: 12, height: 6, ...extra });
    const ended = (status: string) =>
      sumOf(status.toLowerCase(), 'RunsEnded', ['family', 'provider', 'status'], ` status="${status}"`);
    const day = Duration.days(1);
    const month = Duration.days(30);
    const labelled = (fn: IFunction) => (fn instanceof Construct ? fn.node.id : fn.functionName);

    this.dashboard = new Dashboard(this, 'Resource', {
      ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# tunedrop\nRuns, their cost and what went wrong. Custom metrics: namespace `Tunedrop` ' +
          '(functions/core/metrics.ts); a run\'s own lines: CloudWatch Logs Insights, `filter runId = "…"`.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Runs', [
        sumOf('started', 'RunsStarted', ['family', 'provider']),
        ended('SUCCEEDED'),
        ended('SUCCEEDED_NOT_PROMOTED'),
        ended('FAILED'),
        sumOf('rejected', 'RunsRejected', ['family', 'provider']),
        ended('CANCELLED'),
        ended('TIMED_OUT'),
      ]),
      graph('Runs waiting (provider slot, family turn)', [
        each(search('RunsWaiting', ['provider'], 'Maximum', seconds), period, ['provider']),
        each(search('RunsWaiting', ['family'], 'Maximum', seconds), period, ['family']),
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Cost per day (USD) by family and provider',
        [
          each(search('CostUsd', ['family', 'provider'], 'Sum', day.toSeconds()), day, [
            'family',
            'provider',
          ]),
        ],
        { stacked: true, period: day },
      ),
      graph(
        'Cost over 30 days (USD) by family and provider',
        [
          each(search('CostUsd', ['family', 'provider'], 'Sum', month.toSeconds()), month, [
            'family',
            'provider',
          ]),
        ],
        { view: GraphWidgetView.BAR, period: month },
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Trained tokens by family and provider',
        [
          each(search('TrainedTokens', ['family', 'provider'], 'Sum', day.toSeconds()), day, [
            'family',
            'provider',
          ]),
        ],
        { stacked: true, period: day },
      ),
      graph(
        'Rejections by reason (issue code)',
        [each(search('RunsRejected', ['reason'], 'Sum', seconds), period, ['reason'])],
        { stacked: true },
      ),
    );
    // What needs a person, side by side: workflows that broke, events that gave up, runs that stopped moving.
    const executions = (title: string, machine: IStateMachine, width: number) =>
      graph(
        title,
        [
          machine.metricStarted({ period, label: 'started' }),
          machine.metricFailed({ period, label: 'failed' }),
          machine.metricTimedOut({ period, label: 'timed out' }),
        ],
        { width },
      );
    // Four widgets of 6 with the embedding workflow, three of 8 without: one row of 24 either way.
    const width = props.embeddingStateMachine ? 6 : 8;
    this.dashboard.addWidgets(
      executions('Run workflow executions', props.stateMachine, width),
      ...(props.embeddingStateMachine
        ? [executions('Embedding workflow executions', props.embeddingStateMachine, width)]
        : []),
      graph(
        'Dead letters waiting',
        [props.deadLetters.metricApproximateNumberOfMessagesVisible({ period, label: 'messages' })],
        { width },
      ),
      graph(
        'Runs stuck (in one status longer than stuckRunHours)',
        [custom('RunsStuck', {}, 'Maximum').with({ label: 'runs stuck' })],
        { width },
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Provider call latency (p90, ms)',
        props.providers.map((provider) => {
          const latency = custom('ProviderCallLatency', { provider }, 'p90');
          return latency.with({ label: provider });
        }),
      ),
      graph(
        'Provider call error rate (%)',
        props.providers.map(
          (provider, i) =>
            new MathExpression({
              expression: `100 * FILL(errors${i}, 0) / calls${i}`,
              usingMetrics: {
                [`errors${i}`]: custom('ProviderCallErrors', { provider }, 'Sum'),
                [`calls${i}`]: custom('ProviderCallLatency', { provider }, 'SampleCount'),
              },
              label: provider,
              period,
            }),
        ),
      ),
    );
    const perFunction = (title: string, metric: (fn: IFunction) => IMetric) =>
      graph(title, props.functions.map(metric), { width: 8 });
    this.dashboard.addWidgets(
      perFunction('Lambda errors', (fn) => fn.metricErrors({ period, label: labelled(fn) })),
      perFunction('Lambda throttles', (fn) => fn.metricThrottles({ period, label: labelled(fn) })),
      perFunction('Lambda duration (p90)', (fn) =>
        fn.metricDuration({ period, statistic: 'p90', label: labelled(fn) }),
      ),
    );
    this.customMetricNames = [...names];
  }
}
