import fc from 'fast-check';
import { validateDataset, type ValidationOptions } from '../../functions/core/dataset.js';
import { renderValidationMarkdown } from '../../functions/core/report.js';
import { findSecrets, findSecretsInText, type SecretKind } from '../../functions/core/secrets.js';
import { testValidationOptions } from '../support/fakes.js';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const from = (alphabet: string, length: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength: length, maxLength: length });
/** Random keys mix letters and digits, as real ones practically always do (the detector requires it). */
const mixed = (body: fc.Arbitrary<string>) => body.filter((s) => /[0-9]/.test(s) && /[A-Za-z]/.test(s));

const keys: Array<[SecretKind, fc.Arbitrary<string>]> = [
  [
    'openai_api_key',
    fc
      .tuple(fc.constantFrom('sk-', 'sk-proj-', 'sk-svcacct-', 'sk-admin-'), mixed(from(`${BASE62}_-`, 48)))
      .map(([prefix, body]) => `${prefix}${body}`),
  ],
  ['anthropic_api_key', from(`${BASE62}_-`, 95).map((body) => `sk-ant-api03-${body}`)],
  [
    'aws_access_key_id',
    fc
      .tuple(fc.constantFrom('AKIA', 'ASIA'), from(UPPER_ALNUM, 16))
      .filter(([, body]) => !body.endsWith('EXAMPLE'))
      .map(([prefix, body]) => `${prefix}${body}`),
  ],
  [
    'aws_secret_access_key',
    fc
      .tuple(
        fc.constantFrom('aws_secret_access_key = ', 'AWS_SECRET_ACCESS_KEY=', '"SecretAccessKey": "'),
        from(`${BASE62}/+`, 40).filter((s) => !s.endsWith('EXAMPLE') && !s.endsWith('EXAMPLEKEY')),
      )
      .map(([name, body]) => `${name}${body}`),
  ],
  [
    'private_key',
    fc
      .constantFrom('', 'RSA ', 'EC ', 'DSA ', 'OPENSSH ', 'ENCRYPTED ')
      .map((kind) => `-----BEGIN ${kind}PRIVATE KEY-----`),
  ],
  [
    'github_token',
    fc.oneof(
      fc
        .tuple(fc.constantFrom('ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'), from(BASE62, 36))
        .map(([p, b]) => `${p}${b}`),
      from(`${BASE62}_`, 82).map((b) => `github_pat_${b}`),
    ),
  ],
  [
    'slack_token',
    fc
      .tuple(fc.constantFrom('xoxb-', 'xoxp-'), from('0123456789', 12), from(BASE62, 24))
      .map(([p, n, b]) => `${p}${n}-${b}`),
  ],
  ['google_api_key', from(`${BASE62}_-`, 35).map((b) => `AIza${b}`)],
  [
    'stripe_secret_key',
    fc.tuple(fc.constantFrom('sk_live_', 'rk_live_'), from(BASE62, 24)).map(([p, b]) => `${p}${b}`),
  ],
];

/** Any text, then a separator a key can follow (or nothing). */
const before = fc
  .tuple(fc.string(), fc.constantFrom('', ' ', '\n', ': ', '="', '(', '\t'))
  .map(([t, s]) => (s === '' ? '' : `${t}${s}`));
const after = fc
  .tuple(fc.constantFrom('', ' ', '\n', '.', '"', ')'), fc.string())
  .map(([s, t]) => (s === '' ? '' : `${s}${t}`));

describe('findSecretsInText', () => {
  it.each(keys)('finds %s wherever it sits in any text', (kind, key) => {
    fc.assert(
      fc.property(before, key, after, (left, secret, right) => {
        expect(findSecretsInText(`${left}${secret}${right}`)).toContain(kind);
      }),
    );
  });

  it('finds nothing in text made of words, digits and punctuation', () => {
    const word = fc.oneof(
      fc.string({
        unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'),
        maxLength: 12,
      }),
      fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 8 }),
      fc.constantFrom('sk', 'AKIA', 'ghp', 'BEGIN', 'KEY', 'risk-', 'task-', '-----', 'xoxb'),
    );
    const text = fc
      .array(fc.tuple(word, fc.constantFrom(' ', ', ', '. ', '\n', ' - ')), { maxLength: 40 })
      .map((parts) => parts.map(([w, s]) => `${w}${s}`).join(''));
    fc.assert(fc.property(text, (t) => expect(findSecretsInText(t)).toEqual([])));
  });

  it('finds nothing in arbitrary unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (t) =>
        expect(findSecretsInText(t)).toEqual([]),
      ),
    );
  });

  it.each([
    ['a hyphenated phrase after sk-', 'see sk-this-is-not-a-real-key-at-all for details'],
    ['a word that ends in sk-', 'the task-0123456789abcdefghijklmnop-runner'],
    ["AWS's documentation example key id", 'export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE'],
    [
      "AWS's documentation example secret key",
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    ],
    ['a 40-character hash without its name', 'commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad'],
    ['an access key id glued into a longer token', 'XAKIAQ3EGRZ7MV4WXN2DPQ'],
    ['a public key', '-----BEGIN PUBLIC KEY-----'],
    ['a certificate', '-----BEGIN CERTIFICATE-----'],
    ['a too-short GitHub-looking token', 'ghp_abc123'],
    ['a Stripe test key', 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'],
  ])('does not flag %s', (_what, text) => {
    expect(findSecretsInText(text)).toEqual([]);
  });

  it('names each kind once however often it appears', () => {
    const text = 'AKIAQ3EGRZ7MV4WXN2DP and ASIAQ3EGRZ7MV4WXN2DQ with -----BEGIN RSA PRIVATE KEY-----';
    expect(findSecretsInText(text)).toEqual(['aws_access_key_id', 'private_key']);
  });
});

describe('findSecrets', () => {
  const key = 'sk-proj-Q3EGRZ7MV4WXN2DPq3egrz7mv4wxn2dp_Q3EGRZ7MV4';

  it('finds a key in any string of the line and says where, by structure only', () => {
    const value = {
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          tool_calls: [{ function: { name: 'f', arguments: JSON.stringify({ token: key }) } }],
        },
      ],
    };
    expect(findSecrets(value, JSON.stringify(value))).toEqual({
      kinds: ['openai_api_key'],
      path: 'messages[1].tool_calls[0].function.arguments',
    });
  });

  it('finds a key that starts a line inside a message, where the raw JSON has \\n before it', () => {
    const value = { messages: [{ role: 'user', content: `my key:\n${key}` }] };
    expect(findSecrets(value, JSON.stringify(value))?.kinds).toEqual(['openai_api_key']);
  });

  it('finds a key used as an object key without putting it in the path', () => {
    const value = { messages: [{ role: 'user', content: 'x', [key]: 1 }] };
    const found = findSecrets(value, JSON.stringify(value));
    expect(found?.kinds).toEqual(['openai_api_key']);
    expect(found?.path).not.toContain(key.slice(8));
  });

  it('passes over a line without any candidate text', () => {
    const value = { messages: [{ role: 'user', content: 'nothing here' }] };
    expect(findSecrets(value, JSON.stringify(value))).toBeUndefined();
  });
});

describe('credentials in a dataset', () => {
  const options: ValidationOptions = testValidationOptions;
  const secret = 'AKIAQ3EGRZ7MV4WXN2DP';
  const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END';
  const example = (i: number, answer = `Answer ${i}.`) => ({
    messages: [
      { role: 'system', content: 'You answer questions.' },
      { role: 'user', content: `Question ${i}?` },
      { role: 'assistant', content: answer },
    ],
  });
  const dataset = (n: number, special: Map<number, string>) =>
    `${Array.from({ length: n }, (_, i) => JSON.stringify(example(i, special.get(i)))).join('\n')}\n`;
  const validate = (text: string, extra: Partial<ValidationOptions> = {}) =>
    validateDataset(
      async function* () {
        yield new TextEncoder().encode(text);
      },
      { ...options, ...extra },
    );
  const withSecrets = dataset(
    20,
    new Map([
      [3, `Use ${secret} for the bucket.`],
      [7, `Here it is:\n${pem}`],
    ]),
  );

  it('are errors by default, each naming its line and kind', async () => {
    const report = await validate(withSecrets);
    expect(report.verdict).toBe('invalid');
    expect(report.errors).toEqual([
      expect.objectContaining({
        code: 'secret_in_data',
        line: 4,
        message: expect.stringContaining('an AWS access key id (in messages[2].content)'),
      }),
      expect.objectContaining({
        code: 'secret_in_data',
        line: 8,
        message: expect.stringContaining('a private key'),
      }),
    ]);
  });

  it('never appear in the JSON or Markdown report', async () => {
    const report = await validate(withSecrets);
    const stored = {
      schemaVersion: 1 as const,
      runId: 'r',
      source: { bucket: 'b', key: 'k' },
      checkedAt: '2026-11-24T10:00:00Z',
      ...report,
    };
    for (const text of [JSON.stringify(stored), renderValidationMarkdown(stored)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(4));
      expect(text).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ');
    }
  });

  it('are warnings when the family allows them, and the run may train', async () => {
    const report = await validate(withSecrets, { secretScan: 'warning' });
    expect(report.verdict).toBe('valid');
    expect(report.warnings.filter((w) => w.code === 'possible_secret').map((w) => w.line)).toEqual([4, 8]);
    expect(report.warningCount).toBeGreaterThanOrEqual(2);
  });

  it('are not looked for when the scan is off', async () => {
    const report = await validate(withSecrets, { secretScan: 'off' });
    expect(report.verdict).toBe('valid');
    expect([...report.errors, ...report.warnings].map((i) => i.code)).not.toContain('possible_secret');
  });

  it('are found on lines that have other problems too, and in legacy files', async () => {
    const broken = { messages: [{ role: 'bot', content: secret }] };
    const report = await validate(`${dataset(12, new Map())}${JSON.stringify(broken)}\n`);
    expect(report.errors.map((e) => [e.code, e.line])).toContainEqual(['secret_in_data', 13]);

    const legacy = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({ prompt: `p${i} ->`, completion: i === 5 ? ` ${secret}\n` : ` c${i}\n` }),
    ).join('\n');
    const converted = await validate(`${legacy}\n`, { convertLegacy: true });
    expect(converted.errors.map((e) => [e.code, e.line])).toContainEqual(['secret_in_data', 6]);
  });
});
