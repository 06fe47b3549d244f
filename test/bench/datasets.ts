import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Benchmark datasets, generated (deterministically) rather than shipped:
 * - realistic: a support-assistant chat set. A handful of long system prompts repeat on every line, user
 *   turns are built from common phrasings, answers from a small set of labels and templates: the
 *   repetition real fine-tuning files have.
 * - unique: no message and no example repeats; the words follow a natural (Zipf) distribution over a
 *   30,000-word vocabulary, as in text written by many different people.
 * - random: every word is random letters, so not even words repeat: the worst case for any reuse,
 *   reported for information (no target).
 */
export type DatasetKind = 'realistic' | 'unique' | 'random';

const DIR = join(tmpdir(), 'tunedrop-bench');

/** A seeded generator of numbers in [0, 1): the benchmarks' files are the same in every run. */
export function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    state = Math.imul(state ^ (state >>> 13), 3266489909) >>> 0;
    return ((state ^= state >>> 16) >>> 0) / 2 ** 32;
  };
}

const SYSTEM_PROMPTS = [
  'You are Inkwell Support, the assistant for a note-taking app. Answer briefly and politely. If the question is about billing, point to Settings > Billing. Never promise refunds; say a human will review the request within two business days. Classify the ticket first, then answer.',
  'You are a triage assistant. Read the customer message and reply with exactly one label from: billing, bug, account, feature_request, other. Do not explain your choice.',
  'You write short, friendly replies for a bookstore chat. Mention the order number when the customer gives one, and always end with an offer to help further.',
];
const OPENINGS = ['Hi,', 'Hello team,', 'Hey there,', 'Good morning,', 'Hi support,', 'Dear Inkwell,'];
const SUBJECTS = [
  'my subscription',
  'the sync feature',
  'my account',
  'the Android app',
  'my last invoice',
  'the export to PDF',
  'two-factor login',
  'the web editor',
];
const PROBLEMS = [
  'stopped working after the update',
  'charged me twice',
  'keeps logging me out',
  'is missing some notes',
  'shows an error 502',
  'is very slow today',
  'does not save my changes',
];
const CLOSINGS = ['Thanks!', 'Can you help?', 'Please advise.', 'This is urgent.', 'Thank you in advance.'];
const LABELS = ['billing', 'bug', 'account', 'feature_request', 'other'];
const REPLIES = [
  'Thanks for reaching out! I have forwarded this to our team and you will hear back within two business days.',
  'Sorry about the trouble. Please update to the latest version and restart the app; if it persists, reply with a screenshot.',
  'You can manage this under Settings > Billing. A human will review any refund request within two business days.',
];

function realisticLine(next: () => number, i: number): string {
  const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)]!;
  const system = pick(SYSTEM_PROMPTS);
  const user = `${pick(OPENINGS)} ${pick(SUBJECTS)} ${pick(PROBLEMS)} (order #${100000 + ((i * 7919) % 900000)}). ${pick(CLOSINGS)}`;
  const answer = system.includes('exactly one label') ? pick(LABELS) : pick(REPLIES);
  return JSON.stringify({
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: user },
      { role: 'assistant', content: answer },
    ],
  });
}

const SYLLABLES = [
  'ka',
  'to',
  're',
  'mi',
  'sun',
  'del',
  'or',
  'ven',
  'la',
  'pri',
  'co',
  'st',
  'an',
  'ble',
  'ti',
  'on',
  'ex',
  'ing',
  'ma',
  'ru',
  'gel',
  'ph',
  'qu',
  'ist',
];
let vocabulary: string[] | undefined;
function zipfWord(next: () => number): string {
  if (!vocabulary) {
    const build = random(3);
    vocabulary = Array.from({ length: 30_000 }, () => {
      let word = '';
      for (let k = 1 + Math.floor(build() * 4); k > 0; k--)
        word += SYLLABLES[Math.floor(build() * SYLLABLES.length)];
      return word;
    });
  }
  // Zipf: rank r is drawn with probability proportional to 1/r (inverse-CDF approximation).
  const rank = Math.floor(Math.exp(next() * Math.log(vocabulary.length)));
  return vocabulary[Math.min(vocabulary.length - 1, rank - 1)]!;
}

function uniqueLine(next: () => number, i: number): string {
  const sentence = (words: number) => {
    const out: string[] = [];
    for (let k = 0; k < words; k++)
      out.push(k === 0 ? zipfWord(next).replace(/^./, (c) => c.toUpperCase()) : zipfWord(next));
    return `${out.join(' ')}${next() < 0.3 ? `, ${Math.floor(next() * 10_000)}` : ''}.`;
  };
  const paragraph = (sentences: number) =>
    Array.from({ length: sentences }, () => sentence(5 + Math.floor(next() * 12))).join(' ');
  return JSON.stringify({
    messages: [
      { role: 'system', content: `Case ${i}. ${paragraph(2)}` },
      { role: 'user', content: paragraph(2 + Math.floor(next() * 3)) },
      { role: 'assistant', content: paragraph(1 + Math.floor(next() * 3)) },
    ],
  });
}

function randomLine(next: () => number): string {
  const word = () => {
    const length = 2 + Math.floor(next() * 9);
    let w = '';
    for (let k = 0; k < length; k++) w += String.fromCharCode(97 + Math.floor(next() * 26));
    return w;
  };
  const sentence = (words: number) => Array.from({ length: words }, word).join(' ');
  return JSON.stringify({
    messages: [
      { role: 'system', content: sentence(20 + Math.floor(next() * 20)) },
      { role: 'user', content: sentence(20 + Math.floor(next() * 40)) },
      { role: 'assistant', content: sentence(10 + Math.floor(next() * 30)) },
    ],
  });
}

/** The path of a generated dataset of about `megabytes` MB, creating it the first time. */
export async function benchDataset(kind: DatasetKind, megabytes: number): Promise<string> {
  await mkdir(DIR, { recursive: true });
  // The generator version is in the name, so a changed generator never reuses a stale file.
  const path = join(DIR, `${kind}-v2-${megabytes}mb.jsonl`);
  if (existsSync(path) && statSync(path).size >= megabytes * 1e6) return path;
  await writeDataset(kind, path, megabytes * 1e6);
  return path;
}

/**
 * Writes a `kind` dataset of whole lines to `path`, as large as possible without exceeding `maxBytes` when
 * `exact` is set (for a file that must stay under a limit), else the first line count reaching `maxBytes`.
 */
export async function writeDataset(
  kind: DatasetKind,
  path: string,
  maxBytes: number,
  { exact = false } = {},
): Promise<number> {
  const out = createWriteStream(path);
  const next = random(kind === 'realistic' ? 1 : kind === 'unique' ? 2 : 4);
  let written = 0;
  for (let i = 0; written < maxBytes; i++) {
    const line = `${kind === 'realistic' ? realisticLine(next, i) : kind === 'unique' ? uniqueLine(next, i) : randomLine(next)}\n`;
    const length = Buffer.byteLength(line);
    if (exact && written + length > maxBytes) break;
    written += length;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return written;
}
