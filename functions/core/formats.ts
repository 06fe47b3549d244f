/**
 * The shapes of a training example, checked field by field as OpenAI's fine-tuning file validator
 * does (training-file schemas of the OpenAI API spec, 2025-04 revision, and the fine-tuning guide).
 * Hand-written rather than a schema library: every problem must name its exact place
 * (`messages[2].tool_calls[0].function.arguments`) and say how to fix it, and this runs per line on
 * files of hundreds of megabytes.
 */
import { modelsTrainingOn, type ModelInfo } from './catalog.js';
import type { ErrorCode, IssueCode, WarningCode } from './issue-codes.js';
import { checkImageUrl, isDetail, MAX_IMAGES_PER_EXAMPLE, rememberImage } from './images.js';
import { isEmptyAnswer, stringProblems } from './content.js';
import {
  functionNameProblem,
  parametersProblem,
  toolCallPairing,
  undeclaredCalls,
  type ToolProblem,
} from './tool-schemas.js';

export type DatasetFormat = 'chat' | 'preference' | 'prompt_completion';

/** A problem a check found: an error (the default) or, with a warning code, advice. */
export interface FormatProblem<Code extends IssueCode = ErrorCode> {
  code: Code;
  message: string;
  fix: string;
}

export type ChatMessage = Record<string, unknown> & { role: string };

/** What a check needs to know beyond the example: the model decides which content it can train on. */
export interface CheckContext {
  model: ModelInfo;
  /**
   * The line's JSON text, when the caller has it: the lone-surrogate and NUL checks (content.ts) look
   * at the example's strings only when the text holds such an escape, instead of on every line.
   */
  line?: string;
}

/** Problems stop the example; warnings are advice at its line. */
export interface CheckResult {
  problems: FormatProblem[];
  warnings: Array<FormatProblem<WarningCode>>;
  example?: CheckedExample;
}

/** What token counting and the warnings need from a valid example, whatever its format. */
export interface CheckedExample {
  /** Every message that is trained on or conditions training, in order. */
  messages: ChatMessage[];
  tools?: unknown;
  /** The assistant answer(s), for classification detection and whitespace checks. */
  answers: string[];
}

export const FORMAT_NAMES: Record<DatasetFormat, string> = {
  chat: 'chat (messages)',
  preference: 'preference / DPO (input, preferred_output, non_preferred_output)',
  prompt_completion: 'legacy prompt/completion',
};

export function detectFormat(example: Record<string, unknown>): DatasetFormat | undefined {
  if ('messages' in example) return 'chat';
  if ('input' in example || 'preferred_output' in example || 'non_preferred_output' in example)
    return 'preference';
  if ('prompt' in example || 'completion' in example) return 'prompt_completion';
  return undefined;
}

const ROLES = ['system', 'user', 'assistant', 'tool', 'function'] as const;
const MESSAGE_KEYS: Record<(typeof ROLES)[number], readonly string[]> = {
  system: ['role', 'content', 'name'],
  user: ['role', 'content', 'name'],
  assistant: ['role', 'content', 'name', 'weight', 'tool_calls', 'function_call', 'refusal', 'audio'],
  tool: ['role', 'content', 'tool_call_id'],
  function: ['role', 'content', 'name'],
};
const CHAT_KEYS = ['messages', 'tools', 'parallel_tool_calls', 'functions'];
const PREFERENCE_KEYS = ['input', 'preferred_output', 'non_preferred_output'];
const USER_PART_TYPES = ['text', 'image_url', 'input_audio', 'file'];

class Problems {
  readonly list: FormatProblem[] = [];
  readonly warnings: Array<FormatProblem<WarningCode>> = [];
  add(code: ErrorCode, message: string, fix: string): void {
    this.list.push({ code, message, fix });
  }
  warn(code: WarningCode, message: string, fix: string): void {
    this.warnings.push({ code, message, fix });
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const typeName = (value: unknown) =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? value.length === 0
        ? 'an empty list'
        : 'a list'
      : typeof value === 'object'
        ? 'an object'
        : `a ${typeof value}`;

export function checkChatExample(example: Record<string, unknown>, context: CheckContext): CheckResult {
  const problems = new Problems();
  unknownKeys(example, CHAT_KEYS, '', problems);
  const content = contentRules(context);
  const messages = checkMessages(example.messages, 'messages', problems, { needAssistant: true, content });
  countImages(content, problems);
  checkTools(example, '', problems);
  if (messages) checkToolUse(messages, 'messages', declaredNames(example), problems);
  checkStrings(example, context, problems);
  if (problems.list.length > 0 || !messages) return { problems: problems.list, warnings: problems.warnings };
  return {
    problems: [],
    warnings: problems.warnings,
    example: {
      messages,
      tools: example.tools ?? example.functions,
      answers: answersOf(messages),
    },
  };
}

export function checkPreferenceExample(example: Record<string, unknown>, context: CheckContext): CheckResult {
  const problems = new Problems();
  unknownKeys(example, PREFERENCE_KEYS, '', problems);
  const content = contentRules(context, 'DPO trains on text only');
  const declared = isObject(example.input) ? declaredNames(example.input) : undefined;
  // Tool call ids of the input, which the outputs continue.
  const ids = new Map<string, string>();
  let input: ChatMessage[] | undefined;
  if (!isObject(example.input)) {
    problems.add(
      'missing_field',
      `"input" must be an object with "messages", not ${typeName(example.input)}`,
      'Write "input": {"messages": [...]} with the conversation so far.',
    );
  } else {
    unknownKeys(example.input, ['messages', 'tools', 'parallel_tool_calls'], 'input.', problems);
    input = checkMessages(example.input.messages, 'input.messages', problems, {
      needAssistant: false,
      content,
    });
    checkTools(example.input, 'input.', problems);
    if (input) checkToolUse(input, 'input.messages', declared, problems, ids);
    if (input && input.at(-1)?.role !== 'user') {
      problems.add(
        'invalid_preference',
        'the last message of input.messages must be from the user',
        'End "input.messages" with the user turn both outputs answer.',
      );
    }
  }
  const outputs: ChatMessage[] = [];
  for (const key of ['preferred_output', 'non_preferred_output'] as const) {
    const value = example[key];
    if (!Array.isArray(value) || value.length !== 1) {
      problems.add(
        'missing_field',
        `"${key}" must be a list with exactly one assistant message`,
        `Write "${key}": [{"role": "assistant", "content": "..."}].`,
      );
      continue;
    }
    const checked = checkMessages(value, key, problems, { needAssistant: true, content });
    if (checked?.[0]) outputs.push(checked[0]);
    if (checked) checkToolUse(checked, key, declared, problems, new Map(ids));
  }
  checkStrings(example, context, problems);
  if (
    outputs.length === 2 &&
    JSON.stringify(example.preferred_output) === JSON.stringify(example.non_preferred_output)
  ) {
    problems.warn(
      'identical_preference',
      'the preferred and the non-preferred output are the same, so the pair teaches no preference',
      'Give the pair two different answers, the better one as preferred_output, or drop it.',
    );
  }
  if (problems.list.length > 0 || !input) return { problems: problems.list, warnings: problems.warnings };
  const inputTools = isObject(example.input) ? example.input.tools : undefined;
  return {
    problems: [],
    warnings: problems.warnings,
    example: { messages: [...input, ...outputs], tools: inputTools, answers: outputs.map(textOf) },
  };
}

export function checkPromptCompletion(example: Record<string, unknown>): {
  problems: FormatProblem[];
  prompt?: string;
  completion?: string;
} {
  const problems = new Problems();
  unknownKeys(example, ['prompt', 'completion'], '', problems);
  for (const key of ['prompt', 'completion'] as const) {
    if (typeof example[key] !== 'string') {
      problems.add(
        'missing_field',
        `"${key}" must be a string, not ${typeName(example[key])}`,
        `Give every line a string "${key}".`,
      );
    }
  }
  if (problems.list.length > 0) return { problems: problems.list };
  return { problems: [], prompt: example.prompt as string, completion: example.completion as string };
}

function unknownKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  prefix: string,
  problems: Problems,
) {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      problems.add(
        'unknown_key',
        `unknown key "${prefix}${key}"`,
        `Remove "${prefix}${key}"; allowed here: ${allowed.join(', ')}.`,
      );
    }
  }
}

function checkMessages(
  value: unknown,
  path: string,
  problems: Problems,
  options: { needAssistant: boolean; content: ContentRules },
): ChatMessage[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    problems.add(
      'missing_field',
      `"${path}" must be a non-empty list of messages, not ${typeName(value)}`,
      `Write "${path}": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}].`,
    );
    return undefined;
  }
  const before = problems.list.length;
  value.forEach((message, i) => checkMessage(message, `${path}[${i}]`, problems, options.content));
  if (problems.list.length > before) return undefined;
  const messages = value as ChatMessage[];
  if (options.needAssistant && !messages.some((m) => m.role === 'assistant')) {
    problems.add(
      'no_assistant_message',
      'the example has no assistant message, so there is nothing to learn from',
      'Add the answer the model should give as a message with "role": "assistant".',
    );
    return undefined;
  }
  if (options.needAssistant && !messages.some((m) => m.role === 'assistant' && m.weight !== 0)) {
    problems.add(
      'no_trained_message',
      'every assistant message has "weight": 0, so nothing is trained',
      'Set "weight": 1 (or leave it out) on at least one assistant message.',
    );
    return undefined;
  }
  return messages;
}

function checkMessage(message: unknown, path: string, problems: Problems, rules: ContentRules) {
  if (!isObject(message)) {
    problems.add(
      'invalid_message',
      `${path} must be an object, not ${typeName(message)}`,
      'Each message is {"role": "...", "content": "..."}.',
    );
    return;
  }
  const role = message.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    problems.add(
      'unknown_role',
      role === undefined
        ? `${path} has no "role"`
        : `${path}.role ${JSON.stringify(role)} is not a role fine-tuning knows`,
      `Use one of: ${ROLES.join(', ')}.`,
    );
    return;
  }
  const r = role as (typeof ROLES)[number];
  unknownKeys(message, MESSAGE_KEYS[r], `${path}.`, problems);
  const content = message.content;
  if (r === 'assistant') {
    const hasCalls = message.tool_calls !== undefined || message.function_call !== undefined;
    if (content === undefined || content === null) {
      if (!hasCalls)
        problems.add(
          'missing_content',
          `${path} has neither "content" nor "tool_calls"${typeof message.refusal === 'string' ? ' (a "refusal" alone is not an answer to train on)' : ''}`,
          'Give the assistant message its answer in "content", or the calls it makes in "tool_calls".',
        );
    } else {
      const before = problems.list.length;
      checkContent(content, `${path}.content`, ['text'], problems, rules);
      // An empty answer teaches nothing; content.ts has OpenAI's verdict and its source.
      if (!hasCalls && problems.list.length === before && isEmptyAnswer(content))
        problems.add(
          'empty_answer',
          `${path}.content is empty${typeof content === 'string' && content !== '' ? ' (only whitespace)' : ''}, and the message makes no tool call: there is no answer to train on`,
          'Write the answer the model should give, or remove the message (or the example).',
        );
    }
    if (message.weight !== undefined && message.weight !== 0 && message.weight !== 1) {
      problems.add(
        'invalid_weight',
        `${path}.weight is ${JSON.stringify(message.weight)}; it must be 0 or 1`,
        'Use "weight": 0 to skip training on this message, 1 (or nothing) to train on it.',
      );
    }
    if (message.tool_calls !== undefined) checkToolCalls(message.tool_calls, `${path}.tool_calls`, problems);
    if (message.function_call !== undefined)
      checkFunction(message.function_call, `${path}.function_call`, problems);
  } else if (r === 'function') {
    if (content !== null && typeof content !== 'string')
      problems.add(
        'invalid_content',
        `${path}.content must be a string or null, not ${typeName(content)}`,
        'Put the function result in "content" as text.',
      );
    if (typeof message.name !== 'string')
      problems.add(
        'missing_field',
        `${path} needs the function's "name"`,
        'Add "name": the function that produced this result.',
      );
  } else {
    if (content === undefined || content === null) {
      problems.add(
        'missing_content',
        `${path} has no "content"`,
        `Give the ${r} message its text in "content".`,
      );
    } else
      checkContent(content, `${path}.content`, r === 'user' ? USER_PART_TYPES : ['text'], problems, rules);
    if (r === 'tool' && typeof message.tool_call_id !== 'string') {
      problems.add(
        'missing_field',
        `${path} needs "tool_call_id"`,
        'Add "tool_call_id": the id of the assistant tool call this message answers.',
      );
    }
  }
  if (message.name !== undefined && typeof message.name !== 'string') {
    problems.add('invalid_type', `${path}.name must be a string`, 'Use a string name or remove it.');
  }
}

/**
 * What content an example may hold, for its model and method, and a tally of its images (their limit is
 * per example). `textOnly` says why no images at all (DPO), when that is so.
 */
interface ContentRules {
  model: ModelInfo;
  textOnly?: string;
  images: number;
  imagesRefused: boolean;
}

function contentRules(context: CheckContext, textOnly?: string): ContentRules {
  return { model: context.model, ...(textOnly ? { textOnly } : {}), images: 0, imagesRefused: false };
}

function countImages(rules: ContentRules, problems: Problems) {
  if (rules.images > MAX_IMAGES_PER_EXAMPLE) {
    problems.add(
      'too_many_images',
      `the example has ${rules.images} images; the provider takes at most ${MAX_IMAGES_PER_EXAMPLE} per example`,
      `Split it into examples of at most ${MAX_IMAGES_PER_EXAMPLE} images each.`,
    );
  }
}

/**
 * Fine-tuning trains on text, and on images for the models that take them (vision fine-tuning guide,
 * catalog.ts). The chat schema also allows audio and files in user messages, but no fine-tuning method
 * documents training on them, so they are refused here rather than by the provider after the upload.
 */
const UNTRAINED_PARTS: Record<string, string> = { input_audio: 'audio', file: 'files' };

function checkContent(
  content: unknown,
  path: string,
  partTypes: readonly string[],
  problems: Problems,
  rules: ContentRules,
) {
  if (typeof content === 'string') return;
  if (!Array.isArray(content) || content.length === 0) {
    problems.add(
      'invalid_content',
      `${path} must be a string or a non-empty list of parts, not ${typeName(content)}`,
      'Write the text as a string: "content": "...".',
    );
    return;
  }
  content.forEach((part, i) => {
    const where = `${path}[${i}]`;
    if (!isObject(part) || typeof part.type !== 'string') {
      problems.add(
        'invalid_content',
        `${where} must be an object with a "type"`,
        `Use {"type": "text", "text": "..."}.`,
      );
    } else if (UNTRAINED_PARTS[part.type] !== undefined) {
      problems.add(
        'unsupported_modality',
        `${where} is ${UNTRAINED_PARTS[part.type]} ("${part.type}"); OpenAI fine-tuning does not train on ${UNTRAINED_PARTS[part.type]} (only text, and images on ${modelsTrainingOn('image').join(', ') || 'no model today'})`,
        'Remove the part, or give its content as text (a transcript, the text of the file).',
      );
    } else if (part.type === 'image_url' && !partTypes.includes('image_url')) {
      problems.add(
        'invalid_content',
        `${where} is an image in a message that is not from the user; images can only be in user messages`,
        'Move the image into a user message.',
      );
    } else if (!partTypes.includes(part.type)) {
      problems.add(
        'invalid_content',
        `${where}.type "${part.type}" is not allowed here`,
        `Allowed part types here: ${partTypes.join(', ')}.`,
      );
    } else if (part.type === 'text' && typeof part.text !== 'string') {
      problems.add('invalid_content', `${where}.text must be a string`, 'Put the text in "text".');
    } else if (part.type === 'image_url') {
      checkImagePart(part, where, problems, rules);
    }
  });
}

function checkImagePart(
  part: Record<string, unknown>,
  where: string,
  problems: Problems,
  rules: ContentRules,
) {
  const image = part.image_url;
  if (!(isObject(image) && typeof image.url === 'string')) {
    problems.add(
      'invalid_content',
      `${where}.image_url.url must be a string`,
      'Use {"type": "image_url", "image_url": {"url": "https://... or data:image/..."}}.',
    );
    return;
  }
  rules.images++;
  if (rules.textOnly || !rules.model.inputs.includes('image')) {
    // Once per example: every image of it has the same problem.
    if (rules.imagesRefused) return;
    rules.imagesRefused = true;
    const vision = modelsTrainingOn('image', rules.model.provider);
    problems.add(
      'images_not_supported',
      rules.textOnly
        ? `${where} is an image; ${rules.textOnly}`
        : `${where} is an image, and ${rules.model.id} cannot be fine-tuned on images`,
      rules.textOnly
        ? 'Remove the images from the preference examples.'
        : `Set "model" to ${vision.join(' or ') || 'a model that takes images'} (vision fine-tuning), or remove the images.`,
    );
    return;
  }
  if (image.detail !== undefined && !isDetail(image.detail)) {
    problems.add(
      'invalid_content',
      `${where}.image_url.detail is ${JSON.stringify(image.detail)}; it must be "low", "high" or "auto"`,
      'Use "detail": "low" (85 tokens an image), "high", or leave it out ("auto").',
    );
    return;
  }
  const checked = checkImageUrl(image.url, isDetail(image.detail) ? image.detail : 'auto');
  if (!checked.ok) {
    problems.add(checked.problem.code, `${where}: ${checked.problem.message}`, checked.problem.fix);
    return;
  }
  rememberImage(image, checked.info);
}

function checkToolCalls(calls: unknown, path: string, problems: Problems) {
  if (!Array.isArray(calls) || calls.length === 0) {
    problems.add(
      'invalid_tool_calls',
      `${path} must be a non-empty list`,
      'List each call as {"id": "...", "type": "function", "function": {"name": "...", "arguments": "{...}"}}.',
    );
    return;
  }
  calls.forEach((call, i) => {
    const where = `${path}[${i}]`;
    if (!isObject(call)) {
      problems.add(
        'invalid_tool_calls',
        `${where} must be an object`,
        'Write {"id": "...", "type": "function", "function": {...}}.',
      );
      return;
    }
    if (typeof call.id !== 'string')
      problems.add(
        'invalid_tool_calls',
        `${where}.id must be a string`,
        'Give each tool call an "id" that the tool message\'s "tool_call_id" repeats.',
      );
    if (call.type !== 'function')
      problems.add('invalid_tool_calls', `${where}.type must be "function"`, 'Set "type": "function".');
    checkFunction(call.function, `${where}.function`, problems);
  });
}

function checkFunction(fn: unknown, path: string, problems: Problems) {
  if (!isObject(fn) || typeof fn.name !== 'string') {
    problems.add(
      'invalid_tool_calls',
      `${path} must have a string "name"`,
      'Write {"name": "...", "arguments": "{...}"}.',
    );
    return;
  }
  addToolProblem(functionNameProblem(fn.name, `${path}.name`), problems);
  if (typeof fn.arguments !== 'string') {
    problems.add(
      'invalid_tool_calls',
      `${path}.arguments must be a JSON string, not ${typeName(fn.arguments)}`,
      'Serialize the arguments: "arguments": "{\\"city\\": \\"Paris\\"}".',
    );
    return;
  }
  try {
    JSON.parse(fn.arguments);
  } catch {
    problems.add(
      'invalid_tool_calls',
      `${path}.arguments is not valid JSON`,
      'Make "arguments" a JSON object serialized as a string.',
    );
  }
}

function checkTools(container: Record<string, unknown>, prefix: string, problems: Problems) {
  if (container.tools !== undefined) {
    if (!Array.isArray(container.tools)) {
      problems.add(
        'invalid_tools',
        `"${prefix}tools" must be a list`,
        'List tools as [{"type": "function", "function": {"name": "...", "parameters": {...}}}].',
      );
    } else {
      container.tools.forEach((tool, i) => {
        if (
          !isObject(tool) ||
          tool.type !== 'function' ||
          !isObject(tool.function) ||
          typeof tool.function.name !== 'string'
        ) {
          problems.add(
            'invalid_tools',
            `${prefix}tools[${i}] must be {"type": "function", "function": {"name": ...}}`,
            'Describe each tool with a type "function" and a function name.',
          );
        } else checkDefinition(tool.function, `${prefix}tools[${i}].function`, problems);
      });
    }
  }
  if (container.parallel_tool_calls !== undefined && typeof container.parallel_tool_calls !== 'boolean') {
    problems.add('invalid_type', `"${prefix}parallel_tool_calls" must be true or false`, 'Use a boolean.');
  }
  if (container.functions !== undefined) {
    // FineTuneChatRequestInput.functions: 1 to 128 ChatCompletionFunctions (openapi-2025-04-29.yaml).
    if (
      !Array.isArray(container.functions) ||
      container.functions.length < 1 ||
      container.functions.length > 128
    ) {
      problems.add(
        'invalid_tools',
        `"${prefix}functions" must be a list of 1 to 128 functions, not ${Array.isArray(container.functions) ? `${container.functions.length}` : typeName(container.functions)}`,
        'List functions as [{"name": "...", "parameters": {...}}], or better, use "tools".',
      );
    } else {
      container.functions.forEach((fn, i) => {
        if (!isObject(fn) || typeof fn.name !== 'string') {
          problems.add(
            'invalid_tools',
            `${prefix}functions[${i}] must be {"name": ..., "parameters": {...}}`,
            'Give each function a string "name".',
          );
        } else checkDefinition(fn, `${prefix}functions[${i}]`, problems);
      });
    }
  }
}

/** A function definition (FunctionObject in the spec) whose name is known to be a string. */
function checkDefinition(fn: Record<string, unknown>, path: string, problems: Problems) {
  addToolProblem(functionNameProblem(fn.name as string, `${path}.name`), problems);
  if (fn.parameters !== undefined)
    addToolProblem(parametersProblem(fn.parameters, `${path}.parameters`), problems);
  if (fn.description !== undefined && typeof fn.description !== 'string') {
    problems.add('invalid_tools', `${path}.description must be a string`, 'Describe the function in text.');
  }
  if (fn.strict !== undefined && fn.strict !== null && typeof fn.strict !== 'boolean') {
    problems.add(
      'invalid_tools',
      `${path}.strict must be true or false`,
      'Use a boolean, or leave "strict" out.',
    );
  }
}

/** The function names an example declares (tools and legacy functions), or undefined if it declares none. */
function declaredNames(container: Record<string, unknown>): Set<string> | undefined {
  const { tools, functions } = container;
  if (!Array.isArray(tools) && !Array.isArray(functions)) return undefined;
  const names = new Set<string>();
  for (const tool of Array.isArray(tools) ? tools : [])
    if (isObject(tool) && isObject(tool.function) && typeof tool.function.name === 'string')
      names.add(tool.function.name);
  for (const fn of Array.isArray(functions) ? functions : [])
    if (isObject(fn) && typeof fn.name === 'string') names.add(fn.name);
  return names;
}

/** Tool calls against tool results and the declared functions (tool-schemas.ts says which rules). */
function checkToolUse(
  messages: readonly ChatMessage[],
  path: string,
  declared: ReadonlySet<string> | undefined,
  problems: Problems,
  ids?: Map<string, string>,
) {
  for (const problem of toolCallPairing(messages, path, ids)) addToolProblem(problem, problems);
  for (const problem of undeclaredCalls(messages, path, declared)) addToolProblem(problem, problems);
}

function addToolProblem(problem: ToolProblem | undefined, problems: Problems) {
  if (!problem) return;
  if (problem.severity === 'warning') problems.warn(problem.code, problem.message, problem.fix);
  else problems.add(problem.code, problem.message, problem.fix);
}

/** Lone surrogates and NUL characters anywhere in the example (content.ts). */
function checkStrings(example: Record<string, unknown>, context: CheckContext, problems: Problems) {
  for (const problem of stringProblems(example, context.line))
    problems.add(problem.code, problem.message, problem.fix);
}

/** The texts a chat example trains on: its assistant messages, except those weighted 0. */
export function answersOf(messages: readonly ChatMessage[]): string[] {
  return messages.filter((m) => m.role === 'assistant' && m.weight !== 0).map(textOf);
}

/**
 * The answers of a line already known to be valid (Prepare reads only validated files), without
 * checking it again: what the split's per-class thresholds are looked up by.
 */
export function answersOfValidLine(value: Record<string, unknown>): string[] {
  const format = detectFormat(value);
  if (format === 'chat' && Array.isArray(value.messages)) return answersOf(value.messages as ChatMessage[]);
  if (format === 'preference' && Array.isArray(value.preferred_output))
    return (value.preferred_output as ChatMessage[]).map(textOf);
  return [];
}

/** The text of a message's content, parts joined; tool calls count as their JSON. */
export function textOf(message: ChatMessage): string {
  const content = message.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join('');
  }
  if (message.tool_calls !== undefined) return JSON.stringify(message.tool_calls);
  if (message.function_call !== undefined) return JSON.stringify(message.function_call);
  return '';
}
