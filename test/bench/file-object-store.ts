import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ObjectRef, ObjectStore, ObjectWriter } from '../../functions/core/ports.js';

/**
 * An ObjectStore whose objects are files under `root` (the bucket is ignored), standing in for S3 in the
 * memory benches: reads stream from disk, ranges are read with one positioned read, writers append to a
 * temporary file renamed into place on close. Nothing an object holds stays in the process's memory, so a
 * measured step's peak RSS is its own.
 */
export function fileObjectStore(root: string): ObjectStore {
  const pathOf = ({ key }: ObjectRef) => join(root, key);
  return {
    async head(ref) {
      try {
        return { size: (await stat(pathOf(ref))).size };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    read: (ref) => createReadStream(pathOf(ref)),
    async readText(ref) {
      try {
        return await readFile(pathOf(ref), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async readRange(ref, start, end) {
      const file = await open(pathOf(ref), 'r');
      try {
        const bytes = new Uint8Array(end - start + 1);
        let read = 0;
        while (read < bytes.length) {
          const { bytesRead } = await file.read(bytes, read, bytes.length - read, start + read);
          if (bytesRead === 0) break;
          read += bytesRead;
        }
        return read === bytes.length ? bytes : bytes.subarray(0, read);
      } finally {
        await file.close();
      }
    },
    async write(ref, body) {
      await mkdir(dirname(pathOf(ref)), { recursive: true });
      await writeFile(pathOf(ref), body);
    },
    createWriter: (ref) => fileWriter(pathOf(ref)),
  };
}

/** Appends to `<path>.part`, honouring the stream's backpressure; the object appears on close. */
function fileWriter(path: string): ObjectWriter {
  const partial = `${path}.part`;
  let stream: WriteStream | undefined;
  const opened = async () => {
    if (!stream) {
      await mkdir(dirname(path), { recursive: true });
      stream ??= createWriteStream(partial);
    }
    return stream;
  };
  const ended = (out: WriteStream) =>
    new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(() => resolve());
    });
  return {
    async write(chunk) {
      const out = await opened();
      await new Promise<void>((resolve, reject) => {
        out.write(chunk, (error) => (error ? reject(error) : resolve()));
      });
    },
    async close() {
      await ended(await opened());
      await rename(partial, path);
    },
    async abort() {
      if (stream) await ended(stream).catch(() => undefined);
      await rm(partial, { force: true });
    },
  };
}
