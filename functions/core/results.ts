/**
 * Reading the provider's result file. OpenAI delivers `results.csv` base64-encoded; the columns are
 * `step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy`, with the valid columns empty on
 * steps where no validation ran.
 */
export interface TrainingSummary {
  steps: number;
  final: {
    step: number;
    trainLoss: number | null;
    trainAccuracy: number | null;
    validLoss: number | null;
    validMeanTokenAccuracy: number | null;
  } | null;
  first: { step: number; trainLoss: number | null } | null;
}

const EXPECTED_FIRST_COLUMN = 'step';

/** Returns the CSV text, decoding base64 when the provider sent it encoded. */
export function decodeResultFile(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes).trim();
  if (text.startsWith(EXPECTED_FIRST_COLUMN)) return `${text}\n`;
  const decoded = Buffer.from(text, 'base64').toString('utf8').trim();
  if (!decoded.startsWith(EXPECTED_FIRST_COLUMN)) {
    throw new Error('the result file is neither a CSV with a "step" column nor base64 of one');
  }
  return `${decoded}\n`;
}

/** One row of a results.csv, by column name; a cell that is empty, not a number or NaN is null. */
export interface ResultRow {
  step: number;
  trainLoss: number | null;
  trainAccuracy: number | null;
  validLoss: number | null;
  validAccuracy: number | null;
}

/**
 * The rows of a results.csv (decoded: decodeResultFile). Columns are found by name, so a provider's extra
 * or missing columns do not shift them. A row without a step number takes the next one.
 */
export function resultRows(csv: string): ResultRow[] {
  const [header, ...rows] = csv.trim().split(/\r?\n/);
  const columns = (header ?? '').split(',').map((c) => c.trim());
  const at = (name: string) => columns.indexOf(name);
  const index = {
    step: at('step'),
    trainLoss: at('train_loss'),
    trainAccuracy: at('train_accuracy'),
    validLoss: at('valid_loss'),
    validAccuracy: at('valid_mean_token_accuracy'),
  };
  const num = (cells: string[], i: number): number | null => {
    if (i < 0) return null;
    const cell = cells[i]?.trim();
    if (!cell) return null;
    const value = Number(cell);
    return Number.isFinite(value) ? value : null;
  };
  const result: ResultRow[] = [];
  for (const row of rows) {
    if (!row.trim()) continue;
    const cells = row.split(',');
    result.push({
      step: num(cells, index.step) ?? result.length + 1,
      trainLoss: num(cells, index.trainLoss),
      trainAccuracy: num(cells, index.trainAccuracy),
      validLoss: num(cells, index.validLoss),
      validAccuracy: num(cells, index.validAccuracy),
    });
  }
  return result;
}

export function summarizeResults(csv: string): TrainingSummary {
  const summary: TrainingSummary = { steps: 0, final: null, first: null };
  let lastValid: { loss: number | null; accuracy: number | null } = { loss: null, accuracy: null };
  for (const row of resultRows(csv)) {
    summary.steps += 1;
    if (row.validLoss !== null || row.validAccuracy !== null) {
      lastValid = {
        loss: row.validLoss ?? lastValid.loss,
        accuracy: row.validAccuracy ?? lastValid.accuracy,
      };
    }
    summary.first ??= { step: row.step, trainLoss: row.trainLoss };
    summary.final = {
      step: row.step,
      trainLoss: row.trainLoss,
      trainAccuracy: row.trainAccuracy,
      validLoss: lastValid.loss,
      validMeanTokenAccuracy: lastValid.accuracy,
    };
  }
  return summary;
}
