import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropAction, untilStable } from '../../local/drop-folder.js';
import { describeFindings } from '../../local/progress.js';

describe('what npm run local does with a file under drop/', () => {
  it('uploads data files, validation files and the settings file to the family under incoming/', () => {
    expect(dropAction(['support', 'tickets.jsonl'])).toEqual({
      kind: 'data',
      family: 'support',
      key: 'incoming/support/tickets.jsonl',
    });
    expect(dropAction(['support', 'tickets.validation.jsonl'])).toMatchObject({ kind: 'validation' });
    // drop/embed/<collection>/ stands for embed/<collection>/: files to embed and the collection's settings.
    expect(dropAction(['embed', 'faq', 'questions.csv'])).toEqual({
      kind: 'data',
      family: 'faq',
      key: 'embed/faq/questions.csv',
    });
    expect(dropAction(['embed', 'faq', 'tunedrop.json'])).toMatchObject({
      kind: 'settings',
      key: 'embed/faq/tunedrop.json',
    });
    expect(dropAction(['embed', 'faq', 'notes.txt'])).toMatchObject({ kind: 'ignored' });
    expect(dropAction(['support', 'tunedrop.json'])).toEqual({
      kind: 'settings',
      family: 'support',
      key: 'incoming/support/tunedrop.json',
    });
  });

  it('ignores, saying why, what is not in a family folder or is not data or settings', () => {
    expect(dropAction(['tickets.jsonl'])).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('drop/<family>/'),
    });
    expect(dropAction(['support', 'deeper', 'tickets.jsonl'])).toMatchObject({ kind: 'ignored' });
    expect(dropAction(['support', 'notes.txt'])).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('.jsonl'),
    });
  });
});

describe('untilStable', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'tunedrop-drop-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('waits while a file is still being written, and answers once it has been quiet', async () => {
    const path = join(dir, 'tickets.jsonl');
    await writeFile(path, '{"a":');
    let writes = 0;
    const writer = setInterval(() => {
      if (writes++ < 5) void appendFile(path, '1');
    }, 30);
    const started = Date.now();
    try {
      expect(await untilStable(path, { quietMs: 100 })).toBe(true);
    } finally {
      clearInterval(writer);
    }
    // It did not answer while the writes (every 30 ms for 150 ms) went on.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('answers false for a file that is gone, and for one still changing at its timeout', async () => {
    expect(await untilStable(join(dir, 'missing.jsonl'), { quietMs: 10 })).toBe(false);
    const path = join(dir, 'growing.jsonl');
    await writeFile(path, 'x');
    const writer = setInterval(() => void appendFile(path, 'x'), 5);
    try {
      expect(await untilStable(path, { quietMs: 40, timeoutMs: 200 })).toBe(false);
    } finally {
      clearInterval(writer);
    }
  });
});

describe('the end of a run in npm run local', () => {
  it('names its warnings and the loss it ended with', () => {
    const text = describeFindings({
      warnings: [{ code: 'model_retiring' }, { code: 'duplicate_example' }, { code: 'duplicate_example' }],
      metrics: {
        steps: 104,
        final: { trainLoss: 4.41899, validLoss: 4.38948 },
        first: { trainLoss: 12.20607 },
      },
    });
    expect(text).toContain('warnings            3: model_retiring, duplicate_example');
    expect(text).toContain(
      'final loss          train 4.419, validation 4.389 after 104 steps (train loss at step 1: 12.206)',
    );
  });

  it('says nothing more for a run without warnings or metrics', () => {
    expect(describeFindings({})).toBe('');
  });
});
