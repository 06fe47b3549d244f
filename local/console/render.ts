import { createHash } from 'node:crypto';
import { costReport } from '../../cli/cost-report.js';
import { costCell } from '../../cli/run-view.js';
import { time, tokens, usd } from '../../cli/table.js';
import type { MetricName } from '../../functions/core/metrics.js';
import { METRICS_NAMESPACE } from '../../functions/adapters/run-metrics.js';
import { escapeHtml } from '../../functions/core/run-report.js';
import { TERMINAL_STATUSES, runKindOf, type RunRecord } from '../../functions/core/run.js';

/**
 * The local console's page (#13 point 6), rendered on the server from what the local cloud holds: its
 * runs by family with their live state, their cost (cli/cost-report.ts, as `tunedrop cost` sums it), the
 * dashboard's numbers read from the metrics the functions wrote, and the latest run events and
 * notifications. Pure: the server (local/console/server.ts) gathers a ConsoleView and sends the HTML.
 *
 * Every string from a run, an event or a notification is escaped; the page loads nothing, runs no script
 * (it refreshes itself with a meta refresh) and allows only its own style, by hash (CONSOLE_CSP).
 */

/** A metric value as the local cloud keeps it (local/cloud/metrics.ts LocalMetric), the part read here. */
export interface ConsoleMetric {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  value: number;
}

/** An event put on the local bus (local/cloud/events.ts BusEvent), the part read here. */
export interface ConsoleEvent {
  source: string;
  'detail-type': string;
  time: string;
  detail: unknown;
}

export interface ConsoleView {
  bucket: string;
  runs: readonly RunRecord[];
  metrics: readonly ConsoleMetric[];
  events: readonly ConsoleEvent[];
  /** The notifications the local cloud delivered, when it delivers them (undefined: it does not). */
  notifications?: readonly unknown[] | undefined;
  /** When the page was made. */
  now: Date;
  /** Seconds between refreshes. @default 2 */
  refreshSeconds?: number;
}

/** How many events and notifications the page lists (newest first). */
export const RECENT = 15;

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2937;background:#f8fafc}
header{background:#0f172a;color:#f8fafc;padding:12px 24px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0}header span{color:#cbd5e1;font-size:13px}
main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(560px,1fr))}
section{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:12px 16px}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #f1f5f9;vertical-align:top}
th{font-weight:600;color:#475569;font-size:12px}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:8px}
.tile{border:1px solid #e2e8f0;border-radius:6px;padding:6px 10px}.tile b{display:block;font-size:20px}
.tile span{font-size:12px;color:#64748b}
.s{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600;background:#e2e8f0}
.s-SUCCEEDED{background:#dcfce7;color:#166534}.s-SUCCEEDED_NOT_PROMOTED{background:#fef9c3;color:#854d0e}.s-FAILED,.s-TIMED_OUT{background:#fee2e2;color:#991b1b}
.s-REJECTED{background:#ffedd5;color:#9a3412}.s-CANCELLED{background:#e5e7eb;color:#374151}
.s-TRAINING,.s-EMBEDDING,.s-PREPARING,.s-UPLOADING,.s-COLLECTING,.s-EVALUATING,.s-RECEIVED{background:#dbeafe;color:#1e40af}
.k{font-size:12px;color:#475569}.k-embeddings{color:#6b21a8}.w{word-break:break-all}
.muted{color:#64748b}a{color:#1d4ed8}.t{white-space:nowrap}
pre{margin:0;white-space:pre-wrap;word-break:break-word;font:12px ui-monospace,Menlo,Consolas,monospace}
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page's Content-Security-Policy: nothing loads, nothing runs, only the page's own style applies. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `style-src ${hash(STYLE)}`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TERMINAL: ReadonlySet<string> = TERMINAL_STATUSES;

/** The status as a person reads it: the provider's own status beside it while the run is under way. */
export function statusText(run: Pick<RunRecord, 'status' | 'providerStatus' | 'finishedAt'>): string {
  return run.providerStatus && run.finishedAt === undefined && !TERMINAL.has(run.status)
    ? `${run.status} (provider: ${run.providerStatus})`
    : run.status;
}

/** The console URL of one of a run's files (served from the bucket, local/console/server.ts). */
export const fileHref = (key: string) => `/files/${key.split('/').map(encodeURIComponent).join('/')}`;

/** The dashboard's numbers (lib/dashboard.ts), summed over the metrics the local cloud kept. */
export interface DashboardNumbers {
  started: number;
  succeeded: number;
  /** Trained, and kept out by their evaluation. */
  notPromoted: number;
  failed: number;
  rejected: number;
  cancelled: number;
  timedOut: number;
  costUsd: number;
  trainedTokens: number;
  /** RunsRejected by `reason` (issue code), most first. */
  rejectionsByReason: Array<{ reason: string; count: number }>;
  /** The last RunsWaiting sample of each queue (a provider's slots, a family's turn). */
  waiting: Array<{ queue: string; count: number }>;
  /** The sweep's last RunsStuck sample (runs in one status longer than stuckRunHours); null before one. */
  stuck: number | null;
  /** Cost by family and provider (the dashboard's cost widgets' series). */
  costBySeries: Array<{ family: string; provider: string; costUsd: number }>;
}

/**
 * The values of one metric counted with exactly these dimensions (besides `service`), as the dashboard's
 * SEARCH expressions select them (lib/dashboard.ts): each value is written once per dimension set, so
 * summing over one set counts each fact once.
 */
export function series(
  metrics: readonly ConsoleMetric[],
  name: MetricName,
  dimensions: readonly string[],
): ConsoleMetric[] {
  const wanted = [...dimensions].sort().join(',');
  return metrics.filter(
    (m) =>
      m.namespace === METRICS_NAMESPACE &&
      m.name === name &&
      Object.keys(m.dimensions)
        .filter((d) => d !== 'service')
        .sort()
        .join(',') === wanted,
  );
}

export function dashboardNumbers(metrics: readonly ConsoleMetric[]): DashboardNumbers {
  const sum = (values: ConsoleMetric[]) => values.reduce((total, m) => total + m.value, 0);
  const ended = (status: string) =>
    sum(
      series(metrics, 'RunsEnded', ['family', 'provider', 'status']).filter(
        (m) => m.dimensions.status === status,
      ),
    );
  const byReason = new Map<string, number>();
  for (const m of series(metrics, 'RunsRejected', ['reason']))
    byReason.set(m.dimensions.reason ?? '', (byReason.get(m.dimensions.reason ?? '') ?? 0) + m.value);
  const waiting = new Map<string, number>();
  for (const m of series(metrics, 'RunsWaiting', ['provider']))
    waiting.set(`provider ${m.dimensions.provider}`, m.value);
  for (const m of series(metrics, 'RunsWaiting', ['family']))
    waiting.set(`family ${m.dimensions.family}`, m.value);
  const costs = new Map<string, { family: string; provider: string; costUsd: number }>();
  // Whole micro-dollars, as the cost report sums: the total does not depend on the order.
  let costMicros = 0;
  for (const m of series(metrics, 'CostUsd', ['family', 'provider'])) {
    const family = m.dimensions.family ?? '';
    const provider = m.dimensions.provider ?? '';
    const line = costs.get(`${family}\n${provider}`) ?? { family, provider, costUsd: 0 };
    line.costUsd = (Math.round(line.costUsd * 1e6) + Math.round(m.value * 1e6)) / 1e6;
    costs.set(`${family}\n${provider}`, line);
    costMicros += Math.round(m.value * 1e6);
  }
  return {
    started: sum(series(metrics, 'RunsStarted', ['family', 'provider'])),
    succeeded: ended('SUCCEEDED'),
    notPromoted: ended('SUCCEEDED_NOT_PROMOTED'),
    failed: ended('FAILED'),
    rejected: sum(series(metrics, 'RunsRejected', ['family', 'provider'])),
    cancelled: ended('CANCELLED'),
    timedOut: ended('TIMED_OUT'),
    costUsd: costMicros / 1e6,
    trainedTokens: sum(series(metrics, 'TrainedTokens', ['family', 'provider'])),
    rejectionsByReason: [...byReason]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
    waiting: [...waiting]
      .map(([queue, count]) => ({ queue, count }))
      .sort((a, b) => (a.queue < b.queue ? -1 : 1)),
    costBySeries: [...costs.values()].sort((a, b) => b.costUsd - a.costUsd),
    stuck: series(metrics, 'RunsStuck', []).at(-1)?.value ?? null,
  };
}

const e = escapeHtml;
const table = (headers: Array<string | [string, 'n']>, rows: string[][]) =>
  `<table><thead><tr>${headers
    .map((h) => (Array.isArray(h) ? `<th class="n">${e(h[0])}</th>` : `<th>${e(h)}</th>`))
    .join('')}</tr></thead><tbody>${rows
    .map(
      (cells) =>
        `<tr>${cells
          .map((c, i) => (Array.isArray(headers[i]) ? `<td class="n">${c}</td>` : `<td>${c}</td>`))
          .join('')}</tr>`,
    )
    .join('')}</tbody></table>`;

/**
 * The links to a run's files that exist, served through /files/. An embedding run's: its validation
 * report and manifest.json linked, its embeddings (Parquet or JSONL, large) named by their s3:// URI.
 */
export function runLinks(run: RunRecord): string {
  const embedding = runKindOf(run) === 'embeddings' ? run.embedding : undefined;
  const files: Array<[string | undefined, string]> = [
    [run.reportKey, 'report.html'],
    [run.validationReportKey, 'validation.md'],
    [run.resultsKey, 'results.csv'],
    [run.summaryKey, 'summary.json'],
    [embedding?.manifestKey, 'manifest.json'],
  ];
  const links = files
    .filter((f): f is [string, string] => f[0] !== undefined)
    .map(([key, name]) => `<a href="${e(fileHref(key))}">${e(name)}</a>`);
  if (embedding?.outputKey)
    links.push(`<code class="output w">${e(`s3://${run.source.bucket}/${embedding.outputKey}`)}</code>`);
  return links.length ? links.join(' · ') : '<span class="muted">-</span>';
}

/** The model a run made or used: its fine-tuned model, else its base model (an embedding run's model). */
function modelOf(run: RunRecord): string {
  return run.fineTunedModel ?? run.embedding?.model ?? run.baseModel ?? '-';
}

/** What a run read: examples trained on, or records embedded (and failed); the dimensions of its vectors. */
function recordsOf(run: RunRecord): string {
  if (runKindOf(run) === 'embeddings') {
    const embedding = run.embedding;
    if (embedding?.embedded === undefined) return '-';
    return `${tokens(embedding.embedded)} embedded${embedding.failed ? `, ${tokens(embedding.failed)} failed` : ''}`;
  }
  return run.trainingExamples === undefined
    ? '-'
    : `${tokens(run.trainingExamples)} + ${tokens(run.validationExamples ?? 0)}`;
}

/** The tokens a run used (trained, or billed for its embeddings), else its estimate. */
function tokensOf(run: RunRecord): number | undefined {
  return (runKindOf(run) === 'embeddings' ? run.embedding?.tokens : run.trainedTokens) ?? run.estimatedTokens;
}

const kindBadge = (run: RunRecord) => {
  const kind = runKindOf(run);
  const detail =
    kind === 'embeddings' && run.embedding
      ? ` <span class="muted t">${e(`${run.embedding.dimensions} dims, ${run.embedding.mode}`)}</span>`
      : '';
  return `<span class="k k-${e(kind)}">${e(kind)}</span>${detail}`;
};

const statusBadge = (run: RunRecord) =>
  `<span class="s s-${e(run.status)}">${e(run.status)}</span>${
    statusText(run) !== run.status
      ? ` <span class="muted">provider: ${e(run.providerStatus ?? '')}</span>`
      : ''
  }`;

/**
 * The runs, a table per family (fine-tuning runs) and per collection (embedding runs, #15), newest first:
 * kind, status, model, records, tokens, cost and files.
 */
function runsSection(runs: readonly RunRecord[]): string {
  if (runs.length === 0)
    return '<section class="wide"><h2>Runs</h2><p class="muted" id="no-runs">No runs yet. Drop a JSONL file into drop/&lt;family&gt;/ (npm run local).</p></section>';
  const groups = [
    ...new Map(
      runs.map((r) => [`${runKindOf(r) === 'embeddings' ? 1 : 0}\n${r.family}`, runKindOf(r)] as const),
    ),
  ].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = groups.map(([group, kind]) => {
    const family = group.slice(group.indexOf('\n') + 1);
    const mine = runs
      .filter((r) => r.family === family && runKindOf(r) === kind)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const title = kind === 'embeddings' ? 'Collection' : 'Family';
    return `<h3>${title} <code>${e(family)}</code> <span class="muted">(${mine.length} ${kind === 'embeddings' ? 'embedding ' : ''}run${mine.length === 1 ? '' : 's'})</span></h3>${table(
      [
        'Run',
        'Kind',
        'Status',
        'Provider',
        'Model',
        'Created',
        ['Records', 'n'],
        ['Tokens', 'n'],
        ['Cost', 'n'],
        'Files',
      ],
      mine.map((r) => [
        `<code>${e(r.runId)}</code>${r.error ? `<br><span class="muted">${e(r.error.code ?? r.error.name ?? '')}: ${e(r.error.message)}</span>` : ''}`,
        kindBadge(r),
        statusBadge(r),
        e(r.provider ?? '-'),
        `<code class="w">${e(modelOf(r))}</code>`,
        `<span class="t">${e(time(r.createdAt))}</span>`,
        e(recordsOf(r)),
        e(tokens(tokensOf(r))),
        e(costCell(r)),
        runLinks(r),
      ]),
    )}`;
  });
  const embeddings = runs.some((r) => runKindOf(r) === 'embeddings');
  return `<section class="wide"><h2>Runs by family${embeddings ? ' and collection' : ''}</h2>${parts.join('')}</section>`;
}

function costSection(runs: readonly RunRecord[]): string {
  const report = costReport([...runs], { by: 'family' });
  // An embedding run counts in its collection's line (its family), its billed tokens in a column of their own.
  const embeddings = runs.some((r) => runKindOf(r) === 'embeddings');
  const line = (key: string, l: (typeof report)['total']) => [
    key,
    String(l.runs),
    e(usd(l.costUsd)),
    // Runs without an actual cost: their estimates (none for a file rejected before it was estimated).
    l.runsWithoutCost && l.estimatedCostUsd > 0
      ? `~${e(usd(l.estimatedCostUsd))} <span class="muted">(${l.runsWithoutCost} run${l.runsWithoutCost === 1 ? '' : 's'})</span>`
      : '-',
    e(tokens(l.trainedTokens)),
    ...(embeddings ? [e(tokens(l.embeddingTokens))] : []),
  ];
  return `<section id="cost"><h2>Cost by family${embeddings ? ' and collection' : ''}</h2>${
    report.groups.length === 0
      ? '<p class="muted">No runs, no cost.</p>'
      : table(
          [
            embeddings ? 'Family or collection' : 'Family',
            ['Runs', 'n'],
            ['Cost', 'n'],
            ['Estimated, not charged', 'n'],
            ['Trained tokens', 'n'],
            ...(embeddings ? ([['Embedding tokens', 'n']] as Array<[string, 'n']>) : []),
          ],
          [
            ...report.groups.map((g) => line(`<code>${e(g.key)}</code>`, g)),
            line('<b>total</b>', report.total),
          ],
        )
  }</section>`;
}

function dashboardSection(metrics: readonly ConsoleMetric[]): string {
  const n = dashboardNumbers(metrics);
  const tile = (label: string, value: string) =>
    `<div class="tile"><b>${e(value)}</b><span>${e(label)}</span></div>`;
  const tiles = [
    tile('runs started', String(n.started)),
    tile('succeeded', String(n.succeeded)),
    tile('not promoted', String(n.notPromoted)),
    tile('failed', String(n.failed)),
    tile('rejected', String(n.rejected)),
    tile('cancelled', String(n.cancelled)),
    tile('timed out', String(n.timedOut)),
    tile('cost', usd(n.costUsd)),
    tile('trained tokens', tokens(n.trainedTokens)),
    tile('runs stuck', n.stuck === null ? '-' : String(n.stuck)),
  ].join('');
  const reasons = n.rejectionsByReason.length
    ? table(
        ['Reason (issue code)', ['Rejections', 'n']],
        n.rejectionsByReason.map((r) => [`<code>${e(r.reason)}</code>`, String(r.count)]),
      )
    : '<p class="muted">No rejections.</p>';
  const waiting = n.waiting.length
    ? table(
        ['Queue', ['Waiting (last sample)', 'n']],
        n.waiting.map((w) => [e(w.queue), String(w.count)]),
      )
    : '<p class="muted">No run has waited.</p>';
  return `<section id="dashboard"><h2>Dashboard <span class="muted">(custom metrics of this local cloud, namespace ${e(METRICS_NAMESPACE)})</span></h2><div class="tiles">${tiles}</div><h3>Rejections by reason</h3>${reasons}<h3>Runs waiting</h3>${waiting}</section>`;
}

const text = (value: unknown) =>
  typeof value === 'string' ? value : value === undefined ? '' : String(value);

function eventsSection(events: readonly ConsoleEvent[]): string {
  const runEvents = events
    .filter((ev) => ev.source === 'tunedrop')
    .slice(-RECENT)
    .reverse();
  if (runEvents.length === 0)
    return '<section id="events"><h2>Run events</h2><p class="muted">No run events yet.</p></section>';
  const rows = runEvents.map((ev) => {
    const d = (ev.detail ?? {}) as Record<string, unknown>;
    const error = d.error as { code?: unknown; message?: unknown } | undefined;
    return [
      `<span class="t">${e(time(text(d.at) || ev.time))}</span>`,
      `<code>${e(text(d.runId))}</code>`,
      `${d.previousStatus ? `${e(text(d.previousStatus))} → ` : ''}<span class="s s-${e(text(d.status))}">${e(text(d.status))}</span>`,
      error ? e(text(error.code) || text(error.message)) : '',
    ];
  });
  return `<section id="events"><h2>Run events <span class="muted">(default bus, source tunedrop, latest ${RECENT})</span></h2>${table(['At', 'Run', 'Move', 'Error'], rows)}</section>`;
}

/** A notification's subject, message and time, whatever the names the cloud gives them. */
function notificationParts(value: unknown): { at: string; subject: string; message: string } {
  if (typeof value !== 'object' || value === null) return { at: '', subject: '', message: text(value) };
  const n = value as Record<string, unknown>;
  const pick = (...names: string[]) => {
    for (const name of names) if (n[name] !== undefined && n[name] !== null) return n[name];
    return undefined;
  };
  const at = pick('at', 'time', 'timestamp', 'Timestamp', 'sentAt');
  const message = pick('message', 'Message', 'body');
  return {
    at:
      at instanceof Date ? at.toISOString() : typeof at === 'number' ? new Date(at).toISOString() : text(at),
    subject: text(pick('subject', 'Subject', 'title')),
    message: typeof message === 'string' ? message : message === undefined ? '' : JSON.stringify(message),
  };
}

function notificationsSection(notifications: readonly unknown[] | undefined): string {
  if (notifications === undefined) return '';
  const latest = notifications.slice(-RECENT).reverse();
  if (latest.length === 0)
    return '<section id="notifications"><h2>Notifications</h2><p class="muted">No notifications yet.</p></section>';
  const rows = latest.map((raw) => {
    const n = notificationParts(raw);
    const message = n.message.length > 400 ? `${n.message.slice(0, 400)}…` : n.message;
    return [`<span class="t">${e(time(n.at))}</span>`, e(n.subject), `<pre>${e(message)}</pre>`];
  });
  return `<section id="notifications"><h2>Notifications <span class="muted">(SNS topic, latest ${RECENT})</span></h2>${table(['At', 'Subject', 'Message'], rows)}</section>`;
}

export function renderConsolePage(view: ConsoleView): string {
  const refresh = view.refreshSeconds ?? 2;
  const live = view.runs.filter((r) => !TERMINAL.has(r.status)).length;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${e(CONSOLE_CSP)}">`,
    `<meta http-equiv="refresh" content="${refresh}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>tunedrop local console</title>',
    `<style>${STYLE}</style>`,
    '</head><body>',
    `<header><h1>tunedrop local console</h1><span>bucket <code>${e(view.bucket)}</code> · ${view.runs.length} run${view.runs.length === 1 ? '' : 's'}, ${live} under way · ${e(time(view.now.toISOString()))} · refreshes every ${refresh} s</span></header>`,
    '<main>',
    runsSection(view.runs),
    costSection(view.runs),
    dashboardSection(view.metrics),
    eventsSection(view.events),
    notificationsSection(view.notifications),
    '</main></body></html>',
  ].join('\n');
}
