import fc from 'fast-check';
import { costReport, toMicros, type CostedRun, COST_GROUPINGS } from '../../cli/cost-report.js';

const run = (fields: Partial<CostedRun>): CostedRun => ({
  family: 'support',
  createdAt: '2026-11-02T10:00:00.000Z',
  provider: 'openai',
  baseModel: 'gpt-4o-mini-2024-07-18',
  ...fields,
});

describe('the cost report', () => {
  const runs = [
    run({ costUsd: 1.5, trainedTokens: 1000 }),
    run({ costUsd: 0.25, trainedTokens: 200, family: 'sales', createdAt: '2026-10-30T00:00:00.000Z' }),
    run({ estimatedCostUsd: 0.4 }),
    run({
      family: 'sales',
      provider: 'bedrock',
      baseModel: 'amazon.nova-micro-v1:0:128k',
      estimatedCostUsd: 2,
    }),
  ];

  it('sums actual costs, counts runs and trained tokens per family, the dearest first', () => {
    const report = costReport(runs, { by: 'family' });
    expect(report.groups.map((g) => [g.key, g.runs, g.costUsd, g.trainedTokens])).toEqual([
      ['support', 2, 1.5, 1000],
      ['sales', 2, 0.25, 200],
    ]);
    expect(report.total).toEqual({
      runs: 4,
      costUsd: 1.75,
      evaluationCostUsd: 0,
      estimatedCostUsd: 2.4,
      runsWithoutCost: 2,
      trainedTokens: 1200,
      embeddingTokens: 0,
    });
  });

  it('shows the estimates of runs without an actual cost apart, never added to the cost', () => {
    const sales = costReport(runs, { by: 'family' }).groups.find((g) => g.key === 'sales')!;
    expect(sales).toMatchObject({ costUsd: 0.25, estimatedCostUsd: 2, runsWithoutCost: 1 });
  });

  it('groups by month, provider or base model, "(unknown)" where a run has none', () => {
    expect(costReport(runs, { by: 'month' }).groups.map((g) => g.key)).toEqual(['2026-11', '2026-10']);
    expect(costReport(runs, { by: 'provider' }).groups.map((g) => g.key)).toEqual(['openai', 'bedrock']);
    expect(costReport([run({ baseModel: undefined })], { by: 'model' }).groups[0]!.key).toBe('(unknown)');
  });

  it("adds each evaluation's cost to its run's, and shows it apart too", () => {
    const report = costReport(
      [
        run({ costUsd: 1.5, evaluation: { costUsd: 0.02 } }),
        run({ costUsd: 0.5, evaluation: { costUsd: null } }),
        // A run whose training cost is unknown still paid for its evaluation's calls.
        run({ estimatedCostUsd: 0.4, evaluation: { costUsd: 0.01 } }),
      ],
      { by: 'family' },
    );
    expect(report.total).toMatchObject({
      costUsd: 2.03,
      evaluationCostUsd: 0.03,
      estimatedCostUsd: 0.4,
      runsWithoutCost: 1,
    });
  });

  it("counts embedding runs' costs with the training runs', their billed tokens apart, grouped by kind", () => {
    const mixed = [
      ...runs,
      run({
        kind: 'embeddings',
        family: 'articles',
        baseModel: 'text-embedding-3-small',
        costUsd: 0.000123,
        embedding: { tokens: 12_300 },
      }),
      run({ kind: 'embeddings', family: 'support', baseModel: 'text-embedding-3-small', costUsd: 0.1 }),
      run({ kind: 'embeddings', family: 'articles', estimatedCostUsd: 0.000001 }),
      run({ kind: 'fine-tuning', costUsd: 0.3, trainedTokens: 100 }),
    ];
    const byKind = costReport(mixed, { by: 'kind' });
    expect(byKind.groups).toEqual([
      {
        key: 'fine-tuning',
        runs: 5,
        costUsd: 2.05,
        evaluationCostUsd: 0,
        estimatedCostUsd: 2.4,
        runsWithoutCost: 2,
        trainedTokens: 1300,
        embeddingTokens: 0,
      },
      {
        key: 'embeddings',
        runs: 3,
        costUsd: 0.100123,
        evaluationCostUsd: 0,
        estimatedCostUsd: 0.000001,
        runsWithoutCost: 1,
        trainedTokens: 0,
        embeddingTokens: 12_300,
      },
    ]);
    expect(byKind.total).toMatchObject({
      runs: 8,
      costUsd: 2.150123,
      trainedTokens: 1300,
      embeddingTokens: 12_300,
    });
    const byFamily = costReport(mixed, { by: 'family' });
    expect(byFamily.groups.map((g) => [g.key, g.runs, g.costUsd, g.embeddingTokens])).toEqual([
      ['support', 4, 1.9, 0],
      ['sales', 2, 0.25, 0],
      ['articles', 2, 0.000123, 12_300],
    ]);
    expect(byFamily.total).toEqual(byKind.total);
    expect(costReport(mixed, { by: 'model' }).groups.map((g) => g.key)).toContain('text-embedding-3-small');
  });

  it('counts only runs created on or after --since', () => {
    const report = costReport(runs, { by: 'family', since: '2026-11-01' });
    expect(report.total.runs).toBe(3);
    expect(report.since).toBe('2026-11-01');
  });

  it("keeps the groups' sums equal to the total of the items, for any runs and any grouping", () => {
    const amount = fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: undefined });
    const arbitraryRun = fc.record({
      family: fc.constantFrom('a', 'b', 'c', 'default'),
      createdAt: fc
        .integer({ min: Date.parse('2025-01-01'), max: Date.parse('2027-01-01') })
        .map((ms) => new Date(ms).toISOString()),
      provider: fc.option(fc.constantFrom('openai', 'bedrock', 'azure-openai'), { nil: undefined }),
      baseModel: fc.option(fc.constantFrom('gpt-4o-mini', 'nova'), { nil: undefined }),
      costUsd: amount,
      estimatedCostUsd: amount,
      trainedTokens: fc.option(fc.nat(10_000_000), { nil: undefined }),
      kind: fc.option(fc.constantFrom('fine-tuning' as const, 'embeddings' as const), { nil: undefined }),
      embedding: fc.option(fc.record({ tokens: fc.option(fc.nat(10_000_000), { nil: undefined }) }), {
        nil: undefined,
      }),
      evaluation: fc.option(
        fc.record({ costUsd: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }) }),
        {
          nil: undefined,
        },
      ),
    });
    fc.assert(
      fc.property(
        fc.array(arbitraryRun, { maxLength: 60 }),
        fc.constantFrom(...COST_GROUPINGS),
        (items, by) => {
          const report = costReport(items, { by });
          const sum = (pick: (line: (typeof report.groups)[number]) => number) =>
            report.groups.reduce((total, group) => total + pick(group), 0);
          expect(sum((g) => g.runs)).toBe(items.length);
          expect(report.total.runs).toBe(items.length);
          const embeddings = (r: CostedRun) => r.kind === 'embeddings';
          expect(sum((g) => g.trainedTokens)).toBe(
            items.reduce((t, r) => t + (embeddings(r) ? 0 : (r.trainedTokens ?? 0)), 0),
          );
          expect(sum((g) => g.embeddingTokens)).toBe(
            items.reduce((t, r) => t + (embeddings(r) ? (r.embedding?.tokens ?? 0) : 0), 0),
          );
          expect(report.total.embeddingTokens).toBe(sum((g) => g.embeddingTokens));
          expect(report.total.trainedTokens).toBe(sum((g) => g.trainedTokens));
          // Exactly, in micro-dollars: the groups' sums, the total and the items' own amounts agree.
          const itemsCost = items.reduce(
            (t, r) => t + toMicros(r.costUsd) + toMicros(r.evaluation?.costUsd ?? undefined),
            0,
          );
          const itemsEstimate = items.reduce(
            (t, r) => t + (r.costUsd === undefined ? toMicros(r.estimatedCostUsd) : 0),
            0,
          );
          expect(sum((g) => toMicros(g.costUsd))).toBe(itemsCost);
          expect(toMicros(report.total.costUsd)).toBe(itemsCost);
          expect(sum((g) => toMicros(g.estimatedCostUsd))).toBe(itemsEstimate);
          expect(toMicros(report.total.estimatedCostUsd)).toBe(itemsEstimate);
          expect(sum((g) => g.runsWithoutCost)).toBe(items.filter((r) => r.costUsd === undefined).length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
