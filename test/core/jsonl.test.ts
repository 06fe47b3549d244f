import fc from 'fast-check';
import { NotUtf8Error, readJsonlLines } from '../../functions/core/jsonl.js';
import { chunks, collect } from '../support/fakes.js';

describe('readJsonlLines', () => {
  it('numbers lines from 1 and joins lines split across chunks', async () => {
    const lines = await collect(readJsonlLines(chunks('{"a":1}\n{"b":"héllo"}\n', 3)));
    expect(lines).toEqual([
      { lineNumber: 1, text: '{"a":1}' },
      { lineNumber: 2, text: '{"b":"héllo"}' },
    ]);
  });

  it('drops Windows line ends and keeps a last line without a newline', async () => {
    const lines = await collect(readJsonlLines(chunks('a\r\nb\r\nc')));
    expect(lines.map((l) => l.text)).toEqual(['a', 'b', 'c']);
  });

  it('keeps blank lines so that line numbers stay true', async () => {
    const lines = await collect(readJsonlLines(chunks('a\n\nb\n')));
    expect(lines).toEqual([
      { lineNumber: 1, text: 'a' },
      { lineNumber: 2, text: '' },
      { lineNumber: 3, text: 'b' },
    ]);
  });

  it('fails with the line number on bytes that are not UTF-8', async () => {
    async function* source() {
      yield new TextEncoder().encode('ok\n');
      yield Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]);
    }
    await expect(collect(readJsonlLines(source()))).rejects.toEqual(new NotUtf8Error(2));
  });
});

describe('readJsonlLines with limits', () => {
  const encoder = new TextEncoder();
  /** Splits bytes at the given cut points, as a stream delivers them. */
  async function* pieces(bytes: Uint8Array, cuts: number[]) {
    let start = 0;
    for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
      if (cut > start && cut < bytes.length) {
        yield bytes.subarray(start, cut);
        start = cut;
      }
    }
    if (start < bytes.length) yield bytes.subarray(start);
  }
  const lineArbitrary = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''));

  it('holds every line within the limit and reports each longer one by its byte size, however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArbitrary, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(2000), { maxLength: 20 }),
        fc.integer({ min: 1, max: 60 }),
        async (texts, cuts, maxLineBytes) => {
          const bytes = encoder.encode(texts.join('\n'));
          const lines = await collect(readJsonlLines(pieces(bytes, cuts), { maxLineBytes }));
          const expected = texts
            .map((text, i) => {
              const size = encoder.encode(text).length;
              return size > maxLineBytes
                ? { lineNumber: i + 1, text: '', oversizeBytes: size }
                : { lineNumber: i + 1, text };
            })
            // A last empty line after the final newline is no line.
            .filter((line, i) => i < texts.length - 1 || texts[i] !== '');
          expect(lines).toEqual(expected);
        },
      ),
    );
  });

  it('stops at the byte limit, drops the line it cuts and says which it was', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArbitrary, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(2000), { maxLength: 20 }),
        fc.nat(400),
        async (texts, cuts, maxBytes) => {
          const bytes = encoder.encode(`${texts.join('\n')}\n`);
          let cutAt: number | undefined;
          const lines = await collect(
            readJsonlLines(pieces(bytes, cuts), { maxBytes, onLimit: (line) => (cutAt = line) }),
          );
          // Exactly the lines whose bytes and newline end within the limit are read.
          let end = 0;
          const whole = texts.filter((text) => (end += encoder.encode(text).length + 1) <= maxBytes);
          expect(lines.map((l) => l.text)).toEqual(whole);
          expect(cutAt).toBe(bytes.length > maxBytes ? whole.length + 1 : undefined);
        },
      ),
    );
  });
});
