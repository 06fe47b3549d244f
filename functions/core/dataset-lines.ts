import { FILE_KIND_PROBLEMS, sniffFileKind, type FileKind } from './encoding.js';
import type { IssueList } from './issue-list.js';
import { readJsonlLines } from './jsonl.js';

/** OpenAI's limit for one uploaded file (the provider's, when another takes more or less). */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;
/**
 * The longest line read into memory. o200k_base's longest token is 128 bytes (every token of the
 * 199,998 measured on 2026-11-29), so an example that fits 65,536 tokens holds at most 8 MiB of text,
 * which JSON escaping can at most sextuple (`\u0001` for one byte): 48 MiB, plus room for keys and
 * spacing. A longer line could never fit and is refused by its size, unread (`line_too_long`).
 */
export const MAX_LINE_BYTES = 64 * 2 ** 20;

/** Checking stopped at its deadline: the file was too slow to check in the time the function has. */
export class ValidationOutOfTimeError extends Error {
  constructor(readonly lineNumber: number) {
    super(`validation ran out of time at line ${lineNumber}`);
    this.name = 'ValidationOutOfTimeError';
  }
}

export interface DatasetLinesOptions {
  /** What the provider takes per file; reading stops there. */
  maxFileBytes: number;
  /** The file's size, when known before reading; a file over the limit is reported from it. */
  sizeBytes?: number | undefined;
  /** Epoch milliseconds after which reading stops with ValidationOutOfTimeError. */
  deadline?: number | undefined;
  /** For the message of a line too long to read. */
  modelId: string;
  maxExampleTokens: number;
}

/**
 * Step 1, reading lines: the file's kind (compressed, UTF-16, BOM…), then its non-blank lines, each
 * within the per-line memory cap, up to the provider's file limit, while the deadline allows.
 * Problems of the file and of unreadable lines go to `issues`; `counted` learns every line number,
 * blank ones included, so that the report's line count is the file's.
 */
export async function* datasetLines(
  source: AsyncIterable<Uint8Array>,
  options: DatasetLinesOptions,
  issues: IssueList,
  counted: (lineNumber: number) => void,
  /** Told when the file has no line with anything on it (empty, or blank lines only). */
  empty: () => void,
): AsyncGenerator<{ lineNumber: number; text: string }> {
  const knownTooLarge = options.sizeBytes !== undefined && options.sizeBytes > options.maxFileBytes;
  if (options.sizeBytes !== undefined && knownTooLarge) {
    issues.fileError(
      'file_too_large',
      `the file is ${megabytes(options.sizeBytes)}; the provider takes at most ${megabytes(options.maxFileBytes)} per file`,
    );
  }
  const { kind, stream } = await sniff(source);
  if (kind !== 'text' && kind !== 'utf8_bom') {
    // The whole file is of another kind: no line is meant, none is counted.
    issues.fileError(`not_utf8_${kind}`, FILE_KIND_PROBLEMS[kind].message, FILE_KIND_PROBLEMS[kind].fix);
    return;
  }
  let nonBlank = false;
  if (kind === 'utf8_bom')
    issues.fileError('utf8_bom', FILE_KIND_PROBLEMS.utf8_bom.message, FILE_KIND_PROBLEMS.utf8_bom.fix, 1);
  const lines = readJsonlLines(stream, {
    maxLineBytes: MAX_LINE_BYTES,
    maxBytes: options.maxFileBytes,
    markInvalidUtf8: true,
    onLimit: (lineNumber) =>
      knownTooLarge ||
      issues.fileError(
        'file_too_large',
        `the file is larger than ${megabytes(options.maxFileBytes)}, the most the provider takes per file; reading stopped in line ${lineNumber}`,
      ),
  });
  for await (const line of lines) {
    counted(line.lineNumber);
    if (options.deadline !== undefined && Date.now() > options.deadline)
      throw new ValidationOutOfTimeError(line.lineNumber);
    if (line.oversizeBytes !== undefined) {
      issues.error(
        'line_too_long',
        `the line is ${megabytes(line.oversizeBytes)}; no example that long fits ${options.modelId}'s ${options.maxExampleTokens} tokens, so it was not read`,
        undefined,
        line.lineNumber,
      );
      continue;
    }
    const text = line.lineNumber === 1 && kind === 'utf8_bom' ? line.text.replace(/^\uFEFF/, '') : line.text;
    if (line.notUtf8) {
      issues.error('not_utf8', 'the line is not UTF-8 text', undefined, line.lineNumber);
      continue;
    }
    if (text.trim() !== '') {
      nonBlank = true;
      yield { lineNumber: line.lineNumber, text };
    }
  }
  if (!nonBlank) empty();
}

export const megabytes = (bytes: number) =>
  `${bytes >= 2 ** 20 ? (bytes / 2 ** 20).toFixed(0) : (bytes / 2 ** 20).toFixed(2)} MB`;

/** Looks at the first bytes without losing them. */
async function sniff(
  source: AsyncIterable<Uint8Array>,
): Promise<{ kind: FileKind; stream: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let size = 0;
  let done = false;
  while (size < 4096 && !done) {
    const next = await iterator.next();
    if (next.done) done = true;
    else {
      head.push(next.value);
      size += next.value.length;
    }
  }
  const joined = Buffer.concat(head);
  async function* stream() {
    if (joined.length) yield new Uint8Array(joined);
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { kind: sniffFileKind(joined), stream: stream() };
}
