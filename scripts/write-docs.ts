import { readFileSync, writeFileSync } from 'node:fs';
import { renderIssueCodeTable } from '../functions/core/issue-codes.js';

/**
 * Writes the parts of the docs that are rendered from code: the issue codes table of
 * docs/validation-report.md, between its markers. `npm run docs`; a test fails while they differ.
 */
const path = new URL('../docs/validation-report.md', import.meta.url);
const doc = readFileSync(path, 'utf8');
const marked = /(<!-- issue-codes:start -->\n)[\s\S]*?(<!-- issue-codes:end -->)/;
if (!marked.test(doc)) throw new Error('docs/validation-report.md has no issue-codes markers');
writeFileSync(
  path,
  doc.replace(marked, (_, start: string, end: string) => `${start}${renderIssueCodeTable()}\n${end}`),
);
