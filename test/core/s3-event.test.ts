import { createdObjects, S3EventSchema } from '../../functions/core/s3-event.js';

const record = (eventName: string, key: string, extra: Record<string, unknown> = {}) => ({
  eventName,
  eventTime: '2026-11-30T08:15:02.345Z',
  s3: { bucket: { name: 'drops' }, object: { key, size: 12, eTag: 'abc', versionId: 'v1' } },
  ...extra,
});

describe('createdObjects', () => {
  it('reads each created object with its decoded key, version, ETag, size and the time S3 took it', () => {
    const event = S3EventSchema.parse({
      Records: [
        record('ObjectCreated:Put', 'incoming/support/my+tickets%C3%A9.jsonl'),
        record('ObjectRemoved:Delete', 'incoming/support/gone.jsonl'),
      ],
    });
    expect(createdObjects(event)).toEqual([
      {
        bucket: 'drops',
        key: 'incoming/support/my ticketsé.jsonl',
        versionId: 'v1',
        etag: 'abc',
        size: 12,
        receivedAt: '2026-11-30T08:15:02.345Z',
      },
    ]);
  });

  it('leaves the time out when the event has none, and refuses one that is not a time', () => {
    const [object] = createdObjects(
      S3EventSchema.parse({ Records: [record('ObjectCreated:Put', 'a.jsonl', { eventTime: undefined })] }),
    );
    expect(object).not.toHaveProperty('receivedAt');
    expect(
      S3EventSchema.safeParse({ Records: [record('ObjectCreated:Put', 'a.jsonl', { eventTime: 'soon' })] })
        .success,
    ).toBe(false);
  });

  it('reads a test event (no records) as no object', () => {
    expect(createdObjects(S3EventSchema.parse({ Service: 'Amazon S3', Event: 's3:TestEvent' }))).toEqual([]);
  });
});
