import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import S3rver from 's3rver';
import type { S3Event, S3EventRecord } from 'aws-lambda';

/**
 * Local S3: s3rver on 127.0.0.1, with its event notifications reshaped into what real S3 sends.
 * s3rver differs from S3 in ways that matter to handlers: keys in its events are not URL-encoded,
 * the bucket ARN is malformed, it keeps no versions, and it says nothing when DeleteObjects removes
 * objects. Here keys are encoded as S3 does (spaces as '+'), the ARN is fixed, and every write gets a
 * version id (`<etag>.<sequence>`): the same bytes uploaded twice are two versions, as on a versioned
 * bucket. s3rver serves the latest object whatever VersionId is asked for, so a local read of an older
 * version sees the newest bytes.
 *
 * Removals are notified as S3 notifies them: each object DeleteObject or DeleteObjects removes is an
 * `ObjectRemoved:Delete` event, or `ObjectRemoved:DeleteMarkerCreated` in a versioned bucket (a delete
 * without a version id only puts a delete marker on top there). Each subscription gets only the event
 * types its notification configuration names (`Events`, e.g. `s3:ObjectCreated:*`).
 */
export interface LocalS3 {
  endpoint: string;
  /**
   * Called for each event of one of the filter's types (`events`, as a notification configuration's
   * Events: `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`…; every type when absent) whose key passes
   * the filter; a rejection is retried (see deliver).
   */
  subscribe(
    filter: { bucket: string; prefix?: string; suffix?: string; events?: string[] },
    target: (event: S3Event) => Promise<unknown>,
    /** Called once retries are exhausted, like a Lambda on-failure destination. */
    onFailure?: (event: S3Event, error: unknown) => void,
  ): void;
  close(): Promise<void>;
}

export interface LocalS3Options {
  buckets: string[];
  /**
   * The buckets with versioning enabled: a delete there creates a delete marker
   * (`ObjectRemoved:DeleteMarkerCreated`). @default none
   */
  versionedBuckets?: string[];
  /** Where objects live; a temporary directory (removed on close) when absent. */
  directory?: string;
  /** Attempts of a failing subscriber, like Lambda's asynchronous invoke (1 + 2 retries). */
  attempts?: number;
  retryDelayMs?: number;
  onDeliveryFailure?: (event: S3Event, error: unknown) => void;
}

interface S3rverRecord {
  eventName: string;
  eventTime: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; sequencer: string } };
}

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'tunedrop-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  writeObjectsAtomically(server);
  const address = (await server.run()) as { port: number };
  const subscriptions: Array<{
    filter: { bucket: string; prefix?: string; suffix?: string; events?: string[] };
    target: (event: S3Event) => Promise<unknown>;
    onFailure: ((event: S3Event, error: unknown) => void) | undefined;
  }> = [];
  const pending = new Set<Promise<void>>();
  let sequence = 0;

  const deliver = async (
    event: S3Event,
    target: (event: S3Event) => Promise<unknown>,
    onFailure: ((event: S3Event, error: unknown) => void) | undefined,
  ) => {
    const attempts = options.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        await target(event);
        return;
      } catch (error) {
        if (attempt >= attempts) {
          onFailure?.(event, error);
          options.onDeliveryFailure?.(event, error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, (options.retryDelayMs ?? 50) * attempt));
      }
    }
  };

  const versioned = new Set(options.versionedBuckets ?? []);
  const notify = (record: S3rverRecord) => {
    const { bucket, object } = record.s3;
    const removed = record.eventName.startsWith('ObjectRemoved:');
    const eTag = object.eTag ?? '';
    sequence += 1;
    // Multipart uploads complete as a POST in s3rver; S3 calls that CompleteMultipartUpload. A delete
    // in a versioned bucket puts a delete marker, which has a version id of its own (and no size or ETag).
    const eventName = removed
      ? versioned.has(bucket.name)
        ? 'ObjectRemoved:DeleteMarkerCreated'
        : 'ObjectRemoved:Delete'
      : record.eventName === 'ObjectCreated:Post'
        ? 'ObjectCreated:CompleteMultipartUpload'
        : record.eventName;
    const normalized: S3EventRecord = {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: record.eventTime,
      eventName: eventName as S3EventRecord['eventName'],
      userIdentity: { principalId: 'local' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': `local-${sequence}`, 'x-amz-id-2': 'local' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'tunedrop-local',
        bucket: {
          name: bucket.name,
          ownerIdentity: { principalId: 'local' },
          arn: `arn:aws:s3:::${bucket.name}`,
        },
        object: {
          key: encodeURIComponent(object.key).replace(/%2F/g, '/').replace(/%20/g, '+'),
          ...(removed ? {} : { size: object.size ?? 0, eTag }),
          ...(removed && !versioned.has(bucket.name)
            ? {}
            : { versionId: removed ? `delete-marker.${sequence}` : `${eTag || 'v'}.${sequence}` }),
          sequencer: object.sequencer,
        },
      },
    } as S3EventRecord;
    for (const { filter, target, onFailure } of subscriptions) {
      if (filter.bucket !== bucket.name) continue;
      if (filter.prefix && !object.key.startsWith(filter.prefix)) continue;
      if (filter.suffix && !object.key.endsWith(filter.suffix)) continue;
      if (filter.events && !filter.events.some((pattern) => eventMatches(pattern, eventName))) continue;
      const delivery = deliver({ Records: [normalized] }, target, onFailure).finally(() =>
        pending.delete(delivery),
      );
      pending.add(delivery);
    }
  };

  server.on('event', (raw: { Records: S3rverRecord[] }) => {
    for (const record of raw.Records) {
      // s3rver's own delete event comes from DeleteObject only; every removal is notified from the store
      // (notifyRemovals), DeleteObjects' too.
      if (record.eventName.startsWith('ObjectCreated:')) notify(record);
    }
  });
  notifyRemovals(server, (bucket, key) =>
    notify({
      eventName: 'ObjectRemoved:Delete',
      eventTime: new Date().toISOString(),
      s3: {
        bucket: { name: bucket },
        object: { key, sequencer: Date.now().toString(16).toUpperCase().padStart(16, '0') },
      },
    }),
  );

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    subscribe(filter, target, onFailure) {
      subscriptions.push({ filter, target, onFailure });
    },
    async close() {
      await Promise.allSettled([...pending]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!options.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Whether a notification configuration's event type (`s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`)
 * takes an event of this name (`ObjectRemoved:DeleteMarkerCreated`). S3 takes a `*` only as the last
 * part ("Supported event types for SQS, SNS, and Lambda", Amazon S3 User Guide).
 */
export function eventMatches(pattern: string, eventName: string): boolean {
  const name = `s3:${eventName}`;
  return pattern.endsWith(':*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/**
 * Calls `removed` for every object s3rver's store deletes, after it is gone: DeleteObject's and
 * DeleteObjects' alike (S3 sends an event for each object a multi-object delete removes).
 */
function notifyRemovals(server: S3rver, removed: (bucket: string, key: string) => void): void {
  const store = (server as unknown as { store: S3rverStore }).store;
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket, key) => {
    try {
      await deleteObject(bucket, key);
    } catch (error) {
      // s3rver removes the key's emptied folders after the object: two deletes in one folder at once
      // (DeleteObjects deletes its keys in parallel) race there, and the loser's ENOENT failed the whole
      // request although its object was gone. S3 has no folders to remove.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || (await store.existsObject(bucket, key)))
        throw error;
    }
    removed(bucket, key);
  };
}

/** The part of s3rver's filesystem store that writing and deleting an object use. */
interface S3rverStore {
  deleteObject(bucket: string, key: string): Promise<unknown>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  getResourcePath(bucket: string, key: string, resource: 'object'): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  /** Reads the metadata (the length), then opens the file: its stream, or null when there is none. */
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<unknown>;
}
interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: unknown;
}

let temporaries = 0;

/**
 * S3 makes a PUT visible whole or not at all; s3rver streams into the object's file in place, so a read
 * during a rewrite (reconcile amending a report Record is amending) sees half a file. Here the bytes go
 * to a file beside it first and are renamed over it: a reader sees the old object or the new one.
 *
 * s3rver keeps an object's length in its metadata, written after the bytes, and a read takes the
 * length first and opens the file after: between the two, a rewrite that changed the size gave the new
 * bytes cut at the old length (a pipeline test read validation.json ending after a comma). So the
 * rename with its metadata, and a read's metadata with its open, take turns per key.
 */
function writeObjectsAtomically(server: S3rver): void {
  const store = (server as unknown as { store: S3rverStore }).store;
  const turns = new Map<string, Promise<unknown>>();
  const inTurn = async <T>(bucket: string, key: string, step: () => Promise<T>): Promise<T> => {
    const id = `${bucket}/${key}`;
    const run = (turns.get(id) ?? Promise.resolve()).then(step, step);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    turns.set(id, settled);
    try {
      return await run;
    } finally {
      if (turns.get(id) === settled) turns.delete(id);
    }
  };
  const getObject = store.getObject.bind(store);
  store.getObject = (bucket, key, options) => inTurn(bucket, key, () => getObject(bucket, key, options));
  store.putObject = async (object) => {
    const target = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.${process.pid}.${(temporaries += 1)}.writing`;
    const md5 = createHash('md5');
    let size = 0;
    const chunks: Iterable<Buffer> | AsyncIterable<Buffer> = Buffer.isBuffer(object.content)
      ? [object.content]
      : (object.content as AsyncIterable<Buffer>);
    const file = createWriteStream(temporary);
    for await (const chunk of chunks) {
      md5.update(chunk);
      size += chunk.length;
      if (!file.write(chunk)) await once(file, 'drain');
    }
    file.end();
    await finished(file);
    const digest = md5.digest('hex');
    await inTurn(object.bucket, object.key, async () => {
      await rename(temporary, target);
      await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    });
    return { size, md5: digest };
  };
}
