import { Duration, Size } from 'aws-cdk-lib';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { AttributeType, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Bucket, EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  PLACEHOLDER_API_KEY,
  PLACEHOLDER_WEBHOOK_SECRET,
  type RunConfigInput,
} from '../functions/core/config.js';
import { SLOT_WAITING } from '../functions/core/workflow-state.js';
import { PROVIDER_JOB_INDEX } from '../functions/adapters/dynamodb-run-store.js';
import { SECURE_BUCKET_PROPS, SECURE_TABLE_PROPS } from './secure-defaults.js';
import { OperatorPolicy } from './operator-policy.js';
import { TunedropFunction } from './tunedrop-function.js';
import { RunWorkflow } from './workflow.js';

export interface TunedropPipelineProps {
  /**
   * Run settings for every family unless its `incoming/<family>/tunedrop.json` says otherwise.
   * @default {} (the RunConfig defaults: gpt-4.1-mini, auto hyperparameters, 20% validation)
   */
  runDefaults?: RunConfigInput;
  /**
   * Key prefix watched for new data.
   * @default 'incoming/'
   */
  incomingPrefix?: string;
  /**
   * The longest a run may take before its execution times out.
   * @default 72 hours
   */
  runTimeout?: Duration;
  /**
   * Most provider jobs training at once; further runs wait for a slot.
   * @default 4
   */
  providerConcurrency?: number;
}

/**
 * Everything a tunedrop deployment is: the data bucket, the runs table, the provider key secret, the
 * functions, the run workflow and the S3 notification that starts it all. No business logic here.
 */
export class TunedropPipeline extends Construct {
  readonly bucket: Bucket;
  readonly table: Table;
  readonly apiKeySecret: Secret;
  /** The provider's webhook signing secret, set by the user after registering `webhookUrl`. */
  readonly webhookSecret: Secret;
  /** Where the provider sends its webhooks (register it in OpenAI's dashboard). */
  readonly webhookUrl: FunctionUrl;
  readonly workflow: RunWorkflow;
  readonly validateFunction: TunedropFunction;
  readonly deadLetters: Queue;
  readonly deadLetterAlarm: Alarm;
  /** Attach to the IAM users or roles that operate tunedrop (drop files, read runs, cancel, redrive). */
  readonly operatorPolicy: OperatorPolicy;

  constructor(scope: Construct, id: string, props: TunedropPipelineProps = {}) {
    super(scope, id);
    const incomingPrefix = props.incomingPrefix ?? 'incoming/';

    this.bucket = new Bucket(this, 'DataBucket', { ...SECURE_BUCKET_PROPS });

    this.table = new Table(this, 'RunsTable', {
      ...SECURE_TABLE_PROPS,
      partitionKey: { name: 'runId', type: AttributeType.STRING },
      // Webhook delivery claims expire (functions/adapters/dynamodb-webhook-log.ts); runs never do.
      timeToLiveAttribute: 'expiresAt',
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'byFamily',
      partitionKey: { name: 'family', type: AttributeType.STRING },
      sortKey: { name: 'createdAt', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // A provider's event names the job; this finds its run.
    this.table.addGlobalSecondaryIndex({
      indexName: PROVIDER_JOB_INDEX,
      partitionKey: { name: 'providerJobId', type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    // Created with a placeholder, never the key: the user sets it with put-secret-value after deploy.
    this.apiKeySecret = new Secret(this, 'ProviderApiKey', {
      description: 'tunedrop: the OpenAI API key, as {"apiKey":"sk-..."} or the bare key',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ apiKey: PLACEHOLDER_API_KEY }),
        generateStringKey: 'placeholderNonce',
        excludePunctuation: true,
      },
    });

    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      description: 'tunedrop: the signing secret OpenAI shows for the webhook endpoint, whsec_...',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ webhookSecret: PLACEHOLDER_WEBHOOK_SECRET }),
        generateStringKey: 'placeholderNonce',
        excludePunctuation: true,
      },
    });

    const environment = {
      RUNS_TABLE: this.table.tableName,
      DATA_BUCKET: this.bucket.bucketName,
      API_KEY_SECRET_ID: this.apiKeySecret.secretArn,
      INCOMING_PREFIX: incomingPrefix,
      PROVIDER_CONCURRENCY: String(props.providerConcurrency ?? 4),
    };
    const fn = (
      id: string,
      step: string,
      timeout: Duration,
      extra: Partial<ConstructorParameters<typeof TunedropFunction>[2]> = {},
    ) => new TunedropFunction(this, id, { step, timeout, environment, ...extra });

    const prepare = fn('Prepare', 'prepare', Duration.minutes(15));
    const upload = fn('Upload', 'upload', Duration.minutes(15), { ephemeralStorageSize: Size.gibibytes(2) });
    const acquireSlot = fn('AcquireSlot', 'acquire-slot', Duration.minutes(1), { memorySize: 256 });
    // Two minutes: after creating, a run that ended meanwhile has its job cancelled in the same invocation.
    const createJob = fn('CreateJob', 'create-job', Duration.minutes(2));
    const awaitJob = fn('AwaitJob', 'await-job', Duration.seconds(30), { memorySize: 256 });
    const getStatus = fn('GetStatus', 'get-status', Duration.minutes(1));
    const collect = fn('Collect', 'collect', Duration.minutes(5));
    const record = fn('Record', 'record', Duration.minutes(1), { memorySize: 256 });

    for (const f of [prepare, upload, acquireSlot, createJob, awaitJob, getStatus, collect, record])
      this.table.grantReadWriteData(f);
    for (const f of [upload, createJob, getStatus, collect]) this.apiKeySecret.grantRead(f);
    this.bucket.grantRead(prepare);
    this.bucket.grantPut(prepare, 'runs/*');
    this.bucket.grantRead(upload, 'runs/*');
    this.bucket.grantPut(collect, 'runs/*');

    this.workflow = new RunWorkflow(this, 'RunWorkflow', {
      functions: { prepare, upload, acquireSlot, createJob, awaitJob, getStatus, collect, record },
      ...(props.runTimeout ? { timeout: props.runTimeout } : {}),
    });

    // Tokenizing is CPU-bound: 1769 MB buys a full vCPU.
    // Events that still fail after Lambda's retries land here, with the error, for redrive
    // (`npx tunedrop redrive`); the alarm says when anything is waiting.
    this.deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.deadLetterAlarm = new Alarm(this, 'DeadLettersWaiting', {
      alarmDescription:
        'tunedrop: events failed after retries and wait in the dead-letter queue; see README "Redrive"',
      metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    this.validateFunction = fn('Validate', 'validate', Duration.minutes(15), {
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetters),
      memorySize: 1769,
      bundledFiles: ['node_modules/tiktoken/tiktoken_bg.wasm'],
      environment: {
        ...environment,
        STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn,
        RUN_DEFAULTS: JSON.stringify(props.runDefaults ?? {}),
      },
    });
    this.table.grantReadWriteData(this.validateFunction);
    this.bucket.grantRead(this.validateFunction);
    this.bucket.grantPut(this.validateFunction, 'runs/*');
    this.workflow.stateMachine.grantStartExecution(this.validateFunction);

    // A workflow that ends without recording its run (stopped in the console or by `tunedrop cancel`,
    // timed out, or failed in Record) is recorded here, and its provider job cancelled.
    // EventBridge invokes it asynchronously: its dead-letter queue covers delivery only, so a reconcile
    // that fails after Lambda's own retries goes to the dead letters through an on-failure destination.
    // Three minutes: reconcile may read and cancel two jobs (the run's, then one found by run id).
    const reconcile = fn('Reconcile', 'reconcile', Duration.minutes(3), {
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetters),
    });
    this.table.grantReadWriteData(reconcile);
    this.apiKeySecret.grantRead(reconcile);
    new Rule(this, 'RunEndedUnrecorded', {
      description: 'tunedrop: record runs whose workflow stopped, timed out or failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          stateMachineArn: [this.workflow.stateMachine.stateMachineArn],
          status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
        },
      },
      targets: [
        new LambdaFunction(reconcile, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
          deadLetterQueue: this.deadLetters,
        }),
      ],
    });

    // Waiting runs are resumed by whoever frees a slot; this sweep catches what they could not.
    const sweepSlots = fn('SweepSlots', 'sweep-slots', Duration.minutes(1), { memorySize: 256 });
    this.table.grantReadWriteData(sweepSlots);
    new Rule(this, 'SweepSlotsSchedule', {
      description: 'tunedrop: give free provider slots to waiting runs that nobody resumed',
      schedule: Schedule.rate(Duration.minutes(SLOT_WAITING.sweepMinutes)),
      // The next sweep is minutes away: a failed one needs no retries or dead letters of its own.
      targets: [new LambdaFunction(sweepSlots, { retryAttempts: 0, maxEventAge: Duration.minutes(5) })],
    });

    // The provider's webhooks. A function URL with no AWS auth (OpenAI cannot sign AWS requests):
    // each delivery is verified with the webhook secret before anything is read (functions/webhook).
    const webhook = fn('Webhook', 'webhook', Duration.seconds(30), {
      memorySize: 256,
      environment: { ...environment, WEBHOOK_SECRET_ID: this.webhookSecret.secretArn },
    });
    this.table.grantReadWriteData(webhook);
    this.webhookSecret.grantRead(webhook);
    this.webhookUrl = webhook.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });

    // Resuming a parked run is SendTaskSuccess. The action has no resource type: IAM accepts it only with
    // Resource "*" ("If there is no value for this column, you must specify all resources", Service
    // Authorization Reference for AWS Step Functions, read 2026-11-29; CDK's grantTaskResponse scopes it
    // to the state machine and so grants nothing, aws/aws-cdk discussion #26401). The task token is the
    // capability: only a holder of a run's token can resume it. Only SendTaskSuccess, never Failure or
    // Heartbeat. A separate policy: functions in the state machine's definition with this in their
    // default policies would not make a cycle now, but keep it one statement, in one place.
    new Policy(this, 'ResumeParkedRuns', {
      statements: [new PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: ['*'] })],
      roles: [acquireSlot, awaitJob, record, reconcile, sweepSlots, webhook].map((f) => f.role!),
    });

    this.operatorPolicy = new OperatorPolicy(this, 'Operators', {
      stateMachine: this.workflow.stateMachine,
      deadLetters: this.deadLetters,
      redriveTargets: [this.validateFunction, reconcile],
      bucket: this.bucket,
      incomingPrefix,
      table: this.table,
    });

    this.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(this.validateFunction), {
      prefix: incomingPrefix,
      suffix: '.jsonl',
    });
  }
}
