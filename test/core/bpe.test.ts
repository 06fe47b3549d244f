import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { bytePairCount } from '../../functions/core/bpe.js';
import {
  countTextTokens,
  encoderCount,
  LONG_PIECE,
  O200K_MAX_TOKEN_BYTES,
  O200K_PIECE,
  o200kVocabulary,
  tokenLowerBound,
} from '../../functions/core/tokens.js';

/**
 * bpe.ts must merge exactly as tiktoken does; tiktoken (encoderCount) is the reference. Inputs stay a
 * few thousand characters long because tiktoken is quadratic on long pieces, which is the point of bpe.ts.
 */
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/corpus/real');
const pieces = (text: string) => text.match(O200K_PIECE) ?? [];

const CHARS = [...' aZé日本語한국어😀👍🏽\u0301\u0308\n\t!?.,-_/\'"0123456789ǅـ\u3000'];
/** Text built to stress the merge: long runs of one character, repeated patterns, scripts mixed. */
const hardText = fc.oneof(
  fc.tuple(fc.constantFrom(...CHARS), fc.integer({ min: 1, max: 3000 })).map(([c, n]) => c.repeat(n)),
  fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...CHARS), minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 600 }),
    )
    .map(([pattern, n]) => pattern.repeat(n)),
  fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 2000 }),
  fc.string({ unit: 'grapheme', maxLength: 800 }),
  fc.string({
    unit: fc.constantFrom(...'日本語中文字漢かなカナ한글'),
    minLength: LONG_PIECE,
    maxLength: 2500,
  }),
  fc.string({ unit: fc.constantFrom(...'aaabbc'), minLength: LONG_PIECE, maxLength: 3000 }),
);

describe('bytePairCount', () => {
  it('merges every piece of stress text into as many tokens as tiktoken does', () => {
    const vocabulary = o200kVocabulary();
    fc.assert(
      fc.property(hardText, (text) => {
        for (const piece of pieces(text)) expect(bytePairCount(piece, vocabulary)).toBe(encoderCount(piece));
      }),
      { numRuns: 300, seed: 10 },
    );
  });

  it('merges every distinct piece of the real corpus into as many tokens as tiktoken does', () => {
    const vocabulary = o200kVocabulary();
    const seen = new Set<string>();
    for (const file of readdirSync(CORPUS))
      for (const piece of pieces(readFileSync(join(CORPUS, file), 'utf8'))) seen.add(piece);
    expect(seen.size).toBeGreaterThan(1000);
    const wrong = [...seen].filter((piece) => bytePairCount(piece, vocabulary) !== encoderCount(piece));
    expect(wrong.slice(0, 3)).toEqual([]);
  });

  it('counts the empty piece and single bytes as tiktoken does', () => {
    const vocabulary = o200kVocabulary();
    expect(['', 'a', ' ', '\n', 'é', '😀'].map((p) => bytePairCount(p, vocabulary))).toEqual(
      ['', 'a', ' ', '\n', 'é', '😀'].map(encoderCount),
    );
  });
});

describe('countTextTokens on long pieces', () => {
  it('matches tiktoken on stress text, long pieces and all', () => {
    fc.assert(
      fc.property(hardText, (text) => {
        expect(countTextTokens(text)).toBe(encoderCount(text));
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('counts a million spaces, letters and CJK characters as blocks of the longest token, quickly', () => {
    // Runs of one character merge into blocks of the longest token for it (128 spaces, 8 "a", 2 "日"),
    // which tiktoken confirms at a length it handles quickly; a million of each then takes bpe.ts well
    // under a second each (tiktoken: minutes). The test's timeout is the only clock.
    const blocks: Array<[string, number]> = [
      [' ', 128],
      ['a', 8],
      ['日', 2],
    ];
    for (const [c, block] of blocks) {
      expect(encoderCount(c.repeat(4096 + 3))).toBe(Math.ceil((4096 + 3) / block));
      expect(countTextTokens(c.repeat(1_000_003))).toBe(Math.ceil(1_000_003 / block));
    }
  }, 20_000);
});

describe('tokenLowerBound', () => {
  it('uses the longest token of the rank table', () => {
    expect(o200kVocabulary().maxTokenBytes).toBe(O200K_MAX_TOKEN_BYTES);
    expect(tokenLowerBound(' '.repeat(128))).toBe(1);
    expect(tokenLowerBound(' '.repeat(129))).toBe(2);
    expect(tokenLowerBound('')).toBe(0);
  });

  it('never exceeds the exact count', () => {
    fc.assert(
      fc.property(hardText, (text) => {
        expect(tokenLowerBound(text)).toBeLessThanOrEqual(countTextTokens(text));
      }),
      { numRuns: 300, seed: 12 },
    );
  });
});
