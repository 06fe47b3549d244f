import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { FamilyArrivals } from '../core/ports.js';
import { familyOf, startsRun } from '../core/run.js';
import type { Arrival } from '../core/slots.js';

/**
 * FamilyArrivals from a listing of the bucket's incoming folder: the family's folder, and for the default
 * family also the files dropped straight into the incoming prefix (familyOf). A listing is strongly
 * consistent: an object is listed as soon as its upload succeeds (Amazon S3 User Guide, "Amazon S3 data
 * consistency model": strong read-after-write consistency for list operations since December 2020), before
 * its notification reaches Validate. The listing is in key
 * order, not by time, so every page of the folder is read; a family's folder holds its drops, which keep
 * it to a few pages (1,000 keys a page).
 */
export function s3FamilyArrivals(s3: S3Client, bucket: string, incomingPrefix: string): FamilyArrivals {
  const list = async (prefix: string, delimiter?: string): Promise<Arrival[]> => {
    const arrivals: Arrival[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(delimiter ? { Delimiter: delimiter } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? [])
        if (object.Key && object.LastModified)
          arrivals.push({ key: object.Key, etag: object.ETag, at: object.LastModified.getTime() });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return arrivals;
  };

  return {
    async since(family, since) {
      const listings =
        family === 'default'
          ? [list(incomingPrefix, '/'), list(`${incomingPrefix}default/`)]
          : [list(`${incomingPrefix}${family}/`)];
      return (await Promise.all(listings))
        .flat()
        .filter(
          (arrival) =>
            arrival.at >= since &&
            startsRun(arrival.key, incomingPrefix) &&
            familyOf(arrival.key, incomingPrefix) === family,
        );
    },
  };
}
