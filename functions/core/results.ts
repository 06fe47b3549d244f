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

export function summarizeResults(csv: string): TrainingSummary {
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

  const summary: TrainingSummary = { steps: 0, final: null, first: null };
  let lastValid: { loss: number | null; accuracy: number | null } = { loss: null, accuracy: null };
  for (const row of rows) {
    if (!row.trim()) continue;
    const cells = row.split(',');
    const step = num(cells, index.step) ?? summary.steps + 1;
    summary.steps += 1;
    const validLoss = num(cells, index.validLoss);
    const validAccuracy = num(cells, index.validAccuracy);
    if (validLoss !== null || validAccuracy !== null) {
      lastValid = { loss: validLoss ?? lastValid.loss, accuracy: validAccuracy ?? lastValid.accuracy };
    }
    summary.first ??= { step, trainLoss: num(cells, index.trainLoss) };
    summary.final = {
      step,
      trainLoss: num(cells, index.trainLoss),
      trainAccuracy: num(cells, index.trainAccuracy),
      validLoss: lastValid.loss,
      validMeanTokenAccuracy: lastValid.accuracy,
    };
  }
  return summary;
}
