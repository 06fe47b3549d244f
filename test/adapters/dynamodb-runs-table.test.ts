import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  dynamoDbProviderSlots,
  PROVIDER_SLOTS_KEY,
} from '../../functions/adapters/dynamodb-provider-slots.js';
import type { RunStatus } from '../../functions/core/run.js';
import { VANISHED_HOLDER_GRACE_MS } from '../../functions/core/slots.js';

import { useRunsTables } from '../support/runs-tables.js';

/**
 * The runs table's adapters against dynalite: provider slots (the `~provider-slots` item) and the run
 * store's recordLateJob. Each test gets its own table, keyed by runId as the stack's is.
 */
const tables = useRunsTables('runs');
const newTable = tables.newTable;

async function addRun(table: string, runId: string, status: RunStatus) {
  const runs = await tables.addRuns(table, runId);
  const path: RunStatus[] = ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING'];
  for (const step of path.slice(0, path.indexOf(status) + 1)) await runs.advance(runId, step);
  if (!path.includes(status) && status !== 'RECEIVED') await runs.advance(runId, status);
  return runs;
}

const leases = async (table: string) =>
  (await tables.documents().send(new GetCommand({ TableName: table, Key: { runId: PROVIDER_SLOTS_KEY } })))
    .Item?.leases;

describe('provider slots on DynamoDB', () => {
  it('let at most `limit` runs hold a slot, keep a holder that asks again, and free a released one', async () => {
    const table = await newTable();
    let now = 1_000;
    const slots = dynamoDbProviderSlots(tables.documents(), table, { now: () => now });
    for (const run of ['a', 'b', 'c']) await addRun(table, run, 'UPLOADING');

    expect(await slots.acquire('a', 2)).toBe(true); // on a table without the item: it is created
    now = 2_000;
    expect(await slots.acquire('b', 2)).toBe(true);
    expect(await slots.acquire('c', 2)).toBe(false);
    now = 3_000;
    expect(await slots.acquire('a', 2)).toBe(true);
    expect(await leases(table)).toEqual({ a: 1_000, b: 2_000 });

    await slots.release('a');
    await slots.release('a'); // twice is harmless
    expect(await slots.acquire('c', 2)).toBe(true);
    expect(await leases(table)).toEqual({ b: 2_000, c: 3_000 });
  });

  it('release of a run that holds nothing leaves the table as it was', async () => {
    const table = await newTable();
    await dynamoDbProviderSlots(tables.documents(), table).release('nobody');
    expect(await leases(table)).toBeUndefined();
  });

  it('give the slot of a holder whose run has ended to the next run', async () => {
    const table = await newTable();
    const slots = dynamoDbProviderSlots(tables.documents(), table);
    await addRun(table, 'live', 'TRAINING');
    await addRun(table, 'next', 'UPLOADING');
    const ended = await addRun(table, 'ended', 'UPLOADING');
    await slots.acquire('live', 2);
    await slots.acquire('ended', 2);
    await ended.advance('ended', 'CANCELLED'); // stopped; its release was lost

    expect(await slots.acquire('next', 2)).toBe(true);
    expect(Object.keys((await leases(table)) ?? {}).sort()).toEqual(['live', 'next']);
  });

  it('give the slot of a holder whose run item is gone to the next run only after the grace period', async () => {
    const table = await newTable();
    let now = 5_000_000;
    const slots = dynamoDbProviderSlots(tables.documents(), table, { now: () => now });
    await addRun(table, 'live', 'TRAINING');
    await addRun(table, 'next', 'UPLOADING');
    await slots.acquire('live', 2);
    await slots.acquire('deleted-by-hand', 2);

    now += VANISHED_HOLDER_GRACE_MS - 1;
    expect(await slots.acquire('next', 2)).toBe(false);
    now += 1;
    expect(await slots.acquire('next', 2)).toBe(true);
    expect(Object.keys((await leases(table)) ?? {}).sort()).toEqual(['live', 'next']);
  });

  it('leave the slots of runs still going with them, however long they have held them', async () => {
    const table = await newTable();
    let now = 0;
    const slots = dynamoDbProviderSlots(tables.documents(), table, { now: () => now });
    for (const run of ['a', 'b', 'next']) await addRun(table, run, 'TRAINING');
    await slots.acquire('a', 2);
    await slots.acquire('b', 2);
    now = 30 * 24 * 3600 * 1000;
    expect(await slots.acquire('next', 2)).toBe(false);
    expect(await leases(table)).toEqual({ a: 0, b: 0 });
  });

  it('give the last slot to exactly one of many runs racing for it', async () => {
    const table = await newTable();
    const slots = dynamoDbProviderSlots(tables.documents(), table);
    const racers = Array.from({ length: 12 }, (_, i) => `racer-${i}`);
    for (const run of ['a', 'b', ...racers]) await addRun(table, run, 'UPLOADING');
    await slots.acquire('a', 3);
    await slots.acquire('b', 3);

    const won = await Promise.all(racers.map((run) => slots.acquire(run, 3)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(Object.keys((await leases(table)) ?? {})).toHaveLength(3);
  });

  it('give a slot freed from an ended holder to exactly one of many runs racing for it', async () => {
    const table = await newTable();
    const slots = dynamoDbProviderSlots(tables.documents(), table);
    const racers = Array.from({ length: 12 }, (_, i) => `racer-${i}`);
    for (const run of ['live', ...racers]) await addRun(table, run, 'UPLOADING');
    const ended = await addRun(table, 'ended', 'UPLOADING');
    await slots.acquire('live', 2);
    await slots.acquire('ended', 2);
    await ended.advance('ended', 'FAILED', { error: { name: 'X', message: 'crashed before release' } });

    const won = await Promise.all(racers.map((run) => slots.acquire(run, 2)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(Object.keys((await leases(table)) ?? {})).toEqual(expect.arrayContaining(['live']));
    expect(Object.keys((await leases(table)) ?? {})).toHaveLength(2);
  });

  it('start on a fresh item when an older stack left holders as a string set', async () => {
    const table = await newTable();
    await tables.documents().send(
      new UpdateCommand({
        TableName: table,
        Key: { runId: PROVIDER_SLOTS_KEY },
        UpdateExpression: 'ADD holders :run',
        ExpressionAttributeValues: { ':run': new Set(['old-run']) },
      }),
    );
    await addRun(table, 'new-run', 'UPLOADING');
    const slots = dynamoDbProviderSlots(tables.documents(), table);
    expect(await slots.acquire('new-run', 1)).toBe(true);
    await slots.release('new-run');
    expect(await leases(table)).toEqual({});
  });
});

describe('recordLateJob on DynamoDB', () => {
  it("sets an ended run's job and its status without touching the run's status or history", async () => {
    const table = await newTable();
    const runs = await addRun(table, 'r', 'UPLOADING');
    const ended = await runs.advance('r', 'CANCELLED', {
      error: { name: 'ExecutionStopped', message: 'stopped' },
    });

    const noted = await runs.recordLateJob('r', { providerJobId: 'ftjob-1', providerStatus: 'cancelled' });
    expect(noted).toMatchObject({
      status: 'CANCELLED',
      providerJobId: 'ftjob-1',
      providerStatus: 'cancelled',
      history: ended!.history,
      error: { name: 'ExecutionStopped' },
    });
  });

  it('changes nothing on a run still going or on one that does not exist', async () => {
    const table = await newTable();
    const runs = await addRun(table, 'r', 'TRAINING');
    expect(
      await runs.recordLateJob('r', { providerJobId: 'ftjob-1', providerStatus: 'cancelled' }),
    ).toBeUndefined();
    expect((await runs.get('r'))?.providerJobId).toBeUndefined();
    expect(
      await runs.recordLateJob('nope', { providerJobId: 'ftjob-1', providerStatus: 'cancelled' }),
    ).toBeUndefined();
    expect(await runs.get('nope')).toBeUndefined();
  });
});

describe('listFamily on DynamoDB', () => {
  it("reads a family's runs through the byFamily index, oldest first, and no other family's", async () => {
    const table = await newTable();
    const runs = await tables.addRuns(table, 'b-run', 'a-run');
    await runs.create({
      runId: 'other',
      family: 'billing',
      status: 'RECEIVED',
      history: [{ status: 'RECEIVED', at: '2026-11-29T09:00:00.000Z' }],
      source: { bucket: 'b', key: 'incoming/billing/x.jsonl' },
      createdAt: '2026-11-29T09:00:00.000Z',
      updatedAt: '2026-11-29T09:00:00.000Z',
    });
    await runs.create({
      runId: 'early',
      family: 'support',
      status: 'RECEIVED',
      history: [{ status: 'RECEIVED', at: '2026-11-29T08:00:00.000Z' }],
      source: { bucket: 'b', key: 'incoming/support/early.jsonl' },
      createdAt: '2026-11-29T08:00:00.000Z',
      updatedAt: '2026-11-29T08:00:00.000Z',
    });
    const family = await runs.listFamily('support');
    expect(family.map((r) => r.runId)).toEqual(['early', expect.any(String), expect.any(String)]);
    expect(new Set(family.slice(1).map((r) => r.runId))).toEqual(new Set(['a-run', 'b-run']));
  });
});

describe('amend on DynamoDB', () => {
  it('sets fields on a run in the named status without moving it or adding to its history', async () => {
    const table = await newTable();
    const runs = await addRun(table, 'run', 'PREPARING');
    const before = await runs.get('run');
    const amended = await runs.amend('run', 'PREPARING', { parentModel: 'ft:x', estimatedCostUsd: 2 });
    expect(amended).toMatchObject({ status: 'PREPARING', parentModel: 'ft:x', estimatedCostUsd: 2 });
    expect(amended?.history).toEqual(before?.history);
  });

  it('changes nothing on a run in another status', async () => {
    const table = await newTable();
    const runs = await addRun(table, 'run', 'UPLOADING');
    expect(await runs.amend('run', 'PREPARING', { parentModel: 'ft:x' })).toBeUndefined();
    expect((await runs.get('run'))?.parentModel).toBeUndefined();
    expect(await runs.amend('ghost', 'PREPARING', { parentModel: 'ft:x' })).toBeUndefined();
  });
});
