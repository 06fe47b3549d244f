import { stat } from 'node:fs/promises';
import { EMBED_PREFIX, embeddingInputOf } from '../functions/core/embedding-settings.js';
import { FAMILY_SETTINGS_FILE, isValidationCompanion } from '../functions/core/run.js';

/**
 * What `npm run local` does with a file written under ./drop/: the folder stands for the bucket's
 * `incoming/`, one folder per family, as a user lays out files in S3 (README, "Bucket layout").
 */
export type DropAction =
  /** A data file: uploaded, and its run followed to the end. */
  | { kind: 'data'; family: string; key: string }
  /** `<name>.validation.jsonl`: uploaded; it starts no run, and waits for `<name>.jsonl`. */
  | { kind: 'validation'; family: string; key: string }
  /** `tunedrop.json`: uploaded as the family's settings, read by the family's next drop. */
  | { kind: 'settings'; family: string; key: string }
  | { kind: 'ignored'; reason: string };

/**
 * `parts` is the path below ./drop/, split into its folders and file name. `drop/embed/<collection>/` stands
 * for the bucket's `embed/<collection>/`: a .jsonl or .csv there starts an embedding run, a tunedrop.json
 * there is the collection's settings (docs/embeddings.md).
 */
export function dropAction(parts: readonly string[]): DropAction {
  if (parts.length === 3 && parts[0] === 'embed') {
    const [, collection, file] = parts as [string, string, string];
    const key = `${EMBED_PREFIX}${collection}/${file}`;
    if (file === FAMILY_SETTINGS_FILE) return { kind: 'settings', family: collection, key };
    if (embeddingInputOf(key)) return { kind: 'data', family: collection, key };
    return {
      kind: 'ignored',
      reason: 'only .jsonl and .csv files and tunedrop.json are uploaded under drop/embed/',
    };
  }
  const [family, file, ...deeper] = parts;
  if (!family || !file || deeper.length > 0)
    return { kind: 'ignored', reason: 'put files in drop/<family>/<name>.jsonl' };
  const key = `incoming/${family}/${file}`;
  if (file === 'tunedrop.json') return { kind: 'settings', family, key };
  if (isValidationCompanion(file)) return { kind: 'validation', family, key };
  if (file.toLowerCase().endsWith('.jsonl')) return { kind: 'data', family, key };
  return { kind: 'ignored', reason: 'only .jsonl files and tunedrop.json are uploaded' };
}

export interface StableOptions {
  /** How long the file's size and modification time must stay the same. @default 1000 */
  quietMs?: number;
  /** Gives up after this long (a file still being written). @default 10 minutes */
  timeoutMs?: number;
}

/**
 * Waits until nobody is writing the file: its size and modification time unchanged for `quietMs`.
 * Editors and copies write in steps, and an upload of a half-copied file would be validated as a broken
 * one. False when the file is gone (moved away, deleted) or still changing at the timeout.
 */
export async function untilStable(path: string, options: StableOptions = {}): Promise<boolean> {
  const quietMs = options.quietMs ?? 1000;
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  const look = async () => {
    const s = await stat(path).catch(() => undefined);
    return s?.isFile() ? `${s.size}:${s.mtimeMs}` : undefined;
  };
  let seen = await look();
  while (seen !== undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = await look();
    if (now === seen) return true;
    seen = now;
  }
  return false;
}
