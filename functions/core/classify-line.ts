import { detectFormat, type DatasetFormat } from './formats.js';
import type { IssueList } from './issue-list.js';
import { jsonErrorColumn } from './json-position.js';

/**
 * Deeper JSON is refused (`too_deeply_nested`) before it is parsed: a real example nests a few levels
 * (tool schemas perhaps twenty), while thousands of levels overflow recursive JSON code — the provider's
 * Python `json` stops near 1,000 (its recursion limit), this validator's JSON.stringify near 6,000.
 */
export const MAX_JSON_DEPTH = 128;

export type LineClass =
  /** An object in a fine-tuning format, to be checked as one. */
  | { kind: 'example'; object: Record<string, unknown>; format: DatasetFormat }
  /** A problem with this line, reported; the next line is read. */
  | { kind: 'problem' }
  /** The file is not JSON Lines at all (reported once); reading stops. */
  | { kind: 'not_jsonl' };

/**
 * Step 2, classifying a line: is it JSON, an object, and in which fine-tuning format. Deep nesting is
 * refused before parsing, and a first line that opens an array or a pretty-printed object explains the
 * whole file instead of every line after it.
 */
export function classifyLine(text: string, lineNumber: number, issues: IssueList): LineClass {
  if (jsonDepthOver(text, MAX_JSON_DEPTH)) {
    issues.error(
      'too_deeply_nested',
      `the line nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`,
      'Flatten the data: an example needs a few levels (messages, content parts, tool schemas).',
      lineNumber,
    );
    return { kind: 'problem' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (lineNumber === 1 && /^\s*[[{]\s*$/.test(text)) {
      const array = text.trim() === '[';
      issues.error(
        array ? 'json_array' : 'pretty_printed',
        array
          ? 'the file is one JSON array spread over many lines, not JSON Lines'
          : 'the file holds pretty-printed JSON objects spread over many lines, not one object per line',
        undefined,
        1,
      );
      return { kind: 'not_jsonl' };
    }
    issues.error(
      'invalid_json',
      `not valid JSON at column ${jsonErrorColumn(text)}: ${plainJsonError(error as Error)}`,
      'Each line must be one complete JSON object; check quotes, commas and brackets on this line.',
      lineNumber,
    );
    return { kind: 'problem' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    if (lineNumber === 1 && Array.isArray(value)) {
      issues.error('json_array', 'the file is a JSON array on one line, not JSON Lines', undefined, 1);
      return { kind: 'not_jsonl' };
    }
    issues.error(
      'not_an_object',
      `the line is a JSON ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value}, not an object`,
      undefined,
      lineNumber,
    );
    return { kind: 'problem' };
  }
  const object = value as Record<string, unknown>;
  const format = detectFormat(object);
  if (!format) {
    const keys = Object.keys(object);
    issues.error(
      'unknown_format',
      `the object's keys (${keys.length ? keys.join(', ') : 'none'}) match no fine-tuning format`,
      'Use the chat format: {"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}.',
      lineNumber,
    );
    return { kind: 'problem' };
  }
  return { kind: 'example', object, format };
}

/**
 * Whether JSON text nests deeper than `limit`, without parsing it. Brackets are counted first (fast,
 * native): a line with fewer opening brackets than the limit cannot be deeper.
 */
export function jsonDepthOver(text: string, limit: number): boolean {
  let opening = 0;
  for (let i = text.indexOf('{'); i !== -1 && opening <= limit; i = text.indexOf('{', i + 1)) opening++;
  for (let i = text.indexOf('['); i !== -1 && opening <= limit; i = text.indexOf('[', i + 1)) opening++;
  if (opening <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** V8's JSON.parse message without its own positions (which count within the line, not the file). */
function plainJsonError(error: Error): string {
  return error.message
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/,? "[\s\S]*" is not valid JSON$/, '')
    .trim();
}
