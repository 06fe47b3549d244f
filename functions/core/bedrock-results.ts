/**
 * Amazon Bedrock's training metrics as tunedrop's results.csv, in OpenAI's columns, so that Collect,
 * summarizeResults (results.ts) and the report read a Bedrock run as they read an OpenAI one. Pure.
 *
 * What Bedrock writes (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html,
 * read 2026-11-29 in its English and ja_jp copies), under the job's output S3 URI:
 *   model-customization-job-<job id>/training_artifacts/step_wise_training_metrics.csv
 *     step_number,epoch_number,training_loss,perplexity   (step_number "starts from 0")
 *   model-customization-job-<job id>/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv
 *     the same columns with validation_loss in place of training_loss (only for jobs given validation data)
 *
 * The mapping (tunedrop's results.csv: step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy):
 *   step_number            → step (as Bedrock numbers it, from 0; not renumbered)
 *   training_loss          → train_loss (the cell's text as written: carried exactly)
 *   validation_loss        → valid_loss, joined by step_number
 *   train_accuracy, valid_mean_token_accuracy → empty (Bedrock reports no accuracy)
 *   epoch_number, perplexity → dropped (perplexity is exp(loss); OpenAI's file has no epoch column)
 *
 * Why by step and not by epoch end: the validation file carries a step_number of its own, so each
 * validation loss has an exact step to sit at, and OpenAI's file likewise puts valid_loss on the steps
 * where validation ran, leaving it empty elsewhere. Joining by epoch would have to pick a step for it
 * (the epoch's last) and would lose the step Bedrock gave. The page does not say at which steps Bedrock
 * validates; a validation row whose step has no training row becomes a row of its own (train_loss
 * empty). So every step of either file appears once, in step order, and no loss is changed or dropped.
 */
export const RESULTS_HEADER = 'step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy';

export const BEDROCK_METRICS_FILES = {
  training: 'training_artifacts/step_wise_training_metrics.csv',
  validation: 'validation_artifacts/post_fine_tuning_validation/validation_metrics.csv',
} as const;

/** A metrics file tunedrop cannot read (no header, a column missing, a step that is not a number). */
export class BedrockMetricsError extends Error {
  override readonly name = 'BedrockMetricsError';
}

interface MetricRow {
  step: number;
  loss: string;
}

/** Rows of one metrics CSV: its step_number and the text of its `lossColumn`, in file order. */
export function readMetricsCsv(csv: string, lossColumn: 'training_loss' | 'validation_loss'): MetricRow[] {
  const [header, ...lines] = csv.replace(/^\uFEFF/, '').split(/\r?\n/);
  const columns = (header ?? '').split(',').map((name) => name.trim());
  const stepAt = columns.indexOf('step_number');
  const lossAt = columns.indexOf(lossColumn);
  if (stepAt < 0 || lossAt < 0)
    throw new BedrockMetricsError(
      `the metrics file has no ${stepAt < 0 ? 'step_number' : lossColumn} column (header: ${header ?? ''})`,
    );
  const rows: MetricRow[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    const cells = line.split(',');
    const stepText = cells[stepAt]?.trim() ?? '';
    const step = Number(stepText);
    if (stepText === '' || !Number.isInteger(step))
      throw new BedrockMetricsError(
        `the metrics file has a row whose step_number is not a whole number: ${line}`,
      );
    const loss = cells[lossAt]?.trim() ?? '';
    // A loss that is not a number (NaN, inf, empty) is left empty, as OpenAI leaves an unmeasured cell.
    rows.push({ step, loss: loss !== '' && Number.isFinite(Number(loss)) ? loss : '' });
  }
  return rows;
}

interface ResultRow {
  step: number;
  train: string;
  valid: string;
}

/** tunedrop's results.csv text from Bedrock's training metrics and, when there are any, validation metrics. */
export function bedrockResultsCsv(trainingCsv: string, validationCsv?: string): string {
  const rows: ResultRow[] = readMetricsCsv(trainingCsv, 'training_loss').map((row) => ({
    step: row.step,
    train: row.loss,
    valid: '',
  }));
  const byStep = new Map<number, ResultRow>();
  for (const row of rows) byStep.set(row.step, row);
  for (const validation of validationCsv ? readMetricsCsv(validationCsv, 'validation_loss') : []) {
    const row = byStep.get(validation.step);
    if (row && row.valid === '') row.valid = validation.loss;
    else {
      // No training row at that step (or a second validation row for it): a row of its own, nothing lost.
      const own = { step: validation.step, train: '', valid: validation.loss };
      rows.push(own);
      byStep.set(own.step, own);
    }
  }
  // A stable sort: rows of one step keep their file order.
  rows.sort((a, b) => a.step - b.step);
  return `${[RESULTS_HEADER, ...rows.map((row) => `${row.step},${row.train},,${row.valid},`)].join('\n')}\n`;
}
