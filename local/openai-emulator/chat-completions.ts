import { randomBytes } from 'node:crypto';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { z } from 'zod';
import { ApiError } from './api-error.js';
import { BigramModel, type GeneratedToken, type TokenLogprob } from './bigram-model.js';
import { readJson, type Route } from './http.js';
import { OPENAI_JOB_RULES } from './job-request.js';
import { now, type ChatCompletionUsage, type Store } from './store.js';
import { chatPrompt } from './training-file.js';

/**
 * OpenAI's POST /v1/chat/completions for the models this emulator knows: a fine-tuned model answers from
 * what it learned (its BigramModel, see bigram-model.ts), a base model it fine-tunes from a model trained
 * on nothing, so that comparing the two measures what training taught. The prompt is the messages as
 * training serialises an example (training-file.ts chatPrompt), so a model is asked the way it learned.
 * Request and response follow CreateChatCompletionRequest / CreateChatCompletionResponse of
 * ../shared/openai/openapi.yaml; OpenAI's behaviour below is cited with where it was read (2026-11-30).
 * Not emulated: streaming, tools, response formats, audio; their parameters are refused or ignored as
 * said at each. The route and each line of a batch (batches.ts) are answered by one function,
 * completeChat.
 */

/**
 * A model neither fine-tuned here (or deleted) nor a base model: 404 {message: "The model `X` does not
 * exist or you do not have access to it.", type: invalid_request_error, param: null, code:
 * model_not_found}, as the live API answered (openai/openai-agents-python#458, 2025-04-08; the same
 * wording in Aider-AI/aider#2030, 2024-10-11).
 */
const modelNotFound = (model: string) =>
  new ApiError(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    null,
    'model_not_found',
  );

/**
 * OpenAI's default is the model's output limit (16,384 tokens for gpt-4o-mini); a model trained on
 * nothing never emits its end token, so the emulator stops an answer without max_tokens at this length.
 */
const DEFAULT_MAX_TOKENS = 4096;
/** The most an answer may ask for: the largest output of the base models fine-tuned here (gpt-4.1's 32,768). */
const MAX_TOKENS_LIMIT = 32_768;
/**
 * ChatCompletionTokenLogprob.logprob: "The log probability of this token, if it is within the top 20 most
 * likely tokens. Otherwise, the value `-9999.0` is used" (the spec).
 */
const UNLIKELY = -9999;

/** Text content: a string, or text parts (ChatCompletionRequestMessageContentPartText). */
const content = z.union([
  z.string(),
  z.array(z.object({ type: z.literal('text'), text: z.string() })).min(1),
]);
/**
 * The roles the spec's ChatCompletionRequestMessage has that carry text: developer, system, user and
 * assistant (tool and function messages answer tool calls, which this emulator's models never make).
 */
const message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('developer'), content, name: z.string().optional() }),
  z.object({ role: z.literal('system'), content, name: z.string().optional() }),
  z.object({ role: z.literal('user'), content, name: z.string().optional() }),
  z.object({
    role: z.literal('assistant'),
    content: content.nullish(),
    name: z.string().optional(),
    refusal: z.string().nullish(),
  }),
]);

/**
 * The request's fields the emulator acts on, with the spec's limits: temperature 0..2, n 1..128,
 * top_logprobs 0..20, stop a string or 1..4 strings. Other fields of the spec (top_p, user, metadata…)
 * are accepted and have no effect here.
 */
const chatRequest = z.object({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  seed: z.number().int().nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  stop: z.union([z.string(), z.array(z.string()).min(1).max(4)]).nullish(),
  stream: z.boolean().nullish(),
});
type ChatRequest = z.infer<typeof chatRequest>;

/**
 * The model that answers for `model` and the name the answer carries: a fine-tuned one's learned model,
 * or for a base model (by snapshot or alias) an empty one, named by its snapshot as OpenAI's answers name
 * the snapshot an alias resolves to (`gpt-4o-mini` answers as `gpt-4o-mini-2024-07-18`).
 */
function answeringModel(store: Store, model: string): { name: string; weights: BigramModel } {
  const fineTuned = store.fineTunedModel(model);
  if (fineTuned?.weights instanceof BigramModel) return { name: model, weights: fineTuned.weights };
  const base = OPENAI_JOB_RULES.models[model];
  if (!fineTuned && base) return { name: base.snapshot, weights: UNTRAINED };
  throw modelNotFound(model);
}
/** A base model, as far as this emulator can know one: trained on nothing. */
const UNTRAINED = new BigramModel();

/** What a chat completion answered: the response body, and what it is recorded and billed as. */
export interface AnsweredChat {
  /** The name the answer carries (a base model's snapshot when the request named its alias). */
  model: string;
  /** CreateChatCompletionResponse. */
  body: ChatCompletionBody;
  usage: Omit<ChatCompletionUsage, 'calls'>;
}

export interface ChatCompletionBody {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: unknown[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  system_fingerprint: string;
  service_tier: 'default';
}

/**
 * The one answer to a chat completion request's body, whoever asked: the online route below and each
 * line of a batch (batches.ts), so that a batch answers exactly as the route does. A request OpenAI
 * would refuse is the ApiError it would answer with; nothing is recorded here, the caller records it
 * where it belongs (online calls and batch lines are counted apart).
 */
export function completeChat(store: Store, raw: unknown): AnsweredChat | ApiError {
  try {
    return answer(store, parseRequest(raw));
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
}

/** The route; the store's chatCompletions records every answer. */
export const chatCompletions: Route = async ({ store }, { method, path, request }) => {
  if (method !== 'POST' || path !== '/chat/completions') return undefined;
  const answered = completeChat(store, await readJson(request));
  if (answered instanceof ApiError) throw answered;
  store.chatCompletions.record(answered.model, answered.usage);
  return { json: answered.body };
};

function answer(store: Store, body: ChatRequest): AnsweredChat {
  const { name, weights: model } = answeringModel(store, body.model);
  const prompt = chatPrompt(body.messages.map((m) => ({ role: m.role, content: m.content ?? '' })));
  const promptTokens = billedPromptTokens(body.messages);
  const stops = body.stop === undefined || body.stop === null ? [] : [body.stop].flat();
  const seed = body.seed ?? randomBytes(4).readUInt32LE();
  const choices = Array.from({ length: body.n ?? 1 }, (_, index) => {
    const generation = model.generate(prompt, {
      maxTokens: Math.min(
        body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
        MAX_TOKENS_LIMIT,
      ),
      temperature: body.temperature ?? 1,
      // Each choice its own draw, all reproducible from the request's seed.
      seed: seed + index,
      topLogprobs: body.top_logprobs ?? 0,
      shouldStop: stops.length ? (tokens) => stopIndex(decode(tokens), stops) >= 0 : undefined,
    });
    return choice(index, generation.tokens, generation.finishReason, stops, body.logprobs === true);
  });
  const completionTokens = choices.reduce((sum, c) => sum + c.tokens, 0);
  return {
    model: name,
    usage: { choices: choices.length, promptTokens, completionTokens },
    body: {
      id: `chatcmpl-${randomBytes(15).toString('base64url')}`,
      object: 'chat.completion',
      created: now(),
      model: name,
      choices: choices.map((c) => c.json),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
      system_fingerprint: 'fp_tunedrop_emulator',
      service_tier: 'default',
    },
  };
}

/**
 * prompt_tokens as OpenAI bills a chat's prompt, by the convention of the OpenAI Cookbook ("How to count
 * tokens with tiktoken", which functions/core/tokens.ts follows too): 3 tokens per message, its role's
 * and content's tokens, 1 for a name, and 3 priming the reply. The model itself reads the messages as
 * training serialises them (chatPrompt), a few tokens more.
 */
function billedPromptTokens(messages: ChatRequest['messages']): number {
  const count = (text: string) => encode(text, { disallowedSpecial: new Set<string>() }).length;
  return messages.reduce((sum, m) => {
    const content =
      typeof m.content === 'string' ? m.content : (m.content ?? []).map((part) => part.text).join('');
    return sum + 3 + count(m.role) + count(content) + (m.name ? count(m.name) + 1 : 0);
  }, 3);
}

/** The body checked as OpenAI checks it; the first problem is a 400 naming the parameter. */
function parseRequest(raw: unknown): ChatRequest {
  const parsed = chatRequest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${String(part)}`))
      .join('');
    // How OpenAI words each invalid value was not found; the message names the parameter and the rule.
    throw new ApiError(400, `Invalid '${param}': ${issue.message}.`, param || null, 'invalid_value');
  }
  const body = parsed.data;
  if (body.stream)
    throw new ApiError(400, 'This emulator does not stream chat completions.', 'stream', 'unsupported_value');
  // "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.", 400
  // invalid_request_error, code invalid_parameter_combination, param max_tokens, as the live API answered
  // (langchain-ai/langgraph#5943, 2025-08-19).
  if (isSet(body.max_tokens) && isSet(body.max_completion_tokens))
    throw new ApiError(
      400,
      "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
      'max_tokens',
      'invalid_parameter_combination',
    );
  // The spec: "`logprobs` must be set to `true` if this parameter is used." (top_logprobs). The live
  // answer's wording was not found; this one says the rule.
  if (isSet(body.top_logprobs) && body.logprobs !== true)
    throw new ApiError(
      400,
      "Invalid 'top_logprobs': 'logprobs' must be set to true if 'top_logprobs' is used.",
      'top_logprobs',
      'invalid_parameter_combination',
    );
  return body;
}

const isSet = <T>(value: T | null | undefined): value is T => value !== undefined && value !== null;

interface Choice {
  json: unknown;
  tokens: number;
}

/**
 * One choice: the answer's text (cut before a stop sequence, which "the returned text will not contain",
 * StopConfiguration in the spec), its logprobs when asked (the tokens of the returned text), and why it
 * ended. completion_tokens counts the tokens generated; the end token, which is not part of the answer,
 * is not counted.
 */
function choice(
  index: number,
  generated: GeneratedToken[],
  finishReason: 'stop' | 'length',
  stops: string[],
  withLogprobs: boolean,
): Choice {
  let text = decode(generated.map((t) => t.token));
  let kept = generated;
  const cut = stopIndex(text, stops);
  if (cut >= 0) {
    text = text.slice(0, cut);
    // The tokens whose text lies wholly before the stop sequence.
    let length = 0;
    kept = generated.filter((t) => (length += decode([t.token]).length) <= cut);
  }
  return {
    tokens: generated.length,
    json: {
      index,
      message: { role: 'assistant', content: text, refusal: null, annotations: [] },
      logprobs: withLogprobs ? { content: kept.map(tokenLogprob), refusal: null } : null,
      finish_reason: finishReason,
    },
  };
}

function tokenLogprob(token: GeneratedToken) {
  return {
    ...tokenText(token),
    logprob: token.inTop20 ? token.logprob : UNLIKELY,
    top_logprobs: token.top.map((alternative) => ({
      ...tokenText(alternative),
      logprob: alternative.logprob,
    })),
  };
}

/** Where the earliest stop sequence starts in the text, or -1. */
function stopIndex(text: string, stops: readonly string[]): number {
  const found = stops.map((stop) => (stop ? text.indexOf(stop) : -1)).filter((i) => i >= 0);
  return found.length ? Math.min(...found) : -1;
}

let encoding: Tiktoken | undefined;
/** o200k_base, as functions/core/tokens.ts loads it: the bytes of one token, specials included. */
const tokenBytes = (token: number): Uint8Array =>
  (encoding ??= get_encoding('o200k_base')).decode_single_token_bytes(token);

/** A token's text and UTF-8 bytes; a token that ends mid-character shows U+FFFD in its text, as bytes tell. */
function tokenText({ token }: TokenLogprob): { token: string; bytes: number[] } {
  const bytes = tokenBytes(token);
  return { token: new TextDecoder().decode(bytes), bytes: [...bytes] };
}

function decode(tokens: readonly number[]): string {
  const parts = tokens.map(tokenBytes);
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return new TextDecoder().decode(all);
}
