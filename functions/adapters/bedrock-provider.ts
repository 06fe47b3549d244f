import {
  BedrockServiceException,
  CreateModelCustomizationJobCommand,
  DeleteCustomModelCommand,
  GetModelCustomizationJobCommand,
  ListModelCustomizationJobsCommand,
  StopModelCustomizationJobCommand,
  type BedrockClient,
  type CreateModelCustomizationJobCommandInput,
} from '@aws-sdk/client-bedrock';
import { runKeys, TRAINING_COPY_TAG } from '../core/run.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { toBedrockLine, type BedrockDataFormat } from '../core/bedrock-format.js';
import { BEDROCK_METRICS_FILES, bedrockResultsCsv } from '../core/bedrock-results.js';
import { findModel } from '../core/catalog.js';
import {
  InvalidConfigError,
  ProviderRejectedError,
  ProviderUnavailableError,
  type TunedropError,
} from '../core/errors.js';
import type { FineTuningProvider, ObjectStore, ProviderJob, ProviderJobStatus } from '../core/ports.js';
import { redactSecrets } from '../core/redact.js';
import { HANDLER_RESERVE_MS, MIN_ATTEMPT_TIMEOUT_MS } from './provider-timeouts.js';
import type { ProviderCallOutcome } from './openai-compatible.js';

/**
 * Amazon Bedrock model customization behind tunedrop's provider port. Facts (read 2026-11-29):
 * - API members, statuses, errors: @aws-sdk/client-bedrock 3.1164.0 (dist-types/models), and
 *   https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelCustomizationJob.html
 *   (`clientRequestToken`: "A unique, case-sensitive identifier to ensure that the API request completes
 *   no more than one time"; `hyperParameters` is a map of string to string).
 * - Name and token patterns (botocore's model of the API,
 *   https://github.com/boto/botocore/blob/develop/botocore/data/bedrock/2023-04-20/service-2.json, as
 *   recorded in local/cloud/bedrock.ts): JobName 1–63 `[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*`,
 *   CustomModelName ≤63 `([0-9a-zA-Z][_-]?)+`, IdempotencyToken 1–256 `[a-zA-Z0-9](-*[a-zA-Z0-9])*`.
 * - Output layout: <output>/model-customization-job-<job id>/… (bedrock-results.ts), the job id being
 *   the last segment of the job ARN (`model-customization-job/<base model id>/<id>`,
 *   https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetModelCustomizationJob.html).
 * - Service role and PassRole: https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-job-access-security.html,
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/security-iam-sr.html.
 *
 * S3 layout, all under the run's prefix: runs/<runId>/bedrock/<training|validation>.jsonl (the files in
 * the model's format), runs/<runId>/bedrock-output/ (the job's output, Bedrock writes there).
 */
export interface BedrockProviderOptions {
  client: BedrockClient;
  store: ObjectStore;
  /** The data bucket: the converted files and the job's output go under runs/<runId>/. */
  bucket: string;
  /** The service role Bedrock assumes to read the data and write the output. */
  roleArn: string;
  /** The invocation's remaining time: each call is aborted `reserveMs` before the invocation ends. */
  remainingTimeMs?: (() => number) | undefined;
  /** @default HANDLER_RESERVE_MS */
  reserveMs?: number;
  /** Told of each call made, how long it took with its retries and whether it failed (the metrics). */
  onCall?: ((call: ProviderCallOutcome) => void) | undefined;
}

// ---------------------------------------------------------------------------------------------------
// Names derived from the run id: the same run always gets the same ones, which is how a job whose
// create answer was lost is found again (findJobByRunId) and why a repeated create starts no second job.

const JOB_NAME_MAX = 63;
const MODEL_NAME_MAX = 63;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `tunedrop-<run id>`, with "_" (not allowed in a job name) as "-"; a run id too long for 63
 * characters keeps its start and ends in 16 hex characters of its hash, so names stay distinct.
 */
export function bedrockJobName(runId: string): string {
  const name = `tunedrop-${runId.replace(/[^A-Za-z0-9+.-]/g, '-')}`;
  if (name.length <= JOB_NAME_MAX) return name;
  return `${name.slice(0, JOB_NAME_MAX - 17)}-${sha256(runId).slice(0, 16)}`;
}

/** The create's idempotency token: `tunedrop-` and the run id's SHA-256 (73 characters, the token's pattern). */
export function bedrockClientRequestToken(runId: string): string {
  return `tunedrop-${sha256(runId)}`;
}

/** 12 characters that tell runs apart: the run id's own digest end (deriveRunId), else its hash's start. */
export function shortRunId(runId: string): string {
  return /[A-Za-z0-9]{12}$/.exec(runId)?.[0] ?? sha256(runId).slice(0, 12);
}

/**
 * `<suffix>-<short run id>`: the suffix (letters, digits, "-", "_", at most 64 by the settings schema)
 * with runs of "-"/"_" made one and cut to fit 63 characters; "tunedrop" when nothing of it is left.
 */
export function bedrockCustomModelName(suffix: string, runId: string): string {
  const short = shortRunId(runId);
  const cleaned = suffix
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .replace(/[-_]{2,}/g, (run) => run[0]!)
    .replace(/^[-_]+/, '')
    .slice(0, MODEL_NAME_MAX - short.length - 1)
    .replace(/[-_]+$/, '');
  return `${cleaned || 'tunedrop'}-${short}`;
}

/** The job id Bedrock names its output folder by: the last segment of the job ARN. */
export const jobIdOf = (jobArn: string) => jobArn.slice(jobArn.lastIndexOf('/') + 1);

// ---------------------------------------------------------------------------------------------------
// Responses, as tunedrop reads them: only what it uses is required; unknown statuses pass as strings.

const JobSchema = z.looseObject({
  jobArn: z.string(),
  jobName: z.string(),
  baseModelArn: z.string().nullish(),
  status: z.string().nullish(),
  failureMessage: z.string().nullish(),
  outputModelArn: z.string().nullish(),
  creationTime: z.date(),
  endTime: z.date().nullish(),
  hyperParameters: z.record(z.string(), z.string()).nullish(),
  outputDataConfig: z.looseObject({ s3Uri: z.string() }).nullish(),
});
const CreatedSchema = z.looseObject({ jobArn: z.string() });
const ListSchema = z.looseObject({
  modelCustomizationJobSummaries: z
    .array(z.looseObject({ jobArn: z.string(), jobName: z.string() }))
    .nullish(),
  nextToken: z.string().nullish(),
});

/**
 * Bedrock's statuses in OpenAI's words (ports.ts ProviderJobStatus). Stopping is a job still
 * winding down: it stays in phase "running" (workflow-state.ts phaseOf) until it is Stopped.
 */
const STATUS: Readonly<Record<string, ProviderJobStatus>> = {
  InProgress: 'running',
  Completed: 'succeeded',
  Failed: 'failed',
  Stopping: 'cancelling',
  Stopped: 'cancelled',
};

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

function toProviderJob(raw: unknown): ProviderJob {
  const job = JobSchema.parse(raw);
  const status = STATUS[job.status ?? ''] ?? job.status ?? 'running';
  const epochText = job.hyperParameters?.epochCount;
  const model = modelIdOf(job.baseModelArn ?? '');
  const epochs =
    epochText !== undefined && Number.isFinite(Number(epochText))
      ? Number(epochText)
      : (findModel(model, 'bedrock')?.hyperparameters?.epochs.default ?? null);
  return {
    id: job.jobArn,
    status,
    model,
    fineTunedModel: job.outputModelArn ?? null,
    // Bedrock reports no trained-token count for a customization job (GetModelCustomizationJob has
    // trainingMetrics.trainingLoss only): the run's tokens come from tunedrop's own count.
    trainedTokens: null,
    // The job's output folder, where resultFile reads the metrics: known once the job has completed.
    resultFileIds:
      status === 'succeeded' && job.outputDataConfig
        ? [
            `${job.outputDataConfig.s3Uri.replace(/\/*$/, '/')}model-customization-job-${jobIdOf(job.jobArn)}/`,
          ]
        : [],
    error: job.failureMessage
      ? { code: null, message: redactSecrets(job.failureMessage), param: null }
      : null,
    createdAt: seconds(job.creationTime),
    finishedAt: job.endTime ? seconds(job.endTime) : null,
    estimatedFinish: null,
    epochs,
  };
}

/** A base model ARN (`…:foundation-model/<id>`) or id, as the catalog names it. */
function modelIdOf(arnOrId: string): string {
  const at = arnOrId.indexOf('foundation-model/');
  return at < 0 ? arnOrId : arnOrId.slice(at + 'foundation-model/'.length);
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new Error(`not an S3 URI: ${uri}`);
  return { bucket: match[1]!, key: match[2]! };
}

export function bedrockProvider(options: BedrockProviderOptions): FineTuningProvider {
  const { client, store, bucket, roleArn } = options;

  /** Runs one SDK call (with the SDK's own retries) so that it ends before the invocation does. */
  const call = async <T>(what: string, send: (abortSignal: AbortSignal | undefined) => Promise<T>) => {
    const remaining = options.remainingTimeMs?.();
    const budget =
      remaining === undefined ? undefined : remaining - (options.reserveMs ?? HANDLER_RESERVE_MS);
    if (budget !== undefined && budget < MIN_ATTEMPT_TIMEOUT_MS)
      throw new ProviderUnavailableError(
        `Too little time was left in this invocation to ${what} (${remaining} ms).`,
        'The workflow retries the step in a new invocation; if this repeats, raise the function timeout.',
      );
    const started = performance.now();
    let failed = true;
    try {
      const answer = await send(budget === undefined ? undefined : AbortSignal.timeout(budget));
      failed = false;
      return answer;
    } catch (error) {
      throw translateBedrockError(what, error, roleArn);
    } finally {
      options.onCall?.({ latencyMs: performance.now() - started, failed });
    }
  };

  const getJob = async (jobId: string) =>
    toProviderJob(
      await call(`read the model customization job ${jobId}`, (abortSignal) =>
        client.send(new GetModelCustomizationJobCommand({ jobIdentifier: jobId }), { abortSignal }),
      ),
    );

  const findJobByRunId = async (runId: string) => {
    const jobName = bedrockJobName(runId);
    let nextToken: string | undefined;
    // nameContains narrows the list to this name and the few that contain it; pages are followed anyway.
    for (let page = 0; page < 10; page++) {
      const listed = ListSchema.parse(
        await call('list model customization jobs', (abortSignal) =>
          client.send(
            new ListModelCustomizationJobsCommand({
              nameContains: jobName,
              maxResults: 100,
              ...(nextToken ? { nextToken } : {}),
            }),
            { abortSignal },
          ),
        ),
      );
      const found = listed.modelCustomizationJobSummaries?.find((job) => job.jobName === jobName);
      if (found) return getJob(found.jobArn);
      if (!listed.nextToken) return undefined;
      nextToken = listed.nextToken;
    }
    return undefined;
  };

  return {
    name: 'bedrock',

    async uploadFile({ runId, purpose, path, model }) {
      const format = findModel(model, 'bedrock')?.dataFormat;
      if (format !== 'bedrock-conversation-2024' && format !== 'prompt-completion')
        throw new InvalidConfigError(
          `${model} is not a model tunedrop trains on Amazon Bedrock`,
          'Set "model" in tunedrop.json to one of Bedrock\'s (functions/core/catalog.ts).',
        );
      const key = runKeys(runId).bedrockInput(purpose);
      // A copy of the user's data, like Prepare's: tagged so the bucket's lifecycle rule expires it.
      const writer = store.createWriter({ bucket, key }, 'application/jsonl', {
        [TRAINING_COPY_TAG.key]: TRAINING_COPY_TAG.value,
      });
      let bytes = 0;
      try {
        // Line by line, with backpressure: memory stays flat whatever the file's size.
        const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
        for await (const line of lines) {
          if (line.trim() === '') continue;
          const out = `${toBedrockLine(line, format satisfies BedrockDataFormat)}\n`;
          bytes += Buffer.byteLength(out);
          await writer.write(out);
        }
        await writer.close();
      } catch (error) {
        await writer.abort().catch(() => undefined);
        throw error instanceof BedrockServiceException
          ? translateBedrockError(`write ${key}`, error, roleArn)
          : error;
      }
      return { fileId: `s3://${bucket}/${key}`, bytes };
    },

    async createJob(request) {
      const model = findModel(request.model, 'bedrock');
      const hyperParameters: Record<string, string> = {};
      if (request.hyperparameters.nEpochs !== 'auto')
        hyperParameters.epochCount = String(request.hyperparameters.nEpochs);
      if (request.bedrock?.learningRate !== undefined)
        hyperParameters.learningRate = String(request.bedrock.learningRate);
      if (
        request.bedrock?.learningRateWarmupSteps !== undefined &&
        model?.hyperparameters?.learningRateWarmupSteps
      )
        hyperParameters.learningRateWarmupSteps = String(request.bedrock.learningRateWarmupSteps);
      const input: CreateModelCustomizationJobCommandInput = {
        jobName: bedrockJobName(request.runId),
        customModelName: bedrockCustomModelName(request.suffix, request.runId),
        clientRequestToken: bedrockClientRequestToken(request.runId),
        customizationType: 'FINE_TUNING',
        roleArn,
        baseModelIdentifier: request.model,
        trainingDataConfig: { s3Uri: request.trainingFileId },
        ...(request.validationFileId
          ? { validationDataConfig: { validators: [{ s3Uri: request.validationFileId }] } }
          : {}),
        outputDataConfig: { s3Uri: `s3://${bucket}/${runKeys(request.runId).bedrockOutput}` },
        hyperParameters,
      };
      let jobArn: string;
      try {
        // The token makes the create idempotent, so the SDK may retry it: a retry returns the same job.
        jobArn = CreatedSchema.parse(
          await call('create the model customization job', (abortSignal) =>
            client.send(new CreateModelCustomizationJobCommand(input), { abortSignal }),
          ),
        ).jobArn;
      } catch (error) {
        // A conflict on create: the run's job exists already (created by an attempt whose answer was
        // lost). It is read, once, instead of failing the run.
        if (error instanceof ProviderRejectedError && error.code === 'ConflictException') {
          const existing = await findJobByRunId(request.runId);
          if (existing) return existing;
        }
        throw error;
      }
      return getJob(jobArn);
    },

    findJobByRunId,
    getJob,

    async cancelJob(jobId) {
      try {
        await call(`stop the model customization job ${jobId}`, (abortSignal) =>
          client.send(new StopModelCustomizationJobCommand({ jobIdentifier: jobId }), { abortSignal }),
        );
      } catch (error) {
        // A job that has ended cannot be stopped (Bedrock answers ValidationException): the caller wants
        // its final state (cancelIfRunning), so it is read back rather than failing.
        if (!(error instanceof ProviderRejectedError)) throw error;
        const job = await getJob(jobId);
        if (job.status === 'running') throw error;
        return job;
      }
      return getJob(jobId);
    },

    async resultFile(job) {
      const folder = job.resultFileIds[0];
      if (!folder) return undefined;
      const { bucket: outputBucket, key } = parseS3Uri(folder);
      const read = (name: string) =>
        call(`read ${folder}${name}`, () => store.readText({ bucket: outputBucket, key: `${key}${name}` }));
      const training = await read(BEDROCK_METRICS_FILES.training);
      if (training === undefined) return undefined;
      const validation = await read(BEDROCK_METRICS_FILES.validation);
      return new TextEncoder().encode(bedrockResultsCsv(training, validation));
    },

    async deleteModel(model) {
      await call(`delete the custom model ${model}`, (abortSignal) =>
        client.send(new DeleteCustomModelCommand({ modelIdentifier: model }), { abortSignal }),
      );
    },
  };
}

const RETRY_FIX =
  'tunedrop retries this with backoff; if the run still failed, check the AWS Health Dashboard for Amazon Bedrock in the region and drop the file again.';

/**
 * Bedrock's errors as tunedrop's typed ones: those a retry may fix (throttling, 5xx, the network, a
 * call cut short by the invocation's time) and those it cannot, with the fix that applies. The code of
 * a refusal is Bedrock's exception name, so that the caller can tell a conflict from the rest.
 */
export function translateBedrockError(what: string, error: unknown, roleArn: string): TunedropError {
  if (error instanceof ProviderRejectedError || error instanceof ProviderUnavailableError) return error;
  if (error instanceof BedrockServiceException) {
    const reason = redactSecrets(error.message);
    const status = error.$metadata.httpStatusCode;
    const said = `Amazon Bedrock refused to ${what} (${error.name}${status ? `, HTTP ${status}` : ''}): ${reason}`;
    switch (error.name) {
      case 'ThrottlingException':
      case 'ServiceUnavailableException':
      case 'InternalServerException':
        return new ProviderUnavailableError(
          `Amazon Bedrock could not ${what} (${error.name}): ${reason}`,
          RETRY_FIX,
          { cause: error },
        );
      case 'ValidationException':
        return new ProviderRejectedError(
          said,
          'Check the run\'s settings in the family\'s tunedrop.json ("model", "suffix", "hyperparameters.nEpochs", "bedrock": {"learningRate", "learningRateWarmupSteps"}) against the message; if it names the role or the data, the service role (BEDROCK_ROLE_ARN) must trust bedrock.amazonaws.com and read runs/* of the data bucket.',
          error.name,
        );
      case 'AccessDeniedException':
        return new ProviderRejectedError(
          said,
          `Grant the function's role the Bedrock action the message names and iam:PassRole on ${roleArn} (with iam:PassedToService bedrock.amazonaws.com), and check that the service role lets Bedrock read and write runs/* of the data bucket (https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-job-access-security.html).`,
          error.name,
        );
      case 'ServiceQuotaExceededException':
        return new ProviderRejectedError(
          said,
          'An Amazon Bedrock model-customization quota of the account and region is reached (the message names it: concurrent customization jobs, custom models, or records per job). Wait for running jobs to end or delete unused custom models, or request an increase in Service Quotas (service "Amazon Bedrock"), then drop the file again.',
          error.name,
        );
      case 'ConflictException':
        return new ProviderRejectedError(
          said,
          'Another job or model of this run exists already; tunedrop reads it instead of creating one. If this stays, delete the custom model named in the message.',
          error.name,
        );
      case 'ResourceNotFoundException':
        return new ProviderRejectedError(
          said,
          'The job or model is gone, or the base model is not offered in this region (Nova: us-east-1; Llama 3.1: us-west-2): deploy in a region that fine-tunes it, or pick another "model".',
          error.name,
        );
      default:
        if (status !== undefined && status >= 500)
          return new ProviderUnavailableError(
            `Amazon Bedrock could not ${what} (${error.name}, HTTP ${status}): ${reason}`,
            RETRY_FIX,
            { cause: error },
          );
        return new ProviderRejectedError(
          said,
          "Check the family's tunedrop.json and the stack's Bedrock role against the message.",
          error.name,
        );
    }
  }
  if (error instanceof z.ZodError)
    return new ProviderUnavailableError(
      `Amazon Bedrock answered ${what} with an unexpected shape: ${error.message}`,
      'Report this to the tunedrop maintainers with the run id.',
    );
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  const text = typeof message === 'string' ? redactSecrets(message) : String(error);
  if (name === 'AbortError' || name === 'TimeoutError')
    return new ProviderUnavailableError(
      `Amazon Bedrock took longer than this step allows to ${what}: ${text}`,
      RETRY_FIX,
      { cause: error },
    );
  return new ProviderUnavailableError(`${what} failed: ${text}`, RETRY_FIX, { cause: error });
}
