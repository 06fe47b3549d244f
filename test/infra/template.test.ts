import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key, type CfnKey } from 'aws-cdk-lib/aws-kms';
import { PLACEHOLDER_WEBHOOK_SECRET } from '../../functions/core/config.js';
import { PERMANENT_ERROR_NAMES } from '../../functions/core/errors.js';
import { TunedropPipeline } from '../../lib/pipeline.js';
import { TRAINING_COPY_TAG } from '../../lib/secure-defaults.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';
import { STATE } from '../../lib/workflow.js';
import { synthTemplate } from '../support/synth.js';

const { template } = synthTemplate();
const definition = (): { States: Record<string, Record<string, unknown>>; TimeoutSeconds?: number } => {
  const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]!;
  const parts = (machine.Properties.DefinitionString['Fn::Join'] as [string, unknown[]])[1];
  // A function's ARN stays told apart by its logical id: which task calls which function is checked.
  const token = (p: unknown) => {
    const logicalId = (p as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0];
    return logicalId ? `TOKEN:${logicalId}` : 'TOKEN';
  };
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : token(p))).join(''));
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

  it('invokes the validate function for .jsonl files under incoming/, validate-embeddings for .jsonl and .csv under embed/, and family-settings for tunedrop.json written or removed', () => {
    const rules = (suffix: string, prefix = 'incoming/') =>
      Match.objectLike({
        Key: {
          FilterRules: Match.arrayWith([
            { Name: 'suffix', Value: suffix },
            { Name: 'prefix', Value: prefix },
          ]),
        },
      });
    const invokes = (logicalIdStart: string) =>
      Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^${logicalIdStart}[0-9A-F]{8}$`), 'Arn'] });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          Match.objectLike({
            Events: ['s3:ObjectCreated:*'],
            Filter: rules('.jsonl', 'embed/'),
            LambdaFunctionArn: invokes('PipelineValidateEmbeddings'),
          }),
          Match.objectLike({
            Events: ['s3:ObjectCreated:*'],
            Filter: rules('.csv', 'embed/'),
            LambdaFunctionArn: invokes('PipelineValidateEmbeddings'),
          }),
          Match.objectLike({
            Events: ['s3:ObjectCreated:*'],
            Filter: rules('.jsonl'),
            LambdaFunctionArn: invokes('PipelineValidate'),
          }),
          Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: rules('tunedrop.json') }),
          Match.objectLike({ Events: ['s3:ObjectRemoved:*'], Filter: rules('tunedrop.json') }),
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

  it('are the twenty-two functions, each on Node 22, arm64, traced, with a timeout', () => {
    expect(
      Object.values(functions)
        .map((f) => f.Metadata[ENTRY_METADATA_KEY])
        .sort(),
    ).toEqual(
      [
        'acquire-slot',
        'await-job',
        'collect',
        'create-job',
        'embed-batches',
        'embed-collect',
        'embed-prepare',
        'embed-record',
        'evaluate',
        'family-settings',
        'get-status',
        'job-event',
        'models',
        'prepare',
        'reconcile',
        'record',
        'retrain',
        'sweep-slots',
        'upload',
        'validate',
        'validate-embeddings',
        'webhook',
      ]
        .map((s) => `functions/${s}/handler.ts`)
        .sort(),
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
    expect(definition().TimeoutSeconds).toBe(14 * 24 * 3600);
  });

  it('gives every task a timeout, no retry on permanent errors, and backoff with jitter on the rest', () => {
    const tasks = Object.entries(definition().States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual(
      [
        STATE.familyTurn,
        STATE.prepare,
        STATE.upload,
        STATE.acquireSlot,
        STATE.createJob,
        STATE.wait,
        STATE.getStatus,
        STATE.collect,
        STATE.evaluate,
        STATE.checkEvaluation,
        STATE.record,
        STATE.recordFailure,
      ].sort(),
    );
    const parked = new Set<string>([STATE.familyTurn, STATE.acquireSlot, STATE.wait]);
    for (const [name, task] of tasks) {
      if (name === STATE.wait) expect(task.TimeoutSecondsPath).toBe('$.job.waitSeconds');
      else expect(task.TimeoutSeconds).toBeGreaterThan(0);
      expect(task.Retry).toEqual([
        // A parked task's timeout is its safety net, caught and routed, never retried.
        ...(parked.has(name) ? [{ ErrorEquals: ['States.Timeout'], MaxAttempts: 0 }] : []),
        {
          ErrorEquals: [
            ...PERMANENT_ERROR_NAMES,
            // An evaluation that timed out is not asked again from the start.
            ...(name === STATE.evaluate ? ['States.Timeout', 'Sandbox.Timedout'] : []),
          ],
          MaxAttempts: 0,
        },
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

  it('goes from Collect to Evaluate to Record, and keeps a model whose evaluation failed (Record, not Record failure)', () => {
    const states = definition().States;
    expect(states[STATE.collect]!.Next).toBe(STATE.evaluate);
    expect(states[STATE.evaluate]).toMatchObject({ ResultPath: '$.evaluation', Next: STATE.evaluated });
    expect(states[STATE.evaluated]).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.evaluation.pending', IsPresent: true, Next: STATE.evaluationWait }],
      Default: STATE.record,
    });
    for (const step of [STATE.evaluate, STATE.checkEvaluation])
      expect(states[step]!.Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.evaluationFailure', Next: STATE.record },
      ]);
  });

  it('waits for evaluation batches or deployments in a Wait state, no Lambda running, and looks again with the same function', () => {
    const states = definition().States;
    expect(states[STATE.evaluationWait]).toEqual({
      Type: 'Wait',
      SecondsPath: '$.evaluation.pending.waitSeconds',
      Next: STATE.checkEvaluation,
    });
    expect(states[STATE.checkEvaluation]!.Resource).toBe(states[STATE.evaluate]!.Resource);
    expect(states[STATE.checkEvaluation]).toMatchObject({
      Resource: expect.stringMatching(/^TOKEN:.*Evaluate/),
      ResultPath: '$.evaluation',
      Next: STATE.evaluated,
    });
  });

  it('parks a run on a task token for its slot, asking again when the safety timeout passes', () => {
    const acquire = definition().States[STATE.acquireSlot]!;
    expect(acquire).toMatchObject({
      Resource: expect.stringMatching(/:states:::lambda:invoke\.waitForTaskToken$/),
      Parameters: { Payload: { 'runId.$': '$.runId', 'taskToken.$': '$$.Task.Token' } },
      TimeoutSeconds: 24 * 3600,
      ResultPath: '$.slot',
      Next: STATE.createJob,
    });
    expect(acquire.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.slotTimeout', Next: STATE.acquireSlot },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.recordFailure },
    ]);
  });

  it('parks a run on a task token for its job, and looks at the job when woken or when the timeout passes', () => {
    const states = definition().States;
    expect(states[STATE.wait]).toMatchObject({
      Parameters: { Payload: { 'runId.$': '$.runId', 'taskToken.$': '$$.Task.Token' } },
      Next: STATE.getStatus,
    });
    expect(states[STATE.wait]!.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.wake', Next: STATE.getStatus },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.recordFailure },
    ]);
    expect(states[STATE.getStatus]!.Next).toBe(STATE.done);
    expect(states[STATE.done]).toMatchObject({ Type: 'Choice', Default: STATE.wait });
    // The job is waited for parked, not polled: the only Wait state is evaluation's batch mode's.
    expect(
      Object.entries(states)
        .filter(([, state]) => state.Type === 'Wait')
        .map(([name]) => name),
    ).toEqual([STATE.evaluationWait]);
  });
});

describe('waiting by events', () => {
  it('receives webhooks at a public function URL whose output says where to register it', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    template.hasOutput('WebhookUrl', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'FunctionUrl'] } });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: JSON.stringify({ webhookSecret: PLACEHOLDER_WEBHOOK_SECRET }),
      },
    });
  });

  it('finds a run by its provider job through a keys-only index', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'byProviderJob',
          KeySchema: [{ AttributeName: 'providerJobId', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        }),
      ]),
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('sweeps the provider slots every 10 minutes', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
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

  it('let only the functions that resume parked runs send task success, and nothing more of the kind', () => {
    for (const step of ['acquire-slot', 'await-job', 'record', 'reconcile', 'sweep-slots', 'webhook']) {
      expect(statementsOf(step)).toContain('states:SendTaskSuccess');
      expect(statementsOf(step)).not.toContain('states:SendTaskFailure');
    }
    for (const step of ['validate', 'prepare', 'upload', 'create-job', 'get-status', 'collect']) {
      expect(statementsOf(step)).not.toContain('states:SendTaskSuccess');
    }
  });

  it('grant SendTaskSuccess on "*", the only resource the action accepts (its token is the capability)', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{ Action: 'states:SendTaskSuccess', Effect: 'Allow', Resource: '*' }],
      },
    });
  });

  it('let the webhook receiver read the webhook secret and not the API key, and no one else read the webhook secret', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    const [apiKey] = Object.keys(secrets).filter((id) => id.includes('ProviderApiKey'));
    const [webhook] = Object.keys(secrets).filter((id) => id.includes('WebhookSecret'));
    const readers = (secretId: string) =>
      Object.values(policies)
        .filter((p) =>
          (
            p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>
          ).some(
            (st) =>
              [st.Action].flat().includes('secretsmanager:GetSecretValue') &&
              JSON.stringify(st.Resource).includes(`"${secretId}"`),
          ),
        )
        .flatMap((p) => (p.Properties.Roles as Array<{ Ref: string }>).map((r) => r.Ref));
    const roleOf = (step: string) => {
      const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
        (f) => f.Metadata?.[ENTRY_METADATA_KEY] === `functions/${step}/handler.ts`,
      )!;
      return (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    };
    expect(readers(webhook!)).toEqual([roleOf('webhook')]);
    expect(readers(apiKey!)).not.toContain(roleOf('webhook'));
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

describe('data kept tidy', () => {
  const dataBucket = () => {
    const buckets = template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
    expect(Object.keys(buckets)).toHaveLength(1);
    return Object.values(buckets)[0]!.Properties;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation properties, read as JSON
  type Props = Record<string, any>;
  const rules = (props: Props) => props.LifecycleConfiguration.Rules as Props[];

  it('expires older object versions after 30 days and aborts incomplete multipart uploads after 7', () => {
    expect(rules(dataBucket())).toContainEqual(
      expect.objectContaining({
        Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      }),
    );
  });

  it("expires the tagged copies of the user's data under runs/ and embeddings/ after 30 days, and nothing else there", () => {
    const expiring = rules(dataBucket()).filter((r) => r.ExpirationInDays !== undefined);
    expect(expiring).toEqual(
      ['runs/', 'embeddings/'].map((prefix) =>
        expect.objectContaining({
          Prefix: prefix,
          TagFilters: [{ Key: TRAINING_COPY_TAG.key, Value: TRAINING_COPY_TAG.value }],
          ExpirationInDays: 30,
        }),
      ),
    );
  });

  it('takes the expiry periods from the construct props', () => {
    const { template: custom } = synthTemplate({
      pipeline: { noncurrentVersionExpiration: Duration.days(90), trainingCopyExpiration: Duration.days(7) },
    });
    const props = Object.values(
      custom.findResources('AWS::S3::Bucket', {
        Properties: { VersioningConfiguration: { Status: 'Enabled' } },
      }),
    )[0]!.Properties;
    expect(rules(props)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
        expect.objectContaining({ Prefix: 'runs/', ExpirationInDays: 7 }),
      ]),
    );
  });

  it('gives every log group a retention, and every function (CDK bucket-notification handler too) a log group of the stack', () => {
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    for (const group of Object.values(logGroups)) expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBe(23);
    for (const fn of Object.values(functions))
      expect(Object.keys(logGroups)).toContain(fn.Properties.LoggingConfig?.LogGroup?.Ref);
  });

  it("logs the data bucket's accesses to a private logs bucket that S3's log delivery alone writes to", () => {
    const data = dataBucket();
    const logsId = data.LoggingConfiguration.DestinationBucketName.Ref as string;
    const logs = template.toJSON().Resources[logsId];
    expect(logs.Type).toBe('AWS::S3::Bucket');
    expect(logs.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
    });
    expect(rules(logs.Properties)).toContainEqual(expect.objectContaining({ ExpirationInDays: 365 }));
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: { ArnLike: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('keeps the data bucket first in the template, where local mode looks for it', () => {
    const first = Object.values(template.toJSON().Resources as Record<string, Props>).find(
      (r) => r.Type === 'AWS::S3::Bucket',
    )!;
    expect(first.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  it('can leave server access logs off (CloudTrail data events instead): no logs bucket then', () => {
    const { template: noLogs } = synthTemplate({ pipeline: { serverAccessLogs: false } });
    noLogs.resourceCountIs('AWS::S3::Bucket', 1);
  });
});

describe('a customer managed key (encryptionKey prop)', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'WithKey');
  const key = new Key(stack, 'DataKey', { enableKeyRotation: true });
  new TunedropPipeline(stack, 'Pipeline', { encryptionKey: key });
  const withKey = Template.fromStack(stack);
  const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnKey), 'Arn'] };

  it('encrypts the data bucket, the runs table, the dead-letter queue and every secret with it', () => {
    withKey.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
            BucketKeyEnabled: true,
          },
        ],
      },
    });
    withKey.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
    });
    withKey.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn });
    const secrets = withKey.findResources('AWS::SecretsManager::Secret');
    // The OpenAI key, the webhook secret and Azure OpenAI's endpoint and key.
    expect(Object.keys(secrets)).toHaveLength(3);
    for (const secret of Object.values(secrets)) expect(secret.Properties.KmsKeyId).toEqual(keyArn);
  });

  it('lets EventBridge use it for the dead-letter queue, and the operators encrypt and decrypt with it', () => {
    withKey.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
    withKey.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'UseTheDataKey',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: keyArn,
          }),
        ]),
      },
    });
  });

  it('is not used by default: AWS managed encryption, no key in the template but the notifications topic’s', () => {
    // SNS's AWS managed key would keep CloudWatch and EventBridge from publishing (lib/notifications.ts).
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    for (const secret of Object.values(template.findResources('AWS::SecretsManager::Secret')))
      expect(secret.Properties.KmsKeyId).toBeUndefined();
  });
});

describe('the incoming prefix', () => {
  it('is refused where it overlaps the folders of embedding runs or run files (S3 refuses overlapping notifications)', () => {
    for (const incomingPrefix of ['', 'e', 'embed/', 'embeddings/x/', 'runs/', 'incoming'])
      expect(() => synthTemplate({ pipeline: { incomingPrefix } })).toThrow(
        /incomingPrefix must be a folder/,
      );
    expect(() => synthTemplate({ pipeline: { incomingPrefix: 'data/' } })).not.toThrow();
  });
});

describe('families', () => {
  it('refuses a retrain schedule among the stack-wide run defaults: a schedule is a family’s own', () => {
    expect(() => synthTemplate({ pipeline: { runDefaults: { schedule: 'rate(7 days)' } as never } })).toThrow(
      /runDefaults cannot set "schedule".*incoming\/<family>\/tunedrop\.json/,
    );
  });

  it('keeps the model registry in a table of its own, with the byModel index, and names it in the outputs', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'family', KeyType: 'HASH' },
        { AttributeName: 'model', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byModel' })],
      PointInTimeRecoverySpecification: Match.anyValue(),
    });
    for (const output of ['ModelRegistryTableName', 'RetrainFunctionName', 'ModelsFunctionName'])
      expect(template.findOutputs(output)).not.toEqual({});
  });

  it('lets only EventBridge Scheduler of this account assume the role that invokes retrain', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': Match.anyValue() } },
          }),
        ],
      },
    });
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
  });
});
