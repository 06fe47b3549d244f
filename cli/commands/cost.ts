import { UsageError, type Values } from '../args.js';
import type { Context } from '../context.js';
import { COST_GROUPINGS, costReport, type CostGrouping, type CostReport } from '../cost-report.js';
import { renderTable, tokens, usd } from '../table.js';

/** --since DATE: a calendar date (or a full ISO time), compared with the runs' createdAt. */
export function parseSince(value: string | boolean | undefined): string | null {
  if (value === undefined) return null;
  const text = String(value);
  if (!/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(text) || Number.isNaN(Date.parse(text)))
    throw new UsageError(`--since takes a date as YYYY-MM-DD, not "${text}" (e.g. --since 2026-11-01)`);
  return text;
}

export function parseGrouping(value: string | boolean | undefined): CostGrouping {
  if (value === undefined) return 'family';
  if (!(COST_GROUPINGS as readonly string[]).includes(String(value)))
    throw new UsageError(`--by takes one of ${COST_GROUPINGS.join(', ')}, not "${String(value)}"`);
  return value as CostGrouping;
}

export function costTable(report: CostReport): string {
  const header = {
    family: 'FAMILY',
    model: 'BASE MODEL',
    month: 'MONTH',
    provider: 'PROVIDER',
    kind: 'KIND',
  }[report.by];
  const rows = [...report.groups, { key: 'TOTAL', ...report.total }];
  const since = report.since ? `Runs created since ${report.since}` : 'All runs';
  return `${since}, by ${report.by}:\n${renderTable(
    [
      { header, cell: (r: (typeof rows)[number]) => r.key },
      { header: 'RUNS', cell: (r) => String(r.runs), align: 'right' },
      { header: 'COST', cell: (r) => usd(r.costUsd), align: 'right' },
      { header: 'OF WHICH EVALUATION', cell: (r) => usd(r.evaluationCostUsd), align: 'right' },
      {
        header: 'ESTIMATED (NO COST YET)',
        cell: (r) => (r.runsWithoutCost ? `${usd(r.estimatedCostUsd)} (${r.runsWithoutCost})` : '-'),
        align: 'right',
      },
      { header: 'TRAINED TOKENS', cell: (r) => tokens(r.trainedTokens), align: 'right' },
      // Shown once embedding runs billed tokens: a deployment that only fine-tunes keeps its table.
      ...(report.total.embeddingTokens > 0
        ? [
            {
              header: 'EMBEDDING TOKENS',
              cell: (r: (typeof rows)[number]) => tokens(r.embeddingTokens),
              align: 'right' as const,
            },
          ]
        : []),
    ],
    rows,
  )}`;
}

export async function cost(values: Values, context: Context): Promise<number> {
  const since = parseSince(values.since);
  const by = parseGrouping(values.by);
  const { services } = await context.connect(values);
  const report = costReport(await services.allRuns(), { since, by });
  context.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : costTable(report));
  return 0;
}
