import type { DatasetIssue, ValidationReport } from './dataset.js';
import type { ImageSummary } from './images.js';
import type { ObjectStore } from './ports.js';
import { runKeys, type RunRecord } from './run.js';

/**
 * The validation report as stored next to the data: `runs/<runId>/validation.json` for machines and
 * `validation.md` for a person in the S3 console. Schema version 1 is documented in docs/validation-report.md.
 */
export interface StoredValidationReport extends ValidationReport {
  schemaVersion: 1;
  runId: string;
  source: { bucket: string; key: string; versionId?: string | undefined };
  checkedAt: string;
  /**
   * Set once a run that passed validation has ended without a model, so that the report no longer says
   * that training will start. Absent while the run goes on, and when it succeeds.
   */
  outcome?: RunOutcome;
}

/** How a run that passed validation ended without a model, as its run item records it. */
export interface RunOutcome {
  status: 'FAILED' | 'CANCELLED' | 'TIMED_OUT';
  code: string;
  message: string;
  fix: string;
  /** When the run ended (ISO 8601). */
  at: string;
  /** The provider ended it: refused the file, failed or cancelled the job, or could not be reached. */
  atProvider: boolean;
}

const UNSUCCESSFUL_ENDS: ReadonlySet<string> = new Set<RunOutcome['status']>([
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
]);

/**
 * The outcome a run's report shows, from its run item (the source of truth): undefined while the run
 * goes on, when it succeeded, and when it was rejected (its report already says why). Taken only from
 * what the item keeps once the run has ended, so whoever asks again gets the same answer.
 */
export function outcomeOf(run: RunRecord): RunOutcome | undefined {
  if (!UNSUCCESSFUL_ENDS.has(run.status)) return undefined;
  const status = run.status as RunOutcome['status'];
  const at =
    run.finishedAt ?? run.history.findLast((change) => change.status === status)?.at ?? run.updatedAt;
  const error = run.error;
  return {
    status,
    code: error?.code ?? status.toLowerCase(),
    message: error?.message ?? `the run ended ${status}`,
    fix: error?.fix ?? 'Drop the file again to start a new run.',
    at,
    // The errors the provider's answers become (core/errors.ts, record-outcome.ts) are named for it.
    atProvider: error?.name.startsWith('Provider') ?? false,
  };
}

/**
 * What noteRunEnd did: `written` the outcome into both reports, or left them as they were because the
 * run has not ended without a model (`not_ended`), its report says it was not valid (`not_valid`: it
 * never said training would start), or there is no report to amend (`no_report`).
 */
export type ReportAmendment = 'written' | 'not_ended' | 'not_valid' | 'no_report';

/**
 * Amends the validation report of a run that ended without a model (FAILED, CANCELLED, TIMED_OUT): adds
 * `outcome` to validation.json and renders validation.md again from it, so its top says how the run
 * ended instead of that training will start. Everything else in the report stays as it was checked.
 * The outcome comes from the run item alone, so amending twice writes the same bytes (Record and
 * reconcile may both amend a run, in either order, or again on a retry).
 */
export async function noteRunEnd(store: ObjectStore, run: RunRecord): Promise<ReportAmendment> {
  const outcome = outcomeOf(run);
  if (!outcome) return 'not_ended';
  const keys = runKeys(run.runId);
  const ref = (key: string) => ({ bucket: run.source.bucket, key });
  const text = await store.readText(ref(keys.validationJson));
  if (text === undefined) return 'no_report';
  const stored = parseStoredReport(text, run.runId);
  if (stored.verdict !== 'valid') return 'not_valid';
  const amended: StoredValidationReport = { ...stored, outcome };
  // Markdown first: it is what a person reads, and the JSON it is rendered from is rewritten next anyway.
  await store.write(
    ref(keys.validationMarkdown),
    renderValidationMarkdown(amended),
    'text/markdown; charset=utf-8',
  );
  await store.write(ref(keys.validationJson), `${JSON.stringify(amended, null, 2)}\n`, 'application/json');
  return 'written';
}

/**
 * Amends the report of a run that has ended (noteRunEnd), best effort: the run item is the source of
 * truth and is already written, so a failure here is handed to `onReportError`, never thrown. Record
 * failing on it would send a recorded run to Record failure; and reconcile amends the report again
 * when the workflow ends failed. Without `reports` (tests of other concerns) nothing is amended.
 */
export async function amendReport(
  run: RunRecord,
  deps: { reports?: ObjectStore | undefined; onReportError?: ((error: unknown) => void) | undefined },
): Promise<void> {
  if (!deps.reports) return;
  try {
    await noteRunEnd(deps.reports, run);
  } catch (error) {
    deps.onReportError?.(error);
  }
}

/** The stored report, checked as far as amending it needs: a report of this run, schema version 1. */
function parseStoredReport(text: string, runId: string): StoredValidationReport {
  const parsed: unknown = JSON.parse(text);
  const report = parsed as Partial<StoredValidationReport> | null;
  if (
    typeof report !== 'object' ||
    report === null ||
    report.schemaVersion !== 1 ||
    report.runId !== runId ||
    (report.verdict !== 'valid' && report.verdict !== 'invalid')
  ) {
    throw new Error(`runs/${runId}/validation.json is not a schema version 1 report of run ${runId}`);
  }
  return report as StoredValidationReport;
}

/** Adds whole-run problems (configuration, model, budget) in front of the dataset's own. */
export function withRunIssues(report: ValidationReport, issues: DatasetIssue[]): ValidationReport {
  if (issues.length === 0) return report;
  const errors = issues.filter((issue) => issue.severity === 'error');
  const warnings = issues.filter((issue) => issue.severity === 'warning');
  return {
    ...report,
    verdict: errors.length > 0 ? 'invalid' : report.verdict,
    errorCount: report.errorCount + errors.length,
    errors: [...errors, ...report.errors],
    warningCount: report.warningCount + warnings.length,
    warnings: [...warnings, ...report.warnings],
  };
}

/** What the provider adapter does to each line of a file the model takes in another format. */
const PROVIDER_FORMAT_NOTES: Readonly<Record<NonNullable<ValidationReport['providerFormat']>, string>> = {
  'bedrock-conversation-2024':
    "Amazon Bedrock trains Nova on `bedrock-conversation-2024` records: each line is written as one (the system message in `system`, each message's text as a content block), to `runs/<run>/bedrock/`. The text is unchanged; this file is not.",
  'prompt-completion':
    'Amazon Bedrock trains this model on `{"prompt", "completion"}` lines: each line\'s user message becomes the prompt and its assistant message the completion, written to `runs/<run>/bedrock/`. The text is unchanged; this file is not.',
};

export function renderValidationMarkdown(stored: StoredValidationReport): string {
  const r = stored;
  const lines: string[] = [`# Validation of \`${r.source.key}\``, ''];
  if (r.outcome && r.verdict === 'valid') {
    // The run ended without a model after passing: the top says how, and the rest stays as checked.
    const o = r.outcome;
    lines.push(
      `**❌ Validation passed, but the run ${ENDED[o.status]}${o.atProvider ? ' at the provider' : ''}: ${sentence(o.message)}** ${inline(o.fix)}`,
      '',
    );
    lines.push(
      `Run \`${r.runId}\`, checked ${r.checkedAt}; ended ${o.at} (\`${o.code}\`). The file passed validation; the report below is as it was checked.`,
      '',
    );
  } else {
    const verdict =
      r.verdict === 'valid'
        ? '✅ Valid: training will start'
        : `❌ Invalid: nothing was uploaded (${count(r.errorCount, 'problem')} to fix)`;
    lines.push(`**${verdict}**`, '', `Run \`${r.runId}\`, checked ${r.checkedAt}.`, '');
  }
  const images = r.tokens.images;
  // Past image URLs the cost is a bound, not a count: the images were not fetched to size them.
  const atMost = r.estimate.upperEstimate === true ? 'at most ' : '';
  lines.push('| | |', '|---|---|');
  lines.push(
    `| Examples | ${r.examples} (${r.split.trainingExamples} training, ${r.split.validationExamples} validation) |`,
  );
  if (r.exactCopies !== undefined) {
    lines.push(
      `| Exact copies | ${r.exactCopies} (${count(r.examples - r.exactCopies, 'distinct example')}; copies stay on one side of the split) |`,
    );
  }
  lines.push(
    `| Tokens | ${r.tokens.total} in all; per example min ${r.tokens.min}, mean ${r.tokens.mean}, max ${r.tokens.max} |`,
  );
  if (images) {
    lines.push(`| Examples with images | ${images.examplesWithImages} |`);
    lines.push(
      `| Images | ${images.images}${images.estimatedImages > 0 ? ` (${images.estimatedImages} given as ${images.estimatedImages === 1 ? 'a URL' : 'URLs'}, not fetched)` : ''} |`,
    );
    lines.push(
      `| Image tokens | ${images.tokens} (in the tokens above${images.estimatedTokens > 0 ? `; ${images.estimatedTokens} of them an upper estimate` : ''}) |`,
    );
  }
  lines.push(`| Model | ${r.estimate.model} |`);
  // Reports written before the method was recorded have none.
  if ((r as Partial<ValidationReport>).method) lines.push(`| Method | ${r.method} |`);
  lines.push(`| Epochs | ${r.estimate.epochs} |`);
  lines.push(`| Billed tokens (estimate) | ${atMost}${r.estimate.billedTokens} |`);
  lines.push(
    r.estimate.costUsd === null
      ? "| Cost (estimate) | unknown: no source gives this model's price (price_unknown) |"
      : `| Cost (estimate) | ${atMost}$${r.estimate.costUsd.toFixed(2)}${atMost ? ` (${upperEstimateReason(images)}) |` : ' |'}`,
  );
  const evaluation = r.estimate.evaluationCostUsd;
  if (evaluation !== undefined)
    lines.push(
      evaluation === null
        ? "| Evaluation (estimate) | unknown: no source gives this model's inference price |"
        : `| Evaluation (estimate) | at most $${evaluation.toFixed(evaluation < 0.01 ? 4 : 2)}, asking the new model and the one it is compared with (docs/evaluation.md) |`,
    );
  const upkeep = r.estimate.upkeep;
  if (upkeep)
    lines.push(
      `| After training | ${upkeep.usd === null ? 'an amount no source gives' : `$${upkeep.usd.toFixed(2)}`} per ${upkeep.per} for ${upkeep.what} |`,
    );
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
    for (const [label, examples] of Object.entries(r.classes)) lines.push(`| ${cell(label)} | ${examples} |`);
    lines.push('', 'The validation set keeps this mix (stratified split).', '');
  }
  if (r.conversion) {
    const c = r.conversion;
    lines.push(
      '### Converted from prompt/completion',
      '',
      `Separator ${JSON.stringify(c.separator)} stripped from ${count(c.separatorStripped, 'prompt')}; end token ${JSON.stringify(c.endToken)} from ${count(c.endTokenStripped, 'completion')}; leading space removed from ${count(c.leadingSpaceRemoved, 'completion')}. Prompts became user messages and completions assistant messages.`,
      '',
    );
  }
  if (r.providerFormat) {
    lines.push(
      `### Written in ${r.estimate.model}'s format on upload`,
      '',
      PROVIDER_FORMAT_NOTES[r.providerFormat],
      '',
    );
  }
  if (r.errorCount > 0) {
    lines.push(`## Errors (${r.errorCount})`, '', 'Fix these and upload the file again.', '');
    lines.push(...issueTable(r.errors, r.errorCount));
  }
  if (r.warningCount > 0) {
    lines.push(
      `## Warnings (${r.warningCount})`,
      '',
      `${r.warningCount === 1 ? 'It does' : 'They do'} not stop training, but may cost quality.`,
      '',
    );
    lines.push(...issueTable(r.warnings, r.warningCount));
  }
  return `${lines.join('\n')}\n`;
}

const ENDED: Record<RunOutcome['status'], string> = {
  FAILED: 'FAILED',
  CANCELLED: 'was CANCELLED',
  TIMED_OUT: 'TIMED OUT',
};

function upperEstimateReason(images: ImageSummary | undefined): string {
  const n = images?.estimatedImages ?? 0;
  const which =
    n > 0 ? `${count(n, 'image')} ${n === 1 ? 'is a URL' : 'are URLs'}` : 'images given as URLs are';
  return `${which} whose size is unknown offline, counted at the most an image can cost`;
}

/** "1 example", "2 examples", "0 examples". */
export function count(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}

function issueTable(issues: DatasetIssue[], total: number): string[] {
  const rows = ['| Line | Problem | How to fix | Code |', '|---|---|---|---|'];
  let listed = 0;
  for (const issue of issues) {
    // One row may stand for the same problem on consecutive lines (`lastLine`, `times`).
    const { lastLine, times = 1 } = issue;
    listed += times;
    const lines =
      issue.line !== undefined && lastLine !== undefined && lastLine > issue.line
        ? `${issue.line}–${lastLine} (${count(times, 'time')})`
        : `${issue.line ?? '—'}`;
    rows.push(
      `| ${issue.file ? `${issue.file} ` : ''}${lines} | ${cell(issue.message)} | ${cell(issue.fix)} | \`${issue.code}\` |`,
    );
  }
  if (total > listed) rows.push('', `…and ${count(total - listed, 'more problem')} not listed.`);
  rows.push('');
  return rows;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** On one line: a cause quoted from a provider may hold line breaks, which would end the bold text. */
const inline = (text: string) => text.replace(/\s*\r?\n\s*/g, ' ').trim();

/** Ends the text with one full stop, whether or not it had one. */
const sentence = (text: string) => `${inline(text).replace(/[.\s]+$/, '')}.`;
