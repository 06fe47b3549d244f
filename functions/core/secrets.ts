/**
 * Credentials in training data: a fine-tuned model can repeat what it was trained on, so a key in a
 * file is a key handed to everyone who can call the model. Found per line in the validator's one pass;
 * reported by line, place and kind, never by the matched text.
 *
 * Shapes, and where they come from:
 * - OpenAI API keys: `sk-` then a random base62 body, with `sk-proj-`, `sk-svcacct-` and `sk-admin-` for
 *   project, service-account and admin keys (OpenAI's API key pages; gitleaks' `openai-api-key` rule).
 *   Anthropic keys (`sk-ant-`) share the shape and are named apart.
 * - AWS access key ids: `AKIA` (long-term) or `ASIA` (temporary, STS) and 16 upper-case letters or
 *   digits, 20 in all (IAM User Guide, "Unique identifiers"; STS GetAccessKeyInfo).
 * - AWS secret access keys: 40 characters of base64 (`[A-Za-z0-9/+]`). Alone they look like any other
 *   hash, so only reported next to their name (`aws_secret_access_key = …`, `SecretAccessKey: …`).
 * - Private keys: the PEM header `-----BEGIN … PRIVATE KEY-----` (RFC 7468: PKCS#8, RSA, EC, DSA,
 *   OpenSSH, ENCRYPTED) and `-----BEGIN PGP PRIVATE KEY BLOCK-----` (RFC 4880).
 * - GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36 base62 characters, `github_pat_` and 82
 *   (GitHub's "Behind GitHub's new authentication token formats", 2021).
 * - Slack tokens: `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-` then digits and dashes (Slack's token
 *   types documentation).
 * - Google API keys: `AIza` and 35 characters of `[A-Za-z0-9_-]` (Google Cloud API keys documentation).
 * - Stripe live secret and restricted keys: `sk_live_`, `rk_live_` (Stripe's API keys documentation).
 *
 * False positives are kept low: every shape needs its fixed prefix and a full-length body bounded on
 * both sides; bodies of OpenAI-style keys must mix letters and digits (so `sk-this-is-not-a-real-key`
 * passes); AWS's documentation example keys (ending in `EXAMPLE`) are not credentials. What is not
 * found: keys without a known prefix (passwords, generic tokens), and keys spelled with JSON `\u`
 * escapes of plain ASCII letters (no JSON encoder writes them).
 */

export type SecretKind =
  | 'openai_api_key'
  | 'anthropic_api_key'
  | 'aws_access_key_id'
  | 'aws_secret_access_key'
  | 'private_key'
  | 'github_token'
  | 'slack_token'
  | 'google_api_key'
  | 'stripe_secret_key';

export const SECRET_KIND_NAMES: ReadonlyMap<SecretKind, string> = new Map<SecretKind, string>([
  ['openai_api_key', 'an OpenAI API key'],
  ['anthropic_api_key', 'an Anthropic API key'],
  ['aws_access_key_id', 'an AWS access key id'],
  ['aws_secret_access_key', 'an AWS secret access key'],
  ['private_key', 'a private key'],
  ['github_token', 'a GitHub token'],
  ['slack_token', 'a Slack token'],
  ['google_api_key', 'a Google API key'],
  ['stripe_secret_key', 'a Stripe secret key'],
]);

interface Rule {
  kind: SecretKind;
  pattern: RegExp;
  /** A further check of the match, for shapes a regular expression states badly. */
  accept?: (match: string) => boolean;
}

const mixesLettersAndDigits = (text: string) => /[0-9]/.test(text) && /[A-Za-z]/.test(text);
const notAwsExample = (text: string) => !/EXAMPLE(?:KEY)?$/.test(text);

// Left boundaries are lookbehinds rather than \b so that `-` and `_` inside a longer token do not
// start a match; right boundaries stop a match that runs on into more key characters.
const RULES: readonly Rule[] = [
  {
    kind: 'anthropic_api_key',
    pattern: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{32,}/g,
  },
  {
    kind: 'openai_api_key',
    pattern: /(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?([A-Za-z0-9_-]{20,})/g,
    accept: (match) => !match.startsWith('sk-ant-') && mixesLettersAndDigits(match.slice(3)),
  },
  {
    kind: 'aws_access_key_id',
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    accept: notAwsExample,
  },
  {
    kind: 'aws_secret_access_key',
    pattern:
      /(?:aws_?secret_?access_?key|secret_?access_?key|SecretAccessKey)["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/gi,
    accept: notAwsExample,
  },
  {
    kind: 'private_key',
    pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g,
  },
  {
    kind: 'github_token',
    pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])/g,
  },
  {
    kind: 'slack_token',
    pattern: /(?<![A-Za-z0-9])xox[baprs]-[0-9]+-[A-Za-z0-9-]{8,}/g,
  },
  {
    kind: 'google_api_key',
    pattern: /(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/g,
  },
  {
    kind: 'stripe_secret_key',
    pattern: /(?<![A-Za-z0-9_])[rs]k_live_[A-Za-z0-9]{24,}/g,
  },
];

/**
 * A cheap test on the raw JSON line, true whenever any rule could match a string in it (and sometimes
 * when none does). The characters the rules need are never escaped by JSON encoders, so a key in the
 * line appears in the raw text as it is; only the left boundaries are left to the exact rules, since in
 * the raw text a key at the start of a line follows `\n`.
 */
const CANDIDATE =
  /sk-[A-Za-z0-9_-]{20}|A[KS]IA[A-Z0-9]{16}|[Ss]ecret_?[Aa]ccess_?[Kk]ey|SECRET_?ACCESS_?KEY|PRIVATE KEY|gh[pousr]_[A-Za-z0-9]{36}|github_pat_|xox[baprs]-|AIza[A-Za-z0-9_-]{35}|[rs]k_live_/;

/** Every kind of credential in one text, in rule order (empty when none). */
export function findSecretsInText(text: string): SecretKind[] {
  const found: SecretKind[] = [];
  for (const rule of RULES) {
    rule.pattern.lastIndex = 0;
    for (let match = rule.pattern.exec(text); match; match = rule.pattern.exec(text)) {
      if (!rule.accept || rule.accept(match[0])) {
        found.push(rule.kind);
        break;
      }
    }
  }
  return found;
}

export interface SecretFinding {
  kinds: SecretKind[];
  /** Where the first one is, as `messages[1].content`. */
  path: string;
}

/**
 * Looks for credentials in every string of a parsed line (values and keys, at any depth). `rawLine` is
 * the line's JSON text: lines whose text cannot hold one are passed over without walking the value.
 */
export function findSecrets(value: unknown, rawLine: string): SecretFinding | undefined {
  if (!CANDIDATE.test(rawLine)) return undefined;
  const kinds = new Set<SecretKind>();
  let first: string | undefined;
  const visit = (node: unknown, path: string) => {
    if (typeof node === 'string') {
      const here = findSecretsInText(node);
      if (here.length > 0) {
        first ??= path;
        for (const kind of here) kinds.add(kind);
      }
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, `${path}[${i}]`));
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, item] of Object.entries(node)) {
        // A key is named in the path only when it is a plain name and no credential itself.
        const name = /^[A-Za-z_][A-Za-z0-9_]{0,30}$/.test(key) && findSecretsInText(key).length === 0;
        const at = `${path}${path ? '.' : ''}${name ? key : '[key]'}`;
        visit(key, at);
        visit(item, at);
      }
    }
  };
  visit(value, '');
  return first === undefined ? undefined : { kinds: [...kinds], path: first || '(the line)' };
}

/** "an OpenAI API key and a private key" */
export function describeSecretKinds(kinds: readonly SecretKind[]): string {
  const names = kinds.map((kind) => SECRET_KIND_NAMES.get(kind) ?? kind);
  return names.length <= 1
    ? (names[0] ?? '')
    : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
