import { createReadStream, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findModel } from '../../functions/core/catalog.js';
import { validateDataset } from '../../functions/core/dataset.js';

/**
 * Real public fine-tuning files (../shared/corpus/real, sources in SOURCES.md), with the verdict
 * OpenAI's documented rules give: UTF-8 without BOM, one JSON object per line, chat or preference
 * format, at least 10 examples; prompt/completion only for the retired babbage-002/davinci-002.
 */
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/corpus/real');

const cases: Array<
  [file: string, format: string, verdict: 'valid' | 'invalid', firstError?: string, convertTo?: 'valid']
> = [
  ['cookbook_drone_training.jsonl', 'chat', 'valid'], // tools + parallel_tool_calls
  ['msfoundry_stock_toolcall_training.jsonl', 'chat', 'valid'], // tool calls and tool results
  ['msfoundry_zava_retail_agent_multiturn_tools.jsonl', 'chat', 'valid'], // long multi-turn agent traces
  ['msfoundry_chartqa_vision_validation.jsonl', 'chat', 'valid'], // image_url content parts
  ['msfoundry_gsm8k_chat_validation.jsonl', 'chat', 'valid'],
  ['msfoundry_stock_toolcall_validation_exactly10.jsonl', 'chat', 'valid'], // exactly the minimum, no final newline
  ['msfoundry_orca_dpo_pairs_validation.jsonl', 'preference', 'valid'],
  ['cookbook_toy_chat_fine_tuning.jsonl', 'chat', 'invalid', 'too_few_examples'], // 5 examples
  ['akshata29_sft_validation_with_bom.jsonl', 'chat', 'invalid', 'utf8_bom'],
  ['akshata29_dpo_validation_with_bom.jsonl', 'preference', 'invalid', 'utf8_bom'],
  ['msfoundry_sarcasm_question_answer_not_ft_format.jsonl', 'unknown', 'invalid', 'unknown_format'], // question/answer keys
  ['dabit3_lens_prompt_completion.jsonl', 'prompt_completion', 'invalid', 'legacy_format', 'valid'],
  ['peterw_prompt_completion_exactly10.jsonl', 'prompt_completion', 'invalid', 'legacy_format', 'valid'],
  [
    'peterw_replies_prompt_completion_prepared.jsonl',
    'prompt_completion',
    'invalid',
    'legacy_format',
    'valid',
  ],
];

const validate = (file: string, convertLegacy = false) => {
  const path = join(CORPUS, file);
  return validateDataset(() => createReadStream(path), {
    // Images train only on gpt-4o-2024-08-06 (catalog.ts); the other files on the test default.
    model: findModel(file.includes('vision') ? 'gpt-4o-2024-08-06' : 'gpt-4.1-mini')!,
    seed: 42,
    validationRatio: 0.2,
    maxValidationExamples: 1000,
    nEpochs: 'auto',
    convertLegacy,
    sizeBytes: statSync(path).size,
  });
};

describe('the real public corpus', () => {
  // Rows padded to one length: jest takes a test function with more parameters than the row for a done callback.
  const rows = cases.map(([file, format, verdict, firstError, convertTo]) => ({
    file,
    format,
    verdict,
    firstError,
    convertTo,
  }));
  it.each(rows)('$file is $format and $verdict', async ({ file, format, verdict, firstError, convertTo }) => {
    const report = await validate(file);
    expect(report.format).toBe(format);
    expect(report.verdict).toBe(verdict);
    if (firstError) expect(report.errors[0]?.code).toBe(firstError);
    if (convertTo) expect((await validate(file, true)).verdict).toBe(convertTo);
  });

  it('counts the examples of a file that ends without a newline', async () => {
    expect((await validate('msfoundry_stock_toolcall_validation_exactly10.jsonl')).examples).toBe(10);
  });
});
