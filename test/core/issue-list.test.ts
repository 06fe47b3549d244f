import fc from 'fast-check';
import { IssueList, MAX_LISTED_ISSUES, whereIs } from '../../functions/core/issue-list.js';
import { ISSUE_CODES, renderIssueCodeTable, type ErrorCode } from '../../functions/core/issue-codes.js';

describe('IssueList', () => {
  it('lists each problem once per run of consecutive lines, and the rows add up to the problems', () => {
    const codes: ErrorCode[] = ['invalid_json', 'not_an_object', 'unknown_key'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ code: fc.constantFrom(...codes), gap: fc.integer({ min: 1, max: 2 }) }), {
          maxLength: 300,
        }),
        (reported) => {
          const issues = new IssueList();
          let line = 0;
          const expanded: Array<[string, number]> = [];
          for (const { code, gap } of reported) {
            line += gap;
            issues.error(code, `problem ${code}`, 'fix', line);
            expanded.push([code, line]);
          }
          expect(issues.errorCount).toBe(reported.length);
          // Rows, expanded back into lines, give the problems in order (as far as rows are listed).
          const fromRows = issues.errors.flatMap((row) =>
            Array.from({ length: (row.lastLine ?? row.line!) - row.line! + 1 }, (_, k): [string, number] => [
              row.code,
              row.line! + k,
            ]),
          );
          expect(fromRows).toEqual(expanded.slice(0, fromRows.length));
          expect(issues.errors.length).toBeLessThanOrEqual(MAX_LISTED_ISSUES);
          for (const row of issues.errors)
            if (row.lastLine !== undefined) expect(row.times).toBe(row.lastLine - row.line! + 1);
          // No two neighbouring rows could have been one.
          issues.errors.forEach((row, i) => {
            const next = issues.errors[i + 1];
            if (next)
              expect(next.code === row.code && next.line === (row.lastLine ?? row.line!) + 1).toBe(false);
          });
        },
      ),
    );
  });

  it('keeps different messages of one code apart, even on consecutive lines', () => {
    const issues = new IssueList();
    issues.error('invalid_json', 'not valid JSON at column 3', 'fix', 4);
    issues.error('invalid_json', 'not valid JSON at column 9', 'fix', 5);
    expect(issues.errors).toHaveLength(2);
  });

  it('takes the fix from the registry when a check gives none', () => {
    const issues = new IssueList();
    issues.error('empty_answer', 'the answer is empty', undefined, 3);
    expect(issues.errors[0]).toMatchObject({ severity: 'error', fix: ISSUE_CODES.empty_answer.fix });
  });

  it('says where a row is, for one line or a range', () => {
    expect(whereIs({ line: 7 })).toBe('line 7');
    expect(whereIs({ line: 3, lastLine: 502, times: 500 })).toBe('lines 3–502 (500 times)');
  });
});

describe('the issue code registry', () => {
  it('is the codes table of docs/validation-report.md (run npm run docs after changing it)', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/validation-report.md', import.meta.url), 'utf8');
    const table = /<!-- issue-codes:start -->\n([\s\S]*?)\n<!-- issue-codes:end -->/.exec(doc)?.[1] ?? '';
    // Compared cell by cell: prettier pads the columns of the table in the docs.
    const cells = (text: string) =>
      text
        .split('\n')
        .filter((row) => row.trim() !== '' && !/^\|[\s|:-]+\|$/.test(row))
        .map((row) => row.split(/(?<!\\)\|/).map((c) => c.trim()));
    expect(cells(table)).toEqual(cells(renderIssueCodeTable()));
  });
});
