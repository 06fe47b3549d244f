import {
  AccessDeniedException,
  BedrockClient,
  ConflictException,
  CreateModelCustomizationJobCommand,
  DeleteCustomModelCommand,
  GetModelCustomizationJobCommand,
  InternalServerException,
  ListModelCustomizationJobsCommand,
  ServiceQuotaExceededException,
  StopModelCustomizationJobCommand,
  ThrottlingException,
  ValidationException,
  type GetModelCustomizationJobCommandOutput,
  type ModelCustomizationJobStatus,
} from '@aws-sdk/client-bedrock';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bedrockClientRequestToken,
  bedrockCustomModelName,
  bedrockJobName,
  bedrockProvider,
} from '../../functions/adapters/bedrock-provider.js';
import { ProviderRejectedError, ProviderUnavailableError } from '../../functions/core/errors.js';
import type { CreateJobRequest } from '../../functions/core/ports.js';
import { phaseOf } from '../../functions/core/workflow-state.js';
import { memoryObjectStore } from '../support/fakes.js';

const RUN = 'support-tickets-0123456789abcdef';
const ROLE = 'arn:aws:iam::123456789012:role/TunedropBedrock';
const NOVA = 'amazon.nova-micro-v1:0:128k';
const JOB_ARN = `arn:aws:bedrock:us-east-1:123456789012:model-customization-job/${NOVA}/abc123def456`;
const created = new Date('2026-11-29T10:00:00Z');
const ended = new Date('2026-11-29T11:00:00Z');
const jobOf = (
  overrides: Partial<GetModelCustomizationJobCommandOutput> = {},
): GetModelCustomizationJobCommandOutput => ({
  jobArn: JOB_ARN,
  jobName: bedrockJobName(RUN),
  outputModelName: bedrockCustomModelName('support', RUN),
  roleArn: ROLE,
  baseModelArn: `arn:aws:bedrock:us-east-1::foundation-model/${NOVA}`,
  status: 'InProgress',
  creationTime: created,
  lastModifiedTime: created,
  hyperParameters: { epochCount: '3', learningRate: '0.00001', learningRateWarmupSteps: '10' },
  trainingDataConfig: { s3Uri: `s3://bucket/runs/${RUN}/bedrock/training.jsonl` },
  validationDataConfig: { validators: [] },
  outputDataConfig: { s3Uri: `s3://bucket/runs/${RUN}/bedrock-output/` },
  $metadata: {},
  ...overrides,
});
const meta = { $metadata: {} };
/** A job as ListModelCustomizationJobs lists it. */
const summaryOf = (jobName = bedrockJobName(RUN)) => ({
  jobArn: JOB_ARN,
  jobName,
  baseModelArn: `arn:aws:bedrock:us-east-1::foundation-model/${NOVA}`,
  status: 'InProgress' as const,
  creationTime: created,
});

const bedrock = mockClient(BedrockClient);
let memory: ReturnType<typeof memoryObjectStore>;
const provider = () =>
  bedrockProvider({
    client: new BedrockClient({ region: 'us-east-1' }),
    store: memory.store,
    bucket: 'bucket',
    roleArn: ROLE,
  });
const request = (overrides: Partial<CreateJobRequest> = {}): CreateJobRequest => ({
  runId: RUN,
  model: NOVA,
  trainingFileId: `s3://bucket/runs/${RUN}/bedrock/training.jsonl`,
  validationFileId: `s3://bucket/runs/${RUN}/bedrock/validation.jsonl`,
  suffix: 'support',
  seed: 42,
  method: 'supervised',
  bedrock: { learningRate: 0.00002, learningRateWarmupSteps: 5 },
  hyperparameters: { nEpochs: 3, batchSize: 'auto', learningRateMultiplier: 'auto' },
  ...overrides,
});

beforeEach(() => {
  bedrock.reset();
  memory = memoryObjectStore();
});

describe('names derived from the run id', () => {
  it('fit Bedrock’s patterns and lengths, and are the same for the same run', () => {
    const long = `${'a_b'.repeat(30)}-0123456789abcdef`;
    for (const runId of [RUN, long, 'x']) {
      const job = bedrockJobName(runId);
      expect(job).toMatch(/^[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*$/);
      expect(job.length).toBeLessThanOrEqual(63);
      expect(bedrockJobName(runId)).toBe(job);
      const token = bedrockClientRequestToken(runId);
      expect(token).toMatch(/^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/);
      expect(token.length).toBeLessThanOrEqual(256);
      for (const suffix of ['support', '__x--y__', 's'.repeat(64), '-']) {
        const name = bedrockCustomModelName(suffix, runId);
        expect(name).toMatch(/^([0-9a-zA-Z][_-]?)+$/);
        expect(name.length).toBeLessThanOrEqual(63);
      }
    }
    expect(bedrockJobName(RUN)).toBe(`tunedrop-${RUN}`);
    expect(bedrockCustomModelName('support', RUN)).toBe('support-456789abcdef');
    expect(bedrockJobName(long)).not.toBe(bedrockJobName(`${'a_b'.repeat(30)}-0123456789abcdee`));
  });
});

describe('uploadFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bedrock-upload-'));
  const path = join(dir, 'train.jsonl');
  writeFileSync(
    path,
    `${JSON.stringify({
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a' },
      ],
    })}\n\n`,
  );

  it("writes the file in the model's format under runs/<runId>/bedrock/", async () => {
    const uploaded = await provider().uploadFile({
      runId: RUN,
      purpose: 'training',
      fileName: `${RUN}-train.jsonl`,
      path,
      model: NOVA,
    });
    const key = `runs/${RUN}/bedrock/training.jsonl`;
    expect(uploaded.fileId).toBe(`s3://bucket/${key}`);
    const text = memory.text(key);
    expect(uploaded.bytes).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text)).toEqual({
      schemaVersion: 'bedrock-conversation-2024',
      system: [{ text: 's' }],
      messages: [
        { role: 'user', content: [{ text: 'q' }] },
        { role: 'assistant', content: [{ text: 'a' }] },
      ],
    });
  });

  it('aborts the object when a line cannot be converted', async () => {
    let aborts = 0;
    const aborted = async () => void (aborts += 1);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ messages: [{ role: 'tool', content: 'r' }] })}\n`);
    const store = {
      ...memory.store,
      createWriter: () => ({ write: async () => undefined, close: async () => undefined, abort: aborted }),
    };
    const p = bedrockProvider({ client: new BedrockClient({}), store, bucket: 'bucket', roleArn: ROLE });
    await expect(
      p.uploadFile({ runId: RUN, purpose: 'training', fileName: 'f', path: bad, model: NOVA }),
    ).rejects.toThrow(/no place for/);
    expect(aborts).toBe(1);
  });
});

describe('createJob', () => {
  it('creates one job with the names, token, data, output and hyperparameters, and reads it back', async () => {
    bedrock.on(CreateModelCustomizationJobCommand).resolves({ jobArn: JOB_ARN });
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf());
    const job = await provider().createJob(request());
    expect(bedrock.commandCalls(CreateModelCustomizationJobCommand)[0]!.args[0].input).toEqual({
      jobName: `tunedrop-${RUN}`,
      customModelName: 'support-456789abcdef',
      clientRequestToken: bedrockClientRequestToken(RUN),
      customizationType: 'FINE_TUNING',
      roleArn: ROLE,
      baseModelIdentifier: NOVA,
      trainingDataConfig: { s3Uri: `s3://bucket/runs/${RUN}/bedrock/training.jsonl` },
      validationDataConfig: { validators: [{ s3Uri: `s3://bucket/runs/${RUN}/bedrock/validation.jsonl` }] },
      outputDataConfig: { s3Uri: `s3://bucket/runs/${RUN}/bedrock-output/` },
      hyperParameters: { epochCount: '3', learningRate: '0.00002', learningRateWarmupSteps: '5' },
    });
    expect(job).toMatchObject({ id: JOB_ARN, status: 'running', model: NOVA, epochs: 3 });
  });

  it('sends no epochs for "auto", no validators without a validation file, no warm-up for Llama', async () => {
    bedrock.on(CreateModelCustomizationJobCommand).resolves({ jobArn: JOB_ARN });
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf({ hyperParameters: {} }));
    const job = await provider().createJob(
      request({
        model: 'meta.llama3-1-8b-instruct-v1:0:128k',
        validationFileId: null,
        hyperparameters: { nEpochs: 'auto', batchSize: 'auto', learningRateMultiplier: 'auto' },
      }),
    );
    const input = bedrock.commandCalls(CreateModelCustomizationJobCommand)[0]!.args[0].input;
    expect(input.hyperParameters).toEqual({ learningRate: '0.00002' });
    expect(input).not.toHaveProperty('validationDataConfig');
    expect(job.epochs).toBe(2); // the job reads back as Nova here: the catalog's default for it
  });

  it('reads the existing job on a conflict, once', async () => {
    bedrock
      .on(CreateModelCustomizationJobCommand)
      .rejects(new ConflictException({ message: 'exists', ...meta }));
    bedrock.on(ListModelCustomizationJobsCommand).resolves({
      modelCustomizationJobSummaries: [summaryOf(`${bedrockJobName(RUN)}-x`), summaryOf()],
    });
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf());
    const job = await provider().createJob(request());
    expect(job.id).toBe(JOB_ARN);
    expect(bedrock.commandCalls(CreateModelCustomizationJobCommand)).toHaveLength(1);
    expect(bedrock.commandCalls(ListModelCustomizationJobsCommand)).toHaveLength(1);
  });

  it('a create accepted whose answer is lost: the retry finds the job by the run id', async () => {
    bedrock
      .on(CreateModelCustomizationJobCommand)
      .rejects(new InternalServerException({ message: 'connection reset', ...meta }));
    const p = provider();
    await expect(p.createJob(request())).rejects.toBeInstanceOf(ProviderUnavailableError);
    // Meanwhile the job exists: the step's retry looks it up first (as every create step does).
    bedrock.on(ListModelCustomizationJobsCommand).resolves({ modelCustomizationJobSummaries: [summaryOf()] });
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf());
    expect((await p.findJobByRunId(RUN))?.id).toBe(JOB_ARN);
    expect(bedrock.commandCalls(ListModelCustomizationJobsCommand)[0]!.args[0].input).toMatchObject({
      nameContains: `tunedrop-${RUN}`,
    });
    // Every attempt carries the same token, so even a second create could start no second job.
    const tokens = bedrock
      .commandCalls(CreateModelCustomizationJobCommand)
      .map((c) => c.args[0].input.clientRequestToken);
    expect(new Set(tokens)).toEqual(new Set([bedrockClientRequestToken(RUN)]));
  });

  it('findJobByRunId finds nothing when no name matches exactly', async () => {
    bedrock
      .on(ListModelCustomizationJobsCommand)
      .resolves({ modelCustomizationJobSummaries: [summaryOf(`${bedrockJobName(RUN)}0`)] });
    expect(await provider().findJobByRunId(RUN)).toBeUndefined();
  });
});

describe('getJob', () => {
  it.each([
    ['InProgress', 'running', 'running'],
    ['Completed', 'succeeded', 'succeeded'],
    ['Failed', 'failed', 'failed'],
    ['Stopping', 'cancelling', 'running'],
    ['Stopped', 'cancelled', 'cancelled'],
  ] as Array<[ModelCustomizationJobStatus, string, string]>)(
    'maps %s to %s (phase %s)',
    async (status, mapped, phase) => {
      bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf({ status }));
      const job = await provider().getJob(JOB_ARN);
      expect(job.status).toBe(mapped);
      expect(phaseOf(job.status)).toBe(phase);
    },
  );

  it('reads a finished job: model, error, times, no token count', async () => {
    bedrock.on(GetModelCustomizationJobCommand).resolves(
      jobOf({
        status: 'Failed',
        failureMessage: 'Data validation failed',
        endTime: ended,
        outputModelArn: 'arn:aws:bedrock:us-east-1:123456789012:custom-model/x',
      }),
    );
    expect(await provider().getJob(JOB_ARN)).toEqual({
      id: JOB_ARN,
      status: 'failed',
      model: NOVA,
      fineTunedModel: 'arn:aws:bedrock:us-east-1:123456789012:custom-model/x',
      trainedTokens: null,
      resultFileIds: [],
      error: { code: null, message: 'Data validation failed', param: null },
      createdAt: created.getTime() / 1000,
      finishedAt: ended.getTime() / 1000,
      estimatedFinish: null,
      epochs: 3,
    });
  });
});

describe('cancelJob', () => {
  it('stops the job and reads it back', async () => {
    bedrock.on(StopModelCustomizationJobCommand).resolves({});
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf({ status: 'Stopping' }));
    expect((await provider().cancelJob(JOB_ARN)).status).toBe('cancelling');
    expect(bedrock.commandCalls(StopModelCustomizationJobCommand)[0]!.args[0].input).toEqual({
      jobIdentifier: JOB_ARN,
    });
  });

  it('returns a job that has ended instead of failing', async () => {
    bedrock
      .on(StopModelCustomizationJobCommand)
      .rejects(new ValidationException({ message: 'The job is Completed and cannot be stopped.', ...meta }));
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf({ status: 'Completed', endTime: ended }));
    expect((await provider().cancelJob(JOB_ARN)).status).toBe('succeeded');
  });
});

describe('resultFile', () => {
  it("reads the metrics from the job's output folder into results.csv", async () => {
    const folder = `runs/${RUN}/bedrock-output/model-customization-job-abc123def456/`;
    await memory.store.write(
      { bucket: 'bucket', key: `${folder}training_artifacts/step_wise_training_metrics.csv` },
      'step_number,epoch_number,training_loss,perplexity\n0,1,2.5,12.18\n1,1,1.5,4.48\n',
      'text/csv',
    );
    await memory.store.write(
      {
        bucket: 'bucket',
        key: `${folder}validation_artifacts/post_fine_tuning_validation/validation_metrics.csv`,
      },
      'step_number,epoch_number,validation_loss,perplexity\n1,1,1.75,5.75\n',
      'text/csv',
    );
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf({ status: 'Completed', endTime: ended }));
    const p = provider();
    const job = await p.getJob(JOB_ARN);
    expect(job.resultFileIds).toEqual([`s3://bucket/${folder}`]);
    const bytes = await p.resultFile(job);
    expect(new TextDecoder().decode(bytes)).toBe(
      'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n0,2.5,,,\n1,1.5,,1.75,\n',
    );
  });

  it('has none before the job completes or when the metrics are missing', async () => {
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf());
    const p = provider();
    expect(await p.resultFile(await p.getJob(JOB_ARN))).toBeUndefined();
    bedrock.on(GetModelCustomizationJobCommand).resolves(jobOf({ status: 'Completed' }));
    expect(await p.resultFile(await p.getJob(JOB_ARN))).toBeUndefined();
  });
});

describe('deleteModel', () => {
  it('deletes the custom model', async () => {
    bedrock.on(DeleteCustomModelCommand).resolves({});
    await provider().deleteModel('arn:aws:bedrock:us-east-1:123456789012:custom-model/x');
    expect(bedrock.commandCalls(DeleteCustomModelCommand)[0]!.args[0].input).toEqual({
      modelIdentifier: 'arn:aws:bedrock:us-east-1:123456789012:custom-model/x',
    });
  });
});

describe('errors', () => {
  const fail = async (error: Error) => {
    bedrock.on(GetModelCustomizationJobCommand).rejects(error);
    return provider()
      .getJob(JOB_ARN)
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
  };

  it.each([
    new ThrottlingException({ message: 'Rate exceeded', ...meta }),
    new InternalServerException({ message: 'oops', ...meta }),
  ])('$name is retryable', async (error) => {
    expect(await fail(error)).toBeInstanceOf(ProviderUnavailableError);
  });

  it('a ValidationException is permanent and names the settings', async () => {
    const error = await fail(new ValidationException({ message: 'epochCount out of range', ...meta }));
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error).toMatchObject({
      code: 'ValidationException',
      fix: expect.stringContaining('tunedrop.json'),
    });
  });

  it('an AccessDeniedException names the IAM pieces', async () => {
    const error = await fail(new AccessDeniedException({ message: 'not authorized', ...meta }));
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect((error as ProviderRejectedError).fix).toContain(`iam:PassRole on ${ROLE}`);
    expect((error as ProviderRejectedError).fix).toContain('service role');
  });

  it('a ServiceQuotaExceededException says which quota and how to raise it', async () => {
    const error = await fail(new ServiceQuotaExceededException({ message: 'too many jobs', ...meta }));
    expect((error as ProviderRejectedError).fix).toMatch(/Service Quotas.*Amazon Bedrock/);
  });

  it('a call with too little time left fails retryably before it is sent', async () => {
    const p = bedrockProvider({
      client: new BedrockClient({}),
      store: memory.store,
      bucket: 'bucket',
      roleArn: ROLE,
      remainingTimeMs: () => 3_000,
    });
    await expect(p.getJob(JOB_ARN)).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(bedrock.commandCalls(GetModelCustomizationJobCommand)).toHaveLength(0);
  });
});
