import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * The official OpenAI OpenAPI spec (../shared/openai/openapi.yaml) as JSON Schema 2020-12 for ajv, so
 * that emulator tests validate what it answers against the spec's component schemas.
 */
const SPEC_PATH = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/openai/openapi.yaml');
const spec = toJsonSchema2020(parse(readFileSync(SPEC_PATH, 'utf8'))) as Record<string, unknown>;
const ajv = new Ajv2020.default({ strict: false, allErrors: true, validateFormats: false });
addFormats.default(ajv);
ajv.addSchema({ ...spec, $id: 'openai' });
const schema = (name: string) => ajv.getSchema(`openai#/components/schemas/${name}`)!;

/**
 * The spec is OpenAPI 3.1 (JSON Schema 2020-12) with a few OpenAPI 3.0 leftovers that ajv refuses:
 * boolean exclusiveMinimum/exclusiveMaximum and `nullable`. Rewrite those to their 2020-12 meaning.
 */
export function toJsonSchema2020(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema2020);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = toJsonSchema2020(value);
  for (const [exclusive, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (out[exclusive] === true) {
      out[exclusive] = out[bound];
      delete out[bound];
    } else if (out[exclusive] === false) delete out[exclusive];
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

/** Throws, with ajv's reasons, when `value` (as JSON) does not match the spec's schema `name`. */
export function expectShape(name: string, value: unknown): void {
  const validate = schema(name);
  const ok = validate(JSON.parse(JSON.stringify(value)));
  if (!ok)
    throw new Error(
      `${name} does not match the spec: ${ajv.errorsText(validate.errors, { separator: '\n' })}`,
    );
}
