import type { DatasetIssue, ValidationReport } from './dataset.js';

/**
 * The validation report as stored next to the data: `runs/<runId>/validation.json` for machines and
 * `validation.md` for a person in the S3 console. Schema version 1 is documented in docs/validation-report.md.
 */
export interface StoredValidationReport extends ValidationReport {
  schemaVersion: 1;
  runId: string;
  source: { bucket: string; key: string; versionId?: string | undefined };
  checkedAt: string;
}

/** Adds whole-run problems (configuration, model, budget) in front of the dataset's own. */
export function withRunIssues(report: ValidationReport, issues: DatasetIssue[]): ValidationReport {
  if (issues.length === 0) return report;
  return {
    ...report,
    verdict: 'invalid',
    errorCount: report.errorCount + issues.length,
    errors: [...issues, ...report.errors],
  };
}

export function renderValidationMarkdown(stored: StoredValidationReport): string {
  const r = stored;
  const lines: string[] = [];
  const verdict =
    r.verdict === 'valid' ? '✅ Valid: training will start' : '❌ Invalid: nothing was uploaded';
  lines.push(`# Validation of \`${r.source.key}\``, '', `**${verdict}**`, '');
  lines.push(`Run \`${r.runId}\`, checked ${r.checkedAt}.`, '');
  lines.push('| | |', '|---|---|');
  lines.push(
    `| Examples | ${r.examples} (${r.split.trainingExamples} training, ${r.split.validationExamples} validation) |`,
  );
  if (r.exactCopies !== undefined) {
    lines.push(
      `| Exact copies | ${r.exactCopies} (${r.examples - r.exactCopies} distinct examples; copies stay on one side of the split) |`,
    );
  }
  lines.push(
    `| Tokens | ${r.tokens.total} in all; per example min ${r.tokens.min}, mean ${r.tokens.mean}, max ${r.tokens.max} |`,
  );
  lines.push(`| Model | ${r.estimate.model} |`);
  lines.push(`| Epochs | ${r.estimate.epochs} |`);
  lines.push(`| Billed tokens (estimate) | ${r.estimate.billedTokens} |`);
  lines.push(`| Cost (estimate) | $${r.estimate.costUsd.toFixed(2)} |`);
  lines.push('');
  if (r.tokens.histogram.length > 0) {
    lines.push('### Tokens per example', '', '| up to | examples |', '|---|---|');
    for (const bin of r.tokens.histogram) {
      lines.push(`| ${bin.upTo ?? 'more'} | ${bin.examples} |`);
    }
    lines.push('');
  }
  if (r.classes) {
    lines.push('### Classes', '', '| label | examples |', '|---|---|');
    for (const [label, count] of Object.entries(r.classes)) lines.push(`| ${cell(label)} | ${count} |`);
    lines.push('', 'The validation set keeps this mix (stratified split).', '');
  }
  if (r.conversion) {
    const c = r.conversion;
    lines.push(
      '### Converted from prompt/completion',
      '',
      `Separator ${JSON.stringify(c.separator)} stripped from ${c.separatorStripped} prompts; end token ${JSON.stringify(c.endToken)} from ${c.endTokenStripped} completions; leading space removed from ${c.leadingSpaceRemoved}. Prompts became user messages and completions assistant messages.`,
      '',
    );
  }
  if (r.errorCount > 0) {
    lines.push(`## Errors (${r.errorCount})`, '', 'Fix these and upload the file again.', '');
    lines.push(...issueTable(r.errors, r.errorCount));
  }
  if (r.warningCount > 0) {
    lines.push(`## Warnings (${r.warningCount})`, '', 'Training goes on; these may cost quality.', '');
    lines.push(...issueTable(r.warnings, r.warningCount));
  }
  return `${lines.join('\n')}\n`;
}

function issueTable(issues: DatasetIssue[], total: number): string[] {
  const rows = ['| Line | Problem | How to fix | Code |', '|---|---|---|---|'];
  for (const issue of issues) {
    rows.push(
      `| ${issue.file ? `${issue.file} ` : ''}${issue.line ?? '—'} | ${cell(issue.message)} | ${cell(issue.fix)} | \`${issue.code}\` |`,
    );
  }
  if (total > issues.length) rows.push('', `…and ${total - issues.length} more not listed.`);
  rows.push('');
  return rows;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
