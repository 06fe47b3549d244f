import { DeleteObjectCommand, DeleteObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { eventMatches, startLocalS3, type LocalS3 } from '../../local/cloud/s3.js';
import { planFromTemplate } from '../../local/template.js';
import { synthesizeTemplate } from '../../local/cloud/index.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';

/**
 * Local S3's notifications as S3 sends them: removals are notified (DeleteObject and each object of a
 * DeleteObjects, as delete markers in a versioned bucket), and each subscription gets only the event
 * types its notification configuration names, as the template's `Events` say.
 */
let s3: LocalS3;
let client: S3Client;
const received = new Map<string, S3Event['Records']>();
/** Every delivery, so a test can wait for the ones it caused. */
let deliveries: Array<{ name: string; record: S3Event['Records'][number] }> = [];

beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['plain', 'versioned'], versionedBuckets: ['versioned'] });
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const subscribe = (name: string, bucket: string, events: string[], suffix?: string) => {
    received.set(name, []);
    s3.subscribe({ bucket, events, ...(suffix ? { suffix } : {}) }, async (event) => {
      received.get(name)!.push(...event.Records);
      for (const record of event.Records) deliveries.push({ name, record });
    });
  };
  subscribe('created', 'plain', ['s3:ObjectCreated:*']);
  subscribe('removed', 'plain', ['s3:ObjectRemoved:*']);
  subscribe('deleteOnly', 'plain', ['s3:ObjectRemoved:Delete']);
  subscribe('versionedRemoved', 'versioned', ['s3:ObjectRemoved:*'], '.json');
  subscribe('versionedPut', 'versioned', ['s3:ObjectCreated:Put']);
});
afterAll(async () => {
  client?.destroy();
  await s3?.close();
});
beforeEach(() => {
  for (const list of received.values()) list.length = 0;
  deliveries = [];
});

/** Waits until `count` deliveries have arrived (each is handed over before the request's response). */
async function deliveredAtLeast(count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (deliveries.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${deliveries.length} of ${count} deliveries arrived`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const put = (Bucket: string, Key: string) => client.send(new PutObjectCommand({ Bucket, Key, Body: 'x' }));
const names = (name: string) => received.get(name)!.map((r) => `${r.eventName} ${r.s3.object.key}`);

it('delivers a created object only to the subscriptions for ObjectCreated', async () => {
  await put('plain', 'a/file.jsonl');
  await deliveredAtLeast(1);
  expect(names('created')).toEqual(['ObjectCreated:Put a/file.jsonl']);
  expect(names('removed')).toEqual([]);
  expect(names('deleteOnly')).toEqual([]);
});

it('delivers DeleteObject as ObjectRemoved:Delete, only to the subscriptions for removals', async () => {
  await put('plain', 'b/settings.json');
  await deliveredAtLeast(1);
  await client.send(new DeleteObjectCommand({ Bucket: 'plain', Key: 'b/settings.json' }));
  await deliveredAtLeast(3);
  expect(names('created')).toEqual(['ObjectCreated:Put b/settings.json']);
  expect(names('removed')).toEqual(['ObjectRemoved:Delete b/settings.json']);
  expect(names('deleteOnly')).toEqual(['ObjectRemoved:Delete b/settings.json']);
  // An unversioned bucket's removal has no version id, size or ETag.
  const [record] = received.get('removed')!;
  expect(record!.s3.object).toEqual({ key: 'b/settings.json', sequencer: expect.any(String) });
  expect(record!.s3.bucket.arn).toBe('arn:aws:s3:::plain');
});

it('delivers each object DeleteObjects removes', async () => {
  await Promise.all([put('plain', 'c/one.json'), put('plain', 'c/two words.json')]);
  await deliveredAtLeast(2);
  await client.send(
    new DeleteObjectsCommand({
      Bucket: 'plain',
      Delete: { Objects: [{ Key: 'c/one.json' }, { Key: 'c/two words.json' }] },
    }),
  );
  await deliveredAtLeast(2 + 4);
  expect(names('removed').sort()).toEqual([
    'ObjectRemoved:Delete c/one.json',
    'ObjectRemoved:Delete c/two+words.json',
  ]);
});

it('notifies a delete in a versioned bucket as a delete marker, with its own version id', async () => {
  await put('versioned', 'd/tunedrop.json');
  await deliveredAtLeast(1);
  await client.send(new DeleteObjectCommand({ Bucket: 'versioned', Key: 'd/tunedrop.json' }));
  await deliveredAtLeast(2);
  expect(names('versionedPut')).toEqual(['ObjectCreated:Put d/tunedrop.json']);
  expect(names('versionedRemoved')).toEqual(['ObjectRemoved:DeleteMarkerCreated d/tunedrop.json']);
  const created = received.get('versionedPut')![0]!.s3.object.versionId;
  const marker = received.get('versionedRemoved')![0]!.s3.object.versionId;
  expect(marker).toEqual(expect.any(String));
  expect(marker).not.toBe(created);
});

it('matches event types as S3 does: a trailing * takes every event of its kind', () => {
  expect(eventMatches('s3:ObjectCreated:*', 'ObjectCreated:Put')).toBe(true);
  expect(eventMatches('s3:ObjectCreated:*', 'ObjectCreated:CompleteMultipartUpload')).toBe(true);
  expect(eventMatches('s3:ObjectRemoved:*', 'ObjectRemoved:DeleteMarkerCreated')).toBe(true);
  expect(eventMatches('s3:ObjectRemoved:Delete', 'ObjectRemoved:DeleteMarkerCreated')).toBe(false);
  expect(eventMatches('s3:ObjectCreated:*', 'ObjectRemoved:Delete')).toBe(false);
  expect(eventMatches('s3:ObjectCreated:Put', 'ObjectCreated:Post')).toBe(false);
});

it("reads the stack's notifications with their event types, and its data bucket as versioned", () => {
  const plan = planFromTemplate(synthesizeTemplate(), { entryMetadataKey: ENTRY_METADATA_KEY });
  const entryOf = (arn: string) => plan.functions.find((f) => f.arn === arn)?.entry;
  expect(
    plan.notifications.map((n) => ({ entry: entryOf(n.functionArn), events: n.events, suffix: n.suffix })),
  ).toEqual(
    expect.arrayContaining([
      { entry: 'functions/validate/handler.ts', events: ['s3:ObjectCreated:*'], suffix: '.jsonl' },
      {
        entry: 'functions/family-settings/handler.ts',
        events: ['s3:ObjectCreated:*'],
        suffix: 'tunedrop.json',
      },
      {
        entry: 'functions/family-settings/handler.ts',
        events: ['s3:ObjectRemoved:*'],
        suffix: 'tunedrop.json',
      },
    ]),
  );
  expect(plan.buckets[0]).toMatchObject({ versioned: true });
});
