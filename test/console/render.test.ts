import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { costReport } from '../../cli/cost-report.js';
import { usd } from '../../cli/table.js';
import { METRIC_NAMES } from '../../functions/core/metrics.js';
import type { RunRecord } from '../../functions/core/run.js';
import {
  CONSOLE_CSP,
  dashboardNumbers,
  fileHref,
  renderConsolePage,
  statusText,
  type ConsoleMetric,
  type ConsoleView,
} from '../../local/console/render.js';
import { servedKey, startConsole, type ConsoleSource } from '../../local/console/server.js';

/** The local console's page and file routes, without a local cloud (test/local/console.test.ts has one). */

const run = (over: Partial<RunRecord> & Pick<RunRecord, 'runId' | 'family' | 'status'>): RunRecord => ({
  history: [{ status: over.status, at: '2026-11-29T10:00:00.000Z' }],
  source: { bucket: 'b', key: `incoming/${over.family}/x.jsonl` },
  createdAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:00.000Z',
  ...over,
});

const RUNS: RunRecord[] = [
  run({
    runId: 'tickets-aaaa',
    family: 'support',
    status: 'SUCCEEDED',
    provider: 'openai',
    costUsd: 0.012345,
    trainedTokens: 4000,
    finishedAt: '2026-11-29T10:05:00.000Z',
    reportKey: 'runs/tickets-aaaa/report.html',
    validationReportKey: 'runs/tickets-aaaa/validation.md',
    resultsKey: 'runs/tickets-aaaa/results.csv',
    summaryKey: 'runs/tickets-aaaa/summary.json',
  }),
  run({
    runId: 'tickets-bbbb',
    family: 'support',
    status: 'TRAINING',
    provider: 'openai',
    providerStatus: 'running',
    estimatedCostUsd: 0.02,
    createdAt: '2026-11-29T11:00:00.000Z',
  }),
  run({
    runId: 'faq-cccc',
    family: 'faq',
    status: 'REJECTED',
    validationReportKey: 'runs/faq-cccc/validation.md',
    error: { name: 'ValidationError', code: 'json_invalid', message: 'line 3 is not JSON' },
  }),
  run({ runId: 'legal-dddd', family: 'legal', status: 'SUCCEEDED', provider: 'bedrock', costUsd: 1.5 }),
];

const metric = (name: string, value: number, dimensions: Record<string, string>): ConsoleMetric => ({
  namespace: 'Tunedrop',
  name,
  value,
  dimensions: { ...dimensions, service: 'tunedrop' },
});

const METRICS: ConsoleMetric[] = [
  metric('RunsStarted', 1, { family: 'support', provider: 'openai' }),
  metric('RunsStarted', 1, { family: 'legal', provider: 'bedrock' }),
  metric('RunsEnded', 1, { family: 'support', provider: 'openai', status: 'SUCCEEDED' }),
  metric('RunsEnded', 1, { status: 'SUCCEEDED' }),
  metric('RunsEnded', 1, { family: 'legal', provider: 'bedrock', status: 'FAILED' }),
  metric('RunsEnded', 1, { status: 'FAILED' }),
  metric('RunsRejected', 1, { family: 'faq', provider: 'openai' }),
  metric('RunsRejected', 1, { reason: 'json_invalid' }),
  metric('RunsRejected', 1, { family: 'faq', provider: 'openai' }),
  metric('RunsRejected', 1, { reason: 'json_invalid' }),
  metric('CostUsd', 0.1, { family: 'support', provider: 'openai' }),
  metric('CostUsd', 0.1, {}),
  metric('CostUsd', 0.2, { family: 'support', provider: 'openai' }),
  metric('CostUsd', 0.2, {}),
  metric('TrainedTokens', 4000, { family: 'support', provider: 'openai' }),
  metric('RunsWaiting', 2, { provider: 'openai' }),
  metric('RunsWaiting', 0, { provider: 'openai' }),
  metric('RunsWaiting', 1, { family: 'support' }),
  metric('RunsEnded', 1, { family: 'support', provider: 'openai', status: 'SUCCEEDED_NOT_PROMOTED' }),
  metric('RunsEnded', 1, { status: 'SUCCEEDED_NOT_PROMOTED' }),
  metric('RunsStuck', 1, {}),
  metric('RunsStuck', 0, {}),
  { ...metric('RunsStarted', 99, { family: 'x', provider: 'y' }), namespace: 'Other' },
];

const view = (over: Partial<ConsoleView> = {}): ConsoleView => ({
  bucket: 'tunedrop-bucket',
  runs: RUNS,
  metrics: METRICS,
  events: [],
  now: new Date('2026-11-29T12:00:00.000Z'),
  ...over,
});

describe('the console page', () => {
  it('escapes every string that came from a run, an event or a notification', () => {
    const evil = '<script>alert("x")</script>';
    const html = renderConsolePage(
      view({
        runs: [
          run({
            runId: 'evil-1',
            family: `fam${evil}`,
            status: 'FAILED',
            provider: evil,
            error: { name: 'E', code: evil, message: `'${evil}'` },
            reportKey: `runs/evil-1/report.html?"><script>`,
          }),
        ],
        events: [
          {
            source: 'tunedrop',
            'detail-type': 'Run Status Change',
            time: '2026-11-29T10:00:00Z',
            detail: { runId: evil, status: 'FAILED', previousStatus: 'TRAINING', error: { code: evil } },
          },
        ],
        notifications: [{ subject: evil, message: evil, at: '2026-11-29T10:00:00Z' }, evil],
      }),
    );
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    // The link's key is encoded into the href, not able to close the attribute.
    expect(html).toContain('href="/files/runs/evil-1/report.html%3F%22%3E%3Cscript%3E"');
  });

  it('says so when there is nothing yet, and shows no notifications section without notifications', () => {
    const html = renderConsolePage(view({ runs: [], metrics: [], events: [] }));
    expect(html).toContain('id="no-runs"');
    expect(html).toContain('No runs, no cost.');
    expect(html).toContain('No rejections.');
    expect(html).toContain('No run events yet.');
    expect(html).not.toContain('id="notifications"');
    expect(renderConsolePage(view({ notifications: [] }))).toContain('No notifications yet.');
  });

  it('shows the cost per family exactly as the cost report sums it', () => {
    const html = renderConsolePage(view());
    const report = costReport(RUNS, { by: 'family' });
    const section = html.slice(html.indexOf('id="cost"'), html.indexOf('id="dashboard"'));
    for (const group of report.groups) {
      const row = section.slice(section.indexOf(`<code>${group.key}</code>`));
      expect(row.slice(0, row.indexOf('</tr>'))).toContain(usd(group.costUsd));
    }
    const total = section.slice(section.indexOf('<b>total</b>'));
    expect(total.slice(0, total.indexOf('</tr>'))).toContain(usd(report.total.costUsd));
    expect(report.total.costUsd).toBe(1.512345);
    // Largest cost first, as the report orders its groups.
    expect(section.indexOf('<code>legal</code>')).toBeLessThan(section.indexOf('<code>support</code>'));
  });

  it('lists runs by family, newest first, with the provider status while under way and links to their files', () => {
    const html = renderConsolePage(view());
    const runs = html.slice(0, html.indexOf('id="cost"'));
    expect(runs.indexOf('tickets-bbbb')).toBeLessThan(runs.indexOf('tickets-aaaa'));
    expect(runs).toContain('provider: running');
    expect(statusText(RUNS[1]!)).toBe('TRAINING (provider: running)');
    expect(statusText(RUNS[0]!)).toBe('SUCCEEDED');
    for (const file of ['report.html', 'validation.md', 'results.csv', 'summary.json'])
      expect(runs).toContain(`href="/files/runs/tickets-aaaa/${file}"`);
    expect(runs).toContain('href="/files/runs/faq-cccc/validation.md"');
    expect(runs).not.toContain('href="/files/runs/faq-cccc/results.csv"');
    expect(runs).toContain('~$0.0200');
    expect(runs).toContain('json_invalid: line 3 is not JSON');
  });

  it("counts the dashboard's numbers by the dashboard's dimension sets, each fact once", () => {
    const n = dashboardNumbers(METRICS);
    expect(n).toMatchObject({
      started: 2,
      succeeded: 1,
      notPromoted: 1,
      failed: 1,
      rejected: 2,
      cancelled: 0,
      timedOut: 0,
      costUsd: 0.3,
      trainedTokens: 4000,
      rejectionsByReason: [{ reason: 'json_invalid', count: 2 }],
      waiting: [
        { queue: 'family support', count: 1 },
        { queue: 'provider openai', count: 0 },
      ],
      costBySeries: [{ family: 'support', provider: 'openai', costUsd: 0.3 }],
      // The sweep's last sample.
      stuck: 0,
    });
    expect(dashboardNumbers([]).stuck).toBeNull();
    // Every name the console reads is one the functions publish.
    for (const name of [
      'RunsStarted',
      'RunsEnded',
      'RunsRejected',
      'CostUsd',
      'TrainedTokens',
      'RunsWaiting',
      'RunsStuck',
    ])
      expect(METRIC_NAMES).toContain(name);
  });

  it('lists the latest run events, newest first, and the notifications whatever their field names', () => {
    const events = Array.from({ length: 20 }, (_, i) => ({
      source: 'tunedrop',
      'detail-type': 'Run Status Change',
      time: `2026-11-29T10:00:${String(i).padStart(2, '0')}Z`,
      detail: {
        runId: `run-${i}`,
        status: 'RECEIVED',
        at: `2026-11-29T10:00:${String(i).padStart(2, '0')}.000Z`,
      },
    }));
    const html = renderConsolePage(
      view({
        events: [
          ...events,
          { source: 'aws.states', 'detail-type': 'x', time: '', detail: { runId: 'other' } },
        ],
        notifications: [
          { Subject: 'tunedrop: run x SUCCEEDED', Message: 'cost $0.01', Timestamp: '2026-11-29T10:01:00Z' },
        ],
      }),
    );
    expect(html).toContain('run-19');
    expect(html).toContain('run-5');
    expect(html).not.toContain('run-4<');
    expect(html.indexOf('run-19')).toBeLessThan(html.indexOf('run-18'));
    expect(html).not.toContain('>other<');
    expect(html).toContain('tunedrop: run x SUCCEEDED');
    expect(html).toContain('cost $0.01');
  });

  it('allows only its own style, by hash, and loads nothing', () => {
    const html = renderConsolePage(view());
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const hash = createHash('sha256').update(style).digest('base64');
    expect(CONSOLE_CSP).toContain(`style-src 'sha256-${hash}'`);
    expect(CONSOLE_CSP).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|src=|https?:\/\//);
    expect(html).toContain('<meta http-equiv="refresh" content="2">');
  });

  it('makes file links the server serves', () => {
    expect(fileHref('runs/a-1/report.html')).toBe('/files/runs/a-1/report.html');
    expect(servedKey(fileHref('runs/a-1/report.html'))).toEqual({
      key: 'runs/a-1/report.html',
      contentType: 'text/html; charset=utf-8',
    });
  });
});

describe('embedding runs on the console (#15)', () => {
  const EMBEDDINGS: RunRecord[] = [
    run({
      runId: 'articles-eeee',
      kind: 'embeddings',
      family: 'articles',
      status: 'SUCCEEDED',
      provider: 'openai',
      baseModel: 'text-embedding-3-small',
      source: { bucket: 'b', key: 'embed/articles/articles.jsonl' },
      costUsd: 0.000123,
      estimatedTokens: 12_400,
      validationReportKey: 'embeddings/articles-eeee/validation.md',
      finishedAt: '2026-11-29T10:09:00.000Z',
      embedding: {
        model: 'text-embedding-3-small',
        dimensions: 512,
        mode: 'batch',
        embedded: 98,
        failed: 2,
        tokens: 12_300,
        outputKey: 'embeddings/articles-eeee/embeddings.parquet',
        manifestKey: 'embeddings/articles-eeee/manifest.json',
      },
    }),
    run({
      runId: 'articles-ffff',
      kind: 'embeddings',
      family: 'articles',
      status: 'EMBEDDING',
      provider: 'openai',
      baseModel: 'text-embedding-3-small',
      source: { bucket: 'b', key: 'embed/articles/more.csv' },
      createdAt: '2026-11-29T11:30:00.000Z',
      estimatedTokens: 500,
      estimatedCostUsd: 0.000005,
      validationReportKey: 'embeddings/articles-ffff/validation.md',
      embedding: { model: 'text-embedding-3-small', dimensions: 512, mode: 'direct' },
    }),
    // A collection named as a family is its own group.
    run({
      runId: 'support-gggg',
      kind: 'embeddings',
      family: 'support',
      status: 'REJECTED',
      source: { bucket: 'b', key: 'embed/support/x.jsonl' },
      validationReportKey: 'embeddings/support-gggg/validation.md',
      error: { name: 'ValidationError', code: 'text_missing', message: 'line 2 has no text' },
    }),
  ];
  const html = renderConsolePage(view({ runs: [...RUNS, ...EMBEDDINGS] }));
  const runsPart = html.slice(0, html.indexOf('id="cost"'));
  const rowOf = (runId: string) => {
    const start = runsPart.indexOf(`<code>${runId}</code>`);
    return runsPart.slice(start, runsPart.indexOf('</tr>', start));
  };

  it('lists them by collection, after the families, with their kind, status, model, records, tokens and cost', () => {
    expect(runsPart).toContain('Runs by family and collection');
    expect(runsPart).toContain(
      'Collection <code>articles</code> <span class="muted">(2 embedding runs)</span>',
    );
    expect(runsPart.indexOf('Family <code>support</code>')).toBeLessThan(
      runsPart.indexOf('Collection <code>articles</code>'),
    );
    expect(runsPart).toContain(
      'Collection <code>support</code> <span class="muted">(1 embedding run)</span>',
    );
    expect(runsPart.indexOf('articles-ffff')).toBeLessThan(runsPart.indexOf('articles-eeee'));
    const done = rowOf('articles-eeee');
    for (const cell of [
      '<span class="k k-embeddings">embeddings</span>',
      '512 dims, batch',
      '<span class="s s-SUCCEEDED">SUCCEEDED</span>',
      '<code class="w">text-embedding-3-small</code>',
      '98 embedded, 2 failed',
      '12,300',
      '$0.0001',
    ])
      expect(done).toContain(cell);
    const running = rowOf('articles-ffff');
    expect(running).toContain('<span class="s s-EMBEDDING">EMBEDDING</span>');
    expect(running).toContain('512 dims, direct');
    expect(running).toContain('~$0.0000');
    expect(running).toContain('>500<');
    expect(rowOf('support-gggg')).toContain('text_missing: line 2 has no text');
    // The training runs say their kind too.
    expect(rowOf('tickets-aaaa')).toContain('<span class="k k-fine-tuning">fine-tuning</span>');
  });

  it("links an embedding run's validation report and manifest, names its embeddings by s3:// URI", () => {
    const done = rowOf('articles-eeee');
    expect(done).toContain('href="/files/embeddings/articles-eeee/validation.md"');
    expect(done).toContain('href="/files/embeddings/articles-eeee/manifest.json"');
    expect(done).toContain(
      '<code class="output w">s3://b/embeddings/articles-eeee/embeddings.parquet</code>',
    );
    expect(rowOf('articles-ffff')).not.toContain('manifest.json');
    for (const file of ['validation.md', 'validation.json', 'manifest.json'])
      expect(servedKey(fileHref(`embeddings/articles-eeee/${file}`))).toEqual({
        key: `embeddings/articles-eeee/${file}`,
        contentType: expect.stringMatching(/^(text\/markdown|application\/json); charset=utf-8$/),
      });
    for (const path of [
      '/files/embeddings/articles-eeee/embeddings.parquet',
      '/files/embeddings/articles-eeee/requests/0001.jsonl',
      '/files/embeddings/articles-eeee/results/x.jsonl',
      '/files/embeddings/../embed/articles/articles.jsonl',
      '/files/embed/articles/articles.jsonl',
      '/files/embeddings/articles-eeee/report.html',
    ])
      expect(servedKey(path)).toBeUndefined();
  });

  it('counts their cost in the cost section as the cost report does, their tokens apart', () => {
    const all = [...RUNS, ...EMBEDDINGS];
    const report = costReport(all, { by: 'family' });
    const cost = html.slice(html.indexOf('id="cost"'), html.indexOf('id="dashboard"'));
    expect(cost).toContain('Cost by family and collection');
    expect(cost).toContain('Embedding tokens');
    const articles = cost.slice(cost.indexOf('<code>articles</code>'));
    expect(articles.slice(0, articles.indexOf('</tr>'))).toContain('12,300');
    const total = cost.slice(cost.indexOf('<b>total</b>'));
    expect(total.slice(0, total.indexOf('</tr>'))).toContain(usd(report.total.costUsd));
    expect(report.total.costUsd).toBe(1.512468);
    // Without embedding runs the section is as it was.
    expect(renderConsolePage(view())).not.toContain('Embedding tokens');
  });
});

describe('the console server', () => {
  it.each([
    ['/files/incoming/support/x.jsonl'],
    ['/files/runs/../incoming/support/x.jsonl'],
    ['/files/runs/%2e%2e/incoming/x.jsonl'],
    ['/files/runs/a-1/..%2f..%2fincoming%2fx.jsonl'],
    ['/files/runs/a-1/train.jsonl'],
    ['/files/runs/a-1/validation.jsonl'],
    ['/files/runs/a-1/bedrock/training.jsonl'],
    ['/files/runs/a-1/report.html/x'],
    ['/files/runs/a%2F1/report.html'],
    ['/files/runs/a-1/%E0%A4%A'],
    ['/files/runs/a-1/constructor'],
    ['/files/runs/a-1/__proto__'],
  ])('refuses %s', (path) => {
    expect(servedKey(path)).toBeUndefined();
  });

  it('serves the page and a run file with their content types, and refuses the rest', async () => {
    const objects = new Map([
      ['runs/a-1/results.csv', 'step,train_loss\n1,2.5\n'],
      ['embeddings/e-1/manifest.json', '{"count":2}\n'],
      ['embeddings/e-1/embeddings.parquet', 'PAR1'],
    ]);
    const source: ConsoleSource = {
      bucket: 'b',
      s3: {
        send: async (command: { input: { Key: string } }) => {
          const body = objects.get(command.input.Key);
          if (body === undefined) throw Object.assign(new Error('no such key'), { name: 'NoSuchKey' });
          return { Body: { transformToByteArray: async () => new TextEncoder().encode(body) } };
        },
      } as unknown as ConsoleSource['s3'],
      listRuns: async () => RUNS,
      metrics: () => METRICS,
      events: { received: () => [] },
      notifications: () => [{ subject: 'hello from SNS' }],
    };
    const server = await startConsole(source, { port: 0 });
    const get = (path: string) =>
      new Promise<{ status: number; type: string; csp: string; body: string }>((resolve, reject) => {
        request(`${server.url.slice(0, -1)}${path}`, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () =>
            resolve({
              status: response.statusCode!,
              type: String(response.headers['content-type']),
              csp: String(response.headers['content-security-policy']),
              body,
            }),
          );
        })
          .on('error', reject)
          .end();
      });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await get('/');
      expect(page).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', csp: CONSOLE_CSP });
      expect(page.body).toContain('hello from SNS');
      expect(await get('/files/runs/a-1/results.csv')).toMatchObject({
        status: 200,
        type: 'text/csv; charset=utf-8',
        body: 'step,train_loss\n1,2.5\n',
      });
      expect(await get('/files/embeddings/e-1/manifest.json')).toMatchObject({
        status: 200,
        type: 'application/json; charset=utf-8',
        body: '{"count":2}\n',
      });
      expect((await get('/files/embeddings/e-1/embeddings.parquet')).status).toBe(403);
      expect((await get('/files/runs/a-1/summary.json')).status).toBe(404);
      expect((await get('/files/runs/../incoming/support/x.jsonl')).status).toBe(403);
      expect((await get('/files/incoming/support/x.jsonl')).status).toBe(403);
      expect((await get('/elsewhere')).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
