import { expectShape } from '../support/openai-spec.js';

/**
 * The Batch fields the live API shows as null until they are set (the spec's own examples of createBatch,
 * retrieveBatch and cancelBatch, and the Batch guide's, https://platform.openai.com/docs/guides/batch,
 * read 2026-11-30), although the spec's Batch schema types them without null; `model` too, which the
 * emulator knows only once the input file is validated.
 */
const NULL_UNTIL_SET = new Set([
  'model',
  'errors',
  'output_file_id',
  'error_file_id',
  'in_progress_at',
  'finalizing_at',
  'completed_at',
  'failed_at',
  'expired_at',
  'cancelling_at',
  'cancelled_at',
]);

/**
 * Validates a Batch against the spec's schema. Only the fields above may be null: those are left out of
 * what is validated, as the SDK types them (`output_file_id?: string`); any other null fails.
 */
export function expectBatchShape(batch: object): void {
  const nulls = Object.entries(batch).filter(([, value]) => value === null);
  const unexpected = nulls
    .map(([key]) => key)
    .filter((key) => !NULL_UNTIL_SET.has(key) && key !== 'metadata');
  if (unexpected.length) throw new Error(`Batch has null ${unexpected.join(', ')}`);
  expectShape(
    'Batch',
    Object.fromEntries(
      Object.entries(batch).filter(([key, value]) => !(value === null && NULL_UNTIL_SET.has(key))),
    ),
  );
}

/** Validates a ListBatchesResponse, each batch as expectBatchShape does. */
export function expectBatchListShape(list: { data: object[] }): void {
  for (const batch of list.data) expectBatchShape(batch);
  expectShape('ListBatchesResponse', { ...list, data: [] });
}
