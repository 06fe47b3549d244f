import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createReadStream, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Event } from 'aws-lambda';
import { PROVIDER_SLOTS_KEY } from '../../functions/adapters/dynamodb-provider-slots.js';
import { createdObjects, S3EventSchema } from '../../functions/core/s3-event.js';
import { deriveRunId, RunRecordSchema, TERMINAL_STATUSES, type RunRecord } from '../../functions/core/run.js';
import type { DeadLetter, RedriveDeps } from '../../functions/redrive/redrive.js';
import { buildApp, STACK_NAME } from '../../lib/app.js';
import type { TunedropPipelineProps } from '../../lib/pipeline.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';
import { LOCAL_REGION, planFromTemplate, type CloudFormationTemplate, type LocalPlan } from '../template.js';
import { createTableFromTemplate, startLocalDynamoDb } from './dynamodb.js';
import { loadFunctions } from './lambda.js';
import { startLocalS3 } from './s3.js';
import { startLocalSecretsManager } from './secrets-manager.js';
import { LocalStepFunctions, type Definition } from './step-functions.js';

/**
 * The embedded local cloud: the synthesized tunedrop stack, run on this machine. Every resource comes
 * from the template the real deployment uses (buckets, tables, secrets, functions with their
 * environment, state machines, S3 notification filters), served by local emulators; the functions are
 * the real handlers and the workflow the real definition.
 */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface LocalCloudOptions {
  /** The OpenAI-compatible API the functions call (the emulator, or the real API). */
  openAiBaseUrl: string;
  /** Put in the provider key secret, as a user would after deploying. */
  apiKey: string;
  /** Real seconds per workflow second. @default 1/600 */
  timeScale?: number;
  /** Where S3 objects are kept; a temporary directory when absent. */
  dataDir?: string;
  /** Function log level. @default 'ERROR' */
  logLevel?: string;
  /** Props of the pipeline construct, as a deployment would set them (e.g. providerConcurrency). */
  pipeline?: TunedropPipelineProps;
}

export interface LocalCloud {
  plan: LocalPlan;
  bucket: string;
  table: string;
  stateMachineArn: string;
  s3: S3Client;
  stepFunctions: LocalStepFunctions;
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
  /** Invokes a function of the template, as Lambda would, by its ARN. */
  invoke(functionArn: string, event: unknown): Promise<unknown>;
  /** The dead-letter queue, with the redrive ports (receive, remove, invoke). */
  deadLetters: RedriveDeps;
  /** Failed deliveries of S3 events to the validate function, after its retries. */
  deliveryFailures: Array<{ key: string; error: unknown }>;
  close(): Promise<void>;
}

// s3rver accepts only its own fixed key pair; the other emulators accept any.
const LOCAL_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: LOCAL_REGION,
};

export function synthesizeTemplate(pipeline: TunedropPipelineProps = {}): CloudFormationTemplate {
  const { app } = buildApp({
    appProps: { context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false },
    stackProps: { pipeline },
  });
  return app.synth().getStackByName(STACK_NAME).template as CloudFormationTemplate;
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const plan = planFromTemplate(synthesizeTemplate(options.pipeline), ENTRY_METADATA_KEY);
  const [bucket] = plan.buckets;
  const [table] = plan.tables;
  const [machine] = plan.stateMachines;
  if (!bucket || !table || !machine)
    throw new Error('the template lacks a bucket, a table or a state machine');

  const closers: Array<() => Promise<void>> = [];
  const savedEnv = { ...process.env };
  try {
    const s3Server = await startLocalS3({
      buckets: plan.buckets.map((b) => b.name),
      ...(options.dataDir ? { directory: options.dataDir } : {}),
      onDeliveryFailure: (event, error) => {
        for (const object of createdObjects(S3EventSchema.parse(event)))
          deliveryFailures.push({ key: object.key, error });
      },
    });
    closers.push(() => s3Server.close());
    const dynamo = await startLocalDynamoDb();
    closers.push(() => dynamo.close());
    const secrets = await startLocalSecretsManager();
    closers.push(() => secrets.close());
    for (const secret of plan.secrets)
      secrets.define(secret.arn, secret.name, JSON.stringify({ apiKey: options.apiKey }));

    // The functions' environment, as the template gives it, plus the endpoints of the emulators.
    const invokers = new Map<string, (event: unknown) => Promise<unknown>>();
    const stepFunctions = new LocalStepFunctions({ invokers, timeScale: options.timeScale ?? 1 / 600 });
    const sfnServer = await stepFunctions.serve();
    closers.push(() => sfnServer.close());
    Object.assign(process.env, functionEnvironment(plan), LOCAL_CREDENTIALS, {
      AWS_ENDPOINT_URL_S3: s3Server.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_ENDPOINT_URL_SFN: sfnServer.endpoint,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      OPENAI_BASE_URL: options.openAiBaseUrl,
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'ERROR',
    });

    const clientConfig = {
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    };
    const dynamoClient = new DynamoDBClient({ ...clientConfig, endpoint: dynamo.endpoint });
    const documents = DynamoDBDocumentClient.from(dynamoClient);
    for (const t of plan.tables) await createTableFromTemplate(dynamoClient, t.name, t.properties);

    for (const [arn, invoke] of await loadFunctions(plan.functions, PROJECT_ROOT)) invokers.set(arn, invoke);
    for (const m of plan.stateMachines)
      stepFunctions.register(m.arn, m.name, m.definition as unknown as Definition);

    const createdRuns = new Map<string, (runId: string) => void>();
    // The dead-letter queue: what Lambda's on-failure destination and EventBridge's DLQ would hold.
    const deadLetters: DeadLetter[] = [];
    const lastEvents = new Map<string, S3Event>();
    const deliveryFailures: LocalCloud['deliveryFailures'] = [];
    for (const notification of plan.notifications) {
      const invoke = invokers.get(notification.functionArn);
      if (!invoke)
        throw new Error(`the bucket notifies ${notification.functionArn}, which local mode has not loaded`);
      s3Server.subscribe(
        notification,
        async (event) => {
          for (const object of createdObjects(S3EventSchema.parse(event))) {
            lastEvents.set(object.key, event);
            createdRuns.get(object.key)?.(deriveRunId(object));
          }
          await invoke(event);
        },
        // As Lambda's on-failure destination, once the retries are spent.
        (event, error) => deadLetters.push(lambdaFailureRecord(notification.functionArn, event, error)),
      );
    }

    // EventBridge, for the rules the template declares on Step Functions status changes.
    const pendingEvents = new Set<Promise<void>>();
    stepFunctions.onExecutionEnd((execution) => {
      const event = {
        version: '0',
        id: crypto.randomUUID(),
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        account: '000000000000',
        region: LOCAL_REGION,
        time: new Date().toISOString(),
        resources: [execution.executionArn],
        detail: {
          executionArn: execution.executionArn,
          stateMachineArn: execution.stateMachineArn,
          name: execution.name,
          status: execution.status,
          startDate: execution.startDate.getTime(),
          stopDate: execution.stopDate?.getTime() ?? null,
          input: execution.input,
          output: execution.output ?? null,
          error: execution.error ?? null,
          cause: execution.cause ?? null,
        },
      };
      for (const rule of plan.rules) {
        if (!matchesPattern(rule.pattern, event)) continue;
        for (const target of rule.targets) {
          const invoke = invokers.get(target);
          if (!invoke) continue;
          // As EventBridge's target dead-letter queue: the event itself, the target in an attribute.
          const delivery = deliverWithRetries(
            () => invoke(event),
            (error) =>
              deadLetters.push({
                id: crypto.randomUUID(),
                body: JSON.stringify(event),
                attributes: { TARGET_ARN: target, ERROR_MESSAGE: (error as Error).message },
              }),
          ).finally(() => pendingEvents.delete(delivery));
          pendingEvents.add(delivery);
        }
      }
    });

    const s3 = new S3Client({ ...clientConfig, endpoint: s3Server.endpoint, forcePathStyle: true });
    const getRun = async (runId: string) => {
      const { Item } = await documents.send(
        new GetCommand({ TableName: table.name, Key: { runId }, ConsistentRead: true }),
      );
      return Item ? RunRecordSchema.parse(Item) : undefined;
    };

    return {
      plan,
      bucket: bucket.name,
      table: table.name,
      stateMachineArn: machine.arn,
      s3,
      stepFunctions,
      deliveryFailures,
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
      deadLetters: {
        receive: async () => [...deadLetters],
        remove: async (letter) => {
          const index = deadLetters.findIndex((l) => l.id === letter.id);
          if (index >= 0) deadLetters.splice(index, 1);
        },
        invoke: async (functionArn, payload) => {
          const invoke = invokers.get(functionArn);
          if (!invoke) throw new Error(`no function ${functionArn} in the template`);
          // Asynchronous, as Lambda's Event invocation: failures go back to the dead letters.
          await deliverWithRetries(
            () => invoke(payload),
            (error) => deadLetters.push(lambdaFailureRecord(functionArn, payload, error)),
          );
        },
      },
      async invoke(functionArn, event) {
        const invoke = invokers.get(functionArn);
        if (!invoke) throw new Error(`no function ${functionArn} in the template`);
        return invoke(event);
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
        return Items.filter((item) => item.runId !== PROVIDER_SLOTS_KEY).map((item) =>
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
        for (const execution of stepFunctions.list()) if (execution.status === 'RUNNING') execution.abort();
        await stepFunctions.settle();
        await Promise.allSettled([...pendingEvents]);
        s3.destroy();
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

/** The union of the functions' environments; local mode runs them in one process, so they must agree. */
function functionEnvironment(plan: LocalPlan): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const fn of plan.functions) {
    for (const [name, value] of Object.entries(fn.environment)) {
      if (name === 'NODE_OPTIONS') continue;
      if (merged[name] !== undefined && merged[name] !== value) {
        throw new Error(
          `functions disagree on ${name} (${merged[name]} vs ${value}); local mode runs them in one process`,
        );
      }
      merged[name] = value;
    }
  }
  return merged;
}

function restoreEnv(saved: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
}

/** EventBridge pattern matching for what tunedrop's rules use: arrays of allowed values, nested objects. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((allowed) => allowed === event);
  if (pattern && typeof pattern === 'object') {
    if (!event || typeof event !== 'object') return false;
    return Object.entries(pattern).every(([key, sub]) =>
      matchesPattern(sub, (event as Record<string, unknown>)[key]),
    );
  }
  return pattern === event;
}

async function deliverWithRetries(
  deliver: () => Promise<unknown>,
  onFailure: (error: unknown) => void,
  attempts = 3,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deliver();
      return;
    } catch (error) {
      if (attempt >= attempts) {
        onFailure(error);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/** What a Lambda on-failure destination receives when retries are exhausted. */
function lambdaFailureRecord(functionArn: string, event: unknown, error: unknown): DeadLetter {
  const e = error instanceof Error ? error : new Error(String(error));
  return {
    id: crypto.randomUUID(),
    attributes: {},
    body: JSON.stringify({
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: crypto.randomUUID(),
        functionArn: `${functionArn}:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: e.name, errorMessage: e.message },
    }),
  };
}
