import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  ACTIVE_STATUS,
  dynamoDbActiveRuns,
  dynamoDbRunStore,
  STATUS_SINCE,
} from '../../functions/adapters/dynamodb-run-store.js';
import type { RunRecord } from '../../functions/core/run.js';
import { useRunsTables } from '../support/runs-tables.js';

/**
 * The runs not ended, by when their current status began (the sparse byActiveStatus index), as the run
 * store's create and advance keep it, on dynalite with the stack's indexes: what the sweep reads to find
 * stuck runs without scanning the table.
 */
const tables = useRunsTables('active-runs');

const T0 = Date.parse('2026-11-30T08:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

/** A run store whose clock the test sets, and the index reader on the same table. */
async function setUp() {
  const table = await tables.newTable();
  let clock = at(0);
  const runs = dynamoDbRunStore(tables.documents(), table, () => clock);
  const active = dynamoDbActiveRuns(tables.documents(), table);
  const create = (runId: string, minute: number) =>
    runs.create({
      runId,
      family: 'support',
      status: 'RECEIVED',
      history: [{ status: 'RECEIVED', at: at(minute).toISOString() }],
      source: { bucket: 'b', key: `incoming/support/${runId}.jsonl` },
      createdAt: at(minute).toISOString(),
      updatedAt: at(minute).toISOString(),
    } satisfies RunRecord);
  const item = async (runId: string) =>
    (await tables.documents().send(new GetCommand({ TableName: table, Key: { runId } }))).Item!;
  return {
    table,
    runs,
    active,
    create,
    item,
    setClock: (minute: number) => (clock = at(minute)),
  };
}

describe('the index of runs not ended', () => {
  it('lists a created run from when it was received, and only once its status began before the cutoff', async () => {
    const { active, create } = await setUp();
    await create('r1', 0);
    expect(await active.statusBegunBefore(at(1))).toEqual([
      { runId: 'r1', status: 'RECEIVED', since: at(0).toISOString() },
    ]);
    expect(await active.statusBegunBefore(at(0))).toEqual([]);
  });

  it('moves a run to its new status from when it entered it', async () => {
    const { runs, active, create, setClock } = await setUp();
    await create('r1', 0);
    setClock(10);
    await runs.advance('r1', 'PREPARING');
    expect(await active.statusBegunBefore(at(60))).toEqual([
      { runId: 'r1', status: 'PREPARING', since: at(10).toISOString() },
    ]);
    // Not before it entered PREPARING: its RECEIVED time no longer counts.
    expect(await active.statusBegunBefore(at(5))).toEqual([]);
  });

  it("keeps when TRAINING began through the job's progress notes (TRAINING to TRAINING)", async () => {
    const { runs, active, create, setClock } = await setUp();
    await create('r1', 0);
    for (const [minute, status] of [
      [1, 'PREPARING'],
      [2, 'UPLOADING'],
      [3, 'TRAINING'],
    ] as const) {
      setClock(minute);
      expect(await runs.advance('r1', status)).toMatchObject({ status });
    }
    setClock(300);
    const noted = await runs.advance('r1', 'TRAINING', { providerStatus: 'running', detail: 'running' });
    // The note is recorded as before (history, provider status)...
    expect(noted).toMatchObject({ status: 'TRAINING', providerStatus: 'running' });
    expect(noted!.history.map((h) => h.status)).toEqual([
      'RECEIVED',
      'PREPARING',
      'UPLOADING',
      'TRAINING',
      'TRAINING',
    ]);
    // ...and the status still began at minute 3.
    expect(await active.statusBegunBefore(at(301))).toEqual([
      { runId: 'r1', status: 'TRAINING', since: at(3).toISOString() },
    ]);
  });

  it('drops a run once it has ended, and its index attributes with it', async () => {
    const { runs, active, create, item, setClock } = await setUp();
    await create('r1', 0);
    await create('r2', 0);
    setClock(5);
    await runs.advance('r1', 'CANCELLED', { error: { name: 'Stopped', message: 'stopped' } });
    expect((await active.statusBegunBefore(at(60))).map((r) => r.runId)).toEqual(['r2']);
    const ended = await item('r1');
    expect(ended[ACTIVE_STATUS]).toBeUndefined();
    expect(ended[STATUS_SINCE]).toBeUndefined();
    // A move refused (the run has ended) changes nothing, the index included.
    expect(await runs.advance('r1', 'PREPARING')).toBeUndefined();
    expect((await item('r1'))[ACTIVE_STATUS]).toBeUndefined();
  });

  it('never lists a run created ended (REJECTED at once)', async () => {
    const { runs, active } = await setUp();
    await runs.create({
      runId: 'rejected',
      family: 'support',
      status: 'REJECTED',
      history: [{ status: 'REJECTED', at: at(0).toISOString() }],
      source: { bucket: 'b', key: 'incoming/support/rejected.jsonl' },
      createdAt: at(0).toISOString(),
      updatedAt: at(0).toISOString(),
    });
    expect(await active.statusBegunBefore(at(60))).toEqual([]);
  });

  it('does not list a run item written before the index was kept, until its status next moves', async () => {
    const { table, runs, active, setClock } = await setUp();
    // An item as the store wrote it before: no activeStatus, no statusSince.
    await tables.documents().send(
      new PutCommand({
        TableName: table,
        Item: {
          runId: 'old',
          family: 'support',
          status: 'RECEIVED',
          history: [{ status: 'RECEIVED', at: at(0).toISOString() }],
          source: { bucket: 'b', key: 'incoming/support/old.jsonl' },
          createdAt: at(0).toISOString(),
          updatedAt: at(0).toISOString(),
        },
      }),
    );
    expect(await active.statusBegunBefore(at(60))).toEqual([]);
    setClock(10);
    await runs.advance('old', 'PREPARING');
    expect(await active.statusBegunBefore(at(60))).toEqual([
      { runId: 'old', status: 'PREPARING', since: at(10).toISOString() },
    ]);
  });

  it('leaves the other items of the runs table (slots, claims) out: they never have the index attributes', async () => {
    const { table, active, create } = await setUp();
    await tables
      .documents()
      .send(new PutCommand({ TableName: table, Item: { runId: 'slots#openai', holders: {}, status: 'x' } }));
    await create('r1', 0);
    expect((await active.statusBegunBefore(at(60))).map((r) => r.runId)).toEqual(['r1']);
  });
});
