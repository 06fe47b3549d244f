import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { s3FamilyArrivals } from '../../functions/adapters/s3-family-arrivals.js';

const s3 = mockClient(S3Client);
beforeEach(() => s3.reset());

const object = (Key: string, second: number) => ({
  Key,
  ETag: `"${Key}"`,
  LastModified: new Date(second * 1000),
});

describe('s3FamilyArrivals', () => {
  it("lists every page of the family's folder and keeps the drops that start a run, stored since the time asked", async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'incoming/alpha/' })
      .resolvesOnce({
        IsTruncated: true,
        NextContinuationToken: 'page-2',
        Contents: [object('incoming/alpha/a.jsonl', 100), object('incoming/alpha/old.jsonl', 10)],
      })
      .resolvesOnce({
        Contents: [
          object('incoming/alpha/b.validation.jsonl', 100),
          object('incoming/alpha/tunedrop.json', 100),
          object('incoming/alpha/sub/c.jsonl', 101),
          object('incoming/alpha/d.JSONL', 101),
        ],
      });
    const arrivals = await s3FamilyArrivals(new S3Client({}), 'bucket', 'incoming/').since('alpha', 50_000);
    expect(arrivals).toEqual([
      { key: 'incoming/alpha/a.jsonl', etag: '"incoming/alpha/a.jsonl"', at: 100_000 },
      { key: 'incoming/alpha/sub/c.jsonl', etag: '"incoming/alpha/sub/c.jsonl"', at: 101_000 },
    ]);
    const calls = s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input);
    expect(calls).toEqual([
      { Bucket: 'bucket', Prefix: 'incoming/alpha/' },
      { Bucket: 'bucket', Prefix: 'incoming/alpha/', ContinuationToken: 'page-2' },
    ]);
  });

  it('lists for the default family the files dropped straight into the incoming prefix and its own folder', async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'drops/', Delimiter: '/' }).resolves({
      Contents: [object('drops/top.jsonl', 100)],
      CommonPrefixes: [{ Prefix: 'drops/alpha/' }],
    });
    s3.on(ListObjectsV2Command, { Prefix: 'drops/default/' }).resolves({
      Contents: [object('drops/default/named.jsonl', 100)],
    });
    const arrivals = await s3FamilyArrivals(new S3Client({}), 'bucket', 'drops/').since('default', 0);
    expect(arrivals.map((arrival) => arrival.key).sort()).toEqual([
      'drops/default/named.jsonl',
      'drops/top.jsonl',
    ]);
  });
});
