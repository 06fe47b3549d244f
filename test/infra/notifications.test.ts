import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key, type CfnKey } from 'aws-cdk-lib/aws-kms';
import { buildApp } from '../../lib/app.js';
import { nagPacks } from '../../lib/nag.js';
import { TunedropPipeline } from '../../lib/pipeline.js';
import { synthTemplate } from '../support/synth.js';

/**
 * #13 point 3: one encrypted SNS topic, the alarms that notify through it, and the run-end summaries
 * (an EventBridge rule whose input transformer writes the message).
 */
const { stack, template } = synthTemplate();
const id = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
const topicId = id(stack.pipeline.notifications.topic);
const topicRef = { Ref: topicId };

type Alarm = { Properties: Record<string, unknown> & { AlarmActions?: unknown[] } };
const alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<string, Alarm>;
const byDescription = (text: string) =>
  Object.values(alarms).find((a) => String(a.Properties.AlarmDescription).includes(text));

function synthWith(context: Record<string, unknown>) {
  const { stack: s } = buildApp({
    appProps: {
      context: { 'aws:cdk:bundling-stacks': [], ...context },
      builtinCloudFormationValidation: false,
    },
  });
  return Template.fromStack(s);
}

describe('the notifications topic', () => {
  it('is one topic, encrypted with a rotated customer managed key CloudWatch and EventBridge may use', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const topic = Object.values(template.findResources('AWS::SNS::Topic'))[0]!;
    const keyId = (topic.Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const key = template.toJSON().Resources[keyId];
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Principal: { Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        }),
      ]),
    );
  });

  it('refuses requests without TLS, and lets only this account alarms and the run-end rule publish', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicRef],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: '*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Sid: 'CloudWatchAlarms',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topicRef,
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
          Match.objectLike({
            Sid: 'RunEndRules',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topicRef,
            Condition: {
              ArnEquals: {
                'aws:SourceArn': stack.pipeline.notifications.runEndRules.map((r) => ({
                  'Fn::GetAtt': [id(r), 'Arn'],
                })),
              },
            },
          }),
        ]),
      },
    });
    // No other allow for EventBridge (CDK's SnsTopic target would add one without a condition).
    const statements = Object.values(template.findResources('AWS::SNS::TopicPolicy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Array<{ Principal?: unknown; Condition?: unknown }>,
    );
    for (const s of statements) expect(s.Condition).toBeDefined();
  });

  it('is in the NotificationTopicArn output', () => {
    template.hasOutput('NotificationTopicArn', { Value: topicRef });
  });

  it('uses the stack key (encryptionKey) when given, and lets CloudWatch and EventBridge use it', () => {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const withKeyStack = new Stack(app, 'WithKey');
    const key = new Key(withKeyStack, 'DataKey', { enableKeyRotation: true });
    new TunedropPipeline(withKeyStack, 'Pipeline', { encryptionKey: key });
    const withKey = Template.fromStack(withKeyStack);
    const keyId = withKeyStack.getLogicalId(key.node.defaultChild as CfnKey);
    withKey.resourceCountIs('AWS::KMS::Key', 1);
    withKey.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    withKey.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] } }),
        ]),
      },
    });
  });
});

describe('the alarms', () => {
  it('notify the topic: a failed run, dead letters, workflow failures, a stuck run', () => {
    const failed = byDescription('a run FAILED')!;
    expect(failed.Properties).toMatchObject({
      Namespace: 'Tunedrop',
      MetricName: 'RunsEnded',
      Dimensions: expect.arrayContaining([
        { Name: 'status', Value: 'FAILED' },
        { Name: 'service', Value: 'tunedrop' },
      ]),
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    // Only status and service: the series the status-only emission makes, no SEARCH.
    expect(failed.Properties.Dimensions).toHaveLength(2);

    const dead = alarms[id(stack.pipeline.deadLetterAlarm)]!;
    const workflow = byDescription('workflow execution failed or timed out')!;
    const metrics = workflow.Properties.Metrics as Array<{ Expression?: string; MetricStat?: unknown }>;
    expect(metrics.find((m) => m.Expression)!.Expression).toBe('failed + timedOut');
    expect(JSON.stringify(metrics)).toContain('ExecutionsFailed');
    expect(JSON.stringify(metrics)).toContain('ExecutionsTimedOut');
    expect(JSON.stringify(metrics)).toContain(id(stack.pipeline.workflow.stateMachine));
    const stuck = byDescription('in one status longer than')!;
    for (const alarm of [failed, dead, workflow, stuck])
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
  });

  it('no alarm searches (CloudWatch alarms cannot SEARCH), and every alarm notifies the topic', () => {
    expect(JSON.stringify(alarms)).not.toContain('SEARCH');
    for (const alarm of Object.values(alarms)) expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
  });

  it('has no cost alarm unless a threshold is given', () => {
    expect(byDescription('cost')).toBeUndefined();
  });

  it('has a daily and a monthly-pace cost alarm from context, within what CloudWatch allows', () => {
    const t = synthWith({ 'tunedrop:dailyCostAlarmUsd': '5', 'tunedrop:monthlyCostAlarmUsd': '60' });
    const found = t.findResources('AWS::CloudWatch::Alarm') as Record<string, Alarm>;
    const daily = Object.values(found).find((a) =>
      String(a.Properties.AlarmDescription).includes('in a day'),
    )!;
    const monthly = Object.values(found).find((a) =>
      String(a.Properties.AlarmDescription).includes('/month'),
    )!;
    for (const alarm of [daily, monthly]) {
      expect(alarm.Properties).toMatchObject({
        Namespace: 'Tunedrop',
        MetricName: 'CostUsd',
        Dimensions: [{ Name: 'service', Value: 'tunedrop' }],
        Statistic: 'Sum',
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      // Period × evaluation periods at most 7 days (PutMetricAlarm).
      expect((alarm.Properties.Period as number) * 1).toBeLessThanOrEqual(604_800);
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
    }
    expect(daily.Properties).toMatchObject({ Period: 86_400, Threshold: 5 });
    expect(monthly.Properties).toMatchObject({ Period: 604_800, Threshold: 14 });
  });

  it('refuses a cost threshold that is not a positive number', () => {
    expect(() => synthWith({ 'tunedrop:dailyCostAlarmUsd': 'ten' })).toThrow(/dailyCostAlarmUsd/);
    expect(() => synthWith({ 'tunedrop:monthlyCostAlarmUsd': '-1' })).toThrow(/monthlyCostAlarmUsd/);
  });
});

describe('the stuck-run alarm', () => {
  const sweepId = id(stack.pipeline.node.findChild('SweepSlots') as never);
  const sweepEnvironment = (t: Template) =>
    (
      t.toJSON().Resources[sweepId].Properties as {
        Environment: { Variables: Record<string, string> };
      }
    ).Environment.Variables;

  it("notifies the topic when the sweep's RunsStuck gauge is above zero in two sweeps' time, missing data not breaching", () => {
    const stuck = byDescription('longer than')!;
    expect(stuck.Properties).toEqual({
      AlarmDescription: expect.stringContaining('longer than 72 hours (stuckRunHours)'),
      Namespace: 'Tunedrop',
      MetricName: 'RunsStuck',
      Dimensions: [{ Name: 'service', Value: 'tunedrop' }],
      Statistic: 'Maximum',
      // The sweep runs every 10 minutes: each 20-minute period holds a sample even when one is late.
      Period: 1200,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef],
    });
    expect(stack.pipeline.notifications.alarms.RunStuck).toBeDefined();
  });

  it('gives the sweep its threshold in minutes, and a Query on the sparse index of runs not ended', () => {
    expect(sweepEnvironment(template).STUCK_RUN_MINUTES).toBe('4320');
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: 'byActiveStatus',
          KeySchema: [
            { AttributeName: 'activeStatus', KeyType: 'HASH' },
            { AttributeName: 'statusSince', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]),
    });
    const sweep = template.toJSON().Resources[sweepId].Properties as { Role: { 'Fn::GetAtt': [string] } };
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes(sweep.Role['Fn::GetAtt'][0]),
    );
    expect(JSON.stringify(policies)).toContain('/index/byActiveStatus');
    // Only the sweep reads the index.
    const readers = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties).includes('/index/byActiveStatus'),
    );
    expect(readers).toEqual(policies.filter((p) => JSON.stringify(p).includes('/index/byActiveStatus')));
  });

  it('takes stuckRunHours from context, in the sweep and in the alarm', () => {
    const t = synthWith({ 'tunedrop:stuckRunHours': '6' });
    expect(sweepEnvironment(t).STUCK_RUN_MINUTES).toBe('360');
    const found = Object.values(t.findResources('AWS::CloudWatch::Alarm') as Record<string, Alarm>);
    expect(found.map((a) => String(a.Properties.AlarmDescription))).toContainEqual(
      expect.stringContaining('longer than 6 hours'),
    );
  });

  it('refuses a stuckRunHours that is not a positive number, at synth', () => {
    expect(() => synthWith({ 'tunedrop:stuckRunHours': 'a day' })).toThrow(/tunedrop:stuckRunHours/);
    expect(() => synthWith({ 'tunedrop:stuckRunHours': '0' })).toThrow(/stuckRunHours must be a positive/);
    expect(() => synthWith({ 'tunedrop:stuckRunHours': '-3' })).toThrow(/stuckRunHours must be a positive/);
  });
});

describe('the run-end summaries', () => {
  const rules = Object.values(
    template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['tunedrop'] } } }),
  ).filter((r) => r.Properties.EventPattern.detail?.terminal);
  type Transformer = { InputPathsMap: Record<string, string>; InputTemplate: unknown };
  const transformerOf = (status: string) =>
    rules.find((r) => r.Properties.EventPattern.detail.status.includes(status))!.Properties.Targets[0]
      .InputTransformer as Transformer;
  /** The template with each CloudFormation token as `@`, for reading. */
  const text = (t: Transformer) =>
    typeof t.InputTemplate === 'string'
      ? t.InputTemplate
      : (t.InputTemplate as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
          .map((p) => (typeof p === 'string' ? p : '@'))
          .join('');

  it('match every ended run of either kind, each status once, and go to the topic', () => {
    expect(rules).toHaveLength(7);
    const statusesOf = (kind: string) =>
      rules
        .filter((r) => (r.Properties.EventPattern.detail.kind as string[]).join() === kind)
        .flatMap((r) => r.Properties.EventPattern.detail.status as string[])
        .sort();
    expect(statusesOf('fine-tuning')).toEqual([
      'CANCELLED',
      'FAILED',
      'REJECTED',
      'SUCCEEDED',
      'SUCCEEDED_NOT_PROMOTED',
      'TIMED_OUT',
    ]);
    // An embedding run trains no model: it is never SUCCEEDED_NOT_PROMOTED.
    expect(statusesOf('embeddings')).toEqual(['CANCELLED', 'FAILED', 'REJECTED', 'SUCCEEDED', 'TIMED_OUT']);
    for (const rule of rules) {
      expect(rule.Properties.EventPattern).toMatchObject({
        source: ['tunedrop'],
        'detail-type': ['Run Status Change'],
        detail: { terminal: [true] },
      });
      expect(rule.Properties.Targets).toHaveLength(1);
      expect(rule.Properties.Targets[0].Arn).toEqual(topicRef);
    }
  });

  it('write a readable message with an input transformer: the model and the links that exist', () => {
    const succeeded = transformerOf('SUCCEEDED');
    expect(Object.values(succeeded.InputPathsMap).sort()).toEqual([
      '$.detail.costUsd',
      '$.detail.family',
      '$.detail.fineTunedModel',
      '$.detail.links.validationReport',
      '$.detail.runId',
    ]);
    expect(text(succeeded)).toBe(
      [
        '"tunedrop run <detail-runId> (family <detail-family>) SUCCEEDED: <detail-fineTunedModel>, cost USD <detail-costUsd>."',
        '"Report: s3://@/runs/<detail-runId>/report.html"',
        '"Execution: https://@.console.aws.amazon.com/states/home?region=@#/v2/executions/details/arn%3A@%3Astates%3A@%3A@%3Aexecution%3A@%3A<detail-runId>"',
        '"Validation report: <detail-links-validationReport>"',
      ].join('\n'),
    );
    // A rejected run never had an execution; the others did, and say why.
    expect(text(transformerOf('REJECTED'))).not.toContain('Execution');
    expect(text(transformerOf('REJECTED'))).toContain('was REJECTED: <detail-error-message>');
    expect(text(transformerOf('FAILED'))).toContain('ended <detail-status>: <detail-error-message>');
    expect(text(transformerOf('FAILED'))).toContain('Execution: https://');
    for (const status of ['SUCCEEDED', 'REJECTED', 'FAILED']) {
      const t = transformerOf(status);
      for (const name of Object.keys(t.InputPathsMap)) expect(text(t)).toContain(`<${name}>`);
    }
  });
});

describe('the email subscription', () => {
  it('is there only when tunedrop:notifyEmail is given', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const t = synthWith({ 'tunedrop:notifyEmail': 'someone@example.com' });
    t.resourceCountIs('AWS::SNS::Subscription', 1);
    t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'someone@example.com',
      TopicArn: Match.objectLike({ Ref: Match.stringLikeRegexp('NotificationsTopic') }),
    });
  });

  it('refuses what is not an email address', () => {
    expect(() => synthWith({ 'tunedrop:notifyEmail': 'someone' })).toThrow(/notifyEmail must be an email/);
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged with an email and both cost alarms', () => {
    const { app } = buildApp({
      appProps: {
        context: {
          'aws:cdk:bundling-stacks': [],
          'tunedrop:notifyEmail': 'someone@example.com',
          'tunedrop:dailyCostAlarmUsd': 5,
          'tunedrop:monthlyCostAlarmUsd': 100,
        },
        builtinCloudFormationValidation: false,
      },
    });
    const findings = nagPacks().flatMap((pack) =>
      pack
        .validateScope(app)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
    );
    expect(findings).toEqual([]);
  });
});
