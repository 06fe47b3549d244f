/**
 * A streaming reader of multipart/form-data request bodies (RFC 7578), for the emulator's file upload.
 * The WHATWG `Request.formData()` it replaces buffers the whole body and then copies the file out of it
 * (a 511 MB upload held about 2.6 GB); this reader keeps each file once, in one buffer sized from
 * Content-Length when the client sends one, and stops keeping a file as soon as it passes `maxFileBytes`
 * while still reading the body to its end, so that the client receives the answer instead of a reset.
 */
export interface MultipartFile {
  filename: string;
  contentType: string | undefined;
  /** Bytes received, also when the file was too large to keep. */
  size: number;
  /** The content; undefined when `size` passed `maxFileBytes`. */
  content: Buffer | undefined;
}

export interface MultipartForm {
  fields: Map<string, string>;
  files: Map<string, MultipartFile>;
}

export class MultipartError extends Error {}

export interface MultipartOptions {
  boundary: string;
  maxFileBytes: number;
  /** The request's Content-Length, if known: the upper bound of a file's size, so it is allocated once. */
  sizeHint?: number | undefined;
  /** @default 64 KiB */
  maxFieldBytes?: number;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary parameter of a multipart/form-data Content-Type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/** A part's content, kept in one growing buffer (or one exactly sized when the size is known). */
class PartSink {
  private buffer: Buffer;
  size = 0;
  private overflowed = false;

  constructor(
    private readonly limit: number,
    sizeHint: number | undefined,
  ) {
    const initial = sizeHint !== undefined && Number.isFinite(sizeHint) ? sizeHint : 64 * 1024;
    this.buffer = Buffer.allocUnsafe(Math.max(0, Math.min(initial, limit + 1)));
  }

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.overflowed) return;
    if (this.size > this.limit) {
      this.overflowed = true;
      this.buffer = Buffer.alloc(0);
      return;
    }
    if (this.size > this.buffer.length) {
      // Without a size hint (or a wrong one): grow geometrically, within the limit.
      const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(this.size, this.buffer.length * 2)));
      this.buffer.copy(grown, 0, 0, this.size - chunk.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.size - chunk.length);
  }

  content(): Buffer | undefined {
    return this.overflowed ? undefined : this.buffer.subarray(0, this.size);
  }
}

interface PartHeaders {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
}

function parsePartHeaders(block: string): PartHeaders {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value;
  }
  if (!disposition || !/^form-data\b/i.test(disposition))
    throw new MultipartError('A part of the multipart body has no Content-Disposition: form-data.');
  const param = (key: string) =>
    new RegExp(`;\\s*${key}="([^"]*)"`, 'i').exec(disposition)?.[1] ??
    new RegExp(`;\\s*${key}=([^;\\s]+)`, 'i').exec(disposition)?.[1];
  const name = param('name');
  if (name === undefined) throw new MultipartError('A part of the multipart body has no name.');
  return { name, filename: param('filename'), contentType };
}

/**
 * Reads a multipart/form-data body. Fields are decoded as UTF-8; parts with a filename are files.
 * Throws MultipartError on a body that is not well-formed multipart.
 */
export async function readMultipart(
  body: AsyncIterable<Uint8Array>,
  options: MultipartOptions,
): Promise<MultipartForm> {
  // Every delimiter but the first is preceded by CRLF; a CRLF in front of the body makes them all alike.
  const delimiter = Buffer.from(`\r\n--${options.boundary}`);
  const maxFieldBytes = options.maxFieldBytes ?? 64 * 1024;
  const form: MultipartForm = { fields: new Map(), files: new Map() };
  type State = 'preamble' | 'afterDelimiter' | 'headers' | 'body' | 'done';
  let state: State = 'preamble';
  /** Read through a call: `consume` moves the state, which narrowing cannot see. */
  const stateNow = (): State => state;
  let pending: Buffer = CRLF;
  let part: { headers: PartHeaders; sink: PartSink } | undefined;

  const finishPart = () => {
    if (!part) return;
    const { headers, sink } = part;
    if (headers.filename !== undefined) {
      form.files.set(headers.name, {
        filename: headers.filename,
        contentType: headers.contentType,
        size: sink.size,
        content: sink.content(),
      });
    } else {
      const content = sink.content();
      if (!content)
        throw new MultipartError(`The field "${headers.name}" is longer than ${maxFieldBytes} bytes.`);
      form.fields.set(headers.name, content.toString('utf8'));
    }
    part = undefined;
  };

  /** Consumes what it can of `data`; returns the unconsumed rest, to be completed by the next chunk. */
  const consume = (data: Buffer): Buffer => {
    let offset = 0;
    for (;;) {
      if (state === 'done') return Buffer.alloc(0);
      if (state === 'preamble' || state === 'body') {
        const at = data.indexOf(delimiter, offset);
        if (at < 0) {
          // Keep the tail that may be the start of a delimiter; the rest is content (or preamble).
          const keep = Math.min(data.length - offset, delimiter.length - 1);
          if (state === 'body') part!.sink.write(data.subarray(offset, data.length - keep));
          return data.subarray(data.length - keep);
        }
        if (state === 'body') {
          part!.sink.write(data.subarray(offset, at));
          finishPart();
        }
        offset = at + delimiter.length;
        state = 'afterDelimiter';
      }
      if (state === 'afterDelimiter') {
        if (data.length - offset < 2) return data.subarray(offset);
        const next = data.toString('latin1', offset, offset + 2);
        if (next === '--') {
          state = 'done';
          return Buffer.alloc(0);
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        const lineEnd = data.indexOf(CRLF, offset);
        if (lineEnd < 0) return data.subarray(offset);
        offset = lineEnd + CRLF.length;
        state = 'headers';
      }
      if (state === 'headers') {
        const end = data.indexOf(HEADER_END, offset);
        if (end < 0) {
          if (data.length - offset > MAX_HEADER_BYTES)
            throw new MultipartError('A part of the multipart body has headers longer than 16 KiB.');
          return data.subarray(offset);
        }
        const headers = parsePartHeaders(data.toString('utf8', offset, end));
        const isFile = headers.filename !== undefined;
        part = {
          headers,
          sink: new PartSink(
            isFile ? options.maxFileBytes : maxFieldBytes,
            isFile ? options.sizeHint : undefined,
          ),
        };
        offset = end + HEADER_END.length;
        state = 'body';
      }
    }
  };

  for await (const chunk of body) {
    // Chunks are typically 64 KiB; `pending` is at most a delimiter or a header block long.
    pending = consume(pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk));
  }
  if (stateNow() !== 'done')
    throw new MultipartError('The multipart body ended before its closing boundary.');
  return form;
}
