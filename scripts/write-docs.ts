import { readFileSync, writeFileSync } from 'node:fs';
import { renderIssueCodeTable } from '../functions/core/issue-codes.js';
import { runEventDetailJsonSchema } from '../functions/core/run-events.js';

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

// The run events' detail schema in docs/run-events.md, generated from its zod schema.
const eventsPath = new URL('../docs/run-events.md', import.meta.url);
const eventsDoc = readFileSync(eventsPath, 'utf8');
const schemaMarked = /(<!-- run-event-schema:start -->\n)[\s\S]*?(<!-- run-event-schema:end -->)/;
if (!schemaMarked.test(eventsDoc)) throw new Error('docs/run-events.md has no run-event-schema markers');
writeFileSync(
  eventsPath,
  eventsDoc.replace(
    schemaMarked,
    (_, start: string, end: string) =>
      `${start}\n\`\`\`json\n${runEventDetailJsonSchema()}\n\`\`\`\n\n${end}`,
  ),
);
