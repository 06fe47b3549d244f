import { CfnResource, Duration, Size, Stack } from 'aws-cdk-lib';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { AttributeType, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Bucket, BucketEncryption, EventType, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  PLACEHOLDER_API_KEY,
  PLACEHOLDER_AZURE_ENDPOINT,
  PLACEHOLDER_WEBHOOK_SECRET,
  type RunConfigInput,
} from '../functions/core/config.js';
import { PROVIDERS, type ProviderName } from '../functions/core/catalog.js';
import { SLOT_WAITING } from '../functions/core/workflow-state.js';
import {
  ACTIVE_RUN_INDEX,
  ACTIVE_STATUS,
  FAMILY_INDEX,
  PROVIDER_JOB_INDEX,
  STATUS_SINCE,
} from '../functions/adapters/dynamodb-run-store.js';
import { STUCK_RUN_HOURS_DEFAULT } from '../functions/core/stuck-runs.js';
import { acknowledge, nagArn } from './nag.js';
import {
  BEDROCK_INPUT_DIR,
  BEDROCK_OUTPUT_DIR,
  DATASET_SUFFIX,
  EMBEDDINGS_PREFIX,
  FAMILY_SETTINGS_FILE,
} from '../functions/core/run.js';
import { EMBED_PREFIX, EMBEDDING_INPUT_SUFFIXES } from '../functions/core/embedding-settings.js';
import { MODEL_INDEX } from '../functions/adapters/dynamodb-model-registry.js';
import { DEFAULT_PARAMETER_PREFIX } from '../functions/core/registry.js';
import { grantFunctionPermissions } from './function-permissions.js';
import { FUNCTION_PERMISSIONS, type FunctionStep } from '../functions/adapters/permissions.js';
import {
  DATA_LIFECYCLE_DEFAULTS,
  LOG_RETENTION,
  SECURE_BUCKET_PROPS,
  SECURE_TABLE_PROPS,
  TRAINING_COPY_TAG,
} from './secure-defaults.js';
import { OperatorPolicy } from './operator-policy.js';
import { TunedropFunction } from './tunedrop-function.js';
import { TunedropDashboard } from './dashboard.js';
import { TunedropNotifications, type TunedropNotificationsProps } from './notifications.js';
import { RunWorkflow } from './workflow.js';
import { EmbeddingWorkflow } from './embedding-workflow.js';

export interface TunedropPipelineProps {
  /**
   * Run settings for every family unless its `incoming/<family>/tunedrop.json` says otherwise. Not
   * `schedule`: a retrain schedule is a family's own (it is set up when the family's tunedrop.json is written).
   * @default {} (the RunConfig defaults: gpt-4.1-mini, auto hyperparameters, 20% validation)
   */
  runDefaults?: Omit<RunConfigInput, 'schedule'>;
  /**
   * Key prefix watched for new data.
   * @default 'incoming/'
   */
  incomingPrefix?: string;
  /**
   * The longest a run may take before its execution times out, waiting for its family's turn included.
   * @default 14 days (RUN_TIMEOUT_DAYS)
   */
  runTimeout?: Duration;
  /**
   * Most provider jobs training at once; further runs wait for a slot.
   * @default 4
   */
  providerConcurrency?: number;
  /**
   * How long an object's older versions (replaced or deleted data, expired run files) are kept.
   * Keep it longer than `runTimeout`: a run reads its data at the version that started it.
   * @default 30 days
   */
  noncurrentVersionExpiration?: Duration;
  /**
   * How long the copies of training data a run makes under `runs/<runId>/` (train.jsonl,
   * validation.jsonl) are kept. Reports, results and summaries are kept.
   * @default 30 days
   */
  trainingCopyExpiration?: Duration;
  /**
   * S3 server access logs for the data bucket, into a logs bucket the construct creates. Turn off only
   * when CloudTrail data events for the bucket are recorded instead (docs/security.md).
   * @default true
   */
  serverAccessLogs?: boolean;
  /**
   * How long server access logs are kept.
   * @default 365 days
   */
  accessLogsExpiration?: Duration;
  /**
   * A customer managed KMS key for the data bucket, the runs table, the dead-letter queue and both
   * secrets. Its key policy must let EventBridge (events.amazonaws.com) use it for the dead-letter queue;
   * the construct adds that to a key it can change (one created in the same stack).
   * @default AWS managed encryption (SSE-S3, DynamoDB's and SQS's own keys, aws/secretsmanager)
   */
  encryptionKey?: IKey;
  /**
   * The providers runs may train on (a family picks one with `"provider"` in its tunedrop.json). Each
   * adds what it needs: Azure OpenAI a secret for its endpoint and key; Bedrock a service role and the
   * functions' Bedrock permissions. A run on a provider left out is rejected at validation.
   * @default ['openai', 'azure-openai', 'bedrock']
   */
  providers?: ProviderName[];
  /**
   * Where the families' current-model SSM parameters are: `<parameterPrefix>/<family>/current-model`.
   * Two stacks in one account and region need different prefixes.
   * @default '/tunedrop'
   */
  parameterPrefix?: string;
  /**
   * How long a run may stay in one status (RECEIVED, PREPARING, UPLOADING, TRAINING, COLLECTING) before
   * the slot sweep counts it stuck (metric RunsStuck, logged with the runs' ids) and the RunStuck alarm
   * notifies. Also `-c tunedrop:stuckRunHours=N`.
   * @default 72 (STUCK_RUN_HOURS_DEFAULT): longer than any training maxTrainingHours allows (66 at most),
   * so a job training within its limits never raises it
   */
  stuckRunHours?: number;
  /**
   * The notifications topic's options: an email to subscribe, cost alarm thresholds (lib/notifications.ts).
   * @default no email, no cost alarms
   */
  notifications?: Pick<
    TunedropNotificationsProps,
    'notifyEmail' | 'dailyCostAlarmUsd' | 'monthlyCostAlarmUsd'
  >;
}

/**
 * Everything a tunedrop deployment is: the data bucket, the runs table, the provider key secret, the
 * functions, the run workflow and the S3 notification that starts it all. No business logic here.
 */
export class TunedropPipeline extends Construct {
  readonly bucket: Bucket;
  readonly table: Table;
  /** The model registry: each family's models and its current one (functions/core/registry.ts). */
  readonly registryTable: Table;
  /** Retrains a family on all its data: its schedule's target, and `tunedrop retrain`'s. */
  readonly retrainFunction: TunedropFunction;
  /** Deletes a model at its provider and in the registry (`tunedrop models delete`). */
  readonly modelsFunction: TunedropFunction;
  readonly apiKeySecret: Secret;
  /** Azure OpenAI's endpoint and key, set by the user after deploy; absent without Azure OpenAI. */
  readonly azureOpenAiSecret?: Secret;
  /** The role Bedrock assumes to read a run's training files and write its output; absent without Bedrock. */
  readonly bedrockServiceRole?: Role;
  /** The provider's webhook signing secret, set by the user after registering `webhookUrl`. */
  readonly webhookSecret: Secret;
  /** Where the provider sends its webhooks (register it in OpenAI's dashboard). */
  readonly webhookUrl: FunctionUrl;
  readonly workflow: RunWorkflow;
  /** Embedding runs: a JSONL or CSV dropped under embed/<collection>/ (docs/embeddings.md). */
  readonly embeddingWorkflow: EmbeddingWorkflow;
  readonly validateFunction: TunedropFunction;
  readonly deadLetters: Queue;
  readonly deadLetterAlarm: Alarm;
  /** Attach to the IAM users or roles that operate tunedrop (drop files, read runs, cancel, redrive). */
  readonly operatorPolicy: OperatorPolicy;
  /** Where the data bucket's server access logs go, unless `serverAccessLogs` is false. */
  readonly accessLogsBucket?: Bucket;
  /** The CloudWatch dashboard: runs, cost, rejections, the workflow, the functions, dead letters (lib/dashboard.ts). */
  readonly dashboard: TunedropDashboard;
  /** The SNS topic of the alarms and the run-end summaries (lib/notifications.ts). */
  readonly notifications: TunedropNotifications;

  constructor(scope: Construct, id: string, props: TunedropPipelineProps = {}) {
    super(scope, id);
    // Context (`-c tunedrop:runDefaults=...`) is not type-checked: a schedule there would apply to no family.
    if (props.runDefaults && 'schedule' in props.runDefaults)
      throw new Error(
        'runDefaults cannot set "schedule": a retrain schedule is a family\'s own; put it in incoming/<family>/tunedrop.json',
      );
    const incomingPrefix = props.incomingPrefix ?? 'incoming/';
    // S3 refuses notifications whose prefixes overlap (and the folders tunedrop writes must not start runs).
    const reserved = [EMBED_PREFIX, EMBEDDINGS_PREFIX, 'runs/'];
    if (
      !incomingPrefix.endsWith('/') ||
      reserved.some((p) => p.startsWith(incomingPrefix) || incomingPrefix.startsWith(p))
    )
      throw new Error(
        `incomingPrefix must be a folder ("…/") apart from ${reserved.join(', ')}, not "${incomingPrefix}"`,
      );

    const key = props.encryptionKey;
    const lifecycle = { ...DATA_LIFECYCLE_DEFAULTS, ...definedOnly(props) };
    if (lifecycle.noncurrentVersionExpiration.toDays() < 1 || lifecycle.trainingCopyExpiration.toDays() < 1)
      throw new Error('noncurrentVersionExpiration and trainingCopyExpiration must be at least one day');

    // First in the template: local mode takes the template's first bucket as the data bucket.
    this.bucket = new Bucket(this, 'DataBucket', {
      ...SECURE_BUCKET_PROPS,
      ...(key ? { encryption: BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true } : {}),
      lifecycleRules: [
        {
          id: 'TidyVersionsAndUploads',
          noncurrentVersionExpiration: lifecycle.noncurrentVersionExpiration,
          abortIncompleteMultipartUploadAfter: lifecycle.abortIncompleteMultipartUploadAfter,
          // A delete marker left alone once its older versions have expired.
          expiredObjectDeleteMarker: true,
        },
        {
          id: 'ExpireTrainingCopies',
          prefix: 'runs/',
          tagFilters: { [TRAINING_COPY_TAG.key]: TRAINING_COPY_TAG.value },
          expiration: lifecycle.trainingCopyExpiration,
        },
        {
          // An embedding run's copies of the texts (its request files) and the provider's raw results:
          // the output, the manifest and the reports are kept.
          id: 'ExpireEmbeddingCopies',
          prefix: EMBEDDINGS_PREFIX,
          tagFilters: { [TRAINING_COPY_TAG.key]: TRAINING_COPY_TAG.value },
          expiration: lifecycle.trainingCopyExpiration,
        },
      ],
    });
    if (props.serverAccessLogs ?? true)
      this.accessLogsBucket = this.logAccessTo(this.bucket, lifecycle.accessLogsExpiration);
    else
      acknowledge(
        this.bucket,
        'Server access logs turned off by the serverAccessLogs prop: the deployer records CloudTrail data events ' +
          'for this bucket instead (docs/security.md).',
        'AwsSolutions-S1',
      );

    this.table = new Table(this, 'RunsTable', {
      ...SECURE_TABLE_PROPS,
      ...(key ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: key } : {}),
      partitionKey: { name: 'runId', type: AttributeType.STRING },
      // Webhook delivery claims expire (functions/adapters/dynamodb-webhook-log.ts); runs never do.
      timeToLiveAttribute: 'expiresAt',
    });
    this.table.addGlobalSecondaryIndex({
      indexName: FAMILY_INDEX,
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
    // The runs not ended, by status and since when (sparse: functions/adapters/dynamodb-run-store.ts):
    // the sweep's stuck runs, without a scan.
    this.table.addGlobalSecondaryIndex({
      indexName: ACTIVE_RUN_INDEX,
      partitionKey: { name: ACTIVE_STATUS, type: AttributeType.STRING },
      sortKey: { name: STATUS_SINCE, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    this.registryTable = new Table(this, 'ModelRegistry', {
      ...SECURE_TABLE_PROPS,
      ...(key ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: key } : {}),
      partitionKey: { name: 'family', type: AttributeType.STRING },
      sortKey: { name: 'model', type: AttributeType.STRING },
    });
    // `tunedrop models show|delete MODEL` finds a model without its family; the pointers list the families.
    this.registryTable.addGlobalSecondaryIndex({
      indexName: MODEL_INDEX,
      partitionKey: { name: 'model', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    const stuckRunHours = props.stuckRunHours ?? STUCK_RUN_HOURS_DEFAULT;
    // Context (`-c tunedrop:stuckRunHours=...`) is not type-checked: refused here, at synth.
    if (!(Number.isFinite(stuckRunHours) && stuckRunHours > 0))
      throw new Error(`stuckRunHours must be a positive number of hours, not ${String(stuckRunHours)}`);
    const parameterPrefix = props.parameterPrefix ?? DEFAULT_PARAMETER_PREFIX;
    if (!/^\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(parameterPrefix))
      throw new Error(
        `parameterPrefix must look like "/tunedrop" (SSM parameter names), not "${parameterPrefix}"`,
      );

    // The families' retrain schedules live in one group of this stack's; Scheduler invokes retrain as this
    // role, for this account's schedules only (confused-deputy conditions, EventBridge Scheduler User Guide,
    // "Set up the execution role", read 2026-11-29).
    const scheduleGroup = new CfnScheduleGroup(this, 'RetrainSchedules', {});
    const schedulerRole = new Role(this, 'SchedulerRole', {
      description: 'tunedrop: assumed by EventBridge Scheduler to invoke the retrain function on a schedule',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    });

    // Created with a placeholder, never the key: the user sets it with put-secret-value after deploy.
    this.apiKeySecret = new Secret(this, 'ProviderApiKey', {
      description: 'tunedrop: the OpenAI API key, as {"apiKey":"sk-..."} or the bare key',
      ...(key ? { encryptionKey: key } : {}),
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ apiKey: PLACEHOLDER_API_KEY }),
        generateStringKey: 'placeholderNonce',
        excludePunctuation: true,
      },
    });

    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      description: 'tunedrop: the signing secret OpenAI shows for the webhook endpoint, whsec_...',
      ...(key ? { encryptionKey: key } : {}),
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ webhookSecret: PLACEHOLDER_WEBHOOK_SECRET }),
        generateStringKey: 'placeholderNonce',
        excludePunctuation: true,
      },
    });
    for (const secret of [this.apiKeySecret, this.webhookSecret])
      acknowledge(
        secret,
        'Holds a credential OpenAI issues (the API key from the dashboard, the webhook signing secret shown ' +
          'once when the endpoint is registered): a rotation function cannot mint a new one. Rotate by issuing ' +
          'a new one at OpenAI and storing it with put-secret-value (docs/security.md).',
        'AwsSolutions-SMG4',
      );

    const providers = [...new Set(props.providers ?? PROVIDERS)];
    if (providers.length === 0) throw new Error('providers must name at least one provider');
    if (providers.includes('azure-openai')) {
      this.azureOpenAiSecret = new Secret(this, 'AzureOpenAiCredentials', {
        description:
          'tunedrop: Azure OpenAI, as {"endpoint":"https://<resource>.openai.azure.com","apiKey":"..."}',
        ...(key ? { encryptionKey: key } : {}),
        generateSecretString: {
          secretStringTemplate: JSON.stringify({
            endpoint: PLACEHOLDER_AZURE_ENDPOINT,
            apiKey: PLACEHOLDER_API_KEY,
          }),
          generateStringKey: 'placeholderNonce',
          excludePunctuation: true,
        },
      });
      acknowledge(
        this.azureOpenAiSecret,
        'Holds a key Azure issues (Keys and Endpoint of the Azure OpenAI resource): a rotation function cannot ' +
          'mint a new one. Rotate by regenerating the key in Azure and storing it with put-secret-value.',
        'AwsSolutions-SMG4',
      );
    }
    if (providers.includes('bedrock')) this.bedrockServiceRole = this.bedrockRole(key);

    const environment = {
      RUNS_TABLE: this.table.tableName,
      DATA_BUCKET: this.bucket.bucketName,
      API_KEY_SECRET_ID: this.apiKeySecret.secretArn,
      INCOMING_PREFIX: incomingPrefix,
      PROVIDER_CONCURRENCY: String(props.providerConcurrency ?? 4),
      PROVIDERS: JSON.stringify(providers),
      MODEL_REGISTRY_TABLE: this.registryTable.tableName,
      PARAMETER_PREFIX: parameterPrefix,
      ...(this.azureOpenAiSecret ? { AZURE_OPENAI_SECRET_ID: this.azureOpenAiSecret.secretArn } : {}),
      ...(this.bedrockServiceRole ? { BEDROCK_ROLE_ARN: this.bedrockServiceRole.roleArn } : {}),
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
    // Lambda's longest: the calls of an evaluation (each model asked up to maxExamples examples) end before
    // it does (the provider adapter's call budget), and a timeout still leaves the model kept, unpromoted.
    const evaluate = fn('Evaluate', 'evaluate', Duration.minutes(15));
    const record = fn('Record', 'record', Duration.minutes(1), { memorySize: 256 });

    const workflowFunctions = [
      prepare,
      upload,
      acquireSlot,
      createJob,
      awaitJob,
      getStatus,
      collect,
      evaluate,
      record,
    ];
    for (const f of workflowFunctions)
      acknowledge(
        f,
        'Invoked synchronously by the state machine (lambda:invoke, RequestResponse): there is no asynchronous ' +
          'event to dead-letter. The workflow retries each task and catches every failure into Record failure.',
        'Serverless-LambdaDLQ',
      );
    // Each role grants exactly the calls its function makes (functions/adapters/permissions.ts).
    const grant = (f: TunedropFunction, step: FunctionStep) =>
      grantFunctionPermissions(f, FUNCTION_PERMISSIONS[step], {
        table: this.table,
        bucket: this.bucket,
        apiKeySecret: this.apiKeySecret,
        webhookSecret: this.webhookSecret,
        azureOpenAiSecret: this.azureOpenAiSecret,
        bedrockRole: this.bedrockServiceRole,
        stateMachine: () => this.workflow.stateMachine,
        embeddingStateMachine: () => this.embeddingWorkflow.stateMachine,
        registryTable: this.registryTable,
        incomingPrefix,
        parameterPrefix,
        schedules: { group: scheduleGroup, role: schedulerRole },
      });
    grant(prepare, 'prepare');
    grant(upload, 'upload');
    grant(acquireSlot, 'acquire-slot');
    grant(createJob, 'create-job');
    grant(awaitJob, 'await-job');
    grant(getStatus, 'get-status');
    grant(collect, 'collect');
    grant(evaluate, 'evaluate');
    grant(record, 'record');
    // Object actions end in a key pattern under the prefixes each function uses.
    const objectPrefixes = (f: TunedropFunction, ...prefixes: string[]) =>
      acknowledge(
        f.role!,
        'Object ARNs under the prefix this function reads or writes (incoming/* or runs/*): object keys are ' +
          'not known in advance, and the prefix is the narrowest bound.',
        ...prefixes.map((prefix) => `AwsSolutions-IAM5[Resource::${nagArn(this.bucket)}/${prefix}*]`),
      );
    objectPrefixes(prepare, 'incoming/', 'runs/');
    objectPrefixes(upload, 'runs/');
    objectPrefixes(collect, 'runs/');
    objectPrefixes(evaluate, 'runs/');
    objectPrefixes(record, 'runs/');

    this.workflow = new RunWorkflow(this, 'RunWorkflow', {
      functions: { prepare, upload, acquireSlot, createJob, awaitJob, getStatus, collect, evaluate, record },
      ...(props.runTimeout ? { timeout: props.runTimeout } : {}),
    });

    // Tokenizing is CPU-bound: 1769 MB buys a full vCPU.
    // Events that still fail after Lambda's retries land here, with the error, for redrive
    // (`npx tunedrop redrive`); the alarm says when anything is waiting.
    this.deadLetters = new Queue(this, 'DeadLetters', {
      ...(key
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: key }
        : { encryption: QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetters,
      'This queue is the dead-letter queue (of the Validate and Reconcile functions and of the reconcile rule): ' +
        'a dead-letter queue needs no dead-letter queue of its own. Its letters wait 14 days for ' +
        '`tunedrop redrive`, and the DeadLettersWaiting alarm says when there are any.',
      'AwsSolutions-SQS3',
      'Serverless-SQSRedrivePolicy',
    );
    // EventBridge sends to a queue encrypted with a customer managed key only if the key policy lets it.
    key?.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.deadLetterAlarm = new Alarm(this, 'DeadLettersWaiting', {
      alarmDescription:
        'tunedrop: events failed after retries and wait in the dead-letter queue; see README "Redrive"',
      metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // What a drop's check runs with: Lambda's retries, then the dead letters; a full vCPU for tokenizing.
    const dropCheck = {
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetters),
      memorySize: 1769,
      bundledFiles: ['node_modules/tiktoken/tiktoken_bg.wasm'],
    };
    this.validateFunction = fn('Validate', 'validate', Duration.minutes(15), {
      ...dropCheck,
      environment: {
        ...environment,
        STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn,
        RUN_DEFAULTS: JSON.stringify(props.runDefaults ?? {}),
      },
    });
    grant(this.validateFunction, 'validate');
    objectPrefixes(this.validateFunction, 'incoming/', 'runs/');

    // Embeddings (#15): a JSONL or CSV under embed/<collection>/ is checked, then embedded by the provider
    // (its Batch API, or direct calls) into embeddings/<runId>/embeddings.parquet.
    const embedPrepare = fn('EmbedPrepare', 'embed-prepare', Duration.minutes(15), {
      memorySize: 1769,
      bundledFiles: ['node_modules/tiktoken/tiktoken_bg.wasm'],
    });
    const embedBatches = fn('EmbedBatches', 'embed-batches', Duration.minutes(15), { memorySize: 1024 });
    const embedCollect = fn('EmbedCollect', 'embed-collect', Duration.minutes(15), { memorySize: 1769 });
    const embedRecord = fn('EmbedRecord', 'embed-record', Duration.minutes(1), { memorySize: 256 });
    for (const f of [embedPrepare, embedBatches, embedCollect, embedRecord])
      acknowledge(
        f,
        'Invoked synchronously by the embedding state machine: there is no asynchronous event to dead-letter. ' +
          'The workflow retries each task and catches every failure into Record embedding failure.',
        'Serverless-LambdaDLQ',
      );
    grant(embedPrepare, 'embed-prepare');
    grant(embedBatches, 'embed-batches');
    grant(embedCollect, 'embed-collect');
    grant(embedRecord, 'embed-record');
    objectPrefixes(embedPrepare, 'embed/', 'embeddings/');
    objectPrefixes(embedBatches, 'embeddings/');
    objectPrefixes(embedCollect, 'embed/', 'embeddings/');
    this.embeddingWorkflow = new EmbeddingWorkflow(this, 'EmbeddingWorkflow', {
      functions: {
        prepare: embedPrepare,
        batches: embedBatches,
        awaitJob,
        collect: embedCollect,
        record: embedRecord,
      },
    });
    const validateEmbeddings = fn('ValidateEmbeddings', 'validate-embeddings', Duration.minutes(15), {
      ...dropCheck,
      environment: {
        ...environment,
        STATE_MACHINE_ARN: this.embeddingWorkflow.stateMachine.stateMachineArn,
      },
    });
    grant(validateEmbeddings, 'validate-embeddings');
    objectPrefixes(validateEmbeddings, 'embed/', 'embeddings/');
    acknowledge(
      validateEmbeddings,
      'Its failed asynchronous invocations go to the dead-letter queue through an on-failure destination, ' +
        'which keeps the error with the event (see the Validate function).',
      'Serverless-LambdaDLQ',
    );
    for (const suffix of EMBEDDING_INPUT_SUFFIXES)
      this.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(validateEmbeddings), {
        prefix: EMBED_PREFIX,
        suffix,
      });

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
    grant(reconcile, 'reconcile');
    objectPrefixes(reconcile, 'runs/');
    for (const f of [this.validateFunction, reconcile])
      acknowledge(
        f,
        'Its failed asynchronous invocations go to the dead-letter queue through an on-failure destination ' +
          '(EventInvokeConfig) rather than a DeadLetterConfig: the destination keeps the error with the event ' +
          '(Lambda developer guide, "Capturing records of Lambda asynchronous invocations": for dead-letter ' +
          'queues "Lambda only sends the content of the event, without details about the response", read ' +
          '2026-11-29), which `tunedrop redrive` reports.',
        'Serverless-LambdaDLQ',
      );
    new Rule(this, 'RunEndedUnrecorded', {
      description: 'tunedrop: record runs whose workflow stopped, timed out or failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          stateMachineArn: [
            this.workflow.stateMachine.stateMachineArn,
            this.embeddingWorkflow.stateMachine.stateMachineArn,
          ],
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

    // Bedrock's job state changes wake the run whose job ended (as OpenAI's webhooks do), from the
    // account's default event bus: nothing to register.
    let jobEvent: TunedropFunction | undefined;
    if (this.bedrockServiceRole) {
      jobEvent = fn('JobEvent', 'job-event', Duration.seconds(30), {
        memorySize: 256,
        retryAttempts: 2,
      });
      grant(jobEvent, 'job-event');
      const rule = new Rule(this, 'BedrockJobStateChange', {
        description: 'tunedrop: wake the run whose Bedrock customization job ended',
        eventPattern: {
          source: ['aws.bedrock'],
          detailType: ['Model Customization Job State Change'],
          detail: { jobStatus: ['Completed', 'Failed', 'Stopped'] },
        },
        targets: [new LambdaFunction(jobEvent, { retryAttempts: 8, maxEventAge: Duration.hours(1) })],
      });
      const lostWake =
        'A Bedrock job event that is lost after retries only delays its run: Get status looks at the job anyway ' +
        'when its wait times out (at most an hour later), and reads the job from Bedrock, not from the event.';
      acknowledge(jobEvent, lostWake, 'Serverless-LambdaDLQ', 'Serverless-LambdaAsyncFailureDestination');
      acknowledge(rule, lostWake, 'Serverless-EventBusDLQ');
    }

    // Waiting runs are resumed by whoever frees a slot; this sweep catches what they could not.
    // It also counts the runs stuck in one status longer than stuckRunHours (RunsStuck).
    const sweepSlots = fn('SweepSlots', 'sweep-slots', Duration.minutes(1), {
      memorySize: 256,
      environment: { ...environment, STUCK_RUN_MINUTES: String(stuckRunHours * 60) },
    });
    grant(sweepSlots, 'sweep-slots');
    const sweepMinutes =
      'Run every ' +
      String(SLOT_WAITING.sweepMinutes) +
      ' minutes by a schedule; a failed sweep is redone by the next one, so its events need no dead letters ' +
      '(and `tunedrop redrive` has nothing to send back: the sweep takes no input).';
    acknowledge(sweepSlots, sweepMinutes, 'Serverless-LambdaDLQ');
    const sweepSchedule = new Rule(this, 'SweepSlotsSchedule', {
      description: 'tunedrop: give free provider slots to waiting runs that nobody resumed',
      schedule: Schedule.rate(Duration.minutes(SLOT_WAITING.sweepMinutes)),
      // The next sweep is minutes away: a failed one needs no retries or dead letters of its own.
      targets: [new LambdaFunction(sweepSlots, { retryAttempts: 0, maxEventAge: Duration.minutes(5) })],
    });
    acknowledge(sweepSchedule, sweepMinutes, 'Serverless-EventBusDLQ');

    // The provider's webhooks. A function URL with no AWS auth (OpenAI cannot sign AWS requests):
    // each delivery is verified with the webhook secret before anything is read (functions/webhook).
    const webhook = fn('Webhook', 'webhook', Duration.seconds(30), {
      memorySize: 256,
      environment: { ...environment, WEBHOOK_SECRET_ID: this.webhookSecret.secretArn },
    });
    grant(webhook, 'webhook');
    this.webhookUrl = webhook.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    acknowledge(
      webhook,
      'Invoked synchronously through its function URL: no asynchronous event to dead-letter. A delivery that ' +
        'fails gets an error status and OpenAI delivers it again; runs that miss one still end by polling.',
      'Serverless-LambdaDLQ',
    );

    // Resuming a parked run is SendTaskSuccess. The action has no resource type: IAM accepts it only with
    // Resource "*" ("If there is no value for this column, you must specify all resources", Service
    // Authorization Reference for AWS Step Functions, read 2026-11-29; CDK's grantTaskResponse scopes it
    // to the state machine and so grants nothing, aws/aws-cdk discussion #26401). The task token is the
    // capability: only a holder of a run's token can resume it. Only SendTaskSuccess, never Failure or
    // Heartbeat. A separate policy: functions in the state machine's definition with this in their
    // default policies would not make a cycle now, but keep it one statement, in one place.
    const resumeParkedRuns = new Policy(this, 'ResumeParkedRuns', {
      statements: [new PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: ['*'] })],
      roles: [
        acquireSlot,
        awaitJob,
        record,
        reconcile,
        sweepSlots,
        webhook,
        ...(jobEvent ? [jobEvent] : []),
      ].map((f) => f.role!),
    });
    acknowledge(
      resumeParkedRuns,
      'states:SendTaskSuccess has no resource type: IAM accepts it only with Resource "*" (Service Authorization ' +
        'Reference for AWS Step Functions, read 2026-11-29). The task token is the capability; see the comment above.',
      'AwsSolutions-IAM5[Resource::*]',
    );

    // Families that learn from each drop: retrain on a schedule or on an operator's word, delete models.
    this.retrainFunction = fn('Retrain', 'retrain', Duration.minutes(1), {
      memorySize: 256,
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      onFailure: new SqsDestination(this.deadLetters),
      environment: {
        ...environment,
        STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn,
        RUN_DEFAULTS: JSON.stringify(props.runDefaults ?? {}),
      },
    });
    grant(this.retrainFunction, 'retrain');
    objectPrefixes(this.retrainFunction, 'incoming/', 'runs/');
    this.retrainFunction.grantInvoke(schedulerRole);
    this.modelsFunction = fn('Models', 'models', Duration.minutes(1), { memorySize: 256 });
    grant(this.modelsFunction, 'models');
    acknowledge(
      this.modelsFunction,
      'Invoked synchronously by `tunedrop models delete`: there is no asynchronous event to dead-letter.',
      'Serverless-LambdaDLQ',
    );
    const familySettings = fn('FamilySettings', 'family-settings', Duration.minutes(1), {
      memorySize: 256,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetters),
      environment: {
        ...environment,
        RUN_DEFAULTS: JSON.stringify(props.runDefaults ?? {}),
        SCHEDULE_GROUP: scheduleGroup.ref,
        RETRAIN_FUNCTION_ARN: this.retrainFunction.functionArn,
        SCHEDULER_ROLE_ARN: schedulerRole.roleArn,
      },
    });
    grant(familySettings, 'family-settings');
    objectPrefixes(familySettings, 'incoming/');
    for (const f of [this.retrainFunction, familySettings])
      acknowledge(
        f,
        'Its failed asynchronous invocations go to the dead-letter queue through an on-failure destination, ' +
          'which keeps the error with the event (see the Validate function).',
        'Serverless-LambdaDLQ',
      );
    acknowledge(
      schedulerRole,
      "CDK's grantInvoke: lambda:InvokeFunction on the retrain function and on `<function ARN>:*`, its versions " +
        'and aliases. The wildcard never reaches another function.',
      `AwsSolutions-IAM5[Resource::${nagArn(this.retrainFunction)}:*]`,
    );

    this.operatorPolicy = new OperatorPolicy(this, 'Operators', {
      stateMachine: this.workflow.stateMachine,
      embeddingStateMachine: this.embeddingWorkflow.stateMachine,
      deadLetters: this.deadLetters,
      redriveTargets: [this.validateFunction, reconcile, validateEmbeddings],
      bucket: this.bucket,
      incomingPrefix,
      table: this.table,
      registryTable: this.registryTable,
      operatorFunctions: [this.retrainFunction, this.modelsFunction],
      ...(key ? { encryptionKey: key } : {}),
    });

    this.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(this.validateFunction), {
      prefix: incomingPrefix,
      suffix: DATASET_SUFFIX,
    });
    // A family's settings file written or removed: its retrain schedule follows it.
    for (const event of [EventType.OBJECT_CREATED, EventType.OBJECT_REMOVED])
      this.bucket.addEventNotification(event, new LambdaDestination(familySettings), {
        prefix: incomingPrefix,
        suffix: FAMILY_SETTINGS_FILE,
      });
    keepNotificationHandlerLogs(Stack.of(this));
    this.dashboard = new TunedropDashboard(this, 'Dashboard', {
      stateMachine: this.workflow.stateMachine,
      embeddingStateMachine: this.embeddingWorkflow.stateMachine,
      deadLetters: this.deadLetters,
      providers,
      functions: this.node.children.filter((c) => c instanceof TunedropFunction),
    });
    this.notifications = new TunedropNotifications(this, 'Notifications', {
      ...props.notifications,
      stuckRuns: { hours: stuckRunHours, sweepInterval: Duration.minutes(SLOT_WAITING.sweepMinutes) },
      stateMachine: this.workflow.stateMachine,
      embeddingStateMachine: this.embeddingWorkflow.stateMachine,
      bucket: this.bucket,
      alarms: [this.deadLetterAlarm],
      ...(key ? { encryptionKey: key } : {}),
    });

    if (key)
      for (const f of this.node.children)
        if (f instanceof TunedropFunction)
          acknowledge(
            f.role!,
            "CDK's grants on the customer managed key (encryptionKey): kms:GenerateDataKey* and kms:ReEncrypt* " +
              'on that one key only, what encrypting and decrypting its data takes.',
            'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
            'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
          );
  }

  /**
   * Sends `bucket`'s S3 server access logs to a logs bucket created here (SSE-S3, private, TLS only,
   * logs expired after `expiration`). Wired by hand rather than with `serverAccessLogsBucket`, so the data
   * bucket stays the first bucket in the template.
   */
  /**
   * The service role Bedrock assumes for a customization job: it reads the training files tunedrop
   * writes under runs/<run>/bedrock/ and writes Bedrock's output under runs/<run>/bedrock-output/, nothing
   * else. Only Bedrock may assume it, and only for this account's customization jobs (the confused-deputy
   * conditions of https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-job-access-security.html,
   * read 2026-11-29). One role for every run: a role per run would need iam:CreateRole at run time, a far
   * wider permission than the prefix pattern it would narrow.
   */
  private bedrockRole(key: IKey | undefined): Role {
    const stack = Stack.of(this);
    const role = new Role(this, 'BedrockServiceRole', {
      description:
        'tunedrop: assumed by Amazon Bedrock to read training files and write job output under runs/',
      assumedBy: new ServicePrincipal('bedrock.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:model-customization-job/*`,
          },
        },
      }),
    });
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`runs/*/${BEDROCK_INPUT_DIR}/*`)],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [this.bucket.arnForObjects(`runs/*/${BEDROCK_OUTPUT_DIR}/*`)],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['runs/*'] } },
      }),
    );
    // Reads the training files and writes the output: with a customer managed key, both under it.
    if (key)
      role.addToPolicy(
        new PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [key.keyArn] }),
      );
    acknowledge(
      role,
      'Object ARNs under runs/*/bedrock/* and runs/*/bedrock-output/*: each run has its own prefix, unknown ' +
        'at deploy time, and these patterns are the narrowest bound a single role can have.',
      `AwsSolutions-IAM5[Resource::${nagArn(this.bucket)}/runs/*/${BEDROCK_INPUT_DIR}/*]`,
      `AwsSolutions-IAM5[Resource::${nagArn(this.bucket)}/runs/*/${BEDROCK_OUTPUT_DIR}/*]`,
    );
    return role;
  }

  private logAccessTo(bucket: Bucket, expiration: Duration): Bucket {
    const prefix = 'data-bucket/';
    const logs = new Bucket(this, 'AccessLogs', {
      ...SECURE_BUCKET_PROPS,
      // Logs are written once, never replaced: versions would only keep deleted logs.
      versioned: false,
      lifecycleRules: [
        { id: 'ExpireAccessLogs', expiration, abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    (bucket.node.defaultChild as CfnBucket).loggingConfiguration = {
      destinationBucketName: logs.bucketName,
      logFilePrefix: prefix,
    };
    // S3's log delivery writes with the logging service principal, for this source bucket and account only.
    logs.addToResourcePolicy(
      new PolicyStatement({
        sid: 'S3ServerAccessLogsPolicy',
        principals: [new ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [logs.arnForObjects(`${prefix}*`)],
        conditions: {
          ArnLike: { 'aws:SourceArn': bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    acknowledge(
      logs,
      'This is the access logs bucket: logging its own accesses into itself would log every log delivery.',
      'AwsSolutions-S1',
    );
    return logs;
  }
}

/** The lifecycle props a caller set, so that an undefined one does not hide its default. */
function definedOnly(props: TunedropPipelineProps) {
  const picked: Partial<Record<keyof typeof DATA_LIFECYCLE_DEFAULTS, Duration>> = {};
  if (props.noncurrentVersionExpiration)
    picked.noncurrentVersionExpiration = props.noncurrentVersionExpiration;
  if (props.trainingCopyExpiration) picked.trainingCopyExpiration = props.trainingCopyExpiration;
  if (props.accessLogsExpiration) picked.accessLogsExpiration = props.accessLogsExpiration;
  return picked;
}

/**
 * CDK's bucket-notification handler (a singleton function per stack, outside this construct) logs to a log
 * group kept as long as ours, and its role's AWS managed policy is acknowledged: CDK attaches it whatever
 * role the handler is given.
 */
function keepNotificationHandlerLogs(stack: Stack): void {
  const handler = stack.node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
  const fn = handler?.node.tryFindChild('Resource');
  if (!handler || !CfnResource.isCfnResource(fn) || stack.node.tryFindChild('BucketNotificationsHandlerLogs'))
    return;
  const logs = new LogGroup(stack, 'BucketNotificationsHandlerLogs', { retention: LOG_RETENTION });
  fn.addPropertyOverride('LoggingConfig', { LogGroup: logs.logGroupName });
  acknowledge(
    handler,
    "CDK's own bucket-notification handler (aws-cdk-lib's singleton custom resource); CDK attaches " +
      'AWSLambdaBasicExecutionRole (CloudWatch Logs writes only) to its role, whatever role it is given.',
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
  );
}
