import type { LocalCloud, LocalCloudOptions } from '../../local/cloud/index.js';
import type { CloudFormationTemplate } from '../../local/template.js';
import { BROKEN, SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { withoutAction } from '../support/grants.js';
import {
  executionArnOf,
  executionConsoleUrl,
  RUN_EVENT_SOURCE,
  RUN_STATUS_CHANGE,
  RunEventDetailSchema,
  type RunEventDetail,
} from '../../functions/core/run-events.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../local/template.js';

/**
 * Run events end to end (issue #13, point 4): the functions put each run's moves on the local default
 * bus through the IAM gateway, the bus keeps what it received and delivers to the template's rules, and
 * a user's rule on `detail.status: SUCCEEDED` gets exactly the successful run's last event.
 */
const API_KEY = 'sk-test-run-events';
const DEFAULT_BUS = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/default`;
const USER_RULE = 'DeployNewModelRule';

/** A user's rule, as a CDK app would add one: run SUCCEEDED → a function (here the slot sweep, harmless). */
function withUserRule(template: CloudFormationTemplate): CloudFormationTemplate {
  const out = structuredClone(template);
  const [sweepId] = Object.entries(out.Resources).find(
    ([, r]) =>
      r.Type === 'AWS::Lambda::Function' &&
      r.Metadata?.['tunedrop:entry'] === 'functions/sweep-slots/handler.ts',
  )!;
  out.Resources[USER_RULE] = {
    Type: 'AWS::Events::Rule',
    Properties: {
      EventPattern: {
        source: [RUN_EVENT_SOURCE],
        'detail-type': [RUN_STATUS_CHANGE],
        detail: { status: ['SUCCEEDED'] },
      },
      State: 'ENABLED',
      Targets: [{ Id: 'Deploy', Arn: { 'Fn::GetAtt': [sweepId, 'Arn'] } }],
    },
  };
  out.Resources[`${USER_RULE}Permission`] = {
    Type: 'AWS::Lambda::Permission',
    Properties: {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [sweepId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [USER_RULE, 'Arn'] },
    },
  };
  return out;
}

const runEvents = (cloud: LocalCloud, runId: string): RunEventDetail[] =>
  cloud.events
    .received()
    .filter((e) => e.source === RUN_EVENT_SOURCE && (e.detail as { runId?: string }).runId === runId)
    .map((e) => RunEventDetailSchema.parse(e.detail));

/** The event of a run's end comes right after the write that ends it: wait for it, briefly. */
async function eventsUntil(cloud: LocalCloud, runId: string, last: string): Promise<RunEventDetail[]> {
  for (let i = 0; i < 100; i++) {
    const events = runEvents(cloud, runId);
    if (events.some((e) => e.status === last)) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return runEvents(cloud, runId);
}

async function start(transformTemplate?: LocalCloudOptions['transformTemplate']): Promise<LocalHarness> {
  return startLocalHarness({
    apiKey: API_KEY,
    cloud: { onLog: () => undefined, schedules: false, ...(transformTemplate ? { transformTemplate } : {}) },
  });
}

describe('run events on the local default bus', () => {
  let harness: LocalHarness;
  let cloud: LocalCloud;
  beforeAll(async () => {
    harness = await start(withUserRule);
    cloud = harness.cloud;
  }, 60_000);
  afterAll(async () => harness?.close());

  it('a SUCCEEDED run puts exactly its seven moves, in order, each once', async () => {
    const runId = await cloud.drop(SAMPLE, 'incoming/events/tickets.jsonl');
    const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
    expect(run.status).toBe('SUCCEEDED');
    const events = await eventsUntil(cloud, runId, 'SUCCEEDED');
    expect(events.map((e) => e.status)).toEqual([
      'RECEIVED',
      'PREPARING',
      'UPLOADING',
      'TRAINING',
      'COLLECTING',
      'EVALUATING',
      'SUCCEEDED',
    ]);
    expect(events.map((e) => e.previousStatus)).toEqual([
      undefined,
      'RECEIVED',
      'PREPARING',
      'UPLOADING',
      'TRAINING',
      'COLLECTING',
      'EVALUATING',
    ]);
    expect(new Set(events.map((e) => e.id)).size).toBe(7);
    // Each event's time is its move's, as the run item's history has it.
    expect(events.map((e) => e.at)).toEqual(
      run.history.filter((h, i) => i === 0 || run.history[i - 1]!.status !== h.status).map((h) => h.at),
    );
    expect(events.at(-1)).toMatchObject({
      version: 1,
      family: 'events',
      terminal: true,
      provider: 'openai',
      fineTunedModel: run.fineTunedModel,
      links: {
        validationReport: `s3://${cloud.bucket}/runs/${runId}/validation.md`,
        results: `s3://${cloud.bucket}/runs/${runId}/results.csv`,
        report: `s3://${cloud.bucket}/runs/${runId}/report.html`,
      },
    });
    expect(events.at(-1)!.error).toBeUndefined();
    // Every event after RECEIVED links the run's execution, whichever function put it (none of the
    // workflow's functions knows the state machine's ARN: the run item names its execution).
    for (const event of events.slice(1))
      expect(event.links.execution).toBe(executionConsoleUrl(executionArnOf(cloud.stateMachineArn, runId)));

    // The user's rule got the SUCCEEDED event, and nothing else of the run.
    const delivered = cloud.events
      .deliveries()
      .filter((d) => d.ruleArn.endsWith(`/${USER_RULE}`))
      .map((d) => d.event as { 'detail-type': string; detail: RunEventDetail });
    expect(delivered.map((d) => [d['detail-type'], d.detail.runId, d.detail.status])).toEqual([
      [RUN_STATUS_CHANGE, runId, 'SUCCEEDED'],
    ]);

    // Put through the IAM gateway, on the default bus, by the functions' roles.
    const puts = cloud.iamDecisions.filter((d) => d.action === 'events:PutEvents');
    expect(puts.length).toBeGreaterThanOrEqual(6);
    for (const decision of puts) expect(decision).toMatchObject({ resource: DEFAULT_BUS, allowed: true });
  }, 90_000);

  it('a REJECTED run puts RECEIVED then REJECTED, with the error a person reads', async () => {
    const runId = await cloud.drop(BROKEN, 'incoming/events/broken-tickets.jsonl');
    const run = await cloud.waitForRun(runId, { timeoutMs: 30_000 });
    expect(run.status).toBe('REJECTED');
    const events = await eventsUntil(cloud, runId, 'REJECTED');
    expect(events.map((e) => [e.previousStatus, e.status])).toEqual([
      [undefined, 'RECEIVED'],
      ['RECEIVED', 'REJECTED'],
    ]);
    expect(events[1]).toMatchObject({
      terminal: true,
      error: { code: 'invalid_json', message: expect.stringContaining('line 4') },
    });
    expect(events[1]!.links.execution).toBeUndefined();
    expect(
      cloud.events
        .deliveries()
        .filter((d) => (d.event as { detail?: { runId?: string } }).detail?.runId === runId),
    ).toEqual([]);
  }, 60_000);
});

describe('a function without events:PutEvents', () => {
  it('is refused as on AWS (AccessDenied), and the run still records its end', async () => {
    const harness = await start(withoutAction({ entry: 'functions/record/handler.ts' }, 'events:PutEvents'));
    try {
      const { cloud } = harness;
      const runId = await cloud.drop(SAMPLE, 'incoming/denied/tickets.jsonl');
      const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
      expect(run.status).toBe('SUCCEEDED');
      expect(run.finishedAt).toBeDefined();
      // Give the refused put time to have happened.
      for (let i = 0; i < 100; i++) {
        if (cloud.iamDecisions.some((d) => d.action === 'events:PutEvents' && !d.allowed)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const denied = cloud.iamDecisions.filter((d) => d.action === 'events:PutEvents' && !d.allowed);
      expect(denied).toHaveLength(1);
      expect(denied[0]).toMatchObject({ resource: DEFAULT_BUS });
      expect(denied[0]!.message).toContain('is not authorized to perform: events:PutEvents');
      expect(runEvents(cloud, runId).map((e) => e.status)).toEqual([
        'RECEIVED',
        'PREPARING',
        'UPLOADING',
        'TRAINING',
        'COLLECTING',
        'EVALUATING',
      ]);
    } finally {
      await harness.close();
    }
  }, 90_000);
});
