/**
 * Masks provider keys in text that leaves a function: error messages and stacks, log lines, the causes
 * returned to Step Functions and the errors stored on a run (issue #9).
 *
 * Two things are masked: every secret this container has read (the configured key, registered by the
 * key middleware when it loads it, in the forms a message may quote it in), and anything shaped like an
 * OpenAI key (`sk-` and at least 12 key characters), whoever's it is. The masked form says what was
 * there: `sk-…[redacted]`, or `[redacted secret]` for a registered secret of another shape.
 */

/** `sk-`, `sk-proj-`, `sk-svcacct-`… not inside a word (`task-…`, `disk-…` are left alone). */
const KEY_SHAPE = /(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{12,}/g;
export const REDACTED_KEY = 'sk-…[redacted]';
export const REDACTED_SECRET = '[redacted secret]';

/** Shorter strings are not registered: masking them would garble ordinary text. */
const MIN_SECRET_LENGTH = 8;

/** Every form of every registered secret, longest first. */
let knownForms: string[] = [];

/**
 * Adds a secret to those masked in this container from now on. Besides the secret itself, its
 * JSON-escaped form (how a log line or a Step Functions cause quotes it) and, when it holds characters
 * outside printable ASCII, each printable run of it (a message may break it at a newline).
 */
export function registerSecret(secret: string): void {
  const forms = new Set(knownForms);
  for (const form of secretForms(secret)) forms.add(form);
  knownForms = [...forms].sort((a, b) => b.length - a.length);
}

/** Forgets the registered secrets (for tests). */
export function clearRegisteredSecrets(): void {
  knownForms = [];
}

function secretForms(secret: string): string[] {
  const forms = [secret, secret.trim(), JSON.stringify(secret).slice(1, -1)];
  if (!isPrintableAscii(secret)) forms.push(...(secret.match(/[\x21-\x7e]+/g) ?? []));
  return forms.filter((form) => form.length >= MIN_SECRET_LENGTH);
}

/** True when every character is printable ASCII (space to tilde). */
export function isPrintableAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/**
 * `text` with every registered secret, every secret in `extraSecrets` and everything shaped like a
 * provider key masked.
 */
export function redactSecrets(text: string, extraSecrets: readonly string[] = []): string {
  const forms = extraSecrets.length
    ? [...knownForms, ...extraSecrets.flatMap(secretForms)].sort((a, b) => b.length - a.length)
    : knownForms;
  let masked = text;
  for (const form of forms) {
    if (masked.includes(form))
      masked = masked.split(form).join(form.startsWith('sk-') ? REDACTED_KEY : REDACTED_SECRET);
  }
  return masked.replace(KEY_SHAPE, REDACTED_KEY);
}

/**
 * Masks an error in place, as it is about to be logged or returned to Step Functions: its message,
 * stack and fix, and those of its causes (and an AggregateError's errors), whose messages are often a lower
 * layer's and may quote a request header. Returns the same error.
 */
export function redactError<E>(error: E): E {
  const seen = new Set<unknown>();
  // Duck-typed: an error from another realm (Node's fetch, a test's sandbox) fails `instanceof Error`.
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    const fields = value as Record<string, unknown>;
    if (typeof fields.message !== 'string' && typeof fields.stack !== 'string') return;
    for (const field of ['message', 'stack', 'fix']) {
      const text = fields[field];
      if (typeof text !== 'string') continue;
      const masked = redactSecrets(text);
      if (masked === text) continue;
      try {
        Object.defineProperty(value, field, { value: masked, writable: true, configurable: true });
      } catch {
        // A frozen error keeps its text; the logger's replacer masks it again on the way out.
      }
    }
    visit(fields.cause);
    if (Array.isArray(fields.errors)) fields.errors.forEach(visit);
  };
  visit(error);
  return error;
}

/** A copy of `record` with its string fields masked: a run's error before it is stored. */
export function redactFields<T extends object>(record: T): T {
  return Object.fromEntries(
    Object.entries(record).map(([field, value]) => [
      field,
      typeof value === 'string' ? redactSecrets(value) : value,
    ]),
  ) as T;
}
