import {
  BedrockRuntimeClient,
  InvokeModelCommand,
  type InvokeModelCommandOutput,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { bedrockEmbeddingModels, TITAN_EMBED_TEXT_V2 } from '../../functions/adapters/bedrock-embeddings.js';
import { ProviderRejectedError, ProviderUnavailableError } from '../../functions/core/errors.js';

/** Titan Text Embeddings V2 through InvokeModel, one text per call, with the runtime client mocked. */
const runtime = mockClient(BedrockRuntimeClient);
beforeEach(() => runtime.reset());

const answer = (embedding: number[], inputTextTokenCount: number) => ({
  // The SDK's body is a Uint8Array with transformToString; the adapter reads only its bytes.
  body: new TextEncoder().encode(
    JSON.stringify({ embedding, inputTextTokenCount, embeddingsByType: {} }),
  ) as unknown as InvokeModelCommandOutput['body'],
});
const bodyOf = (input: unknown) =>
  JSON.parse((input as { body: string }).body) as {
    inputText: string;
    dimensions?: number;
    normalize: boolean;
  };
const noWait = { random: () => 0.5, sleep: async () => undefined };

describe('bedrockEmbeddingModels', () => {
  it('keeps the texts order under concurrency, sums the tokens and never exceeds the concurrency', async () => {
    let inFlight = 0;
    let most = 0;
    runtime.on(InvokeModelCommand).callsFake(async (input) => {
      const { inputText, dimensions, normalize } = bodyOf(input);
      expect(normalize).toBe(true);
      expect(dimensions).toBe(2);
      inFlight++;
      most = Math.max(most, inFlight);
      // Later texts answer sooner: the order must come from the texts, not the answers.
      const n = Number(inputText.slice(1));
      await new Promise((resolve) => setTimeout(resolve, (20 - n) * 2));
      inFlight--;
      return answer([n, n + 0.5], n + 1);
    });
    const models = bedrockEmbeddingModels({ runtime: new BedrockRuntimeClient({}), concurrency: 3 });
    const texts = Array.from({ length: 20 }, (_, i) => `t${i}`);
    const result = await models.embed({ model: TITAN_EMBED_TEXT_V2, dimensions: 2, texts });
    expect(result.vectors).toEqual(texts.map((_, i) => [i, i + 0.5]));
    expect(result.tokens).toBe(texts.reduce((sum, _, i) => sum + i + 1, 0));
    expect(most).toBe(3);
    expect(models.batches).toBeUndefined();
    expect(runtime.commandCalls(InvokeModelCommand)[0]!.args[0].input.modelId).toBe(TITAN_EMBED_TEXT_V2);
  });

  it('retries a ThrottlingException with backoff, then answers', async () => {
    const throttled = () => new ThrottlingException({ message: 'Too many requests', $metadata: {} });
    runtime
      .on(InvokeModelCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(throttled())
      .resolves(answer([0.6, 0.8], 4));
    const waits: number[] = [];
    const models = bedrockEmbeddingModels({
      runtime: new BedrockRuntimeClient({}),
      throttle: { baseMs: 100 },
      retryTools: { random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
    });
    expect(await models.embed({ model: TITAN_EMBED_TEXT_V2, texts: ['hello'] })).toEqual({
      vectors: [[0.6, 0.8]],
      tokens: 4,
    });
    // Full jitter: half of 100 ms, then half of 200 ms.
    expect(waits).toEqual([50, 100]);
  });

  it('gives up on throttling after the attempts, as a retryable error; a validation error is permanent', async () => {
    runtime.on(InvokeModelCommand).rejects(new ThrottlingException({ message: 'slow down', $metadata: {} }));
    const models = bedrockEmbeddingModels({
      runtime: new BedrockRuntimeClient({}),
      throttle: { attempts: 3 },
      retryTools: noWait,
    });
    await expect(models.embed({ model: TITAN_EMBED_TEXT_V2, texts: ['a'] })).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
    expect(runtime.commandCalls(InvokeModelCommand)).toHaveLength(3);

    runtime.reset();
    runtime
      .on(InvokeModelCommand)
      .rejects(new ValidationException({ message: 'Malformed input request', $metadata: {} }));
    const error = await models.embed({ model: TITAN_EMBED_TEXT_V2, texts: ['a'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect((error as Error).message).toMatch(/ValidationException\): Malformed input request/);
    expect(runtime.commandCalls(InvokeModelCommand)).toHaveLength(1);
  });
});
