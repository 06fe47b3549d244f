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
