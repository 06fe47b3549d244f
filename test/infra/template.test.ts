import { Match } from 'aws-cdk-lib/assertions';
import { PERMANENT_ERROR_NAMES } from '../../functions/core/errors.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';
import { STATE } from '../../lib/workflow.js';
import { synthTemplate } from '../support/synth.js';

const { template } = synthTemplate();
const definition = (): { States: Record<string, Record<string, unknown>>; TimeoutSeconds?: number } => {
  const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]!;
  const parts = (machine.Properties.DefinitionString['Fn::Join'] as [string, unknown[]])[1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
};

describe('the data bucket', () => {
  it('blocks public access, encrypts, keeps versions and refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('invokes the validate function for .jsonl files under incoming/ only', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: {
              Key: {
                FilterRules: Match.arrayWith([
                  { Name: 'suffix', Value: '.jsonl' },
                  { Name: 'prefix', Value: 'incoming/' },
                ]),
              },
            },
          },
        ],
      },
    });
  });
});

describe('the runs table', () => {
  it('is on-demand, keyed by runId, with point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'runId', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });
});

describe('the API key secret', () => {
  it('is created with a placeholder, never a key', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { SecretStringTemplate: '{"apiKey":"REPLACE_WITH_YOUR_OPENAI_API_KEY"}' },
    });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/sk-[A-Za-z0-9]/);
  });
});

describe('the functions', () => {
  const functions = template.findResources('AWS::Lambda::Function', {
    Metadata: { [ENTRY_METADATA_KEY]: Match.anyValue() },
  });

  it('are the nine functions, each on Node 22, arm64, traced, with a timeout', () => {
    expect(
      Object.values(functions)
        .map((f) => f.Metadata[ENTRY_METADATA_KEY])
        .sort(),
    ).toEqual(
      [
        'acquire-slot',
        'collect',
        'create-job',
        'get-status',
        'prepare',
        'reconcile',
        'record',
        'upload',
        'validate',
      ].map((s) => `functions/${s}/handler.ts`),
    );
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
      });
      expect(fn.Properties.Timeout).toBeGreaterThan(0);
    }
  });

  it('keep their logs for 30 days', () => {
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

describe('the state machine', () => {
  it('is a Standard workflow with a total timeout', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
    expect(definition().TimeoutSeconds).toBe(72 * 3600);
  });

  it('gives every task a timeout, no retry on permanent errors, and backoff with jitter on the rest', () => {
    const tasks = Object.entries(definition().States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual(
      [
        STATE.prepare,
        STATE.upload,
        STATE.acquireSlot,
        STATE.createJob,
        STATE.getStatus,
        STATE.collect,
        STATE.record,
        STATE.recordFailure,
      ].sort(),
    );
    for (const [, task] of tasks) {
      expect(task.TimeoutSeconds).toBeGreaterThan(0);
      expect(task.Retry).toEqual([
        { ErrorEquals: [...PERMANENT_ERROR_NAMES], MaxAttempts: 0 },
        expect.objectContaining({
          ErrorEquals: ['States.ALL'],
          BackoffRate: 2,
          JitterStrategy: 'FULL',
          MaxAttempts: 4,
        }),
      ]);
    }
  });

  it('catches every failure of a step into Record failure', () => {
    const states = definition().States;
    for (const name of [
      STATE.prepare,
      STATE.upload,
      STATE.createJob,
      STATE.getStatus,
      STATE.collect,
      STATE.record,
    ]) {
      expect(states[name]!.Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.recordFailure },
      ]);
    }
    expect(states[STATE.recordFailure]!.Next).toBe(STATE.failed);
  });

  it('polls with a Wait read from the state, and loops until the job is finished', () => {
    const states = definition().States;
    expect(states[STATE.wait]).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.job.waitSeconds',
      Next: STATE.getStatus,
    });
    expect(states[STATE.done]).toMatchObject({ Type: 'Choice', Default: STATE.wait });
    expect(states[STATE.slotFree]).toMatchObject({ Type: 'Choice', Default: STATE.waitForSlot });
    expect(states[STATE.waitForSlot]).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.slot.waitSeconds',
      Next: STATE.acquireSlot,
    });
  });
});

describe('events that keep failing', () => {
  it("go to an encrypted dead-letter queue after Lambda's retries, and an alarm says so", () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('runs that end outside the workflow', () => {
  it('reach the reconcile function when an execution is stopped, times out or fails', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['ABORTED', 'TIMED_OUT', 'FAILED'] },
      },
      Targets: [
        Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 } }),
      ],
    });
  });
});

describe('permissions', () => {
  const policies = template.findResources('AWS::IAM::Policy');
  const statementsOf = (functionStep: string) => {
    const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(
      ([, f]) => f.Metadata?.[ENTRY_METADATA_KEY] === `functions/${functionStep}/handler.ts`,
    )!;
    const role = (fn[1].Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return Object.values(policies)
      .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>)
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
  };

  it('let only the functions that call the provider read the API key', () => {
    for (const step of ['upload', 'create-job', 'get-status', 'collect', 'reconcile']) {
      expect(statementsOf(step)).toContain('secretsmanager:GetSecretValue');
    }
    for (const step of ['validate', 'prepare', 'record']) {
      expect(statementsOf(step)).not.toContain('secretsmanager:GetSecretValue');
    }
  });

  it('let validate start the workflow, and no other function', () => {
    expect(statementsOf('validate')).toContain('states:StartExecution');
    expect(statementsOf('prepare')).not.toContain('states:StartExecution');
  });

  it('never let a function delete objects from the bucket', () => {
    for (const step of [
      'validate',
      'prepare',
      'upload',
      'create-job',
      'get-status',
      'collect',
      'record',
      'reconcile',
    ]) {
      expect(statementsOf(step).filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
    }
  });
});
