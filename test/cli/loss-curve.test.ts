import { lossPoints, renderLossCurve } from '../../cli/loss-curve.js';

const csv = (rows: string[]) =>
  ['step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy', ...rows].join('\n');
const descending = Array.from({ length: 300 }, (_, i) => {
  const step = i + 1;
  const valid = step % 10 === 0 ? (2 / Math.sqrt(step) + 0.1).toFixed(4) : '';
  return `${step},${(2 / Math.sqrt(step)).toFixed(4)},0.5,${valid},`;
});

describe('the loss curve', () => {
  it('reads train_loss and valid_loss by step, an empty valid cell being no value', () => {
    expect(lossPoints(csv(['1,2.5,0.4,,', '2,2.1,0.5,2.3,0.5']))).toEqual([
      { step: 1, trainLoss: 2.5, validLoss: null },
      { step: 2, trainLoss: 2.1, validLoss: 2.3 },
    ]);
  });

  it('finds the columns by name, whatever their order, and treats NaN and text as no value', () => {
    expect(lossPoints('valid_loss,step,train_loss\nNaN,1,abc\n0.5,2,0.7\n')).toEqual([
      { step: 1, trainLoss: null, validLoss: null },
      { step: 2, trainLoss: 0.7, validLoss: 0.5 },
    ]);
  });

  it('reads a file without a valid_loss column (no validation set) as train loss only', () => {
    const points = lossPoints('step,train_loss\n1,1.5\n2,1.2\n');
    expect(points.map((p) => p.validLoss)).toEqual([null, null]);
    const drawn = renderLossCurve(points);
    expect(drawn).toContain('• train_loss');
    expect(drawn).not.toContain('valid_loss');
  });

  it('fits in 72 columns for a long run, with both series, the axis labels and the legend', () => {
    const drawn = renderLossCurve(lossPoints(csv(descending)));
    const lines = drawn.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(72);
    // The highest mean at the top row, labelled; the lowest at the bottom row.
    expect(lines[0]).toMatch(/^ *1\.523 ┤•/);
    expect(lines[9]).toMatch(/^0\.1157 ┤ +•/);
    expect(drawn).toContain('step 1');
    expect(drawn).toContain('step 300');
    expect(drawn).toContain('• train_loss   × valid_loss');
    expect(drawn).toContain('×');
  });

  it('keeps to a narrower width when asked', () => {
    const drawn = renderLossCurve(lossPoints(csv(descending)), { width: 40, height: 5 });
    expect(
      drawn
        .trimEnd()
        .split('\n')
        .every((l) => [...l].length <= 40),
    ).toBe(true);
    expect(drawn.split('\n').filter((l) => /[┤│]/.test(l))).toHaveLength(5);
  });

  it('draws a single step and a flat loss without dividing by zero', () => {
    const one = renderLossCurve([{ step: 7, trainLoss: 0.3, validLoss: 0.3 }]);
    expect(one).toContain('◆');
    expect(one).toContain('step 7');
    expect(one).not.toContain('NaN');
    const flat = renderLossCurve(
      Array.from({ length: 5 }, (_, i) => ({ step: i + 1, trainLoss: 1, validLoss: null })),
    );
    expect(flat).not.toContain('NaN');
    expect(flat.match(/•/g)!.length).toBeGreaterThanOrEqual(5);
  });

  it('says there is nothing to draw when no row has a loss', () => {
    expect(renderLossCurve(lossPoints('step,train_accuracy\n1,0.5\n'))).toBe(
      '(no train_loss or valid_loss values in results.csv)\n',
    );
    expect(renderLossCurve([])).toContain('no train_loss');
  });
});
