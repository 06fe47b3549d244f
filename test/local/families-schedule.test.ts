import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CURRENT_MODEL_KEY } from '../../functions/core/registry.js';
import type { RunRecord } from '../../functions/core/run.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * A family's scheduled retrain in local mode (#12 point 8), time accelerated: its tunedrop.json's
 * "schedule" becomes an EventBridge Scheduler schedule; an occurrence with no new data does nothing; after
 * a drop whose run failed (new data, no model from it) the next occurrence retrains on all the family's
 * files; removing tunedrop.json deletes the schedule. The scheduler's clock moves only when the test
 * advances it, so exactly the occurrences the test asks for fire.
 */
const FAMILY = 'nightly';
const DAY = 24 * 60 * 60 * 1000;
const SETTINGS_KEY = `incoming/${FAMILY}/tunedrop.json`;

let harness: LocalHarness;
let cloud: LocalCloud;
let dir: string;
let documents: DynamoDBDocumentClient;
/** What the retrain function said each time it ran (its `retrain` log line). */
const retrains: Array<{ outcome: string; trigger: string; runId?: string; message: string }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-families-schedule-'));
  harness = await startLocalHarness({
    apiKey: 'sk-test-families-schedule',
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1 },
    cloud: {
      schedules: false,
      logLevel: 'INFO',
      onLog: (_fn, _stream, line) => {
        if (!line.includes('"retrain"')) return;
        try {
          const entry = JSON.parse(line) as { message?: string } & (typeof retrains)[number];
          if (entry.message === 'retrain') retrains.push(entry);
        } catch {
          // not a JSON log line
        }
      },
    },
  });
  ({ cloud } = harness);
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.DYNAMODB }),
  );
}, 60_000);
afterAll(async () => {
  documents?.destroy();
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Polls a condition on the cloud's state (not a timer race): resolves once it holds. */
async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The sample with each question changed a little: distinct examples, so a distinct file. */
async function variant(tag: string): Promise<string> {
  const lines = (await readFile(SAMPLE, 'utf8')).trim().split('\n');
  const changed = lines.map((line) => {
    const example = JSON.parse(line) as { messages: Array<{ role: string; content: string }> };
    for (const message of example.messages)
      if (message.role === 'user') message.content = `${message.content} (${tag})`;
    return JSON.stringify(example);
  });
  const path = join(dir, `${tag}.jsonl`);
  await writeFile(path, `${changed.join('\n')}\n`);
  return path;
}

const familySchedules = () => cloud.scheduler.schedules().filter((s) => s.name === `retrain-${FAMILY}`);

async function currentModel(): Promise<string | undefined> {
  const { Item } = await documents.send(
    new GetCommand({
      TableName: cloud.plan.outputs.ModelRegistryTableName!.value,
      Key: { family: FAMILY, model: CURRENT_MODEL_KEY },
      ConsistentRead: true,
    }),
  );
  return Item?.currentModel as string | undefined;
}

/** Advances the scheduler's clock, then waits until the retrain invocations it made have ended. */
async function advance(ms: number): Promise<number> {
  const fired = await cloud.scheduler.advance(ms);
  await cloud.lambda.settle();
  return fired;
}

describe('a family with "schedule": "rate(1 day)" in its tunedrop.json', () => {
  let trained: RunRecord;

  it('gets a retrain schedule in the stack group, invoking the retrain function as the scheduler role', async () => {
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: SETTINGS_KEY,
        Body: JSON.stringify({ schedule: 'rate(1 day)' }),
      }),
    );
    await until('the family has a schedule', () => familySchedules().length === 1);
    const [schedule] = familySchedules();
    const retrain = cloud.plan.functions.find((f) => f.entry === 'functions/retrain/handler.ts')!;
    expect(schedule).toMatchObject({ expression: 'rate(1 day)', state: 'ENABLED' });
    expect(schedule!.target.Arn).toBe(retrain.arn);
    expect(JSON.parse(schedule!.target.Input!)).toEqual({ family: FAMILY, trigger: 'schedule' });
  });

  it('does nothing when it fires with no new data since the current model', async () => {
    trained = await harness.dropAndWait(SAMPLE, `incoming/${FAMILY}/first.jsonl`);
    expect(trained.status).toBe('SUCCEEDED');
    expect(await currentModel()).toBe(trained.fineTunedModel);
    const before = (await cloud.listRuns()).map((run) => run.runId);
    retrains.length = 0;

    // The occurrence due when the schedule was made (a rate schedule starts at once) and the next day's.
    expect(await advance(DAY)).toBeGreaterThanOrEqual(1);
    expect(retrains.length).toBeGreaterThanOrEqual(1);
    expect(retrains.map((r) => [r.trigger, r.outcome])).toEqual(
      retrains.map(() => ['schedule', 'nothing_new']),
    );
    expect((await cloud.listRuns()).map((run) => run.runId).sort()).toEqual(before.sort());
  });

  it('retrains on all the family files at the next occurrence after a drop whose run failed', async () => {
    harness.emulator.faults.onNextJob({ failWith: { code: 'server_error', message: 'the job broke' } });
    const failed = await harness.dropAndWait(await variant('second'), `incoming/${FAMILY}/second.jsonl`);
    expect(failed.status).toBe('FAILED');
    expect(await currentModel()).toBe(trained.fineTunedModel);
    retrains.length = 0;

    expect(await advance(DAY)).toBe(1);
    expect(retrains).toEqual([expect.objectContaining({ trigger: 'schedule', outcome: 'started' })]);
    const runId = retrains[0]!.runId!;
    const retrained = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
    expect(retrained).toMatchObject({
      status: 'SUCCEEDED',
      family: FAMILY,
      trigger: 'schedule',
      dataset: { mode: 'all', fileCount: 2 },
      fineTunedModel: expect.stringMatching(/^ft:/),
    });
    expect(retrained.dataset!.files.map((f) => f.key).sort()).toEqual([
      `incoming/${FAMILY}/first.jsonl`,
      `incoming/${FAMILY}/second.jsonl`,
    ]);
    expect(await currentModel()).toBe(retrained.fineTunedModel);

    // And the occurrence after it has nothing new again.
    retrains.length = 0;
    expect(await advance(DAY)).toBe(1);
    expect(retrains.map((r) => r.outcome)).toEqual(['nothing_new']);
  });

  it('loses its schedule when tunedrop.json is removed', async () => {
    await cloud.s3.send(new DeleteObjectCommand({ Bucket: cloud.bucket, Key: SETTINGS_KEY }));
    await until('the family has no schedule', () => familySchedules().length === 0);
    retrains.length = 0;
    expect(await advance(7 * DAY)).toBe(0);
    expect(retrains).toEqual([]);
  });
});
