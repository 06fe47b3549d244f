import { PROVIDER_TITLES, type ModelInfo } from './catalog.js';
import type { ChatMessage, FormatProblem } from './formats.js';
import { issue, type DatasetIssue } from './issue-list.js';

/**
 * Amazon Bedrock's per-model rules for one chat example, checked at validation so that a file Bedrock
 * would fail on ("the training job will fail due to data issues", after the upload and the job's start)
 * is refused first, with its line. The example has passed OpenAI's chat checks already (formats.ts);
 * these are what the model's own format (catalog `dataFormat`, bedrock-format.ts) adds:
 *
 * - `format_not_supported`: what the format has no place for, so that bedrock-format.ts could only drop
 *   it and train something else than the user wrote: tool definitions, tool calls and tool messages
 *   (neither format has them; Nova 2 SFT: tool sections "might cause your job to fail",
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html), `"weight": 0`
 *   (every assistant turn is trained), and a message `name`. Images are refused as for any text-only
 *   model (`images_not_supported`, formats.ts: no Bedrock model in the catalog takes them).
 * - `role_order`: Nova (`bedrock-conversation-2024`): "the first turn must be user, the last assistant",
 *   roles user and assistant only, alternating; a system prompt goes in its own field, so a system
 *   message is allowed first only
 *   (https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html).
 *   Llama 3.1 (`prompt-completion`): exactly one user and one assistant message; AWS documents no place
 *   for a system prompt in `{"prompt", "completion"}` records
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-code-samples.html), and
 *   "Meta Llama models support only single-turn conversation prompts"
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-data-prep-option-1.html), so a
 *   system message is refused rather than folded into the prompt in a way no AWS page describes.
 * - `reserved_word`: Nova's reserved words (catalog `reservedWords`): "If your prompt starts with or
 *   contains one of these, the training job will fail due to data issues" (the Nova page above). Looked
 *   for in every message, as the local emulator does: the page's "prompt" is the whole record.
 * All read 2026-11-29. Each code is given once per example, at its first place.
 */
export function bedrockExampleProblems(
  example: Record<string, unknown>,
  messages: readonly ChatMessage[],
  model: ModelInfo,
): FormatProblem[] {
  const format = model.dataFormat;
  if (format !== 'bedrock-conversation-2024' && format !== 'prompt-completion') return [];
  const problems: FormatProblem[] = [];
  const unsupported = unsupportedPart(example, messages);
  if (unsupported)
    problems.push({
      code: 'format_not_supported',
      message: `${unsupported}: ${model.id} trains on ${format} records on ${PROVIDER_TITLES[model.provider]}, which have no place for it`,
      fix: `Remove tool definitions, tool calls, tool messages, "weight" and "name" from the examples for ${model.id}, or train them on OpenAI or Azure OpenAI ("provider" in tunedrop.json).`,
    });
  // Without tool messages and calls, an exchange with tools leaves two answers in a row: the order is
  // said only of examples that have nothing unsupported, or the one cause would be reported twice.
  const order = unsupported
    ? undefined
    : roleOrderProblem(
        messages.map((m) => m.role),
        model,
      );
  if (order) problems.push(order);
  const reserved = reservedWordIn(messages, model.reservedWords ?? []);
  if (reserved)
    problems.push({
      code: 'reserved_word',
      message: `${reserved.where} contains ${JSON.stringify(reserved.word)}, a word ${model.id} reserves: a record with one fails the training job`,
      fix: `Rewrite the text without ${(model.reservedWords ?? []).map((w) => JSON.stringify(w)).join(', ')} (for example "User -" instead of "User:").`,
    });
  return problems;
}

function unsupportedPart(
  example: Record<string, unknown>,
  messages: readonly ChatMessage[],
): string | undefined {
  for (const key of ['tools', 'functions', 'parallel_tool_calls'])
    if (key in example) return `the example has "${key}"`;
  for (const [i, message] of messages.entries()) {
    if (message.role === 'tool' || message.role === 'function')
      return `messages[${i}] is a ${message.role} message`;
    for (const key of ['tool_calls', 'function_call'])
      if (message[key] !== undefined) return `messages[${i}] has "${key}"`;
    if (message.weight === 0) return `messages[${i}] has "weight": 0`;
    if (message.name !== undefined) return `messages[${i}] has a "name"`;
  }
  return undefined;
}

function roleOrderProblem(roles: readonly string[], model: ModelInfo): FormatProblem | undefined {
  const said = roles.join(', ') || 'none';
  if (model.dataFormat === 'prompt-completion') {
    if (roles.length === 2 && roles[0] === 'user' && roles[1] === 'assistant') return undefined;
    return {
      code: 'role_order',
      message: `the messages are ${said}; ${model.id} trains on {"prompt", "completion"} records: exactly one user message, then one assistant message${roles.includes('system') ? ', and no system message (AWS documents no place for one)' : ''}`,
      fix: 'Write each example as one user message and its assistant answer; put any instructions into the user message, and split a longer conversation into single exchanges.',
    };
  }
  const turns = roles[0] === 'system' ? roles.slice(1) : roles;
  const wrong = turns.findIndex((role, i) => role !== (i % 2 === 0 ? 'user' : 'assistant'));
  if (wrong < 0 && turns.at(-1) === 'assistant') return undefined;
  const offset = roles.length - turns.length;
  const where =
    wrong >= 0
      ? `messages[${wrong + offset}] is ${turns[wrong] === 'system' ? 'a system message after the first' : `${turns[wrong]} where ${wrong % 2 === 0 ? 'user' : 'assistant'} belongs`}`
      : 'the last message is not from the assistant';
  return {
    code: 'role_order',
    message: `${where} (the messages are ${said}); ${model.id} takes an optional system message first, then turns that start with user, alternate user/assistant and end with assistant`,
    fix: 'Reorder or merge the messages so that user and assistant alternate, starting with user and ending with the answer; keep one system message, first.',
  };
}

function reservedWordIn(
  messages: readonly ChatMessage[],
  words: readonly string[],
): { where: string; word: string } | undefined {
  if (words.length === 0) return undefined;
  for (const [i, message] of messages.entries()) {
    const { content } = message;
    const texts: Array<[string, string]> =
      typeof content === 'string'
        ? [[`messages[${i}].content`, content]]
        : Array.isArray(content)
          ? content.flatMap((part: unknown, j): Array<[string, string]> => {
              const text = typeof part === 'object' && part !== null ? Reflect.get(part, 'text') : undefined;
              return typeof text === 'string' ? [[`messages[${i}].content[${j}].text`, text]] : [];
            })
          : [];
    for (const [where, text] of texts) {
      const word = words.find((w) => text.includes(w));
      if (word) return { where, word };
    }
  }
  return undefined;
}

/**
 * The run-level rules of a supplied validation file (`<name>.validation.jsonl`), which only the caller
 * that read both files can check: a model that trains without one (Nova 2 Lite: "Validation sets … will
 * not be supported during SFT training", https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html,
 * read 2026-11-29) refuses it, and the model's record limits count training plus validation records
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html, read 2026-11-29).
 */
export function suppliedValidationIssues(
  model: ModelInfo,
  file: { key: string; examples: number },
  trainingExamples: number,
): DatasetIssue[] {
  const issues: DatasetIssue[] = [];
  if (model.takesValidationFile === false)
    issues.push({
      ...issue(
        'validation_file_not_supported',
        `${file.key} is a validation file, and ${PROVIDER_TITLES[model.provider]} trains ${model.id} without one`,
        `Delete ${file.key} (or rename it so it does not end in .validation.jsonl), or set "model" to one that takes a validation file.`,
      ),
      file: file.key,
    });
  const total = trainingExamples + file.examples;
  if (model.maxExamples !== undefined && total > model.maxExamples)
    issues.push(
      tooManyExamples(model, total, `${trainingExamples} training and ${file.examples} validation`),
    );
  if (model.minExamples !== undefined && total < model.minExamples)
    issues.push(
      issue(
        'too_few_examples',
        `the training and validation files have ${total} examples together; ${model.id} needs at least ${model.minExamples}`,
        `Add examples until both files together have at least ${model.minExamples}.`,
      ),
    );
  return issues;
}

/** More training plus validation records than the model takes (catalog `maxExamples`). */
export function tooManyExamples(model: ModelInfo, total: number, detail?: string): DatasetIssue {
  return issue(
    'too_many_examples',
    `the run has ${total} examples${detail ? ` (${detail})` : ''}; ${PROVIDER_TITLES[model.provider]} takes at most ${model.maxExamples ?? total} training plus validation records for ${model.id}`,
    `Train on at most ${model.maxExamples ?? total} examples (split the file into several runs), or ask AWS to raise the quota ("adjustable using service quotas") and raise maxExamples in functions/core/catalog.ts.`,
  );
}
