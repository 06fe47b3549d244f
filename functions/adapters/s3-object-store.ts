import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ObjectRef, ObjectStore, ObjectWriter } from '../core/ports.js';

/** ObjectStore on S3. Reads pin the version when one is given, so a later upload never changes a run. */
export function s3ObjectStore(s3: S3Client): ObjectStore {
  const get = (ref: ObjectRef) =>
    s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }));

  return {
    async head(ref) {
      try {
        const head = await s3.send(
          new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
        );
        return {
          ...(head.VersionId ? { versionId: head.VersionId } : {}),
          ...(head.ETag ? { etag: head.ETag } : {}),
          ...(head.ContentLength !== undefined ? { size: head.ContentLength } : {}),
        };
      } catch (error) {
        if (error instanceof NotFound || (error as Error).name === 'NotFound') return undefined;
        throw error;
      }
    },

    async *read(ref) {
      const response = await get(ref);
      yield* response.Body as AsyncIterable<Uint8Array>;
    },

    async readText(ref) {
      try {
        const response = await get(ref);
        return await response.Body!.transformToString('utf8');
      } catch (error) {
        if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },

    async readRange(ref, start, end) {
      const response = await s3.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          VersionId: ref.versionId,
          Range: `bytes=${start}-${end}`,
        }),
      );
      return response.Body!.transformToByteArray();
    },

    async write(ref, body, contentType) {
      await s3.send(
        new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: body, ContentType: contentType }),
      );
    },

    createWriter(ref, contentType, tags = {}): ObjectWriter {
      const stream = new PassThrough();
      const upload = new Upload({
        client: s3,
        params: { Bucket: ref.bucket, Key: ref.key, Body: stream, ContentType: contentType },
        // Put once the object exists (PutObjectTagging, so the writer needs s3:PutObjectTagging).
        tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      });
      const done = upload.done();
      // Keep a rejection from surfacing as unhandled before close() awaits it.
      done.catch(() => undefined);
      return {
        async write(chunk) {
          if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), done]);
        },
        async close() {
          stream.end();
          await done;
        },
        async abort() {
          await upload.abort();
          stream.destroy();
        },
      };
    },
  };
}
