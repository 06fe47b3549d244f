import { z } from 'zod';

/**
 * The part of an S3 event notification tunedrop reads. Keys arrive URL-encoded with '+' for spaces.
 * A test event (s3:TestEvent, sent when a notification is configured) has no Records and is ignored.
 */
const S3EventRecordSchema = z.looseObject({
  eventName: z.string(),
  /** When S3 took the object (ISO 8601). */
  eventTime: z.iso.datetime({ offset: true }).optional(),
  s3: z.looseObject({
    bucket: z.looseObject({ name: z.string() }),
    object: z.looseObject({
      key: z.string(),
      size: z.number().optional(),
      eTag: z.string().optional(),
      versionId: z.string().optional(),
    }),
  }),
});

export const S3EventSchema = z.looseObject({ Records: z.array(S3EventRecordSchema).default([]) });

export interface CreatedObject {
  bucket: string;
  key: string;
  versionId?: string;
  etag?: string;
  size?: number;
  /** When S3 took the object (the event's eventTime, ISO 8601): when its run was received. */
  receivedAt?: string;
}

export function createdObjects(event: z.infer<typeof S3EventSchema>): CreatedObject[] {
  return event.Records.filter((record) => record.eventName.startsWith('ObjectCreated:')).map((record) => {
    const { object } = record.s3;
    return {
      bucket: record.s3.bucket.name,
      key: decodeURIComponent(object.key.replace(/\+/g, ' ')),
      ...(object.versionId ? { versionId: object.versionId } : {}),
      ...(object.eTag ? { etag: object.eTag } : {}),
      ...(object.size !== undefined ? { size: object.size } : {}),
      ...(record.eventTime ? { receivedAt: new Date(record.eventTime).toISOString() } : {}),
    };
  });
}
