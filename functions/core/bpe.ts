/**
 * Exact byte-pair encoding for long pre-tokenizer pieces, in O(n log n).
 *
 * tiktoken merges a piece by scanning all its parts for the lowest-ranked adjacent pair after every
 * merge: quadratic in the piece's length (100,000 spaces took ~10 s). The rule is kept exactly — merge
 * the adjacent pair whose concatenation has the lowest rank, the leftmost among equal ranks, until no
 * pair is a token — but the next pair is found with a binary heap over a doubly linked list of parts.
 * A merge changes at most two pairs (the merged part with its new neighbours on either side); their new
 * ranks are pushed and the old entries are left in the heap, recognised as stale when popped because the
 * rank stored for their part no longer matches (lazy invalidation: no decrease-key, no heap index).
 *
 * Memory for a piece of n UTF-8 bytes: three Int32Arrays of n (12 bytes a byte) and a heap of at most
 * n + merges entries of 8 bytes (up to 16 bytes a byte): under 30 bytes a byte, freed when the call
 * returns — about 30 MB for a 1 MB piece. Callers refuse lines that cannot fit a model long before that
 * size (see tokenLowerBound in tokens.ts).
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

/** The number of tokens byte-pair encoding gives `piece` (its UTF-8 bytes) under `vocabulary`. */
export function bytePairCount(piece: string, vocabulary: MergeableRanks): number {
  const bytes = Buffer.from(piece, 'utf8').toString('latin1');
  const n = bytes.length;
  const { ranks, maxTokenBytes } = vocabulary;
  // As tiktoken: a piece that is itself a token is one token, whatever merging would have made of it.
  if (n <= 1 || (n <= maxTokenBytes && ranks.has(bytes))) return Math.min(n, 1);

  // Part i covers bytes [i, next[i]); prev links back; rank[i] is the rank of the pair part i starts, or
  // NONE when that is not a token, part i has no right neighbour, or part i was merged away.
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const rank = new Int32Array(n);
  const rankOf = (start: number, end: number): number =>
    end - start > maxTokenBytes ? NONE : (ranks.get(bytes.slice(start, end)) ?? NONE);

  let heap = new Float64Array(Math.max(16, n));
  let size = 0;
  const push = (key: number) => {
    if (size === heap.length) {
      const grown = new Float64Array(heap.length * 2);
      grown.set(heap);
      heap = grown;
    }
    let i = size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = key;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap[--size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  };
  const setPair = (start: number) => {
    const right = next[start]!;
    const r = right < n ? rankOf(start, next[right]!) : NONE;
    rank[start] = r;
    if (r !== NONE) push(r * SHIFT + start);
  };

  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  for (let i = 0; i < n; i++) setPair(i);

  let parts = n;
  while (size > 0) {
    const key = pop();
    const r = Math.floor(key / SHIFT);
    const start = key - r * SHIFT;
    if (rank[start] !== r) continue; // stale: this pair was changed by an earlier merge
    const merged = next[start]!;
    const after = next[merged]!;
    next[start] = after;
    if (after < n) prev[after] = start;
    rank[merged] = NONE;
    parts--;
    setPair(start);
    const before = prev[start]!;
    if (before >= 0) setPair(before);
  }
  return parts;
}
