import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { bytePairCount, type MergeableRanks } from '../../functions/core/bpe.js';
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

/** tiktoken's merge, as written (quadratic): the reference for vocabularies tiktoken does not have. */
function referenceCount(piece: string, vocabulary: MergeableRanks): number {
  const bytes = Buffer.from(piece, 'utf8').toString('latin1');
  if (vocabulary.ranks.has(bytes)) return 1;
  const parts = [...bytes];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = vocabulary.ranks.get(parts[i]! + parts[i + 1]!);
      if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
    }
    if (best < 0) return parts.length;
    parts.splice(best, 2, parts[best]! + parts[best + 1]!);
  }
}

/**
 * A vocabulary of the 256 bytes and random strings of a and b, ranked in random order: a token often
 * ranks below the tokens it is made of, which o200k_base never does, so a merge can make a pair of a
 * lower rank than its own, and bytePairCount's buckets must step back to it.
 */
const randomVocabulary = fc
  .uniqueArray(fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 2, maxLength: 8 }), {
    minLength: 1,
    maxLength: 120,
  })
  .map((tokens): MergeableRanks => {
    const ranks = new Map<string, number>();
    for (let byte = 0; byte < 256; byte++) ranks.set(String.fromCharCode(byte), 1000 + byte);
    tokens.forEach((token, i) => ranks.set(token, i));
    return { ranks, maxTokenBytes: Math.max(...tokens.map((token) => token.length)) };
  });

describe('bytePairCount on other vocabularies', () => {
  it("merges by tiktoken's rule when tokens rank below their parts", () => {
    fc.assert(
      fc.property(
        randomVocabulary,
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 300 }), { maxLength: 8 }),
        (vocabulary, texts) => {
          for (const text of texts)
            expect(bytePairCount(text, vocabulary)).toBe(referenceCount(text, vocabulary));
        },
      ),
      { numRuns: 150, seed: 13 },
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
