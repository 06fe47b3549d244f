import {
  BedrockClient,
  CreateModelCustomizationJobCommand,
  CreateModelCustomizationJobResponse$,
  CustomModelSummary$,
  DeleteCustomModelCommand,
  GetCustomModelCommand,
  GetCustomModelResponse$,
  GetModelCustomizationJobCommand,
  GetModelCustomizationJobResponse$,
  ListCustomModelsCommand,
  ListModelCustomizationJobsCommand,
  ModelCustomizationJobStatus,
  ModelCustomizationJobSummary$,
  StopModelCustomizationJobCommand,
  TrainingMetrics$,
  ValidatorMetric$,
  type CreateModelCustomizationJobCommandInput,
  type GetModelCustomizationJobCommandOutput,
} from '@aws-sdk/client-bedrock';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { CloudFormationTemplate } from '../../local/template.js';
import { customizationJobStateChangeEvent } from '../../local/cloud/bedrock.js';
import { matchesPattern } from '../../local/cloud/events.js';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * The local Bedrock, driven by the real @aws-sdk/client-bedrock through the IAM gateway, checked against
 * the client's own schemas (members, required members, enums) and against what AWS enforces: PassRole,
 * the service role's trust policy and S3 permissions, the base model's data format and hyperparameters.
 */
const ROLE = 'TestBedrockServiceRole';
const ROLE_OTHER_ACCOUNT = 'TestBedrockRoleOtherAccount';
const ROLE_NO_GET = 'TestBedrockRoleNoGetObject';
const NOVA = 'amazon.nova-micro-v1:0:128k';
const LLAMA = 'meta.llama3-1-8b-instruct-v1:0:128k';

let harness: LocalHarness;
let admin: BedrockClient;
let bucket: string;
const roleArn = (logicalId: string) => harness.cloud.plan.roles.find((r) => r.logicalId === logicalId)!.arn;

/** The service roles a deployment would add (lib/pipeline.ts gets the real one), and a caller's grant. */
function withBedrockRoles(template: CloudFormationTemplate): CloudFormationTemplate {
  const resources = { ...template.Resources };
  const bucketId = Object.keys(resources).find((id) => resources[id]!.Type === 'AWS::S3::Bucket')!;
  const bucketArn = { 'Fn::Join': ['', ['arn:aws:s3:::', { Ref: bucketId }]] };
  const objects = { 'Fn::Join': ['', ['arn:aws:s3:::', { Ref: bucketId }, '/runs/*']] };
  const trust = (account: string | { Ref: string }) => ({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'bedrock.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':bedrock:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':model-customization-job/*',
                ],
              ],
            },
          },
        },
      },
    ],
  });
  const role = (account: string | { Ref: string }, actions: string[]) => ({
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: trust(account),
      Policies: [
        {
          PolicyName: 'data',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn },
              { Effect: 'Allow', Action: actions, Resource: objects },
            ],
          },
        },
      ],
    },
  });
  resources[ROLE] = role({ Ref: 'AWS::AccountId' }, ['s3:GetObject', 's3:PutObject']);
  resources[ROLE_OTHER_ACCOUNT] = role('111111111111', ['s3:GetObject', 's3:PutObject']);
  resources[ROLE_NO_GET] = role({ Ref: 'AWS::AccountId' }, ['s3:PutObject']);
  // The create-job function may customize and pass the service role, and only it, to Bedrock.
  const createJob = Object.values(resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::Function' &&
      r.Metadata?.['tunedrop:entry'] === 'functions/create-job/handler.ts',
  );
  const roleRef = (createJob?.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined)?.[
    'Fn::GetAtt'
  ][0];
  if (roleRef)
    resources.TestBedrockCallerPolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'bedrock-caller',
        Roles: [{ Ref: roleRef }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'bedrock:*', Resource: '*' },
            {
              Effect: 'Allow',
              Action: 'iam:PassRole',
              Resource: { 'Fn::GetAtt': [ROLE, 'Arn'] },
              Condition: { StringEquals: { 'iam:PassedToService': 'bedrock.amazonaws.com' } },
            },
          ],
        },
      },
    };
  return { ...template, Resources: resources };
}

const novaRecord = (question: string, answer: string) =>
  JSON.stringify({
    schemaVersion: 'bedrock-conversation-2024',
    system: [{ text: 'You answer support tickets.' }],
    messages: [
      { role: 'user', content: [{ text: question }] },
      { role: 'assistant', content: [{ text: answer }] },
    ],
  });
const NOVA_DATA = Array.from({ length: 40 }, (_, i) =>
  novaRecord(
    `My order ${i % 4} has not arrived`,
    'We are sorry. Your parcel is on its way and arrives tomorrow.',
  ),
).join('\n');

async function put(key: string, body: string): Promise<string> {
  await harness.cloud.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return `s3://${bucket}/${key}`;
}

let counter = 0;
async function jobInput(overrides: Partial<CreateModelCustomizationJobCommandInput> = {}) {
  counter += 1;
  return {
    jobName: `test-job-${counter}`,
    customModelName: `test-model-${counter}`,
    roleArn: roleArn(ROLE),
    baseModelIdentifier: NOVA,
    trainingDataConfig: { s3Uri: await put(`runs/bedrock/train-${counter}.jsonl`, NOVA_DATA) },
    validationDataConfig: {
      validators: [{ s3Uri: await put(`runs/bedrock/valid-${counter}.jsonl`, NOVA_DATA) }],
    },
    outputDataConfig: { s3Uri: `s3://${bucket}/runs/bedrock/output-${counter}/` },
    hyperParameters: { epochCount: '2' },
    ...overrides,
  } satisfies CreateModelCustomizationJobCommandInput;
}

async function waitFor(
  jobArn: string,
  done: (job: GetModelCustomizationJobCommandOutput) => boolean = (j) =>
    j.status !== 'InProgress' && j.status !== 'Stopping',
): Promise<GetModelCustomizationJobCommandOutput> {
  for (let i = 0; i < 400; i++) {
    const job = await admin.send(new GetModelCustomizationJobCommand({ jobIdentifier: jobArn }));
    if (done(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${jobArn} did not finish`);
}

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
};

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: 'sk-test-bedrock',
    webhooks: false,
    cloud: {
      onLog: () => undefined,
      transformTemplate: withBedrockRoles,
      bedrockTiming: { validatingMs: 5, queuedMs: 5, msPerStep: 0, stoppingMs: 30 },
    },
  });
  bucket = harness.cloud.bucket;
  admin = new BedrockClient({ ...harness.cloud.clientConfig, endpoint: harness.cloud.endpoints.BEDROCK });
}, 60_000);

afterAll(async () => {
  admin?.destroy();
  await harness?.close();
});

/** A member list of one of the client's structure schemas: [3, namespace, name, traits, names, schemas, required]. */
function members(schema: unknown): { names: string[]; required: string[] } {
  const [, , , , names, , requiredCount = 0] = schema as [
    number,
    string,
    string,
    unknown,
    string[],
    unknown[],
    number?,
  ];
  return { names, required: names.slice(0, requiredCount) };
}

/** The raw JSON the endpoint answers, signed as the administrator (the gateway reads the access key). */
async function raw(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${harness.cloud.endpoints.BEDROCK}${path}`, {
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=${harness.cloud.clientConfig.credentials.accessKeyId}/20261129/us-east-1/bedrock/aws4_request`,
    },
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as Record<string, unknown>;
}

function expectShape(body: Record<string, unknown>, schema: unknown): void {
  const { names, required } = members(schema);
  for (const key of Object.keys(body)) expect(names).toContain(key);
  for (const key of required) expect(body).toHaveProperty(key);
}

describe('local Bedrock through @aws-sdk/client-bedrock', () => {
  it('creates a job that trains, writes the documented metrics as the role, and makes a custom model', async () => {
    const input = await jobInput();
    const created = await admin.send(new CreateModelCustomizationJobCommand(input));
    expect(created.jobArn).toMatch(
      /^arn:aws:bedrock:us-east-1:000000000000:model-customization-job\/amazon\.nova-micro-v1:0:128k\/[a-z0-9]{12}$/,
    );
    const job = await waitFor(created.jobArn!);
    expect(job).toMatchObject({
      status: 'Completed',
      jobName: input.jobName,
      outputModelName: input.customModelName,
    });
    expect(job.trainingMetrics?.trainingLoss).toEqual(expect.any(Number));
    expect(job.validationMetrics?.[0]?.validationLoss).toEqual(expect.any(Number));
    expect(job.creationTime).toBeInstanceOf(Date);
    expect(job.hyperParameters).toMatchObject({ epochCount: '2', learningRate: '0.00001' });

    // By name too, as GetModelCustomizationJob's jobIdentifier allows.
    const byName = await admin.send(new GetModelCustomizationJobCommand({ jobIdentifier: input.jobName }));
    expect(byName.jobArn).toBe(created.jobArn);

    const id = created.jobArn!.split('/').pop()!;
    const prefix = `runs/bedrock/output-${counter}/model-customization-job-${id}`;
    const text = async (key: string) =>
      (
        await harness.cloud.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      ).Body!.transformToString();
    const training = (await text(`${prefix}/training_artifacts/step_wise_training_metrics.csv`))
      .trim()
      .split('\n');
    expect(training[0]).toBe('step_number,epoch_number,training_loss,perplexity');
    const losses = training.slice(1).map((line) => Number(line.split(',')[2]));
    expect(losses.length).toBeGreaterThan(10);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(training.at(-1)!.split(',')[1]).toBe('2');
    const validation = (
      await text(`${prefix}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv`)
    )
      .trim()
      .split('\n');
    expect(validation[0]).toBe('step_number,epoch_number,validation_loss,perplexity');
    expect(validation.length).toBeGreaterThan(1);
    // Written by the role's session, through the IAM gateway.
    expect(
      harness.cloud.iamDecisions.some(
        (d) =>
          d.action === 's3:PutObject' &&
          d.allowed &&
          d.principal.includes(`assumed-role/`) &&
          d.principal.endsWith(id),
      ),
    ).toBe(true);

    const model = await admin.send(new GetCustomModelCommand({ modelIdentifier: job.outputModelArn! }));
    expect(model).toMatchObject({
      modelName: input.customModelName,
      jobArn: created.jobArn,
      modelStatus: 'Active',
    });
    const listed = await admin.send(new ListCustomModelsCommand({ nameContains: input.customModelName }));
    expect(listed.modelSummaries?.map((m) => m.modelArn)).toEqual([job.outputModelArn]);

    // The contract: every member the endpoint sends is one the client's schema knows, the required ones are there.
    const encoded = encodeURIComponent(created.jobArn!);
    const rawJob = await raw(`/model-customization-jobs/${encoded}`);
    expectShape(rawJob, GetModelCustomizationJobResponse$);
    expectShape(rawJob.trainingMetrics as Record<string, unknown>, TrainingMetrics$);
    expectShape((rawJob.validationMetrics as Array<Record<string, unknown>>)[0]!, ValidatorMetric$);
    expect(Object.values(ModelCustomizationJobStatus)).toContain(rawJob.status);
    expect(new Date(String(rawJob.creationTime)).toISOString()).toBe(rawJob.creationTime);
    const rawList = await raw(`/model-customization-jobs?nameContains=${input.jobName}`);
    const summaries = rawList.modelCustomizationJobSummaries as Array<Record<string, unknown>>;
    expect(summaries).toHaveLength(1);
    expectShape(summaries[0]!, ModelCustomizationJobSummary$);
    expectShape(
      await raw(`/custom-models/${encodeURIComponent(job.outputModelArn!)}`),
      GetCustomModelResponse$,
    );
    const rawModels = await raw('/custom-models');
    for (const summary of rawModels.modelSummaries as Array<Record<string, unknown>>)
      expectShape(summary, CustomModelSummary$);
    expect(members(CreateModelCustomizationJobResponse$).required).toEqual(['jobArn']);

    await admin.send(new DeleteCustomModelCommand({ modelIdentifier: job.outputModelArn! }));
    const gone = await errorOf(
      admin.send(new GetCustomModelCommand({ modelIdentifier: job.outputModelArn! })),
    );
    expect(gone.name).toBe('ResourceNotFoundException');
    expect(gone.$metadata?.httpStatusCode).toBe(404);
  });

  it('lists by name, status and creation time, newest first, a page at a time', async () => {
    const before = new Date(Date.now() - 1000);
    const first = await admin.send(
      new CreateModelCustomizationJobCommand(await jobInput({ jobName: 'paged-a' })),
    );
    const second = await admin.send(
      new CreateModelCustomizationJobCommand(await jobInput({ jobName: 'paged-b' })),
    );
    const page1 = await admin.send(
      new ListModelCustomizationJobsCommand({
        nameContains: 'paged-',
        maxResults: 1,
        creationTimeAfter: before,
      }),
    );
    expect(page1.modelCustomizationJobSummaries?.map((j) => j.jobArn)).toEqual([second.jobArn]);
    const page2 = await admin.send(
      new ListModelCustomizationJobsCommand({
        nameContains: 'paged-',
        maxResults: 1,
        nextToken: page1.nextToken!,
      }),
    );
    expect(page2.modelCustomizationJobSummaries?.map((j) => j.jobArn)).toEqual([first.jobArn]);
    expect(page2.nextToken).toBeUndefined();
    await waitFor(first.jobArn!);
    await waitFor(second.jobArn!);
    const completed = await admin.send(
      new ListModelCustomizationJobsCommand({
        nameContains: 'paged-',
        statusEquals: 'Completed',
        sortOrder: 'Ascending',
      }),
    );
    expect(completed.modelCustomizationJobSummaries?.map((j) => j.jobArn)).toEqual([
      first.jobArn,
      second.jobArn,
    ]);
    const bad = await errorOf(
      admin.send(new ListModelCustomizationJobsCommand({ statusEquals: 'Done' as 'Completed' })),
    );
    expect(bad.name).toBe('ValidationException');
  });

  it('is idempotent on clientRequestToken; a reused token with other parameters, or a reused job name, is refused', async () => {
    const input = await jobInput({ clientRequestToken: 'run-abc-1' });
    const a = await admin.send(new CreateModelCustomizationJobCommand(input));
    const b = await admin.send(new CreateModelCustomizationJobCommand(input));
    expect(b.jobArn).toBe(a.jobArn);
    const listed = await admin.send(new ListModelCustomizationJobsCommand({ nameContains: input.jobName }));
    expect(listed.modelCustomizationJobSummaries).toHaveLength(1);
    const other = await errorOf(
      admin.send(new CreateModelCustomizationJobCommand({ ...input, hyperParameters: { epochCount: '3' } })),
    );
    expect(other.name).toBe('ConflictException');
    const sameName = await errorOf(
      admin.send(
        new CreateModelCustomizationJobCommand({
          ...input,
          clientRequestToken: 'run-abc-2',
          customModelName: 'another',
        }),
      ),
    );
    expect(sameName.name).toBe('ValidationException');
    expect(sameName.message).toBe('The provided job name is currently in use.');
  });

  it('validates requests as the API does: names, required members, hyperparameters per model', async () => {
    const cases: Array<Partial<CreateModelCustomizationJobCommandInput>> = [
      { jobName: 'bad name!' },
      { customModelName: 'x'.repeat(64) },
      { hyperParameters: { epochCount: '6' } },
      { hyperParameters: { learningRate: '0.5' } },
      { hyperParameters: { epochs: '2' } },
      { baseModelIdentifier: 'amazon.titan-text-express-v1' },
      { baseModelIdentifier: LLAMA, hyperParameters: { batchSize: '2' } },
      { baseModelIdentifier: 'amazon.nova-2-lite-v1:0:256k' },
      { roleArn: 'not-an-arn' },
    ];
    for (const overrides of cases) {
      const error = await errorOf(
        admin.send(new CreateModelCustomizationJobCommand(await jobInput(overrides))),
      );
      expect([JSON.stringify(overrides), error.name]).toEqual([
        JSON.stringify(overrides),
        'ValidationException',
      ]);
      expect(error.$metadata?.httpStatusCode).toBe(400);
    }
    const message = (
      await errorOf(
        admin.send(new CreateModelCustomizationJobCommand(await jobInput({ jobName: 'bad name!' }))),
      )
    ).message;
    expect(message).toMatch(
      /^1 validation error detected: Value 'bad name!' at 'jobName' failed to satisfy constraint/,
    );
  });

  it('fails the job, as Bedrock does on data issues, for a Nova reserved word or a wrong record format', async () => {
    const reserved = await put(
      'runs/bedrock/reserved.jsonl',
      `${NOVA_DATA}\n${novaRecord('Assistant: hello', 'Hi there, how can I help?')}`,
    );
    const a = await admin.send(
      new CreateModelCustomizationJobCommand(await jobInput({ trainingDataConfig: { s3Uri: reserved } })),
    );
    const failed = await waitFor(a.jobArn!);
    expect(failed.status).toBe('Failed');
    expect(failed.failureMessage).toMatch(/line 41.*reserved word "Assistant:"/);

    const llama = await admin.send(
      new CreateModelCustomizationJobCommand(
        await jobInput({ baseModelIdentifier: LLAMA, validationDataConfig: undefined }),
      ),
    );
    const wrongFormat = await waitFor(llama.jobArn!);
    expect(wrongFormat.status).toBe('Failed');
    expect(wrongFormat.failureMessage).toMatch(/prompt.*completion/);

    const prompts = await put(
      'runs/bedrock/llama.jsonl',
      Array.from({ length: 20 }, () =>
        JSON.stringify({ prompt: 'Where is my order?', completion: 'On its way.' }),
      ).join('\n'),
    );
    const ok = await admin.send(
      new CreateModelCustomizationJobCommand(
        await jobInput({
          baseModelIdentifier: LLAMA,
          trainingDataConfig: { s3Uri: prompts },
          validationDataConfig: undefined,
        }),
      ),
    );
    expect((await waitFor(ok.jobArn!)).status).toBe('Completed');
  });

  it('enforces IAM: the caller needs the Bedrock actions and iam:PassRole on the role', async () => {
    const client = (entry: string) =>
      new BedrockClient({
        region: 'us-east-1',
        credentials: harness.cloud.functionCredentials(entry),
        endpoint: harness.cloud.endpoints.BEDROCK,
      });
    const validate = client('functions/validate/handler.ts');
    const denied = await errorOf(validate.send(new CreateModelCustomizationJobCommand(await jobInput())));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain('bedrock:CreateModelCustomizationJob');
    validate.destroy();

    const createJob = client('functions/create-job/handler.ts');
    const job = await createJob.send(new CreateModelCustomizationJobCommand(await jobInput()));
    expect(job.jobArn).toBeDefined();
    const wrongRole = await errorOf(
      createJob.send(
        new CreateModelCustomizationJobCommand(await jobInput({ roleArn: roleArn(ROLE_NO_GET) })),
      ),
    );
    expect(wrongRole.name).toBe('AccessDeniedException');
    expect(wrongRole.message).toContain(`iam:PassRole on resource: ${roleArn(ROLE_NO_GET)}`);
    createJob.destroy();
  });

  it('refuses a role whose trust policy does not let Bedrock assume it for this account and job', async () => {
    const error = await errorOf(
      admin.send(
        new CreateModelCustomizationJobCommand(await jobInput({ roleArn: roleArn(ROLE_OTHER_ACCOUNT) })),
      ),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('cannot assume the role');
  });

  it('fails the job when the service role cannot read the training data', async () => {
    const created = await admin.send(
      new CreateModelCustomizationJobCommand(await jobInput({ roleArn: roleArn(ROLE_NO_GET) })),
    );
    const job = await waitFor(created.jobArn!);
    expect(job.status).toBe('Failed');
    expect(job.failureMessage).toContain('s3:GetObject');
  });

  it('stops a job: InProgress → Stopping → Stopped; a finished job cannot be stopped', async () => {
    harness.cloud.bedrock.faults.onNextJob({ stuckInProgress: true });
    const created = await admin.send(new CreateModelCustomizationJobCommand(await jobInput()));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(
      (await admin.send(new GetModelCustomizationJobCommand({ jobIdentifier: created.jobArn! }))).status,
    ).toBe('InProgress');
    await admin.send(new StopModelCustomizationJobCommand({ jobIdentifier: created.jobArn! }));
    expect(
      (await admin.send(new GetModelCustomizationJobCommand({ jobIdentifier: created.jobArn! }))).status,
    ).toBe('Stopping');
    const stopped = await waitFor(created.jobArn!);
    expect(stopped.status).toBe('Stopped');
    expect(stopped.endTime).toBeInstanceOf(Date);
    const again = await errorOf(
      admin.send(new StopModelCustomizationJobCommand({ jobIdentifier: created.jobArn! })),
    );
    expect(again.name).toBe('ValidationException');
    const missing = await errorOf(
      admin.send(new StopModelCustomizationJobCommand({ jobIdentifier: 'no-such-job' })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
  });

  it('faults: a lost create response leaves a job to find by name or token; throttling bursts; a failing job', async () => {
    const once = new BedrockClient({
      ...harness.cloud.clientConfig,
      endpoint: harness.cloud.endpoints.BEDROCK,
      maxAttempts: 1,
    });
    const faults = harness.cloud.bedrock.faults;

    faults.onRequest({
      operation: 'CreateModelCustomizationJob',
      fault: { kind: 'lostResponse', status: 500 },
    });
    const input = await jobInput({ clientRequestToken: 'lost-1' });
    const lost = await errorOf(once.send(new CreateModelCustomizationJobCommand(input)));
    expect(lost.name).toBe('InternalServerException');
    const found = await once.send(new ListModelCustomizationJobsCommand({ nameContains: input.jobName }));
    expect(found.modelCustomizationJobSummaries).toHaveLength(1);
    const retried = await once.send(new CreateModelCustomizationJobCommand(input));
    expect(retried.jobArn).toBe(found.modelCustomizationJobSummaries![0]!.jobArn);

    faults.onRequest({ operation: 'CreateModelCustomizationJob', fault: { kind: 'lostResponse' } });
    const dropped = await jobInput();
    await errorOf(once.send(new CreateModelCustomizationJobCommand(dropped)));
    expect(
      (await once.send(new ListModelCustomizationJobsCommand({ nameContains: dropped.jobName })))
        .modelCustomizationJobSummaries,
    ).toHaveLength(1);

    faults.onRequest({ operation: 'GetModelCustomizationJob', fault: { kind: 'throttle' }, times: 2 });
    const throttled = await errorOf(
      once.send(new GetModelCustomizationJobCommand({ jobIdentifier: input.jobName })),
    );
    expect(throttled.name).toBe('ThrottlingException');
    expect(throttled.$metadata?.httpStatusCode).toBe(429);
    // The client's default retries ride out the rest of the burst.
    expect(
      (await admin.send(new GetModelCustomizationJobCommand({ jobIdentifier: input.jobName }))).jobName,
    ).toBe(input.jobName);

    faults.onNextJob({ failWith: 'Internal error: the training run failed.' });
    const failing = await once.send(new CreateModelCustomizationJobCommand(await jobInput()));
    const failed = await waitFor(failing.jobArn!);
    expect(failed).toMatchObject({
      status: 'Failed',
      failureMessage: 'Internal error: the training run failed.',
    });
    once.destroy();
  });

  it('describes each status change as the EventBridge event Bedrock sends', () => {
    const now = new Date();
    const event = customizationJobStateChangeEvent(
      {
        jobArn: `arn:aws:bedrock:us-east-1:000000000000:model-customization-job/${NOVA}/abcdefgh1234`,
        jobName: 'j',
        outputModelName: 'm',
        roleArn: 'arn:aws:iam::000000000000:role/r',
        status: 'Failed',
        failureMessage: 'no',
        creationTime: now,
        lastModifiedTime: now,
        endTime: now,
      },
      { account: '000000000000', region: 'us-east-1' },
    );
    expect(
      matchesPattern(
        {
          source: ['aws.bedrock'],
          'detail-type': ['Model Customization Job State Change'],
          detail: { jobStatus: ['Failed'] },
        },
        event,
      ),
    ).toBe(true);
    expect(event.detail).toMatchObject({
      version: '0.0',
      jobName: 'j',
      jobStatus: 'Failed',
      failureMessage: 'no',
    });
  });
});
