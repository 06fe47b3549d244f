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
  | {
      kind: 'example';
      object: Record<string, unknown>;
      format: DatasetFormat;
      /** A key written twice in one object (JSON.parse kept the last value): worth a warning. */
      duplicateKey?: string;
    }
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
    // A JSON Lines example is an object: a first line that opens an array (`[`, `[{...},`) or holds
    // nothing but `{` is a JSON document spread over the file, whatever follows.
    if (lineNumber === 1 && (/^\s*\[/.test(text) || /^\s*\{\s*$/.test(text))) {
      const array = /^\s*\[/.test(text);
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
    // A carriage return inside a line: the file ends its lines with \r alone (old Mac style).
    const returns = text.includes('\r') ? '; the line holds carriage returns (\\r): end lines with \\n' : '';
    issues.error(
      'invalid_json',
      `not valid JSON at column ${jsonErrorColumn(text)}: ${plainJsonError(error as Error)}${returns}`,
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
  const duplicateKey = duplicateKeyIn(text, object);
  return duplicateKey === undefined
    ? { kind: 'example', object, format }
    : { kind: 'example', object, format, duplicateKey };
}

/**
 * A key that appears twice in one object of the line, if any. JSON.parse (like the provider's reader)
 * keeps the last value without a word, so data in the first is lost. Cheap first: the line's `":`
 * pairs (a key's end; inside strings the quote is escaped) are counted natively and compared with the
 * parsed keys; only a line with more is scanned.
 */
export function duplicateKeyIn(text: string, parsed: unknown): string | undefined {
  let pairs = 0;
  for (let i = text.indexOf('":'); i !== -1; i = text.indexOf('":', i + 2)) {
    // The quote ends a string unless an odd number of backslashes escapes it.
    let backslashes = 0;
    while (text[i - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) pairs++;
  }
  if (pairs <= keyCount(parsed)) return undefined;
  return scanForDuplicateKey(text);
}

function keyCount(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + keyCount(item), 0);
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  for (const item of Object.values(value)) count += 1 + keyCount(item);
  return count;
}

/** The exact check: walks the text, keeping the keys of each open object. */
function scanForDuplicateKey(text: string): string | undefined {
  const open: Array<Set<string> | null> = []; // one per open bracket: keys for an object, null for an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = open.at(-1);
      if (expectKey && keys) {
        const key = text.slice(i + 1, end);
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      open.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      expectKey = false;
    } else if (c === ',') expectKey = open.at(-1) !== null && open.length > 0;
  }
  return undefined;
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
  return (
    error.message
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/,? "[\s\S]*" is not valid JSON$/, '')
      .replace(/\s*\(line \d+ column \d+\)/, '')
      // An invisible character (a BOM inside a line, a zero-width space, a control character) is named
      // by its code point: matching control characters is the point here.
      .replace(
        // eslint-disable-next-line no-control-regex
        /[\u200b-\u200f\u2028\u2029\ufeff\u0000-\u001f]/g,
        (c) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
      )
      .trim()
  );
}
