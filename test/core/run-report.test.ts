import fc from 'fast-check';
import {
  BUCKETS,
  downsample,
  EVALUATION_MARKER,
  renderRunReport,
  validationFindings,
  withEvaluation,
  type RunReportInput,
} from '../../functions/core/run-report.js';
import type { EvaluationRecord } from '../../functions/core/evaluation.js';
import { classificationEvaluation } from '../../functions/core/evaluation-metrics.js';
import { resultRows, type ResultRow } from '../../functions/core/results.js';
import { runKeys } from '../../functions/core/run.js';
import { resultsCsv } from '../support/results-csv.js';

function input(fields: Partial<RunReportInput> = {}): RunReportInput {
  return {
    runId: 'tickets-0123456789abcdef',
    family: 'support',
    status: 'succeeded',
    provider: 'openai',
    jobId: 'ftjob-1',
    baseModel: 'gpt-4.1-mini-2025-04-14',
    parentModel: 'ft:gpt-4.1-mini-2025-04-14:org:support:prev',
    fineTunedModel: 'ft:gpt-4.1-mini-2025-04-14:org:support:new',
    dataset: { mode: 'all', fileCount: 3, examples: 1240 },
    trainingExamples: 1116,
    validationExamples: 124,
    epochs: 3,
    trainedTokens: 1_834_522,
    costUsd: 9.17,
    estimatedCostUsd: 9.4,
    createdAt: '2026-11-30T09:12:04.000Z',
    finishedAt: '2026-11-30T09:58:41.000Z',
    validation: {
      errorCount: 0,
      warningCount: 7,
      warnings: [
        { code: 'duplicate_example', count: 5, message: 'an exact copy of line 12' },
        { code: 'missing_system_message', count: 2, message: 'no system message' },
      ],
    },
    rows: resultRows(resultsCsv(300)),
    ...fields,
  };
}

/** The `d` of the path drawing a series, or undefined. */
const pathOf = (html: string, series: string) =>
  new RegExp(`<path data-series="${series}" d="([^"]*)"`).exec(html)?.[1];
/** How many points a path's `d` draws (coordinate pairs). */
const pointsIn = (d: string) => (d.replace(/h0/g, '').match(/-?\d+(\.\d+)?/g)?.length ?? 0) / 2;

describe('renderRunReport', () => {
  it('shows the summary, the lineage, the cost estimated and actual, and the findings', () => {
    const html = renderRunReport(input());
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<title>Run tickets-0123456789abcdef · support</title>');
    for (const text of [
      'gpt-4.1-mini-2025-04-14',
      "ft:gpt-4.1-mini-2025-04-14:org:support:prev</code> (the family's previous model)",
      'ft:gpt-4.1-mini-2025-04-14:org:support:new',
      'every accepted file of the family (3 files), 1,240 distinct examples; 1,116 training, 124 validation',
      '1,834,522',
      '$9.17 actual · $9.40 estimated at validation',
      '2026-11-30T09:58:41.000Z (47 min)',
      'Validation: 7 warnings',
      '<code>duplicate_example</code></td><td class="n">5</td>',
      '<a href="validation.md">validation.md</a>',
    ]) {
      expect(html).toContain(text);
    }
    // Both curves of both charts, with their legends and step labels.
    for (const series of ['train-loss', 'valid-loss', 'train-accuracy', 'valid-accuracy']) {
      expect(pointsIn(pathOf(html, series) ?? '')).toBeGreaterThan(5);
    }
    expect(html).toContain('>validation loss</text>');
    expect(html).toContain('>train accuracy</text>');
    expect(html).toContain('class="xlabel">300</text>');
    expect(renderRunReport(input())).toBe(html);
  });

  it('says the model was trained from its base model when there is no lineage', () => {
    const html = renderRunReport(input({ parentModel: undefined, dataset: null }));
    expect(html).toContain('<code>gpt-4.1-mini-2025-04-14</code> (the base model)');
    expect(html).toContain('1,116 training, 124 validation');
  });

  it('loads nothing: no script, no external source or link, a policy that refuses any', () => {
    const html = renderRunReport(input());
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import|@font-face/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    // The links it has are to the run's own files, beside it.
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    expect(new Set(hrefs)).toEqual(
      new Set(['results.csv', 'summary.json', 'validation.md', 'validation.json', 'dataset.json']),
    );
  });

  it('escapes every name and text that came from a user or a provider', () => {
    const evil = `<script>alert("x")</script>'"&`;
    const html = renderRunReport(
      input({
        runId: `r${evil}`,
        family: `fam${evil}`,
        provider: `p${evil}`,
        jobId: `j${evil}`,
        baseModel: `b${evil}`,
        parentModel: `pm${evil}`,
        fineTunedModel: `ft${evil}`,
        status: `s${evil}`,
        validation: {
          errorCount: 0,
          warningCount: 1,
          warnings: [{ code: `c${evil}`, count: 1, message: `m${evil}<img src=x onerror=alert(1)>` }],
        },
      }),
    );
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).not.toContain(`"x")`);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&amp;');
    expect(html.match(/&lt;script&gt;/g)!.length).toBeGreaterThanOrEqual(9);
  });

  it('draws only the train curves of a run without validation metrics, and says so', () => {
    const html = renderRunReport(input({ rows: resultRows(resultsCsv(120, { validation: false })) }));
    expect(pathOf(html, 'train-loss')).toBeDefined();
    expect(pathOf(html, 'train-accuracy')).toBeDefined();
    expect(pathOf(html, 'valid-loss')).toBeUndefined();
    expect(pathOf(html, 'valid-accuracy')).toBeUndefined();
    expect(html).not.toContain('>validation loss</text>');
    expect(html).toContain('No validation metrics');
  });

  it('draws what results.csv has: a file with only steps and losses has no accuracy chart', () => {
    const html = renderRunReport(input({ rows: resultRows('step,train_loss\n1,2\n2,1.5\n3,1.2\n') }));
    expect(pointsIn(pathOf(html, 'train-loss')!)).toBe(3);
    expect(html).toContain('results.csv has no accuracy values.');
    expect(renderRunReport(input({ rows: [] }))).toContain('results.csv has no steps.');
  });

  it('breaks a train line at a step without a value, and shows a lone point as a dot', () => {
    const rows = resultRows('step,train_loss\n1,2\n2,1.8\n3,\n4,1.5\n5,\n6,1.2\n7,1.1\n');
    const d = pathOf(renderRunReport(input({ rows })), 'train-loss')!;
    expect(d.match(/M/g)).toHaveLength(3);
    expect(d.match(/h0/g)).toHaveLength(1);
  });

  it('keeps a 10,000-step run small: at most two points per column and spikes kept', () => {
    const csv = resultsCsv(10_000).replace(/\n5000,[^,]*,/, '\n5000,9.5,');
    const rows = resultRows(csv);
    expect(rows).toHaveLength(10_000);
    const html = renderRunReport(input({ rows }));
    expect(Buffer.byteLength(html)).toBeLessThan(150_000);
    for (const series of ['train-loss', 'train-accuracy']) {
      const points = pointsIn(pathOf(html, series)!);
      expect(points).toBeLessThanOrEqual(2 * BUCKETS);
      expect(points).toBeLessThan(2_000);
      expect(points).toBeGreaterThan(BUCKETS);
    }
    // The spike at step 5000 is still drawn: the loss chart's axis reaches it, and one point is near its top
    // while every other point lies far below (the curve itself stays under 3).
    expect(html).toContain('class="ylabel">8</text>');
    const ys = (
      pathOf(html, 'train-loss')!
        .replace(/h0/g, '')
        .match(/-?\d+(\.\d+)?/g) ?? []
    )
      .map(Number)
      .filter((_, i) => i % 2 === 1);
    const sorted = [...ys].sort((a, b) => a - b);
    expect(sorted[0]).toBeLessThan(70);
    expect(sorted[1]).toBeGreaterThan(150);
    expect(html).toContain("drawn with each step column's lowest and highest value");
  });

  it('downsample keeps each column’s lowest and highest value, in step order', () => {
    const steps = Array.from({ length: 100 }, (_, i) => i);
    const values = steps.map((i) => (i === 37 ? 10 : i === 12 ? -5 : 1));
    const points = downsample(steps, values, { buckets: 2, join: false });
    expect(points).toEqual([
      { x: 12, y: -5 },
      { x: 37, y: 10 },
      { x: 50, y: 1 },
    ]);
  });

  it('has no NaN or Infinity in any chart, and one path per series that has a value', () => {
    const cell = fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null });
    const rowArb = fc.record<ResultRow>({
      step: fc.oneof(
        fc.integer({ min: -5, max: 50_000 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
      ),
      trainLoss: cell,
      trainAccuracy: cell,
      validLoss: cell,
      validAccuracy: cell,
    });
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 300 }), (rows) => {
        const html = renderRunReport(input({ rows }));
        const svg = html.match(/<svg[\s\S]*?<\/svg>/g)?.join('') ?? '';
        expect(svg).not.toMatch(/NaN|Infinity|undefined/);
        const series: Array<[string, keyof ResultRow]> = [
          ['train-loss', 'trainLoss'],
          ['valid-loss', 'validLoss'],
          ['train-accuracy', 'trainAccuracy'],
          ['valid-accuracy', 'validAccuracy'],
        ];
        for (const [id, field] of series) {
          const present = rows.some((r) => r[field] !== null);
          expect(html.split(`<path data-series="${id}"`).length - 1).toBe(present ? 1 : 0);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('validationFindings', () => {
  it('counts the stored report’s warnings by code, most frequent first', () => {
    const stored = {
      errorCount: 0,
      warningCount: 9,
      warnings: [
        { code: 'b_code', message: 'first b', line: 3 },
        { code: 'a_code', message: 'first a', line: 4, lastLine: 8, times: 5 },
        { code: 'b_code', message: 'second b', line: 9 },
      ],
    };
    expect(validationFindings(JSON.stringify(stored))).toEqual({
      errorCount: 0,
      warningCount: 9,
      warnings: [
        { code: 'a_code', count: 5, message: 'first a' },
        { code: 'b_code', count: 2, message: 'first b' },
      ],
    });
    expect(validationFindings('{}')).toEqual({ errorCount: 0, warningCount: 0, warnings: [] });
  });

  it('the report sits next to results.csv', () => {
    expect(runKeys('r1').report).toBe('runs/r1/report.html');
  });
});

describe('withEvaluation', () => {
  const classification = classificationEvaluation(
    [
      { expected: 'billing', predicted: 'billing' },
      { expected: 'bug', predicted: 'bug' },
      { expected: 'bug', predicted: 'I think <script>billing</script>' },
    ],
    ['billing', 'bug'],
  );
  const completed: EvaluationRecord = {
    schemaVersion: 1,
    status: 'completed',
    runId: 'tickets-0123456789abcdef',
    family: 'support',
    provider: 'openai',
    evaluatedAt: '2026-11-30T10:00:00.000Z',
    kind: 'classification',
    labels: ['billing', 'bug'],
    sample: {
      availableExamples: 3,
      chosenExamples: 3,
      stratified: true,
      perClass: [
        { label: 'billing', available: 1, chosen: 1 },
        { label: 'bug', available: 2, chosen: 2 },
      ],
    },
    models: [
      {
        model: 'ft:new',
        role: 'new',
        evaluation: classification,
        headline: { metric: 'macro_f1', value: classification.macroF1 },
        usage: { calls: 3, inputTokens: 90, outputTokens: 6, costUsd: 0.0001 },
      },
    ],
    decision: {
      promote: false,
      reason: "macro_f1 0.667 is below the current model's 0.900 by 0.233, more than the margin 0",
    },
  };

  it('puts the side-by-side table, the decision and the confusion matrix where Collect left the marker, escaping answers', () => {
    const html = withEvaluation(renderRunReport(input()), completed);
    expect(html).not.toContain(EVALUATION_MARKER);
    expect(html.indexOf('Evaluation: classification')).toBeGreaterThan(html.indexOf('<h2>Summary</h2>'));
    expect(html.indexOf('Evaluation: classification')).toBeLessThan(html.indexOf('Training curves'));
    expect(html).toContain('<strong>Not promoted</strong>');
    expect(html).toContain('Confusion matrix of the new model');
    expect(html).toContain('<td class="n">0.667</td>'); // accuracy 2/3
    expect(html).not.toContain('<script>');
  });

  it('says why there are no numbers, with the fix, and goes before the footer of a report without the marker', () => {
    const old = renderRunReport(input()).replace(EVALUATION_MARKER, '');
    const html = withEvaluation(old, {
      schemaVersion: 1,
      status: 'skipped',
      runId: 'r',
      family: 'support',
      provider: 'bedrock',
      evaluatedAt: '2026-11-30T10:00:00.000Z',
      reason: 'Amazon Bedrock runs a custom model only with Provisioned Throughput',
      fix: 'Compare them where Amazon Bedrock serves them',
      decision: { promote: true, reason: 'the family has no current model' },
    });
    expect(html).toContain('<h2>Evaluation skipped</h2>');
    expect(html).toContain('Compare them where Amazon Bedrock serves them');
    expect(html.indexOf('Evaluation skipped')).toBeLessThan(html.indexOf('<footer>'));
  });
});
