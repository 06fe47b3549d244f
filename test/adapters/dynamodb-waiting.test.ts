import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { dynamoDbParkedRuns } from '../../functions/adapters/dynamodb-parked-runs.js';
import {
  dynamoDbProviderSlots,
  PROVIDER_SLOTS_KEY,
} from '../../functions/adapters/dynamodb-provider-slots.js';
import { dynamoDbWebhookLog, webhookClaimKey } from '../../functions/adapters/dynamodb-webhook-log.js';
import { handOverFreeSlots } from '../../functions/core/slots.js';
import { useRunsTables } from '../support/runs-tables.js';

/**
 * What parked runs keep on the runs table, against dynalite: the slot queue, the tokens and wake-ups on
 * run items, the webhook claims, and the index from provider job to run.
 */
const tables = useRunsTables('waiting');
const newTable = tables.newTable;

const addRuns = tables.addRuns;

describe('the slot queue on DynamoDB', () => {
  it('keeps waiting runs oldest first, each once, with its first place when it asks again', async () => {
    const table = await newTable();
    let now = 1_000;
    const slots = dynamoDbProviderSlots(tables.documents(), table, { now: () => now });
    await slots.enqueue('b'); // on a table without the item: it is created
    now = 2_000;
    await slots.enqueue('a');
    now = 3_000;
    await slots.enqueue('b');
    expect(await slots.waiting()).toEqual([
      { runId: 'b', queuedAt: 1_000 },
      { runId: 'a', queuedAt: 2_000 },
    ]);
  });

  it('grants a waiting run a free slot in one write, moving it from the queue to the holders', async () => {
    const table = await newTable();
    const slots = dynamoDbProviderSlots(tables.documents(), table);
    expect(await slots.acquire('holder', 2)).toBe(true);
    await slots.enqueue('w1');
    await slots.enqueue('w2');
    expect(await slots.grant('w1', 2)).toBe(true);
    expect(await slots.grant('w2', 2)).toBe(false); // all taken
    expect(await slots.grant('never-queued', 3)).toBe(false);
    const item = (
      await tables.documents().send(new GetCommand({ TableName: table, Key: { runId: PROVIDER_SLOTS_KEY } }))
    ).Item!;
    expect(Object.keys(item.leases).sort()).toEqual(['holder', 'w1']);
    expect(Object.keys(item.waiting)).toEqual(['w2']);
    expect(await slots.holds('w1')).toBe(true);
    expect((await slots.holders()).sort()).toEqual(['holder', 'w1']);
  });

  it('never grants more slots than the limit, however many hand-overs race', async () => {
    const table = await newTable();
    const runs = await addRuns(table, 'w0', 'w1', 'w2', 'w3', 'w4', 'w5');
    const slots = dynamoDbProviderSlots(tables.documents(), table);
    for (let i = 0; i < 6; i++) await slots.enqueue(`w${i}`);
    const resumed: string[] = [];
    const handOver = () =>
      handOverFreeSlots({
        slots,
        limit: 3,
        statusOf: async (runId) => (await runs.get(runId))?.status,
        resume: async (runId) => {
          resumed.push(runId);
          return true;
        },
        now: Date.now,
      });
    await Promise.all([handOver(), handOver(), handOver(), handOver()]);
    expect(resumed.sort()).toEqual(['w0', 'w1', 'w2']);
    expect((await slots.waiting()).map((w) => w.runId)).toEqual(['w3', 'w4', 'w5']);
  });

  it('takes a run out of the queue on dequeue, and dequeuing twice is harmless', async () => {
    const table = await newTable();
    const slots = dynamoDbProviderSlots(tables.documents(), table);
    await slots.enqueue('gone');
    await slots.dequeue('gone');
    await slots.dequeue('gone');
    expect(await slots.waiting()).toEqual([]);
  });
});

describe('parked runs on DynamoDB', () => {
  it('keeps the slot token with the run, and writes nothing for a run that does not exist', async () => {
    const table = await newTable();
    await addRuns(table, 'run');
    const parked = dynamoDbParkedRuns(tables.documents(), table);
    await parked.parkForSlot('run', 'token-1');
    await parked.parkForSlot('run', 'token-2');
    await parked.parkForSlot('ghost', 'token-3');
    expect(await parked.slotToken('run')).toBe('token-2');
    expect(await parked.slotToken('ghost')).toBeUndefined();
    await parked.clearSlotToken('run', 'token-1'); // an older token: the newer one stays
    expect(await parked.slotToken('run')).toBe('token-2');
    await parked.clearSlotToken('run', 'token-2');
    expect(await parked.slotToken('run')).toBeUndefined();
    expect(
      (await tables.documents().send(new GetCommand({ TableName: table, Key: { runId: 'ghost' } }))).Item,
    ).toBeUndefined();
  });

  it('hands a parked token to the wake-up, once', async () => {
    const table = await newTable();
    await addRuns(table, 'run');
    const parked = dynamoDbParkedRuns(tables.documents(), table);
    expect(await parked.parkForJob('run', 'token-1')).toBeUndefined();
    expect(await parked.wakeForJob('run', 'fine_tuning.job.succeeded')).toBe('token-1');
    // A duplicate event finds no token: it leaves a wake-up for the next park, which it uses up.
    expect(await parked.wakeForJob('run', 'fine_tuning.job.succeeded')).toBeUndefined();
    expect(await parked.parkForJob('run', 'token-2')).toBe('fine_tuning.job.succeeded');
    expect(await parked.parkForJob('run', 'token-3')).toBeUndefined();
  });

  it('never loses or doubles a wake-up, whatever the order of park and wake-up, for any interleaving', async () => {
    // Each case: one park and one wake-up raced on a fresh run; exactly one of them resumes the task.
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.nat(3), async (parkFirst, delayMs) => {
        const table = await newTable();
        await addRuns(table, 'run');
        const parked = dynamoDbParkedRuns(tables.documents(), table);
        const later = <T>(f: () => Promise<T>) =>
          new Promise<T>((resolve, reject) => setTimeout(() => f().then(resolve, reject), delayMs));
        const park = () => parked.parkForJob('run', 'token');
        const wake = () => parked.wakeForJob('run', 'fine_tuning.job.failed');
        const [parkAnswer, wakeAnswer] = parkFirst
          ? await Promise.all([park(), later(wake)])
          : await Promise.all([later(park), wake()]);
        const resumedByPark = parkAnswer !== undefined;
        const resumedByWake = wakeAnswer === 'token';
        return resumedByPark !== resumedByWake;
      }),
      { numRuns: 12 },
    );
  });
});

describe('the webhook log on DynamoDB', () => {
  it('claims a delivery id once, and gives it back when acting on it failed', async () => {
    const table = await newTable();
    const log = dynamoDbWebhookLog(tables.documents(), table);
    expect(await log.claim('msg_1', 2_000_000_000)).toBe(true);
    expect(await log.claim('msg_1', 2_000_000_000)).toBe(false);
    await log.unclaim('msg_1');
    expect(await log.claim('msg_1', 2_000_000_000)).toBe(true);
    const claim = (
      await tables
        .documents()
        .send(new GetCommand({ TableName: table, Key: { runId: webhookClaimKey('msg_1') } }))
    ).Item;
    expect(claim).toMatchObject({ expiresAt: 2_000_000_000 });
  });

  it('remembers the latest verified delivery, never going backwards', async () => {
    const table = await newTable();
    const log = dynamoDbWebhookLog(tables.documents(), table);
    expect(await log.lastVerifiedAt()).toBeUndefined();
    await log.noteVerified(200);
    await log.noteVerified(100);
    expect(await log.lastVerifiedAt()).toBe(200);
  });
});

describe('the run store finds a run by its provider job', () => {
  it('through the keys-only index, and nothing for a job no run has', async () => {
    const table = await newTable();
    const runs = await addRuns(table, 'run-a', 'run-b');
    await runs.advance('run-b', 'PREPARING');
    await runs.advance('run-b', 'UPLOADING');
    await runs.advance('run-b', 'TRAINING', { providerJobId: 'ftjob-b', providerStatus: 'queued' });
    expect(await runs.findByProviderJob('ftjob-b')).toBe('run-b');
    expect(await runs.findByProviderJob('ftjob-other')).toBeUndefined();
  });
});
