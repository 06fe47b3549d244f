/**
 * Text that parses as JSON but that OpenAI may not train on: empty answers, lone UTF-16 surrogates and
 * NUL characters. What the provider does with each, and why tunedrop refuses it, is written at each
 * check; where it could not be established offline the verdict is the safe one (refuse what could fail
 * at the provider after the upload, when the user is no longer watching).
 */
import type { FormatProblem } from './formats.js';

/**
 * Whether an assistant message's content (already shape-checked: a string or a list of text parts)
 * says nothing: "", only whitespace, or parts whose texts are all so.
 *
 * OpenAI's own pre-upload check, the cookbook's "Data preparation and analysis for chat model
 * fine-tuning" (openai/openai-cookbook, examples/Chat_finetuning_data_prep.ipynb, read 2026-11-29),
 * counts a message whose content is empty and that makes no function call as a `missing_content`
 * format error. It lets whitespace through only because Python's `not " "` is false; whether the
 * provider trains on a whitespace answer could not be established, and it would teach the model to
 * answer with nothing just as "" would, so it gets the same verdict. With tool calls an empty content
 * is normal (the calls are the answer) and is not checked here.
 */
export function isEmptyAnswer(content: unknown): boolean {
  if (typeof content === 'string') return content.trim() === '';
  if (!Array.isArray(content) || content.length === 0) return false;
  return content.every(
    (part) =>
      typeof part === 'object' &&
      part !== null &&
      typeof (part as { text?: unknown }).text === 'string' &&
      (part as { text: string }).text.trim() === '',
  );
}

/*
 * Lone surrogates. JSON text may spell half of a UTF-16 pair ("\ud800") and JavaScript and Python
 * both parse it into a string, but no UTF-8 text can hold it: Python's `str.encode("utf-8")`, which
 * tokenizing needs, raises "surrogates not allowed" (e.g. ultrajson/ultrajson#447,
 * encode/django-rest-framework#6895), and strict parsers refuse the JSON outright ("no low surrogate
 * in string", reported against OpenAI's and Anthropic's APIs in anomalyco/opencode#17758, 2026-03).
 * Whether OpenAI's fine-tuning refuses the file at upload or fails the job later could not be
 * established offline: refused here, either way the example cannot be trained on as written.
 *
 * NUL ("\u0000"). Valid JSON, and UTF-8 and tokenizers take it, but it is the character PostgreSQL's
 * text and jsonb refuse ("\u0000 cannot be converted to text"), a common failure of storage
 * pipelines, and what OpenAI's pipeline does with it could not be established offline. In training
 * text it is almost always debris of binary data or a broken export, so refusing it costs little:
 * refused (the safe verdict).
 *
 * Both can only come from a JSON escape: the line is UTF-8 (jsonl.ts refuses anything else), and a raw
 * control character inside a JSON string does not parse. So the raw line is searched for the escape
 * first, and the example's strings are walked only when it is there.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;
const NUL_ESCAPE = /\\u0000/;

// Node 20+ has String.prototype.isWellFormed; the project's TypeScript lib (ES2023) does not declare it.
const wellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * Lone surrogates and NUL characters in any string of the example, keys included: the first of each,
 * with its place. `rawLine` is the line's JSON text; without it every string is looked at.
 */
export function stringProblems(example: unknown, rawLine?: string): FormatProblem[] {
  const lookForSurrogates = rawLine === undefined || SURROGATE_ESCAPE.test(rawLine);
  const lookForNul = rawLine === undefined || NUL_ESCAPE.test(rawLine);
  if (!lookForSurrogates && !lookForNul) return [];
  let surrogate: FormatProblem | undefined;
  let nul: FormatProblem | undefined;
  const look = (text: string, where: () => string) => {
    if (lookForSurrogates && !surrogate && !wellFormed(text)) {
      const at = loneSurrogateAt(text);
      const unit = text.charCodeAt(at).toString(16);
      surrogate = {
        code: 'lone_surrogate',
        message: `${where()} holds a lone surrogate (\\u${unit} at character ${at + 1}): half of a UTF-16 pair, which UTF-8 text cannot hold, so OpenAI cannot train on it`,
        fix: 'Remove it or complete the pair (an emoji is two escapes, e.g. "\\ud83d\\ude00"); it usually comes from text cut in the middle of a character.',
      };
    }
    if (lookForNul && !nul) {
      const at = text.indexOf('\u0000');
      if (at >= 0) {
        nul = {
          code: 'nul_character',
          message: `${where()} holds a NUL character (\\u0000 at character ${at + 1}), which OpenAI's pipeline may refuse after the upload`,
          fix: 'Remove the NUL characters (\\u0000); in text they are debris of binary data or a broken export.',
        };
      }
    }
  };
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'string') look(value, () => path);
    else if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${path}[${i}]`));
    else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        look(key, () => `the key ${JSON.stringify(key)} ${path ? `in ${path}` : 'of the example'}`);
        walk(item, path ? `${path}${keyPath(key)}` : keyPath(key).replace(/^\./, ''));
      }
    }
  };
  walk(example, '');
  return [surrogate, nul].filter((problem) => problem !== undefined);
}

const keyPath = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

/** The index of the first code unit of `text` that is half of a pair without its other half. */
function loneSurrogateAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return i;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return i;
  }
  return -1;
}
