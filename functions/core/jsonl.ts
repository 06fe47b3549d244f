/** One line of a JSONL file, numbered from 1 as an editor shows it. */
export interface JsonlLine {
  lineNumber: number;
  text: string;
  /**
   * Set (and `text` empty) when the line is longer than `maxLineBytes`: its bytes were counted and
   * dropped, never held, so one line cannot take the reader's memory.
   */
  oversizeBytes?: number;
  /** Set (and `text` empty) for a line that is not UTF-8, when the reader was asked to go on past it. */
  notUtf8?: true;
}

export interface JsonlReadOptions {
  /** Longer lines are skipped and reported by size (`oversizeBytes`). @default no limit */
  maxLineBytes?: number;
  /**
   * Reading stops after this many bytes (the provider's file limit): nothing past it could be uploaded.
   * The line it cuts is dropped and `onLimit` told its number. @default no limit
   */
  maxBytes?: number;
  onLimit?: (lineNumber: number) => void;
  /**
   * A line that is not UTF-8 is yielded marked `notUtf8` and reading goes on (a validator reports every
   * such line); by default it throws NotUtf8Error (a reader of a file already validated).
   */
  markInvalidUtf8?: boolean;
}

export class NotUtf8Error extends Error {
  constructor(readonly lineNumber: number) {
    super(`line ${lineNumber} is not valid UTF-8`);
    this.name = 'NotUtf8Error';
  }
}

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines without holding more than one line (plus one chunk) in memory.
 * Decodes strictly as UTF-8: a file in another encoding fails on the first bad line instead of
 * being silently mangled. A trailing `\r` (Windows line ends) is dropped.
 */
export async function* readJsonlLines(
  source: AsyncIterable<Uint8Array>,
  options: JsonlReadOptions = {},
): AsyncGenerator<JsonlLine> {
  const maxLineBytes = options.maxLineBytes ?? Number.POSITIVE_INFINITY;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  // Bytes of an over-long line seen so far, or -1 while the current line is within the limit.
  let skipped = -1;
  let lineNumber = 0;
  let read = 0;

  const decodeLine = (parts: Uint8Array[], length: number): JsonlLine => {
    const bytes = parts.length === 1 ? parts[0]! : concat(parts, length);
    try {
      const text = decoder.decode(bytes);
      return { lineNumber, text: text.endsWith('\r') ? text.slice(0, -1) : text };
    } catch {
      if (options.markInvalidUtf8) return { lineNumber, text: '', notUtf8: true };
      throw new NotUtf8Error(lineNumber);
    }
  };
  const endLine = (tail: Uint8Array): JsonlLine => {
    lineNumber += 1;
    let line: JsonlLine;
    if (skipped >= 0) line = { lineNumber, text: '', oversizeBytes: skipped + tail.length };
    else if (pendingBytes + tail.length > maxLineBytes)
      line = { lineNumber, text: '', oversizeBytes: pendingBytes + tail.length };
    else {
      pending.push(tail);
      line = decodeLine(pending, pendingBytes + tail.length);
    }
    pending = [];
    pendingBytes = 0;
    skipped = -1;
    return line;
  };
  const keep = (part: Uint8Array) => {
    if (skipped >= 0) skipped += part.length;
    else if (pendingBytes + part.length > maxLineBytes) {
      skipped = pendingBytes + part.length;
      pending = [];
      pendingBytes = 0;
    } else {
      pending.push(part);
      pendingBytes += part.length;
    }
  };

  for await (const whole of source) {
    let chunk = whole;
    let cut = false;
    if (read + chunk.length > maxBytes) {
      chunk = chunk.subarray(0, maxBytes - read);
      cut = true;
    }
    read += chunk.length;
    let start = 0;
    for (let index = chunk.indexOf(NEWLINE); index !== -1; index = chunk.indexOf(NEWLINE, start)) {
      yield endLine(chunk.subarray(start, index));
      start = index + 1;
    }
    if (start < chunk.length) keep(chunk.subarray(start));
    if (cut) {
      options.onLimit?.(lineNumber + 1);
      return;
    }
  }
  if (pendingBytes > 0 || skipped >= 0) yield endLine(new Uint8Array(0));
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
