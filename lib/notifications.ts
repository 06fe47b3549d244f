import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
  type IAlarm,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { EventField, Rule, RuleTargetInput, type IRuleTarget } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../functions/adapters/run-metrics.js';
import type { MetricName } from '../functions/core/metrics.js';
import { RUN_EVENT_SOURCE, RUN_STATUS_CHANGE } from '../functions/core/run-events.js';
import { runKeys, TERMINAL_STATUSES, TRAINED_STATUSES, type RunKind } from '../functions/core/run.js';
import type { IBucket } from 'aws-cdk-lib/aws-s3';

export interface TunedropNotificationsProps {
  /** The run workflow: its failed and timed-out executions raise an alarm; the summaries link to them. */
  stateMachine: StateMachine;
  /**
   * The embedding workflow's state machine: embedding runs' ends are summarised too, with its execution links.
   * @default none: only training runs are summarised
   */
  embeddingStateMachine?: StateMachine;
  /** The data bucket: a succeeded run's summary links to its report there. */
  bucket: IBucket;
  /** Alarms made elsewhere (the dead-letter alarm) that notify through the topic too. */
  alarms?: readonly IAlarm[];
  /**
   * The key the topic is encrypted with; CloudWatch and EventBridge are let use it (added to its policy
   * when the key can be changed, one created in the same stack).
   * @default a customer managed key made here (rotated): SNS's AWS managed key (alias/aws/sns) cannot be
   * used, its key policy does not let CloudWatch alarms or EventBridge publish to the topic
   */
  encryptionKey?: IKey;
  /**
   * An email address subscribed to the topic (confirmed by the link AWS mails it).
   * @default none: nothing is subscribed
   */
  notifyEmail?: string;
  /**
   * The RunStuck alarm: how long a run may stay in one status before the sweep counts it stuck (the
   * pipeline's stuckRunHours, said in the alarm's description), and how often the sweep counts them.
   */
  stuckRuns: { hours: number; sweepInterval: Duration };
  /**
   * The alarm on the day's cost of succeeded runs (metric CostUsd, US dollars, one-day sum).
   * @default none: no daily cost alarm
   */
  dailyCostAlarmUsd?: number;
  /**
   * The alarm on the month's pace of cost: the last 7 days' cost above 7/30 of this. CloudWatch cannot
   * sum a month in an alarm (period × evaluation periods is at most 7 days), so this says when the spending
   * rate would go over the monthly amount, not when a calendar month has.
   * @default none: no monthly cost alarm
   */
  monthlyCostAlarmUsd?: number;
}

/** The days a monthly threshold is spread over, and the window CloudWatch lets an alarm sum. */
export const MONTH_DAYS = 30;
export const PACE_DAYS = 7;

/**
 * One SNS topic where everything that needs a person goes: the alarms (a failed run, a non-empty
 * dead-letter queue, failed or timed-out workflow executions, a run stuck in one status, cost over the
 * configured thresholds) and a short summary at the end of each run (an EventBridge rule on the run
 * events, an input transformer writing the message: no function). No business logic here.
 */
export class TunedropNotifications extends Construct {
  readonly topic: Topic;
  /** Every alarm that notifies through the topic, by id. */
  readonly alarms: Record<string, IAlarm> = {};
  /** The rules that publish a summary of each ended run: succeeded, rejected, and the other ends. */
  readonly runEndRules: Rule[];

  constructor(scope: Construct, id: string, props: TunedropNotificationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (props.notifyEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(props.notifyEmail))
      throw new Error(`notifyEmail must be an email address, not "${props.notifyEmail}"`);
    for (const [name, value] of Object.entries({
      dailyCostAlarmUsd: props.dailyCostAlarmUsd,
      monthlyCostAlarmUsd: props.monthlyCostAlarmUsd,
    }))
      if (value !== undefined && !(Number.isFinite(value) && value > 0))
        throw new Error(`${name} must be a positive number of US dollars, not ${String(value)}`);

    const key =
      props.encryptionKey ??
      new Key(this, 'TopicKey', {
        description: 'tunedrop: encrypts the notifications topic',
        enableKeyRotation: true,
      });
    // CloudWatch alarms and EventBridge publish to an encrypted topic only if the key policy lets them.
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [
          new ServicePrincipal('cloudwatch.amazonaws.com'),
          new ServicePrincipal('events.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      displayName: 'tunedrop',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.notifyEmail) {
      const email = this.topic.addSubscription(new EmailSubscription(props.notifyEmail));
      acknowledge(
        email,
        'An email SNS could not deliver after its retries is a lost notice, not lost work: the run item, ' +
          'its report and the alarms in the console keep what it said; a dead-letter queue would hold ' +
          'messages nobody redrives to a mailbox.',
        'Serverless-SNSRedrivePolicy',
      );
    }

    // Alarms: CloudWatch publishes as cloudwatch.amazonaws.com, for this account's alarms only.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarms',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
          },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    const notify = (alarmId: string, alarm: IAlarm) => {
      if ('addAlarmAction' in alarm) (alarm as Alarm).addAlarmAction(new SnsAction(this.topic));
      this.alarms[alarmId] = alarm;
    };
    for (const alarm of props.alarms ?? []) notify(alarm.node.id, alarm);

    const runs = (dimensionsMap: Record<string, string>, name: string, period: Duration) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { ...dimensionsMap, service: METRICS_SERVICE },
        statistic: 'Sum',
        period,
      });
    notify(
      'RunFailed',
      new Alarm(this, 'RunFailed', {
        alarmDescription: 'tunedrop: a run FAILED; its report and the run event say why',
        metric: runs({ status: 'FAILED' }, 'RunsEnded', Duration.minutes(5)),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    const period = Duration.minutes(5);
    notify(
      'WorkflowFailures',
      new Alarm(this, 'WorkflowFailures', {
        alarmDescription:
          'tunedrop: a run workflow execution failed or timed out (Step Functions ExecutionsFailed + ExecutionsTimedOut)',
        metric: new MathExpression({
          expression: 'failed + timedOut',
          usingMetrics: {
            failed: props.stateMachine.metricFailed({ period, statistic: 'Sum' }),
            timedOut: props.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
          },
          period,
          label: 'Executions failed or timed out',
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    // Two sweeps' worth: every period holds a sweep's sample even when one runs a little late, so a run
    // still stuck does not flip the alarm to OK and back (each flip a new notification).
    const sweeps = Duration.minutes(props.stuckRuns.sweepInterval.toMinutes() * 2);
    notify(
      'RunStuck',
      new Alarm(this, 'RunStuck', {
        alarmDescription:
          `tunedrop: a run has been in one status longer than ${props.stuckRuns.hours} hours (stuckRunHours); ` +
          'the sweep\'s log (SweepSlots, "runs stuck in one status") names them',
        metric: new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: 'RunsStuck' satisfies MetricName,
          dimensionsMap: { service: METRICS_SERVICE },
          statistic: 'Maximum',
          period: sweeps,
        }),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.dailyCostAlarmUsd !== undefined)
      notify(
        'DailyCost',
        new Alarm(this, 'DailyCost', {
          alarmDescription: `tunedrop: runs cost more than $${props.dailyCostAlarmUsd} in a day`,
          metric: runs({}, 'CostUsd', Duration.days(1)),
          threshold: props.dailyCostAlarmUsd,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    if (props.monthlyCostAlarmUsd !== undefined)
      notify(
        'MonthlyCostPace',
        new Alarm(this, 'MonthlyCostPace', {
          alarmDescription:
            `tunedrop: runs cost more than $${props.monthlyCostAlarmUsd}/month would allow: ` +
            `the last ${PACE_DAYS} days above ${PACE_DAYS}/${MONTH_DAYS} of it`,
          metric: runs({}, 'CostUsd', Duration.days(PACE_DAYS)),
          threshold: Math.round(((props.monthlyCostAlarmUsd * PACE_DAYS) / MONTH_DAYS) * 100) / 100,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );

    // The end of each run: the run event's fields written into a short message (docs/run-events.md), one
    // rule per kind of end, so that each message has the links that exist for it: a succeeded run has its
    // report, a rejected one never had an execution.
    const field = (path: string) => EventField.fromPath(`$.detail.${path}`);
    const runId = field('runId');
    const executionArn = `arn:${stack.partition}:states:${stack.region}:${stack.account}:execution:${props.stateMachine.stateMachineName}:${runId}`;
    const execution = `Execution: https://${stack.region}.console.aws.amazon.com/states/home?region=${stack.region}#/v2/executions/details/${executionArn.replaceAll(':', '%3A')}`;
    const validationReport = `Validation report: ${field('links.validationReport')}`;
    const run = `tunedrop run ${runId} (family ${field('family')})`;
    const embeddingExecution = props.embeddingStateMachine
      ? `Execution: https://${stack.region}.console.aws.amazon.com/states/home?region=${stack.region}#/v2/executions/details/${`arn:${stack.partition}:states:${stack.region}:${stack.account}:execution:${props.embeddingStateMachine.stateMachineName}:${runId}`.replaceAll(':', '%3A')}`
      : undefined;
    const embeddingRun = `tunedrop embedding run ${runId} (collection ${field('family')})`;
    const ends: Array<{ id: string; kind: RunKind; statuses: string[]; lines: string[] }> = [
      {
        id: 'RunSucceeded',
        kind: 'fine-tuning',
        statuses: ['SUCCEEDED'],
        lines: [
          `${run} SUCCEEDED: ${field('fineTunedModel')}, cost USD ${field('costUsd')}.`,
          `Report: s3://${props.bucket.bucketName}/${runKeys(runId).report}`,
          execution,
          validationReport,
        ],
      },
      {
        id: 'RunNotPromoted',
        kind: 'fine-tuning',
        statuses: ['SUCCEEDED_NOT_PROMOTED'],
        lines: [
          `${run} trained ${field('fineTunedModel')} (cost USD ${field('costUsd')}), NOT PROMOTED: ${field('evaluation.reason')}`,
          `Evaluation: s3://${props.bucket.bucketName}/${runKeys(runId).evaluation}`,
          `Report: s3://${props.bucket.bucketName}/${runKeys(runId).report}`,
          execution,
        ],
      },
      {
        id: 'RunRejected',
        kind: 'fine-tuning',
        statuses: ['REJECTED'],
        lines: [`${run} was REJECTED: ${field('error.message')}`, validationReport],
      },
      {
        id: 'RunEndedWithoutModel',
        kind: 'fine-tuning',
        statuses: [...TERMINAL_STATUSES].filter((s) => !TRAINED_STATUSES.has(s) && s !== 'REJECTED'),
        lines: [`${run} ended ${field('status')}: ${field('error.message')}`, execution, validationReport],
      },
      ...(embeddingExecution
        ? ([
            {
              id: 'EmbeddingRunSucceeded',
              kind: 'embeddings',
              statuses: ['SUCCEEDED'],
              lines: [
                `${embeddingRun} SUCCEEDED: ${field('embedding.embedded')} records embedded, ${field('embedding.failed')} without a vector, cost USD ${field('costUsd')}.`,
                `Output: ${field('links.output')}`,
                `Manifest: ${field('links.manifest')}`,
                embeddingExecution,
              ],
            },
            {
              id: 'EmbeddingRunRejected',
              kind: 'embeddings',
              statuses: ['REJECTED'],
              lines: [`${embeddingRun} was REJECTED: ${field('error.message')}`, validationReport],
            },
            {
              id: 'EmbeddingRunEnded',
              kind: 'embeddings',
              statuses: [...TERMINAL_STATUSES].filter((s) => !TRAINED_STATUSES.has(s) && s !== 'REJECTED'),
              lines: [
                `${embeddingRun} ended ${field('status')}: ${field('error.message')}`,
                embeddingExecution,
                validationReport,
              ],
            },
          ] satisfies Array<{ id: string; kind: RunKind; statuses: string[]; lines: string[] }>)
        : []),
    ];
    const topic = this.topic;
    this.runEndRules = ends.map(({ id: ruleId, kind, statuses, lines }) => {
      const rule = new Rule(this, ruleId, {
        description: `tunedrop: a summary of each ${kind === 'embeddings' ? 'embedding ' : ''}run ended ${statuses.join(', ')} to the notifications topic`,
        eventPattern: {
          source: [RUN_EVENT_SOURCE],
          detailType: [RUN_STATUS_CHANGE],
          detail: { terminal: [true], status: statuses, kind: [kind] },
        },
      });
      const input = RuleTargetInput.fromMultilineText(lines.join('\n'));
      const target: IRuleTarget = { bind: () => ({ arn: topic.topicArn, input }) };
      rule.addTarget(target);
      acknowledge(
        rule,
        'A summary EventBridge could not publish after its retries (24 hours) is a lost notice, not lost work: ' +
          "the run's item, report and run event keep its end, and `tunedrop redrive` has nothing to send back.",
        'Serverless-EventBusDLQ',
      );
      return rule;
    });
    // Only these rules' events may be published by EventBridge (not aws:SourceAccount alone).
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'RunEndRules',
        principals: [new ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': this.runEndRules.map((r) => r.ruleArn) } },
      }),
    );
  }
}
