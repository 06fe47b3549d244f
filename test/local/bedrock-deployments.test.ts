import {
  BedrockClient,
  CreateCustomModelDeploymentCommand,
  CreateModelCustomizationJobCommand,
  CustomModelDeploymentSummary$,
  DeleteCustomModelCommand,
  DeleteCustomModelDeploymentCommand,
  GetCustomModelDeploymentCommand,
  GetCustomModelDeploymentResponse$,
  GetModelCustomizationJobCommand,
  ListCustomModelDeploymentsCommand,
  type CreateModelCustomizationJobCommandInput,
  type GetCustomModelDeploymentCommandOutput,
} from '@aws-sdk/client-bedrock';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseResponse$,
  type ConverseCommandInput,
} from '@aws-sdk/client-bedrock-runtime';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { CloudFormationTemplate } from '../../local/template.js';
import { ApiError } from '../../local/openai-emulator/api-error.js';
import { completeChat, type AnsweredChat } from '../../local/openai-emulator/chat-completions.js';
import { Store } from '../../local/openai-emulator/store.js';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * The local Bedrock's custom model deployments (on-demand inference) and its runtime's Converse, driven by
 * the real @aws-sdk/client-bedrock and @aws-sdk/client-bedrock-runtime through the IAM gateways: a Nova
 * model trained here, deployed, answers Converse as the OpenAI emulator's completeChat answers the same
 * chat; what Bedrock refuses is refused.
 */
const ROLE = 'TestBedrockServiceRole';
const NOVA = 'amazon.nova-micro-v1:0:128k';
const LLAMA = 'meta.llama3-1-8b-instruct-v1:0:128k';
// Every token of the label is followed by one token only, so that the bigram model says it back whole.
const LABEL = 'Your parcel is on its way and arrives tomorrow';
const SYSTEM = 'You answer support tickets.';
const DEPLOYING_MS = 150;

let harness: LocalHarness;
let admin: BedrockClient;
let runtime: BedrockRuntimeClient;
let bucket: string;
const roleArn = (logicalId: string) => harness.cloud.plan.roles.find((r) => r.logicalId === logicalId)!.arn;

/**
 * The job's service role, and for the create-job function's role a grant of bedrock:InvokeModel on
 * custom model deployments only (so that it may converse with a deployment and not with a base model).
 */
function withBedrockRoles(template: CloudFormationTemplate): CloudFormationTemplate {
  const resources = { ...template.Resources };
  const bucketId = Object.keys(resources).find((id) => resources[id]!.Type === 'AWS::S3::Bucket')!;
  resources[ROLE] = {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'bedrock.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
      Policies: [
        {
          PolicyName: 'data',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: 's3:ListBucket',
                Resource: { 'Fn::Join': ['', ['arn:aws:s3:::', { Ref: bucketId }]] },
              },
              {
                Effect: 'Allow',
                Action: ['s3:GetObject', 's3:PutObject'],
                Resource: { 'Fn::Join': ['', ['arn:aws:s3:::', { Ref: bucketId }, '/runs/*']] },
              },
            ],
          },
        },
      ],
    },
  };
  const createJob = Object.values(resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::Function' &&
      r.Metadata?.['tunedrop:entry'] === 'functions/create-job/handler.ts',
  );
  const roleRef = (createJob?.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined)?.[
    'Fn::GetAtt'
  ][0];
  if (roleRef)
    resources.TestBedrockInvokePolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'bedrock-invoke-deployments',
        Roles: [{ Ref: roleRef }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'bedrock:InvokeModel',
              Resource: {
                'Fn::Join': [
                  '',
                  [
                    'arn:aws:bedrock:',
                    { Ref: 'AWS::Region' },
                    ':',
                    { Ref: 'AWS::AccountId' },
                    ':custom-model-deployment/*',
                  ],
                ],
              },
            },
          ],
        },
      },
    };
  return { ...template, Resources: resources };
}

const question = (i: number) => `My order ${i % 4} has not arrived`;
const NOVA_DATA = Array.from({ length: 40 }, (_, i) =>
  JSON.stringify({
    schemaVersion: 'bedrock-conversation-2024',
    system: [{ text: SYSTEM }],
    messages: [
      { role: 'user', content: [{ text: question(i) }] },
      { role: 'assistant', content: [{ text: LABEL }] },
    ],
  }),
).join('\n');
const LLAMA_DATA = Array.from({ length: 20 }, (_, i) =>
  JSON.stringify({ prompt: question(i), completion: LABEL }),
).join('\n');

let counter = 0;
/** Trains a custom model through the local Bedrock and resolves with its ARN. */
async function trainModel(baseModelIdentifier: string, data: string): Promise<string> {
  counter += 1;
  const key = `runs/deployments/train-${counter}.jsonl`;
  await harness.cloud.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
  const input: CreateModelCustomizationJobCommandInput = {
    jobName: `deploy-test-job-${counter}`,
    customModelName: `deploy-test-model-${counter}`,
    roleArn: roleArn(ROLE),
    baseModelIdentifier,
    trainingDataConfig: { s3Uri: `s3://${bucket}/${key}` },
    outputDataConfig: { s3Uri: `s3://${bucket}/runs/deployments/output-${counter}/` },
    hyperParameters: { epochCount: '2' },
  };
  const { jobArn } = await admin.send(new CreateModelCustomizationJobCommand(input));
  for (let i = 0; i < 400; i++) {
    const job = await admin.send(new GetModelCustomizationJobCommand({ jobIdentifier: jobArn }));
    if (job.status === 'Completed') return job.outputModelArn!;
    if (job.status !== 'InProgress')
      throw new Error(`job ${jobArn} ended ${job.status}: ${job.failureMessage}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${jobArn} did not finish`);
}

async function deploy(modelArn: string, name: string): Promise<string> {
  const created = await admin.send(
    new CreateCustomModelDeploymentCommand({ modelDeploymentName: name, modelArn }),
  );
  return created.customModelDeploymentArn!;
}

async function waitSettled(arn: string): Promise<GetCustomModelDeploymentCommandOutput> {
  for (let i = 0; i < 200; i++) {
    const deployment = await admin.send(
      new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: arn }),
    );
    if (deployment.status !== 'Creating') return deployment;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`deployment ${arn} stayed Creating`);
}

const ask = (modelId: string, maxTokens = 64): ConverseCommandInput => ({
  modelId,
  system: [{ text: SYSTEM }],
  messages: [{ role: 'user', content: [{ text: question(1) }] }],
  inferenceConfig: { maxTokens, temperature: 0 },
});

/** The emulator's answer to the chat completion body equivalent to `ask`, from a model in `store`. */
function emulatorAnswer(store: Store, model: string, maxTokens = 64): AnsweredChat {
  const answered = completeChat(store, {
    model,
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: question(1) },
    ],
    max_tokens: maxTokens,
    temperature: 0,
  });
  if (answered instanceof ApiError) throw answered;
  return answered;
}
const textOf = (answered: AnsweredChat) =>
  (answered.body.choices[0] as { message: { content: string } }).message.content;

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
};

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
function expectShape(body: Record<string, unknown>, schema: unknown): void {
  const { names, required } = members(schema);
  for (const key of Object.keys(body)) expect(names).toContain(key);
  for (const key of required) expect(body).toHaveProperty(key);
}
/** The raw JSON an endpoint answers, signed as the administrator (the gateway reads the access key). */
async function raw(endpoint: string, path: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const response = await fetch(`${endpoint}${path}`, {
    ...init,
    headers: {
      'content-type': 'application/json',
      authorization: `AWS4-HMAC-SHA256 Credential=${harness.cloud.clientConfig.credentials.accessKeyId}/20261130/us-east-1/bedrock/aws4_request`,
    },
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as Record<string, unknown>;
}

let novaModelArn: string;

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: 'sk-test-bedrock-deployments',
    webhooks: false,
    cloud: {
      onLog: () => undefined,
      transformTemplate: withBedrockRoles,
      bedrockTiming: {
        validatingMs: 5,
        queuedMs: 5,
        msPerStep: 0,
        stoppingMs: 30,
        deployingMs: DEPLOYING_MS,
      },
    },
  });
  bucket = harness.cloud.bucket;
  admin = new BedrockClient({ ...harness.cloud.clientConfig, endpoint: harness.cloud.endpoints.BEDROCK });
  runtime = new BedrockRuntimeClient({
    ...harness.cloud.clientConfig,
    endpoint: harness.cloud.endpoints.BEDROCK_RUNTIME,
  });
  novaModelArn = await trainModel(NOVA, NOVA_DATA);
}, 60_000);

afterAll(async () => {
  admin?.destroy();
  runtime?.destroy();
  await harness?.close();
});

describe('custom model deployments and Converse on the local Bedrock', () => {
  it('deploys a Nova custom model: Creating, then Active; Converse with its ARN answers what it learned', async () => {
    const arn = await deploy(novaModelArn, 'support-answers');
    expect(arn).toMatch(/^arn:aws:bedrock:us-east-1:000000000000:custom-model-deployment\/[a-z0-9]{12}$/);
    const creating = await admin.send(
      new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: 'support-answers' }),
    );
    expect(creating).toMatchObject({
      customModelDeploymentArn: arn,
      modelArn: novaModelArn,
      status: 'Creating',
    });
    expect(creating.createdAt).toBeInstanceOf(Date);
    const notYet = await errorOf(runtime.send(new ConverseCommand(ask(arn))));
    expect(notYet.name).toBe('ValidationException');
    expect(notYet.message).toContain('Creating');

    expect((await waitSettled(arn)).status).toBe('Active');
    expect(harness.cloud.bedrock.deployments()).toContainEqual({
      arn,
      name: 'support-answers',
      modelArn: novaModelArn,
      status: 'Active',
    });
    const answer = await runtime.send(new ConverseCommand(ask(arn)));
    expect(answer.output?.message).toEqual({ role: 'assistant', content: [{ text: LABEL }] });
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.usage?.totalTokens).toBe(answer.usage!.inputTokens! + answer.usage!.outputTokens!);
    expect(answer.metrics?.latencyMs).toEqual(expect.any(Number));
    // The prompt is billed as the emulator bills the equivalent chat completion.
    expect(answer.usage?.inputTokens).toBe(emulatorAnswer(new Store(), 'gpt-4o-mini').usage.promptTokens);
    expect(harness.cloud.bedrock.converseCalls()[arn]).toEqual({
      calls: 1,
      inputTokens: answer.usage!.inputTokens,
      outputTokens: answer.usage!.outputTokens,
    });

    // The wire shapes are the client's: members it knows, required ones present, no logprobs.
    const converse = await raw(
      harness.cloud.endpoints.BEDROCK_RUNTIME,
      `/model/${encodeURIComponent(arn)}/converse`,
      {
        method: 'POST',
        body: JSON.stringify(ask(arn)),
      },
    );
    expectShape(converse, ConverseResponse$);
    expect(JSON.stringify(converse)).not.toContain('logprob');
    const got = await raw(
      harness.cloud.endpoints.BEDROCK,
      `/model-customization/custom-model-deployments/${encodeURIComponent(arn)}`,
    );
    expectShape(got, GetCustomModelDeploymentResponse$);
    const listed = await admin.send(new ListCustomModelDeploymentsCommand({ modelArnEquals: novaModelArn }));
    expect(listed.modelDeploymentSummaries?.map((d) => d.customModelDeploymentArn)).toContain(arn);
    const listedRaw = await raw(
      harness.cloud.endpoints.BEDROCK,
      '/model-customization/custom-model-deployments',
    );
    for (const summary of listedRaw.modelDeploymentSummaries as Array<Record<string, unknown>>)
      expectShape(summary, CustomModelDeploymentSummary$);
  });

  it('answers a base model id from an untrained model, as the emulator answers a base model', async () => {
    const answer = await runtime.send(new ConverseCommand(ask('amazon.nova-micro-v1:0', 8)));
    const emulator = emulatorAnswer(new Store(), 'gpt-4o-mini', 8);
    expect(answer.output?.message?.content).toEqual([{ text: textOf(emulator) }]);
    // A model trained on nothing never ends its answer.
    expect(answer.stopReason).toBe('max_tokens');
    expect(answer.usage).toMatchObject({
      inputTokens: emulator.usage.promptTokens,
      outputTokens: emulator.usage.completionTokens,
    });
    const byArn = await runtime.send(
      new ConverseCommand(ask('arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0', 8)),
    );
    expect(byArn.output?.message?.content).toEqual([{ text: textOf(emulator) }]);
  });

  it('refuses a model id it does not serve and a custom model by its own ARN', async () => {
    const unknown = await errorOf(runtime.send(new ConverseCommand(ask('amazon.titan-text-express-v1'))));
    expect(unknown.name).toBe('ValidationException');
    expect(unknown.message).toBe('The provided model identifier is invalid.');
    const undeployed = await errorOf(runtime.send(new ConverseCommand(ask(novaModelArn))));
    expect(undeployed.name).toBe('ValidationException');
    expect(undeployed.message).toContain('deploy it for on-demand inference');
  });

  it('is idempotent on the clientRequestToken', async () => {
    const input = {
      modelDeploymentName: 'idempotent',
      modelArn: novaModelArn,
      clientRequestToken: 'deploy-once-1',
    };
    const first = await admin.send(new CreateCustomModelDeploymentCommand(input));
    const second = await admin.send(new CreateCustomModelDeploymentCommand(input));
    expect(second.customModelDeploymentArn).toBe(first.customModelDeploymentArn);
    expect(harness.cloud.bedrock.deployments().filter((d) => d.name === 'idempotent')).toHaveLength(1);
    const other = await errorOf(
      admin.send(new CreateCustomModelDeploymentCommand({ ...input, description: 'changed' })),
    );
    expect(other.name).toBe('ConflictException');
    const taken = await errorOf(
      admin.send(
        new CreateCustomModelDeploymentCommand({ modelDeploymentName: 'idempotent', modelArn: novaModelArn }),
      ),
    );
    expect(taken.name).toBe('ValidationException');
  });

  it('refuses a Llama custom model, whose base model cannot be deployed on demand', async () => {
    const llama = await trainModel(LLAMA, LLAMA_DATA);
    const error = await errorOf(deploy(llama, 'llama-answers'));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('does not support on-demand deployment');
    const elsewhere = await errorOf(
      deploy(novaModelArn.replace('000000000000', '111111111111'), 'elsewhere'),
    );
    expect(elsewhere.name).toBe('ValidationException');
    const malformed = await errorOf(
      deploy('arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0', 'base'),
    );
    expect(malformed.name).toBe('ValidationException');
    expect(malformed.message).toContain("at 'modelArn' failed to satisfy constraint");
    expect(harness.cloud.bedrock.deployments().map((d) => d.name)).not.toContain('llama-answers');
  }, 30_000);

  it('fails the next deployment with the fault, and it cannot be conversed with', async () => {
    harness.cloud.bedrock.faults.onNextDeployment({ failWith: 'Insufficient capacity for the deployment.' });
    const arn = await deploy(novaModelArn, 'doomed');
    const failed = await waitSettled(arn);
    expect(failed).toMatchObject({
      status: 'Failed',
      failureMessage: 'Insufficient capacity for the deployment.',
    });
    const listed = await admin.send(new ListCustomModelDeploymentsCommand({ statusEquals: 'Failed' }));
    expect(listed.modelDeploymentSummaries?.map((d) => d.customModelDeploymentName)).toEqual(['doomed']);
    const error = await errorOf(runtime.send(new ConverseCommand(ask(arn))));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('Failed');
  });

  it('keeps a custom model with deployments; a deleted deployment is refused by Converse', async () => {
    const model = await trainModel(NOVA, NOVA_DATA);
    const arn = await deploy(model, 'short-lived');
    expect((await waitSettled(arn)).status).toBe('Active');
    const inUse = await errorOf(admin.send(new DeleteCustomModelCommand({ modelIdentifier: model })));
    expect(inUse.name).toBe('ConflictException');

    await admin.send(
      new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: 'short-lived' }),
    );
    expect(harness.cloud.bedrock.deployments().map((d) => d.arn)).not.toContain(arn);
    const gone = await errorOf(
      admin.send(new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: arn })),
    );
    expect(gone.name).toBe('ResourceNotFoundException');
    const converse = await errorOf(runtime.send(new ConverseCommand(ask(arn))));
    expect(converse.name).toBe('ResourceNotFoundException');
    expect(converse.$metadata?.httpStatusCode).toBe(404);
    await admin.send(new DeleteCustomModelCommand({ modelIdentifier: model }));
  }, 30_000);

  it('enforces IAM: Converse needs bedrock:InvokeModel on the deployment or the foundation model', async () => {
    const arn = await deploy(novaModelArn, 'for-functions');
    expect((await waitSettled(arn)).status).toBe('Active');
    const client = (entry: string) =>
      new BedrockRuntimeClient({
        region: 'us-east-1',
        credentials: harness.cloud.functionCredentials(entry),
        endpoint: harness.cloud.endpoints.BEDROCK_RUNTIME,
      });
    const validate = client('functions/validate/handler.ts');
    const denied = await errorOf(validate.send(new ConverseCommand(ask(arn))));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain('bedrock:InvokeModel');
    validate.destroy();

    // Granted on custom-model-deployment/* only: the deployment answers, a base model is denied.
    const createJob = client('functions/create-job/handler.ts');
    const answer = await createJob.send(new ConverseCommand(ask(arn)));
    expect(answer.output?.message?.content).toEqual([{ text: LABEL }]);
    const base = await errorOf(createJob.send(new ConverseCommand(ask('amazon.nova-micro-v1:0', 4))));
    expect(base.name).toBe('AccessDeniedException');
    expect(base.message).toContain('arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0');
    createJob.destroy();
  });

  it('reaches the runtime through AWS_ENDPOINT_URL_BEDROCK_RUNTIME, as functions are given it', async () => {
    const before = process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = harness.cloud.endpoints.BEDROCK_RUNTIME;
    const fromEnvironment = new BedrockRuntimeClient(harness.cloud.clientConfig);
    try {
      const answer = await fromEnvironment.send(new ConverseCommand(ask('amazon.nova-lite-v1:0', 2)));
      expect(answer.stopReason).toBe('max_tokens');
    } finally {
      fromEnvironment.destroy();
      if (before === undefined) delete process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
      else process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = before;
    }
  });
});
