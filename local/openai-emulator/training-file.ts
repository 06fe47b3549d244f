import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import type { Sequence } from './bigram-model.js';

/**
 * How the emulator reads an uploaded training file, as OpenAI's file validation does: UTF-8 JSONL,
 * one example per line, chat (`messages` with an assistant turn) or preference (`input`,
 * `preferred_output`, `non_preferred_output`), at least 10 examples. The first problem fails the job
 * with `invalid_training_file`, naming the line.
 */
export interface ParsedTrainingFile {
  sequences: Sequence[];
  /** Tokens of every message of every example (billing counts all of them, once per epoch). */
  tokens: number;
}

export class TrainingFileError extends Error {}

const AS_TEXT = { disallowedSpecial: new Set<string>() };

interface Message {
  role?: unknown;
  content?: unknown;
  weight?: unknown;
  tool_calls?: unknown;
}

export function parseTrainingFile(
  bytes: Uint8Array,
  method: 'supervised' | 'dpo',
  /** The training file needs 10 examples; a validation file has no minimum beyond one. */
  minExamples = 10,
): ParsedTrainingFile {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new TrainingFileError('The file is not valid UTF-8.');
  }
  if (text.startsWith('\uFEFF')) throw new TrainingFileError('The file starts with a byte order mark (BOM).');
  const sequences: Sequence[] = [];
  let tokens = 0;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (!line) continue;
    const where = `line ${index + 1}`;
    let example: Record<string, unknown>;
    try {
      example = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new TrainingFileError(`Invalid file format. ${where} is not valid JSON.`);
    }
    if (typeof example !== 'object' || example === null || Array.isArray(example)) {
      throw new TrainingFileError(`Invalid file format. ${where} is not a JSON object.`);
    }
    const messages: Message[] =
      method === 'dpo' ? preferenceMessages(example, where) : chatMessages(example, where);
    const sequence: Sequence = { tokens: [], trained: [] };
    for (const message of messages) {
      const content =
        typeof message.content === 'string'
          ? message.content
          : JSON.stringify(message.content ?? message.tool_calls ?? '');
      const header = encode(`${String(message.role)}\n`, AS_TEXT);
      const body = encode(content, AS_TEXT);
      const learn = message.role === 'assistant' && message.weight !== 0;
      for (const token of header) {
        sequence.tokens.push(token);
        sequence.trained.push(false);
      }
      for (const token of body) {
        sequence.tokens.push(token);
        sequence.trained.push(learn);
      }
      tokens += header.length + body.length + 3;
    }
    tokens += 3;
    sequences.push(sequence);
  }
  if (sequences.length < minExamples) {
    throw new TrainingFileError(
      `Training file has ${sequences.length} example(s), but must have at least ${minExamples} examples.`,
    );
  }
  return { sequences, tokens };
}

function chatMessages(example: Record<string, unknown>, where: string): Message[] {
  const messages = example.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new TrainingFileError(`Invalid file format. ${where}: "messages" is missing or empty.`);
  }
  for (const message of messages as Message[]) {
    if (!['system', 'user', 'assistant', 'tool', 'function'].includes(String(message?.role))) {
      throw new TrainingFileError(
        `Invalid file format. ${where}: unrecognized role ${JSON.stringify(message?.role)}.`,
      );
    }
  }
  if (!(messages as Message[]).some((m) => m.role === 'assistant')) {
    throw new TrainingFileError(
      `Invalid file format. ${where}: examples must have at least one assistant message.`,
    );
  }
  return messages as Message[];
}

function preferenceMessages(example: Record<string, unknown>, where: string): Message[] {
  const input = example.input as { messages?: unknown } | undefined;
  const preferred = example.preferred_output;
  if (
    !input ||
    !Array.isArray(input.messages) ||
    !Array.isArray(preferred) ||
    !Array.isArray(example.non_preferred_output)
  ) {
    throw new TrainingFileError(
      `Invalid file format. ${where}: preference examples need input.messages, preferred_output and non_preferred_output.`,
    );
  }
  return [...(input.messages as Message[]), ...(preferred as Message[])];
}
