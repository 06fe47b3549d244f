import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalS3, type LocalS3 } from '../../local/cloud/s3.js';

/**
 * S3 makes a PUT visible whole or not at all. Local S3 must too: reconcile may read a report that Record
 * is rewriting, and a half-written file there is a failure AWS would never show.
 */
let s3: LocalS3;
let client: S3Client;

beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['bucket'] });
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});
afterAll(async () => {
  client?.destroy();
  await s3?.close();
});

it('a read during an overwrite sees the old object or the new one, never part of one', async () => {
  const versions = ['a', 'b', 'c', 'd'].map((letter) => letter.repeat(2 * 2 ** 20));
  const put = (body: string) =>
    client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'report.json', Body: body }));
  await put(versions[0]!);
  const reads: string[] = [];
  let writing = true;
  const reader = (async () => {
    while (writing) {
      const object = await client.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'report.json' }));
      reads.push(await object.Body!.transformToString());
    }
  })();
  for (const body of versions.slice(1)) await put(body);
  writing = false;
  await reader;
  expect(reads.length).toBeGreaterThan(0);
  for (const read of reads) expect(versions).toContain(read);
});

it('a read during an overwrite that changes the size gets the whole new object, not the old length of it', async () => {
  // Reports grow when Record or reconcile amend them: a read that took the old length and the new bytes
  // would end mid-way (a pipeline test once read validation.json cut after a comma).
  const versions = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({ i, pad: 'x'.repeat(500 + 200 * i) }),
  );
  const put = (body: string) =>
    client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'growing.json', Body: body }));
  await put(versions[0]!);
  const reads: string[] = [];
  let writing = true;
  const readers = Array.from({ length: 3 }, async () => {
    while (writing) {
      const object = await client.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'growing.json' }));
      reads.push(await object.Body!.transformToString());
    }
  });
  for (const body of versions.slice(1)) await put(body);
  writing = false;
  await Promise.all(readers);
  expect(reads.length).toBeGreaterThan(10);
  for (const read of reads) expect(versions).toContain(read);
});
