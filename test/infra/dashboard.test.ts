import { METRIC_NAMES } from '../../functions/core/metrics.js';
import { synthTemplate } from '../support/synth.js';

/**
 * The dashboard shows only what exists (#13 point 7): each custom metric it references is one of
 * METRIC_NAMES, which test/local/metrics.test.ts sees produced in a local scenario, every one; each
 * built-in metric names a resource of this stack; and every function has its errors, throttles and
 * durations on it.
 */
const { stack, template } = synthTemplate();
const resources = template.toJSON().Resources as Record<string, { Type: string }>;
const [dashboardId, dashboard] = Object.entries(template.findResources('AWS::CloudWatch::Dashboard'))[0]!;

/** The dashboard body with each CloudFormation token as `@@<index>@@`, and the tokens. */
const tokens: unknown[] = [];
const body = JSON.parse(
  (dashboard.Properties.DashboardBody['Fn::Join'] as [string, unknown[]])[1]
    .map((part) => (typeof part === 'string' ? part : `@@${tokens.push(part) - 1}@@`))
    .join(''),
) as { widgets: Array<{ properties: { title?: string; metrics?: unknown[][] } }> };
const widgets = body.widgets.filter((w) => w.properties.metrics);
const metricRows = widgets.flatMap((w) =>
  w.properties.metrics!.map((row) => ({ title: w.properties.title!, row })),
);
const builtIn = metricRows.filter(
  ({ row }) => typeof row[0] === 'string' && String(row[0]).startsWith('AWS/'),
);

/** The resource a token in the body stands for: a Ref or a Fn::GetAtt of a logical id. */
function resourceOf(value: unknown): { id: string; type: string } {
  const match = /^@@(\d+)@@$/.exec(String(value));
  if (!match) throw new Error(`${String(value)} is not a reference to a resource`);
  const token = tokens[Number(match[1])] as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const id = token.Ref ?? token['Fn::GetAtt']![0];
  return { id, type: resources[id]?.Type ?? 'missing' };
}

it('references only custom metrics the code emits (METRIC_NAMES), and says which', () => {
  const inBody = new Set<string>();
  for (const { row } of metricRows) {
    if (row[0] === 'Tunedrop') inBody.add(String(row[1]));
    for (const cell of row)
      if (typeof cell === 'object' && cell !== null && 'expression' in cell)
        for (const [, name] of String((cell as { expression: string }).expression).matchAll(
          /\{Tunedrop,[^}]*\} MetricName="([^"]+)"/g,
        ))
          inBody.add(name!);
  }
  expect([...inBody].sort()).toEqual([...stack.pipeline.dashboard.customMetricNames].sort());
  for (const name of inBody) expect(METRIC_NAMES).toContain(name);
  // Every custom metric has a place on the dashboard.
  expect([...inBody].sort()).toEqual([...METRIC_NAMES].sort());
});

it('shows the run and embedding workflows, the dead-letter queue and every function of this stack', () => {
  const expected: Record<string, { dimension: string; type: string }> = {
    'AWS/States': { dimension: 'StateMachineArn', type: 'AWS::StepFunctions::StateMachine' },
    'AWS/SQS': { dimension: 'QueueName', type: 'AWS::SQS::Queue' },
    'AWS/Lambda': { dimension: 'FunctionName', type: 'AWS::Lambda::Function' },
  };
  for (const { title, row } of builtIn) {
    const [namespace, , dimension, value] = row as [string, string, string, unknown];
    expect({ title, namespace, dimension }).toEqual({
      title,
      namespace,
      dimension: expected[namespace]?.dimension,
    });
    expect(resourceOf(value).type).toBe(expected[namespace]!.type);
  }
  const names = (namespace: string) =>
    builtIn.filter(({ row }) => row[0] === namespace).map(({ row }) => [row[1], resourceOf(row[3]).id]);
  // The run workflow's executions, and the embedding workflow's beside them (#15).
  const machines = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
  const machine = machines.find((id) => !id.includes('Embedding'))!;
  const embeddingMachine = machines.find((id) => id.includes('EmbeddingWorkflow'))!;
  expect(machines).toHaveLength(2);
  expect(names('AWS/States')).toEqual(
    [machine, embeddingMachine].flatMap((id) =>
      ['ExecutionsStarted', 'ExecutionsFailed', 'ExecutionsTimedOut'].map((m) => [m, id]),
    ),
  );
  const titles = widgets.map((w) => w.properties.title);
  expect(titles.indexOf('Embedding workflow executions')).toBe(titles.indexOf('Run workflow executions') + 1);
  expect(resourceOf(builtIn.find(({ row }) => row[0] === 'AWS/SQS')!.row[3]).id).toMatch(/DeadLetters/);
  // Every function the stack declares but CDK's own (the bucket notifications handler has no code of ours).
  const functions = Object.entries(template.findResources('AWS::Lambda::Function'))
    .filter(([, f]) => f.Properties.Handler !== 'index.handler' || !f.Properties.Code?.ZipFile)
    .map(([id]) => id)
    .filter((id) => !id.startsWith('BucketNotificationsHandler'))
    .sort();
  for (const metric of ['Errors', 'Throttles', 'Duration'])
    expect(
      names('AWS/Lambda')
        .filter(([m]) => m === metric)
        .map(([, id]) => id)
        .sort(),
    ).toEqual(functions);
});

it('is linked from the stack outputs', () => {
  expect(template.toJSON().Outputs.DashboardUrl.Value).toEqual({
    'Fn::Join': [
      '',
      [
        'https://console.aws.amazon.com/cloudwatch/home?region=',
        { Ref: 'AWS::Region' },
        '#dashboards:name=',
        { Ref: dashboardId },
      ],
    ],
  });
});

it('shows the runs stuck as the RunStuck alarm counts them: the sweep gauge, its maximum, service only', () => {
  const widget = widgets.find((w) => w.properties.title?.startsWith('Runs stuck'))!;
  expect(widget.properties.metrics).toEqual([
    ['Tunedrop', 'RunsStuck', 'service', 'tunedrop', { label: 'runs stuck', stat: 'Maximum' }],
  ]);
});
