/**
 * Exact byte-pair encoding for long pre-tokenizer pieces, in O(n log n) at worst.
 *
 * tiktoken merges a piece by scanning all its parts for the lowest-ranked adjacent pair after every
 * merge: quadratic in the piece's length (100,000 spaces took ~10 s). The rule is kept exactly — merge
 * the adjacent pair whose concatenation has the lowest rank, the leftmost among equal ranks, until no
 * pair is a token — but over a doubly linked list of parts, with the pairs waiting in one bucket per
 * rank (see Merge). A merge changes at most two pairs (the merged part with its new neighbours on either
 * side); they are appended to their ranks' buckets and the old entries are left behind, recognised as
 * stale when reached because the rank stored for their part no longer matches (lazy invalidation).
 * Measured: 40–60 ns a byte on 100,000-character runs of spaces, random letters or CJK (the 4-ary heap
 * this replaced took 100–220, mostly in heap operations).
 *
 * Memory for a piece of n UTF-8 bytes: five Int32Arrays of n (20 bytes a byte) and bucket entries of 8
 * bytes, 2n to start with and at most 3n before doubling (16–32 bytes a byte): at most 52 bytes a byte,
 * freed when the call returns, plus the pair cache below (14 MB, kept). Callers can refuse lines that
 * cannot fit a model long before that size (see tokenLowerBound in tokens.ts).
 */

/** A BPE vocabulary: token bytes (as a latin1 string, one char a byte) to rank, and its longest token. */
export interface MergeableRanks {
  readonly ranks: ReadonlyMap<string, number>;
  readonly maxTokenBytes: number;
}

/**
 * Builds the vocabulary from a decoder of ranks (tiktoken's decode_single_token_bytes), so that the ranks
 * are by construction the ones the encoder uses; ranks the decoder rejects (gaps) are skipped.
 */
export function ranksFromDecoder(size: number, decode: (rank: number) => Uint8Array): MergeableRanks {
  const ranks = new Map<string, number>();
  let maxTokenBytes = 0;
  for (let rank = 0; rank < size; rank++) {
    let bytes: Uint8Array;
    try {
      bytes = decode(rank);
    } catch {
      continue;
    }
    ranks.set(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'), rank);
    maxTokenBytes = Math.max(maxTokenBytes, bytes.length);
  }
  return { ranks, maxTokenBytes };
}

const NONE = -1;

/**
 * Every part is a token, so a pair is two token ranks, and whether it merges (into which rank) depends on
 * those alone. Looking that up by two integers in this open-addressing table is several times faster
 * than cutting the pair's bytes out as a string and hashing it (measured: the string lookups were most
 * of the time on runs of random letters). Filled on demand from the rank table; 2^20 slots (12 MB),
 * emptied when half full. The buckets' heads and tails (2 MB) live beside it.
 */
const PAIR_BITS = 20;
const PAIR_SLOTS = 1 << PAIR_BITS;
const PAIR_RANK_BASE = 2 ** 18; // above every o200k rank (checked when the cache is made)
interface PairCache {
  keys: Float64Array;
  values: Int32Array;
  used: number;
  /** The token of each byte. */
  byteTokens: Int32Array;
  /** Per rank, the first and last entry of its bucket (see Merge), or NONE; all NONE between calls. */
  head: Int32Array;
  tail: Int32Array;
}
// Plain objects and functions, not a class: compiled class fields (as SWC emits them under Jest) made
// every field access slow, ten times over on this loop.
function newPairCache(ranks: ReadonlyMap<string, number>): PairCache {
  const byteTokens = new Int32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const token = ranks.get(String.fromCharCode(byte));
    if (token === undefined) throw new Error(`byte ${byte} is not a token`);
    byteTokens[byte] = token;
  }
  return {
    keys: new Float64Array(PAIR_SLOTS).fill(-1),
    values: new Int32Array(PAIR_SLOTS),
    used: 0,
    byteTokens,
    head: new Int32Array(PAIR_RANK_BASE).fill(NONE),
    tail: new Int32Array(PAIR_RANK_BASE),
  };
}
/** The slot of pair (left, right): its own, or the empty one where it belongs. */
function pairSlot(keys: Float64Array, left: number, right: number): number {
  const key = left * PAIR_RANK_BASE + right;
  let i = (Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77)) >>> (32 - PAIR_BITS);
  for (;;) {
    const found = keys[i]!;
    if (found === key || found === -1) return i;
    i = (i + 1) & (PAIR_SLOTS - 1);
  }
}
function storePair(cache: PairCache, slot: number, left: number, right: number, merged: number): void {
  if (cache.used >= PAIR_SLOTS / 2) {
    cache.keys.fill(-1);
    cache.used = 0;
    slot = pairSlot(cache.keys, left, right);
  }
  cache.keys[slot] = left * PAIR_RANK_BASE + right;
  cache.values[slot] = merged;
  cache.used++;
}
const pairCaches = new WeakMap<MergeableRanks, PairCache>();

/**
 * One merge run's state. Plain functions over this object rather than closures over local variables:
 * the closure version ran ten times slower under Jest's module sandbox (V8 gave up optimising it).
 *
 * The pairs waiting to merge are kept in one bucket per rank (a singly linked list of entries, each a
 * start), and the ranks that have a bucket in a binary min-heap of ranks: a merge costs two appends to
 * buckets instead of two or three 4-ary heap operations over every pair of the piece (those were most
 * of the time). The lowest rank's bucket is taken whole, sorted by start if it is not already (its
 * entries are appended left to right within a pass, so it seldom needs it) and merged left to right —
 * exactly tiktoken's order, because a merge of rank r never makes a pair of rank r (the new pair's bytes
 * are longer than rank r's token). Should a merge make a pair of a lower rank than r (not in o200k, but
 * a vocabulary need not forbid it), the pass stops there, the rest of r's bucket is put back, and the
 * lower rank goes first. An entry is stale, and skipped, when the pair at its start no longer has its
 * rank: a pair's bytes only grow, so a rank once lost never comes back.
 */
interface Merge {
  /** The piece's bytes, one char a byte. */
  bytes: string;
  n: number;
  vocabulary: MergeableRanks;
  cache: PairCache;
  /** Part i covers bytes [i, next[i]); prev links back. */
  next: Int32Array;
  prev: Int32Array;
  /** The rank of the pair part i starts, or NONE: not a token, no right neighbour, or merged away. */
  rank: Int32Array;
  /** The token each part is (every byte is a token of its own in a byte-level vocabulary). */
  token: Int32Array;
  /** Bucket entries: a start, and the next entry of the same bucket or NONE. */
  entryStart: Int32Array;
  entryNext: Int32Array;
  entries: number;
  /** A binary min-heap of the ranks whose bucket is not empty. */
  ranks: Int32Array;
  rankCount: number;
  /** The rank being merged, and whether a pair of a lower rank was made meanwhile. */
  current: number;
  lower: boolean;
}

/** The rank of the token the parts at `start` and `right` make together, or NONE. */
function mergedRank(m: Merge, start: number, right: number): number {
  const end = m.next[right]!;
  if (end - start > m.vocabulary.maxTokenBytes) return NONE;
  const left = m.token[start]!;
  const other = m.token[right]!;
  const keys = m.cache.keys;
  const slot = pairSlot(keys, left, other);
  if (keys[slot] !== -1) return m.cache.values[slot]!;
  const merged = m.vocabulary.ranks.get(m.bytes.slice(start, end)) ?? NONE;
  storePair(m.cache, slot, left, other, merged);
  return merged;
}

/** Recomputes the pair part `start` begins and puts it in its rank's bucket when it is a token. */
function updatePair(m: Merge, start: number): void {
  const right = m.next[start]!;
  const r = right < m.n ? mergedRank(m, start, right) : NONE;
  m.rank[start] = r;
  if (r !== NONE) addEntry(m, start, r);
}

function addEntry(m: Merge, start: number, r: number): void {
  if (m.entries === m.entryStart.length) {
    const starts = new Int32Array(m.entries * 2);
    starts.set(m.entryStart);
    m.entryStart = starts;
    const nexts = new Int32Array(m.entries * 2);
    nexts.set(m.entryNext);
    m.entryNext = nexts;
  }
  const e = m.entries++;
  m.entryStart[e] = start;
  m.entryNext[e] = NONE;
  const { head, tail } = m.cache;
  if (head[r] === NONE) {
    head[r] = e;
    rankPush(m, r);
  } else m.entryNext[tail[r]!] = e;
  tail[r] = e;
  if (r < m.current) m.lower = true;
}

function rankPush(m: Merge, r: number): void {
  if (m.rankCount === m.ranks.length) {
    const grown = new Int32Array(m.ranks.length * 2);
    grown.set(m.ranks);
    m.ranks = grown;
  }
  const heap = m.ranks;
  let i = m.rankCount++;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= r) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = r;
}

function rankPop(m: Merge): number {
  const heap = m.ranks;
  const top = heap[0]!;
  const size = --m.rankCount;
  const key = heap[size]!;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
    if (heap[child]! >= key) break;
    heap[i] = heap[child]!;
    i = child;
  }
  if (size > 0) heap[i] = key;
  return top;
}

/** The number of tokens byte-pair encoding gives `piece` (its UTF-8 bytes) under `vocabulary`. */
export function bytePairCount(piece: string, vocabulary: MergeableRanks): number {
  const bytes = Buffer.from(piece, 'utf8').toString('latin1');
  const n = bytes.length;
  const { ranks } = vocabulary;
  // As tiktoken: a piece that is itself a token is one token, whatever merging would have made of it.
  if (n <= 1 || (n <= vocabulary.maxTokenBytes && ranks.has(bytes))) return Math.min(n, 1);

  let cache = pairCaches.get(vocabulary);
  if (!cache) {
    if (ranks.size >= PAIR_RANK_BASE) throw new Error('vocabulary too large for the pair cache');
    cache = newPairCache(ranks);
    pairCaches.set(vocabulary, cache);
  }
  const m: Merge = {
    bytes,
    n,
    vocabulary,
    cache,
    next: new Int32Array(n),
    prev: new Int32Array(n),
    rank: new Int32Array(n),
    token: new Int32Array(n),
    entryStart: new Int32Array(2 * n),
    entryNext: new Int32Array(2 * n),
    entries: 0,
    ranks: new Int32Array(64),
    rankCount: 0,
    current: PAIR_RANK_BASE,
    lower: false,
  };
  const { next, prev, rank, token } = m;
  const { head, byteTokens } = cache;
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    token[i] = byteTokens[bytes.charCodeAt(i)]!;
  }
  for (let i = 0; i < n; i++) updatePair(m, i);

  const batch = new Int32Array(n);
  let parts = n;
  while (m.rankCount > 0) {
    const r = rankPop(m);
    let k = 0;
    let sorted = true;
    for (let e = head[r]!; e !== NONE; e = m.entryNext[e]!) {
      const start = m.entryStart[e]!;
      if (k > 0 && start < batch[k - 1]!) sorted = false;
      batch[k++] = start;
    }
    head[r] = NONE;
    if (!sorted) batch.subarray(0, k).sort();
    m.current = r;
    m.lower = false;
    for (let i = 0; i < k; i++) {
      const start = batch[i]!;
      if (rank[start] !== r) continue; // stale: this pair was changed by an earlier merge
      const merged = next[start]!;
      const after = next[merged]!;
      next[start] = after;
      if (after < n) prev[after] = start;
      rank[merged] = NONE;
      token[start] = r;
      parts--;
      updatePair(m, start);
      const before = prev[start]!;
      if (before >= 0) updatePair(m, before);
      if (m.lower) {
        // A lower rank was made: it goes first, and the rest of this bucket waits.
        m.current = PAIR_RANK_BASE;
        for (let j = i + 1; j < k; j++) if (rank[batch[j]!] === r) addEntry(m, batch[j]!, r);
        break;
      }
    }
  }
  return parts;
}
