/** One line of a JSONL file, numbered from 1 as an editor shows it. */
export interface JsonlLine {
  lineNumber: number;
  text: string;
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
export async function* readJsonlLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<JsonlLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let lineNumber = 0;

  const decodeLine = (parts: Uint8Array[], length: number): string => {
    lineNumber += 1;
    const bytes = parts.length === 1 ? parts[0]! : concat(parts, length);
    try {
      const text = decoder.decode(bytes);
      return text.endsWith('\r') ? text.slice(0, -1) : text;
    } catch {
      throw new NotUtf8Error(lineNumber);
    }
  };

  for await (const chunk of source) {
    let start = 0;
    for (let index = chunk.indexOf(NEWLINE); index !== -1; index = chunk.indexOf(NEWLINE, start)) {
      pending.push(chunk.subarray(start, index));
      const text = decodeLine(pending, pendingBytes + index - start);
      yield { lineNumber, text };
      pending = [];
      pendingBytes = 0;
      start = index + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
    }
  }
  if (pendingBytes > 0) {
    const text = decodeLine(pending, pendingBytes);
    yield { lineNumber, text };
  }
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
