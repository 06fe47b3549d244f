import { atJsonPath, transformInput } from '../../local/cloud/events.js';
import {
  alarmDefinition,
  alarmNotification,
  evaluate,
  LocalAlarms,
  statistic,
  type Datapoint,
  type MetricSpec,
} from '../../local/cloud/alarms.js';
import { checkPublish, SnsError } from '../../local/cloud/sns.js';
import { classifySns } from '../../local/cloud/iam/requests.js';
import { planFromTemplate, type LocalAlarm, type LocalTopic } from '../../local/template.js';
import { synthesizeTemplate } from '../../local/cloud/index.js';

/** The pure parts of #13 point 3's local mode: the input transformer, alarm evaluation, SNS's checks. */

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:local-Topic';
const rule = { arn: 'arn:aws:events:us-east-1:000000000000:rule/R', name: 'R' };

describe('transformInput, as EventBridge fills an input template', () => {
  const event = {
    'detail-type': 'Run Status Change',
    source: 'tunedrop',
    resources: ['a', 'b'],
    detail: { runId: 'r1', status: 'SUCCEEDED', costUsd: 0.5, error: { message: 'say "no"' }, links: {} },
  };

  it('reads JSON paths: dots, dashes, indices, and nothing where the event has nothing', () => {
    expect(atJsonPath(event, '$.detail.runId')).toBe('r1');
    expect(atJsonPath(event, '$.detail-type')).toBe('Run Status Change');
    expect(atJsonPath(event, '$.resources[1]')).toBe('b');
    expect(atJsonPath(event, '$.detail.links.report')).toBeUndefined();
    expect(atJsonPath(event, '$.detail.runId.deeper')).toBeUndefined();
    expect(atJsonPath(event, '$')).toBe(event);
  });

  it('fills placeholders: strings escaped for a JSON string, numbers as text, missing as nothing', () => {
    const text = transformInput(
      {
        pathsMap: {
          id: '$.detail.runId',
          cost: '$.detail.costUsd',
          why: '$.detail.error.message',
          report: '$.detail.links.report',
        },
        template:
          '"run <id> cost <cost>"\n"why: <why>"\n"report: <report>"\n"rule <aws.events.rule-name>" <unknown>',
      },
      event,
      rule,
    );
    expect(text).toBe('"run r1 cost 0.5"\n"why: say \\"no\\""\n"report: "\n"rule R" <unknown>');
  });

  it('puts objects in as JSON', () => {
    expect(
      transformInput({ pathsMap: { d: '$.detail.links' }, template: '{"links": <d>}' }, event, rule),
    ).toBe('{"links": {}}');
  });
});

describe('SNS Publish checks and IAM classification', () => {
  const topics = new Map<string, LocalTopic>([
    [TOPIC, { logicalId: 'Topic', name: 'local-Topic', arn: TOPIC }],
  ]);

  it('refuses a missing topic, an empty message, a subject SNS would refuse', () => {
    expect(() => checkPublish(topics, TOPIC, 'hello', 'Subject')).not.toThrow();
    expect(() => checkPublish(topics, `${TOPIC}x`, 'hello', undefined)).toThrow(SnsError);
    expect(() => checkPublish(topics, TOPIC, '', undefined)).toThrow(/Empty message/);
    expect(() => checkPublish(topics, TOPIC, 'hello', 'x'.repeat(101))).toThrow(/Subject/);
    expect(() => checkPublish(topics, TOPIC, 'hello', 'line\nbreak')).toThrow(/Subject/);
  });

  it('classifies Publish on the topic (TopicArn or TargetArn) and ListTopics on *', () => {
    const request = (body: string) => ({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      body: Buffer.from(body),
    });
    expect(classifySns(request(`Action=Publish&TopicArn=${encodeURIComponent(TOPIC)}&Message=x`))).toEqual([
      { action: 'sns:Publish', resource: TOPIC },
    ]);
    expect(classifySns(request(`Action=Publish&TargetArn=${encodeURIComponent(TOPIC)}`))).toEqual([
      { action: 'sns:Publish', resource: TOPIC },
    ]);
    expect(classifySns(request('Action=ListTopics'))).toEqual([{ action: 'sns:ListTopics', resource: '*' }]);
    expect(() => classifySns(request('Message=x'))).toThrow();
  });
});

describe('local alarms', () => {
  const failed: LocalAlarm = {
    logicalId: 'RunFailed',
    name: 'local-RunFailed',
    arn: 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:local-RunFailed',
    properties: {
      Namespace: 'Tunedrop',
      MetricName: 'RunsEnded',
      Dimensions: [
        { Name: 'status', Value: 'FAILED' },
        { Name: 'service', Value: 'tunedrop' },
      ],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [TOPIC],
      AlarmDescription: 'a run FAILED',
    },
  };
  const math: LocalAlarm = {
    ...failed,
    logicalId: 'Workflow',
    name: 'local-Workflow',
    properties: {
      Metrics: [
        { Id: 'expr', Expression: 'failed + timedOut', ReturnData: true },
        {
          Id: 'failed',
          MetricStat: {
            Metric: { Namespace: 'AWS/States', MetricName: 'ExecutionsFailed' },
            Period: 300,
            Stat: 'Sum',
          },
          ReturnData: false,
        },
        {
          Id: 'timedOut',
          MetricStat: {
            Metric: { Namespace: 'AWS/States', MetricName: 'ExecutionsTimedOut' },
            Period: 300,
            Stat: 'Sum',
          },
          ReturnData: false,
        },
      ],
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [TOPIC],
    },
  };
  const points = (list: Record<string, Datapoint[]>) => (metric: MetricSpec) => list[metric.metricName] ?? [];

  it('computes the statistics CloudWatch alarms use', () => {
    expect(statistic('Sum', [1, 2, 3])).toBe(6);
    expect(statistic('Average', [1, 2, 3])).toBe(2);
    expect(statistic('Maximum', [1, 5, 3])).toBe(5);
    expect(statistic('Minimum', [4, 5, 3])).toBe(3);
    expect(statistic('SampleCount', [4, 5])).toBe(2);
    expect(statistic('Sum', [])).toBeUndefined();
  });

  it('goes to ALARM on a breaching period and back to OK on the next one without data (notBreaching)', () => {
    const definition = alarmDefinition(failed);
    const data = points({ RunsEnded: [{ timestamp: 1_000, value: 1 }] });
    expect(evaluate(definition, data, 1_500, 1_000, 'OK').state).toBe('ALARM');
    expect(evaluate(definition, data, 2_500, 1_000, 'ALARM').state).toBe('OK');
    expect(evaluate(definition, data, 500, 1_000, 'INSUFFICIENT_DATA').state).toBe('OK');
  });

  it('adds the metrics of a sum expression; a period with none of them is missing', () => {
    const definition = alarmDefinition(math);
    const data = points({ ExecutionsTimedOut: [{ timestamp: 100, value: 1 }] });
    const result = evaluate(definition, data, 200, 1_000, 'OK');
    expect(result.state).toBe('ALARM');
    expect(result.values).toEqual([1]);
    expect(evaluate(definition, points({}), 200, 1_000, 'OK').values).toEqual([undefined]);
  });

  it('refuses what it does not evaluate: other math, percentiles', () => {
    const other = structuredClone(math);
    (other.properties.Metrics as Array<{ Expression?: string }>)[0]!.Expression = 'MAX(METRICS())';
    expect(() => alarmDefinition(other)).toThrow(/only sums/);
    const percentile = structuredClone(failed);
    percentile.properties.ExtendedStatistic = 'p99';
    expect(() => alarmDefinition(percentile)).toThrow(/percentiles/);
  });

  it("writes CloudWatch's notification: subject, states, reason and trigger", () => {
    const at = new Date('2026-11-30T10:00:00.000Z');
    const { subject, message } = alarmNotification(alarmDefinition(failed), {
      oldState: 'OK',
      newState: 'ALARM',
      reason: 'Threshold Crossed',
      at,
    });
    expect(subject).toBe('ALARM: "local-RunFailed" in US East (N. Virginia)');
    expect(JSON.parse(message)).toMatchObject({
      AlarmName: 'local-RunFailed',
      AlarmDescription: 'a run FAILED',
      AWSAccountId: '000000000000',
      NewStateValue: 'ALARM',
      OldStateValue: 'OK',
      StateChangeTime: '2026-11-30T10:00:00.000+0000',
      AlarmArn: failed.arn,
      AlarmActions: [TOPIC],
      Trigger: {
        MetricName: 'RunsEnded',
        Namespace: 'Tunedrop',
        Statistic: 'SUM',
        Dimensions: [
          { value: 'FAILED', name: 'status' },
          { value: 'tunedrop', name: 'service' },
        ],
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      },
    });
  });

  it('publishes each change of state to its actions, once', async () => {
    const published: Array<{ subject: string; message: string }> = [];
    let data: Datapoint[] = [];
    const alarms = new LocalAlarms([failed], {
      datapoints: () => data,
      timeScale: 1 / 600,
      publish: async (_alarm, _topic, subject, message) => {
        published.push({ subject, message });
        return undefined;
      },
    });
    const now = Date.now();
    await alarms.evaluate(now);
    expect(alarms.state('local-RunFailed')).toBe('OK');
    data = [{ timestamp: now + 1, value: 1 }];
    await alarms.evaluate(now + 1);
    await alarms.evaluate(now + 2);
    expect(alarms.state('local-RunFailed')).toBe('ALARM');
    expect(published.map((p) => p.subject)).toEqual(['ALARM: "local-RunFailed" in US East (N. Virginia)']);
  });
});

describe('the plan of the synthesized template', () => {
  const plan = planFromTemplate(synthesizeTemplate({ notifications: { dailyCostAlarmUsd: 1 } }), {
    entryMetadataKey: 'tunedrop:entry',
  });

  it('has the topic, its policy, the alarms and the rule with its transformer', () => {
    expect(plan.topics).toHaveLength(1);
    const topic = plan.topics[0]!;
    expect(plan.resourcePolicies.get(topic.arn)?.Statement.map((s) => s.Sid)).toEqual(
      expect.arrayContaining(['CloudWatchAlarms']),
    );
    const names = plan.alarms.map((a) => a.logicalId).join(' ');
    for (const id of ['DeadLetters', 'RunFailed', 'WorkflowFailures', 'DailyCost'])
      expect(names).toContain(id);
    for (const alarm of plan.alarms) expect(alarm.properties.AlarmActions).toEqual([topic.arn]);
    const targets = plan.rules.flatMap((r) => r.targets).filter((t) => t.arn === topic.arn);
    // Four ends of a training run, three of an embedding run (it is never SUCCEEDED_NOT_PROMOTED).
    expect(targets).toHaveLength(7);
    expect(targets.filter((t) => t.inputTransformer!.template.includes('embedding run'))).toHaveLength(3);
    for (const target of targets) {
      expect(target.inputTransformer?.pathsMap['detail-runId']).toBe('$.detail.runId');
      // Every CloudFormation token resolved.
      expect(target.inputTransformer?.template).not.toMatch(/Fn::|\{"Ref"/);
    }
    expect(targets.map((t) => t.inputTransformer!.template).join('\n')).toContain(
      'https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn%3Aaws%3Astates%3Aus-east-1%3A000000000000%3Aexecution%3A',
    );
    expect(plan.resourcePolicies.get(topic.arn)?.Statement.map((s) => s.Sid)).toEqual(
      expect.arrayContaining(['RunEndRules']),
    );
    // Every alarm of the stack is evaluated locally.
    for (const alarm of plan.alarms) expect(() => alarmDefinition(alarm)).not.toThrow();
  });
});
