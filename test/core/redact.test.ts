import {
  clearRegisteredSecrets,
  isPrintableAscii,
  REDACTED_KEY,
  REDACTED_SECRET,
  redactError,
  redactFields,
  redactSecrets,
  registerSecret,
} from '../../functions/core/redact.js';

afterEach(() => clearRegisteredSecrets());

describe('redactSecrets', () => {
  it('masks anything shaped like an OpenAI key, saying what was there', () => {
    expect(redactSecrets('Incorrect API key provided: sk-proj-abcDEF123456_xyz-789.')).toBe(
      `Incorrect API key provided: ${REDACTED_KEY}.`,
    );
    expect(REDACTED_KEY).toBe('sk-…[redacted]');
  });

  it('leaves words that merely contain "sk-" and the "sk-..." of a fix alone', () => {
    const text = 'task-tokens-of-the-run disk-usage-is-high; store {"apiKey":"sk-..."}';
    expect(redactSecrets(text)).toBe(text);
  });

  it('masks a registered secret whatever its shape, as it is and JSON-escaped', () => {
    registerSecret('Plain-Secret-1234');
    expect(redactSecrets('got Plain-Secret-1234 twice: Plain-Secret-1234')).toBe(
      `got ${REDACTED_SECRET} twice: ${REDACTED_SECRET}`,
    );
    registerSecret('sk-a\nb-with-newline');
    expect(redactSecrets(JSON.stringify({ header: 'Bearer sk-a\nb-with-newline' }))).toBe(
      JSON.stringify({ header: `Bearer ${REDACTED_KEY}` }),
    );
  });

  it('masks each printable run of a registered secret that holds a newline, wherever it was broken', () => {
    registerSecret('first-half-1234\nsecond-half-5678');
    expect(redactSecrets('line one: first-half-1234\nline two: second-half-5678')).toBe(
      `line one: ${REDACTED_SECRET}\nline two: ${REDACTED_SECRET}`,
    );
  });

  it('masks secrets passed in without registering them', () => {
    expect(redactSecrets('key=Unregistered-Secret', ['Unregistered-Secret'])).toBe(`key=${REDACTED_SECRET}`);
    expect(redactSecrets('key=Unregistered-Secret')).toBe('key=Unregistered-Secret');
  });

  it('does not register strings too short to mask without garbling text', () => {
    registerSecret('abc');
    expect(redactSecrets('abc abc')).toBe('abc abc');
  });
});

describe('redactError', () => {
  it("masks an error's message, stack and fix and those of its causes, in place", () => {
    registerSecret('Secret-Value-42');
    const cause = new TypeError('Headers.append: "Bearer Secret-Value-42" is an invalid header value.');
    const error = Object.assign(new Error('upload failed: Secret-Value-42', { cause }), {
      fix: 'rotate Secret-Value-42',
    });
    expect(redactError(error)).toBe(error);
    expect(error.message).toBe(`upload failed: ${REDACTED_SECRET}`);
    expect(error.stack).not.toContain('Secret-Value-42');
    expect(error.fix).toBe(`rotate ${REDACTED_SECRET}`);
    expect(cause.message).toContain(`Bearer ${REDACTED_SECRET}`);
    expect(cause.stack).not.toContain('Secret-Value-42');
  });

  it('ends on a cycle of causes', () => {
    const a = new Error('a sk-cycle-abcdefghijkl');
    const b = new Error('b', { cause: a });
    a.cause = b;
    redactError(b);
    expect(a.message).toBe(`a ${REDACTED_KEY}`);
  });
});

describe('redactFields', () => {
  it("masks a run error's strings and keeps its other fields", () => {
    expect(redactFields({ code: 'x', message: 'key sk-run-error-abcdefgh', count: 2 })).toEqual({
      code: 'x',
      message: `key ${REDACTED_KEY}`,
      count: 2,
    });
  });
});

describe('isPrintableAscii', () => {
  it('accepts space to tilde and nothing else', () => {
    expect(isPrintableAscii(' sk-~AZaz09')).toBe(true);
    for (const char of ['\n', '\t', '\r', '\u00a0', '\u200b', 'é', '\u007f'])
      expect({ char, printable: isPrintableAscii(`sk-${char}`) }).toEqual({ char, printable: false });
  });
});
