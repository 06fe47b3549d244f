/**
 * Every problem the validator can report, in one place: its code, whether it stops the run (error) or
 * is advice (warning), when it is reported, and the usual fix. Checks name codes from here (the types
 * below refuse any other), the codes table of docs/validation-report.md is rendered from here
 * (`npm run docs`), and test/core/issue-codes.test.ts needs a file that triggers each one.
 *
 * A check may give a more specific fix than `fix` (the setting to change, the model to pick); `fix` is
 * what the docs show.
 */
export interface IssueCodeInfo {
  severity: 'error' | 'warning';
  when: string;
  fix: string;
}

export const ISSUE_CODES = {
  // The file as a whole
  file_too_large: {
    severity: 'error',
    when: "over the provider's file limit (OpenAI: 512 MB), before or after legacy conversion; reading stops there",
    fix: 'Split the data into several files and drop each one.',
  },
  not_utf8_gzip: {
    severity: 'error',
    when: 'the file is gzip-compressed',
    fix: 'Decompress it (gunzip) and upload the .jsonl.',
  },
  not_utf8_zip: {
    severity: 'error',
    when: 'the file is a zip archive',
    fix: 'Unzip it and upload the .jsonl.',
  },
  not_utf8_utf16: {
    severity: 'error',
    when: 'the file is UTF-16 text',
    fix: 'Save it as UTF-8 (without BOM).',
  },
  not_utf8_utf32: {
    severity: 'error',
    when: 'the file is UTF-32 text',
    fix: 'Save it as UTF-8 (without BOM).',
  },
  not_utf8_binary: {
    severity: 'error',
    when: 'the file is binary, not text',
    fix: 'Upload the JSONL text file itself.',
  },
  utf8_bom: {
    severity: 'error',
    when: 'UTF-8 with a byte order mark (the rest of the file is still checked)',
    fix: 'Save the file as UTF-8 without BOM.',
  },
  not_utf8: {
    severity: 'error',
    when: 'invalid UTF-8 bytes on a line',
    fix: 'Save the file as UTF-8 (without BOM).',
  },
  json_array: {
    severity: 'error',
    when: 'a JSON array instead of JSON Lines',
    fix: 'Write one example per line (for example: jq -c ".[]" in.json > out.jsonl).',
  },
  pretty_printed: {
    severity: 'error',
    when: 'objects spread over many lines instead of JSON Lines',
    fix: 'Write one example per line (for example: jq -c . in.json > out.jsonl).',
  },
  empty_file: {
    severity: 'error',
    when: 'the file has no lines',
    fix: 'Upload a file with at least 10 examples.',
  },
  too_few_examples: {
    severity: 'error',
    when: "fewer examples than the model's minimum: 10 (OpenAI, Azure, Nova), or the catalog's `minExamples` training plus validation records (Bedrock Llama 3.1: 100)",
    fix: 'Add examples until there are at least the minimum the message gives (50 to 100 usually give clear gains).',
  },
  too_many_examples: {
    severity: 'error',
    when: 'more training plus validation records than the model takes (catalog `maxExamples`: Bedrock Llama 3.1 10,000, Nova 2 Lite 20,000), supplied validation file included',
    fix: 'Train on fewer examples (split the file into several runs), or have the provider raise the quota.',
  },
  validation_file_not_supported: {
    severity: 'error',
    when: 'a supplied `<name>.validation.jsonl` for a model that trains without validation data (catalog `takesValidationFile: false`: Nova 2 Lite); such a model also gets no split',
    fix: 'Delete or rename the validation file, or pick a model that takes one.',
  },
  too_few_training_examples: {
    severity: 'error',
    when: 'the split would leave fewer than 10 training examples (both counts given); a backstop the planner never reaches',
    fix: 'Add examples, or supply a validation file of your own.',
  },
  mixed_formats: {
    severity: 'error',
    when: "a line in another format than the file's first (reported once)",
    fix: 'Use one format for the whole file.',
  },
  legacy_format: {
    severity: 'error',
    when: 'prompt/completion with `"convertLegacyFormat": false` (conversion is the default)',
    fix: 'Remove "convertLegacyFormat": false, or write the file as chat.',
  },
  method_format_mismatch: {
    severity: 'error',
    when: 'the configured `method` does not fit the file (dpo on chat, supervised on preference pairs)',
    fix: 'Remove "method" from tunedrop.json: the file\'s format then decides.',
  },
  method_not_supported: {
    severity: 'error',
    when: 'the model does not offer the method (catalog)',
    fix: 'Pick a model that offers it.',
  },
  too_many_image_examples: {
    severity: 'error',
    when: 'more than 50,000 examples with images in the file',
    fix: 'Split the file, or drop images from some examples.',
  },
  // A line
  line_too_long: {
    severity: 'error',
    when: 'a line over 64 MiB: no example that long fits the model, so it is not read',
    fix: 'Shorten the example or split it into several.',
  },
  too_deeply_nested: {
    severity: 'error',
    when: 'JSON nested more than 128 levels deep',
    fix: 'Flatten the data: an example needs a few levels.',
  },
  invalid_json: {
    severity: 'error',
    when: 'the line is not JSON (with the column)',
    fix: 'Each line must be one complete JSON object.',
  },
  not_an_object: {
    severity: 'error',
    when: 'the line is JSON but not an object',
    fix: 'Write each example as an object: {"messages": [...]}.',
  },
  unknown_format: {
    severity: 'error',
    when: 'the object is in no fine-tuning format (its keys are listed)',
    fix: 'Use the chat format: {"messages": [...]}.',
  },
  unknown_key: { severity: 'error', when: 'a key that does not belong', fix: 'Remove it.' },
  missing_field: {
    severity: 'error',
    when: 'a required key missing or of the wrong shape',
    fix: 'Add it as the message says.',
  },
  invalid_type: {
    severity: 'error',
    when: 'a key of the wrong type',
    fix: 'Use the type the message names.',
  },
  unknown_role: {
    severity: 'error',
    when: 'a role fine-tuning does not know',
    fix: 'Use system, user, assistant, tool or function.',
  },
  invalid_message: {
    severity: 'error',
    when: 'a message that is not an object',
    fix: 'Write {"role": ..., "content": ...}.',
  },
  missing_content: {
    severity: 'error',
    when: 'a message without content (an assistant one without tool calls either)',
    fix: 'Give the message its text in "content".',
  },
  invalid_content: {
    severity: 'error',
    when: 'content that is neither text nor parts this role may have',
    fix: 'Write the text as a string, or parts of the allowed types.',
  },
  empty_answer: {
    severity: 'error',
    when: 'an assistant message without tool calls whose content is empty, whitespace, or parts of empty text',
    fix: 'Give the answer the model should learn, or drop the example.',
  },
  lone_surrogate: {
    severity: 'error',
    when: 'a string (or key) holding half a UTF-16 pair (`\\ud800`): no UTF-8 text can hold it',
    fix: 'Remove the broken escape or complete the pair.',
  },
  nul_character: {
    severity: 'error',
    when: 'a NUL (`\\u0000`) in a string: the provider may refuse it after the upload',
    fix: 'Remove the NUL characters (usually leftovers of binary data).',
  },
  invalid_weight: {
    severity: 'error',
    when: '`weight` other than 0 or 1',
    fix: 'Use 0 (skip) or 1 (train).',
  },
  no_trained_message: {
    severity: 'error',
    when: 'every assistant message has weight 0',
    fix: 'Set "weight": 1 on at least one answer.',
  },
  no_assistant_message: {
    severity: 'error',
    when: 'no assistant message: nothing to learn from',
    fix: 'Add the answer as an assistant message.',
  },
  invalid_preference: {
    severity: 'error',
    when: 'a preference example whose input does not end with a user turn',
    fix: 'End input.messages with the user turn both outputs answer.',
  },
  invalid_tool_calls: {
    severity: 'error',
    when: 'malformed tool calls (arguments must be a JSON string)',
    fix: 'Write {"id", "type": "function", "function": {"name", "arguments": "{...}"}}.',
  },
  invalid_tools: {
    severity: 'error',
    when: 'malformed tool definitions',
    fix: 'Write {"type": "function", "function": {...}}.',
  },
  invalid_function_name: {
    severity: 'error',
    when: 'a function name outside a-z, A-Z, 0-9, `_`, `-` (at most 64), in tools, functions or calls',
    fix: 'Rename the function to letters, digits, "_" and "-".',
  },
  invalid_parameters: {
    severity: 'error',
    when: '`parameters` that is not a valid JSON Schema (draft-07 meta-schema, first error with its place) or not `"type": "object"`',
    fix: 'Make "parameters" an object schema: {"type": "object", "properties": {...}}.',
  },
  unmatched_tool_result: {
    severity: 'error',
    when: 'a tool message answering no earlier open call',
    fix: 'Give it the id of the call it answers.',
  },
  unanswered_tool_call: {
    severity: 'error',
    when: 'a call the conversation goes past unanswered (calls in the last message may stay open)',
    fix: 'Add the tool message that answers it.',
  },
  duplicate_tool_call_id: {
    severity: 'error',
    when: 'a call id used twice in an example',
    fix: 'Give each call its own id.',
  },
  format_not_supported: {
    severity: 'error',
    when: 'something the model\'s Bedrock record format has no place for: tool definitions, tool calls or tool messages, `"weight": 0`, a message `name` (catalog `dataFormat`); once per example',
    fix: 'Remove it from the examples, or train them on OpenAI or Azure OpenAI.',
  },
  role_order: {
    severity: 'error',
    when: 'roles in an order the model refuses: Nova takes one optional system message first, then user and assistant alternating, from user to assistant; Llama 3.1 exactly one user then one assistant message, no system',
    fix: 'Reorder or merge the messages; for Llama put instructions into the user message.',
  },
  reserved_word: {
    severity: 'error',
    when: 'a message contains a word the model reserves (catalog `reservedWords`, Nova: `User:`, `Bot:`, `Assistant:`, `System:`, `<image>`, `<video>`, `[EOS]`): the training job would fail',
    fix: 'Rewrite the text without the reserved word.',
  },
  images_not_supported: {
    severity: 'error',
    when: 'an image for a model that cannot be fine-tuned on images (OpenAI: only `gpt-4o-2024-08-06`), or in a preference (DPO) example; once per example',
    fix: 'Use gpt-4o-2024-08-06, or remove the images.',
  },
  unsupported_modality: {
    severity: 'error',
    when: 'an audio (`input_audio`) or `file` part: fine-tuning does not train on them',
    fix: 'Remove the part, or describe it in text.',
  },
  invalid_image: {
    severity: 'error',
    when: 'an image URL that is neither http(s) nor a base64 data URL, broken base64, or bytes that are no readable image',
    fix: 'Use an https URL or a data:image/...;base64 URL of a JPEG, PNG or WEBP.',
  },
  unsupported_image_format: {
    severity: 'error',
    when: 'not JPEG, PNG or WEBP (or not what its data URL declares)',
    fix: 'Convert the image to JPEG, PNG or WEBP.',
  },
  unsupported_image_mode: {
    severity: 'error',
    when: 'not RGB or RGBA (grey, palette, CMYK)',
    fix: 'Convert the image to RGB.',
  },
  image_too_large: { severity: 'error', when: 'an image over 10 MB', fix: 'Resize or recompress the image.' },
  too_many_images: {
    severity: 'error',
    when: 'more than 10 images in an example',
    fix: 'Split the example.',
  },
  example_too_long: {
    severity: 'error',
    when: "the tokens before the last answer reach the model's limit, so no answer would be trained",
    fix: 'Shorten the conversation or split it into several examples.',
  },
  secret_in_data: {
    severity: 'error',
    when: 'what looks like a credential (its kind and place named, never its text)',
    fix: 'Remove and revoke it; for a deliberate fake set "secretScan": "warning".',
  },
  // The run's settings (reported by the Validate function, not the file check)
  invalid_config: {
    severity: 'error',
    when: "the family's `tunedrop.json` is not valid",
    fix: 'Fix the setting named.',
  },
  config_too_large: {
    severity: 'error',
    when: "the family's `tunedrop.json` is over 64 KB (it is not read)",
    fix: 'Keep tunedrop.json to the settings that differ from the defaults.',
  },
  model_not_available: {
    severity: 'error',
    when: 'the model is unknown, retired, or closed to new jobs',
    fix: 'Set "model" to one the message lists.',
  },
  over_budget: {
    severity: 'error',
    when: 'the estimated cost is over `maxCostUsd`',
    fix: 'Raise "maxCostUsd", pick a cheaper model, or train on less.',
  },
  setting_out_of_range: {
    severity: 'error',
    when: 'a hyperparameter outside the range the provider accepts for the model (Bedrock checks them when the job is created; catalog `hyperparameters`)',
    fix: 'Set it within the range the message gives, or leave it out for the default.',
  },
  family_name_invalid: {
    severity: 'error',
    when: 'the family folder\'s name has characters other than letters, digits, "_", "." and "-": it names the family\'s SSM parameter and schedule, which take no others',
    fix: 'Move the file into a folder named with letters, digits, "_", "." and "-" only.',
  },
  provider_not_deployed: {
    severity: 'error',
    when: "the settings choose a provider the stack was not deployed with (the pipeline's `providers` prop)",
    fix: 'Choose a deployed provider, or redeploy with this one.',
  },
  budget_uncheckable: {
    severity: 'error',
    when: "`maxCostUsd` is set but no source gives the model's training price at its provider (catalog), so the budget cannot be kept",
    fix: 'Leave "maxCostUsd" out, or pick a model whose price the catalog knows.',
  },
  validation_format_mismatch: {
    severity: 'error',
    when: 'a supplied validation file in another format than the training file',
    fix: 'Write both files in the same format.',
  },
  internal_error: {
    severity: 'error',
    when: 'validation crashed or ran out of time, a bug in tunedrop: the run FAILED; where is named',
    fix: 'Report it with the run id.',
  },
  // Advice
  legacy_converted: {
    severity: 'warning',
    when: 'a prompt/completion file was converted to chat; says what was stripped, how often',
    fix: 'Nothing for this run; write new data as chat.',
  },
  duplicate_example: {
    severity: 'warning',
    when: 'the same example as an earlier line',
    fix: 'Remove the copies unless they are meant to weigh more.',
  },
  model_retiring: {
    severity: 'warning',
    when: 'the model takes new jobs for 30 days or fewer (catalog `newJobsUntil`)',
    fix: 'Train what you need before then; afterwards use another provider.',
  },
  model_access_limited: {
    severity: 'warning',
    when: 'the provider trains the model only for some customers (catalog `accessNote`: Azure after a base model retired)',
    fix: 'If the provider refuses the job, set "provider" to another one in tunedrop.json.',
  },
  price_unknown: {
    severity: 'warning',
    when: "no source gives the model's training price at its provider (catalog): the run's cost is not estimated",
    fix: "Check the provider's pricing page before training a large file.",
  },
  fine_tune_shutdown: {
    severity: 'warning',
    when: 'the provider shuts the base model, and every fine-tune of it, down within 90 days (catalog `shutdownOn`)',
    fix: "Plan the trained model's replacement.",
  },
  identical_preference: {
    severity: 'warning',
    when: 'a preference pair whose preferred and non-preferred outputs are the same: it teaches nothing',
    fix: 'Give the pair two different answers, or drop it.',
  },
  duplicate_key: {
    severity: 'warning',
    when: 'a key written twice in one object: only its last value is read, as the provider reads it',
    fix: 'Keep one of the two keys, with the value you mean.',
  },
  undeclared_function: {
    severity: 'warning',
    when: "a call to a function the example's tools/functions do not declare (not flagged when it declares none)",
    fix: 'Declare the function in "tools".',
  },
  possible_secret: {
    severity: 'warning',
    when: 'a credential, when the family set `"secretScan": "warning"`',
    fix: 'Remove credentials from training data.',
  },
  special_token: {
    severity: 'warning',
    when: 'reserved tokens (`<|endoftext|>`…) in the data',
    fix: 'Remove them: they are trained as plain text.',
  },
  missing_system_message: {
    severity: 'warning',
    when: 'examples without a system message',
    fix: 'Start each example with the system message you will use.',
  },
  missing_user_message: {
    severity: 'warning',
    when: 'examples without a user message',
    fix: 'Include the user turn.',
  },
  surrounding_whitespace: {
    severity: 'warning',
    when: 'answers with leading or trailing whitespace the model would learn',
    fix: 'Trim the answers.',
  },
  legacy_separator: {
    severity: 'warning',
    when: 'separators or end tokens of the 2023 prompt/completion recipe left in chat messages',
    fix: 'Remove them: chat models need none.',
  },
  will_be_truncated: {
    severity: 'warning',
    when: "longer than the model's limit, while its answer still fits: the end is cut",
    fix: 'Shorten the example.',
  },
  few_examples_per_class: {
    severity: 'warning',
    when: 'classification with fewer than 100 examples in a class',
    fix: 'Add examples of the small classes.',
  },
  few_examples: {
    severity: 'warning',
    when: 'generation with fewer than 500 examples',
    fix: 'Add examples; quality grows with them.',
  },
  image_tokens_estimated: {
    severity: 'warning',
    when: 'images given as URLs are not fetched: counted at the most an image can cost (1,445 tokens, 85 at `"detail": "low"`); `estimate.upperEstimate` is true',
    fix: 'Use data URLs for an exact count, or read the cost as an upper bound.',
  },
} as const satisfies Record<string, IssueCodeInfo>;

export type IssueCode = keyof typeof ISSUE_CODES;
type CodesOf<S extends IssueCodeInfo['severity']> = {
  [K in IssueCode]: (typeof ISSUE_CODES)[K]['severity'] extends S ? K : never;
}[IssueCode];
/** Codes that stop a run. */
export type ErrorCode = CodesOf<'error'>;
/** Codes of advice. */
export type WarningCode = CodesOf<'warning'>;

export function severityOf(code: IssueCode): IssueCodeInfo['severity'] {
  return ISSUE_CODES[code].severity;
}

/** The codes table of docs/validation-report.md, errors first, in registry order. */
export function renderIssueCodeTable(): string {
  const rows = (Object.entries(ISSUE_CODES) as Array<[IssueCode, IssueCodeInfo]>)
    .sort(([, a], [, b]) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1))
    .map(([code, info]) => `| \`${code}\` | ${info.severity} | ${cell(info.when)} | ${cell(info.fix)} |`);
  return ['| code | severity | when | usual fix |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** A table cell: a pipe would end it. */
const cell = (text: string) => text.replace(/\|/g, '\\|');
