import { get_encoding, type Tiktoken } from 'tiktoken';
import { bytePairCount, ranksFromDecoder, type MergeableRanks } from './bpe.js';
import { imageInfoOf } from './images.js';

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
const MEMO_LIMIT = 10_000;
const MEMO_MAX_TEXT = 2_048;
const memo = new Map<string, number>();
let encoder: Tiktoken | undefined;
const encoding = () => (encoder ??= get_encoding('o200k_base'));

export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length > MEMO_MAX_TEXT) return countByPieces(text);
  const known = memo.get(text);
  if (known !== undefined) return known;
  const count = countByPieces(text);
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(text, count);
  return count;
}

/**
 * o200k_base splits text with this pattern before byte-pair encoding, and no token crosses a piece, so
 * a text's count is the sum of its pieces' counts. Words repeat far more than whole messages, so counts
 * are remembered per piece. (The pattern is tiktoken's, with its case-insensitive group spelled out for
 * JavaScript; a test checks it against tiktoken on the real corpus and on random text.)
 */
const CONTRACTION = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?";
export const O200K_PIECE = new RegExp(
  [
    `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+${CONTRACTION}`,
    `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*${CONTRACTION}`,
    '\\p{N}{1,3}',
    ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*',
    '\\s*[\\r\\n]+',
    '\\s+(?!\\S)',
    '\\s+',
  ].join('|'),
  'gu',
);
const PIECE_MEMO_LIMIT = 200_000;
const pieceMemo = new Map<string, number>();
/** Share of pieces found in the memo, recently; below a half, whole texts are cheaper to encode. */
let pieceHitRate = 1;
let sampled = 0;

/**
 * Pieces longer than this (UTF-16 units) are merged by bpe.ts instead of tiktoken, whose merge is
 * quadratic in a piece's length. Measured on runs of spaces, letters and CJK (ns per UTF-8 byte,
 * tiktoken / bpe.ts): 128 chars 110-230 / 75-150, 256 chars 190-420 / 55-115, 1,024 chars 570-1,520 /
 * 37-70, 100,000 chars ~70,000 / 40-62. Below 256 tiktoken is close, and needs no rank table (~0.4 s
 * to build), which text without a long piece then never pays for.
 */
export const LONG_PIECE = 256;
/** o200k_base's mergeable ranks are 0..199,997 (199,998 has no token; specials are above). */
const O200K_MERGEABLE = 199_998;
/** The rank table, built on the first long piece only: ~0.3 s and ~13 MB of heap (measured). */
let vocabulary: MergeableRanks | undefined;
const o200kRanks = () =>
  (vocabulary ??= ranksFromDecoder(O200K_MERGEABLE, (rank) => encoding().decode_single_token_bytes(rank)));
/** Long pieces repeat too (a padding run on every line); their counts are kept, as copies, up to a budget. */
const LONG_MEMO_CHARS = 4 * 1024 * 1024;
const longMemo = new Map<string, number>();
let longMemoChars = 0;

/** A long piece's count (see LONG_PIECE); short ones go through memoPiece. */
function countLongPiece(piece: string): number {
  const known = longMemo.get(piece);
  if (known !== undefined) return known;
  const count = bytePairCount(piece, o200kRanks());
  if (longMemoChars + piece.length > LONG_MEMO_CHARS) {
    longMemo.clear();
    longMemoChars = 0;
  }
  if (piece.length <= LONG_MEMO_CHARS / 4) {
    // A fresh flat copy, so that the key does not keep the (possibly huge) text it was cut from.
    longMemo.set(Buffer.from(piece, 'utf16le').toString('utf16le'), count);
    longMemoChars += piece.length;
  }
  return count;
}

/** Above this length a text's pieces are visited one at a time, not collected into one array. */
const HUGE_TEXT = 1 << 20;
const PIECE_CURSOR = new RegExp(O200K_PIECE.source, O200K_PIECE.flags);

function countByPieces(text: string): number {
  if (text.length > HUGE_TEXT) {
    let total = 0;
    PIECE_CURSOR.lastIndex = 0;
    for (let m = PIECE_CURSOR.exec(text); m !== null; m = PIECE_CURSOR.exec(text)) {
      const piece = m[0];
      total += piece.length <= LONG_PIECE ? memoPiece(piece).count : countLongPiece(piece);
    }
    return total;
  }
  // match() with the g flag returns just the piece strings: less garbage than matchAll's match objects.
  const pieces = text.match(O200K_PIECE) ?? [];
  // On text whose words do not repeat, one encoder call per text beats one per piece; keep sampling
  // every 16th text so that the choice follows the data. Not with a long piece in it: tiktoken's merge is
  // quadratic in a piece's length.
  if (pieceHitRate < 0.5 && sampled++ % 16 !== 0 && !pieces.some((piece) => piece.length > LONG_PIECE))
    return encoding().encode_ordinary(text).length;
  let total = 0;
  let hits = 0;
  for (const piece of pieces) {
    if (piece.length > LONG_PIECE) {
      total += countLongPiece(piece);
      continue;
    }
    const { count, hit } = memoPiece(piece);
    if (hit) hits++;
    total += count;
  }
  if (pieces.length > 0) pieceHitRate = 0.9 * pieceHitRate + 0.1 * (hits / pieces.length);
  return total;
}

function memoPiece(piece: string): { count: number; hit: boolean } {
  const known = pieceMemo.get(piece);
  if (known !== undefined) return { count: known, hit: true };
  const count = encoding().encode_ordinary(piece).length;
  if (pieceMemo.size >= PIECE_MEMO_LIMIT) pieceMemo.clear();
  pieceMemo.set(piece, count);
  return { count, hit: false };
}

/**
 * The longest token of o200k_base, in UTF-8 bytes (a run of 128 spaces); a test checks it against the
 * rank table. No token covers more bytes, so a text of B bytes needs at least B / 128 tokens.
 */
export const O200K_MAX_TOKEN_BYTES = 128;

/**
 * A cheap lower bound on countTextTokens(text): its UTF-8 length over the longest token's, in one pass
 * without tokenizing. A line whose bound already exceeds a model's limit can be refused unread.
 */
export function tokenLowerBound(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / O200K_MAX_TOKEN_BYTES);
}

/** The rank table bpe.ts merges with (built on first use), for tests. */
export function o200kVocabulary(): MergeableRanks {
  return o200kRanks();
}

/** tiktoken's own count, for tests that check the piece arithmetic above. */
export function encoderCount(text: string): number {
  return encoding().encode_ordinary(text).length;
}

export interface ExampleTokens {
  total: number;
  /** Tokens before the last message that is trained on: what must fit for training to see an answer. */
  beforeLastAnswer: number;
  /** Set when the example has images: their count and tokens (included in `total`). */
  images?: ImageTokens;
}

export interface ImageTokens {
  images: number;
  tokens: number;
  /** Images behind URLs, not read: counted at the most an image can cost (an upper estimate). */
  estimatedImages: number;
  estimatedTokens: number;
}

/**
 * What counting an example takes: the texts to tokenize, and how their counts add up. Split from the
 * arithmetic so that the texts can be counted elsewhere (a worker thread) and in batches.
 */
export interface TokenPlan {
  texts: string[];
  /** For each text, the index of its message, or -1 for the tool definitions. */
  owners: number[];
  /** Per message: 3 tokens of framing, plus 1 for a name, plus its images (fixed, never tokenized). */
  framing: number[];
  /** Index of the last message that is trained on, or -1. */
  lastAnswer: number;
  images?: ImageTokens;
}

/**
 * Content given as parts counts its text parts as text and its images at their fixed cost (images.ts):
 * a base64 image tokenized as text would count millions of tokens that are never billed, and slowly.
 */
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
      if (key === 'content' && Array.isArray(value)) {
        for (const part of value as unknown[]) {
          const image = imagePart(part);
          if (image) framing += addImage(plan, image);
          else if (isTextPart(part)) add(part.text, index);
          else add(part, index);
        }
        continue;
      }
      add(value, index);
      if (key === 'name') framing += TOKENS_PER_NAME;
    }
    plan.framing.push(framing);
    if (message.role === 'assistant' && message.weight !== 0) plan.lastAnswer = index;
  });
  return plan;
}

function imagePart(part: unknown): { url?: unknown; detail?: unknown } | undefined {
  if (typeof part !== 'object' || part === null) return undefined;
  const { type, image_url: image } = part as Record<string, unknown>;
  return type === 'image_url' && typeof image === 'object' && image !== null ? image : undefined;
}

function isTextPart(part: unknown): part is { text: string } {
  return (
    typeof part === 'object' &&
    part !== null &&
    (part as Record<string, unknown>).type === 'text' &&
    typeof (part as Record<string, unknown>).text === 'string'
  );
}

function addImage(plan: TokenPlan, image: { url?: unknown; detail?: unknown }): number {
  const info = imageInfoOf(image);
  const images = (plan.images ??= { images: 0, tokens: 0, estimatedImages: 0, estimatedTokens: 0 });
  images.images++;
  images.tokens += info.tokens;
  if (info.estimated) {
    images.estimatedImages++;
    images.estimatedTokens += info.tokens;
  }
  return info.tokens;
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
  return plan.images ? { total, beforeLastAnswer, images: plan.images } : { total, beforeLastAnswer };
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
