import fc from 'fast-check';
import {
  decodeLines,
  readCsvRows,
  readEmbeddingRecords,
  type EmbeddingLineIssue,
  type EmbeddingReadOptions,
  type EmbeddingReadStats,
  type EmbeddingRecord,
} from '../../functions/core/embedding-input.js';
import { chunks, collect } from '../support/fakes.js';

const JSONL: EmbeddingReadOptions = { format: 'jsonl', textField: 'text', idField: 'id' };
const CSV: EmbeddingReadOptions = { format: 'csv', textField: 'text', idField: 'id' };

async function read(text: string, options: EmbeddingReadOptions, size = 7) {
  const stats: EmbeddingReadStats = { lines: 0, blankLines: 0 };
  const items = await collect(readEmbeddingRecords(chunks(text, size), options, stats));
  return {
    stats,
    records: items.filter((item): item is EmbeddingRecord => item.kind === 'record'),
    issues: items.filter((item): item is EmbeddingLineIssue => item.kind === 'issue'),
  };
}

/** Bytes cut at the given offsets: chunk boundaries anywhere, inside UTF-8 characters too. */
async function* cutAt(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
  yield bytes.subarray(start);
}

describe('decodeLines', () => {
  it('joins a UTF-8 character split across chunks and drops CR before LF and a leading BOM', async () => {
    const text = '\uFEFFé€😀 first\r\nsecond\nlast';
    expect(await collect(decodeLines(chunks(text, 1)))).toEqual(['é€😀 first', 'second', 'last']);
  });

  it('reads a line far longer than any chunk whole', async () => {
    const long = 'x'.repeat(100_000);
    expect(await collect(decodeLines(chunks(`${long}\nb\n`, 13)))).toEqual([long, 'b']);
  });
});

describe('readEmbeddingRecords on JSONL', () => {
  it('reads ids, texts and the other fields as metadata, with their lines', async () => {
    const { records, issues, stats } = await read(
      '{"id": "a", "text": "hello", "lang": "en", "tags": ["x"]}\n\n{"id": 7, "text": "world", "score": 1.5}\n',
      JSONL,
    );
    expect(issues).toEqual([]);
    expect(records).toEqual([
      { kind: 'record', line: 1, id: 'a', text: 'hello', metadata: { lang: 'en', tags: ['x'] } },
      { kind: 'record', line: 3, id: '7', text: 'world', metadata: { score: 1.5 } },
    ]);
    expect(stats).toEqual({ lines: 3, blankLines: 1 });
  });

  it('keeps only the listed metadata fields, null where a line lacks one', async () => {
    const { records } = await read('{"id": 1, "text": "t", "a": 1, "b": 2}\n{"id": 2, "text": "u"}\n', {
      ...JSONL,
      metadataFields: ['a'],
    });
    expect(records.map((r) => r.metadata)).toEqual([{ a: 1 }, { a: null }]);
  });

  it('uses the line number as the id when idField is null', async () => {
    const { records } = await read('\n{"text": "t"}\n', { ...JSONL, idField: null });
    expect(records[0]).toMatchObject({ id: '2', line: 2 });
  });

  it.each([
    ['not json', 'line_not_json'],
    ['[1, 2]', 'line_not_object'],
    ['{"id": "a"}', 'text_missing'],
    ['{"id": "a", "text": 5}', 'text_not_string'],
    ['{"id": "a", "text": "  \\n "}', 'text_empty'],
    ['{"text": "t"}', 'id_missing'],
    ['{"id": "", "text": "t"}', 'id_invalid'],
    ['{"id": {"x": 1}, "text": "t"}', 'id_invalid'],
    ['{"id": "a", "text": "t", "embedding": [1]}', 'metadata_name_reserved'],
  ])('reports %s as %s, with its line and a fix, and no record', async (line, code) => {
    const { records, issues } = await read(`{"id": "ok", "text": "fine"}\n${line}\n`, JSONL);
    expect(records.map((r) => r.id)).toEqual(['ok']);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 2, code });
    expect(issues[0]!.fix.length).toBeGreaterThan(10);
  });

  it('keeps __proto__ as a plain metadata key', async () => {
    const { records } = await read('{"id": 1, "text": "t", "__proto__": {"polluted": true}}\n', JSONL);
    expect(Object.keys(records[0]!.metadata)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('readEmbeddingRecords on CSV', () => {
  it('reads quoted fields with commas, newlines and doubled quotes, at the line each record starts', async () => {
    const text = 'id,text,lang\r\n1,"Hello, ""world""",en\r\n2,"two\r\nlines",fr\r\n3,plain,de';
    const { records, issues, stats } = await read(text, CSV, 3);
    expect(issues).toEqual([]);
    expect(records).toEqual([
      { kind: 'record', line: 2, id: '1', text: 'Hello, "world"', metadata: { lang: 'en' } },
      { kind: 'record', line: 3, id: '2', text: 'two\r\nlines', metadata: { lang: 'fr' } },
      { kind: 'record', line: 5, id: '3', text: 'plain', metadata: { lang: 'de' } },
    ]);
    expect(stats.lines).toBe(5);
  });

  it('reports a row with the wrong number of columns and goes on', async () => {
    const { records, issues } = await read('id,text\n1,a,extra\n2,b\n', CSV);
    expect(issues).toEqual([expect.objectContaining({ line: 2, code: 'csv_column_count' })]);
    expect(records.map((r) => r.id)).toEqual(['2']);
  });

  it('reports a missing text column once, naming the columns there are', async () => {
    const { records, issues } = await read('id,body\n1,a\n2,b\n3,c\n', CSV);
    expect(records).toEqual([]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 1, code: 'csv_text_column_missing' });
    expect(issues[0]!.fix).toContain('"body"');
  });

  it('reports an unclosed quote at the end of the file with the line it opened on', async () => {
    const { records, issues } = await read('id,text\n1,ok\n2,"never closed\nmore\n', CSV);
    expect(records.map((r) => r.id)).toEqual(['1']);
    expect(issues).toEqual([expect.objectContaining({ line: 3, code: 'csv_unclosed_quote' })]);
  });

  it('reports a metadata column named "embedding" once and leaves it out', async () => {
    const { records, issues } = await read('id,text,embedding\n1,a,x\n2,b,y\n', CSV);
    expect(issues).toEqual([expect.objectContaining({ line: 1, code: 'metadata_name_reserved' })]);
    expect(records.map((r) => r.metadata)).toEqual([{}, {}]);
  });

  it('reports empty text and empty ids per row, and skips blank lines', async () => {
    const { records, issues, stats } = await read('id,text\n\n1, \n,b\n3,c\n', CSV);
    expect(issues.map((i) => [i.line, i.code])).toEqual([
      [3, 'text_empty'],
      [4, 'id_missing'],
    ]);
    expect(records.map((r) => r.id)).toEqual(['3']);
    expect(stats.blankLines).toBe(1);
  });
});

const csvField = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', ',', '"', '""', '\n', '\r\n', 'a,b', 'say "hi"', '😀', 'é\r'),
);

function quote(field: string, always: boolean): string {
  return always || /[",\r\n]/.test(field) || field === '' ? `"${field.replaceAll('"', '""')}"` : field;
}

describe('the CSV parser (properties)', () => {
  it('gives back the fields of any rows, however they are quoted and cut into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }).chain((width) =>
          fc.record({
            rows: fc.array(fc.array(csvField, { minLength: width, maxLength: width }), {
              minLength: 1,
              maxLength: 8,
            }),
            quoteAll: fc.boolean(),
            crlf: fc.boolean(),
            finalNewline: fc.boolean(),
            cuts: fc.array(fc.nat(), { maxLength: 12 }),
          }),
        ),
        async ({ rows, quoteAll, crlf, finalNewline, cuts }) => {
          const newline = crlf ? '\r\n' : '\n';
          const text =
            rows.map((row) => row.map((field) => quote(field, quoteAll)).join(',')).join(newline) +
            (finalNewline ? newline : '');
          const bytes = new TextEncoder().encode(text);
          const parsed = await collect(readCsvRows(cutAt(bytes, cuts)));
          // Lone surrogates do not survive UTF-8; compare with what encoding does to them.
          const roundTrip = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));
          expect(parsed.map((row) => ('fields' in row ? row.fields : row))).toEqual(
            rows.map((row) => row.map(roundTrip)),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads the same records whatever the chunk boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ id: fc.string({ minLength: 1 }), text: csvField, note: csvField }), {
          maxLength: 6,
        }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (records, cuts) => {
          const text =
            'id,text,note\n' +
            records.map((r) => [r.id, r.text, r.note].map((f) => quote(f, false)).join(',')).join('\n');
          const bytes = new TextEncoder().encode(text);
          const whole = await collect(readEmbeddingRecords(cutAt(bytes, []), CSV));
          const cut = await collect(readEmbeddingRecords(cutAt(bytes, cuts), CSV));
          expect(cut).toEqual(whole);
        },
      ),
      { numRuns: 200 },
    );
  });
});
