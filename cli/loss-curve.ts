/**
 * A small loss curve for the terminal, from a run's results.csv: train_loss and valid_loss by step.
 * Pure, so the drawing is tested without a terminal; plain text that fits 72 columns, so it survives
 * a narrow terminal, a pasted issue and a log file.
 */

import { resultRows } from '../functions/core/results.js';

export interface LossPoint {
  step: number;
  trainLoss: number | null;
  validLoss: number | null;
}

const TRAIN = '•';
const VALID = '×';
const BOTH = '◆';

/** The loss points of a results.csv (decoded: core/results.ts decodeResultFile), read as Collect reads it. */
export function lossPoints(csv: string): LossPoint[] {
  return resultRows(csv).map(({ step, trainLoss, validLoss }) => ({ step, trainLoss, validLoss }));
}

export interface CurveOptions {
  /** Total width in columns, labels included. @default 72 */
  width?: number;
  /** Rows of the plot area. @default 10 */
  height?: number;
}

/** Draws the points; a note instead when no point has a loss. */
export function renderLossCurve(points: LossPoint[], options: CurveOptions = {}): string {
  const width = Math.min(options.width ?? 72, 72);
  const height = Math.max(options.height ?? 10, 2);
  const values = points.flatMap((p) => [p.trainLoss, p.validLoss]).filter((v): v is number => v !== null);
  if (values.length === 0) return '(no train_loss or valid_loss values in results.csv)\n';

  const steps = points.map((p) => p.step);
  const [first, last] = [Math.min(...steps), Math.max(...steps)];
  // The labels' width depends on the range, and the columns on the labels' width: the range of the
  // raw values bounds the labels, then the columns' means give the drawn range.
  const labelWidth = Math.max(label(Math.max(...values)).length, label(Math.min(...values)).length);
  const plotWidth = Math.max(width - labelWidth - 2, 8);

  // Several steps share a column when there are more steps than columns: each series' mean there.
  const sums = Array.from({ length: plotWidth }, () => ({ train: [0, 0], valid: [0, 0] }));
  for (const point of points) {
    const column = last === first ? 0 : Math.round(((point.step - first) / (last - first)) * (plotWidth - 1));
    const sum = sums[column]!;
    if (point.trainLoss !== null) sum.train = [sum.train[0]! + point.trainLoss, sum.train[1]! + 1];
    if (point.validLoss !== null) sum.valid = [sum.valid[0]! + point.validLoss, sum.valid[1]! + 1];
  }
  const mean = (total: number[]) => (total[1] ? total[0]! / total[1] : null);
  const drawn = sums
    .flatMap((sum) => [mean(sum.train), mean(sum.valid)])
    .filter((v): v is number => v !== null);
  const top = Math.max(...drawn);
  const bottom = Math.min(...drawn);
  const middle = Math.floor((height - 1) / 2);
  const rowOf = (value: number) =>
    top === bottom ? middle : Math.round(((top - value) / (top - bottom)) * (height - 1));
  const grid = Array.from({ length: height }, () => Array<string>(plotWidth).fill(' '));
  sums.forEach((sum, column) => {
    const mark = (total: number[], glyph: string) => {
      const value = mean(total);
      if (value === null) return;
      const row = grid[rowOf(value)]!;
      row[column] = row[column] === ' ' || row[column] === glyph ? glyph : BOTH;
    };
    mark(sum.train, TRAIN);
    mark(sum.valid, VALID);
  });
  // A flat curve has one value: one label, on its row.
  const labelRows = new Map(
    top === bottom
      ? [[middle, label(top)]]
      : [
          [0, label(top)],
          [height - 1, label(bottom)],
        ],
  );

  const lines = grid.map((row, i) => {
    const text = labelRows.get(i) ?? '';
    const axis = text ? '┤' : '│';
    return `${text.padStart(labelWidth)} ${axis}${row.join('')}`.trimEnd();
  });
  lines.push(`${' '.repeat(labelWidth)} └${'─'.repeat(plotWidth)}`);
  const from = `step ${first}`;
  const to = `step ${last}`;
  const gap = Math.max(plotWidth - from.length - to.length, 1);
  lines.push(`${' '.repeat(labelWidth + 2)}${last === first ? from : `${from}${' '.repeat(gap)}${to}`}`);
  const legend = [
    points.some((p) => p.trainLoss !== null) ? `${TRAIN} train_loss` : '',
    points.some((p) => p.validLoss !== null) ? `${VALID} valid_loss` : '',
    points.some((p) => p.trainLoss !== null) && points.some((p) => p.validLoss !== null)
      ? `${BOTH} both`
      : '',
  ].filter(Boolean);
  lines.push(`${' '.repeat(labelWidth + 2)}${legend.join('   ')}`);
  return `${lines.map((l) => l.slice(0, width)).join('\n')}\n`;
}

/** Four significant digits at most: a loss axis needs no more, and the label stays narrow. */
function label(value: number): string {
  return Number(value.toPrecision(4)).toString();
}
