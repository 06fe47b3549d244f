import { get_encoding, type Tiktoken } from 'tiktoken';

/**
 * Token counting by OpenAI's published convention for chat examples (OpenAI Cookbook, "How to count
 * tokens with tiktoken"): every message costs 3 tokens of framing plus the tokens of each of its string
 * fields, a `name` one more, and the reply is primed with 3. Non-string fields (content parts, tool
 * calls) are counted as their JSON text. o200k_base is the tokenizer of the gpt-4o and gpt-4.1 families.
 *
 * The tokenizer was chosen by measurement (npm run bench, and docs/performance.md): tiktoken's WASM
 * encoder gives the same counts as gpt-tokenizer and js-tiktoken and is about 10x faster than
 * gpt-tokenizer on text that does not repeat; repetition is handled here, by remembering counts of
 * repeated texts. Special-token text is counted as plain text (encode_ordinary), as the trainer sees it.
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;

/** System prompts and labels repeat across a dataset; their counts are remembered, up to a bound. */
const MEMO_LIMIT = 50_000;
const MEMO_MAX_TEXT = 4_096;
const memo = new Map<string, number>();
let encoder: Tiktoken | undefined;
const encoding = () => (encoder ??= get_encoding('o200k_base'));

export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length > MEMO_MAX_TEXT) return encoding().encode_ordinary(text).length;
  const known = memo.get(text);
  if (known !== undefined) return known;
  const count = encoding().encode_ordinary(text).length;
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(text, count);
  return count;
}

export interface ExampleTokens {
  total: number;
  /** Tokens before the last message that is trained on: what must fit for training to see an answer. */
  beforeLastAnswer: number;
}

/**
 * What counting an example takes: the texts to tokenize, and how their counts add up. Split from the
 * arithmetic so that the texts can be counted elsewhere (a worker thread) and in batches.
 */
export interface TokenPlan {
  texts: string[];
  /** For each text, the index of its message, or -1 for the tool definitions. */
  owners: number[];
  /** Per message: 3 tokens of framing, plus 1 for a name. */
  framing: number[];
  /** Index of the last message that is trained on, or -1. */
  lastAnswer: number;
}

export function planExampleTokens(
  messages: ReadonlyArray<Readonly<Record<string, unknown>>>,
  tools?: unknown,
): TokenPlan {
  const plan: TokenPlan = { texts: [], owners: [], framing: [], lastAnswer: -1 };
  const add = (value: unknown, owner: number) => {
    if (value === null || value === undefined) return;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text.length === 0) return;
    plan.texts.push(text);
    plan.owners.push(owner);
  };
  if (tools !== undefined) add(tools, -1);
  messages.forEach((message, index) => {
    let framing = TOKENS_PER_MESSAGE;
    for (const [key, value] of Object.entries(message)) {
      if (key === 'weight') continue;
      add(value, index);
      if (key === 'name') framing += TOKENS_PER_NAME;
    }
    plan.framing.push(framing);
    if (message.role === 'assistant' && message.weight !== 0) plan.lastAnswer = index;
  });
  return plan;
}

export function totalsFromCounts(plan: TokenPlan, counts: ArrayLike<number>): ExampleTokens {
  const perMessage = plan.framing.slice();
  let tools = 0;
  for (let i = 0; i < plan.texts.length; i++) {
    const owner = plan.owners[i]!;
    if (owner < 0) tools += counts[i]!;
    else perMessage[owner]! += counts[i]!;
  }
  let total = REPLY_PRIMING_TOKENS + tools;
  let beforeLastAnswer = total;
  perMessage.forEach((tokens, index) => {
    if (index === plan.lastAnswer) beforeLastAnswer = total;
    total += tokens;
  });
  return { total, beforeLastAnswer };
}

export function countExampleTokens(
  messages: ReadonlyArray<Readonly<Record<string, unknown>>>,
  tools?: unknown,
): ExampleTokens {
  const plan = planExampleTokens(messages, tools);
  return totalsFromCounts(plan, plan.texts.map(countTextTokens));
}

export function countMessagesTokens(
  messages: ReadonlyArray<Readonly<Record<string, unknown>>>,
  tools?: unknown,
): number {
  return countExampleTokens(messages, tools).total;
}
