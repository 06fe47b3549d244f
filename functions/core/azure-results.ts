/**
 * Azure OpenAI's results.csv in tunedrop's columns, which are OpenAI's:
 * `step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy` (results.ts reads them, and the
 * run's `runs/<runId>/results.csv` has them whoever trained).
 *
 * Azure's columns, read 2026-11-29 (docs/providers.md A7 has the sources and their disagreement):
 * - the v1 spec (Azure/azure-rest-api-specs specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.yaml,
 *   OpenAI.FineTuningJobCheckpoint.metrics) names `step, train_loss, train_mean_token_accuracy,
 *   valid_loss, valid_mean_token_accuracy, full_valid_loss, full_valid_mean_token_accuracy`;
 * - two public Azure runs show a results.csv header of the first five only;
 * - an older how-to names a column `validation_mean_token_accuracy`.
 *
 * The mapping, column by column (each tunedrop column takes the first of its Azure names the header has;
 * a column none of them is in stays empty on every row):
 *
 * | tunedrop                    | Azure                                                            |
 * | --------------------------- | ---------------------------------------------------------------- |
 * | `step`                      | `step` (required: without it the file is not a results.csv)     |
 * | `train_loss`                | `train_loss`                                                     |
 * | `train_accuracy`            | `train_mean_token_accuracy`, else `train_accuracy` (OpenAI's)   |
 * | `valid_loss`                | `valid_loss`                                                     |
 * | `valid_mean_token_accuracy` | `valid_mean_token_accuracy`, else `validation_mean_token_accuracy` |
 *
 * `full_valid_loss` and `full_valid_mean_token_accuracy` (the whole validation set, at epoch ends) are
 * not carried: OpenAI's results.csv has no such columns either, and the run's summary reads the five
 * above. Every row is kept, in order, and every value is copied as written (no number is parsed and
 * printed again, so nothing is rounded); blank lines are not rows. Columns are found by name, so their
 * order in Azure's header does not matter.
 *
 * Delivery: Microsoft's job-management guide saves the downloaded bytes as results.csv as they are
 * (MicrosoftDocs/azure-ai-docs articles/foundry/includes/fine-tuning-job-management.md), where OpenAI
 * delivers base64; both are read, and a UTF-8 byte-order mark before the header is dropped.
 */

export const RESULTS_COLUMNS = [
  'step',
  'train_loss',
  'train_accuracy',
  'valid_loss',
  'valid_mean_token_accuracy',
] as const;
export type ResultsColumn = (typeof RESULTS_COLUMNS)[number];

/** For each tunedrop column, the Azure header names it is read from, in order of preference. */
export const AZURE_RESULTS_SOURCES: Readonly<Record<ResultsColumn, readonly string[]>> = {
  step: ['step'],
  train_loss: ['train_loss'],
  train_accuracy: ['train_mean_token_accuracy', 'train_accuracy'],
  valid_loss: ['valid_loss'],
  valid_mean_token_accuracy: ['valid_mean_token_accuracy', 'validation_mean_token_accuracy'],
};

const BOM = '\uFEFF';

/** The CSV text of Azure's result file, as delivered plain or base64; throws when it is neither. */
export function azureResultsText(bytes: Uint8Array): string {
  const text = stripBom(new TextDecoder().decode(bytes)).trim();
  if (hasStepColumn(text)) return text;
  // Base64 of a CSV has no comma, so a plain CSV without a step column is not mistaken for it.
  const decoded = /^[A-Za-z0-9+/=\s]+$/.test(text)
    ? stripBom(Buffer.from(text, 'base64').toString('utf8')).trim()
    : '';
  if (!hasStepColumn(decoded))
    throw new Error('the result file is neither a CSV with a "step" column nor base64 of one');
  return decoded;
}

/** Azure's results.csv (text) in tunedrop's columns, with a final newline. */
export function mapAzureResults(csv: string): string {
  const [header = '', ...rows] = stripBom(csv).split(/\r?\n/);
  const names = header.split(',').map((name) => name.trim());
  if (!names.includes('step')) throw new Error('the result file has no "step" column');
  const from = RESULTS_COLUMNS.map((column) => {
    const source = AZURE_RESULTS_SOURCES[column].find((name) => names.includes(name));
    return source === undefined ? -1 : names.indexOf(source);
  });
  const lines = [RESULTS_COLUMNS.join(',')];
  for (const row of rows) {
    if (!row.trim()) continue;
    const cells = row.split(',');
    lines.push(from.map((index) => (index < 0 ? '' : (cells[index] ?? ''))).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Azure's result file as downloaded (plain or base64) → tunedrop's results.csv. */
export function azureResultsToTunedrop(bytes: Uint8Array): string {
  return mapAzureResults(azureResultsText(bytes));
}

function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

function hasStepColumn(text: string): boolean {
  const header = text.split(/\r?\n/, 1)[0] ?? '';
  return header.split(',').some((name) => name.trim() === 'step');
}
