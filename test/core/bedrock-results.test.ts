import fc from 'fast-check';
import {
  BedrockMetricsError,
  bedrockResultsCsv,
  RESULTS_HEADER,
} from '../../functions/core/bedrock-results.js';
import { decodeResultFile, summarizeResults } from '../../functions/core/results.js';

const TRAINING_HEADER = 'step_number,epoch_number,training_loss,perplexity';
const VALIDATION_HEADER = 'step_number,epoch_number,validation_loss,perplexity';
const csv = (header: string, rows: Array<[number, number, number]>) =>
  `${[header, ...rows.map(([step, epoch, loss]) => `${step},${epoch},${loss},${Math.exp(loss)}`)].join('\n')}\n`;
const parse = (text: string) =>
  text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(','));

describe('bedrockResultsCsv', () => {
  it("maps Bedrock's columns into OpenAI's, validation joined by step", () => {
    const training = csv(TRAINING_HEADER, [
      [0, 1, 2.5],
      [1, 1, 2.25],
      [2, 2, 1.5],
      [3, 2, 1.25],
    ]);
    const validation = csv(VALIDATION_HEADER, [
      [1, 1, 2.75],
      [3, 2, 1.75],
    ]);
    expect(bedrockResultsCsv(training, validation)).toBe(
      [RESULTS_HEADER, '0,2.5,,,', '1,2.25,,2.75,', '2,1.5,,,', '3,1.25,,1.75,', ''].join('\n'),
    );
  });

  it('reads as a results.csv: summarizeResults gives the last losses', () => {
    const text = bedrockResultsCsv(
      csv(TRAINING_HEADER, [
        [0, 1, 2],
        [1, 1, 1],
      ]),
      csv(VALIDATION_HEADER, [[1, 1, 1.5]]),
    );
    const summary = summarizeResults(decodeResultFile(new TextEncoder().encode(text)));
    expect(summary.steps).toBe(2);
    expect(summary.final).toEqual({
      step: 1,
      trainLoss: 1,
      trainAccuracy: null,
      validLoss: 1.5,
      validMeanTokenAccuracy: null,
    });
  });

  it('works without validation metrics, with columns in any order, a BOM and CRLF lines', () => {
    const training =
      '\uFEFFtraining_loss,perplexity,epoch_number,step_number\r\n0.5,1.6,1,0\r\n0.25,1.3,1,1\r\n';
    expect(bedrockResultsCsv(training)).toBe(`${RESULTS_HEADER}\n0,0.5,,,\n1,0.25,,,\n`);
  });

  it('keeps a validation row whose step has no training row as a row of its own', () => {
    const text = bedrockResultsCsv(
      csv(TRAINING_HEADER, [
        [0, 1, 2],
        [1, 1, 1],
      ]),
      csv(VALIDATION_HEADER, [[2, 1, 1.5]]),
    );
    expect(parse(text).map((cells) => cells.join(','))).toEqual(['0,2,,,', '1,1,,,', '2,,,1.5,']);
  });

  it('leaves a loss that is no number empty, and refuses a file without its columns', () => {
    expect(bedrockResultsCsv(`${TRAINING_HEADER}\n0,1,NaN,NaN\n`)).toBe(`${RESULTS_HEADER}\n0,,,,\n`);
    expect(() => bedrockResultsCsv('step,loss\n0,1\n')).toThrow(BedrockMetricsError);
    expect(() => bedrockResultsCsv(`${TRAINING_HEADER}\nx,1,1,1\n`)).toThrow(/whole number/);
  });

  it('has every input step once, in step order, with every loss carried exactly', () => {
    const loss = fc.double({ min: 0, max: 100, noNaN: true });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(10_000), { minLength: 1, maxLength: 60 }),
        fc.array(loss, { minLength: 60, maxLength: 60 }),
        fc.uniqueArray(fc.nat(10_000), { maxLength: 20 }),
        fc.array(loss, { minLength: 20, maxLength: 20 }),
        (trainSteps, trainLosses, validSteps, validLosses) => {
          const training = csv(
            TRAINING_HEADER,
            trainSteps.map((step, i) => [step, 1, trainLosses[i]!]),
          );
          const validation = csv(
            VALIDATION_HEADER,
            validSteps.map((step, i) => [step, 1, validLosses[i]!]),
          );
          const rows = parse(bedrockResultsCsv(training, validation));
          const steps = rows.map((cells) => Number(cells[0]));
          expect(steps).toEqual([...new Set([...trainSteps, ...validSteps])].sort((a, b) => a - b));
          const at = new Map(rows.map((cells) => [Number(cells[0]), cells]));
          trainSteps.forEach((step, i) => expect(Number(at.get(step)![1])).toBe(trainLosses[i]));
          validSteps.forEach((step, i) => expect(Number(at.get(step)![3])).toBe(validLosses[i]));
          for (const cells of rows) {
            expect(cells).toHaveLength(5);
            expect(cells[2]).toBe('');
            expect(cells[4]).toBe('');
          }
        },
      ),
    );
  });
});
