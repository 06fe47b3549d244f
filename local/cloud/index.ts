import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createReadStream, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Event } from 'aws-lambda';
import { createdObjects, S3EventSchema } from '../../functions/core/s3-event.js';
import { deriveRunId, RunRecordSchema, TERMINAL_STATUSES, type RunRecord } from '../../functions/core/run.js';
import { awsRedriveDeps, receiveDeadLetters } from '../../functions/adapters/aws-redrive.js';
import type { LocalConnection } from '../../cli/aws-target.js';
import type { DeadLetter, RedriveDeps } from '../../functions/core/redrive.js';
import { buildApp, STACK_NAME } from '../../lib/app.js';
import type { TunedropPipelineProps } from '../../lib/pipeline.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  planFromTemplate,
  resolveIntrinsics,
  type PolicyDocument,
  type CloudFormationTemplate,
  type LocalFunction,
  type LocalPlan,
} from '../template.js';
import { createTableFromTemplate, startLocalDynamoDb } from './dynamodb.js';
import { executionStatusChangeEvent, LocalEventBus, type BusEvent, type PutEventsEntry } from './events.js';
import { AwsApiError, serveAwsJson } from './aws-json-server.js';
import {
  Authorizer,
  functionPrincipal,
  LOCAL_ADMIN,
  rolePolicies,
  servicePrincipal,
  type Decision,
  type Principal,
} from './iam/authorizer.js';
import { startGateway, type Gateway } from './iam/gateway.js';
import {
  classifyBedrock,
  classifyBedrockRuntime,
  classifyCloudFormation,
  classifyJson,
  classifyLambda,
  classifyS3,
  classifyScheduler,
  classifySsm,
  classifyEvents,
  classifySns,
  s3NotFoundNeeds,
  type ResourceNames,
} from './iam/requests.js';
import { startLocalCloudFormation } from './cloudformation.js';
import { customizationJobStateChangeEvent, startLocalBedrock, type LocalBedrockOptions } from './bedrock.js';
import type { BedrockFaults } from './bedrock-faults.js';
import {
  startHttp2Front,
  startLocalBedrockRuntime,
  type ConverseUsage,
  type InvokeModelUsage,
} from './bedrock-runtime.js';
import { startFunctionUrlServer } from './function-urls.js';
import { functionResolver, startLocalLambdaApi } from './lambda-api.js';
import { startLocalSqs } from './sqs.js';
import {
  LambdaError,
  LocalLambda,
  type AsyncInvocationOutcome,
  type FunctionCredentials,
  type Invoke,
} from './lambda.js';
import { startLocalS3 } from './s3.js';
import { startLocalSecretsManager } from './secrets-manager.js';
import { LocalScheduler, type ScheduleSummary } from './scheduler.js';
import { startLocalSsm } from './ssm.js';
import { LocalStepFunctions, type Definition } from './step-functions.js';
import { LocalMetrics, metricsOfLine, type LocalMetric } from './metrics.js';
import { startLocalSns, type LocalNotification } from './sns.js';
import { LocalAlarms, type AlarmState, type Datapoint, type MetricSpec } from './alarms.js';
import { startLocalXRay, type TraceDenial, type TraceSegment } from './xray.js';

/**
 * The embedded local cloud: the synthesized tunedrop stack, run on this machine. Every resource comes
 * from the template the real deployment uses (buckets, tables, secrets, functions with their
 * environment and role, state machines, S3 notifications, EventBridge rules, IAM policies), served by
 * local emulators; the functions are the real handlers, each in execution environments of its own,
 * and the workflow the real definition.
 *
 * IAM is enforced as AWS enforces it: every endpoint sits behind an IAM gateway (local/cloud/iam), and
 * each function calls it with its own role's credentials; Step Functions invokes functions as its
 * role; S3 and EventBridge invoke them only where the function's resource policy lets them.
 */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface LocalCloudOptions {
  /** The OpenAI-compatible API the functions call (the emulator, or the real API). */
  openAiBaseUrl: string;
  /** Put in the provider key secret, as a user would after deploying. */
  apiKey: string;
  /**
   * Azure OpenAI's endpoint and key (the emulator's Azure mode, or a real resource), put in the Azure
   * OpenAI secret as a user would after deploying. @default the secret keeps its placeholder
   */
  azureOpenAi?: {
    endpoint: string;
    apiKey: string;
    /**
     * The service principal that deploys fine-tuned models through ARM, and where Entra and ARM are
     * (the emulator's `{endpoint}/entra` and `{endpoint}/arm`; the product defaults to
     * https://login.microsoftonline.com and https://management.azure.com).
     */
    management?: {
      tenantId: string;
      clientId: string;
      clientSecret: string;
      subscriptionId: string;
      resourceGroup: string;
      accountName: string;
      authorityHost?: string;
      resourceManager?: string;
    };
  };
  /** Real seconds per workflow second. @default 1/600 */
  timeScale?: number;
  /** Where S3 objects are kept; a temporary directory when absent. */
  dataDir?: string;
  /** Function log level. @default 'ERROR' */
  logLevel?: string;
  /** Props of the pipeline construct, as a deployment would set them (e.g. providerConcurrency). */
  pipeline?: TunedropPipelineProps;
  /**
   * Changes the synthesized template before local mode reads it, as a different deployment would be:
   * tests use it to take a grant away and watch the call that needs it fail.
   */
  transformTemplate?: (template: CloudFormationTemplate) => CloudFormationTemplate;
  /**
   * Where to write how to reach this cloud (endpoints and the operator's credentials), for
   * `tunedrop cancel|redrive --local` in another process; removed on close. @default none
   */
  connectionFile?: string;
  /** Where the functions' log lines go. @default this process's stdout and stderr */
  onLog?: (functionName: string, stream: 'stdout' | 'stderr', line: string) => void;
  /**
   * Whether EventBridge's scheduled rules fire on their own (at scaled time); tests that count
   * invocations turn them off and fire a rule with `fireSchedule`. @default true
   */
  schedules?: boolean;
  /** The local Bedrock's job phases in real milliseconds (default: scaled by timeScale). */
  bedrockTiming?: LocalBedrockOptions['timing'];
  /** Each message published to an SNS topic (alarms, run-end summaries), e.g. to show it. @default none */
  onNotification?: (notification: LocalNotification) => void;
}

/** Endpoints and credentials for an SDK client acting as the local cloud's administrator. */
export interface LocalClientConfig {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface LocalCloud {
  plan: LocalPlan;
  bucket: string;
  table: string;
  stateMachineArn: string;
  /** An S3 client acting as the administrator (allowed everything the bucket policy allows). */
  s3: S3Client;
  stepFunctions: LocalStepFunctions;
  /** The functions' execution environments. */
  lambda: LocalLambda;
  /** Every IAM decision so far, in order (who, what, on which resource, allowed or why not). */
  iamDecisions: readonly Decision[];
  /** The endpoints behind IAM, by the service names of AWS_ENDPOINT_URL_<SERVICE>. */
  endpoints: Record<ServiceName, string>;
  /** Client settings for the administrator's SDK clients: `new DynamoDBClient({ ...cloud.clientConfig, endpoint })`. */
  clientConfig: LocalClientConfig;
  /**
   * Client settings for an operator: an IAM user with only the stack's operator policy (the
   * OperatorPolicyArn output), as the README tells people to set up; the CLI's `--local` uses these.
   */
  operatorClientConfig: LocalClientConfig;
  /** Uploads a file as a user would and returns the run id its event produces. */
  drop(localPath: string, key: string): Promise<string>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(): Promise<RunRecord[]>;
  /**
   * Resolves with the run once it reaches a terminal status (or satisfies `until`); calls onChange on
   * every change.
   */
  waitForRun(
    runId: string,
    options?: {
      onChange?: (run: RunRecord) => void;
      timeoutMs?: number;
      until?: (run: RunRecord) => boolean;
    },
  ): Promise<RunRecord>;
  /** Copies a run's files (runs/<runId>/…) to `dir`, so a person can open them; returns their paths. */
  saveRunFiles(runId: string, dir: string): Promise<string[]>;
  /** The last S3 event delivered for a key, to deliver it again as S3's at-least-once delivery may. */
  lastEvent(key: string): S3Event | undefined;
  /** Invokes a function of the template synchronously, as the administrator would, by its ARN. */
  invoke(functionArn: string, event: unknown): Promise<unknown>;
  /**
   * The credentials a function's execution environments get (its role's session), by source entry
   * (e.g. `functions/validate/handler.ts`): an SDK client made with them acts as that function.
   */
  functionCredentials(entry: string): { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  /** Sets environment variables on every function, as UpdateFunctionConfiguration would. */
  updateFunctionEnvironment(variables: Record<string, string | undefined>): void;
  /**
   * The dead-letter queue (local SQS) with the redrive ports, the same adapter `tunedrop redrive` uses:
   * a received letter is invisible for the adapter's visibility timeout, as on SQS.
   */
  deadLetters: RedriveDeps;
  /** The dead letters waiting now, read without hiding them (a receive with visibility timeout 0). */
  peekDeadLetters(): Promise<DeadLetter[]>;
  /** Failed deliveries of S3 events to the validate function, after its retries. */
  deliveryFailures: Array<{ key: string; error: unknown }>;
  /** Events AWS would have dropped: retries spent with no destination, or a destination refused. */
  droppedEvents: Array<{ functionName: string; reason: string }>;
  /**
   * The template's Lambda function URLs, served on 127.0.0.1, by the source entry of their function
   * (as `functionCredentials` names functions): `http://127.0.0.1:<port>/`. The stack's outputs that
   * name a URL (Fn::GetAtt <Url>.FunctionUrl) hold the same address.
   */
  functionUrls: ReadonlyMap<string, string>;
  /** Fires an EventBridge scheduled rule now, by name (its logical id) or ARN; resolves once delivered. */
  fireSchedule(ruleNameOrArn: string): Promise<void>;
  /**
   * Every custom metric value the functions have written (their stdout's EMF documents, as CloudWatch
   * reads them; local/cloud/metrics.ts), in order. Without an `onLog`, those lines are not echoed.
   */
  metrics(): LocalMetric[];
  /**
   * Every X-Ray segment and subsegment the functions' daemons uploaded (local/cloud/xray.ts), flattened,
   * in arrival order: Lambda's segment of each traced invocation, the Tracer's `## <handler>` subsegment
   * with its annotations (runId, family, jobId), and one subsegment per AWS SDK or HTTP call. The workflow's
   * functions of one execution share its trace id. Datagrams still in flight are not in it: see
   * settleTraces.
   */
  traces(): TraceSegment[];
  /**
   * Uploads (xray:PutTraceSegments, as the function's role) local IAM refused: their segments are lost, as
   * on AWS. These decisions are not in iamDecisions, which holds the calls the functions' code makes.
   */
  traceDenials(): TraceDenial[];
  /** Resolves once the segments the daemons have received are uploaded or refused. */
  settleTraces(): Promise<void>;
  /** Stops the scheduled rules' timers (invocations already under way go on). */
  pauseSchedules(): void;
  /** Starts the scheduled rules' timers again; each fires one period from now. */
  resumeSchedules(): void;
  /** How many scheduled rules' timers are running: 0 when paused and after close. */
  activeSchedules(): number;
  /**
   * The local Bedrock model-customization control plane (behind IAM at `endpoints.BEDROCK`): its faults,
   * and its jobs and custom model deployments as they are now; and its runtime (behind IAM at
   * `endpoints.BEDROCK_RUNTIME`): the Converse calls it answered.
   */
  bedrock: {
    faults: BedrockFaults;
    jobs(): ReturnType<Awaited<ReturnType<typeof startLocalBedrock>>['jobs']>;
    deployments(): ReturnType<Awaited<ReturnType<typeof startLocalBedrock>>['deployments']>;
    /** Converse calls answered (refused ones are not counted), by the modelId they named. */
    converseCalls(): Record<string, ConverseUsage>;
    /** InvokeModel calls answered (Titan Text Embeddings V2), by modelId: calls and input tokens. */
    invokeModelCalls(): Record<string, InvokeModelUsage>;
  };
  /**
   * The local EventBridge Scheduler (behind IAM at `endpoints.SCHEDULER`). Its clock of schedule time runs
   * 1/timeScale times faster than real time and fires schedules by itself, unless the `schedules` option
   * is false: then it stands still until `advance` moves it, so tests decide exactly what fires.
   */
  scheduler: {
    /** Every schedule, in every group. */
    schedules(): Array<Pick<ScheduleSummary, 'group' | 'name' | 'expression' | 'state' | 'target'>>;
    /** Fires a schedule now, as an occurrence would; resolves once delivered (or dropped). */
    fire(group: string, name: string): Promise<void>;
    /**
     * Moves the scheduler's clock forward by `ms` of schedule time, firing every occurrence that falls due
     * on the way, in order; resolves with how many fired, once delivered.
     */
    advance(ms: number): Promise<number>;
    /** The scheduler's clock: what at() and cron() expressions are read against. */
    now(): Date;
  };
  /**
   * The default EventBridge bus (PutEvents behind IAM at `endpoints.EVENTBRIDGE`): the events put on it
   * (tunedrop's run events among them), and the deliveries to the template's rules' targets.
   */
  events: {
    received(): readonly BusEvent[];
    deliveries(): ReadonlyArray<{ ruleArn: string; targetArn: string; event: unknown }>;
  };
  /**
   * Every message published to the template's SNS topics (behind IAM at `endpoints.SNS`), in order: the
   * run-end summaries EventBridge publishes and the alarms' notifications CloudWatch publishes.
   */
  notifications(): LocalNotification[];
  /**
   * The template's CloudWatch alarms, evaluated against the metrics the local cloud sees
   * (local/cloud/alarms.ts says what that does and does not do).
   */
  alarms: {
    /** An alarm's state by its logical id; undefined for an alarm local mode does not evaluate. */
    state(logicalId: string): AlarmState | undefined;
    /** Evaluates every alarm now; resolves once its notifications are published. */
    evaluate(): Promise<void>;
    /** Alarms local mode does not evaluate, and why. */
    skipped: ReadonlyArray<{ alarm: string; reason: string }>;
  };
  close(): Promise<void>;
}

type ServiceName =
  | 'S3'
  | 'DYNAMODB'
  | 'SECRETS_MANAGER'
  | 'SFN'
  | 'SQS'
  | 'LAMBDA'
  | 'CLOUDFORMATION'
  | 'BEDROCK'
  | 'BEDROCK_RUNTIME'
  | 'SSM'
  | 'SCHEDULER'
  | 'EVENTBRIDGE'
  | 'SNS';

/** The administrator's access key; the gateways hand s3rver its own fixed key pair upstream. */
const ADMIN_ACCESS_KEY = 'LOCALADMINACCESSKEY0';
const S3RVER_KEY = 'S3RVER';
const OPERATOR_ACCESS_KEY = 'LOCALOPERATORKEY0000';

export function synthesizeTemplate(pipeline: TunedropPipelineProps = {}): CloudFormationTemplate {
  const { app } = buildApp({
    appProps: { context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false },
    stackProps: { pipeline },
  });
  return app.synth().getStackByName(STACK_NAME).template as CloudFormationTemplate;
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const template = synthesizeTemplate(options.pipeline);
  const deployed = options.transformTemplate?.(template) ?? template;
  const plan = planFromTemplate(deployed, { entryMetadataKey: ENTRY_METADATA_KEY });
  const [bucket] = plan.buckets;
  // Every table of the template is created (below); the runs table is the one keyed by runId (the first
  // table, as the stack declares it first), which `table`, getRun and listRuns read.
  const table =
    plan.tables.find((t) =>
      ((t.properties.KeySchema ?? []) as Array<{ AttributeName?: string; KeyType?: string }>).some(
        (k) => k.KeyType === 'HASH' && k.AttributeName === 'runId',
      ),
    ) ?? plan.tables[0];
  const [machine] = plan.stateMachines;
  if (!bucket || !table || !machine)
    throw new Error('the template lacks a bucket, a table or a state machine');
  const timeScale = options.timeScale ?? 1 / 600;

  const closers: Array<() => Promise<void>> = [];
  const savedEnv = { ...process.env };
  try {
    const authorizer = new Authorizer(plan.resourcePolicies);
    const sqs = await startLocalSqs();
    closers.push(() => sqs.close());

    // Identities: the administrator (this process, the tests, the CLI) and one per function.
    const identities = new Map<string, Principal>([[ADMIN_ACCESS_KEY, LOCAL_ADMIN]]);
    const operatorPolicy = plan.managedPolicies.get(plan.outputs.OperatorPolicyArn?.value ?? '');
    if (operatorPolicy)
      identities.set(OPERATOR_ACCESS_KEY, {
        arn: `arn:aws:iam::${LOCAL_ACCOUNT}:user/local-operator`,
        policies: [operatorPolicy],
      });
    const credentials = new Map<string, FunctionCredentials>();
    plan.functions.forEach((fn, index) => {
      const accessKeyId = `ASIALOCAL${String(index).padStart(11, '0')}`;
      identities.set(accessKeyId, functionPrincipal(plan, fn));
      credentials.set(fn.arn, {
        AWS_ACCESS_KEY_ID: accessKeyId,
        AWS_SECRET_ACCESS_KEY: `local-secret-${fn.logicalId}`,
        AWS_SESSION_TOKEN: `local-session-${fn.logicalId}`,
      });
    });

    const s3Server = await startLocalS3({
      buckets: plan.buckets.map((b) => b.name),
      versionedBuckets: plan.buckets.filter((b) => b.versioned).map((b) => b.name),
      ...(options.dataDir ? { directory: options.dataDir } : {}),
      // S3 hands the event to Lambda once; Lambda's asynchronous invocation retries (below).
      attempts: 1,
    });
    closers.push(() => s3Server.close());
    const dynamo = await startLocalDynamoDb();
    closers.push(() => dynamo.close());
    const secrets = await startLocalSecretsManager();
    closers.push(() => secrets.close());
    // As CloudFormation creates them (the template's placeholders), then as the user does after deploying:
    // the API key into the secret the ApiKeySecretArn output names. The webhook secret keeps its
    // placeholder until the provider's endpoint is registered (local/connect-webhooks.ts).
    for (const secret of plan.secrets) secrets.define(secret.arn, secret.name, secret.initialValue);
    const apiKeySecret = plan.outputs.ApiKeySecretArn?.value;
    if (!apiKeySecret) throw new Error('the template has no ApiKeySecretArn output');
    secrets.define(
      apiKeySecret,
      plan.secrets.find((s) => s.arn === apiKeySecret)?.name ?? apiKeySecret,
      JSON.stringify({ apiKey: options.apiKey }),
    );
    const azureSecret = plan.outputs.AzureOpenAiSecretArn?.value;
    if (options.azureOpenAi && azureSecret)
      secrets.define(
        azureSecret,
        plan.secrets.find((s) => s.arn === azureSecret)?.name ?? azureSecret,
        JSON.stringify(options.azureOpenAi),
      );

    const lambdaRef: { current?: LocalLambda } = {};
    const names: ResourceNames = {
      secretArn: (id) => plan.secrets.find((s) => s.arn === id || s.name === id)?.arn ?? id,
      queueArn: (url) => sqs.queueArn(url) ?? url,
      functionArn: (name) => lambdaRef.current?.find(name)?.arn ?? name,
    };

    // Step Functions invokes each Task's function as the role of the Task's state machine.
    const stateMachinePrincipals = new Map<string, Principal>(
      plan.stateMachines.map((m) => [
        m.arn,
        {
          arn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${m.roleArn.split('/').pop()}/${m.logicalId}`,
          policies: rolePolicies(plan, m.roleArn),
        },
      ]),
    );
    const invokers = new Map<string, Invoke>();
    for (const fn of plan.functions) {
      invokers.set(fn.arn, async (event, invokeOptions) => {
        const caller = stateMachinePrincipals.get(invokeOptions?.stateMachineArn ?? machine.arn);
        if (!caller) throw new Error(`no state machine ${invokeOptions?.stateMachineArn} in the template`);
        const decision = await authorizer.check(caller, {
          action: 'lambda:InvokeFunction',
          resource: fn.arn,
        });
        if (!decision.allowed) {
          // Step Functions reports Lambda service errors as Lambda.<exception> (Step Functions developer
          // guide, "Handle Lambda service exceptions", read 2026-11-29); a 403 is AWSLambdaException.
          throw new LambdaError(
            'Lambda.AWSLambdaException',
            `${decision.message} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException)`,
          );
        }
        return lambda.invoke(fn.arn, event, invokeOptions);
      });
    }
    const stepFunctions = new LocalStepFunctions({ invokers, timeScale });
    const sfnServer = await stepFunctions.serve();
    closers.push(() => sfnServer.close());

    const lambdaApi = await startLocalLambdaApi({
      resolve: functionResolver(() => plan.functions.map((f) => f.arn)),
      invoke: async (arn, payload, type) => {
        if (type === 'Event') return lambda.invokeAsync(arn, payload);
        return lambda.invoke(arn, payload);
      },
    });
    closers.push(() => lambdaApi.close());
    const cloudFormation = await startLocalCloudFormation({ stackName: STACK_NAME, outputs: plan.outputs });
    closers.push(() => cloudFormation.close());

    // Bedrock runs each customization job as its service role: it assumes the role (the role's trust policy
    // must let bedrock.amazonaws.com do so for this account and job), then reads and writes S3 through the
    // IAM gateway with the role session's credentials, as functions do with theirs.
    const endpointsRef: { current?: Record<ServiceName, string> } = {};
    const eventBusRef: { current?: LocalEventBus } = {};
    const trustAuthorizer = new Authorizer(trustPolicies(deployed, plan));
    const roleClients: S3Client[] = [];
    const bedrock = await startLocalBedrock({
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      timeScale,
      ...(options.bedrockTiming ? { timing: options.bedrockTiming } : {}),
      async assumeRole(roleArn, jobArn) {
        const role = plan.roles.find((r) => r.arn === roleArn);
        if (!role) return { refused: `The role ${roleArn} does not exist.` };
        const decision = await trustAuthorizer.check(servicePrincipal('bedrock.amazonaws.com', jobArn), {
          action: 'sts:AssumeRole',
          resource: roleArn,
        });
        authorizer.decisions.push(decision);
        // Bedrock's wording for a role it cannot assume was not found offline.
        if (!decision.allowed)
          return {
            refused: `Amazon Bedrock cannot assume the role ${roleArn}: its trust policy must allow sts:AssumeRole to the service principal bedrock.amazonaws.com for aws:SourceAccount ${LOCAL_ACCOUNT} and aws:SourceArn ${jobArn}.`,
          };
        const jobId = jobArn.slice(jobArn.lastIndexOf('/') + 1);
        const accessKeyId = `ASIABEDROCK${String(roleClients.length).padStart(9, '0')}`;
        identities.set(accessKeyId, {
          arn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${roleArn.slice(roleArn.lastIndexOf('/') + 1)}/${jobId}`,
          policies: rolePolicies(plan, roleArn),
        });
        const s3Client = new S3Client({
          region: LOCAL_REGION,
          credentials: {
            accessKeyId,
            secretAccessKey: `local-secret-${jobId}`,
            sessionToken: `local-session-${jobId}`,
          },
          endpoint: endpointsRef.current!.S3,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        });
        roleClients.push(s3Client);
        return { s3: s3Client };
      },
      onStateChange: (job) =>
        eventBusRef.current?.publish(
          customizationJobStateChangeEvent(job, { account: LOCAL_ACCOUNT, region: LOCAL_REGION }),
        ),
    });
    closers.push(async () => {
      await bedrock.close();
      for (const client of roleClients) client.destroy();
    });
    // SSM Parameter Store, with the template's parameters as CloudFormation creates them.
    const ssm = await startLocalSsm();
    // EventBridge's PutEvents on the default bus; the bus (made once the functions exist) routes to rules.
    const eventsServer = await serveAwsJson({
      service: 'EventBridge',
      targetPrefix: 'AWSEvents',
      jsonVersion: '1.1',
      actions: {
        PutEvents: (body) => {
          const entries = Array.isArray(body.Entries) ? (body.Entries as PutEventsEntry[]) : [];
          if (entries.length < 1 || entries.length > 10)
            throw new AwsApiError(
              'ValidationException',
              `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1`,
            );
          if (!eventBusRef.current) throw new AwsApiError('InternalException', 'the local bus is not ready');
          return eventBusRef.current.putEvents(entries);
        },
      },
    });
    closers.push(() => eventsServer.close());
    // SNS, for the template's topics: what CloudWatch and EventBridge publish is kept and shown.
    const sns = await startLocalSns(plan.topics, plan.subscriptions, (n) => options.onNotification?.(n));
    closers.push(() => sns.close());
    closers.push(() => ssm.close());
    for (const parameter of plan.parameters) ssm.define(parameter);

    // EventBridge Scheduler runs each schedule's target as the schedule's execution role: it assumes the
    // role (its trust policy must let scheduler.amazonaws.com do so; the scheduler names the schedule's
    // group as aws:SourceArn, "Confused deputy prevention in EventBridge Scheduler", read 2026-11-29),
    // then invokes the function with the role session's permissions.
    let schedulerSessions = 0;
    /** Set when close() begins: what ends after that is the shutdown's doing, not the functions'. */
    let closing = false;
    const scheduler = new LocalScheduler({
      timeScale,
      running: options.schedules ?? true,
      groups: plan.scheduleGroups.map((g) => g.name),
      authorizer,
      lambda: {
        find: (nameOrArn) => lambdaRef.current?.find(nameOrArn),
        invokeAsync: (arn, event) => lambdaRef.current?.invokeAsync(arn, event),
      },
      async assumeRole(roleArn, groupArn) {
        const role = plan.roles.find((r) => r.arn === roleArn);
        if (!role) return { refused: `The execution role ${roleArn} does not exist in the template.` };
        const decision = await trustAuthorizer.check(servicePrincipal('scheduler.amazonaws.com', groupArn), {
          action: 'sts:AssumeRole',
          resource: roleArn,
        });
        authorizer.decisions.push(decision);
        if (!decision.allowed)
          return {
            refused: `The execution role ${roleArn} must allow AWS EventBridge Scheduler (scheduler.amazonaws.com) to assume the role: ${decision.message}`,
          };
        return {
          principal: {
            arn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${roleArn.slice(roleArn.lastIndexOf('/') + 1)}/scheduler-${++schedulerSessions}`,
            policies: rolePolicies(plan, roleArn),
          },
        };
      },
      onDropped: (dropped) => droppedEvents.push(dropped),
    });
    const schedulerServer = await scheduler.serve();
    closers.push(() => schedulerServer.close());
    closers.push(() => scheduler.close());

    names.bedrockJobArn = (identifier) => bedrock.jobArn(identifier);
    names.bedrockModelArn = (identifier) => bedrock.modelArn(identifier);
    names.bedrockDeploymentArn = (identifier) => bedrock.deploymentArn(identifier);
    // Bedrock's runtime (Converse), answered by the control plane's models; functions reach it through
    // AWS_ENDPOINT_URL_BEDROCK_RUNTIME, the SDK's variable for the service id "Bedrock Runtime".
    const bedrockRuntime = await startLocalBedrockRuntime(bedrock);
    closers.push(() => bedrockRuntime.close());

    const gateway = (
      service: string,
      upstream: string,
      protocol: 'rest-xml' | 'json' | 'rest-json' | 'query',
      classify: Parameters<typeof startGateway>[0]['classify'],
      notFoundNeeds?: Parameters<typeof startGateway>[0]['notFoundNeeds'],
    ) =>
      startGateway({
        service,
        protocol,
        upstream,
        authorizer,
        identity: (key) => identities.get(key),
        classify,
        ...(notFoundNeeds ? { notFoundNeeds } : {}),
        readsBody: protocol !== 'rest-xml',
        ...(protocol === 'rest-xml' ? { upstreamAccessKeyId: S3RVER_KEY } : {}),
      });
    const gateways: Record<LocalCloud['endpoints'] extends Record<infer K, string> ? K : never, Gateway> = {
      S3: await gateway('S3', s3Server.endpoint, 'rest-xml', classifyS3, s3NotFoundNeeds),
      DYNAMODB: await gateway('DynamoDB', dynamo.endpoint, 'json', (r) => classifyJson('dynamodb', r, names)),
      SECRETS_MANAGER: await gateway('Secrets Manager', secrets.endpoint, 'json', (r) =>
        classifyJson('secretsmanager', r, names),
      ),
      SFN: await gateway('Step Functions', sfnServer.endpoint, 'json', (r) =>
        classifyJson('states', r, names),
      ),
      SQS: await gateway('SQS', sqs.endpoint, 'json', (r) => classifyJson('sqs', r, names)),
      LAMBDA: await gateway('Lambda', lambdaApi.endpoint, 'rest-json', (r) => classifyLambda(r, names)),
      CLOUDFORMATION: await gateway(
        'CloudFormation',
        cloudFormation.endpoint,
        'query',
        classifyCloudFormation,
      ),
      BEDROCK: await gateway('Bedrock', bedrock.endpoint, 'rest-json', (r) => classifyBedrock(r, names)),
      BEDROCK_RUNTIME: await gateway(
        'Bedrock Runtime',
        bedrockRuntime.endpoint,
        'rest-json',
        classifyBedrockRuntime,
      ),
      SSM: await gateway('SSM', ssm.endpoint, 'json', classifySsm),
      SCHEDULER: await gateway('Scheduler', schedulerServer.endpoint, 'rest-json', classifyScheduler),
      EVENTBRIDGE: await gateway('EventBridge', eventsServer.endpoint, 'json', classifyEvents),
      SNS: await gateway('SNS', sns.endpoint, 'query', classifySns),
    };
    // The Bedrock Runtime client speaks HTTP/2: its endpoint is a front that also takes HTTP/2 (bedrock-runtime.ts).
    const runtimeGateway = gateways.BEDROCK_RUNTIME;
    const runtimeFront = await startHttp2Front(runtimeGateway.endpoint);
    gateways.BEDROCK_RUNTIME = {
      endpoint: runtimeFront.endpoint,
      close: async () => {
        await runtimeFront.close();
        await runtimeGateway.close();
      },
    };
    // Queue URLs name the gateway, so SDK clients that follow a QueueUrl's host stay behind IAM.
    sqs.advertise(gateways.SQS.endpoint);
    for (const queue of plan.queues) {
      const created = sqs.createQueue(queue.name, {});
      for (const output of Object.values(plan.outputs))
        if (output.value === queue.url) output.value = created.url;
      queue.url = created.url;
    }
    for (const g of Object.values(gateways)) closers.push(() => g.close());
    const endpoints = Object.fromEntries(
      Object.entries(gateways).map(([service, g]) => [service, g.endpoint]),
    ) as LocalCloud['endpoints'];
    endpointsRef.current = endpoints;

    const deliveryFailures: LocalCloud['deliveryFailures'] = [];
    const droppedEvents: LocalCloud['droppedEvents'] = [];
    /** Lambda's destinations and EventBridge's DLQ send as a principal, under the queue's policy. */
    const sendToQueue = async (
      sender: Principal,
      queueArn: string,
      body: string,
      attributes: Record<string, string> = {},
    ) => {
      const decision = await authorizer.check(sender, { action: 'sqs:SendMessage', resource: queueArn });
      if (!decision.allowed) return decision.message;
      if (!sqs.queueUrl(queueArn)) return `no queue ${queueArn} in the template`;
      sqs.send(
        queueArn,
        body,
        Object.fromEntries(
          Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
        ),
      );
      return undefined;
    };

    /** EventBridge and CloudWatch publish as their service principal, under the topic's policy. */
    const publishToTopic = async (sender: Principal, topicArn: string, message: string, subject?: string) => {
      const decision = await authorizer.check(sender, { action: 'sns:Publish', resource: topicArn });
      if (!decision.allowed) return decision.message;
      if (!sns.has(topicArn)) return `no topic ${topicArn} in the template`;
      sns.publish(topicArn, message, subject);
      return undefined;
    };

    const onAsyncOutcome = async (outcome: AsyncInvocationOutcome) => {
      // An invocation ended by the local cloud's own shutdown has nowhere left to be delivered.
      if (outcome.condition === 'Success' || closing) return;
      const { fn } = outcome;
      for (const object of s3Objects(outcome.event))
        deliveryFailures.push({ key: object, error: outcome.error });
      const destination = fn.invokeConfig.onFailure;
      if (!destination) {
        droppedEvents.push({
          functionName: fn.logicalId,
          reason: `${outcome.condition} after ${outcome.attempts} attempts and no on-failure destination: ${outcome.error?.errorMessage}`,
        });
        return;
      }
      // Lambda sends to the destination with the function's execution role.
      const refused = await sendToQueue(
        functionPrincipal(plan, fn),
        destination,
        lambdaFailureRecord(outcome),
      );
      if (refused)
        droppedEvents.push({ functionName: fn.logicalId, reason: `destination refused: ${refused}` });
    };

    // X-Ray: a daemon per function, uploading as the function's role. Its decisions are kept apart from
    // iamDecisions (the calls the functions' code makes); the refused ones are traceDenials().
    const xray = startLocalXRay({ authorizer: new Authorizer(plan.resourcePolicies) });
    closers.push(() => xray.close());
    const functionProperties = (fn: LocalFunction) =>
      (deployed.Resources[fn.logicalId]?.Properties ?? {}) as {
        Handler?: unknown;
        Runtime?: unknown;
        TracingConfig?: { Mode?: unknown };
      };
    const runtimeEnvironments = new Map<string, Record<string, string>>();
    for (const fn of plan.functions) {
      const { Handler, Runtime } = functionProperties(fn);
      // What Lambda sets that the X-Ray SDK and the Tracer read (Lambda developer guide, "Defined runtime
      // environment variables", read 2026-11-30): the handler (the Tracer names its subsegment after it),
      // the runtime (the Tracer is on only where AWS_EXECUTION_ENV is set), the code's root (the X-Ray SDK
      // runs in its Lambda mode, reading _X_AMZN_TRACE_ID, where LAMBDA_TASK_ROOT is set), the daemon's
      // address, and "AWS_XRAY_CONTEXT_MISSING – For X-Ray tracing, Lambda sets this to LOG_ERROR".
      runtimeEnvironments.set(fn.arn, {
        LAMBDA_TASK_ROOT: PROJECT_ROOT,
        ...(typeof Handler === 'string' ? { _HANDLER: Handler } : {}),
        ...(typeof Runtime === 'string' ? { AWS_EXECUTION_ENV: `AWS_Lambda_${Runtime}` } : {}),
        AWS_XRAY_DAEMON_ADDRESS: await xray.daemonFor(fn.logicalId, functionPrincipal(plan, fn)),
        AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      });
    }

    const metrics = new LocalMetrics();
    // CloudWatch alarms: datapoints from the functions' EMF metrics, the workflow's ended executions and
    // the queues' depth (sampled on each evaluation, as CloudWatch samples SQS every minute).
    const executionsEnded: Array<{ stateMachineArn: string; status: string; timestamp: number }> = [];
    const queueDepths: Array<{ queueName: string; timestamp: number; value: number }> = [];
    const sameDimensions = (a: Record<string, string>, b: Record<string, string>) =>
      Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
    const EXECUTION_METRICS: Record<string, string> = {
      ExecutionsFailed: 'FAILED',
      ExecutionsTimedOut: 'TIMED_OUT',
      ExecutionsAborted: 'ABORTED',
      ExecutionsSucceeded: 'SUCCEEDED',
    };
    const datapoints = (metric: MetricSpec): Datapoint[] => {
      if (metric.namespace === 'AWS/States' && EXECUTION_METRICS[metric.metricName])
        return executionsEnded
          .filter(
            (e) =>
              e.status === EXECUTION_METRICS[metric.metricName] &&
              sameDimensions(metric.dimensions, { StateMachineArn: e.stateMachineArn }),
          )
          .map((e) => ({ timestamp: e.timestamp, value: 1 }));
      if (metric.namespace === 'AWS/SQS' && metric.metricName === 'ApproximateNumberOfMessagesVisible')
        return queueDepths
          .filter((q) => sameDimensions(metric.dimensions, { QueueName: q.queueName }))
          .map(({ timestamp, value }) => ({ timestamp, value }));
      return metrics
        .list()
        .filter(
          (m) =>
            m.namespace === metric.namespace &&
            m.name === metric.metricName &&
            sameDimensions(metric.dimensions, m.dimensions),
        )
        .map((m) => ({ timestamp: m.timestamp, value: m.value }));
    };
    const alarms = new LocalAlarms(plan.alarms, {
      datapoints,
      timeScale,
      publish: (alarm, topicArn, subject, message) =>
        publishToTopic(servicePrincipal('cloudwatch.amazonaws.com', alarm.arn), topicArn, message, subject),
      onRefused: (alarm, topicArn, reason) =>
        droppedEvents.push({ functionName: alarm.logicalId, reason: `${topicArn}: ${reason}` }),
    });
    /** The metric names an alarm watches: other EMF lines do not make the alarms evaluate. */
    const watched = new Set(
      alarms.definitions.flatMap((d) => [
        ...(d.metric ? [d.metric.metricName] : []),
        ...(d.metrics ?? []).flatMap((m) => (m.metric ? [m.metric.metricName] : [])),
      ]),
    );
    const lambda = new LocalLambda(plan.functions, {
      projectRoot: PROJECT_ROOT,
      timeScale,
      credentials: (fn) => credentials.get(fn.arn)!,
      runtimeEnvironment: (fn) => runtimeEnvironments.get(fn.arn) ?? {},
      tracing: {
        mode: (fn) => {
          const mode = functionProperties(fn).TracingConfig?.Mode;
          return mode === 'Active' || mode === 'PassThrough' ? mode : undefined;
        },
        record: (fn, document) => xray.send(fn.logicalId, document),
      },
      onAsyncOutcome,
      onLog: (functionName, stream, line) => {
        metrics.observe(functionName, stream, line);
        // A metric an alarm watches moves it as soon as it is seen, in the period of its timestamp.
        if (stream === 'stdout')
          for (const timestamp of new Set(
            metricsOfLine(functionName, line)
              .filter((m) => watched.has(m.name))
              .map((m) => m.timestamp),
          ))
            void alarms.evaluate(timestamp);
        if (options.onLog) options.onLog(functionName, stream, line);
        else if (metricsOfLine(functionName, line).length === 0) process[stream].write(`${line}\n`);
      },
      sharedEnvironment: {
        AWS_REGION: LOCAL_REGION,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        ...Object.fromEntries(Object.entries(endpoints).map(([s, e]) => [`AWS_ENDPOINT_URL_${s}`, e])),
        // Streamed uploads to s3rver must not carry checksum framing.
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
        OPENAI_BASE_URL: options.openAiBaseUrl,
        POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'ERROR',
      },
    });
    lambdaRef.current = lambda;
    closers.push(() => lambda.close());
    // The template's schedules, as CloudFormation creates them: one the API refuses fails the deployment.
    for (const schedule of plan.schedules) {
      try {
        scheduler.create(schedule.name, schedule.properties);
      } catch (error) {
        throw new Error(
          `the deployment would fail: EventBridge Scheduler refuses schedule ${schedule.logicalId}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }

    const clientConfig: LocalClientConfig = {
      region: LOCAL_REGION,
      credentials: { accessKeyId: ADMIN_ACCESS_KEY, secretAccessKey: 'local-admin-secret' },
    };
    const operatorClientConfig: LocalClientConfig = {
      region: LOCAL_REGION,
      credentials: { accessKeyId: OPERATOR_ACCESS_KEY, secretAccessKey: 'local-operator-secret' },
    };
    if (options.connectionFile) {
      const connection: LocalConnection = {
        version: 1,
        pid: process.pid,
        region: LOCAL_REGION,
        credentials: operatorClientConfig.credentials,
        endpoints,
      };
      await mkdir(dirname(options.connectionFile), { recursive: true });
      await writeFile(options.connectionFile, `${JSON.stringify(connection, null, 2)}\n`);
      const file = options.connectionFile;
      closers.push(() => rm(file, { force: true }));
    }
    // This process acts as the administrator: the CLI and any SDK client made without settings use it.
    Object.assign(process.env, {
      ...Object.fromEntries(Object.entries(endpoints).map(([s, e]) => [`AWS_ENDPOINT_URL_${s}`, e])),
      AWS_ACCESS_KEY_ID: ADMIN_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
      AWS_REGION: LOCAL_REGION,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    });
    delete process.env.AWS_SESSION_TOKEN;

    const dynamoClient = new DynamoDBClient({ ...clientConfig, endpoint: endpoints.DYNAMODB });
    const documents = DynamoDBDocumentClient.from(dynamoClient);
    for (const t of plan.tables) await createTableFromTemplate(dynamoClient, t.name, t.properties);
    for (const m of plan.stateMachines) {
      const tracing = (
        deployed.Resources[m.logicalId]?.Properties as
          { TracingConfiguration?: { Enabled?: unknown } } | undefined
      )?.TracingConfiguration?.Enabled;
      stepFunctions.register(m.arn, m.name, m.definition as unknown as Definition, {
        tracing: tracing === true,
      });
    }

    // S3 → Lambda: S3 refuses a notification configuration whose function does not let S3 invoke it,
    // so the deployment itself would fail; so does local mode.
    const createdRuns = new Map<string, (runId: string) => void>();
    const lastEvents = new Map<string, S3Event>();
    for (const notification of plan.notifications) {
      const fn = lambda.find(notification.functionArn);
      if (!fn)
        throw new Error(`the bucket notifies ${notification.functionArn}, which is not in the template`);
      const bucketArn = `arn:aws:s3:::${notification.bucket}`;
      const permitted = await authorizer.check(servicePrincipal('s3.amazonaws.com', bucketArn), {
        action: 'lambda:InvokeFunction',
        resource: fn.arn,
      });
      if (!permitted.allowed)
        throw new Error(
          `the deployment would fail: S3 cannot validate the notification of ${notification.bucket} to ${fn.logicalId} (${permitted.message})`,
        );
      s3Server.subscribe(notification, async (event) => {
        for (const object of createdObjects(S3EventSchema.parse(event))) {
          lastEvents.set(object.key, event);
          createdRuns.get(object.key)?.(deriveRunId(object));
        }
        lambda.invokeAsync(fn.arn, event);
      });
    }

    // Function URLs: one server each, its address replacing the plan's placeholder in the outputs.
    const functionUrls = new Map<string, string>();
    for (const functionUrl of plan.functionUrls) {
      const fn = lambda.find(functionUrl.functionArn);
      if (!fn)
        throw new Error(
          `function URL ${functionUrl.logicalId} targets ${functionUrl.functionArn}, which is not a function of the template`,
        );
      const server = await startFunctionUrlServer({
        functionUrl,
        authorizer,
        invoke: (arn, event) => lambda.invoke(arn, event),
        identity: (key) => identities.get(key),
      });
      closers.push(() => server.close());
      for (const output of Object.values(plan.outputs))
        output.value = output.value.replaceAll(functionUrl.url, server.url);
      functionUrl.url = server.url;
      functionUrls.set(fn.entry, server.url);
    }

    // EventBridge, for the rules the template declares: on Step Functions status changes, and scheduled.
    const eventBus = new LocalEventBus({
      rules: plan.rules,
      authorizer,
      lambda,
      sendToQueue,
      publishToTopic,
      onDropped: (dropped) => droppedEvents.push(dropped),
      retryDelayMs: 1000 * timeScale,
      timeScale,
      schedules: options.schedules ?? true,
    });
    // Stopped first on close (closers run in reverse), so no schedule fires into a closing cloud.
    closers.push(() => eventBus.close());
    eventBusRef.current = eventBus;
    stepFunctions.onExecutionEnd((execution) =>
      eventBus.publish(
        executionStatusChangeEvent(execution, { account: LOCAL_ACCOUNT, region: LOCAL_REGION }),
      ),
    );
    stepFunctions.onExecutionEnd((execution) => {
      const timestamp = Date.now();
      executionsEnded.push({
        stateMachineArn: execution.stateMachineArn,
        status: execution.status,
        timestamp,
      });
      void alarms.evaluate(timestamp);
    });
    // The alarms are evaluated every 5 simulated minutes (their shortest period) too: the queues' depth is sampled then, and a period
    // gone by without breaching data brings an alarm back to OK.
    const upstreamSqs = new SQSClient({
      region: LOCAL_REGION,
      endpoint: sqs.endpoint,
      credentials: { accessKeyId: 'cloudwatch', secretAccessKey: 'cloudwatch' },
    });
    const sampleAndEvaluate = async () => {
      const timestamp = Date.now();
      for (const queue of plan.queues) {
        const { Attributes } = await upstreamSqs
          .send(
            new GetQueueAttributesCommand({
              // The queue's path on the local SQS itself: CloudWatch reads the depth behind IAM's back.
              QueueUrl: `${sqs.endpoint}${new URL(sqs.queueUrl(queue.arn) ?? queue.url).pathname}`,
              AttributeNames: ['ApproximateNumberOfMessages'],
            }),
          )
          .catch(() => ({ Attributes: undefined }));
        if (Attributes?.ApproximateNumberOfMessages !== undefined)
          queueDepths.push({
            queueName: queue.name,
            timestamp,
            value: Number(Attributes.ApproximateNumberOfMessages),
          });
      }
      await alarms.evaluate(timestamp);
    };
    const alarmTimer = setInterval(() => void sampleAndEvaluate(), Math.max(50, 300_000 * timeScale));
    alarmTimer.unref();
    closers.push(async () => {
      clearInterval(alarmTimer);
      upstreamSqs.destroy();
    });

    const s3 = new S3Client({ ...clientConfig, endpoint: endpoints.S3, forcePathStyle: true });
    const sqsClient = new SQSClient({ ...clientConfig, endpoint: endpoints.SQS });
    const lambdaClient = new LambdaClient({ ...clientConfig, endpoint: endpoints.LAMBDA });
    const deadLetterQueueUrl = plan.queues[0]?.url ?? '';
    const getRun = async (runId: string) => {
      const { Item } = await documents.send(
        new GetCommand({ TableName: table.name, Key: { runId }, ConsistentRead: true }),
      );
      return Item ? RunRecordSchema.parse(Item) : undefined;
    };
    const adminInvoke = async (functionArn: string) => {
      const fn = lambda.find(functionArn);
      if (!fn) throw new Error(`no function ${functionArn} in the template`);
      await authorizer.require(LOCAL_ADMIN, { action: 'lambda:InvokeFunction', resource: fn.arn });
      return fn;
    };

    return {
      plan,
      bucket: bucket.name,
      table: table.name,
      stateMachineArn: machine.arn,
      s3,
      stepFunctions,
      lambda,
      iamDecisions: authorizer.decisions,
      endpoints,
      clientConfig,
      operatorClientConfig,
      deliveryFailures,
      droppedEvents,
      functionUrls,
      fireSchedule: (rule) => eventBus.fireSchedule(rule),
      metrics: () => metrics.list(),
      traces: () => xray.traces(),
      traceDenials: () => xray.denials(),
      settleTraces: () => xray.settle(),
      pauseSchedules: () => eventBus.pauseSchedules(),
      resumeSchedules: () => eventBus.resumeSchedules(),
      activeSchedules: () => eventBus.activeSchedules,
      bedrock: {
        faults: bedrock.faults,
        jobs: () => bedrock.jobs(),
        deployments: () => bedrock.deployments(),
        converseCalls: () => bedrockRuntime.converseCalls(),
        invokeModelCalls: () => bedrockRuntime.invokeModelCalls(),
      },
      events: { received: () => eventBus.received, deliveries: () => eventBus.deliveries },
      notifications: () => sns.notifications(),
      alarms: {
        state: (logicalId) => {
          const alarm = plan.alarms.find((a) => a.logicalId === logicalId);
          return alarm ? alarms.state(alarm.name) : undefined;
        },
        evaluate: () => sampleAndEvaluate(),
        skipped: alarms.skipped,
      },
      scheduler: {
        schedules: () =>
          scheduler.list().map(({ group, name, expression, state, target }) => ({
            group,
            name,
            expression,
            state,
            target,
          })),
        fire: (group, name) => scheduler.fire(group, name),
        advance: (ms) => scheduler.advance(ms),
        now: () => new Date(scheduler.now()),
      },
      async drop(localPath, key) {
        const runId = new Promise<string>((resolve) => createdRuns.set(key, resolve));
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket.name,
            Key: key,
            Body: createReadStream(localPath),
            ContentLength: statSync(localPath).size,
          }),
        );
        return runId.finally(() => createdRuns.delete(key));
      },
      getRun,
      lastEvent: (key) => lastEvents.get(key),
      updateFunctionEnvironment: (variables) => lambda.updateEnvironment(variables),
      deadLetters: awsRedriveDeps(sqsClient, lambdaClient, deadLetterQueueUrl),
      peekDeadLetters: () => receiveDeadLetters(sqsClient, deadLetterQueueUrl, { visibilityTimeout: 0 }),
      async invoke(functionArn, event) {
        return lambda.invoke((await adminInvoke(functionArn)).arn, event);
      },
      functionCredentials(entry) {
        const fn = plan.functions.find((f) => f.entry === entry);
        const given = fn && credentials.get(fn.arn);
        if (!given) throw new Error(`no function with entry ${entry} in the template`);
        return {
          accessKeyId: given.AWS_ACCESS_KEY_ID,
          secretAccessKey: given.AWS_SECRET_ACCESS_KEY,
          sessionToken: given.AWS_SESSION_TOKEN,
        };
      },
      async saveRunFiles(runId, dir) {
        const { Contents = [] } = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket.name, Prefix: `runs/${runId}/` }),
        );
        const saved: string[] = [];
        for (const { Key } of Contents) {
          if (!Key) continue;
          const object = await s3.send(new GetObjectCommand({ Bucket: bucket.name, Key }));
          const path = join(dir, Key.slice('runs/'.length));
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, await object.Body!.transformToByteArray());
          saved.push(path);
        }
        return saved;
      },
      async listRuns() {
        const { Items = [] } = await documents.send(new ScanCommand({ TableName: table.name }));
        // Items keyed '~...' (provider slots, webhook log) are not runs: run ids are [A-Za-z0-9_-] only.
        return Items.filter((item) => !String(item.runId).startsWith('~')).map((item) =>
          RunRecordSchema.parse(item),
        );
      },
      async waitForRun(runId, { onChange, timeoutMs = 120_000, until } = {}) {
        const deadline = Date.now() + timeoutMs;
        let seen = '';
        for (;;) {
          const run = await getRun(runId);
          const signature = run ? `${run.status}:${run.history.length}` : '';
          if (run && signature !== seen) {
            seen = signature;
            onChange?.(run);
          }
          if (run && (TERMINAL_STATUSES.has(run.status) || until?.(run))) return run;
          if (Date.now() > deadline)
            throw new Error(
              `run ${runId} did not finish within ${timeoutMs} ms (last status: ${run?.status ?? 'none'})`,
            );
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      async close() {
        closing = true;
        for (const execution of stepFunctions.list()) if (execution.status === 'RUNNING') execution.abort();
        await stepFunctions.settle();
        await eventBus.close();
        await scheduler.close();
        s3.destroy();
        sqsClient.destroy();
        lambdaClient.destroy();
        dynamoClient.destroy();
        for (const close of closers.reverse()) await close();
        restoreEnv(savedEnv);
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    restoreEnv(savedEnv);
    throw error;
  }
}

function restoreEnv(saved: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
}

/**
 * Each role's trust policy (AssumeRolePolicyDocument), by role ARN, as the resource policy that decides
 * who may assume it.
 */
function trustPolicies(template: CloudFormationTemplate, plan: LocalPlan): Map<string, PolicyDocument> {
  const pseudo: Record<string, string> = {
    'AWS::AccountId': LOCAL_ACCOUNT,
    'AWS::Region': LOCAL_REGION,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const policies = new Map<string, PolicyDocument>();
  for (const role of plan.roles) {
    const resource = template.Resources[role.logicalId];
    const document = resource?.Properties?.AssumeRolePolicyDocument;
    if (!document) continue;
    const resolved = resolveIntrinsics(document, (id, attribute) => {
      if (pseudo[id] !== undefined && attribute === undefined) return pseudo[id];
      const named = plan.roles.find((r) => r.logicalId === id);
      if (named && attribute === 'Arn') return named.arn;
      throw new Error(`local mode cannot resolve ${id} in the trust policy of ${role.logicalId}`);
    }) as unknown as PolicyDocument;
    const statements = Array.isArray(resolved.Statement) ? resolved.Statement : [resolved.Statement];
    policies.set(role.arn, { ...resolved, Statement: statements });
  }
  return policies;
}

/** The keys of an S3 event's objects, if the event is one. */
function s3Objects(event: unknown): string[] {
  const parsed = S3EventSchema.safeParse(event);
  return parsed.success ? createdObjects(parsed.data).map((o) => o.key) : [];
}

/** What a Lambda on-failure destination receives (Lambda developer guide, "Asynchronous invocation", read 2026-11-29). */
function lambdaFailureRecord(outcome: AsyncInvocationOutcome): string {
  const e = outcome.error ?? new LambdaError('Unknown', 'no error recorded');
  return JSON.stringify({
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: outcome.requestId,
      functionArn: `${outcome.fn.arn}:$LATEST`,
      condition: outcome.condition,
      approximateInvokeCount: outcome.attempts,
    },
    requestPayload: outcome.event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: e.errorType, errorMessage: e.errorMessage, trace: e.trace },
  });
}

export type { LocalFunction };
