import type { RunRecord } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { TraceSegment } from '../../local/cloud/xray.js';
import type { CloudFormationTemplate } from '../../local/template.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * X-Ray end to end (#13 point 2): the functions' Powertools Tracer sends to the local daemons what it
 * sends on Lambda, and X-Ray keeps it only where the function's role may put trace segments. One run is
 * one trace: validate's (S3 starts it), which its StartExecution carries into the execution and the
 * execution to its functions, each function's subsegment annotated with the run.
 */
const SWEEP_ENTRY = 'functions/sweep-slots/handler.ts';
const WORKFLOW_FUNCTIONS = [
  'Prepare',
  'Upload',
  'AcquireSlot',
  'CreateJob',
  'AwaitJob',
  'GetStatus',
  'Collect',
  'Record',
];

/**
 * The deployment with the sweep function's role lacking xray:PutTraceSegments (its tracing still active),
 * as when a role is written by hand without it: X-Ray refuses what its daemon uploads.
 */
function withoutSweepTracePermission(template: CloudFormationTemplate): CloudFormationTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CloudFormationTemplate;
  const sweep = Object.values(copy.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[ENTRY_METADATA_KEY] === SWEEP_ENTRY,
  );
  const role = (sweep?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.[
    'Fn::GetAtt'
  ]?.[0];
  if (!role) throw new Error(`no role found for ${SWEEP_ENTRY}`);
  let removed = 0;
  for (const resource of Object.values(copy.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const properties = resource.Properties as {
      Roles?: Array<{ Ref?: string }>;
      PolicyDocument: { Statement: Array<{ Action?: string | string[] }> };
    };
    if (!properties.Roles?.some((r) => r.Ref === role)) continue;
    for (const statement of properties.PolicyDocument.Statement) {
      const actions = [statement.Action ?? []].flat();
      if (!actions.includes('xray:PutTraceSegments')) continue;
      statement.Action = actions.filter((a) => a !== 'xray:PutTraceSegments');
      removed++;
    }
  }
  if (removed === 0) throw new Error(`the role of ${SWEEP_ENTRY} has no xray:PutTraceSegments to take away`);
  return copy;
}

let harness: LocalHarness;
let cloud: LocalCloud;
let run: RunRecord;
let traces: TraceSegment[];
const lines: Array<{ functionName: string; stream: 'stdout' | 'stderr'; line: string }> = [];
let sweepName: string;
let runMs: number;

async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await cloud.settleTraces();
}

const named = (name: string) => (t: TraceSegment) => t.functionName.includes(name);
const lambdaSegment = (name: string) =>
  traces.find((t) => named(name)(t) && t.kind === 'segment' && t.origin === 'AWS::Lambda::Function');
const handlerSubsegments = (name: string) => traces.filter((t) => named(name)(t) && t.name.startsWith('## '));

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: 'sk-test-tracing',
    cloud: {
      schedules: false,
      transformTemplate: withoutSweepTracePermission,
      onLog: (functionName, stream, line) => lines.push({ functionName, stream, line }),
    },
  });
  ({ cloud } = harness);
  const started = Date.now();
  run = await harness.dropAndWait(SAMPLE, 'incoming/traced/tickets.jsonl');
  runMs = Date.now() - started;
  // The last function's datagrams may still be on their way when the run is recorded.
  await until('every function of the run has sent its subsegment', () =>
    [...WORKFLOW_FUNCTIONS, 'Validate'].every((name) =>
      cloud.traces().some((t) => named(name)(t) && t.name.startsWith('## ')),
    ),
  );
  traces = cloud.traces();
  const sweep = cloud.plan.functions.find((f) => f.entry === SWEEP_ENTRY)!;
  sweepName = sweep.logicalId;
  const rule = cloud.plan.rules.find((r) => r.targets.some((t) => t.arn === sweep.arn));
  if (!rule) throw new Error('no rule invokes the sweep');
  await cloud.fireSchedule(rule.name);
  await until('the sweep has sent its segments', () =>
    cloud.traceDenials().some((d) => d.functionName === sweepName),
  );
}, 120_000);
afterAll(() => harness?.close());

it('a successful run is traced by each workflow function it ran and by validate, each annotated with the run', () => {
  expect(run.status).toBe('SUCCEEDED');
  for (const name of [...WORKFLOW_FUNCTIONS, 'Validate']) {
    expect({ name, segment: lambdaSegment(name) !== undefined }).toEqual({ name, segment: true });
    const handlers = handlerSubsegments(name);
    expect(handlers.length).toBeGreaterThan(0);
    for (const handler of handlers)
      expect({ name, annotations: handler.annotations }).toEqual({
        name,
        annotations: expect.objectContaining({ runId: run.runId, Service: 'tunedrop' }),
      });
  }
  // Where the step knows them, the family and the provider's job are annotations too.
  expect(handlerSubsegments('Prepare')[0]!.annotations).toMatchObject({ family: 'traced' });
  expect(handlerSubsegments('Collect')[0]!.annotations).toMatchObject({
    family: 'traced',
    jobId: run.providerJobId,
  });
  // Each environment's first invocation is its cold start.
  expect(handlerSubsegments('Validate')[0]!.annotations.ColdStart).toBe(true);
});

it("makes a run one trace: validate's StartExecution carries its trace into the execution, whose functions join it", () => {
  const execution = cloud.stepFunctions.list().find((e) => e.name === run.runId)!;
  const root = /Root=([^;]+)/.exec(execution.traceHeader ?? '')?.[1];
  expect(root).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  for (const name of WORKFLOW_FUNCTIONS)
    expect({ name, traceIds: [...new Set(traces.filter(named(name)).map((t) => t.traceId))] }).toEqual({
      name,
      traceIds: [root],
    });
  expect(lambdaSegment('Validate')!.traceId).toBe(root);
  expect(execution.traceHeader).toBe(`Root=${root};Sampled=1`);
  // The Tracer's subsegment hangs under the segment Lambda recorded for the invocation.
  for (const name of [...WORKFLOW_FUNCTIONS, 'Validate']) {
    const segmentIds = new Set(traces.filter((t) => named(name)(t) && t.kind === 'segment').map((t) => t.id));
    for (const handler of handlerSubsegments(name)) expect(segmentIds.has(handler.parentId!)).toBe(true);
  }
});

it('records the AWS SDK calls and the provider calls as subsegments', () => {
  const calls = (service: string) =>
    traces.filter((t) => t.kind === 'subsegment' && t.namespace === 'aws' && t.name === service);
  expect(calls('DynamoDB').map((t) => t.operation)).toEqual(
    expect.arrayContaining(['PutItem', 'UpdateItem']),
  );
  expect(calls('S3').map((t) => t.operation)).toEqual(expect.arrayContaining(['GetObject', 'PutObject']));
  expect(calls('SFN').map((t) => t.operation)).toContain('StartExecution');
  expect(calls('EventBridge').map((t) => t.operation)).toContain('PutEvents');
  // fetch (the openai SDK) is traced by the Tracer itself: the emulator's host, in Upload and Create job.
  for (const name of ['Upload', 'CreateJob'])
    expect(traces.some((t) => named(name)(t) && t.namespace === 'remote' && t.name === '127.0.0.1')).toBe(
      true,
    );
  // Every subsegment belongs to a segment or subsegment of its trace that X-Ray has.
  const ids = new Set(traces.map((t) => `${t.traceId}/${t.id}`));
  for (const t of traces.filter((s) => s.kind === 'subsegment'))
    expect({ name: t.name, parent: ids.has(`${t.traceId}/${t.parentId}`) }).toEqual({
      name: t.name,
      parent: true,
    });
});

it('loses the segments of a function whose role may not put trace segments, as X-Ray refuses them', () => {
  const denials = cloud.traceDenials().filter((d) => d.functionName === sweepName);
  expect(denials.length).toBeGreaterThan(0);
  expect(denials[0]).toMatchObject({
    message: expect.stringContaining('is not authorized to perform: xray:PutTraceSegments'),
  });
  expect(cloud.traces().filter((t) => t.functionName === sweepName)).toEqual([]);
  // Every other function's uploads were allowed.
  expect(cloud.traceDenials().filter((d) => d.functionName !== sweepName)).toEqual([]);
  // The daemon's uploads are not the functions' own calls.
  expect(cloud.iamDecisions.filter((d) => d.action.startsWith('xray:'))).toEqual([]);
});

it('sends no provider key to X-Ray, in responses, errors or calls', () => {
  expect(JSON.stringify(cloud.traces())).not.toContain(harness.apiKey);
  // The Tracer does keep each step's response as metadata: the key is absent, not the metadata.
  expect(handlerSubsegments('Prepare').some((t) => Object.keys(t.metadata).length > 0)).toBe(true);
});

it('logs nothing but metrics: no error from the Tracer or the X-Ray SDK, denied uploads included', () => {
  expect(lines.filter((l) => l.stream === 'stderr')).toEqual([]);
  expect(lines.filter((l) => !l.line.startsWith('{"_aws":'))).toEqual([]);
  expect(lines.length).toBeGreaterThan(0);
  // How long the run took with tracing on (the pipeline test's run takes about as long).
  expect(runMs).toBeLessThan(60_000);
});
