import fc from 'fast-check';
import { resultHead, resultLine, resultLineText } from '../../functions/core/embedding-results.js';

/** The result files' line format (core/embedding-results.ts), read back without copying the vectors. */
describe('resultLine', () => {
  it('reads back what resultLineText wrote, answers and errors', () => {
    const answer = {
      customId: 'rows-0-2',
      answer: {
        tokens: 7,
        vectors: [
          [0.5, -1],
          [2, 1e-7],
        ],
      },
    };
    expect(resultLine(resultLineText(answer))).toEqual({
      customId: 'rows-0-2',
      tokens: 7,
      vectors: [
        [0.5, -1],
        [2, 1e-7],
      ],
    });
    expect(resultLine(resultLineText({ customId: 'rows-2-1', error: 'HTTP 500' }))).toEqual({
      customId: 'rows-2-1',
      error: 'HTTP 500',
    });
  });

  it('drops keys it does not know, as the schema does', () => {
    expect(resultLine('{"customId":"rows-0-1","tokens":1,"vectors":[[1]],"extra":true}')).toEqual({
      customId: 'rows-0-1',
      tokens: 1,
      vectors: [[1]],
    });
  });

  it.each([
    ['a value that is not a number', '{"customId":"rows-0-1","tokens":1,"vectors":[[1,"2"]]}'],
    ['a vector that is not an array', '{"customId":"rows-0-1","tokens":1,"vectors":[1]}'],
    ['negative tokens', '{"customId":"rows-0-1","tokens":-1,"vectors":[[1]]}'],
    ['fractional tokens', '{"customId":"rows-0-1","tokens":1.5,"vectors":[[1]]}'],
    ['no customId', '{"tokens":1,"vectors":[[1]]}'],
    ['neither vectors nor error', '{"customId":"rows-0-1"}'],
  ])('refuses %s', (_, line) => {
    expect(() => resultLine(line)).toThrow();
  });
});

describe('resultHead', () => {
  it('reads the custom id and whether a line is an answer, for any line resultLineText writes', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.oneof(
          fc.record({
            tokens: fc.nat(),
            vectors: fc.array(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }))),
          }),
          fc.record({ error: fc.string() }),
        ),
        (customId, body) => {
          const result =
            'error' in body
              ? { customId, error: body.error }
              : { customId, answer: { tokens: body.tokens, vectors: body.vectors } };
          const head = resultHead(resultLineText(result));
          expect(head).toEqual(
            'error' in body ? { customId, answered: false, error: body.error } : { customId, answered: true },
          );
        },
      ),
    );
  });

  it('parses a line of another shape whole, and refuses one that is not a result', () => {
    expect(resultHead('{"error":"x","customId":"rows-0-1"}')).toEqual({
      customId: 'rows-0-1',
      answered: false,
      error: 'x',
    });
    expect(() => resultHead('{"customId":"rows-0-1"}')).toThrow();
  });
});
