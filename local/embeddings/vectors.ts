import { createHash } from 'node:crypto';

/**
 * The local providers' embeddings (the OpenAI emulator's /v1/embeddings and batches, local Bedrock's Titan
 * Text Embeddings V2): deterministic vectors that carry meaning, so a local test can check that nearest
 * neighbours make sense. A text's features are its lower-cased words and the character trigrams of each
 * word (with its boundaries); each feature is hashed to a signed position among `dimensions` (the hashing
 * trick: a random projection of the bag of features), weighted by 1 + log(count), and the vector is
 * L2-normalised. Texts sharing words and word pieces point the same way; unrelated texts are nearly
 * orthogonal. The same text and dimensions always give the same vector, in any process.
 */
export function localEmbedding(text: string, dimensions: number): number[] {
  if (!Number.isInteger(dimensions) || dimensions < 1)
    throw new RangeError(`dimensions must be ≥ 1, not ${dimensions}`);
  const counts = new Map<string, number>();
  const add = (feature: string) => counts.set(feature, (counts.get(feature) ?? 0) + 1);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    add(`w:${word}`);
    const bounded = `<${word}>`;
    for (let i = 0; i + 3 <= bounded.length; i++) add(`c:${bounded.slice(i, i + 3)}`);
  }
  const vector = new Array<number>(dimensions).fill(0);
  for (const [feature, count] of counts) {
    const digest = createHash('sha1').update(feature).digest();
    const weight = (1 + Math.log(count)) * (feature.startsWith('w:') ? 2 : 1);
    // Two positions per feature, so that small vectors still separate features that collide once.
    for (const offset of [0, 8]) {
      const position = digest.readUInt32LE(offset) % dimensions;
      const sign = (digest[offset + 4]! & 1) === 0 ? 1 : -1;
      vector[position]! += sign * weight;
    }
  }
  const norm = Math.hypot(...vector);
  // A text without letters or digits (punctuation only) still gets a unit vector, its own.
  if (norm === 0) {
    const digest = createHash('sha1').update(`empty:${text}`).digest();
    vector[digest.readUInt32LE(0) % dimensions] = 1;
    return vector;
  }
  return vector.map((value) => Math.fround(value / norm));
}

/** Cosine similarity of two vectors of one size (both unit-length from localEmbedding, so their dot product). */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
