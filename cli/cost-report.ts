/**
 * `tunedrop cost`: what the runs cost, grouped. Pure, over the run items, so the sums are tested.
 *
 * Amounts are summed in whole micro-dollars: floating-point sums depend on their order, and the groups'
 * sums must equal the total exactly, whatever the grouping.
 */

export type CostGrouping = 'family' | 'model' | 'month' | 'provider' | 'kind';
export const COST_GROUPINGS: readonly CostGrouping[] = ['family', 'model', 'month', 'provider', 'kind'];

/**
 * The fields of a run item the report reads. An embedding run (#15) counts like a training run: its
 * family is its collection, its baseModel the embedding model, its costUsd what its requests cost.
 */
export interface CostedRun {
  /** `embeddings` for an embedding run; absent or `fine-tuning` for a training run. */
  kind?: 'fine-tuning' | 'embeddings' | undefined;
  family: string;
  createdAt: string;
  provider?: string | undefined;
  baseModel?: string | undefined;
  costUsd?: number | undefined;
  estimatedCostUsd?: number | undefined;
  trainedTokens?: number | undefined;
  /** The evaluation of the run's model (#14): its calls' cost, where known. */
  evaluation?: { costUsd: number | null } | undefined;
  /** An embedding run's facts: the input tokens its provider billed, once collected. */
  embedding?: { tokens?: number | undefined } | undefined;
}

export interface CostLine {
  runs: number;
  /** Sum of the actual costs: training, and evaluation (also apart in evaluationCostUsd). */
  costUsd: number;
  /** Sum of what the runs' evaluations cost (included in costUsd). */
  evaluationCostUsd: number;
  /** Sum of the estimates of the runs without an actual cost (not yet trained, failed, rejected). */
  estimatedCostUsd: number;
  /** Runs without an actual cost. */
  runsWithoutCost: number;
  /** Tokens the fine-tuning runs trained on. */
  trainedTokens: number;
  /** Input tokens the embedding runs were billed for. */
  embeddingTokens: number;
}

export interface CostReport {
  /** The YYYY-MM-DD (or ISO time) runs were counted from, or null for all. */
  since: string | null;
  by: CostGrouping;
  /** Largest cost first, then by key. */
  groups: (CostLine & { key: string })[];
  total: CostLine;
}

const UNKNOWN = '(unknown)';

/** The group a run is counted in: its family, base model, month of creation, provider or kind. */
export function costKey(run: CostedRun, by: CostGrouping): string {
  switch (by) {
    case 'family':
      return run.family;
    case 'model':
      return run.baseModel ?? UNKNOWN;
    case 'month':
      return run.createdAt.slice(0, 7);
    case 'provider':
      return run.provider ?? UNKNOWN;
    case 'kind':
      return run.kind ?? 'fine-tuning';
  }
}

export function costReport(
  runs: CostedRun[],
  options: { since?: string | null; by: CostGrouping },
): CostReport {
  const since = options.since ?? null;
  const counted = since === null ? runs : runs.filter((run) => run.createdAt >= since);
  const micro = new Map<string, MicroLine>();
  const total = emptyMicro();
  for (const run of counted) {
    const key = costKey(run, options.by);
    const line = micro.get(key) ?? emptyMicro();
    micro.set(key, line);
    for (const target of [line, total]) add(target, run);
  }
  const groups = [...micro.entries()]
    .map(([key, line]) => ({ key, ...dollars(line) }))
    .sort((a, b) => b.costUsd - a.costUsd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { since, by: options.by, groups, total: dollars(total) };
}

interface MicroLine {
  runs: number;
  cost: number;
  evaluation: number;
  estimate: number;
  runsWithoutCost: number;
  trainedTokens: number;
  embeddingTokens: number;
}

const emptyMicro = (): MicroLine => ({
  runs: 0,
  cost: 0,
  evaluation: 0,
  estimate: 0,
  runsWithoutCost: 0,
  trainedTokens: 0,
  embeddingTokens: 0,
});

/** A dollar amount in whole micro-dollars; a missing or non-finite amount counts nothing. */
export function toMicros(usd: number | undefined): number {
  return usd !== undefined && Number.isFinite(usd) ? Math.round(usd * 1_000_000) : 0;
}

function add(line: MicroLine, run: CostedRun): void {
  line.runs += 1;
  const count = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n : 0);
  if (run.kind === 'embeddings') line.embeddingTokens += count(run.embedding?.tokens);
  else line.trainedTokens += count(run.trainedTokens);
  // An evaluation's calls are paid whatever the run's training cost is known to be.
  const evaluation = toMicros(run.evaluation?.costUsd ?? undefined);
  line.evaluation += evaluation;
  line.cost += evaluation;
  if (run.costUsd !== undefined && Number.isFinite(run.costUsd)) line.cost += toMicros(run.costUsd);
  else {
    line.runsWithoutCost += 1;
    line.estimate += toMicros(run.estimatedCostUsd);
  }
}

function dollars(line: MicroLine): CostLine {
  return {
    runs: line.runs,
    costUsd: line.cost / 1_000_000,
    evaluationCostUsd: line.evaluation / 1_000_000,
    estimatedCostUsd: line.estimate / 1_000_000,
    runsWithoutCost: line.runsWithoutCost,
    trainedTokens: line.trainedTokens,
    embeddingTokens: line.embeddingTokens,
  };
}
