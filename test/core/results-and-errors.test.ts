import { formatErrorMessage, parseErrorCause, ProviderRejectedError } from '../../functions/core/errors.js';
import { decodeResultFile, summarizeResults } from '../../functions/core/results.js';

const csv =
  'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.5,0.1,,\n2,1.5,0.4,1.9,0.3\n3,0.9,0.7,,\n';

describe('decodeResultFile', () => {
  it('decodes the base64 OpenAI delivers and passes plain CSV through', () => {
    expect(decodeResultFile(new TextEncoder().encode(Buffer.from(csv).toString('base64')))).toBe(csv);
    expect(decodeResultFile(new TextEncoder().encode(csv))).toBe(csv);
  });

  it('refuses content that is neither', () => {
    expect(() => decodeResultFile(new TextEncoder().encode('<html>'))).toThrow(/neither a CSV/);
  });
});

describe('summarizeResults', () => {
  it('reports the last step and the last validation metrics seen', () => {
    expect(summarizeResults(csv)).toEqual({
      steps: 3,
      first: { step: 1, trainLoss: 2.5 },
      final: { step: 3, trainLoss: 0.9, trainAccuracy: 0.7, validLoss: 1.9, validMeanTokenAccuracy: 0.3 },
    });
  });
});

describe('error causes', () => {
  it('round-trip the code and fix through a Lambda error message', () => {
    const error = new ProviderRejectedError('OpenAI refused', 'Use another model.', 'model_not_available');
    const cause = JSON.stringify({ errorType: error.name, errorMessage: formatErrorMessage(error) });
    expect(parseErrorCause('ProviderRejectedError', cause)).toEqual({
      name: 'ProviderRejectedError',
      code: 'model_not_available',
      message: 'OpenAI refused',
      fix: 'Use another model.',
    });
  });

  it('keep a Step Functions error that has no Lambda cause', () => {
    expect(parseErrorCause('States.Timeout', 'Task timed out')).toMatchObject({
      name: 'States.Timeout',
      code: 'step_timeout',
    });
  });
});

import * as errors from '../../functions/core/errors.js';

describe('error names', () => {
  it("are spelled out on every class, so minified bundles still match the workflow's Retry rules", () => {
    const classes = Object.entries(errors).filter(
      ([name, value]) =>
        typeof value === 'function' &&
        /^[A-Z]\w*Error$/.test(name) &&
        !['TunedropError', 'PermanentError'].includes(name),
    ) as Array<[string, new (m: string, f: string) => Error]>;
    expect(classes.length).toBeGreaterThan(5);
    for (const [name, ErrorClass] of classes) {
      const source = ErrorClass.toString();
      expect(source).toContain(`'${name}'`);
      expect(new ErrorClass('m', 'f').name).toBe(name);
    }
    for (const name of errors.PERMANENT_ERROR_NAMES) expect(classes.map(([n]) => n)).toContain(name);
  });
});
