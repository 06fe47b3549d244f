import { z } from 'zod';
import type { EmbeddingBatchResult, ObjectRef, ObjectStore } from './ports.js';

/**
 * An embedding run's result files (embeddings/<run>/results/*.jsonl): the provider's answers, one line per
 * request, copied as they come (in the provider's order, not the input's) in one small format, whatever the
 * provider: `{"customId","tokens","vectors"}` for an answer, `{"customId","error"}` for a request without
 * one. Collect reads them back in input order by byte range, one request at a time, so the run's memory
 * holds one request's vectors, never a file's.
 */

const ResultLineSchema = z.union([
  z.object({
    customId: z.string(),
    tokens: z.number().int().nonnegative(),
    vectors: z.array(z.array(z.number())),
  }),
  z.object({ customId: z.string(), error: z.string() }),
]);
export type ResultLine = z.infer<typeof ResultLineSchema>;

/**
 * A result line, checked against ResultLineSchema. An answer's vectors are checked in place and returned as
 * JSON.parse made them: the schema's parse would copy every vector, and a request's answer is thousands of
 * them (2,048 × 1,536 numbers at most), read back once per record in Collect, so the copies were most of
 * what the step allocated.
 */
export function resultLine(text: string): ResultLine {
  const raw: unknown = JSON.parse(text);
  if (isAnswer(raw)) return raw;
  return ResultLineSchema.parse(raw);
}

/**
 * What indexing a result file needs of a line: its custom id and whether it is an answer (its error where
 * not), read from the line's first characters without parsing its vectors. resultLineText writes the id
 * first and then `tokens` (an answer) or `error`; a line in another shape is parsed whole.
 */
export function resultHead(
  text: string,
): { customId: string; answered: true } | { customId: string; answered: false; error: string } {
  const head = /^\{"customId":("(?:[^"\\]|\\.)*"),"(tokens|error)":/.exec(text);
  if (head?.[2] === 'tokens') return { customId: JSON.parse(head[1]!) as string, answered: true };
  const line = ResultLineSchema.parse(JSON.parse(text));
  return 'vectors' in line
    ? { customId: line.customId, answered: true }
    : { customId: line.customId, answered: false, error: line.error };
}

/** `{customId, tokens, vectors}` exactly as the schema's answer takes it (extra keys are dropped by it). */
function isAnswer(raw: unknown): raw is Extract<ResultLine, { vectors: unknown }> {
  if (typeof raw !== 'object' || raw === null) return false;
  const { customId, tokens, vectors } = raw as Record<string, unknown>;
  if (typeof customId !== 'string' || !Number.isSafeInteger(tokens) || (tokens as number) < 0) return false;
  if (!Array.isArray(vectors)) return false;
  for (const vector of vectors) {
    if (!Array.isArray(vector)) return false;
    for (const value of vector) if (typeof value !== 'number') return false;
  }
  return Object.keys(raw).length === 3;
}

export function resultLineText(result: EmbeddingBatchResult): string {
  return 'answer' in result
    ? JSON.stringify({
        customId: result.customId,
        tokens: result.answer.tokens,
        vectors: result.answer.vectors,
      })
    : JSON.stringify({ customId: result.customId, error: result.error });
}

/** Writes a result file, line by line, as the results stream in. */
export async function writeResults(
  store: ObjectStore,
  ref: ObjectRef,
  results: AsyncIterable<EmbeddingBatchResult>,
  /** Object tags: the results copy the vectors, expired with the run's other copies. */
  tags?: Readonly<Record<string, string>>,
): Promise<void> {
  const writer = store.createWriter(ref, 'application/jsonl', tags);
  try {
    for await (const result of results) await writer.write(`${resultLineText(result)}\n`);
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** A line of a file, with where its bytes are (`end` exclusive, without the newline). */
export interface LocatedLine {
  text: string;
  start: number;
  end: number;
}

const NEWLINE = 0x0a;

/**
 * The non-empty lines of a UTF-8 file, streamed, each with its byte range. Only the line being read is held;
 * a line may span any number of chunks.
 */
export async function* readLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<LocatedLine> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let lineStart = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const take = (last: Uint8Array): LocatedLine | undefined => {
    const bytes = pending.length === 0 ? last : Buffer.concat([...pending, last]);
    const start = lineStart;
    const end = start + bytes.length;
    pending = [];
    pendingBytes = 0;
    lineStart = end + 1;
    let text = decoder.decode(bytes);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return text.trim() === '' ? undefined : { text, start, end };
  };
  for await (const chunk of chunks) {
    let from = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, from)) {
      const line = take(chunk.subarray(from, at));
      if (line) yield line;
      from = at + 1;
    }
    if (from < chunk.length) {
      // Copied: the stream may reuse its chunk's buffer.
      pending.push(chunk.slice(from));
      pendingBytes += chunk.length - from;
    }
  }
  if (pendingBytes > 0) {
    const line = take(new Uint8Array(0));
    if (line) yield line;
  }
}
