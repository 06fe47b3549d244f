import { get_encoding, type Tiktoken } from 'tiktoken';
import { localEmbedding } from '../embeddings/vectors.js';
import { ApiError } from './api-error.js';
import { readJson, type Route } from './http.js';

/**
 * OpenAI's POST /v1/embeddings, with the local providers' deterministic vectors that carry meaning
 * (../embeddings/vectors.ts localEmbedding). Request and response follow CreateEmbeddingRequest,
 * CreateEmbeddingResponse and Embedding of ../shared/openai/openapi.yaml (openai/openai-openapi f85dbe22,
 * 2026-08-21), as docs/embeddings-facts.md 1.1–1.3 records them (read 2026-11-30). The route and each line
 * of a /v1/embeddings batch (batches.ts) are answered by one function, createEmbeddings, so a batch
 * answers exactly as the route does; the caller records what was answered (online and batch apart).
 * Tokens are counted with cl100k_base, the tokenizer third parties give for all three models
 * (docs/embeddings-facts.md 1.1, 3p; OpenAI's own statement NOT CONFIRMED), and usage is that exact count.
 * Not emulated: rate limits of their own (a test injects a 429, faults.ts rateLimitEmbeddings), `user`
 * (accepted, no effect).
 */

/** The embedding models and their native sizes (docs/embeddings-facts.md 1.1, read 2026-11-30). */
export const EMBEDDING_MODELS: Readonly<Record<string, { dimensions: number; shortens: boolean }>> = {
  'text-embedding-3-small': { dimensions: 1536, shortens: true },
  'text-embedding-3-large': { dimensions: 3072, shortens: true },
  // "Only supported in `text-embedding-3` and later models" (CreateEmbeddingRequest.dimensions).
  'text-embedding-ada-002': { dimensions: 1536, shortens: false },
};

/** "8192 tokens for all embedding models" (CreateEmbeddingRequest.input in the spec). */
export const MAX_INPUT_TOKENS = 8192;
/** "any array must be 2048 dimensions or less" (the spec; maxItems 2048 on every array form). */
export const MAX_INPUTS = 2048;
/** "a maximum of 300,000 tokens summed across all inputs in a single request" (the spec). */
export const MAX_REQUEST_TOKENS = 300_000;

/** The fields CreateEmbeddingRequest has; it is `additionalProperties: false`. */
const FIELDS = new Set(['input', 'model', 'encoding_format', 'dimensions', 'user']);

/** What an embeddings request answered: the body, and what it is recorded and billed as. */
export interface AnsweredEmbeddings {
  /** The model as the request named it. */
  model: string;
  /** How many inputs (texts or token arrays) were embedded. */
  inputs: number;
  /** usage.prompt_tokens: the inputs' cl100k_base tokens. */
  tokens: number;
  body: EmbeddingsBody;
}

/** CreateEmbeddingResponse. */
export interface EmbeddingsBody {
  object: 'list';
  model: string;
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** A 400 as OpenAI words a bad value of a parameter here (the emulator's wording where none was found). */
const invalid = (param: string, message: string, code: string | null = 'invalid_value') =>
  new ApiError(400, message, param, code);

/**
 * An input OpenAI refuses by its schema: 400 {message: "'$.input' is invalid. Please check the API
 * reference: https://platform.openai.com/docs/api-reference.", type: invalid_request_error}, as the live
 * API answers an empty string (infiniflow/ragflow#11088, 2025-11-07, through a proxy that appends a
 * request id; lightdash/lightdash#18938, 2025-12-18, citing OpenAI's community forum; both read
 * 2026-11-30). Used for every input that breaks CreateEmbeddingRequest.input's schema.
 */
const invalidInput = () =>
  new ApiError(
    400,
    "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
  );

/**
 * A model that is not an embedding model: 404 model_not_found, as chat-completions.ts answers an unknown
 * model (the live wording cited there).
 */
const modelNotFound = (model: string) =>
  new ApiError(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    null,
    'model_not_found',
  );

let encoding: Tiktoken | undefined;
const cl100k = () => (encoding ??= get_encoding('cl100k_base'));

/** A text's cl100k_base tokens; special-token text (`<|endoftext|>`) is counted as plain text. */
export function countTokens(text: string): number {
  return cl100k().encode(text, [], []).length;
}

/** Token ids decoded with cl100k_base; undefined when an id is not one of its tokens. */
function decodeTokens(tokens: readonly number[]): string | undefined {
  try {
    return new TextDecoder().decode(cl100k().decode(Uint32Array.from(tokens)));
  } catch {
    return undefined;
  }
}

/** The inputs of a request's `input`: each one's text (token arrays decoded) and its token count. */
function readInputs(input: unknown): Array<{ text: string; tokens: number }> {
  const isTokens = (value: unknown): value is number[] =>
    Array.isArray(value) && value.length > 0 && value.every((t) => Number.isInteger(t) && t >= 0);
  let items: Array<string | number[]>;
  if (typeof input === 'string') items = [input];
  else if (isTokens(input)) items = [input];
  else if (
    Array.isArray(input) &&
    input.length > 0 &&
    (input.every((i) => typeof i === 'string') || input.every(isTokens))
  )
    items = input as Array<string | number[]>;
  else throw invalidInput();
  // The array forms have maxItems 2048; the wording of this refusal was not found.
  if (Array.isArray(input) && typeof input[0] !== 'number' && items.length > MAX_INPUTS)
    throw invalid(
      'input',
      `Invalid 'input': an array of inputs may have at most ${MAX_INPUTS} items; it has ${items.length}.`,
    );
  return items.map((item, index) => {
    // "The input … cannot be an empty string" (the spec).
    if (item === '') throw invalidInput();
    if (typeof item === 'string') return { text: item, tokens: countTokens(item) };
    const text = decodeTokens(item);
    if (text === undefined)
      throw invalid('input', `Invalid 'input[${index}]': it holds an id that is not a cl100k_base token.`);
    return { text, tokens: item.length };
  });
}

/**
 * The one answer to an embeddings request's body, whoever asked: the online route and each line of a
 * batch. A request OpenAI would refuse is the ApiError it would answer with; nothing is recorded here.
 */
export function createEmbeddings(raw: unknown): AnsweredEmbeddings | ApiError {
  try {
    return embed(raw);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
}

function embed(raw: unknown): AnsweredEmbeddings {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ApiError(400, 'We could not parse the JSON body of your request.');
  const body = raw as Record<string, unknown>;
  // additionalProperties: false. "Unrecognized request argument supplied: X" is how the live API refuses
  // an unknown argument on its other routes, as remembered; not found in a stored source for this one.
  const extra = Object.keys(body).find((key) => !FIELDS.has(key));
  if (extra !== undefined)
    throw new ApiError(400, `Unrecognized request argument supplied: ${extra}`, extra, null);
  for (const required of ['model', 'input'])
    if (body[required] === undefined || body[required] === null)
      throw new ApiError(
        400,
        `Missing required parameter: '${required}'.`,
        required,
        'missing_required_parameter',
      );
  if (typeof body.model !== 'string')
    throw invalid('model', `Invalid type for 'model': expected a string, but got ${typeName(body.model)}.`);
  const model = body.model;
  const rules = EMBEDDING_MODELS[model];
  if (!rules) throw modelNotFound(model);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64')
    throw invalid(
      'encoding_format',
      `Invalid value for 'encoding_format': ${JSON.stringify(format)}. Supported values are: 'float' and 'base64'.`,
    );
  if (body.user !== undefined && typeof body.user !== 'string')
    throw invalid('user', `Invalid type for 'user': expected a string, but got ${typeName(body.user)}.`);
  let dimensions = rules.dimensions;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    // "This model does not support specifying dimensions." is the live answer for ada-002, as remembered;
    // not found in a stored source.
    if (!rules.shortens)
      throw invalid('dimensions', 'This model does not support specifying dimensions.', null);
    // The spec says integer ≥ 1 and no maximum; the model's native size as the maximum is what every
    // copy says (docs/embeddings-facts.md 1.1, NOT CONFIRMED officially). The wording is the emulator's.
    if (
      typeof body.dimensions !== 'number' ||
      !Number.isInteger(body.dimensions) ||
      body.dimensions < 1 ||
      body.dimensions > rules.dimensions
    )
      throw invalid(
        'dimensions',
        `Invalid 'dimensions': ${JSON.stringify(body.dimensions)}. ${model} takes an integer from 1 to ${rules.dimensions}.`,
      );
    dimensions = body.dimensions;
  }
  const inputs = readInputs(body.input);
  let tokens = 0;
  for (const input of inputs) {
    // The live answer to an input over the limit: 400 {message: "This model's maximum context length is
    // 8192 tokens, however you requested N tokens (N in your prompt; 0 for the completion). Please reduce
    // your prompt; or completion length.", type: invalid_request_error, param: null, code: null}
    // (microsoft/PubSec-Info-Assistant#755; pingcap/autoflow#265, 2024-09-09, text-embedding-3-small;
    // read 2026-11-30).
    if (input.tokens > MAX_INPUT_TOKENS)
      throw new ApiError(
        400,
        `This model's maximum context length is ${MAX_INPUT_TOKENS} tokens, however you requested ${input.tokens} tokens (${input.tokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
      );
    tokens += input.tokens;
  }
  // "Requested N tokens, max 300000 tokens per request" with code max_tokens_per_request is the live
  // answer as remembered; not found in a stored source.
  if (tokens > MAX_REQUEST_TOKENS)
    throw new ApiError(
      400,
      `Requested ${tokens} tokens, max ${MAX_REQUEST_TOKENS} tokens per request`,
      'input',
      'max_tokens_per_request',
    );
  return {
    model,
    inputs: inputs.length,
    tokens,
    body: {
      object: 'list',
      data: inputs.map((input, index) => {
        const vector = localEmbedding(input.text, dimensions);
        return {
          object: 'embedding',
          index,
          embedding: format === 'base64' ? float32Base64(vector) : vector,
        };
      }),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
  };
}

/**
 * encoding_format base64: the vector's float32 values, little-endian, base64-encoded, the layout the SDKs
 * decode (openai-node's toFloat32Array, node_modules/openai/internal/utils/base64.mjs, read 2026-11-30; not
 * stated in the spec: docs/embeddings-facts.md 1.3).
 */
export function float32Base64(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The route; the store's embeddingCalls records every answer. */
export const embeddings: Route = async ({ store }, { method, path, request }) => {
  if (method !== 'POST' || path !== '/embeddings') return undefined;
  const answered = createEmbeddings(await readJson(request));
  if (answered instanceof ApiError) throw answered;
  store.embeddingCalls.record(answered.model, { inputs: answered.inputs, tokens: answered.tokens });
  return { json: answered.body };
};
