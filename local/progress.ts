import type { RunRecord } from '../functions/core/run.js';
import type { TrainingSummary } from '../functions/core/results.js';

/** Terminal output for local mode: one line per status change, then the run's summary. */
export function describeChange(record: RunRecord): string {
  const last = record.history.at(-1);
  const detail = last?.detail ? ` (${last.detail})` : '';
  return `  ${record.runId}  ${record.status}${detail}`;
}

export function describeRun(record: RunRecord, bucket: string): string {
  const lines = [`Run ${record.runId}: ${record.status}`];
  const row = (label: string, value: string | number | undefined) => {
    if (value !== undefined) lines.push(`  ${label.padEnd(20)}${value}`);
  };
  row('source', `s3://${record.source.bucket}/${record.source.key}`);
  row('provider', record.provider);
  row('base model', record.baseModel);
  row('provider job', record.providerJobId);
  row('fine-tuned model', record.fineTunedModel);
  row(
    'examples',
    record.trainingExamples !== undefined
      ? `${record.trainingExamples} training, ${record.validationExamples ?? 0} validation`
      : undefined,
  );
  row('trained tokens', record.trainedTokens);
  const estimate = record.estimatedCostUsd;
  row(
    'cost',
    record.costUsd !== undefined
      ? `$${record.costUsd.toFixed(4)} (${estimate === undefined ? 'no estimate' : `estimated $${estimate.toFixed(4)}`})`
      : record.status !== 'SUCCEEDED'
        ? undefined
        : estimate !== undefined
          ? // Bedrock reports no trained tokens: the estimate is all there is.
            `estimated $${estimate.toFixed(4)} (the provider reports no trained tokens)`
          : "unknown (no source gives this model's training price)",
  );
  row('results.csv', record.resultsKey && `s3://${bucket}/${record.resultsKey}`);
  row('summary', record.summaryKey && `s3://${bucket}/${record.summaryKey}`);
  row('validation report', record.validationReportKey && `s3://${bucket}/${record.validationReportKey}`);
  if (record.error) {
    row('error', `${record.error.message}${record.error.code ? ` [${record.error.code}]` : ''}`);
    row('fix', record.error.fix);
  }
  return lines.join('\n');
}

/** What a run's files add to its summary: the validation warnings, and the loss it ended with. */
export function describeFindings(findings: {
  warnings?: ReadonlyArray<{ code: string }>;
  /** summary.json's `metrics` (a TrainingSummary), the part shown. */
  metrics?:
    | (Pick<TrainingSummary, 'steps'> & {
        final: Pick<NonNullable<TrainingSummary['final']>, 'trainLoss' | 'validLoss'> | null;
        first: Pick<NonNullable<TrainingSummary['first']>, 'trainLoss'> | null;
      })
    | undefined;
}): string {
  const lines: string[] = [];
  const warnings = findings.warnings ?? [];
  if (warnings.length > 0) {
    const codes = [...new Set(warnings.map((w) => w.code))];
    lines.push(
      `  ${'warnings'.padEnd(20)}${warnings.length}: ${codes.slice(0, 4).join(', ')}${codes.length > 4 ? ', …' : ''} (validation.md says where and why)`,
    );
  }
  const final = findings.metrics?.final;
  if (final) {
    const parts = [
      final.trainLoss !== null ? `train ${final.trainLoss.toFixed(3)}` : undefined,
      final.validLoss !== null ? `validation ${final.validLoss.toFixed(3)}` : undefined,
    ].filter(Boolean);
    const first = findings.metrics?.first?.trainLoss;
    lines.push(
      `  ${'final loss'.padEnd(20)}${parts.join(', ')} after ${findings.metrics!.steps} steps${first !== null && first !== undefined ? ` (train loss at step 1: ${first.toFixed(3)})` : ''}`,
    );
  }
  return lines.join('\n');
}
