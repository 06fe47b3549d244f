import {
  BedrockRuntimeClient,
  InvokeModelCommand,
  type InvokeModelCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import type { CloudFormationTemplate } from '../../local/template.js';
import { localEmbedding } from '../../local/embeddings/vectors.js';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Titan Text Embeddings V2 through the real @aws-sdk/client-bedrock-runtime against the local cloud,
 * behind IAM: the body and answer of the Titan facts, ValidationException for bad bodies, a throttling
 * fault, and bedrock:InvokeModel on the foundation model's ARN required.
 */
const TITAN = 'amazon.titan-embed-text-v2:0';
let harness: LocalHarness;
let runtime: BedrockRuntimeClient;

/** Grants the create-job function's role bedrock:InvokeModel on Titan V2 only. */
function withTitanGrant(template: CloudFormationTemplate): CloudFormationTemplate {
  const resources = { ...template.Resources };
  const createJob = Object.values(resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::Function' &&
      r.Metadata?.['tunedrop:entry'] === 'functions/create-job/handler.ts',
  );
  const role = (createJob?.Properties?.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  resources.TestTitanInvokePolicy = {
    Type: 'AWS::IAM::Policy',
    Properties: {
      PolicyName: 'titan-embeddings',
      Roles: [{ Ref: role }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'bedrock:InvokeModel',
            Resource: {
              'Fn::Join': ['', ['arn:aws:bedrock:', { Ref: 'AWS::Region' }, `::foundation-model/${TITAN}`]],
            },
          },
        ],
      },
    },
  };
  return { ...template, Resources: resources };
}

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: 'sk-titan',
    webhooks: false,
    cloud: { onLog: () => undefined, transformTemplate: withTitanGrant },
  });
  runtime = new BedrockRuntimeClient({
    ...harness.cloud.clientConfig,
    endpoint: harness.cloud.endpoints.BEDROCK_RUNTIME,
  });
}, 60_000);
afterAll(async () => {
  runtime?.destroy();
  await harness?.close();
});

const invoke = (client: BedrockRuntimeClient, body: unknown) =>
  client.send(
    new InvokeModelCommand({
      modelId: TITAN,
      contentType: 'application/json',
      accept: 'application/json',
      body: JSON.stringify(body),
    }),
  );
const read = (output: InvokeModelCommandOutput) =>
  JSON.parse(new TextDecoder().decode(output.body)) as {
    embedding: number[];
    inputTextTokenCount: number;
    embeddingsByType: { float?: number[]; binary?: number[] };
  };
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: Error & { $metadata?: { httpStatusCode?: number } }) => error,
  );

describe('Titan Text Embeddings V2 on the local Bedrock runtime', () => {
  it('answers InvokeModel with a 1024-dimension unit embedding, its token count and embeddingsByType', async () => {
    const answer = read(await invoke(runtime, { inputText: 'My parcel is late' }));
    expect(answer.embedding).toHaveLength(1024);
    expect(answer.embedding).toEqual(localEmbedding('My parcel is late', 1024));
    expect(answer.inputTextTokenCount).toBeGreaterThan(0);
    expect(answer.embeddingsByType).toEqual({ float: answer.embedding });
    expect(harness.cloud.bedrock.invokeModelCalls()[TITAN]).toMatchObject({ calls: 1 });
  });

  it('takes 512 or 256 dimensions, binary types and normalize false', async () => {
    const answer = read(
      await invoke(runtime, {
        inputText: 'Refund my order',
        dimensions: 256,
        normalize: false,
        embeddingTypes: ['float', 'binary'],
      }),
    );
    expect(answer.embedding).toHaveLength(256);
    expect(answer.embeddingsByType.binary).toEqual(answer.embedding.map((v) => (v > 0 ? 1 : 0)));
    const norm = Math.hypot(...answer.embedding);
    expect(norm).toBeCloseTo(Math.sqrt(answer.inputTextTokenCount), 4);
  });

  it('refuses bad bodies with ValidationException in Bedrock schema wording', async () => {
    const missing = await errorOf(invoke(runtime, { text: 'x' }));
    expect(missing.name).toBe('ValidationException');
    expect(missing.$metadata?.httpStatusCode).toBe(400);
    expect(missing.message).toContain('schema violations found');
    const empty = await errorOf(invoke(runtime, { inputText: '' }));
    expect(empty.message).toContain('#/inputText: expected minLength: 1, actual: 0');
    const dims = await errorOf(invoke(runtime, { inputText: 'x', dimensions: 300 }));
    expect(dims.message).toContain('#/dimensions: 300 is not a valid enum value');
    const long = await errorOf(invoke(runtime, { inputText: 'a'.repeat(50_001) }));
    expect(long.message).toContain('maxLength: 50000');
    const tokens = await errorOf(invoke(runtime, { inputText: 'word '.repeat(9000) }));
    expect(tokens.message).toContain('Max input tokens: 8192');
  });

  it('answers ThrottlingException when a throttle is injected, then serves', async () => {
    harness.cloud.bedrock.faults.onRequest({ operation: 'InvokeModel', fault: { kind: 'throttle' } });
    const noRetry = new BedrockRuntimeClient({
      ...harness.cloud.clientConfig,
      endpoint: harness.cloud.endpoints.BEDROCK_RUNTIME,
      maxAttempts: 1,
    });
    const throttled = await errorOf(invoke(noRetry, { inputText: 'x' }));
    expect(throttled.name).toBe('ThrottlingException');
    expect(throttled.$metadata?.httpStatusCode).toBe(429);
    expect(read(await invoke(noRetry, { inputText: 'x' })).embedding).toHaveLength(1024);
    noRetry.destroy();
  });

  it('enforces IAM: a role without bedrock:InvokeModel on the Titan foundation model is refused', async () => {
    const client = (entry: string) =>
      new BedrockRuntimeClient({
        region: 'us-east-1',
        credentials: harness.cloud.functionCredentials(entry),
        endpoint: harness.cloud.endpoints.BEDROCK_RUNTIME,
      });
    const validate = client('functions/validate/handler.ts');
    const denied = await errorOf(invoke(validate, { inputText: 'x' }));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`arn:aws:bedrock:us-east-1::foundation-model/${TITAN}`);
    validate.destroy();
    const granted = client('functions/create-job/handler.ts');
    expect(read(await invoke(granted, { inputText: 'x' })).embedding).toHaveLength(1024);
    granted.destroy();
  });

  it("lets the EmbedCollect function's own role invoke it, with no test grant", async () => {
    const collect = new BedrockRuntimeClient({
      region: 'us-east-1',
      credentials: harness.cloud.functionCredentials('functions/embed-collect/handler.ts'),
      endpoint: harness.cloud.endpoints.BEDROCK_RUNTIME,
    });
    expect(read(await invoke(collect, { inputText: 'x', dimensions: 512 })).embedding).toHaveLength(512);
    collect.destroy();
  });
});
