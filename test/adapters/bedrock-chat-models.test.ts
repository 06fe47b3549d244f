import {
  BedrockClient,
  BedrockServiceException,
  CreateCustomModelDeploymentCommand,
  DeleteCustomModelDeploymentCommand,
  GetCustomModelDeploymentCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-bedrock';
import {
  BedrockRuntimeClient,
  BedrockRuntimeServiceException,
  ConverseCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { bedrockChatModels, converseInput } from '../../functions/adapters/bedrock-chat-models.js';

const control = mockClient(BedrockClient);
const runtime = mockClient(BedrockRuntimeClient);
beforeEach(() => {
  control.reset();
  runtime.reset();
});

const DEPLOYMENT = 'arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghij12';
const MODEL = 'arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/xyz';
const models = () =>
  bedrockChatModels({
    control: new BedrockClient({}),
    runtime: new BedrockRuntimeClient({}),
    roleArn: 'arn:aws:iam::123456789012:role/BedrockServiceRole',
    modelIdOf: (id) => (id === 'amazon.nova-micro-v1:0:128k' ? 'amazon.nova-micro-v1:0' : id),
  });

describe('converseInput', () => {
  it('puts system turns in system blocks and the rest in text messages, greedy and bounded', () => {
    expect(
      converseInput(
        {
          model: 'm',
          messages: [
            { role: 'system', content: 'Classify.' },
            { role: 'user', content: [{ type: 'text', text: 'my parcel' }] },
            { role: 'assistant', content: 'delivery' },
            { role: 'user', content: 'and now?' },
          ],
          maxTokens: 7,
          topLogprobs: 5,
        },
        DEPLOYMENT,
      ),
    ).toEqual({
      modelId: DEPLOYMENT,
      system: [{ text: 'Classify.' }],
      messages: [
        { role: 'user', content: [{ text: 'my parcel' }] },
        { role: 'assistant', content: [{ text: 'delivery' }] },
        { role: 'user', content: [{ text: 'and now?' }] },
      ],
      inferenceConfig: { maxTokens: 7, temperature: 0 },
    });
  });
});

describe('bedrockChatModels', () => {
  it('asks a base model under its on-demand id and a deployment by its ARN, with no logprobs', async () => {
    runtime.on(ConverseCommand).resolves({
      output: { message: { role: 'assistant', content: [{ text: 'deliv' }, { text: 'ery' }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 2, totalTokens: 14 },
      metrics: { latencyMs: 5 },
    });
    const chat = models();
    expect(chat.maxTopLogprobs).toBe(0);
    const request = { messages: [{ role: 'user', content: 'x' }], maxTokens: 3, topLogprobs: 0 };
    expect(await chat.complete({ ...request, model: 'amazon.nova-micro-v1:0:128k' })).toEqual({
      text: 'delivery',
      firstTokenTopLogprobs: null,
      inputTokens: 12,
      outputTokens: 2,
    });
    await chat.complete({ ...request, model: DEPLOYMENT });
    expect(runtime.commandCalls(ConverseCommand).map((c) => c.args[0].input.modelId)).toEqual([
      'amazon.nova-micro-v1:0',
      DEPLOYMENT,
    ]);
  });

  it('deploys with the name as the idempotency token, reads the state, and removes a deployment once', async () => {
    control.on(CreateCustomModelDeploymentCommand).resolves({ customModelDeploymentArn: DEPLOYMENT });
    control
      .on(GetCustomModelDeploymentCommand)
      .resolvesOnce({ status: 'Creating' } as never)
      .resolvesOnce({ status: 'Active' } as never)
      .resolvesOnce({ status: 'Failed', failureMessage: 'no capacity' } as never);
    control
      .on(DeleteCustomModelDeploymentCommand)
      .resolvesOnce({})
      .rejectsOnce(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    const deployments = models().deployments!;
    expect(await deployments.deploy(MODEL, 'tunedrop-new-abc')).toBe(DEPLOYMENT);
    expect(control.commandCalls(CreateCustomModelDeploymentCommand)[0]!.args[0].input).toMatchObject({
      modelDeploymentName: 'tunedrop-new-abc',
      modelArn: MODEL,
      clientRequestToken: 'tunedrop-new-abc',
    });
    expect(await deployments.state(DEPLOYMENT)).toEqual({ status: 'creating' });
    expect(await deployments.state(DEPLOYMENT)).toEqual({ status: 'active' });
    expect(await deployments.state(DEPLOYMENT)).toEqual({ status: 'failed', reason: 'no capacity' });
    await deployments.remove(DEPLOYMENT);
    // Already gone: no error.
    await deployments.remove(DEPLOYMENT);
  });

  it("tells a refusal from a passing failure, in Bedrock's words", async () => {
    control.on(CreateCustomModelDeploymentCommand).rejects(
      new BedrockServiceException({
        name: 'ValidationException',
        $fault: 'client',
        message: 'The base model does not support on-demand deployment.',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(models().deployments!.deploy(MODEL, 'n')).rejects.toMatchObject({
      name: 'ProviderRejectedError',
      code: 'ValidationException',
      message: expect.stringContaining('does not support on-demand deployment'),
    });
    runtime.on(ConverseCommand).rejects(
      new BedrockRuntimeServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'Too many requests',
        $metadata: { httpStatusCode: 429 },
      }),
    );
    await expect(
      models().complete({
        model: DEPLOYMENT,
        messages: [{ role: 'user', content: 'x' }],
        maxTokens: 1,
        topLogprobs: 0,
      }),
    ).rejects.toMatchObject({ name: 'ProviderUnavailableError' });
  });
});
