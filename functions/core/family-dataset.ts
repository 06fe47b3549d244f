import { createHash } from 'node:crypto';
import { readJsonlLines, type JsonlLine } from './jsonl.js';
import { convertPromptCompletion, type LegacyMarkers } from './legacy.js';
import type { ObjectRef } from './ports.js';
import type { DatasetFile } from './registry.js';
import type { RunRecord } from './run.js';

/** One accepted drop of a family: its object version, and how its lines are converted (legacy files). */
export interface DatasetSource {
  /** The run the drop started (whose validation report says how to convert it). */
  runId: string;
  ref: ObjectRef;
}

const sameObject = (a: ObjectRef, b: ObjectRef) =>
  a.bucket === b.bucket && a.key === b.key && (a.versionId ?? '') === (b.versionId ?? '');

/**
 * The files a run trains on when its family trains on all its data: every drop of the family that passed
 * validation (its run got as far as PREPARING), received no later than this run, oldest first, each
 * object version once; and this run's own file last. Rejected drops, runs stopped before they prepared,
 * and retrain runs (whose file is a drop's) are not data of their own.
 */
export function familySources(familyRuns: readonly RunRecord[], run: RunRecord): DatasetSource[] {
  const sources: DatasetSource[] = [];
  const add = (runId: string, ref: ObjectRef) => {
    if (!sources.some((s) => sameObject(s.ref, ref))) sources.push({ runId, ref });
  };
  const earlier = familyRuns
    .filter((r) => r.runId !== run.runId && r.createdAt <= run.createdAt)
    // A retrain run is not a drop: it trained on a drop's file, read through the drop's run (whose report
    // says how to convert it), and has no report of its own to read it by.
    .filter((r) => (r.trigger ?? 'drop') === 'drop')
    .filter((r) => r.history.some((change) => change.status === 'PREPARING'))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.runId.localeCompare(b.runId));
  for (const r of earlier) add(r.runId, r.source);
  add(run.runId, run.source);
  return sources;
}

/**
 * Reads the sources one after another as one stream of examples, each converted to chat where its file
 * needed it, deduplicated across files: a line that is a copy (after conversion, by its JSON text) of one
 * in an earlier file is dropped and counted. Copies within one file stay, as they did when that file
 * trained alone: repeating an example is how a user weights it, and the validator has warned about them.
 * `done` receives each file's version, hash and counts when it has been read to its end.
 *
 * Examples are remembered by a 128-bit digest of their text (16 bytes each, not the text).
 */
export async function* distinctExamples(
  sources: readonly DatasetSource[],
  open: (source: DatasetSource) => Promise<{
    bytes: AsyncIterable<Uint8Array>;
    conversion: LegacyMarkers | null;
  }>,
  done: (file: DatasetFile) => void,
): AsyncGenerator<JsonlLine> {
  const earlier = new Set<string>();
  const changes = { separatorStripped: 0, endTokenStripped: 0, leadingSpaceRemoved: 0 };
  for (const source of sources) {
    const { bytes, conversion } = await open(source);
    const fileHash = createHash('sha256');
    async function* hashed() {
      for await (const chunk of bytes) {
        fileHash.update(chunk);
        yield chunk;
      }
    }
    let examples = 0;
    let duplicates = 0;
    const inThisFile: string[] = [];
    for await (const line of readJsonlLines(hashed())) {
      if (line.text.trim() === '') continue;
      examples += 1;
      let text = line.text;
      let canonical: string;
      if (conversion) {
        const { prompt, completion } = JSON.parse(text) as { prompt: string; completion: string };
        text = canonical = JSON.stringify(convertPromptCompletion(prompt, completion, conversion, changes));
      } else {
        // The line goes on as the user wrote it (re-serializing could round a large number); copies are
        // told by its parsed form, as the split tells them (core/split.ts).
        canonical = JSON.stringify(JSON.parse(text));
      }
      const digest = createHash('sha256').update(canonical).digest().subarray(0, 16).toString('base64');
      if (earlier.has(digest)) {
        duplicates += 1;
        continue;
      }
      inThisFile.push(digest);
      yield { ...line, text };
    }
    for (const digest of inThisFile) earlier.add(digest);
    done({
      key: source.ref.key,
      ...(source.ref.versionId ? { versionId: source.ref.versionId } : {}),
      sha256: fileHash.digest('hex'),
      examples,
      duplicates,
    });
  }
}
