import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countTextTokens, encoderCount, O200K_PIECE, tokenLowerBound } from '../../functions/core/tokens.js';

/** Counting by pieces (with memos) must give exactly tiktoken's count, on real and on adversarial text. */
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/corpus/real');

function corpusTexts(): string[] {
  const texts: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') texts.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  for (const file of readdirSync(CORPUS)) {
    for (const line of readFileSync(join(CORPUS, file), 'utf8')
      .replace(/^\uFEFF/, '')
      .split('\n')) {
      try {
        const value = JSON.parse(line) as unknown;
        texts.push(JSON.stringify(value));
        walk(value);
      } catch {
        // Not every corpus line is JSON; the text of the others is enough.
      }
    }
  }
  return texts;
}

function randomTexts(n: number): string[] {
  let seed = 11;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = [..."aB Z'sT\n\r\t  9 12345 é日本語🙂—.,!?/\\#->_'re'LL ÄÖü\u0301"];
  return Array.from({ length: n }, () => {
    let text = '';
    for (let k = Math.floor(next() * 40); k > 0; k--) text += alphabet[Math.floor(next() * alphabet.length)];
    return text;
  });
}

describe('countTextTokens', () => {
  it('matches tiktoken exactly on every string of the real corpus', () => {
    const texts = corpusTexts();
    expect(texts.length).toBeGreaterThan(5000);
    const mismatches = texts.filter((text) => countTextTokens(text) !== encoderCount(text));
    expect(mismatches.slice(0, 3)).toEqual([]);
  });

  it('matches tiktoken exactly on random mixes of scripts, digits, spaces, newlines and contractions', () => {
    const texts = randomTexts(20_000);
    // Twice: the second pass answers from the memos.
    for (let pass = 0; pass < 2; pass++) {
      expect(texts.filter((text) => countTextTokens(text) !== encoderCount(text)).slice(0, 3)).toEqual([]);
    }
  });

  it('splits text into pieces that cover it exactly', () => {
    for (const text of randomTexts(2000))
      expect([...text.matchAll(O200K_PIECE)].map((m) => m[0]).join('')).toBe(text);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import {
  countOrBound,
  inThreadCounter,
  NEVER_FITS_TOKENS,
  tokenCounterFor,
  TokenWorkerError,
  workerCounter,
  WORKER_MAX_TEXT,
  WORKER_THRESHOLD_BYTES,
} from '../../functions/core/token-counter.js';

/** A worker script that dies on its first message, as one out of memory does. */
function dyingWorker(): URL {
  const path = join(mkdtempSync(join(tmpdir(), 'tunedrop-worker-')), 'dying.mjs');
  writeFileSync(
    path,
    "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(7));\n",
  );
  return pathToFileURL(path);
}

describe('workerCounter', () => {
  it('counts in worker threads exactly as in this thread, memo and all', async () => {
    const texts = [...randomTexts(3000), ...corpusTexts().slice(0, 3000)];
    const counter = workerCounter(2);
    try {
      const first = await counter.count(texts);
      const again = await counter.count(texts); // answered partly from the memo
      const expected = texts.map(encoderCount);
      expect(first).toEqual(expected);
      expect(again).toEqual(expected);
    } finally {
      await counter.close();
    }
  });
});

describe('workerCounter when a worker dies', () => {
  it('rejects the batches in flight with a TokenWorkerError instead of waiting forever', async () => {
    const counter = workerCounter(2, { script: dyingWorker() });
    try {
      const batches = [counter.count(['a b c']), counter.count(['d e f'])];
      const outcomes = await Promise.allSettled(batches);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(TokenWorkerError);
      }
      // Once no worker is left, batches are counted in this thread.
      await expect(counter.count(['hello world'])).resolves.toEqual([encoderCount('hello world')]);
    } finally {
      await counter.close();
    }
  });

  it('counts texts too large for a worker in this thread, never posting them', async () => {
    const counter = workerCounter(1, { script: dyingWorker() });
    try {
      const huge = 'word '.repeat(WORKER_MAX_TEXT / 5 + 1);
      await expect(counter.count([huge])).resolves.toEqual([countTextTokens(huge)]);
    } finally {
      await counter.close();
    }
  });
});

describe('countOrBound', () => {
  it('answers a text that no model could take with its lower bound, above every limit, without merging it', async () => {
    // 9 MiB of one letter: a single piece, whose merge would hold ~300 MB. Over an OpenAI model's
    // 65,536 at 128 bytes a token at most, though not over Nova Lite's 300k: the model's limit decides.
    const hopeless = 'a'.repeat(9 * 2 ** 20);
    const openAiLimit = 65_536;
    expect(tokenLowerBound(hopeless)).toBeGreaterThan(openAiLimit);
    expect(tokenLowerBound(hopeless)).toBeLessThan(NEVER_FITS_TOKENS);
    expect(countOrBound(hopeless, openAiLimit)).toBe(tokenLowerBound(hopeless));
    expect(await inThreadCounter().count([hopeless, 'hi'], openAiLimit)).toEqual([
      tokenLowerBound(hopeless),
      1,
    ]);
  });

  it('counts exactly every text whose bound fits some model', () => {
    const long = 'word '.repeat(600_000); // 3 MB: over the length worth checking, under the bound
    expect(tokenLowerBound(long)).toBeLessThanOrEqual(NEVER_FITS_TOKENS);
    expect(countOrBound(long)).toBe(encoderCount(long));
  });
});

describe('tokenCounterFor', () => {
  it('uses workers only for large files on machines with more than one core', async () => {
    const small = tokenCounterFor(WORKER_THRESHOLD_BYTES - 1, 8);
    const single = tokenCounterFor(WORKER_THRESHOLD_BYTES * 2, 1);
    const large = tokenCounterFor(WORKER_THRESHOLD_BYTES, 2);
    expect([small.parallelism, single.parallelism, large.parallelism]).toEqual([1, 1, 2]);
    await Promise.all([small.close(), single.close(), large.close()]);
  });
});
