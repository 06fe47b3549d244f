import type { DataFormat } from './catalog.js';

/**
 * One prepared training line (OpenAI chat, as Prepare writes it: `{"messages": [{role, content}]}` with
 * content a string or a list of parts) written in the format an Amazon Bedrock base model trains on
 * (catalog `dataFormat`). Pure: the Bedrock adapter streams each line through it on upload.
 *
 * - `bedrock-conversation-2024` (Nova): `{"schemaVersion": "bedrock-conversation-2024", "system":
 *   [{"text"}], "messages": [{"role": "user" | "assistant", "content": [{"text"}]}]}`
 *   (https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html, read
 *   2026-11-29). The system message (the validator allows one, first) is folded into `system`; it is
 *   left out when the example has none. A string content becomes one text block; a list of text parts
 *   becomes one text block per part, in order, so the text is carried exactly.
 * - `prompt-completion` (Llama 3.1): `{"prompt", "completion"}`
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-code-samples.html, read
 *   2026-11-29): the one user turn is the prompt, the one assistant turn the completion, text parts
 *   joined without a separator (OpenAI reads a list of text parts as their concatenation). AWS documents
 *   no place for a system message in these records, so the validator refuses one (bedrock-rules.ts)
 *   rather than tunedrop inventing a way to fold it into the prompt.
 *
 * What cannot be carried (tool calls, tool messages, images, weights, names) is refused by the
 * validator before anything is uploaded (bedrock-rules.ts); a line that still has it here is a bug
 * upstream, and this throws rather than write a record Bedrock would train differently.
 */
export const BEDROCK_SCHEMA_VERSION = 'bedrock-conversation-2024';

export interface TextBlock {
  text: string;
}

export interface ConversationRecord {
  schemaVersion: typeof BEDROCK_SCHEMA_VERSION;
  system?: TextBlock[];
  messages: Array<{ role: 'user' | 'assistant'; content: TextBlock[] }>;
}

export interface PromptCompletionRecord {
  prompt: string;
  completion: string;
}

export type BedrockDataFormat = Exclude<DataFormat, 'openai-chat'>;

/** A prepared line that cannot be written in the model's format (the validator should have refused it). */
export class BedrockFormatError extends Error {
  override readonly name = 'BedrockFormatError';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The text of a message's content: a string, or text parts (anything else is not convertible). */
function textBlocks(content: unknown, where: string): string[] {
  if (typeof content === 'string') return [content];
  if (Array.isArray(content)) {
    return content.map((part, i) => {
      if (isObject(part) && part.type === 'text' && typeof part.text === 'string') return part.text;
      throw new BedrockFormatError(`${where}.content[${i}] is not a text part`);
    });
  }
  throw new BedrockFormatError(`${where} has no text content`);
}

interface PlainMessage {
  role: string;
  texts: string[];
}

function messagesOf(line: unknown): PlainMessage[] {
  if (!isObject(line) || !Array.isArray(line.messages))
    throw new BedrockFormatError('the line is not a chat example ({"messages": [...]})');
  return line.messages.map((message, i) => {
    const where = `messages[${i}]`;
    if (!isObject(message) || typeof message.role !== 'string')
      throw new BedrockFormatError(`${where} is not a message`);
    return { role: message.role, texts: textBlocks(message.content, where) };
  });
}

/** A chat example (parsed) as a `bedrock-conversation-2024` record. */
export function toConversationRecord(line: unknown): ConversationRecord {
  const messages = messagesOf(line);
  const system: TextBlock[] = [];
  const turns: ConversationRecord['messages'] = [];
  messages.forEach((message, i) => {
    if (message.role === 'system' && i === 0) system.push(...message.texts.map((text) => ({ text })));
    else if (message.role === 'user' || message.role === 'assistant')
      turns.push({ role: message.role, content: message.texts.map((text) => ({ text })) });
    else
      throw new BedrockFormatError(
        `messages[${i}] has the role ${message.role}, which bedrock-conversation-2024 has no place for`,
      );
  });
  return {
    schemaVersion: BEDROCK_SCHEMA_VERSION,
    ...(system.length ? { system } : {}),
    messages: turns,
  };
}

/** A chat example (parsed) of one user and one assistant turn as a `{"prompt", "completion"}` record. */
export function toPromptCompletionRecord(line: unknown): PromptCompletionRecord {
  const messages = messagesOf(line);
  const [user, assistant, ...rest] = messages;
  if (user?.role !== 'user' || assistant?.role !== 'assistant' || rest.length > 0)
    throw new BedrockFormatError(
      `a prompt/completion record needs exactly one user and then one assistant message, not ${messages.map((m) => m.role).join(', ') || 'none'}`,
    );
  return { prompt: user.texts.join(''), completion: assistant.texts.join('') };
}

/** One JSONL line (without its newline) in the model's format. */
export function toBedrockLine(lineText: string, format: BedrockDataFormat): string {
  const parsed: unknown = JSON.parse(lineText);
  return JSON.stringify(
    format === 'prompt-completion' ? toPromptCompletionRecord(parsed) : toConversationRecord(parsed),
  );
}
