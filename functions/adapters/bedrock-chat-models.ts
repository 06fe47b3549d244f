import {
  CreateCustomModelDeploymentCommand,
  DeleteCustomModelDeploymentCommand,
  GetCustomModelDeploymentCommand,
  type BedrockClient,
} from '@aws-sdk/client-bedrock';
import {
  BedrockRuntimeServiceException,
  ConverseCommand,
  type BedrockRuntimeClient,
  type Message,
  type SystemContentBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import { ProviderRejectedError, ProviderUnavailableError, type TunedropError } from '../core/errors.js';
import type { ChatModels, ChatRequest, ModelDeployments } from '../core/ports.js';
import { redactSecrets } from '../core/redact.js';
import { translateBedrockError } from './bedrock-provider.js';

export interface BedrockChatModelsOptions {
  control: BedrockClient;
  runtime: BedrockRuntimeClient;
  /** The service role (for the wording of refusals, as the provider's). */
  roleArn: string;
  /** The id a base model answers as (the catalog's `onDemand.modelId`), or the id itself when none. */
  modelIdOf(model: string): string;
}

/** Text of a chat message's content: a string, or text parts. */
const ContentSchema = z.union([z.string(), z.array(z.looseObject({ text: z.string() }))]);
const textOf = (content: unknown) => {
  const parsed = ContentSchema.parse(content ?? '');
  return typeof parsed === 'string' ? parsed : parsed.map((part) => part.text).join('');
};

/**
 * A chat request as Converse takes it (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
 * read 2026-11-30): system and developer turns as `system` blocks, the others as `messages` of text
 * blocks, greedy (temperature 0) and at most `maxTokens` tokens. Converse returns no logprobs.
 */
export function converseInput(request: ChatRequest, modelId: string) {
  const system: SystemContentBlock[] = [];
  const messages: Message[] = [];
  for (const message of request.messages) {
    const text = textOf(message.content);
    if (message.role === 'system' || message.role === 'developer') system.push({ text });
    else messages.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content: [{ text }] });
  }
  return {
    modelId,
    messages,
    ...(system.length ? { system } : {}),
    inferenceConfig: { maxTokens: request.maxTokens, temperature: 0 },
  };
}

/** Bedrock's runtime errors as tunedrop's typed ones: throttling and 5xx may pass, the rest are refusals. */
function translateRuntimeError(what: string, error: unknown): TunedropError {
  if (error instanceof ProviderRejectedError || error instanceof ProviderUnavailableError) return error;
  if (error instanceof BedrockRuntimeServiceException) {
    const reason = redactSecrets(error.message);
    if (
      [
        'ThrottlingException',
        'ServiceUnavailableException',
        'InternalServerException',
        'ModelNotReadyException',
      ].includes(error.name)
    )
      return new ProviderUnavailableError(
        `Amazon Bedrock could not ${what} (${error.name}): ${reason}`,
        'tunedrop retries this with backoff; if the run still failed, check the AWS Health Dashboard and drop the file again.',
        { cause: error },
      );
    return new ProviderRejectedError(
      `Amazon Bedrock refused to ${what} (${error.name}): ${reason}`,
      error.name === 'AccessDeniedException'
        ? "Grant the Evaluate function's role bedrock:InvokeModel on the model's deployment (custom-model-deployment/*) and on the base model (foundation-model/*)."
        : 'Check the model and the deployment named in the message.',
      error.name,
    );
  }
  return new ProviderUnavailableError(
    `Amazon Bedrock could not ${what}: ${error instanceof Error ? error.message : String(error)}`,
    'tunedrop retries this; if the run still failed, drop the file again.',
    { cause: error },
  );
}

const DeploymentSchema = z.looseObject({
  status: z.string(),
  failureMessage: z.string().nullish(),
});

/**
 * Amazon Bedrock's models as evaluation asks them: a custom model answers only from an on-demand custom
 * model deployment (CreateCustomModelDeployment; its ARN is the `modelId` of Converse), a base model as
 * it is. A deployment has no hosting fee ("With on-demand inference, you only pay for what you use", the
 * user guide's "Deploy a custom model for on-demand inference", read 2026-11-30); its states are Creating,
 * Active and Failed (GetCustomModelDeployment, the API reference, read 2026-11-30).
 */
export function bedrockChatModels(options: BedrockChatModelsOptions): ChatModels {
  const { control, runtime, roleArn } = options;
  const deployments: ModelDeployments = {
    async deploy(model, name) {
      try {
        const created = await control.send(
          new CreateCustomModelDeploymentCommand({
            modelDeploymentName: name,
            modelArn: model,
            description: 'tunedrop: evaluation before promotion (removed when the evaluation ends)',
            // The same token on a retry: Bedrock answers with the deployment made the first time.
            clientRequestToken: name,
          }),
        );
        return z.string().parse(created.customModelDeploymentArn);
      } catch (error) {
        throw translateBedrockError(`deploy ${model} for on-demand inference`, error, roleArn);
      }
    },
    async state(deploymentId) {
      let raw: unknown;
      try {
        raw = await control.send(
          new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: deploymentId }),
        );
      } catch (error) {
        throw translateBedrockError(`read the deployment ${deploymentId}`, error, roleArn);
      }
      const deployment = DeploymentSchema.parse(raw);
      if (deployment.status === 'Active') return { status: 'active' };
      if (deployment.status === 'Failed')
        return { status: 'failed', reason: deployment.failureMessage ?? 'Amazon Bedrock gave no reason' };
      return { status: 'creating' };
    },
    async remove(deploymentId) {
      try {
        await control.send(
          new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: deploymentId }),
        );
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') return;
        throw translateBedrockError(`remove the deployment ${deploymentId}`, error, roleArn);
      }
    },
  };
  return {
    name: 'bedrock',
    maxTopLogprobs: 0,
    deployments,
    async complete(request) {
      const modelId = options.modelIdOf(request.model);
      let answer;
      try {
        answer = await runtime.send(new ConverseCommand(converseInput(request, modelId)));
      } catch (error) {
        throw translateRuntimeError(`ask ${modelId}`, error);
      }
      const text = (answer.output?.message?.content ?? []).map((block) => block.text ?? '').join('');
      return {
        text,
        firstTokenTopLogprobs: null,
        inputTokens: answer.usage?.inputTokens ?? 0,
        outputTokens: answer.usage?.outputTokens ?? 0,
      };
    },
  };
}
