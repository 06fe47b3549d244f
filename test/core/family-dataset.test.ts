import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { distinctExamples, familySources, type DatasetSource } from '../../functions/core/family-dataset.js';
import type { LegacyMarkers } from '../../functions/core/legacy.js';
import type { DatasetFile } from '../../functions/core/registry.js';
import type { RunRecord, RunStatus } from '../../functions/core/run.js';
import { chunks, collect } from '../support/fakes.js';

const at = (minute: number) => `2026-11-29T10:${String(minute).padStart(2, '0')}:00.000Z`;

/** A run item of family "support" that went through `statuses` (RECEIVED first). */
function run(
  runId: string,
  minute: number,
  statuses: RunStatus[],
  fields: Partial<RunRecord> = {},
): RunRecord {
  const history = ['RECEIVED' as const, ...statuses].map((status) => ({ status, at: at(minute) }));
  return {
    runId,
    family: 'support',
    status: history.at(-1)!.status,
    history,
    source: { bucket: 'bucket', key: `incoming/support/${runId}.jsonl`, versionId: `v-${runId}` },
    createdAt: at(minute),
    updatedAt: at(minute),
    ...fields,
  };
}

const TRAINED: RunStatus[] = ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING', 'SUCCEEDED'];
const ids = (sources: DatasetSource[]) => sources.map((s) => `${s.runId}:${s.ref.key}@${s.ref.versionId}`);

describe('familySources', () => {
  it('lists the accepted drops of the family oldest first, and the run’s own file last', () => {
    const own = run('d3', 30, ['PREPARING']);
    const sources = familySources([own, run('d2', 20, TRAINED), run('d1', 10, ['PREPARING', 'FAILED'])], own);
    expect(ids(sources)).toEqual([
      'd1:incoming/support/d1.jsonl@v-d1',
      'd2:incoming/support/d2.jsonl@v-d2',
      'd3:incoming/support/d3.jsonl@v-d3',
    ]);
  });

  it('leaves out rejected drops, drops stopped before they prepared, and runs received after this one', () => {
    const own = run('own', 30, ['PREPARING']);
    const sources = familySources(
      [
        run('rejected', 10, ['REJECTED']),
        run('cancelled-early', 11, ['CANCELLED']),
        run('queued', 12, []),
        run('accepted', 13, TRAINED),
        run('later', 40, TRAINED),
        own,
      ],
      own,
    );
    expect(sources.map((s) => s.runId)).toEqual(['accepted', 'own']);
  });

  it('lists the run’s own file even when its item is not among the family’s runs yet', () => {
    const own = run('own', 30, []);
    expect(familySources([run('a', 10, TRAINED)], own).map((s) => s.runId)).toEqual(['a', 'own']);
  });

  it('lists each object version once, and two versions of one key as two files', () => {
    const key = 'incoming/support/tickets.jsonl';
    const v1 = run('v1', 10, TRAINED, { source: { bucket: 'bucket', key, versionId: '1' } });
    const v2 = run('v2', 20, TRAINED, { source: { bucket: 'bucket', key, versionId: '2' } });
    const own = run('own', 30, ['PREPARING']);
    // A retrain of v2 trained on v2 again: not a third file.
    const retrain = run('retrain', 25, TRAINED, { source: v2.source, trigger: 'schedule' });
    expect(familySources([v1, v2, retrain, own], own).map((s) => s.runId)).toEqual(['v1', 'v2', 'own']);
  });

  it('never counts a retrain run as data of its own, whether it runs now or ran before', () => {
    const d1 = run('d1', 10, TRAINED);
    const d2 = run('d2', 20, TRAINED);
    const earlierRetrain = run('r1', 15, TRAINED, { source: d1.source, trigger: 'operator' });
    const retrainNow = run('r2', 30, ['PREPARING'], { source: d2.source, trigger: 'schedule' });
    const sources = familySources([d1, earlierRetrain, d2, retrainNow], retrainNow);
    // The files are the drops', read through the drops' runs (whose reports say how to convert them).
    expect(ids(sources)).toEqual(['d1:incoming/support/d1.jsonl@v-d1', 'd2:incoming/support/d2.jsonl@v-d2']);
  });

  it('never lists a retrain run’s file under the retrain run, even when the drop’s own item is gone', () => {
    // The drop's run item expired or was deleted: the retrain run is not a drop, and has no report of its own.
    const gone = { bucket: 'bucket', key: 'incoming/support/gone.jsonl', versionId: 'g' };
    const retrain = run('r1', 15, TRAINED, { source: gone, trigger: 'schedule' });
    const own = run('own', 30, ['PREPARING']);
    expect(familySources([retrain, own], own).map((s) => s.runId)).toEqual(['own']);
  });
});

// ---------------------------------------------------------------------------------------------------

const chatLine = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `question ${i}` },
      { role: 'assistant', content: `answer ${i}` },
    ],
  });
/** The legacy form of chatLine(i), with "\n\n###\n\n" after the prompt and " END" after the completion. */
const legacyLine = (i: number) =>
  JSON.stringify({ prompt: `question ${i}\n\n###\n\n`, completion: ` answer ${i} END` });
const markers: LegacyMarkers = { separator: '\n\n###\n\n', endToken: ' END' };

interface TestFile {
  text: string;
  conversion: LegacyMarkers | null;
}

async function readAll(files: TestFile[], chunkSize = 5) {
  const sources: DatasetSource[] = files.map((_, i) => ({
    runId: `run-${i}`,
    ref: { bucket: 'bucket', key: `incoming/support/f${i}.jsonl`, versionId: `v${i}` },
  }));
  const done: DatasetFile[] = [];
  const opened: string[] = [];
  const lines = await collect(
    distinctExamples(
      sources,
      async (source) => {
        opened.push(source.runId);
        const file = files[Number(source.runId.slice(4))]!;
        return { bytes: chunks(file.text, chunkSize), conversion: file.conversion };
      },
      (file) => done.push(file),
    ),
  );
  return { lines, done, opened };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('distinctExamples', () => {
  it('drops the examples of later files that an earlier file had, and counts them per file', async () => {
    const first = `${[chatLine(1), chatLine(2)].join('\n')}\n`;
    const second = `${[chatLine(2), chatLine(3), '', chatLine(1)].join('\n')}\n`;
    const { lines, done } = await readAll([
      { text: first, conversion: null },
      { text: second, conversion: null },
    ]);
    expect(lines.map((l) => l.text)).toEqual([chatLine(1), chatLine(2), chatLine(3)]);
    expect(done).toEqual([
      {
        key: 'incoming/support/f0.jsonl',
        versionId: 'v0',
        sha256: sha256(first),
        examples: 2,
        duplicates: 0,
      },
      {
        key: 'incoming/support/f1.jsonl',
        versionId: 'v1',
        sha256: sha256(second),
        examples: 3,
        duplicates: 2,
      },
    ]);
  });

  it('keeps copies within one file (a user weights an example by repeating it)', async () => {
    const text = `${[chatLine(1), chatLine(1), chatLine(2), chatLine(1)].join('\n')}\n`;
    const { lines, done } = await readAll([{ text, conversion: null }]);
    expect(lines.map((l) => l.text)).toEqual([chatLine(1), chatLine(1), chatLine(2), chatLine(1)]);
    expect(done[0]).toMatchObject({ examples: 4, duplicates: 0 });
  });

  it('tells copies by their parsed form and passes each line on as the user wrote it', async () => {
    const spaced = JSON.stringify(JSON.parse(chatLine(1)), null, 0).replace('{"messages":', '{ "messages" :');
    const big =
      '{"messages":[{"role":"user","content":"n"},{"role":"assistant","content":"x"}],"n":12345678901234567890}';
    const { lines, done } = await readAll([
      { text: `${chatLine(1)}\n`, conversion: null },
      { text: `${spaced}\n${big}\n`, conversion: null },
    ]);
    expect(lines.map((l) => l.text)).toEqual([chatLine(1), big]);
    expect(done[1]).toMatchObject({ examples: 2, duplicates: 1 });
  });

  it('converts a legacy file with its own markers, and tells its examples from the chat files’ after conversion', async () => {
    const { lines, done } = await readAll([
      { text: `${chatLine(1)}\n${chatLine(2)}\n`, conversion: null },
      { text: `${legacyLine(2)}\n${legacyLine(3)}\n`, conversion: markers },
      { text: `${chatLine(3)}\n${chatLine(4)}`, conversion: null },
    ]);
    expect(lines.map((l) => l.text)).toEqual([chatLine(1), chatLine(2), chatLine(3), chatLine(4)]);
    expect(done.map((f) => [f.examples, f.duplicates])).toEqual([
      [2, 0],
      [2, 1],
      [2, 1],
    ]);
  });

  it('keeps each line’s number in its own file', async () => {
    const { lines } = await readAll([
      { text: `${chatLine(1)}\n`, conversion: null },
      { text: `\n${chatLine(1)}\n${chatLine(2)}\n`, conversion: null },
    ]);
    expect(lines.map((l) => l.lineNumber)).toEqual([1, 3]);
  });

  it('opens each file only when the one before it has been read to its end', async () => {
    const events: string[] = [];
    const sources: DatasetSource[] = ['a', 'b'].map((runId) => ({
      runId,
      ref: { bucket: 'bucket', key: `${runId}.jsonl` },
    }));
    await collect(
      distinctExamples(
        sources,
        async (source) => {
          events.push(`open ${source.runId}`);
          return { bytes: chunks(`${chatLine(source.runId === 'a' ? 1 : 2)}\n`), conversion: null };
        },
        (file) => events.push(`done ${file.key}`),
      ),
    );
    expect(events).toEqual(['open a', 'done a.jsonl', 'open b', 'done b.jsonl']);
  });

  // Files drawn from a small pool of examples, so that copies within and across files are common; some
  // files legacy, some lines blank.
  const fileArbitrary = fc.record({
    examples: fc.array(fc.nat({ max: 11 }), { maxLength: 14 }),
    legacy: fc.boolean(),
    blanks: fc.array(fc.nat({ max: 14 }), { maxLength: 3 }),
    crlf: fc.boolean(),
    finalNewline: fc.boolean(),
  });
  type FileSpec = typeof fileArbitrary extends fc.Arbitrary<infer F> ? F : never;
  const render = (file: FileSpec): TestFile => {
    const lines = file.examples.map((i) => (file.legacy ? legacyLine(i) : chatLine(i)));
    for (const position of file.blanks) lines.splice(Math.min(position, lines.length), 0, '  ');
    const eol = file.crlf ? '\r\n' : '\n';
    return {
      text: lines.join(eol) + (file.finalNewline && lines.length ? eol : ''),
      conversion: file.legacy ? markers : null,
    };
  };

  it('over random files: every example is new to the earlier files, copies within a file stay, and the counts add up', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fileArbitrary, { maxLength: 5 }),
        fc.integer({ min: 1, max: 40 }),
        async (files, chunkSize) => {
          const rendered = files.map(render);
          const { lines, done } = await readAll(rendered, chunkSize);

          // The output, as example indices in file order (every line is chat after conversion).
          const indexOf = (text: string) =>
            Number(
              /question (\d+)/.exec(
                (JSON.parse(text) as { messages: [{ content: string }] }).messages[0].content,
              )![1],
            );
          const expected: number[] = [];
          const seenBefore = new Set<number>();
          files.forEach((file) => {
            const kept = file.examples.filter((i) => !seenBefore.has(i));
            expected.push(...kept);
            for (const i of file.examples) seenBefore.add(i);
          });
          expect(lines.map((l) => indexOf(l.text))).toEqual(expected);
          expect(lines.every((l) => l.text === chatLine(indexOf(l.text)))).toBe(true);
          // Nothing of the family is lost: every example of every file is in the output.
          expect(new Set(lines.map((l) => indexOf(l.text)))).toEqual(seenBefore);

          expect(done).toHaveLength(files.length);
          files.forEach((file, f) => {
            const earlier = new Set(files.slice(0, f).flatMap((g) => g.examples));
            expect(done[f]).toEqual({
              key: `incoming/support/f${f}.jsonl`,
              versionId: `v${f}`,
              sha256: sha256(rendered[f]!.text),
              examples: file.examples.length,
              duplicates: file.examples.filter((i) => earlier.has(i)).length,
            });
          });
          const kept = done.reduce((sum, f) => sum + f.examples - f.duplicates, 0);
          expect(kept).toBe(lines.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hashes the bytes of any file as they are, whatever they hold and however they arrive', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(fc.constant(chatLine(1)), fc.constant(''), fc.constant('   '), fc.constant(chatLine(2))),
          {
            maxLength: 8,
          },
        ),
        fc.constantFrom('\n', '\r\n'),
        fc.integer({ min: 1, max: 64 }),
        async (lines, eol, chunkSize) => {
          const text = lines.join(eol);
          const { done } = await readAll([{ text, conversion: null }], chunkSize);
          expect(done[0]!.sha256).toBe(sha256(text));
          expect(done[0]!.examples).toBe(lines.filter((l) => l.trim() !== '').length);
        },
      ),
    );
  });
});
