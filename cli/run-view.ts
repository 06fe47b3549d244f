import { runKindOf } from '../functions/core/run.js';
import { renderLossCurve, type LossPoint } from './loss-curve.js';
import type { CliRun } from './services.js';
import { renderTable, time, tokens, usd } from './table.js';

/** Where a run's files are, as s3:// URIs (the run's files live in its source's bucket). */
export interface RunFiles {
  source: string;
  validationReport?: string;
  results?: string;
  summary?: string;
  report?: string;
  /** An embedding run's embeddings (embeddings.parquet, or .jsonl), once collected. */
  output?: string;
  /** An embedding run's manifest.json (model, dimensions, counts, tokens, cost, failed ids). */
  manifest?: string;
}

export function runFiles(run: CliRun): RunFiles {
  const uri = (key: string) => `s3://${run.source.bucket}/${key}`;
  return {
    source: uri(run.source.key),
    ...(run.validationReportKey ? { validationReport: uri(run.validationReportKey) } : {}),
    ...(run.embedding?.outputKey ? { output: uri(run.embedding.outputKey) } : {}),
    ...(run.embedding?.manifestKey ? { manifest: uri(run.embedding.manifestKey) } : {}),
    ...(run.resultsKey ? { results: uri(run.resultsKey) } : {}),
    ...(run.summaryKey ? { summary: uri(run.summaryKey) } : {}),
    ...(run.reportKey ? { report: uri(run.reportKey) } : {}),
  };
}

/** A run as `--json` prints it: its kind said, `fine-tuning` for the items from before #15 too. */
export function runJson(run: CliRun): CliRun & { kind: ReturnType<typeof runKindOf> } {
  return { ...run, kind: runKindOf(run) };
}

/**
 * `runs list`: one line per run. The KIND column comes when an embedding run is listed (its FAMILY is its
 * collection, its MODEL the embedding model, its TOKENS the billed input tokens, else the estimate).
 */
export function runsTable(runs: CliRun[]): string {
  if (runs.length === 0) return 'No runs.\n';
  const mixed = runs.some((r) => runKindOf(r) === 'embeddings');
  return renderTable(
    [
      { header: 'RUN', cell: (r: CliRun) => r.runId },
      ...(mixed ? [{ header: 'KIND', cell: (r: CliRun) => runKindOf(r) }] : []),
      { header: 'FAMILY', cell: (r) => r.family },
      { header: 'STATUS', cell: (r) => r.status },
      { header: 'CREATED', cell: (r) => time(r.createdAt) },
      { header: 'PROVIDER', cell: (r) => r.provider ?? '-' },
      { header: 'MODEL', cell: (r) => r.fineTunedModel ?? r.embedding?.model ?? r.baseModel ?? '-' },
      { header: 'TOKENS', cell: (r) => tokens(usedTokens(r) ?? r.estimatedTokens), align: 'right' },
      { header: 'COST', cell: (r) => costCell(r), align: 'right' },
    ],
    runs,
  );
}

/** The tokens a run used: trained (fine-tuning) or billed input tokens (embeddings). */
function usedTokens(run: CliRun): number | undefined {
  return runKindOf(run) === 'embeddings' ? run.embedding?.tokens : run.trainedTokens;
}

/** The actual cost, or the estimate marked with "~" while there is none. */
export function costCell(run: CliRun): string {
  if (run.costUsd !== undefined) return usd(run.costUsd);
  return run.estimatedCostUsd !== undefined ? `~${usd(run.estimatedCostUsd)}` : '-';
}

/** `runs show`: everything about one run, and its loss curve when there is one. */
export function describeRun(run: CliRun, loss: LossPoint[] | null, lossNote?: string): string {
  if (runKindOf(run) === 'embeddings') return describeEmbeddingRun(run);
  const facts: [string, string][] = [
    ['Family', run.family],
    [
      'Status',
      run.status + (run.providerStatus && !isEnded(run) ? ` (provider: ${run.providerStatus})` : ''),
    ],
    ['Created', time(run.createdAt)],
    ['Finished', time(run.finishedAt)],
    ['Provider', run.provider ?? '-'],
    ['Base model', run.baseModel ?? '-'],
  ];
  if (run.parentModel && run.parentModel !== run.baseModel) facts.push(['Parent model', run.parentModel]);
  facts.push(
    ['Fine-tuned model', run.fineTunedModel ?? '-'],
    [
      'Examples',
      run.trainingExamples === undefined
        ? '-'
        : `${tokens(run.trainingExamples)} training, ${tokens(run.validationExamples ?? 0)} validation`,
    ],
    ['Tokens', `estimated ${tokens(run.estimatedTokens)}, trained ${tokens(run.trainedTokens)}`],
    ['Cost', `estimated ${usd(run.estimatedCostUsd)}, actual ${usd(run.costUsd)}`],
  );
  if (run.trigger && run.trigger !== 'drop')
    facts.push([
      'Started by',
      `the family's ${run.trigger === 'schedule' ? 'schedule' : 'operator (tunedrop retrain)'}`,
    ]);
  if (run.dataset)
    facts.push([
      'Dataset',
      `${run.dataset.mode === 'all' ? `all the family's files (${run.dataset.fileCount})` : 'the dropped file'}, ${tokens(run.dataset.examples)} examples` +
        (run.dataset.duplicatesRemoved
          ? `, ${tokens(run.dataset.duplicatesRemoved)} copies of earlier files left out`
          : '') +
        `; files in s3://${run.source.bucket}/${run.dataset.manifestKey}`,
    ]);
  if (run.providerJobId) facts.push(['Provider job', run.providerJobId]);
  if (run.executionArn) facts.push(['Execution', run.executionArn]);
  const lines = runPage(run, facts, [
    ['source', 'source'],
    ['validationReport', 'validation report'],
    ['results', 'results.csv'],
    ['summary', 'summary.json'],
    ['report', 'report.html'],
  ]);
  lines.push('');
  if (loss) lines.push('Loss', renderLossCurve(loss).trimEnd());
  else if (lossNote) lines.push(`Loss: ${lossNote}`);
  return `${lines.join('\n').trimEnd()}\n`;
}

/** A run's page for `runs show`, either kind: its facts, its error and fix, its history, its files. */
function runPage(run: CliRun, facts: [string, string][], files: [keyof RunFiles, string][]): string[] {
  const width = Math.max(...facts.map(([k]) => k.length));
  const lines = [`Run ${run.runId}`, ...facts.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), ''];
  if (run.error) {
    lines.push(
      `Error: ${run.error.name}${run.error.code ? ` (${run.error.code})` : ''}: ${run.error.message}`,
    );
    if (run.error.fix) lines.push(`Fix: ${run.error.fix}`);
    lines.push('');
  }
  lines.push('History');
  for (const change of run.history)
    lines.push(`  ${time(change.at)}  ${change.status}${change.detail ? ` (${change.detail})` : ''}`);
  lines.push('', 'Files', ...fileLines(run, files));
  return lines;
}

function fileLines(run: CliRun, names: [keyof RunFiles, string][]): string[] {
  const files = runFiles(run);
  const lines: string[] = [];
  for (const [key, name] of names) {
    const uri = files[key];
    if (uri)
      lines.push(
        `  ${name.padEnd(17)}  ${uri}${key === 'source' && run.source.versionId ? ` (version ${run.source.versionId})` : ''}`,
      );
  }
  return lines;
}

/**
 * `runs show` for an embedding run (#15): its collection, model, dimensions, mode, counts, tokens, cost
 * and files (validation report, embeddings, manifest); no loss curve, nothing is trained.
 */
function describeEmbeddingRun(run: CliRun): string {
  const embedding = run.embedding;
  const count = (n: number | undefined) => (n === undefined ? '-' : tokens(n));
  const facts: [string, string][] = [
    ['Kind', 'embeddings'],
    ['Collection', run.family],
    [
      'Status',
      run.status + (run.providerStatus && !isEnded(run) ? ` (provider: ${run.providerStatus})` : ''),
    ],
    ['Created', time(run.createdAt)],
    ['Finished', time(run.finishedAt)],
    ['Provider', run.provider ?? '-'],
    ['Model', embedding?.model ?? run.baseModel ?? '-'],
    ['Dimensions', embedding ? String(embedding.dimensions) : '-'],
    [
      'Mode',
      embedding
        ? embedding.mode === 'batch'
          ? 'batch (the Batch API, its batch price)'
          : 'direct (the embeddings endpoint)'
        : '-',
    ],
    [
      'Records',
      embedding?.embedded === undefined && embedding?.failed === undefined
        ? '-'
        : `${count(embedding.embedded)} embedded, ${count(embedding.failed)} failed`,
    ],
    ['Tokens', `estimated ${tokens(run.estimatedTokens)}, billed ${tokens(embedding?.tokens)}`],
    ['Cost', `estimated ${usd(run.estimatedCostUsd)}, actual ${usd(run.costUsd)}`],
  ];
  if (embedding?.batchIds?.length) facts.push(['Batches', embedding.batchIds.join(', ')]);
  if (run.executionArn) facts.push(['Execution', run.executionArn]);
  const lines = runPage(run, facts, [
    ['source', 'source'],
    ['validationReport', 'validation report'],
    ['output', 'embeddings'],
    ['manifest', 'manifest.json'],
  ]);
  return `${lines.join('\n').trimEnd()}\n`;
}

function isEnded(run: CliRun): boolean {
  return run.finishedAt !== undefined;
}
