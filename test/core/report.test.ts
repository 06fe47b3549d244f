import {
  count,
  noteRunEnd,
  outcomeOf,
  renderValidationMarkdown,
  type StoredValidationReport,
} from '../../functions/core/report.js';
import type { RunRecord } from '../../functions/core/run.js';
import { memoryObjectStore } from '../support/fakes.js';

const runId = 'tickets-0123456789abcdef';

function report(fields: Partial<StoredValidationReport> = {}): StoredValidationReport {
  return {
    schemaVersion: 1,
    runId,
    source: { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1' },
    checkedAt: '2026-11-24T10:00:00.000Z',
    verdict: 'valid',
    format: 'chat',
    method: 'supervised',
    lines: 30,
    examples: 30,
    tokens: { total: 3000, min: 80, max: 120, mean: 100, histogram: [{ upTo: 128, examples: 30 }] },
    split: {
      threshold: null,
      trainingExamples: 30,
      trainingTokens: 3000,
      validationExamples: 0,
      validationTokens: 0,
    },
    estimate: { model: 'gpt-4o-2024-08-06', epochs: 3, billedTokens: 9000, costUsd: 0.225 },
    errorCount: 0,
    warningCount: 0,
    errors: [],
    warnings: [],
    ...fields,
  };
}

const endedRun = (fields: Partial<RunRecord> = {}): RunRecord => ({
  runId,
  family: 'support',
  status: 'FAILED',
  history: [
    { status: 'RECEIVED', at: '2026-11-24T10:00:00.000Z' },
    { status: 'FAILED', at: '2026-11-24T10:05:00.000Z' },
  ],
  source: { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1' },
  createdAt: '2026-11-24T10:00:00.000Z',
  updatedAt: '2026-11-24T10:05:00.000Z',
  finishedAt: '2026-11-24T10:05:00.000Z',
  error: {
    name: 'ProviderRejectedError',
    code: 'invalid_training_file',
    message: 'OpenAI refused the training file: line 3 has too many images.\n',
    fix: 'Fix the line it names, then drop the file again.',
  },
  ...fields,
});

describe('count', () => {
  it('says one in the singular and any other number in the plural', () => {
    expect([count(0, 'example'), count(1, 'example'), count(2, 'example')]).toEqual([
      '0 examples',
      '1 example',
      '2 examples',
    ]);
  });
});

describe('renderValidationMarkdown', () => {
  it('says a valid file will train, with its model, method and cost as a plain estimate', () => {
    const md = renderValidationMarkdown(report());
    expect(md).toContain('**✅ Valid: training will start**');
    expect(md).toContain('| Method | supervised |');
    expect(md).toContain('| Cost (estimate) | $0.23 |');
    expect(md).not.toContain('at most');
    expect(md).not.toContain('Images');
  });

  it('shows examples with images, images and image tokens when the file has images', () => {
    const md = renderValidationMarkdown(
      report({
        tokens: {
          ...report().tokens,
          images: { examplesWithImages: 4, images: 6, tokens: 1530, estimatedImages: 0, estimatedTokens: 0 },
        },
      }),
    );
    expect(md).toContain('| Examples with images | 4 |');
    expect(md).toContain('| Images | 6 |');
    expect(md).toContain('| Image tokens | 1530 (in the tokens above) |');
    expect(md).toContain('| Cost (estimate) | $0.23 |');
  });

  it('labels the cost an upper estimate and says why when images are URLs it could not size', () => {
    const images = {
      examplesWithImages: 2,
      images: 3,
      tokens: 2975,
      estimatedImages: 2,
      estimatedTokens: 2890,
    };
    const md = renderValidationMarkdown(
      report({
        tokens: { ...report().tokens, images },
        estimate: { ...report().estimate, upperEstimate: true },
      }),
    );
    expect(md).toContain('| Images | 3 (2 given as URLs, not fetched) |');
    expect(md).toContain('| Image tokens | 2975 (in the tokens above; 2890 of them an upper estimate) |');
    expect(md).toContain('| Billed tokens (estimate) | at most 9000 |');
    expect(md).toContain(
      '| Cost (estimate) | at most $0.23 (2 images are URLs whose size is unknown offline, counted at the most an image can cost) |',
    );
  });

  it('says "1 image is a URL" for a single unsized image', () => {
    const images = {
      examplesWithImages: 1,
      images: 1,
      tokens: 1445,
      estimatedImages: 1,
      estimatedTokens: 1445,
    };
    const md = renderValidationMarkdown(
      report({
        tokens: { ...report().tokens, images },
        estimate: { ...report().estimate, upperEstimate: true },
      }),
    );
    expect(md).toContain('| Images | 1 (1 given as a URL, not fetched) |');
    expect(md).toContain('at most $0.23 (1 image is a URL whose size is unknown offline');
  });

  it('gets plurals right for one and for many', () => {
    const one = renderValidationMarkdown(
      report({
        verdict: 'invalid',
        exactCopies: 29,
        conversion: {
          separator: '\n\n###\n\n',
          endToken: ' END',
          separatorStripped: 1,
          endTokenStripped: 1,
          leadingSpaceRemoved: 1,
        },
        errorCount: 2,
        errors: [
          { code: 'invalid_json', severity: 'error', line: 2, message: 'not valid JSON', fix: 'Fix it.' },
        ],
        warningCount: 1,
        warnings: [{ code: 'few_examples', severity: 'warning', message: 'few', fix: 'Add more.' }],
      }),
    );
    expect(one).toContain('❌ Invalid: nothing was uploaded (2 problems to fix)');
    expect(one).toContain('| Exact copies | 29 (1 distinct example;');
    expect(one).toContain(
      'stripped from 1 prompt; end token " END" from 1 completion; leading space removed from 1 completion.',
    );
    expect(one).toContain('…and 1 more problem not listed.');
    expect(one).toContain('It does not stop training');
    expect(one).not.toMatch(/\b1 (examples|prompts|completions|problems)\b/);

    const many = renderValidationMarkdown(
      report({
        verdict: 'invalid',
        errorCount: 1,
        errors: [
          { code: 'invalid_json', severity: 'error', line: 2, message: 'not valid JSON', fix: 'Fix it.' },
        ],
        warningCount: 3,
        warnings: [{ code: 'few_examples', severity: 'warning', message: 'few', fix: 'Add more.' }],
      }),
    );
    expect(many).toContain('❌ Invalid: nothing was uploaded (1 problem to fix)');
    expect(many).toContain('…and 2 more problems not listed.');
    expect(many).toContain('They do not stop training');
  });

  it('counts a row that stands for a run of lines as all its problems', () => {
    const md = renderValidationMarkdown(
      report({
        verdict: 'invalid',
        errorCount: 6,
        errors: [
          Object.assign(
            {
              code: 'invalid_json' as const,
              severity: 'error' as const,
              line: 3,
              message: 'bad',
              fix: 'Fix.',
            },
            { lastLine: 7, times: 5 },
          ),
        ],
      }),
    );
    expect(md).toContain('| 3–7 (5 times) | bad |');
    expect(md).toContain('…and 1 more problem not listed.');
  });

  it('puts how a run ended at the top once it ended without a model, and keeps the rest as checked', () => {
    const checked = report({
      exactCopies: 2,
      warningCount: 1,
      warnings: [{ code: 'few_examples', severity: 'warning', message: 'few', fix: 'Add more.' }],
    });
    const outcome = outcomeOf(endedRun())!;
    const md = renderValidationMarkdown({ ...checked, outcome });
    expect(md).toContain(
      '**❌ Validation passed, but the run FAILED at the provider: OpenAI refused the training file: line 3 has too many images.** Fix the line it names, then drop the file again.',
    );
    expect(md).toContain('ended 2026-11-24T10:05:00.000Z (`invalid_training_file`)');
    expect(md).not.toContain('training will start');
    // Everything after the run line is the report as it was checked.
    const body = (text: string) => text.slice(text.indexOf('| | |'));
    expect(body(md)).toBe(body(renderValidationMarkdown(checked)));
  });
});

describe('outcomeOf', () => {
  it('takes status, cause and end time from the run item, and only for runs that ended without a model', () => {
    expect(outcomeOf(endedRun())).toEqual({
      status: 'FAILED',
      code: 'invalid_training_file',
      message: 'OpenAI refused the training file: line 3 has too many images.\n',
      fix: 'Fix the line it names, then drop the file again.',
      at: '2026-11-24T10:05:00.000Z',
      atProvider: true,
    });
    expect(
      outcomeOf(
        endedRun({
          status: 'CANCELLED',
          error: {
            name: 'ExecutionStopped',
            code: 'execution_stopped',
            message: 'stopped',
            fix: 'Drop again.',
          },
        }),
      ),
    ).toMatchObject({ status: 'CANCELLED', atProvider: false });
    for (const status of ['SUCCEEDED', 'REJECTED', 'TRAINING'] as const)
      expect(outcomeOf(endedRun({ status }))).toBeUndefined();
  });
});

describe('noteRunEnd', () => {
  const keys = { json: `runs/${runId}/validation.json`, md: `runs/${runId}/validation.md` };
  const stored = (fields: Partial<StoredValidationReport> = {}) =>
    memoryObjectStore({
      [`bucket/${keys.json}`]: `${JSON.stringify(report(fields), null, 2)}\n`,
      [`bucket/${keys.md}`]: renderValidationMarkdown(report(fields)),
    });

  it('adds the outcome to validation.json and renders validation.md from it, the same bytes every time', async () => {
    const objects = stored();
    expect(await noteRunEnd(objects.store, endedRun())).toBe('written');
    const first = [objects.text(keys.json), objects.text(keys.md)];
    expect(JSON.parse(first[0]!)).toEqual({ ...report(), outcome: outcomeOf(endedRun()) });
    expect(first[1]).toContain('Validation passed, but the run FAILED at the provider');

    expect(await noteRunEnd(objects.store, endedRun({ updatedAt: '2026-11-24T11:00:00.000Z' }))).toBe(
      'written',
    );
    expect([objects.text(keys.json), objects.text(keys.md)]).toEqual(first);
  });

  it('leaves the report alone while the run goes on, after it succeeded, and when the file was invalid', async () => {
    const objects = stored();
    const before = objects.text(keys.md);
    expect(await noteRunEnd(objects.store, endedRun({ status: 'SUCCEEDED' }))).toBe('not_ended');
    expect(await noteRunEnd(objects.store, endedRun({ status: 'TRAINING' }))).toBe('not_ended');
    expect(objects.text(keys.md)).toBe(before);

    const invalid = stored({ verdict: 'invalid' });
    expect(await noteRunEnd(invalid.store, endedRun())).toBe('not_valid');
    expect(await noteRunEnd(memoryObjectStore().store, endedRun())).toBe('no_report');
  });

  it("refuses a file that is not this run's report instead of overwriting it", async () => {
    const objects = memoryObjectStore({ [`bucket/${keys.json}`]: JSON.stringify({ runId: 'another' }) });
    await expect(noteRunEnd(objects.store, endedRun())).rejects.toThrow(/not a schema version 1 report/);
    expect(objects.has(keys.md)).toBe(false);
  });
});
