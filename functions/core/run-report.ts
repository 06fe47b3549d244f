import type { EvaluatedModel, EvaluationRecord } from './evaluation.js';
import type { ResultRow } from './results.js';

/**
 * The run's report, `runs/<runId>/report.html`, written by Collect next to results.csv: one
 * self-contained page (inline CSS and SVG, no script, nothing fetched) that a person opens from the S3
 * console. It shows the run's summary (models and lineage, dataset, tokens, cost estimated and actual),
 * the validation findings (by code; validation.md has them all) and the training curves from
 * results.csv. Every string that came from a user or a provider is escaped.
 */
export interface RunReportInput {
  runId: string;
  family: string;
  /** The provider job's status (Collect runs once it succeeded). */
  status: string;
  provider: string;
  jobId?: string | null | undefined;
  baseModel: string;
  /** The model the job trained from: the base model, or the family's previous fine-tuned model. */
  parentModel?: string | null | undefined;
  fineTunedModel: string | null;
  dataset?: { mode: 'newest' | 'all'; fileCount: number; examples: number } | null | undefined;
  trainingExamples?: number | null | undefined;
  validationExamples?: number | null | undefined;
  epochs: number | null;
  trainedTokens: number | null;
  costUsd: number | null;
  estimatedCostUsd: number | null;
  /** ISO 8601. */
  createdAt: string;
  finishedAt: string | null;
  /** From the stored validation.json (validationFindings); null when it could not be read. */
  validation: ValidationFindings | null;
  /** results.csv's rows (resultRows). */
  rows: readonly ResultRow[];
}

/** A run's validation warnings (and errors, which a run that trained has none of) by code. */
export interface ValidationFindings {
  errorCount: number;
  warningCount: number;
  /** By code, most frequent first: how often, and the first listed message. */
  warnings: Array<{ code: string; count: number; message: string }>;
}

/** How many warning codes the page lists; validation.md has the rest. */
const LISTED_CODES = 12;
const MESSAGE_CHARS = 240;

/**
 * The findings of a stored validation.json (core/report.ts StoredValidationReport), grouped by code.
 * Anything unexpected in it counts as nothing found rather than failing the report.
 */
export function validationFindings(json: string): ValidationFindings {
  const parsed = JSON.parse(json) as {
    errorCount?: unknown;
    warningCount?: unknown;
    warnings?: unknown;
  } | null;
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const byCode = new Map<string, { code: string; count: number; message: string }>();
  const listed = Array.isArray(parsed?.warnings) ? (parsed.warnings as unknown[]) : [];
  for (const item of listed) {
    if (typeof item !== 'object' || item === null) continue;
    const { code, times, message } = item as { code?: unknown; times?: unknown; message?: unknown };
    if (typeof code !== 'string') continue;
    const entry = byCode.get(code) ?? { code, count: 0, message: typeof message === 'string' ? message : '' };
    entry.count += typeof times === 'number' && times > 0 ? times : 1;
    byCode.set(code, entry);
  }
  return {
    errorCount: count(parsed?.errorCount),
    warningCount: count(parsed?.warningCount),
    warnings: [...byCode.values()].sort(
      (a, b) => b.count - a.count || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
    ),
  };
}

/** Text for HTML content and attribute values alike. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// ---------------------------------------------------------------------------------------------------
// Charts

/** The chart's geometry (SVG user units; the page scales it to its width). */
const WIDTH = 960;
const HEIGHT = 320;
const PLOT = { left: 64, right: 20, top: 40, bottom: 46 };
const PLOT_WIDTH = WIDTH - PLOT.left - PLOT.right;
const PLOT_HEIGHT = HEIGHT - PLOT.top - PLOT.bottom;
/** One bucket per horizontal unit of the plot: at most two points each (its lowest and highest). */
export const BUCKETS = PLOT_WIDTH;

export interface ChartSeries {
  /** Names the path: `data-series="<id>"`. */
  id: string;
  label: string;
  color: string;
  /** One per step (null: no value at that step). */
  values: ReadonlyArray<number | null>;
  /**
   * Join the values across steps without one (validation runs every so many steps); otherwise a step
   * without a value is a gap in the line.
   */
  join: boolean;
}

/** A point of a drawn line, or a break in it. */
export type LinePoint = { x: number; y: number } | 'gap';

/** Where v lies between lo and hi, 0 to 1; halved first so that no difference of doubles overflows. */
function fraction(v: number, lo: number, hi: number): number {
  const span = hi / 2 - lo / 2;
  const t = span > 0 ? (v / 2 - lo / 2) / span : 0.5;
  return Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0.5;
}

/**
 * The points of one series to draw, deterministically reduced: the steps are spread over `buckets`
 * columns, and each column keeps its lowest and highest value (in step order), so a spike survives
 * however many steps share its column. A step without a value breaks the line where it falls between
 * two columns (inside one column it could not be seen); with `join`, steps without a value are skipped.
 * At most 2 × buckets points.
 */
export function downsample(
  steps: readonly number[],
  values: ReadonlyArray<number | null>,
  options: { buckets: number; join: boolean },
): LinePoint[] {
  const first = steps[0] ?? 0;
  const last = steps[steps.length - 1] ?? 0;
  const out: LinePoint[] = [];
  let column: { b: number; low: { x: number; y: number }; high: { x: number; y: number } } | null = null;
  let gap = false;
  const flush = () => {
    if (!column) return;
    const { low, high } = column;
    if (low === high) out.push(low);
    else if (low.x <= high.x) out.push(low, high);
    else out.push(high, low);
  };
  for (let i = 0; i < steps.length; i += 1) {
    const y = values[i];
    if (y === null || y === undefined || !Number.isFinite(y)) {
      if (!options.join && column) gap = true;
      continue;
    }
    const x = steps[i]!;
    const b = Math.min(options.buckets - 1, Math.floor(fraction(x, first, last) * options.buckets));
    const point = { x, y };
    if (column && column.b === b) {
      if (y < column.low.y) column.low = point;
      if (y > column.high.y) column.high = point;
    } else {
      flush();
      if (gap) out.push('gap');
      column = { b, low: point, high: point };
    }
    gap = false;
  }
  flush();
  return out;
}

/** About `count` round values from lo to hi (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi / 2 - lo / 2;
  if (!(span > 0) || !Number.isFinite(span)) return [lo];
  const rough = (span / count) * 2;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const norm = rough / magnitude;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  if (!Number.isFinite(step) || step <= 0) return [lo, hi];
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi && ticks.length < 12; t += step) {
    if (!Number.isFinite(t)) break;
    // 0.30000000000000004 → 0.3
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks.length > 0 ? ticks : [lo, hi];
}

/** A number as an axis label: a few significant digits, no trailing zeros. */
function label(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e6 || abs < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

const coord = (v: number) => (Math.round(v * 10) / 10).toString();

/** The value range a chart shows: the data's, padded a little; within [0, 1] for ratios. */
function yDomain(values: number[], ratio: boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi >= lo)) return [0, 1];
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.1 || 0.5;
    return [Math.max(-Number.MAX_VALUE, lo - pad), Math.min(Number.MAX_VALUE, hi + pad)];
  }
  const pad = (hi / 2 - lo / 2) * 0.1;
  let low = Math.max(-Number.MAX_VALUE, lo - pad);
  let high = Math.min(Number.MAX_VALUE, hi + pad);
  if (ratio && lo >= 0 && hi <= 1) {
    low = Math.max(0, low);
    high = Math.min(1, high);
  }
  return [low, high];
}

/**
 * One chart as inline SVG: a path per series that has a value (a step without one is a gap, unless the
 * series joins its values), round axes with step labels, and a legend. Empty when no series has a value.
 */
export function renderChart(
  title: string,
  steps: readonly number[],
  series: readonly ChartSeries[],
  options: { ratio?: boolean } = {},
): string {
  const drawn = series.filter((s) => s.values.some((v) => v !== null && Number.isFinite(v)));
  if (drawn.length === 0 || steps.length === 0) return '';
  const all: number[] = [];
  for (const s of drawn) for (const v of s.values) if (v !== null && Number.isFinite(v)) all.push(v);
  const [yLo, yHi] = yDomain(all, options.ratio ?? false);
  const xLo = steps[0]!;
  const xHi = steps[steps.length - 1]!;
  const px = (x: number) => PLOT.left + (xHi > xLo ? fraction(x, xLo, xHi) : 0.5) * PLOT_WIDTH;
  const py = (y: number) => PLOT.top + (1 - fraction(y, yLo, yHi)) * PLOT_HEIGHT;
  const bottom = PLOT.top + PLOT_HEIGHT;
  const right = PLOT.left + PLOT_WIDTH;

  const parts: string[] = [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">`,
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT_WIDTH}" height="${PLOT_HEIGHT}" class="plot"/>`,
  ];
  for (const t of niceTicks(yLo, yHi)) {
    const y = coord(py(t));
    parts.push(
      `<line x1="${PLOT.left}" x2="${right}" y1="${y}" y2="${y}" class="grid"/>`,
      `<text x="${PLOT.left - 8}" y="${y}" class="ylabel">${escapeHtml(label(t))}</text>`,
    );
  }
  const xTicks = xHi > xLo ? niceTicks(xLo, xHi, 8) : [xLo];
  for (const t of xTicks) {
    const x = coord(px(t));
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 5}" class="axis"/>`,
      `<text x="${x}" y="${bottom + 20}" class="xlabel">${escapeHtml(label(t))}</text>`,
    );
  }
  parts.push(
    `<line x1="${PLOT.left}" x2="${right}" y1="${bottom}" y2="${bottom}" class="axis"/>`,
    `<line x1="${PLOT.left}" x2="${PLOT.left}" y1="${PLOT.top}" y2="${bottom}" class="axis"/>`,
    `<text x="${PLOT.left + PLOT_WIDTH / 2}" y="${HEIGHT - 6}" class="xtitle">step</text>`,
    `<text x="${PLOT.left}" y="22" class="title">${escapeHtml(title)}</text>`,
  );

  for (const s of drawn) {
    const points = downsample(steps, s.values, { buckets: BUCKETS, join: s.join });
    let d = '';
    let run = 0;
    let lastPoint = '';
    const endRun = () => {
      // A lone point draws nothing as a line: a zero-length stroke with round caps shows it as a dot.
      if (run === 1) d += 'h0';
      run = 0;
    };
    for (const p of points) {
      if (p === 'gap') {
        endRun();
        continue;
      }
      const xy = `${coord(px(p.x))} ${coord(py(p.y))}`;
      if (run === 0) {
        d += `M${xy}`;
        run = 1;
      } else if (xy !== lastPoint) {
        d += run === 1 ? `L${xy}` : ` ${xy}`;
        run += 1;
      }
      lastPoint = xy;
    }
    endRun();
    parts.push(
      `<path data-series="${escapeHtml(s.id)}" d="${d}" fill="none" stroke="${escapeHtml(s.color)}" class="line"/>`,
    );
    // A joined series marks where it was measured, while the marks stay few enough to see.
    const marks = s.join ? s.values.filter((v) => v !== null).length : 0;
    if (marks > 0 && marks <= 60) {
      const dots = points
        .filter((p): p is { x: number; y: number } => p !== 'gap')
        .map((p) => `M${coord(px(p.x))} ${coord(py(p.y))}h0`)
        .join('');
      parts.push(
        `<path data-marks="${escapeHtml(s.id)}" d="${dots}" stroke="${escapeHtml(s.color)}" class="marks"/>`,
      );
    }
  }

  // The legend, top right: a swatch and a label per series drawn.
  let lx = right;
  const legend: string[] = [];
  for (const s of [...drawn].reverse()) {
    const width = 30 + s.label.length * 7.2;
    lx -= width;
    legend.unshift(
      `<line x1="${coord(lx)}" x2="${coord(lx + 20)}" y1="18" y2="18" stroke="${escapeHtml(s.color)}" class="swatch"/>`,
      `<text x="${coord(lx + 26)}" y="22" class="legend">${escapeHtml(s.label)}</text>`,
    );
  }
  parts.push(...legend, '</svg>');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// The page

const TRAIN_COLOR = '#2563eb';
const VALID_COLOR = '#ea580c';

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1f2328; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 40px; }
header h1 { font-size: 22px; margin: 0 0 2px; overflow-wrap: anywhere; }
header p { margin: 0; color: #59636e; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #dafbe1; color: #116329; vertical-align: 3px; margin-left: 6px; }
section { background: #fff; border: 1px solid #d1d9e0; border-radius: 8px; padding: 16px 20px; margin-top: 16px; }
h2 { font-size: 16px; margin: 0 0 10px; }
table.summary { border-collapse: collapse; width: 100%; }
table.summary th { text-align: left; font-weight: 500; color: #59636e; width: 190px; padding: 4px 12px 4px 0; vertical-align: top; }
table.summary td { padding: 4px 0; overflow-wrap: anywhere; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f0f2f4; padding: 1px 5px; border-radius: 4px; }
table.findings { border-collapse: collapse; width: 100%; }
table.findings th, table.findings td { text-align: left; padding: 5px 10px 5px 0; border-top: 1px solid #eaeef2; vertical-align: top; }
table.findings td.n { text-align: right; width: 60px; font-variant-numeric: tabular-nums; }
.note { color: #59636e; margin: 6px 0 0; }
svg.chart { width: 100%; height: auto; display: block; }
svg .plot { fill: #fff; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #59636e; }
svg .ylabel { text-anchor: end; dominant-baseline: middle; }
svg .xlabel, svg .xtitle { text-anchor: middle; }
svg .title { font-size: 14px; font-weight: 600; fill: #1f2328; }
svg .legend { fill: #1f2328; }
svg .line { stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; }
svg .marks { fill: none; stroke-width: 6; stroke-linecap: round; }
svg .swatch { stroke-width: 3; stroke-linecap: round; }
footer { color: #59636e; font-size: 12px; margin-top: 16px; }
a { color: #0969da; }
`;

const usd = (v: number | null | undefined) =>
  v === null || v === undefined ? 'unknown' : `$${v < 0.01 && v > 0 ? v.toFixed(4) : v.toFixed(2)}`;
const num = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : v.toLocaleString('en-US');

function duration(from: string, to: string | null): string {
  if (!to) return '';
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return '';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return ` (${Math.round(ms / 1000)} s)`;
  return minutes < 120 ? ` (${minutes} min)` : ` (${(minutes / 60).toFixed(1)} h)`;
}

const row = (name: string, html: string) => `<tr><th>${escapeHtml(name)}</th><td>${html}</td></tr>`;
const codeOf = (text: string) => `<code>${escapeHtml(text)}</code>`;

function summarySection(r: RunReportInput): string {
  const rows = [
    row('Status', `${escapeHtml(r.status)}${r.jobId ? ` · job ${codeOf(r.jobId)}` : ''}`),
    row('Provider', escapeHtml(r.provider)),
    row('Base model', codeOf(r.baseModel)),
    row(
      'Trained from',
      r.parentModel && r.parentModel !== r.baseModel
        ? `${codeOf(r.parentModel)} (the family's previous model)`
        : `${codeOf(r.parentModel ?? r.baseModel)} (the base model)`,
    ),
    row('Fine-tuned model', r.fineTunedModel ? codeOf(r.fineTunedModel) : 'none reported'),
  ];
  const examples =
    r.trainingExamples !== null && r.trainingExamples !== undefined
      ? `${num(r.trainingExamples)} training, ${num(r.validationExamples ?? 0)} validation`
      : '';
  if (r.dataset) {
    const files = `${num(r.dataset.fileCount)} ${r.dataset.fileCount === 1 ? 'file' : 'files'}`;
    const mode = r.dataset.mode === 'all' ? 'every accepted file of the family' : 'this drop';
    rows.push(
      row(
        'Dataset',
        `${escapeHtml(mode)} (${files}), ${num(r.dataset.examples)} distinct examples${examples ? `; ${examples}` : ''} · <a href="dataset.json">dataset.json</a>`,
      ),
    );
  } else if (examples) {
    rows.push(row('Dataset', escapeHtml(examples)));
  }
  rows.push(
    row('Epochs', num(r.epochs)),
    row('Trained tokens', num(r.trainedTokens)),
    row('Cost', `${usd(r.costUsd)} actual · ${usd(r.estimatedCostUsd)} estimated at validation`),
    row('Created', escapeHtml(r.createdAt)),
    row(
      'Finished',
      r.finishedAt ? `${escapeHtml(r.finishedAt)}${duration(r.createdAt, r.finishedAt)}` : 'not reported',
    ),
  );
  return `<section><h2>Summary</h2><table class="summary">${rows.join('')}</table></section>`;
}

function findingsSection(v: ValidationFindings | null): string {
  const link = '<a href="validation.md">validation.md</a>';
  if (!v) {
    return `<section><h2>Validation</h2><p class="note">The validation report could not be read; see ${link}.</p></section>`;
  }
  if (v.warningCount === 0) {
    return `<section><h2>Validation</h2><p>No warnings: the file passed with nothing to note. Full report: ${link}.</p></section>`;
  }
  const listed = v.warnings.slice(0, LISTED_CODES);
  const counted = v.warnings.reduce((sum, w) => sum + w.count, 0);
  const rows = listed.map(
    (w) =>
      `<tr><td>${codeOf(w.code)}</td><td class="n">${num(w.count)}</td><td>${escapeHtml(
        w.message.length > MESSAGE_CHARS ? `${w.message.slice(0, MESSAGE_CHARS)}…` : w.message,
      )}</td></tr>`,
  );
  const notes: string[] = [];
  if (v.warnings.length > listed.length) notes.push(`${v.warnings.length - listed.length} more codes`);
  if (v.warningCount > counted) notes.push(`${num(v.warningCount - counted)} more warnings not listed`);
  return [
    `<section><h2>Validation: ${num(v.warningCount)} ${v.warningCount === 1 ? 'warning' : 'warnings'}</h2>`,
    '<table class="findings"><tr><th>Code</th><th class="n">Count</th><th>First message</th></tr>',
    rows.join(''),
    '</table>',
    `<p class="note">${notes.length ? `${escapeHtml(notes.join('; '))}. ` : ''}Warnings do not stop training. Every line and fix: ${link}.</p>`,
    '</section>',
  ].join('');
}

function curvesSection(rows: readonly ResultRow[]): string {
  if (rows.length === 0) {
    return '<section><h2>Training curves</h2><p class="note">results.csv has no steps.</p></section>';
  }
  const sorted = [...rows].sort((a, b) => a.step - b.step);
  const steps = sorted.map((r) => r.step);
  const has = (pick: (r: ResultRow) => number | null) => sorted.some((r) => pick(r) !== null);
  const series = (
    id: string,
    label: string,
    color: string,
    pick: (r: ResultRow) => number | null,
    join: boolean,
  ): ChartSeries => ({ id, label, color, values: sorted.map(pick), join });
  const loss = renderChart('Loss', steps, [
    series('train-loss', 'train loss', TRAIN_COLOR, (r) => r.trainLoss, false),
    series('valid-loss', 'validation loss', VALID_COLOR, (r) => r.validLoss, true),
  ]);
  const accuracy = renderChart(
    'Accuracy',
    steps,
    [
      series('train-accuracy', 'train accuracy', TRAIN_COLOR, (r) => r.trainAccuracy, false),
      series('valid-accuracy', 'validation accuracy', VALID_COLOR, (r) => r.validAccuracy, true),
    ],
    { ratio: true },
  );
  const validated = has((r) => r.validLoss) || has((r) => r.validAccuracy);
  const notes = [
    `${num(sorted.length)} steps from <a href="results.csv">results.csv</a>${sorted.length > BUCKETS ? `, drawn with each step column's lowest and highest value` : ''}.`,
    validated
      ? 'Validation was measured every so many steps; its points are joined.'
      : 'No validation metrics: this run had no validation set, or the provider reported none. Only the train curves are shown.',
  ];
  if (!loss) notes.push('results.csv has no loss values.');
  if (!accuracy) notes.push('results.csv has no accuracy values.');
  return [
    '<section><h2>Training curves</h2>',
    loss,
    accuracy,
    `<p class="note">${notes.join(' ')}</p>`,
    '</section>',
  ].join('\n');
}

/** The whole page. Pure: the same input gives the same bytes. */
export function renderRunReport(input: RunReportInput): string {
  const title = `Run ${input.runId} · ${input.family}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No script, no request: nothing on the page may load or run anything.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head><body><main>',
    `<header><h1>Run ${escapeHtml(input.runId)}<span class="badge">${escapeHtml(input.status)}</span></h1>`,
    `<p>Family <strong>${escapeHtml(input.family)}</strong> · ${escapeHtml(input.provider)} · ${codeOf(input.fineTunedModel ?? input.baseModel)}</p></header>`,
    summarySection(input),
    // Where Evaluate puts the new model's evaluation (withEvaluation), once it has one.
    EVALUATION_MARKER,
    curvesSection(input.rows),
    findingsSection(input.validation),
    `<footer>Written by tunedrop's Collect and Evaluate steps. Files of this run: <a href="results.csv">results.csv</a> · <a href="summary.json">summary.json</a> · <a href="validation.md">validation.md</a> · <a href="validation.json">validation.json</a></footer>`,
    '</main></body></html>',
    '',
  ].join('\n');
}

/** The place in a report where its evaluation goes (a comment: nothing shows until Evaluate fills it). */
export const EVALUATION_MARKER = '<!-- tunedrop:evaluation -->';

/**
 * The report with the run's evaluation in it (Evaluate, after Collect wrote the report): the section
 * replaces the marker, or, in a report written before there was one, goes before the footer.
 */
export function withEvaluation(html: string, record: EvaluationRecord): string {
  const section = evaluationSection(record);
  if (html.includes(EVALUATION_MARKER)) return html.replace(EVALUATION_MARKER, () => section);
  return html.replace('<footer>', () => `${section}\n<footer>`);
}

const score = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(3));

const ROLE_NAMES: Readonly<Record<EvaluatedModel['role'], string>> = {
  new: 'new model',
  current: "family's current model",
  base: 'base model',
};

/** The evaluation: both models side by side, the decision, and for classification the new model's confusion matrix. */
export function evaluationSection(record: EvaluationRecord): string {
  const decision = `<p><strong>${record.decision.promote ? 'Promoted' : 'Not promoted'}</strong>: ${escapeHtml(record.decision.reason)}</p>`;
  const link = '<a href="evaluation.json">evaluation.json</a>';
  if (record.status !== 'completed')
    return [
      `<section><h2>Evaluation ${record.status}</h2>`,
      `<p>${escapeHtml(record.reason)}</p>`,
      record.fix ? `<p class="note">${escapeHtml(record.fix)}</p>` : '',
      decision,
      `<p class="note">${link}</p></section>`,
    ].join('');
  const classification = record.kind === 'classification';
  const headers = classification
    ? ['Model', '', 'Macro-F1', 'Accuracy', 'Avg precision', 'Calls', 'Tokens', 'Cost']
    : ['Model', '', 'ROUGE-L', 'Token F1', 'Exact match', 'Calls', 'Tokens', 'Cost'];
  const rows = record.models.map((m) => {
    const e = m.evaluation;
    const metrics =
      e.kind === 'classification'
        ? [score(e.macroF1), score(e.accuracy), score(e.averagePrecision?.value)]
        : [score(e.rougeL), score(e.tokenF1), score(e.exactMatch)];
    const cells = [
      codeOf(m.model),
      escapeHtml(ROLE_NAMES[m.role]),
      ...metrics,
      num(m.usage.calls),
      num(m.usage.inputTokens + m.usage.outputTokens),
      usd(m.usage.costUsd),
    ];
    return `<tr>${cells.map((c, i) => `<td${i >= 2 ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`;
  });
  const sample = record.sample;
  const about = `${num(sample.chosenExamples)} of ${num(sample.availableExamples)} held-out examples${sample.stratified ? ', stratified by class' : ''}, asked of each model as the user will (greedy chat completions).`;
  return [
    `<section><h2>Evaluation: ${escapeHtml(classification ? 'classification' : 'generation')}</h2>`,
    decision,
    `<table class="findings"><tr>${headers.map((h, i) => `<th${i >= 2 ? ' class="n"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr>${rows.join('')}</table>`,
    `<p class="note">${escapeHtml(about)} ${link}</p>`,
    classification ? confusionTable(record.models[0]!.evaluation) : '',
    '</section>',
  ].join('');
}

/** The new model's confusion matrix: expected labels down, answers across, off-label answers last. */
function confusionTable(evaluation: EvaluatedModel['evaluation']): string {
  if (evaluation.kind !== 'classification') return '';
  const { rows, columns, counts } = evaluation.confusionMatrix;
  const head = ['expected \\ answered', ...columns.map((c) => (c === null ? 'other' : c))];
  return [
    '<h3 style="font-size:14px;margin:14px 0 6px">Confusion matrix of the new model</h3>',
    `<table class="findings"><tr>${head.map((h, i) => `<th${i > 0 ? ' class="n"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr>`,
    ...rows.map(
      (label, r) =>
        `<tr><th>${escapeHtml(label)}</th>${counts[r]!.map((n) => `<td class="n">${num(n)}</td>`).join('')}</tr>`,
    ),
    '</table>',
  ].join('');
}
