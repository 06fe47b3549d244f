import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from '../openai-emulator/api-error.js';
import { BigramModel } from '../openai-emulator/bigram-model.js';
import { completeChat, type AnsweredChat } from '../openai-emulator/chat-completions.js';
import { Faults as TrainerFaults } from '../openai-emulator/faults.js';
import { newId, Store, type Job } from '../openai-emulator/store.js';
import { Trainer, type TrainerTiming } from '../openai-emulator/trainer.js';
import {
  BedrockFaults,
  type BedrockDeploymentFault,
  type BedrockJobFault,
  type BedrockOperation,
} from './bedrock-faults.js';
import {
  BASE_MODELS,
  findBaseModel,
  findInferenceModel,
  foundationModelArn,
  readDataset,
  resolveHyperparameters,
  type BaseModel,
  type ChatExample,
} from './bedrock-models.js';

/**
 * Amazon Bedrock's model-customization control plane, locally: the REST-JSON API that
 * @aws-sdk/client-bedrock speaks (through AWS_ENDPOINT_URL_BEDROCK), with jobs that really train (the
 * OpenAI emulator's Store and Trainer, on the records converted to chat), read their data and write
 * their metrics to the local S3 as the job's service role, and report each status change.
 *
 * Sources (read 2026-11-29):
 * - Routes, status codes, members, required members, enums: the client's own schemas,
 *   node_modules/@aws-sdk/client-bedrock/dist-es/schemas/schemas_0.js (3.1164.0), e.g.
 *   CreateModelCustomizationJob = POST /model-customization-jobs → 201.
 * - Length limits and patterns: botocore's model of the API,
 *   https://github.com/boto/botocore/blob/develop/botocore/data/bedrock/2023-04-20/service-2.json
 *   (JobName 1–63 `[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*`, IdempotencyToken 1–256
 *   `[a-zA-Z0-9](-*[a-zA-Z0-9])*`, RoleArn ≤2048 `arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+`, S3Uri
 *   1–1024, TagList ≤200, SortOrder Ascending|Descending, SortJobsBy CreationTime), and the API reference
 *   for the job identifier, https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetModelCustomizationJob.html
 *   (ARN `model-customization-job/<base model id>/<12 [a-z0-9]>`, or the job's name).
 * - CustomModelName `([0-9a-zA-Z][_-]?)+`, ≤63: aws-cdk's BedrockCreateModelCustomizationJob validation
 *   (../shared/providers.md B, CDK section); ModelName/ProvisionedModelName use the same pattern in botocore.
 * - Custom model deployments (on-demand inference): the API reference,
 *   https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateCustomModelDeployment.html and
 *   API_CustomModelDeploymentSummary.html, API_DeleteCustomModelDeployment.html (read 2026-11-30):
 *   modelDeploymentName 1–63 `([0-9a-zA-Z][_-]?){1,63}`, unique in the account and Region; modelArn 20–1011,
 *   a custom model's ARN, "The custom model must be in the Active state"; description 1–2048; the
 *   deployment's ARN `arn:aws:bedrock:<region>:<account>:custom-model-deployment/<12 [a-z0-9]>`; its
 *   identifier that ARN or its name; status Creating | Active | Failed (failureMessage when Failed).
 * - The validation-error wording ("1 validation error detected: Value … at '…' failed to satisfy
 *   constraint: …") is AWS's common one; Bedrock's own wording for the other errors below was not found
 *   offline and is marked where written.
 */

export interface ServiceRoleSession {
  /** An S3 client acting as the role (its session's credentials, through the IAM gateway). */
  s3: S3Client;
}

export interface LocalBedrockOptions {
  region: string;
  account: string;
  /** Real seconds per simulated second: the job's phases are scaled by it. */
  timeScale: number;
  /** Real milliseconds per phase, overriding the scaled defaults. */
  timing?: Partial<TrainerTiming & { stoppingMs: number; deployingMs: number }>;
  /**
   * Bedrock assumes the job's service role (principal bedrock.amazonaws.com, aws:SourceAccount the
   * account, aws:SourceArn the job's ARN): a session, or why the role's trust policy refused it.
   */
  assumeRole(roleArn: string, jobArn: string): Promise<ServiceRoleSession | { refused: string }>;
  /** Called on every status change of a job (for EventBridge). */
  onStateChange?(job: BedrockJobView): void;
}

export type JobStatus = 'InProgress' | 'Completed' | 'Failed' | 'Stopping' | 'Stopped';

/** What EventBridge and tests see of a job. */
export interface BedrockJobView {
  jobArn: string;
  jobName: string;
  outputModelName: string;
  outputModelArn?: string;
  roleArn: string;
  status: JobStatus;
  failureMessage?: string;
  creationTime: Date;
  lastModifiedTime: Date;
  endTime?: Date;
}

interface BedrockJob extends BedrockJobView {
  id: string;
  clientRequestToken: string;
  fingerprint: string;
  model: BaseModel;
  hyperParameters: Record<string, string>;
  resolved: Record<string, number>;
  trainingDataConfig: { s3Uri: string };
  validationDataConfig: { validators: Array<{ s3Uri: string }> };
  outputDataConfig: { s3Uri: string };
  fault: BedrockJobFault;
  session?: ServiceRoleSession;
  trainerJob?: Job;
  validationExamples: number;
  trainingMetrics?: { trainingLoss: number };
  validationMetrics?: Array<{ validationLoss: number }>;
}

export type DeploymentStatus = 'Creating' | 'Active' | 'Failed';

/** What tests see of a custom model deployment. */
export interface BedrockDeploymentView {
  arn: string;
  name: string;
  modelArn: string;
  status: DeploymentStatus;
  failureMessage?: string;
}

interface Deployment extends BedrockDeploymentView {
  description?: string;
  clientRequestToken: string;
  fingerprint: string;
  model: CustomModel;
  fault: BedrockDeploymentFault;
  creationTime: Date;
  lastUpdatedAt: Date;
}

/**
 * How the local runtime's Converse is answered (bedrock-runtime.ts): the chat completion the model named
 * by the modelId gave, or why Bedrock refuses to run that modelId.
 */
export type InferenceAnswer =
  | { answered: AnsweredChat }
  | { refused: { type: 'ValidationException' | 'ResourceNotFoundException'; message: string } };

interface CustomModel {
  modelArn: string;
  modelName: string;
  creationTime: Date;
  job: BedrockJob;
}

export interface LocalBedrock {
  endpoint: string;
  faults: BedrockFaults;
  /** Every job, oldest first. */
  jobs(): BedrockJobView[];
  /** The ARN of the job an identifier (ARN or name) names, for IAM; a would-be ARN when none does. */
  jobArn(identifier: string): string;
  /** The ARN of the custom model an identifier (ARN or name) names, for IAM. */
  modelArn(identifier: string): string;
  /** Every custom model deployment that exists (deleted ones are gone), oldest first. */
  deployments(): BedrockDeploymentView[];
  /** The ARN of the deployment an identifier (ARN or name) names, for IAM; a would-be ARN when none does. */
  deploymentArn(identifier: string): string;
  /**
   * Answers an OpenAI chat completion body (its `model` ignored) from the model a Converse modelId names:
   * an Active deployment's custom model, as trained, or an on-demand base model, untrained; through the
   * OpenAI emulator's completeChat, so that Bedrock and OpenAI answer alike.
   */
  chat(modelId: string, body: Record<string, unknown>): InferenceAnswer;
  close(): Promise<void>;
}

class BedrockError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** HTTP status per error, from the client's schemas (each error's `httpError` trait). */
const ERROR_STATUS: Record<string, number> = {
  AccessDeniedException: 403,
  ConflictException: 400,
  InternalServerException: 500,
  ResourceInUseException: 400,
  ResourceNotFoundException: 404,
  ServiceQuotaExceededException: 400,
  ServiceUnavailableException: 503,
  ThrottlingException: 429,
  TooManyTagsException: 400,
  ValidationException: 400,
};

const JOB_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*$/;
const MODEL_NAME = /^([0-9a-zA-Z][_-]?)+$/;
const TOKEN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const ROLE_ARN = /^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role\/.+$/;
const S3_URI = /^s3:\/\/[a-z0-9][-.a-z0-9]{1,61}(?:\/[-!_*'().a-z0-9A-Z]+(?:\/[-!_*'().a-z0-9A-Z]+)*)?\/?$/;
const STATUSES: readonly JobStatus[] = ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped'];

const Tag = z.object({ key: z.string(), value: z.string() });
/** The create body as the client serializes it; constraints are checked after, with AWS's wording. */
const CreateBody = z.looseObject({
  jobName: z.string().optional(),
  customModelName: z.string().optional(),
  roleArn: z.string().optional(),
  baseModelIdentifier: z.string().optional(),
  clientRequestToken: z.string().optional(),
  customizationType: z.string().optional(),
  customModelKmsKeyId: z.string().optional(),
  jobTags: z.array(Tag).optional(),
  customModelTags: z.array(Tag).optional(),
  trainingDataConfig: z.looseObject({ s3Uri: z.string().optional() }).optional(),
  validationDataConfig: z.object({ validators: z.array(z.object({ s3Uri: z.string() })) }).optional(),
  outputDataConfig: z.object({ s3Uri: z.string() }).optional(),
  hyperParameters: z.record(z.string(), z.unknown()).optional(),
  vpcConfig: z.unknown().optional(),
  customizationConfig: z.unknown().optional(),
});
type CreateBody = z.infer<typeof CreateBody>;

const DEPLOYMENT_NAME = /^([0-9a-zA-Z][_-]?){1,63}$/;
const CUSTOM_MODEL_ARN =
  /^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:custom-model\/(imported|[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})\/[a-z0-9]{12}$/;
const DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ['Creating', 'Active', 'Failed'];
/** CreateCustomModelDeployment's body as the client serializes it. */
const DeploymentBody = z.looseObject({
  modelDeploymentName: z.string().optional(),
  modelArn: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(Tag).optional(),
  clientRequestToken: z.string().optional(),
});
type DeploymentBody = z.infer<typeof DeploymentBody>;

export async function startLocalBedrock(options: LocalBedrockOptions): Promise<LocalBedrock> {
  const faults = new BedrockFaults();
  const trainerFaults = new TrainerFaults();
  const store = new Store();
  const jobs: BedrockJob[] = [];
  const models: CustomModel[] = [];
  const deployments: Deployment[] = [];
  // A base model answers as one trained on nothing (the OpenAI emulator's base models do the same), kept in
  // the store under its inference id so that completeChat finds it.
  for (const base of BASE_MODELS)
    if (base.onDemand)
      store.addModel(base.onDemand.inferenceId, { base: base.id, weights: new BigramModel() });
  const timers = new Set<NodeJS.Timeout>();
  const scaled = (simulatedSeconds: number) => simulatedSeconds * options.timeScale * 1000;
  // Simulated durations: minutes of data processing and queueing, seconds per step (Bedrock jobs take
  // hours on AWS; at the tests' 1/1000 scale a small job ends in about a second).
  const timing = {
    validatingMs: options.timing?.validatingMs ?? scaled(300),
    queuedMs: options.timing?.queuedMs ?? scaled(600),
    msPerStep: options.timing?.msPerStep ?? scaled(5),
    stoppingMs: options.timing?.stoppingMs ?? scaled(60),
    // How long a deployment is Creating on AWS was not found offline; five simulated minutes.
    deployingMs: options.timing?.deployingMs ?? scaled(300),
  };
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const trainer = new Trainer(store, {
    timing,
    faults: trainerFaults,
    onFinished: (trained) => {
      const job = jobs.find((j) => j.trainerJob === trained);
      if (job) void conclude(job, trained);
    },
  });

  const arnOf = (kind: string, rest: string) =>
    `arn:aws:bedrock:${options.region}:${options.account}:${kind}/${rest}`;
  const shortId = () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    return [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join('');
  };

  const setStatus = (job: BedrockJob, status: JobStatus, failureMessage?: string) => {
    job.status = status;
    job.lastModifiedTime = new Date();
    if (failureMessage !== undefined) job.failureMessage = failureMessage;
    if (status === 'Completed' || status === 'Failed' || status === 'Stopped')
      job.endTime = job.lastModifiedTime;
    options.onStateChange?.(view(job));
  };
  const fail = (job: BedrockJob, message: string) => {
    if (job.status === 'InProgress') setStatus(job, 'Failed', message);
  };

  const findJob = (identifier: string) =>
    jobs.find((j) => j.jobArn === identifier || j.jobName === identifier);
  const findModel = (identifier: string) =>
    models.find((m) => m.modelArn === identifier || m.modelName === identifier);
  const findDeployment = (identifier: string) =>
    deployments.find((d) => d.arn === identifier || d.name === identifier);

  // --- operations -------------------------------------------------------------------------------

  async function create(raw: unknown): Promise<{ status: number; body: unknown; job?: BedrockJob }> {
    const parsed = CreateBody.safeParse(raw);
    if (!parsed.success)
      throw new BedrockError(
        'ValidationException',
        `The request body is not valid: ${parsed.error.issues[0]?.message ?? ''}`,
      );
    const body = parsed.data;
    validateCreate(body);
    const token = body.clientRequestToken ?? randomUUID();
    const fingerprint = JSON.stringify({ ...body, clientRequestToken: undefined });
    const same = jobs.find((j) => j.clientRequestToken === token);
    if (same) {
      // Same token, same request: the job it created, and no second one (the token "ensure[s] that the API
      // request completes no more than one time", CreateModelCustomizationJob, API reference, read
      // 2026-11-29). Same token, different request: not found offline what Bedrock answers; AWS's
      // convention (EC2 "Ensuring idempotency": IdempotentParameterMismatch) is an error, and the
      // operation's only fitting error is ConflictException.
      if (same.fingerprint === fingerprint) return { status: 201, body: { jobArn: same.jobArn } };
      throw new BedrockError(
        'ConflictException',
        `The clientRequestToken ${token} was already used with different parameters.`,
      );
    }
    // A job name is unique in the account and region. Bedrock's answer for a customization job was not
    // found offline; for a model import job it is "ValidationException … The provided job name is
    // currently in use." (aws/sagemaker-python-sdk#6076, 2026-07-22, read 2026-11-29).
    if (findJob(body.jobName!))
      throw new BedrockError('ValidationException', 'The provided job name is currently in use.');
    if (
      findModel(body.customModelName!) ||
      jobs.some((j) => j.status === 'InProgress' && j.outputModelName === body.customModelName)
    )
      throw new BedrockError('ValidationException', 'The provided custom model name is currently in use.');
    const model = findBaseModel(body.baseModelIdentifier!);
    if (!model)
      throw new BedrockError(
        'ValidationException',
        `The provided base model identifier ${body.baseModelIdentifier} is not supported for model customization.`,
      );
    if (body.customizationType && body.customizationType !== 'FINE_TUNING')
      throw new BedrockError(
        'ValidationException',
        `Customization type ${body.customizationType} is not supported for ${model.id} locally.`,
      );
    if (!body.trainingDataConfig?.s3Uri)
      throw new BedrockError('ValidationException', 'trainingDataConfig.s3Uri is required for fine-tuning.');
    const validators = body.validationDataConfig?.validators ?? [];
    if (validators.length && !model.validation)
      throw new BedrockError('ValidationException', `${model.id} does not support validation datasets.`);
    const hyperParameters = (body.hyperParameters ?? {}) as Record<string, string>;
    const resolved = resolveHyperparameters(model, hyperParameters);
    if ('problem' in resolved) throw new BedrockError('ValidationException', resolved.problem);

    const id = shortId();
    const jobArn = arnOf('model-customization-job', `${model.id}/${id}`);
    // Bedrock assumes the role at once (its trust policy is checked before the job exists).
    const session = await options.assumeRole(body.roleArn!, jobArn);
    if ('refused' in session) throw new BedrockError('ValidationException', session.refused);
    const now = new Date();
    const job: BedrockJob = {
      id,
      jobArn,
      jobName: body.jobName!,
      outputModelName: body.customModelName!,
      roleArn: body.roleArn!,
      status: 'InProgress',
      creationTime: now,
      lastModifiedTime: now,
      clientRequestToken: token,
      fingerprint,
      model,
      hyperParameters: Object.fromEntries(Object.entries(resolved.values).map(([k, v]) => [k, String(v)])),
      resolved: resolved.values,
      trainingDataConfig: { s3Uri: body.trainingDataConfig.s3Uri },
      validationDataConfig: { validators },
      outputDataConfig: { s3Uri: body.outputDataConfig!.s3Uri },
      fault: faults.takeJobFault(),
      session,
      validationExamples: 0,
    };
    jobs.push(job);
    options.onStateChange?.(view(job));
    if (!job.fault.stuckInProgress) void run(job);
    return { status: 201, body: { jobArn }, job };
  }

  function validateCreate(body: CreateBody): void {
    const problems: string[] = [];
    const required = (name: string, value: unknown) => {
      if (value === undefined)
        problems.push(`Value null at '${name}' failed to satisfy constraint: Member must not be null`);
      return value !== undefined;
    };
    const text = (name: string, value: string | undefined, min: number, max: number, pattern?: RegExp) => {
      const problem = stringProblem(name, value, min, max, pattern);
      if (problem) problems.push(problem);
    };
    if (required('jobName', body.jobName)) text('jobName', body.jobName, 1, 63, JOB_NAME);
    if (required('customModelName', body.customModelName))
      text('customModelName', body.customModelName, 1, 63, MODEL_NAME);
    if (required('roleArn', body.roleArn)) text('roleArn', body.roleArn, 0, 2048, ROLE_ARN);
    if (required('baseModelIdentifier', body.baseModelIdentifier))
      text('baseModelIdentifier', body.baseModelIdentifier, 1, 2048);
    required('trainingDataConfig', body.trainingDataConfig);
    text('trainingDataConfig.s3Uri', body.trainingDataConfig?.s3Uri, 1, 1024, S3_URI);
    if (required('outputDataConfig', body.outputDataConfig))
      text('outputDataConfig.s3Uri', body.outputDataConfig?.s3Uri, 1, 1024, S3_URI);
    body.validationDataConfig?.validators.forEach((v, i) =>
      text(`validationDataConfig.validators.${i + 1}.member.s3Uri`, v.s3Uri, 1, 1024, S3_URI),
    );
    text('clientRequestToken', body.clientRequestToken, 1, 256, TOKEN);
    for (const name of ['jobTags', 'customModelTags'] as const)
      if ((body[name]?.length ?? 0) > 200)
        problems.push(
          `Value at '${name}' failed to satisfy constraint: Member must have length less than or equal to 200`,
        );
    for (const [key, value] of Object.entries(body.hyperParameters ?? {}))
      if (typeof value !== 'string')
        problems.push(
          `Value '${String(value)}' at 'hyperParameters.${key}' failed to satisfy constraint: Member must be a string`,
        );
    if (problems.length)
      throw new BedrockError(
        'ValidationException',
        `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`,
      );
  }

  /** Reads the data as the role, checks it as the base model takes it, and starts training. */
  async function run(job: BedrockJob): Promise<void> {
    let training: ChatExample[];
    let validation: ChatExample[] = [];
    try {
      training = readDataset(
        await readObject(job, job.trainingDataConfig.s3Uri),
        job.model.format,
        'training',
      );
      for (const { s3Uri } of job.validationDataConfig.validators)
        validation = validation.concat(
          readDataset(await readObject(job, s3Uri), job.model.format, 'validation'),
        );
    } catch (error) {
      return fail(job, error instanceof Error ? error.message : String(error));
    }
    if (job.status !== 'InProgress') return;
    job.validationExamples = validation.length;
    const jsonl = (examples: ChatExample[]) =>
      new TextEncoder().encode(examples.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const trainingFile = store.addFile(`${job.id}-train.jsonl`, 'fine-tune', jsonl(training));
    const validationFile = validation.length
      ? store.addFile(`${job.id}-validation.jsonl`, 'fine-tune', jsonl(validation))
      : undefined;
    const hyperparameters = {
      n_epochs: job.resolved.epochCount!,
      batch_size: job.resolved.batchSize ?? 1,
      learning_rate_multiplier: job.resolved.learningRate!,
    };
    const trainerJob: Job = {
      object: 'fine_tuning.job',
      id: newId('ftjob'),
      model: job.model.id,
      created_at: Math.floor(job.creationTime.getTime() / 1000),
      finished_at: null,
      fine_tuned_model: null,
      organization_id: 'org-local',
      result_files: [],
      status: 'validating_files',
      validation_file: validationFile?.id ?? null,
      training_file: trainingFile.id,
      hyperparameters,
      trained_tokens: null,
      error: null,
      user_provided_suffix: job.outputModelName,
      seed: 0,
      estimated_finish: null,
      integrations: null,
      metadata: null,
      method: { type: 'supervised', supervised: { hyperparameters } },
    };
    job.trainerJob = trainerJob;
    store.addJob(trainerJob);
    if (job.fault.failWith)
      trainerFaults.onNextJob({ failWith: { code: 'failed', message: job.fault.failWith } });
    else trainerFaults.onNextJob({});
    trainer.start(trainerJob, { images: false });
  }

  async function readObject(job: BedrockJob, uri: string): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    const s3 = job.session!.s3;
    try {
      // Bedrock's role needs s3:ListBucket and s3:GetObject on its data (Bedrock user guide, "Create a
      // service role for model customization", https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-iam-role.html,
      // read 2026-11-29): the job lists the location, then reads it.
      await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await object.Body!.transformToString('utf8');
    } catch (error) {
      // Bedrock's own failureMessage for unreadable data was not found offline.
      throw new Error(
        `Amazon Bedrock could not read ${uri} with the service role ${job.roleArn}: ${errorText(error)}`,
        { cause: error },
      );
    }
  }

  async function conclude(job: BedrockJob, trained: Job): Promise<void> {
    if (trained.status === 'cancelled') {
      if (job.status === 'Stopping' || job.status === 'InProgress') setStatus(job, 'Stopped');
      return;
    }
    if (trained.status === 'failed') return fail(job, trained.error?.message ?? 'The job failed.');
    if (job.status !== 'InProgress') return;
    const rows = resultRows(store, trained);
    const stepsPerEpoch = Math.max(1, Math.ceil(rows.length / job.resolved.epochCount!));
    const epochOf = (step: number) => Math.ceil(step / stepsPerEpoch);
    const training = ['step_number,epoch_number,training_loss,perplexity'].concat(
      rows.map((r) => `${r.step},${epochOf(r.step)},${r.trainLoss},${Math.exp(r.trainLoss)}`),
    );
    const validated = rows.filter((r) => r.validLoss !== undefined);
    const validation = ['step_number,epoch_number,validation_loss,perplexity'].concat(
      validated.map((r) => `${r.step},${epochOf(r.step)},${r.validLoss!},${Math.exp(r.validLoss!)}`),
    );
    // The output layout (Bedrock user guide, "Analyze the results of a model customization job",
    // https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html, as recorded in
    // docs/providers.md B5): <output>/model-customization-job-<job id>/training_artifacts/
    // step_wise_training_metrics.csv and …/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv.
    const { bucket, key } = parseS3Uri(job.outputDataConfig.s3Uri);
    const prefix = `${key.replace(/\/+$/, '')}${key ? '/' : ''}model-customization-job-${job.id}/`;
    try {
      await put(job, bucket, `${prefix}training_artifacts/step_wise_training_metrics.csv`, training);
      if (job.validationDataConfig.validators.length)
        await put(
          job,
          bucket,
          `${prefix}validation_artifacts/post_fine_tuning_validation/validation_metrics.csv`,
          validation,
        );
    } catch (error) {
      return fail(
        job,
        `Amazon Bedrock could not write the output to ${job.outputDataConfig.s3Uri} with the service role ${job.roleArn}: ${errorText(error)}`,
      );
    }
    const last = rows.at(-1);
    if (last) job.trainingMetrics = { trainingLoss: last.trainLoss };
    if (job.validationDataConfig.validators.length && validated.length)
      job.validationMetrics = [{ validationLoss: validated.at(-1)!.validLoss! }];
    const modelArn = arnOf('custom-model', `${job.model.id}/${shortId()}`);
    models.push({ modelArn, modelName: job.outputModelName, creationTime: new Date(), job });
    job.outputModelArn = modelArn;
    setStatus(job, 'Completed');
  }

  async function put(job: BedrockJob, bucket: string, key: string, lines: string[]): Promise<void> {
    await job.session!.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: `${lines.join('\n')}\n`,
        ContentType: 'text/csv',
      }),
    );
  }

  function stop(identifier: string): void {
    const job = findJob(identifier);
    if (!job) throw notFound('model customization job', identifier);
    if (job.status !== 'InProgress')
      throw new BedrockError(
        'ValidationException',
        `The job ${job.jobName} is ${job.status} and cannot be stopped.`,
      );
    setStatus(job, 'Stopping');
    later(timing.stoppingMs, () => {
      if (job.status !== 'Stopping') return;
      const trained = job.trainerJob;
      if (trained && !['succeeded', 'failed', 'cancelled'].includes(trained.status)) trainer.cancel(trained);
      else setStatus(job, 'Stopped');
    });
  }

  function listJobs(query: URLSearchParams) {
    const statusEquals = enumParam(query, 'statusEquals', STATUSES);
    const nameContains = query.get('nameContains');
    const after = dateParam(query, 'creationTimeAfter');
    const before = dateParam(query, 'creationTimeBefore');
    const selected = jobs.filter(
      (j) =>
        (!statusEquals || j.status === statusEquals) &&
        (!nameContains || j.jobName.includes(nameContains)) &&
        (!after || j.creationTime > after) &&
        (!before || j.creationTime < before),
    );
    const page = paginate(sorted(selected, query), query);
    return {
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      modelCustomizationJobSummaries: page.items.map((j) => ({
        jobArn: j.jobArn,
        baseModelArn: foundationModelArn(options.region, j.model.id),
        jobName: j.jobName,
        status: j.status,
        creationTime: j.creationTime.toISOString(),
        lastModifiedTime: j.lastModifiedTime.toISOString(),
        ...(j.endTime ? { endTime: j.endTime.toISOString() } : {}),
        ...(j.outputModelArn ? { customModelArn: j.outputModelArn } : {}),
        customModelName: j.outputModelName,
        customizationType: 'FINE_TUNING',
      })),
    };
  }

  function getJob(identifier: string) {
    const j = findJob(identifier);
    if (!j) throw notFound('model customization job', identifier);
    return {
      jobArn: j.jobArn,
      jobName: j.jobName,
      outputModelName: j.outputModelName,
      ...(j.outputModelArn ? { outputModelArn: j.outputModelArn } : {}),
      clientRequestToken: j.clientRequestToken,
      roleArn: j.roleArn,
      status: j.status,
      ...(j.failureMessage !== undefined ? { failureMessage: j.failureMessage } : {}),
      creationTime: j.creationTime.toISOString(),
      lastModifiedTime: j.lastModifiedTime.toISOString(),
      ...(j.endTime ? { endTime: j.endTime.toISOString() } : {}),
      baseModelArn: foundationModelArn(options.region, j.model.id),
      hyperParameters: j.hyperParameters,
      trainingDataConfig: j.trainingDataConfig,
      // Required in the response (the client's schema): an empty validator list when none was given.
      validationDataConfig: j.validationDataConfig,
      outputDataConfig: j.outputDataConfig,
      customizationType: 'FINE_TUNING',
      ...(j.trainingMetrics ? { trainingMetrics: j.trainingMetrics } : {}),
      ...(j.validationMetrics ? { validationMetrics: j.validationMetrics } : {}),
    };
  }

  function getModel(identifier: string) {
    const m = findModel(identifier);
    if (!m) throw notFound('custom model', identifier);
    const j = m.job;
    return {
      modelArn: m.modelArn,
      modelName: m.modelName,
      creationTime: m.creationTime.toISOString(),
      jobName: j.jobName,
      jobArn: j.jobArn,
      baseModelArn: foundationModelArn(options.region, j.model.id),
      customizationType: 'FINE_TUNING',
      hyperParameters: j.hyperParameters,
      trainingDataConfig: j.trainingDataConfig,
      validationDataConfig: j.validationDataConfig,
      outputDataConfig: j.outputDataConfig,
      ...(j.trainingMetrics ? { trainingMetrics: j.trainingMetrics } : {}),
      ...(j.validationMetrics ? { validationMetrics: j.validationMetrics } : {}),
      modelStatus: 'Active',
    };
  }

  function listModels(query: URLSearchParams) {
    const nameContains = query.get('nameContains');
    const selected = models
      .filter((m) => !nameContains || m.modelName.includes(nameContains))
      .map((m) => ({ ...m, creationTime: m.creationTime }));
    const page = paginate(sorted(selected, query), query);
    return {
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      modelSummaries: page.items.map((m) => ({
        modelArn: m.modelArn,
        modelName: m.modelName,
        creationTime: m.creationTime.toISOString(),
        baseModelArn: foundationModelArn(options.region, m.job.model.id),
        baseModelName: m.job.model.name,
        customizationType: 'FINE_TUNING',
        ownerAccountId: options.account,
        modelStatus: 'Active',
      })),
    };
  }

  function deleteModel(identifier: string) {
    const m = findModel(identifier);
    if (!m) throw notFound('custom model', identifier);
    // What Bedrock does with a custom model that still has deployments is not documented (read 2026-11-30:
    // DeleteCustomModel lists ConflictException without saying when; "Delete a custom model deployment"
    // says deleting a deployment leaves its model). Local mode refuses, the strict reading: a deployment
    // that deletes its deployments first works either way, and a deployment never answers from a model
    // that is gone. The wording is local mode's.
    const inUse = deployments.filter((d) => d.model === m);
    if (inUse.length)
      throw new BedrockError(
        'ConflictException',
        `The custom model ${m.modelArn} has custom model deployments (${inUse.map((d) => d.name).join(', ')}); delete them before the model.`,
      );
    models.splice(models.indexOf(m), 1);
    return {};
  }

  // --- custom model deployments --------------------------------------------------------------

  function createDeployment(raw: unknown): { status: number; body: unknown } {
    const parsed = DeploymentBody.safeParse(raw);
    if (!parsed.success)
      throw new BedrockError(
        'ValidationException',
        `The request body is not valid: ${parsed.error.issues[0]?.message ?? ''}`,
      );
    const body = parsed.data;
    validateDeployment(body);
    const token = body.clientRequestToken ?? randomUUID();
    const fingerprint = JSON.stringify({ ...body, clientRequestToken: undefined });
    const same = deployments.find((d) => d.clientRequestToken === token);
    if (same) {
      // "If this token matches a previous request, Amazon Bedrock ignores the request, but does not return
      // an error" (CreateCustomModelDeployment, API reference, read 2026-11-30): the deployment it made. A
      // different request under the same token is refused as for jobs (create() above).
      if (same.fingerprint === fingerprint)
        return { status: 202, body: { customModelDeploymentArn: same.arn } };
      throw new BedrockError(
        'ConflictException',
        `The clientRequestToken ${token} was already used with different parameters.`,
      );
    }
    // "The name must be unique within your Amazon Web Services account and Region" (the API reference);
    // Bedrock's error for a name in use was not found offline: the ValidationException jobs answer.
    if (findDeployment(body.modelDeploymentName!))
      throw new BedrockError('ValidationException', 'The provided deployment name is currently in use.');
    const modelArn = body.modelArn!;
    const account = modelArn.split(':')[4];
    // Bedrock's wording for the refusals below was not found offline.
    if (account !== options.account)
      throw new BedrockError(
        'ValidationException',
        `The model ${modelArn} is not a custom model of account ${options.account}.`,
      );
    const model = models.find((m) => m.modelArn === modelArn);
    if (!model) throw notFound('custom model', modelArn);
    const base = model.job.model;
    if (!base.onDemand)
      throw new BedrockError(
        'ValidationException',
        `The custom model ${modelArn} cannot be deployed for on-demand inference: its base model ${base.name} (${base.id}) does not support on-demand deployment. Supported base models: ${BASE_MODELS.filter(
          (m) => m.onDemand,
        )
          .map((m) => m.name)
          .join(', ')}.`,
      );
    const now = new Date();
    const deployment: Deployment = {
      arn: arnOf('custom-model-deployment', shortId()),
      name: body.modelDeploymentName!,
      modelArn,
      status: 'Creating',
      ...(body.description !== undefined ? { description: body.description } : {}),
      clientRequestToken: token,
      fingerprint,
      model,
      fault: faults.takeDeploymentFault(),
      creationTime: now,
      lastUpdatedAt: now,
    };
    deployments.push(deployment);
    if (!deployment.fault.stuckCreating)
      later(timing.deployingMs, () => {
        if (!deployments.includes(deployment)) return;
        deployment.lastUpdatedAt = new Date();
        if (deployment.fault.failWith !== undefined) {
          deployment.status = 'Failed';
          deployment.failureMessage = deployment.fault.failWith;
        } else deployment.status = 'Active';
      });
    // 202: CreateCustomModelDeployment's http trait in the client's schemas.
    return { status: 202, body: { customModelDeploymentArn: deployment.arn } };
  }

  function validateDeployment(body: DeploymentBody): void {
    const problems: string[] = [];
    const check = (name: string, value: string | undefined, min: number, max: number, pattern?: RegExp) => {
      const problem = stringProblem(name, value, min, max, pattern);
      if (problem) problems.push(problem);
    };
    for (const name of ['modelDeploymentName', 'modelArn'] as const)
      if (body[name] === undefined)
        problems.push(`Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    check('modelDeploymentName', body.modelDeploymentName, 1, 63, DEPLOYMENT_NAME);
    check('modelArn', body.modelArn, 20, 1011, CUSTOM_MODEL_ARN);
    check('description', body.description, 1, 2048);
    check('clientRequestToken', body.clientRequestToken, 1, 256, TOKEN);
    if ((body.tags?.length ?? 0) > 200)
      problems.push(
        "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200",
      );
    if (problems.length)
      throw new BedrockError(
        'ValidationException',
        `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`,
      );
  }

  function getDeployment(identifier: string) {
    const d = findDeployment(identifier);
    if (!d) throw notFound('custom model deployment', identifier);
    return {
      customModelDeploymentArn: d.arn,
      modelDeploymentName: d.name,
      modelArn: d.modelArn,
      createdAt: d.creationTime.toISOString(),
      status: d.status,
      ...(d.description !== undefined ? { description: d.description } : {}),
      ...(d.failureMessage !== undefined ? { failureMessage: d.failureMessage } : {}),
      lastUpdatedAt: d.lastUpdatedAt.toISOString(),
    };
  }

  function listDeployments(query: URLSearchParams) {
    const statusEquals = enumParam(query, 'statusEquals', DEPLOYMENT_STATUSES);
    const nameContains = query.get('nameContains');
    const modelArnEquals = query.get('modelArnEquals');
    const after = dateParam(query, 'createdAfter');
    const before = dateParam(query, 'createdBefore');
    const selected = deployments.filter(
      (d) =>
        (!statusEquals || d.status === statusEquals) &&
        (!nameContains || d.name.includes(nameContains)) &&
        (!modelArnEquals || d.modelArn === modelArnEquals) &&
        (!after || d.creationTime > after) &&
        (!before || d.creationTime < before),
    );
    const page = paginate(sorted(selected, query), query);
    return {
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      modelDeploymentSummaries: page.items.map((d) => ({
        customModelDeploymentArn: d.arn,
        customModelDeploymentName: d.name,
        modelArn: d.modelArn,
        createdAt: d.creationTime.toISOString(),
        status: d.status,
        lastUpdatedAt: d.lastUpdatedAt.toISOString(),
        ...(d.failureMessage !== undefined ? { failureMessage: d.failureMessage } : {}),
      })),
    };
  }

  function deleteDeployment(identifier: string) {
    const d = findDeployment(identifier);
    if (!d) throw notFound('custom model deployment', identifier);
    // "This operation stops the deployment and removes it from your account. After deletion, the
    // deployment ARN can no longer be used for inference requests." (DeleteCustomModelDeployment, API
    // reference, read 2026-11-30.) The Nova user guide shows a Deleting status on the way; the client's
    // status enum (3.1164.0) has none, so the deployment is gone at once.
    deployments.splice(deployments.indexOf(d), 1);
    return {};
  }

  // --- inference (the runtime's Converse, bedrock-runtime.ts) ------------------------------------

  function chat(modelId: string, body: Record<string, unknown>): InferenceAnswer {
    const refused = (
      type: 'ValidationException' | 'ResourceNotFoundException',
      message: string,
    ): InferenceAnswer => ({ refused: { type, message } });
    let storeModel: string;
    const base = findInferenceModel(modelId);
    if (base?.onDemand) storeModel = base.onDemand.inferenceId;
    else if (/^arn:aws(-[^:]+)?:bedrock:[^:]*:\d{12}:custom-model-deployment\//.test(modelId)) {
      const d = deployments.find((x) => x.arn === modelId);
      // "The specified resource ARN was not found." (ResourceNotFoundException's description in the
      // bedrock-runtime API model, botocore's reference, read 2026-11-30; the live message was not found.)
      if (!d) return refused('ResourceNotFoundException', 'The specified resource ARN was not found.');
      // Bedrock's answer for a deployment that is not Active was not found offline.
      if (d.status !== 'Active')
        return refused(
          'ValidationException',
          `The custom model deployment ${d.arn} is ${d.status} and cannot serve inference requests.`,
        );
      storeModel = d.model.job.trainerJob!.fine_tuned_model!;
    } else if (/^arn:aws(-[^:]+)?:bedrock:[^:]*:\d{12}:custom-model\//.test(modelId))
      // A custom model is used through a deployment or Provisioned Throughput, never by its own ARN ("you use
      // the deployment's Amazon Resource Name (ARN) as the modelId", "Deploy a custom model for on-demand
      // inference", read 2026-11-30); the wording is local mode's.
      return refused(
        'ValidationException',
        `The custom model ${modelId} cannot be invoked by its ARN: deploy it for on-demand inference and use the deployment's ARN as the modelId.`,
      );
    // "The provided model identifier is invalid.", as Bedrock answered for a model id it did not serve
    // (anomalyco/opencode#11037, 2026-02-04; Kilo-Org/kilocode#586, 2025-06-03; read 2026-11-30).
    else return refused('ValidationException', 'The provided model identifier is invalid.');
    const answered = completeChat(store, { ...body, model: storeModel });
    if (answered instanceof ApiError) return refused('ValidationException', answered.message);
    return { answered };
  }

  // --- HTTP -------------------------------------------------------------------------------------

  const server = createServer((incoming, outgoing) => {
    void handle(incoming, outgoing).catch((error: unknown) => {
      if (!outgoing.headersSent)
        sendError(outgoing, new BedrockError('InternalServerException', String(error)));
      else outgoing.destroy();
    });
  });

  async function handle(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const url = new URL(incoming.url ?? '/', 'http://local');
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = (incoming.method ?? 'GET').toUpperCase();
    const body = await readBody(incoming);
    const route = routeOf(method, segments);
    if (!route)
      return sendError(
        outgoing,
        new BedrockError('ValidationException', `No operation at ${method} ${url.pathname} locally.`),
        404,
      );
    const fault = faults.take(route.operation);
    if (fault?.kind === 'reset') return void outgoing.destroy();
    if (fault?.kind === 'throttle')
      return sendError(
        outgoing,
        new BedrockError('ThrottlingException', 'Too many requests, please wait before trying again.'),
      );
    if (fault?.kind === 'status')
      return sendError(
        outgoing,
        new BedrockError(fault.errorType, fault.message ?? fault.errorType),
        fault.status,
      );
    try {
      const result = await route.run(body, url.searchParams);
      if (fault?.kind === 'lostResponse') {
        if (fault.status)
          return sendError(
            outgoing,
            new BedrockError('InternalServerException', 'Internal server error.'),
            fault.status,
          );
        return void outgoing.destroy();
      }
      outgoing.writeHead(result.status, {
        'content-type': 'application/json',
        'x-amzn-requestid': randomUUID(),
      });
      outgoing.end(JSON.stringify(result.body));
    } catch (error) {
      if (error instanceof BedrockError) return sendError(outgoing, error);
      throw error;
    }
  }

  type Route = {
    operation: BedrockOperation;
    run(
      body: Buffer,
      query: URLSearchParams,
    ): Promise<{ status: number; body: unknown }> | { status: number; body: unknown };
  };
  const ok = (body: unknown) => ({ status: 200, body });
  function routeOf(method: string, s: string[]): Route | undefined {
    if (s[0] === 'model-customization-jobs') {
      if (s.length === 1 && method === 'POST')
        return { operation: 'CreateModelCustomizationJob', run: (body) => create(parseJson(body)) };
      if (s.length === 1 && method === 'GET')
        return { operation: 'ListModelCustomizationJobs', run: (_, q) => ok(listJobs(q)) };
      if (s.length === 2 && method === 'GET')
        return { operation: 'GetModelCustomizationJob', run: () => ok(getJob(s[1]!)) };
      if (s.length === 3 && s[2] === 'stop' && method === 'POST')
        return { operation: 'StopModelCustomizationJob', run: () => (stop(s[1]!), ok({})) };
    }
    if (s[0] === 'model-customization' && s[1] === 'custom-model-deployments') {
      if (s.length === 2 && method === 'POST')
        return { operation: 'CreateCustomModelDeployment', run: (body) => createDeployment(parseJson(body)) };
      if (s.length === 2 && method === 'GET')
        return { operation: 'ListCustomModelDeployments', run: (_, q) => ok(listDeployments(q)) };
      if (s.length === 3 && method === 'GET')
        return { operation: 'GetCustomModelDeployment', run: () => ok(getDeployment(s[2]!)) };
      if (s.length === 3 && method === 'DELETE')
        return { operation: 'DeleteCustomModelDeployment', run: () => ok(deleteDeployment(s[2]!)) };
    }
    if (s[0] === 'custom-models') {
      if (s.length === 1 && method === 'GET')
        return { operation: 'ListCustomModels', run: (_, q) => ok(listModels(q)) };
      if (s.length === 2 && method === 'GET')
        return { operation: 'GetCustomModel', run: () => ok(getModel(s[1]!)) };
      if (s.length === 2 && method === 'DELETE')
        return { operation: 'DeleteCustomModel', run: () => ok(deleteModel(s[1]!)) };
    }
    return undefined;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    faults,
    jobs: () => jobs.map(view),
    jobArn: (identifier) =>
      findJob(identifier)?.jobArn ??
      (identifier.startsWith('arn:') ? identifier : arnOf('model-customization-job', identifier)),
    modelArn: (identifier) =>
      findModel(identifier)?.modelArn ??
      (identifier.startsWith('arn:') ? identifier : arnOf('custom-model', identifier)),
    deployments: () =>
      deployments.map((d) => ({
        arn: d.arn,
        name: d.name,
        modelArn: d.modelArn,
        status: d.status,
        ...(d.failureMessage !== undefined ? { failureMessage: d.failureMessage } : {}),
      })),
    deploymentArn: (identifier) =>
      findDeployment(identifier)?.arn ??
      (identifier.startsWith('arn:') ? identifier : arnOf('custom-model-deployment', identifier)),
    chat,
    close: () =>
      new Promise<void>((resolve) => {
        trainer.close();
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function view(job: BedrockJob): BedrockJobView {
  return {
    jobArn: job.jobArn,
    jobName: job.jobName,
    outputModelName: job.outputModelName,
    ...(job.outputModelArn ? { outputModelArn: job.outputModelArn } : {}),
    roleArn: job.roleArn,
    status: job.status,
    ...(job.failureMessage !== undefined ? { failureMessage: job.failureMessage } : {}),
    creationTime: job.creationTime,
    lastModifiedTime: job.lastModifiedTime,
    ...(job.endTime ? { endTime: job.endTime } : {}),
  };
}

/**
 * The event Bedrock sends EventBridge on a job's status change: source aws.bedrock, detail-type "Model
 * Customization Job State Change", the job's ARN as the resource, a detail with version "0.0", jobName,
 * jobArn, outputModelName, outputModelArn, roleArn, jobStatus, failureMessage, creationTime… (the sample
 * event in the Bedrock user guide, "How EventBridge for Amazon Bedrock works",
 * https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge-how-it-works.html, read
 * 2026-11-29; the stored copy ends after creationTime, so lastModifiedTime and endTime are assumed to
 * follow as in GetModelCustomizationJob).
 */
export function customizationJobStateChangeEvent(
  job: BedrockJobView,
  where: { account: string; region: string },
) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Model Customization Job State Change',
    source: 'aws.bedrock',
    account: where.account,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: where.region,
    resources: [job.jobArn],
    detail: {
      version: '0.0',
      jobName: job.jobName,
      jobArn: job.jobArn,
      outputModelName: job.outputModelName,
      ...(job.outputModelArn ? { outputModelArn: job.outputModelArn } : {}),
      roleArn: job.roleArn,
      jobStatus: job.status,
      ...(job.failureMessage !== undefined ? { failureMessage: job.failureMessage } : {}),
      creationTime: job.creationTime.toISOString(),
      lastModifiedTime: job.lastModifiedTime.toISOString(),
      ...(job.endTime ? { endTime: job.endTime.toISOString() } : {}),
    },
  };
}

/** The rows of the shared trainer's results file (base64 CSV step,train_loss,train_accuracy,valid_loss,…). */
function resultRows(
  store: Store,
  trained: Job,
): Array<{ step: number; trainLoss: number; validLoss?: number }> {
  const file = trained.result_files[0] ? store.file(trained.result_files[0]) : undefined;
  if (!file) return [];
  const csv = Buffer.from(new TextDecoder().decode(file.content), 'base64').toString('utf8');
  return csv
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [step = '', train = '', , valid = ''] = line.split(',');
      return { step: Number(step), trainLoss: Number(train), ...(valid ? { validLoss: Number(valid) } : {}) };
    });
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? { bucket: rest, key: '' } : { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function notFound(what: string, identifier: string): BedrockError {
  // Bedrock's wording was not found offline.
  return new BedrockError('ResourceNotFoundException', `The ${what} ${identifier} was not found.`);
}

/** AWS's validation wording for a string member outside its length or pattern; undefined when it fits. */
function stringProblem(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
  pattern?: RegExp,
): string | undefined {
  if (value === undefined) return undefined;
  const constraint =
    value.length < min
      ? `Member must have length greater than or equal to ${min}`
      : value.length > max
        ? `Member must have length less than or equal to ${max}`
        : pattern && !pattern.test(value)
          ? `Member must satisfy regular expression pattern: ${pattern.source.replace(/^\^|\$$/g, '')}`
          : undefined;
  return constraint && `Value '${value}' at '${name}' failed to satisfy constraint: ${constraint}`;
}

/** A query parameter that must be one of `values`, refused as Bedrock refuses a value outside an enum. */
function enumParam<T extends string>(query: URLSearchParams, name: string, values: readonly T[]): T | null {
  const value = query.get(name);
  if (value !== null && !values.includes(value as T))
    throw new BedrockError(
      'ValidationException',
      `1 validation error detected: Value '${value}' at '${name}' failed to satisfy constraint: Member must satisfy enum value set: [${values.join(', ')}]`,
    );
  return value as T | null;
}

function dateParam(query: URLSearchParams, name: string): Date | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new BedrockError('ValidationException', `The value '${value}' of ${name} is not a timestamp.`);
  return date;
}

function sorted<T extends { creationTime: Date }>(items: T[], query: URLSearchParams): T[] {
  const sortBy = query.get('sortBy');
  const sortOrder = query.get('sortOrder') ?? 'Descending';
  if (sortBy !== null && sortBy !== 'CreationTime')
    throw new BedrockError(
      'ValidationException',
      `1 validation error detected: Value '${sortBy}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [CreationTime]`,
    );
  if (sortOrder !== 'Ascending' && sortOrder !== 'Descending')
    throw new BedrockError(
      'ValidationException',
      `1 validation error detected: Value '${sortOrder}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [Ascending, Descending]`,
    );
  const ordered = [...items].sort((a, b) => a.creationTime.getTime() - b.creationTime.getTime());
  return sortOrder === 'Ascending' ? ordered : ordered.reverse();
}

/** maxResults 1–1000 (botocore MaxResults); nextToken an opaque offset. */
function paginate<T>(items: T[], query: URLSearchParams): { items: T[]; nextToken?: string } {
  const maxText = query.get('maxResults');
  const max = maxText === null ? 1000 : Number(maxText);
  if (!Number.isInteger(max) || max < 1 || max > 1000)
    throw new BedrockError(
      'ValidationException',
      `1 validation error detected: Value '${maxText}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000`,
    );
  const token = query.get('nextToken');
  const offset = token === null ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(offset) || offset < 0)
    throw new BedrockError('ValidationException', 'The nextToken is not valid.');
  const page = items.slice(offset, offset + max);
  const next = offset + max;
  return {
    items: page,
    ...(next < items.length ? { nextToken: Buffer.from(String(next)).toString('base64url') } : {}),
  };
}

function parseJson(body: Buffer): unknown {
  if (!body.length) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BedrockError('ValidationException', 'The request body is not valid JSON.');
  }
}

async function readBody(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * An error as the REST-JSON protocol carries it: the type in the `x-amzn-errortype` header, the message
 * in the body's `message` (the client reads the header, then the body's `code`/`__type`; smithy's
 * aws-restjson1 error handling).
 */
function sendError(response: ServerResponse, error: BedrockError, status?: number): void {
  response.writeHead(status ?? ERROR_STATUS[error.type] ?? 400, {
    'content-type': 'application/json',
    'x-amzn-errortype': error.type,
    'x-amzn-requestid': randomUUID(),
  });
  response.end(JSON.stringify({ message: error.message, ...error.extra }));
}
