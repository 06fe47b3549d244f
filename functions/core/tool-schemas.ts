/**
 * Tool definitions and tool calls of one training example, as OpenAI would take them: function names,
 * `parameters` schemas, calls to functions the example never declares, and how tool calls and tool
 * results pair up by id. Called from formats.ts once per line, so the costly part (validating a schema
 * against the JSON Schema meta-schema) is cached by the schema's text.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ChatMessage, FormatProblem } from './formats.js';
import type { WarningCode } from './issue-codes.js';

export type ToolProblem =
  (FormatProblem & { severity: 'error' }) | (FormatProblem<WarningCode> & { severity: 'warning' });

/**
 * FunctionObject.name and ChatCompletionFunctions.name in the OpenAI API spec (openapi.yaml, commit
 * f85dbe2 of 2026-08-21, and the 2025-04-29 revision; read 2026-11-29): "Must be a-z, A-Z, 0-9, or
 * contain underscores and dashes, with a maximum length of 64".
 */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function functionNameProblem(name: string, where: string): ToolProblem | undefined {
  if (FUNCTION_NAME.test(name)) return undefined;
  const why =
    name.length === 0
      ? 'is empty'
      : name.length > 64
        ? `is ${name.length} characters long; at most 64 are allowed`
        : 'may only use the letters a-z and A-Z, digits, underscores and dashes';
  return {
    severity: 'error',
    code: 'invalid_function_name',
    message: `${where} ${JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)} ${why}`,
    fix: 'Rename the function (in its definition and in every call) to at most 64 letters, digits, "_" or "-", e.g. "get_weather".',
  };
}

// One meta-schema validator for the process: compiling it costs milliseconds, validating a schema
// against it microseconds. Draft-07 is ajv's default and the most lenient of the drafts a tool schema
// is written in: 2019-09/2020-12 keywords ($defs, prefixItems, dependentRequired) are unknown to it and
// so allowed, while its own forms (items as a list, dependencies) are still valid, so a schema
// written for any of them is refused only for what every draft refuses (a wrong "type", "required"
// that is not a list of strings, a minimum that is not a number).
// The meta-schema says "pattern" is a regular expression (format "regex"); ajv does not check formats
// it does not know, so a pattern that cannot compile would pass. ECMA-262 syntax, as JSON Schema says.
// Ajv compiles its own meta-schemas with formats off, so a copy is compiled as an ordinary schema.
const isRegex = (pattern: string) => {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
};
// Its other formats ($id and $ref are URI references) are left unchecked, as ajv's own meta-schema does.
const ajv = new Ajv({
  strict: false,
  allErrors: false,
  formats: { regex: isRegex, uri: true, 'uri-reference': true },
});
const draft07 = ajv.getSchema('http://json-schema.org/draft-07/schema')!.schema as Record<string, unknown>;
const metaSchema: ValidateFunction = ajv.compile({ ...draft07, $id: 'tunedrop:json-schema-draft-07' });

/** Verdicts by the schema's JSON text; bounded in entries and in characters kept. */
const MAX_CACHED = 512;
const MAX_CACHED_CHARS = 8_000_000;
const verdicts = new Map<string, SchemaVerdict | null>();
let cachedChars = 0;

interface SchemaVerdict {
  /** Where in the schema, as a path to append to `…parameters` (`.properties.city.type`), or ''. */
  at: string;
  message: string;
}

/**
 * The first problem of a function's `parameters`, or undefined. The spec's FunctionParameters is "a
 * JSON Schema object" (openapi.yaml, read 2026-11-29); OpenAI's API refuses a function whose schema
 * has no root `"type": "object"`, including an empty `{}` and a root `oneOf`, with "Invalid schema for
 * function 'x': schema must be a JSON Schema of 'type: "object"', got 'type: "None"'" (reported in
 * many public projects, e.g. zod/AI SDK users, 2025-2026). Leaving `parameters` out is allowed: "a
 * function with an empty parameter list".
 */
export function parametersProblem(parameters: unknown, where: string): ToolProblem | undefined {
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    return {
      severity: 'error',
      code: 'invalid_parameters',
      message: `${where} must be a JSON Schema object, not ${parameters === null ? 'null' : Array.isArray(parameters) ? 'an array' : `a ${typeof parameters}`}`,
      fix: 'Describe the arguments as {"type": "object", "properties": {...}, "required": [...]}, or leave "parameters" out for a function without arguments.',
    };
  }
  const verdict = schemaVerdict(parameters as Record<string, unknown>);
  if (!verdict) return undefined;
  return {
    severity: 'error',
    code: 'invalid_parameters',
    message: `${where}${verdict.at} ${verdict.message}`,
    fix: verdict.at
      ? 'Correct the schema there: "parameters" must be a valid JSON Schema (https://json-schema.org/understanding-json-schema/).'
      : 'Write "parameters" as {"type": "object", "properties": {...}}, or leave it out for a function without arguments.',
  };
}

function schemaVerdict(schema: Record<string, unknown>): SchemaVerdict | null {
  const key = JSON.stringify(schema);
  const cached = verdicts.get(key);
  if (cached !== undefined) return cached;
  const verdict = judgeSchema(schema);
  if (key.length <= MAX_CACHED_CHARS / 8) {
    while (verdicts.size >= MAX_CACHED || cachedChars + key.length > MAX_CACHED_CHARS) {
      const oldest = verdicts.keys().next().value as string;
      verdicts.delete(oldest);
      cachedChars -= oldest.length;
    }
    verdicts.set(key, verdict);
    cachedChars += key.length;
  }
  return verdict;
}

function judgeSchema(schema: Record<string, unknown>): SchemaVerdict | null {
  if (!metaSchema(schema)) {
    const error = metaSchema.errors![0]!;
    return { at: pathOf(schema, error.instancePath), message: describe(error) };
  }
  if (schema.type !== 'object') {
    return {
      at: '',
      message:
        schema.type === undefined
          ? 'has no "type": "object" at its root; OpenAI takes only an object schema for a function\'s arguments'
          : `has "type": ${JSON.stringify(schema.type)} at its root; OpenAI takes only "type": "object" for a function's arguments`,
    };
  }
  return null;
}

function describe(error: ErrorObject): string {
  const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
  const text = error.message ?? `fails the JSON Schema "${error.keyword}" rule`;
  return allowed ? `${text}: ${allowed.map((v) => JSON.stringify(v)).join(', ')}` : text;
}

/** A JSON pointer into `root` as the report writes places: `.properties.city.type`, `.required[0]`. */
function pathOf(root: unknown, pointer: string): string {
  if (!pointer) return '';
  let path = '';
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path += `[${key}]`;
      node = node[Number(key)];
    } else {
      path += /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

/** Where a call's id or a result's tool_call_id was met. */
interface CallSite {
  message: number;
  call: number;
}

/**
 * How tool calls and tool results pair up in one conversation (`messages`, already shape-checked):
 *
 * - a tool message's `tool_call_id` must answer a call of an earlier assistant message that is not
 *   answered yet (the Chat Completions API refuses "messages with role 'tool' must be a response to a
 *   preceding message with 'tool_calls'");
 * - a call followed by later messages must be answered by one of them; only calls in the last message
 *   may stay open, which is how an example teaches the model to call a tool (the spec's own training
 *   example, FineTuneChatRequestInput in openapi-2025-04-29.yaml, ends with an unanswered call);
 * - call ids are unique within the example, or a result could answer either call.
 *
 * `ids` are ids already used before `messages` (a preference output continues its input).
 */
export function toolCallPairing(
  messages: readonly ChatMessage[],
  path: string,
  ids: Map<string, string> = new Map(),
): ToolProblem[] {
  const problems: ToolProblem[] = [];
  const open = new Map<string, CallSite>();
  messages.forEach((message, i) => {
    if (message.role === 'assistant' && Array.isArray(message.tool_calls)) {
      message.tool_calls.forEach((call: unknown, j) => {
        const id = (call as { id?: unknown }).id;
        if (typeof id !== 'string') return;
        const where = `${path}[${i}].tool_calls[${j}].id`;
        const earlier = ids.get(id);
        if (earlier !== undefined) {
          problems.push({
            severity: 'error',
            code: 'duplicate_tool_call_id',
            message: `${where} ${JSON.stringify(id)} repeats the id of ${earlier}; a tool result could not say which call it answers`,
            fix: 'Give every tool call in the example its own "id" (and its tool message the same "tool_call_id").',
          });
          return;
        }
        ids.set(id, where);
        open.set(id, { message: i, call: j });
      });
    } else if (message.role === 'tool' && typeof message.tool_call_id === 'string') {
      const id = message.tool_call_id;
      if (open.delete(id)) return;
      const where = `${path}[${i}].tool_call_id`;
      const call = ids.get(id);
      problems.push({
        severity: 'error',
        code: 'unmatched_tool_result',
        message:
          call === undefined
            ? `${where} ${JSON.stringify(id)} answers no tool call of an earlier assistant message`
            : `${where} ${JSON.stringify(id)} answers ${call.replace(/\.id$/, '')}, which an earlier tool message already answers`,
        fix: 'Set "tool_call_id" to the "id" of the assistant tool call this message answers, once per call, after the call.',
      });
    }
  });
  const last = messages.length - 1;
  for (const [id, site] of open) {
    if (site.message === last) continue;
    problems.push({
      severity: 'error',
      code: 'unanswered_tool_call',
      message: `${path}[${site.message}].tool_calls[${site.call}] (id ${JSON.stringify(id)}) is never answered, yet the conversation goes on after it`,
      fix: `Add {"role": "tool", "tool_call_id": ${JSON.stringify(id)}, "content": "..."} with its result after ${path}[${site.message}], or end the example with the call.`,
    });
  }
  return problems;
}

/**
 * Calls to functions the example does not declare. Only when it declares some (tools or functions):
 * OpenAI's fine-tuning guide suggests leaving the definitions out of training examples to save tokens
 * once the model has learned which functions to call, so an example without any declared is deliberate,
 * not a slip. A warning, not an error: nothing in the spec ties a call's name to the declared list.
 */
export function undeclaredCalls(
  messages: readonly ChatMessage[],
  path: string,
  declared: ReadonlySet<string> | undefined,
): ToolProblem[] {
  if (!declared) return [];
  const problems: ToolProblem[] = [];
  const warn = (name: unknown, where: string) => {
    if (typeof name !== 'string' || declared.has(name) || !FUNCTION_NAME.test(name)) return;
    problems.push({
      severity: 'warning',
      code: 'undeclared_function',
      message: `${where} calls ${JSON.stringify(name)}, which the example's tools do not declare`,
      fix: `Declare "${name}" in "tools" (with its parameters), or call one of: ${[...declared].join(', ')}.`,
    });
  };
  messages.forEach((message, i) => {
    if (message.role !== 'assistant') return;
    if (Array.isArray(message.tool_calls)) {
      message.tool_calls.forEach((call: unknown, j) =>
        warn((call as { function?: { name?: unknown } }).function?.name, `${path}[${i}].tool_calls[${j}]`),
      );
    }
    const legacy = message.function_call as { name?: unknown } | undefined;
    if (legacy) warn(legacy.name, `${path}[${i}].function_call`);
  });
  return problems;
}
