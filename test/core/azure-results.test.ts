import fc from 'fast-check';
import {
  azureResultsText,
  azureResultsToTunedrop,
  mapAzureResults,
  RESULTS_COLUMNS,
} from '../../functions/core/azure-results.js';
import { decodeResultFile, summarizeResults } from '../../functions/core/results.js';

const V1_HEADER = [
  'step',
  'train_loss',
  'train_mean_token_accuracy',
  'valid_loss',
  'valid_mean_token_accuracy',
  'full_valid_loss',
  'full_valid_mean_token_accuracy',
];
/** The header of the two public Azure runs (docs/providers.md A7). */
const FIVE_HEADER = V1_HEADER.slice(0, 5);
/** The older how-to's name for the validation accuracy. */
const OLD_HEADER = [...FIVE_HEADER.slice(0, 4), 'validation_mean_token_accuracy'];

/** Where each tunedrop column comes from in each header (the mapping under test, written out by hand). */
const EXPECTED_SOURCE: Record<(typeof RESULTS_COLUMNS)[number], string[]> = {
  step: ['step'],
  train_loss: ['train_loss'],
  train_accuracy: ['train_mean_token_accuracy'],
  valid_loss: ['valid_loss'],
  valid_mean_token_accuracy: ['valid_mean_token_accuracy', 'validation_mean_token_accuracy'],
};

const enc = (text: string) => new TextEncoder().encode(text);
const b64 = (text: string) => enc(Buffer.from(text, 'utf8').toString('base64'));

/** A metric cell as Azure writes one: a number in any of its spellings, or empty (no validation that step). */
const cell = fc.oneof(
  fc.constant(''),
  fc.integer({ min: 0, max: 100_000 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x.toExponential()),
  fc.double({ min: 0, max: 10, noNaN: true }).map((x) => x.toFixed(5)),
);

const azureFile = fc
  .record({
    header: fc.constantFrom(V1_HEADER, FIVE_HEADER, OLD_HEADER),
    // Azure's column order is not promised: columns are found by name.
    order: fc.func(fc.integer()),
    rows: fc.array(fc.array(cell, { minLength: 7, maxLength: 7 }), { maxLength: 60 }),
    crlf: fc.boolean(),
    bom: fc.boolean(),
  })
  .map(({ header, order, rows, crlf, bom }) => {
    const columns = header
      .map((name, i) => ({ name, i }))
      .sort((a, b) => order(a.name) - order(b.name) || a.i - b.i)
      .map(({ name }) => name);
    const records = rows.map((values) => Object.fromEntries(columns.map((name, i) => [name, values[i]!])));
    const newline = crlf ? '\r\n' : '\n';
    const text =
      (bom ? '\uFEFF' : '') +
      [columns.join(','), ...records.map((r) => columns.map((name) => r[name]).join(','))].join(newline) +
      newline;
    return { columns, records, text };
  });

describe('mapAzureResults', () => {
  it('keeps every row in order, each tunedrop value exactly the Azure value it maps from', () => {
    fc.assert(
      fc.property(azureFile, ({ columns, records, text }) => {
        const [header, ...rows] = azureResultsToTunedrop(enc(text)).trimEnd().split('\n');
        expect(header).toBe(RESULTS_COLUMNS.join(','));
        // Rows of empty cells only are rows too: a line of commas is not blank.
        expect(rows).toHaveLength(records.length);
        rows.forEach((row, i) => {
          const cells = row.split(',');
          expect(cells).toHaveLength(RESULTS_COLUMNS.length);
          RESULTS_COLUMNS.forEach((column, c) => {
            const source = EXPECTED_SOURCE[column].find((name) => columns.includes(name));
            expect(cells[c]).toBe(source === undefined ? '' : records[i]![source]);
          });
        });
      }),
    );
  });

  it('reads the same file delivered plain or base64 the same', () => {
    fc.assert(
      fc.property(azureFile, ({ text }) => {
        expect(azureResultsToTunedrop(b64(text))).toBe(azureResultsToTunedrop(enc(text)));
      }),
    );
  });

  it("gives results.ts what it reads from OpenAI's file: the final training and validation metrics", () => {
    const azure = [
      V1_HEADER.join(','),
      '1,2.5,0.4,,,,',
      '2,1.25,0.5,1.5,0.45,,',
      '3,0.75,0.625,,,1.0,0.6',
    ].join('\n');
    const csv = decodeResultFile(enc(azureResultsToTunedrop(enc(azure))));
    expect(csv).toBe(
      'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.5,0.4,,\n2,1.25,0.5,1.5,0.45\n3,0.75,0.625,,\n',
    );
    expect(summarizeResults(csv)).toEqual({
      steps: 3,
      first: { step: 1, trainLoss: 2.5 },
      final: { step: 3, trainLoss: 0.75, trainAccuracy: 0.625, validLoss: 1.5, validMeanTokenAccuracy: 0.45 },
    });
  });

  it('passes a file already in OpenAI’s columns through unchanged', () => {
    const openAi = 'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,1,0.5,,\n';
    expect(mapAzureResults(openAi)).toBe(openAi);
  });

  it('leaves a column Azure did not write empty, and keeps a header-only file a header', () => {
    expect(mapAzureResults('step,train_loss\n1,0.5\n')).toBe(
      'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,0.5,,,\n',
    );
    expect(mapAzureResults(V1_HEADER.join(','))).toBe(`${RESULTS_COLUMNS.join(',')}\n`);
  });

  it('refuses a file that is no results.csv, plain or base64', () => {
    expect(() => azureResultsText(enc('not,a,results,file\n1,2,3,4'))).toThrow(/"step" column/);
    expect(() => azureResultsText(b64('hello'))).toThrow(/"step" column/);
    expect(() => azureResultsText(enc(''))).toThrow(/"step" column/);
  });
});
