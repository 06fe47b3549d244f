import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { END_OF_TEXT, type Sequence } from './bigram-model.js';

/**
 * How the emulator reads an uploaded training (or validation) file, as OpenAI's file validation does
 * while a job is `validating_files`: UTF-8 JSONL, one example per line, in the format the job's method
 * trains on, with only the content the model can train on. The first problem fails the job, with
 * OpenAI's error code and the line.
 *
 * What OpenAI refuses, and how (each with its source, read 2026-11-29):
 * - Too few examples: the job fails with {code: "invalid_n_examples", param: "training_file", message:
 *   "Training file has 7 example(s), but must have at least 10 examples"} (a live job's output,
 *   created 2024-12-29, kept in a public repository's comments). The fine-tuning guide asks for at
 *   least 10 examples (https://platform.openai.com/docs/guides/supervised-fine-tuning).
 * - A file whose format does not fit the method: the job fails with {code: "invalid_training_file",
 *   param: "training_file", message: "The job failed due to an invalid training file. Invalid file
 *   format. Input file file-… is in the fine-tune-chat format, but the specified fine-tuning job is not
 *   using 'supervised' as the training method (provided method=dpo). "} (the same live output; that
 *   file had 7 examples, so the format is checked before the count).
 * - Images: only gpt-4o-2024-08-06 trains on them; at most 10 per example, 10 MB each, JPEG, PNG or
 *   WEBP, never in an assistant message (https://platform.openai.com/docs/guides/vision-fine-tuning).
 *   DPO is "only supported for text inputs and outputs"
 *   (https://platform.openai.com/docs/guides/direct-preference-optimization).
 * - Audio and file parts: no fine-tuning guide lets a training example carry them (the training-line
 *   schemas of ../shared/openai/openapi-2025-04-29.yaml take them from the chat request's user message,
 *   but no model fine-tunes on audio or files), so they are refused like images on a text model.
 * - Tool and function names: "Must be a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum
 *   length of 64" (FunctionObject.name in the spec).
 * - Preference lines: exactly one assistant message in each output (`maxItems: 1` of
 *   FineTunePreferenceRequestInput in the 2025-04-29 spec, whose items are assistant messages).
 * How the live API words the last four is not known; the messages here name the line and the field.
 */
export interface ParsedTrainingFile {
  sequences: Sequence[];
  /** Tokens of every message of every example (billing counts all of them, once per epoch). */
  tokens: number;
}

export interface TrainingFileOptions {
  /** The uploaded file's id, which OpenAI's messages quote. */
  fileId: string;
  method: 'supervised' | 'dpo';
  /** Whether the job's model trains on image inputs (vision fine-tuning). */
  images: boolean;
  /** Which file of the job this is: the error's param and code follow it. @default 'training_file' */
  role?: 'training_file' | 'validation_file';
  /**
   * A UTF-8 byte order mark at the start: refused as OpenAI's validation here refuses it, or required
   * (and stripped before the lines are read), as Microsoft's docs require for Azure OpenAI: "training and
   * validation data files must be encoded in UTF-8 and include a byte-order mark (BOM)"
   * (MicrosoftDocs/azure-ai-docs articles/foundry/includes/fine-tuning-foundry.md, read 2026-11-29).
   * @default 'refused'
   */
  byteOrderMark?: 'refused' | 'required';
}

export class TrainingFileError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid_training_file' | 'invalid_validation_file' | 'invalid_n_examples',
    readonly param: 'training_file' | 'validation_file',
  ) {
    super(message);
  }
}

/** OpenAI's minimum for a training file. A validation file needs at least one example (see below). */
export const MIN_TRAINING_EXAMPLES = 10;
const MAX_IMAGES_PER_EXAMPLE = 10;
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ROLES = ['system', 'user', 'assistant', 'tool', 'function'];

const AS_TEXT = { disallowedSpecial: new Set<string>() };

interface Message {
  role?: unknown;
  content?: unknown;
  weight?: unknown;
  tool_calls?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseTrainingFile(bytes: Uint8Array, options: TrainingFileOptions): ParsedTrainingFile {
  const param = options.role ?? 'training_file';
  const fail = (message: string): never => {
    throw new TrainingFileError(
      message,
      param === 'training_file' ? 'invalid_training_file' : 'invalid_validation_file',
      param,
    );
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return fail('The file is not valid UTF-8.');
  }
  if (options.byteOrderMark === 'required') {
    // How Azure reports a file without the BOM was not found in any stored source (2026-11-29): the job
    // fails while its files are checked, naming the file, like OpenAI's other file problems.
    if (!text.startsWith('\uFEFF'))
      fail(
        `File ${options.fileId} is not UTF-8 with a byte-order mark (BOM); training and validation files must include one.`,
      );
    text = text.slice(1);
  } else if (text.startsWith('\uFEFF')) fail('The file starts with a byte order mark (BOM).');
  const sequences: Sequence[] = [];
  let tokens = 0;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (!line) continue;
    const where = `line ${index + 1}`;
    let example: unknown;
    try {
      example = JSON.parse(line);
    } catch {
      fail(`Invalid file format. ${where} is not valid JSON.`);
    }
    if (!isObject(example)) return fail(`Invalid file format. ${where} is not a JSON object.`);
    const format = formatOf(example);
    if (format !== (options.method === 'dpo' ? 'preference' : 'chat')) {
      fail(
        format === undefined
          ? `Invalid file format. ${where}: ${options.method === 'dpo' ? 'preference examples need input.messages, preferred_output and non_preferred_output' : '"messages" is missing or empty'}.`
          : `The job failed due to an invalid training file. Invalid file format. Input file ${options.fileId} is in the fine-tune-${format} format, but the specified fine-tuning job is not using '${format === 'chat' ? 'supervised' : 'dpo'}' as the training method (provided method=${options.method}). `,
      );
    }
    const check = new ExampleCheck(where, options, fail);
    const messages = options.method === 'dpo' ? check.preference(example) : check.chat(example);
    const sequence: Sequence = { tokens: [], trained: [] };
    for (const message of messages) {
      const { header, body } = messageTokens(message);
      const learn = message.role === 'assistant' && message.weight !== 0;
      for (const token of header) {
        sequence.tokens.push(token);
        sequence.trained.push(false);
      }
      for (const token of body) {
        sequence.tokens.push(token);
        sequence.trained.push(learn);
      }
      // Billing counts the message's own tokens and its framing (3), not the end token the model learns.
      tokens += header.length + body.length - (message.role === 'assistant' ? 1 : 0) + 3;
    }
    tokens += 3;
    sequences.push(sequence);
  }
  // A validation file's minimum is not documented; one example is what metrics need, so an empty
  // validation file fails like a short training file (same code, its own param).
  const minimum = param === 'training_file' ? MIN_TRAINING_EXAMPLES : 1;
  if (sequences.length < minimum) {
    throw new TrainingFileError(
      `${param === 'training_file' ? 'Training' : 'Validation'} file has ${sequences.length} example(s), but must have at least ${minimum} examples`,
      'invalid_n_examples',
      param,
    );
  }
  return { sequences, tokens };
}

/**
 * A message as the model reads it: a header `${role}\n`, then its content's tokens (content parts and tool
 * calls as their JSON text), and after an assistant message END_OF_TEXT, so that the model learns where
 * an answer ends. Training and chat completions (chatPrompt) serialise messages with this one function.
 */
export function messageTokens(message: { role?: unknown; content?: unknown; tool_calls?: unknown }): {
  header: number[];
  body: number[];
} {
  const content =
    typeof message.content === 'string'
      ? message.content
      : JSON.stringify(message.content ?? message.tool_calls ?? '');
  const body = encode(content, AS_TEXT);
  if (message.role === 'assistant') body.push(END_OF_TEXT);
  return { header: encode(`${String(message.role)}\n`, AS_TEXT), body };
}

/** A chat's prompt as the model reads it: its messages as training serialises them, then `assistant\n`. */
export function chatPrompt(messages: ReadonlyArray<{ role: string; content?: unknown }>): number[] {
  const tokens = messages.flatMap((message) => {
    const { header, body } = messageTokens(message);
    return [...header, ...body];
  });
  return [...tokens, ...encode('assistant\n', AS_TEXT)];
}

/** The format a line is in, by its keys, as OpenAI names it in its messages. */
function formatOf(example: Record<string, unknown>): 'chat' | 'preference' | undefined {
  if (Array.isArray(example.messages) && example.messages.length > 0) return 'chat';
  if ('input' in example && 'preferred_output' in example && 'non_preferred_output' in example)
    return 'preference';
  return undefined;
}

/** The checks of one line; `fail` throws the job's error. */
class ExampleCheck {
  private images = 0;

  constructor(
    private readonly where: string,
    private readonly options: TrainingFileOptions,
    private readonly fail: (message: string) => never,
  ) {}

  chat(example: Record<string, unknown>): Message[] {
    const messages = this.messages(example.messages, 'messages');
    if (!messages.some((m) => m.role === 'assistant'))
      this.fail(`Invalid file format. ${this.where}: examples must have at least one assistant message.`);
    this.tools(example, '');
    return messages;
  }

  preference(example: Record<string, unknown>): Message[] {
    const input = example.input;
    if (!isObject(input) || !Array.isArray(input.messages) || input.messages.length === 0)
      this.fail(`Invalid file format. ${this.where}: input.messages is missing or empty.`);
    const inputMessages = this.messages((input as { messages: unknown[] }).messages, 'input.messages');
    this.tools(input as Record<string, unknown>, 'input.');
    const outputs: Message[] = [];
    for (const key of ['preferred_output', 'non_preferred_output'] as const) {
      const value = example[key];
      if (!Array.isArray(value) || value.length !== 1)
        this.fail(`Invalid file format. ${this.where}: ${key} must hold exactly one assistant message.`);
      const [message] = this.messages(value as unknown[], key);
      if (message!.role !== 'assistant')
        this.fail(`Invalid file format. ${this.where}: ${key}[0] must be an assistant message.`);
      outputs.push(message!);
    }
    return [...inputMessages, outputs[0]!];
  }

  private messages(value: unknown, path: string): Message[] {
    if (!Array.isArray(value) || value.length === 0)
      this.fail(`Invalid file format. ${this.where}: "${path}" is missing or empty.`);
    (value as unknown[]).forEach((message, i) => {
      const at = `${path}[${i}]`;
      if (!isObject(message) || !ROLES.includes(String(message.role)))
        this.fail(
          `Invalid file format. ${this.where}: unrecognized role ${JSON.stringify(isObject(message) ? message.role : message)} at ${at}.`,
        );
      this.content((message as Message).content, String((message as Message).role), `${at}.content`);
    });
    return value as Message[];
  }

  private content(content: unknown, role: string, path: string) {
    if (!Array.isArray(content)) return;
    for (const [i, part] of content.entries()) {
      const at = `${path}[${i}]`;
      const type = isObject(part) ? part.type : undefined;
      if (type === 'text') continue;
      if (type === 'image_url') {
        this.image(part as Record<string, unknown>, role, at);
        continue;
      }
      if (type === 'input_audio' || type === 'file')
        this.fail(
          `Invalid file format. ${this.where}: ${at} is of type ${type}; fine-tuning trains on text${this.options.images ? ' and images' : ''} only.`,
        );
      this.fail(`Invalid file format. ${this.where}: ${at} has an unsupported content type.`);
    }
  }

  private image(part: Record<string, unknown>, role: string, at: string) {
    if (this.options.method === 'dpo')
      this.fail(`Invalid file format. ${this.where}: ${at} is an image; DPO trains on text only.`);
    if (!this.options.images)
      this.fail(
        `Invalid file format. ${this.where}: ${at} is an image, and this model cannot be fine-tuned on images.`,
      );
    if (role !== 'user')
      this.fail(
        `Invalid file format. ${this.where}: ${at} is an image in a ${role} message; only user messages may hold images.`,
      );
    this.images += 1;
    if (this.images > MAX_IMAGES_PER_EXAMPLE)
      this.fail(
        `Invalid file format. ${this.where}: the example has more than ${MAX_IMAGES_PER_EXAMPLE} images.`,
      );
    const url = isObject(part.image_url) ? part.image_url.url : undefined;
    if (typeof url !== 'string')
      return this.fail(`Invalid file format. ${this.where}: ${at}.image_url.url is missing.`);
    // An image by URL is fetched by OpenAI, which the emulator cannot do; a data URL is checked here.
    const data = /^data:([^;,]+)(;base64)?,(.*)$/s.exec(url);
    if (!data) return;
    if (!IMAGE_TYPES.includes(data[1]!.toLowerCase()))
      this.fail(`Invalid file format. ${this.where}: ${at} is ${data[1]}; images must be JPEG, PNG or WEBP.`);
    const bytes = data[2] ? Math.floor((data[3]!.replace(/=+$/, '').length * 3) / 4) : data[3]!.length;
    if (bytes > MAX_IMAGE_BYTES) this.fail(`Invalid file format. ${this.where}: ${at} is larger than 10 MB.`);
  }

  private tools(container: Record<string, unknown>, prefix: string) {
    const named: Array<[string, unknown]> = [];
    if (Array.isArray(container.tools))
      container.tools.forEach((tool, i) =>
        named.push([
          `${prefix}tools[${i}].function.name`,
          isObject(tool) && isObject(tool.function) ? tool.function.name : undefined,
        ]),
      );
    if (Array.isArray(container.functions))
      container.functions.forEach((fn, i) =>
        named.push([`${prefix}functions[${i}].name`, isObject(fn) ? fn.name : undefined]),
      );
    for (const [path, name] of named) {
      if (typeof name !== 'string' || !FUNCTION_NAME.test(name))
        this.fail(
          `Invalid file format. ${this.where}: ${path} ${JSON.stringify(name)} must match ^[a-zA-Z0-9_-]{1,64}$.`,
        );
    }
  }
}
