import {
  BedrockRuntimeServiceException,
  InvokeModelCommand,
  type BedrockRuntimeClient,
} from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import { ProviderRejectedError, ProviderUnavailableError, type TunedropError } from '../core/errors.js';
import type { EmbeddingAnswer, EmbeddingModels, EmbeddingRequest } from '../core/ports.js';
import { redactSecrets } from '../core/redact.js';
import {
  DEFAULT_THROTTLE_POLICY,
  retryThrottled,
  type RetryTools,
  type ThrottlePolicy,
} from './embedding-retries.js';
import type { ProviderCallOutcome } from './openai-compatible.js';

/**
 * Amazon Bedrock's Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`) through InvokeModel, one text
 * per call: the body `{inputText, dimensions, normalize}` and the answer `{embedding, inputTextTokenCount}`,
 * whose token count is what is billed (docs/embeddings-facts.md 3.1, the model parameters page, read
 * 2026-11-30). Dimensions are 1024 (default), 512 or 256. Embedding models are throttled by requests per
 * minute (3.2): a request's texts run `concurrency` at a time, answered in their order, and a
 * ThrottlingException is retried with exponential backoff and full jitter (embedding-retries.ts) on top of
 * the AWS SDK's own retries. Batch inference (CreateModelInvocationJob) is not used: no `batches`.
 */

export const TITAN_EMBED_TEXT_V2 = 'amazon.titan-embed-text-v2:0';

export interface BedrockEmbeddingsOptions {
  runtime: BedrockRuntimeClient;
  /** Texts in flight at once per `embed` call. @default 8 */
  concurrency?: number | undefined;
  /** Backoff of throttled calls. @default DEFAULT_THROTTLE_POLICY */
  throttle?: Partial<ThrottlePolicy> | undefined;
  /** The invocation's remaining time: no backoff wait outlasts it. */
  remainingTimeMs?: (() => number) | undefined;
  reserveMs?: number | undefined;
  /** Told of each InvokeModel call (the metrics). */
  onCall?: ((call: ProviderCallOutcome) => void) | undefined;
  /** For tests: the random numbers and sleep of the backoff. */
  retryTools?: Pick<RetryTools, 'random' | 'sleep'> | undefined;
}

export const DEFAULT_BEDROCK_CONCURRENCY = 8;

const TitanResponseSchema = z.looseObject({
  embedding: z.array(z.number()),
  inputTextTokenCount: z.number().int().nonnegative(),
});

const RETRYABLE = new Set([
  'ThrottlingException',
  'ServiceUnavailableException',
  'InternalServerException',
  'ModelNotReadyException',
  'ModelTimeoutException',
]);

/** Bedrock's runtime errors as tunedrop's typed ones. */
function translate(what: string, error: unknown): TunedropError {
  if (error instanceof ProviderRejectedError || error instanceof ProviderUnavailableError) return error;
  const name = (error as { name?: unknown } | null)?.name;
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
  if (error instanceof BedrockRuntimeServiceException && !RETRYABLE.has(error.name))
    return new ProviderRejectedError(
      `Amazon Bedrock refused to ${what} (${error.name}): ${message}`,
      error.name === 'AccessDeniedException'
        ? `Grant the function's role bedrock:InvokeModel on foundation-model/${TITAN_EMBED_TEXT_V2}, and enable access to the model in the Bedrock console of the region.`
        : "Check the collection's tunedrop.json under embed/: the model, the dimensions (1024, 512 or 256 for Titan Text Embeddings V2), and each text (non-empty, at most 8,192 tokens or 50,000 characters).",
      error.name,
    );
  return new ProviderUnavailableError(
    `Amazon Bedrock could not ${what}${typeof name === 'string' ? ` (${name})` : ''}: ${message}`,
    'tunedrop retries this with backoff; if the run still failed, raise the InvokeModel requests-per-minute quota of the model (Service Quotas) or lower the concurrency, then drop the file again.',
    { cause: error },
  );
}

/** Runs `work` over `items` with at most `limit` at once; the results in the items' order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

export function bedrockEmbeddingModels(options: BedrockEmbeddingsOptions): EmbeddingModels {
  const { runtime } = options;
  const concurrency = options.concurrency ?? DEFAULT_BEDROCK_CONCURRENCY;
  const policy = { ...DEFAULT_THROTTLE_POLICY, ...options.throttle };
  const tools: RetryTools = {
    ...options.retryTools,
    remainingTimeMs: options.remainingTimeMs,
    reserveMs: options.reserveMs,
  };

  const embedOne = async (request: EmbeddingRequest, text: string, index: number) => {
    const what = `embed text ${index} with ${request.model}`;
    const invoke = async () => {
      const started = performance.now();
      let failed = true;
      try {
        const answer = await runtime.send(
          new InvokeModelCommand({
            modelId: request.model,
            contentType: 'application/json',
            accept: 'application/json',
            body: JSON.stringify({
              inputText: text,
              ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
              normalize: true,
            }),
          }),
        );
        failed = false;
        return answer;
      } catch (error) {
        throw translate(what, error);
      } finally {
        options.onCall?.({ latencyMs: performance.now() - started, failed });
      }
    };
    const answer = await retryThrottled(
      invoke,
      (error) =>
        error instanceof ProviderUnavailableError &&
        (error.cause as { name?: unknown } | undefined)?.name === 'ThrottlingException'
          ? null
          : undefined,
      policy,
      tools,
    );
    const parsed = TitanResponseSchema.safeParse(JSON.parse(new TextDecoder().decode(answer.body)));
    if (!parsed.success)
      throw new ProviderUnavailableError(
        `Amazon Bedrock answered ${what} with an unexpected shape: ${parsed.error.message}`,
        'Report this to the tunedrop maintainers with the run id.',
      );
    if (request.dimensions !== undefined && parsed.data.embedding.length !== request.dimensions)
      throw new ProviderUnavailableError(
        `Amazon Bedrock answered ${what} with ${parsed.data.embedding.length} values, not ${request.dimensions}`,
        'Report this to the tunedrop maintainers with the run id.',
      );
    return parsed.data;
  };

  return {
    name: 'bedrock',
    async embed(request): Promise<EmbeddingAnswer> {
      const answers = await mapBounded(request.texts, concurrency, (text, index) =>
        embedOne(request, text, index),
      );
      return {
        vectors: answers.map((answer) => answer.embedding),
        tokens: answers.reduce((sum, answer) => sum + answer.inputTextTokenCount, 0),
      };
    },
  };
}
