/**
 * Exact byte-pair encoding for long pre-tokenizer pieces, in O(n log n).
 *
 * tiktoken merges a piece by scanning all its parts for the lowest-ranked adjacent pair after every
 * merge: quadratic in the piece's length (100,000 spaces took ~10 s). The rule is kept exactly — merge
 * the adjacent pair whose concatenation has the lowest rank, the leftmost among equal ranks, until no
 * pair is a token — but the next pair is found with a 4-ary heap over a doubly linked list of parts.
 * A merge changes at most two pairs (the merged part with its new neighbours on either side); their new
 * ranks are pushed and the old entries are left in the heap, recognised as stale when popped because the
 * rank stored for their part no longer matches (lazy invalidation: no decrease-key, no heap index).
 *
 * Memory for a piece of n UTF-8 bytes: four Int32Arrays of n (16 bytes a byte) and a heap of at most
 * n + merges entries of 8 bytes (up to 16 bytes a byte): at most 32 bytes a byte, freed when the call
 * returns — 32 MB for a 1 MB piece — plus the pair cache below (12 MB, kept). Callers can refuse lines
 * that cannot fit a model long before that size (see tokenLowerBound in tokens.ts).
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
/** Heap keys are rank * 2^32 + start: one float orders by rank, then leftmost, exactly (< 2^53). */
const SHIFT = 2 ** 32;

/**
 * Every part is a token, so a pair is two token ranks, and whether it merges (into which rank) depends on
 * those alone. Looking that up by two integers in this open-addressing table is several times faster
 * than cutting the pair's bytes out as a string and hashing it (measured: the string lookups were most
 * of the time on runs of random letters). Filled on demand from the rank table; 2^20 slots (12 MB),
 * emptied when half full.
 */
const PAIR_BITS = 20;
const PAIR_SLOTS = 1 << PAIR_BITS;
const PAIR_RANK_BASE = 2 ** 18; // above every o200k rank (checked when the cache is made)
interface PairCache {
  keys: Float64Array;
  values: Int32Array;
  used: number;
}
// Plain objects and functions, not a class: compiled class fields (as SWC emits them under Jest) made
// every field access slow, ten times over on this loop.
const newPairCache = (): PairCache => ({
  keys: new Float64Array(PAIR_SLOTS).fill(-1),
  values: new Int32Array(PAIR_SLOTS),
  used: 0,
});
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
  /** A 4-ary min-heap of rank * SHIFT + start: half the levels of a binary heap. */
  heap: Float64Array;
  size: number;
  /** Pairs that are tokens now; once none is left, the entries still in the heap are all stale. */
  live: number;
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

/** Recomputes the pair part `start` begins; returns its heap key, or NONE when it is no token. */
function updatePair(m: Merge, start: number): number {
  const right = m.next[start]!;
  const r = right < m.n ? mergedRank(m, start, right) : NONE;
  if (m.rank[start] !== NONE) m.live--;
  m.rank[start] = r;
  if (r === NONE) return NONE;
  m.live++;
  return r * SHIFT + start;
}

function heapPush(m: Merge, key: number): void {
  if (m.size === m.heap.length) {
    const grown = new Float64Array(m.heap.length * 2);
    grown.set(m.heap);
    m.heap = grown;
  }
  const heap = m.heap;
  let i = m.size++;
  while (i > 0) {
    const parent = (i - 1) >> 2;
    if (heap[parent]! <= key) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = key;
}

/** Puts `key` at `from` and moves it down to its place. */
function heapSiftDown(m: Merge, from: number, key: number): void {
  const heap = m.heap;
  const size = m.size;
  let i = from;
  for (;;) {
    const first = 4 * i + 1;
    if (first >= size) break;
    let child = first;
    let least = heap[first]!;
    const end = first + 4 < size ? first + 4 : size;
    for (let c = first + 1; c < end; c++) {
      if (heap[c]! < least) {
        least = heap[c]!;
        child = c;
      }
    }
    if (least >= key) break;
    heap[i] = least;
    i = child;
  }
  heap[i] = key;
}

/** Drops the top, or replaces it by `key` in one pass (cheaper than a pop and a push). */
function heapReplaceTop(m: Merge, key: number): void {
  if (key !== NONE) heapSiftDown(m, 0, key);
  else if (--m.size > 0) heapSiftDown(m, 0, m.heap[m.size]!);
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
    cache = newPairCache();
    pairCaches.set(vocabulary, cache);
  }
  const m: Merge = {
    bytes,
    n,
    vocabulary,
    cache,
    next: new Int32Array(n),
    prev: new Int32Array(n),
    rank: new Int32Array(n).fill(NONE),
    token: new Int32Array(n),
    heap: new Float64Array(Math.max(16, n)),
    size: 0,
    live: 0,
  };
  for (let i = 0; i < n; i++) {
    m.next[i] = i + 1;
    m.prev[i] = i - 1;
    const byte = ranks.get(bytes[i]!);
    if (byte === undefined) throw new Error(`byte ${bytes.charCodeAt(i)} is not a token`);
    m.token[i] = byte;
  }
  // The first pairs are laid out unordered and heapified in O(n), instead of n pushes of O(log n).
  for (let i = 0; i < n; i++) {
    const key = updatePair(m, i);
    if (key !== NONE) m.heap[m.size++] = key;
  }
  for (let i = (m.size - 2) >> 2; i >= 0; i--) heapSiftDown(m, i, m.heap[i]!);

  let parts = n;
  while (m.live > 0) {
    const key = m.heap[0]!;
    const r = Math.floor(key / SHIFT);
    const start = key - r * SHIFT;
    if (m.rank[start] !== r) {
      heapReplaceTop(m, NONE); // stale: this pair was changed by an earlier merge
      continue;
    }
    const merged = m.next[start]!;
    const after = m.next[merged]!;
    m.next[start] = after;
    if (after < n) m.prev[after] = start;
    if (m.rank[merged] !== NONE) m.live--;
    m.rank[merged] = NONE;
    m.token[start] = r;
    parts--;
    // The merged part's new pair takes the top's place; its left neighbour's pair is pushed.
    heapReplaceTop(m, updatePair(m, start));
    const before = m.prev[start]!;
    if (before >= 0) {
      const left = updatePair(m, before);
      if (left !== NONE) heapPush(m, left);
    }
  }
  return parts;
}
