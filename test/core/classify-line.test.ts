import fc from 'fast-check';
import { classifyLine, duplicateKeyIn } from '../../functions/core/classify-line.js';
import { IssueList } from '../../functions/core/issue-list.js';
import { minimalChatLine, validateBytes } from '../support/fakes.js';

const chatLine = minimalChatLine;
const twelve = Array.from({ length: 12 }, (_, i) => chatLine(i));

describe('duplicateKeyIn', () => {
  it('finds nothing in JSON that has no duplicate keys, whatever its strings hold', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const text = JSON.stringify(value);
        expect(duplicateKeyIn(text, JSON.parse(text))).toBeUndefined();
      }),
    );
  });

  it('finds a key written twice in any object of the line', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 5 }),
        fc.jsonValue({ maxDepth: 2 }),
        (object, extra) => {
          const key = Object.keys(object)[0]!;
          const inner = `${JSON.stringify(object).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(extra)}}`;
          const text = `{"messages":[${inner}]}`;
          expect(duplicateKeyIn(text, JSON.parse(text))).toBe(JSON.stringify(key).slice(1, -1));
        },
      ),
    );
  });
});

describe('classifying a line', () => {
  it('calls a first line that opens an array with an object a JSON array, whatever follows on it', () => {
    const issues = new IssueList();
    expect(classifyLine('[{"messages": []},', 1, issues)).toEqual({ kind: 'not_jsonl' });
    expect(issues.errors[0]).toMatchObject({ code: 'json_array', line: 1 });
  });
});

describe('reading a file', () => {
  it('reports each line that is not UTF-8 and goes on checking the lines after it', async () => {
    const enc = new TextEncoder();
    const bytes = Uint8Array.from([
      ...enc.encode(`${twelve.join('\n')}\n`),
      0x7b,
      0xff,
      0x7d,
      0x0a,
      ...enc.encode(`${chatLine(20)}\n{"messages": [\n`),
    ]);
    const report = await validateBytes(bytes);
    expect(report.errors.map((e) => [e.code, e.line])).toEqual([
      ['not_utf8', 13],
      ['invalid_json', 15],
    ]);
    expect(report.examples).toBe(13);
    expect(report.lines).toBe(15);
  });

  it('calls a file of blank lines empty', async () => {
    const report = await validateBytes('\n\n  \n');
    expect(report.errors).toEqual([
      expect.objectContaining({ code: 'empty_file', message: 'the file has only blank lines' }),
    ]);
  });

  it('names no line for a file that is not text at all', async () => {
    const report = await validateBytes(Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    expect(report.errors).toEqual([expect.objectContaining({ code: 'not_utf8_gzip' })]);
    expect(report.errors[0]!.line).toBeUndefined();
  });

  it('warns about a key written twice, at its line, and still checks the example as read', async () => {
    const twice = `{"messages": "lost", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}`;
    const report = await validateBytes([...twelve, twice].join('\n'));
    expect(report.verdict).toBe('valid');
    expect(report.warnings).toContainEqual(expect.objectContaining({ code: 'duplicate_key', line: 13 }));
  });
});

describe('messages of invalid JSON', () => {
  it('name an invisible character by its code point, and say when a line holds carriage returns', () => {
    const issues = new IssueList();
    classifyLine('{"messages": \ufeff[]}', 5, issues);
    classifyLine('{"messages": []}\r{"messages": []}', 6, issues);
    expect(issues.errors[0]!.message).toContain('U+FEFF');
    expect(issues.errors[1]!.message).toContain('carriage returns');
    expect(issues.errors[1]!.message).not.toMatch(/\(line \d+ column \d+\)/);
  });
});
