import { countTokens } from '../openai-emulator/embeddings.js';
import { localEmbedding } from '../embeddings/vectors.js';

/**
 * Amazon Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`) through InvokeModel, locally, with
 * the local providers' vectors (../embeddings/vectors.ts localEmbedding). Body and answer as
 * docs/embeddings-facts.md 3.1–3.2 records them from
 * https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html and
 * titan-embedding-models.html (read 2026-11-30):
 * - body {inputText (required, non-empty, at most 50,000 characters and 8,192 tokens), dimensions (1024
 *   default, 512, 256), normalize (default true), embeddingTypes (a list of "float" and/or "binary",
 *   default float)};
 * - answer {embedding (always float), inputTextTokenCount (the billed count), embeddingsByType {float?,
 *   binary?}}.
 * Local stand-ins, said here: Titan's tokenizer is not published, so tokens are counted with cl100k_base
 * (../openai-emulator/embeddings.ts countTokens); a binary embedding is 1 for a positive value and 0
 * otherwise (AWS's binarisation is NOT CONFIRMED); with normalize false the unit vector is scaled by
 * √(inputTextTokenCount), a deterministic norm ≥ 1 (Titan's raw norms are not documented).
 */
export const TITAN_EMBED_V2 = 'amazon.titan-embed-text-v2:0';
export const TITAN_DIMENSIONS = [1024, 512, 256] as const;
export const TITAN_MAX_CHARACTERS = 50_000;
export const TITAN_MAX_TOKENS = 8192;
const KEYS = new Set(['inputText', 'dimensions', 'normalize', 'embeddingTypes']);

/** A ValidationException's message (the runtime sends it with its type). */
export class TitanValidationError extends Error {}

export interface TitanAnswer {
  body: {
    embedding: number[];
    inputTextTokenCount: number;
    embeddingsByType: { float?: number[]; binary?: number[] };
  };
  tokens: number;
}

/**
 * The schema violations of a body, in the words Bedrock's JSON-schema check uses for model bodies:
 * "#: required key [x] not found", "#: extraneous key [x] is not permitted" (Titan, aws-samples/
 * serverless-pdf-chat#35, 2024-02-15; promptfoo/promptfoo#921, 2024-06-13), "#/x: expected minLength: 1,
 * actual: 0" (aws-samples/aws-genai-llm-chatbot#279, 2023-12-19), "#/x: expected type: JSONArray, found:
 * String" (langgenius/dify#3326, 2024-04-10); all read 2026-11-30. The enum and maxLength wordings follow
 * the same checker's pattern and were not found for Titan.
 */
function violations(body: Record<string, unknown>): string[] {
  const found: string[] = [];
  const typeOf = (value: unknown) =>
    value === null
      ? 'Null'
      : Array.isArray(value)
        ? 'JSONArray'
        : typeof value === 'number'
          ? Number.isInteger(value)
            ? 'Integer'
            : 'BigDecimal'
          : typeof value === 'object'
            ? 'JSONObject'
            : typeof value === 'string'
              ? 'String'
              : 'Boolean';
  for (const key of Object.keys(body))
    if (!KEYS.has(key)) found.push(`#: extraneous key [${key}] is not permitted`);
  const { inputText, dimensions, normalize, embeddingTypes } = body;
  if (inputText === undefined) found.push('#: required key [inputText] not found');
  else if (typeof inputText !== 'string')
    found.push(`#/inputText: expected type: String, found: ${typeOf(inputText)}`);
  else if (inputText.length < 1) found.push('#/inputText: expected minLength: 1, actual: 0');
  else if (inputText.length > TITAN_MAX_CHARACTERS)
    found.push(`#/inputText: expected maxLength: ${TITAN_MAX_CHARACTERS}, actual: ${inputText.length}`);
  if (dimensions !== undefined && !(TITAN_DIMENSIONS as readonly unknown[]).includes(dimensions))
    found.push(`#/dimensions: ${JSON.stringify(dimensions)} is not a valid enum value`);
  if (normalize !== undefined && typeof normalize !== 'boolean')
    found.push(`#/normalize: expected type: Boolean, found: ${typeOf(normalize)}`);
  if (embeddingTypes !== undefined) {
    if (!Array.isArray(embeddingTypes))
      found.push(`#/embeddingTypes: expected type: JSONArray, found: ${typeOf(embeddingTypes)}`);
    else
      embeddingTypes.forEach((type, i) => {
        if (type !== 'float' && type !== 'binary')
          found.push(`#/embeddingTypes/${i}: ${JSON.stringify(type)} is not a valid enum value`);
      });
  }
  return found;
}

/** InvokeModel's answer for Titan Text Embeddings V2, or a TitanValidationError. */
export function titanEmbedding(raw: Buffer): TitanAnswer {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    // The generic wording Bedrock gives a body it cannot read (aws-samples/amazon-bedrock-client-for-mac#12,
    // 2023-12-07, read 2026-11-30).
    throw new TitanValidationError('Malformed input request, please reformat your input and try again.');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new TitanValidationError(
      'Malformed input request: #: expected type: JSONObject, please reformat your input and try again.',
    );
  const found = violations(body as Record<string, unknown>);
  // One violation is named; several are counted ("2 schema violations found", spring-projects/spring-ai#788,
  // 2024-05-29, Titan embeddings, read 2026-11-30).
  if (found.length === 1)
    throw new TitanValidationError(
      `Malformed input request: ${found[0]}, please reformat your input and try again.`,
    );
  if (found.length > 1)
    throw new TitanValidationError(
      `Malformed input request: ${found.length} schema violations found, please reformat your input and try again.`,
    );
  const request = body as {
    inputText: string;
    dimensions?: number;
    normalize?: boolean;
    embeddingTypes?: Array<'float' | 'binary'>;
  };
  const tokens = countTokens(request.inputText);
  // "up to 8,192 tokens" (the Titan page); the wording of this refusal was not found.
  if (tokens > TITAN_MAX_TOKENS)
    throw new TitanValidationError(
      `400 Bad Request: Too many input tokens. Max input tokens: ${TITAN_MAX_TOKENS}, request input token count: ${tokens}`,
    );
  const unit = localEmbedding(request.inputText, request.dimensions ?? 1024);
  const scale = request.normalize === false ? Math.sqrt(Math.max(1, tokens)) : 1;
  const embedding = scale === 1 ? unit : unit.map((value) => Math.fround(value * scale));
  const types = new Set(request.embeddingTypes?.length ? request.embeddingTypes : ['float']);
  return {
    tokens,
    body: {
      embedding,
      inputTextTokenCount: tokens,
      embeddingsByType: {
        ...(types.has('float') ? { float: embedding } : {}),
        ...(types.has('binary') ? { binary: embedding.map((value) => (value > 0 ? 1 : 0)) } : {}),
      },
    },
  };
}
