import fc from 'fast-check';
import {
  MultipartError,
  multipartBoundary,
  readMultipart,
  type MultipartOptions,
} from '../../local/openai-emulator/multipart.js';

/** A form encoded by Node's own fetch (undici), the encoder the OpenAI SDK uses for a File. */
async function encode(fields: Record<string, string>, file: { name: string; bytes: Uint8Array }) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  form.append('file', new File([file.bytes], file.name));
  const response = new Response(form);
  const boundary = multipartBoundary(response.headers.get('content-type') ?? undefined);
  if (!boundary) throw new Error('undici sent no boundary');
  return { boundary, body: new Uint8Array(await response.arrayBuffer()) };
}

/** The body cut at the given offsets, as a socket might deliver it. */
async function* cut(body: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const at of [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b)) {
    yield body.subarray(start, at);
    start = at;
  }
  yield body.subarray(start);
}

const options = (boundary: string, rest: Partial<MultipartOptions> = {}): MultipartOptions => ({
  boundary,
  maxFileBytes: 1 << 20,
  ...rest,
});

describe('readMultipart', () => {
  it('reads back what a standard encoder wrote, however the body is cut into chunks', async () => {
    // Contents close to a delimiter ("\r\n--") are where a streaming reader goes wrong.
    const tricky = fc.constantFrom('\r', '\n', '-', '--', '\r\n--', '\r\n\r\n', 'a', '{"x":1}\n');
    const text = fc.array(tricky, { maxLength: 40 }).map((parts) => parts.join(''));
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (purpose, bytes, cuts) => {
          const { boundary, body } = await encode({ purpose }, { name: 'train.jsonl', bytes });
          const form = await readMultipart(cut(body, cuts), options(boundary));
          // FormData normalizes line breaks in field values to CRLF on the wire, as HTML forms do.
          expect(form.fields.get('purpose')).toBe(purpose.replace(/\r\n|\r|\n/g, '\r\n'));
          const file = form.files.get('file');
          expect(file?.filename).toBe('train.jsonl');
          expect(file?.size).toBe(bytes.length);
          expect(new Uint8Array(file!.content!)).toEqual(bytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a file of exactly the limit and drops one a byte longer, reading both bodies to the end', async () => {
    const limit = 1000;
    const atLimit = await encode(
      { purpose: 'fine-tune' },
      { name: 'a', bytes: new Uint8Array(limit).fill(65) },
    );
    const over = await encode(
      { purpose: 'fine-tune' },
      { name: 'b', bytes: new Uint8Array(limit + 1).fill(65) },
    );
    const kept = await readMultipart(
      cut(atLimit.body, [7, 300]),
      options(atLimit.boundary, { maxFileBytes: limit }),
    );
    const dropped = await readMultipart(
      cut(over.body, [7, 300]),
      options(over.boundary, { maxFileBytes: limit }),
    );
    expect(kept.files.get('file')).toMatchObject({ size: limit, content: expect.any(Buffer) });
    expect(dropped.files.get('file')).toMatchObject({ size: limit + 1, content: undefined });
    // No error: the closing boundary after the dropped file was read, so the client gets an answer.
    expect(dropped.fields.get('purpose')).toBe('fine-tune');
  });

  it('allocates a file once, from the size hint, instead of growing it', async () => {
    const bytes = new Uint8Array(200_000).fill(66);
    const { boundary, body } = await encode({ purpose: 'fine-tune' }, { name: 'c', bytes });
    const form = await readMultipart(
      cut(body, [100, 70_000, 140_000]),
      options(boundary, { sizeHint: body.length }),
    );
    const content = form.files.get('file')!.content!;
    // A view on the one buffer of the hinted size (growing would have doubled from 64 KiB to 256 KiB).
    expect(content.buffer.byteLength).toBe(body.length);
    expect(Buffer.compare(content, Buffer.from(bytes))).toBe(0);
  });

  it('refuses a body that ends before its closing boundary', async () => {
    const { boundary, body } = await encode(
      { purpose: 'fine-tune' },
      { name: 'd', bytes: new Uint8Array(10) },
    );
    await expect(
      readMultipart(cut(body.subarray(0, body.length - 10), []), options(boundary)),
    ).rejects.toThrow(MultipartError);
  });
});

describe('multipartBoundary', () => {
  it('reads quoted and bare boundaries, and only from multipart/form-data', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/json')).toBeUndefined();
    expect(multipartBoundary(undefined)).toBeUndefined();
  });
});
