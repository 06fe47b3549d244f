import { random } from './datasets.js';
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, renameSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findModel } from '../../functions/core/catalog.js';
import { validateDataset } from '../../functions/core/dataset.js';
import { benchDataset } from './datasets.js';

/**
 * `npm run bench -- adversarial [--strict] [--only a,b]`: the validator's worst cases. Each generator
 * writes a pathological JSONL file (cached in the OS temp directory); each file is validated by
 * `validateDataset` in-thread (the Lambda's path: the default counter) in its own child process, so that
 * peak RSS is its own and a crash or a hang ends that row only (killed after TIMEOUT_MS). Throughput is
 * compared with a realistic file of similar size measured in the same run. Targets (issue #10): every
 * generator at least a fifth of the normal throughput, none above 512 MB of RSS.
 */
const FILE = fileURLToPath(import.meta.url);
const DIR = join(tmpdir(), 'tunedrop-adversarial');
const TIMEOUT_MS = 120_000;
const MIN_RATIO = 0.2;
const MAX_RSS_MB = 512;

const line = (user: string, assistant = 'OK.') =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  }) + '\n';
const WORDS = 'the a of to and in is it you that for on with as this are be at have from or by not but'.split(
  ' ',
);
const words = (next: () => number, n: number) =>
  Array.from({ length: n }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
const pick = (next: () => number, chars: string[], n: number) =>
  Array.from({ length: n }, () => chars[Math.floor(next() * chars.length)]).join('');

/** Each generator yields lines until about `bytes` are written (or its fixed shape is complete). */
type Generator = (next: () => number) => Iterable<string>;
const MB = 1e6;
function* upTo(bytes: number, make: (i: number) => string): Iterable<string> {
  for (let i = 0, written = 0; written < bytes; i++) {
    const text = make(i);
    written += Buffer.byteLength(text);
    yield text;
  }
}
/** Ten ordinary lines, so that a file with one pathological line is still a dataset. */
function* ordinary(next: () => number): Iterable<string> {
  for (let i = 0; i < 10; i++) yield line(words(next, 40), words(next, 10));
}
const CJK = [
  ...'的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长',
];
const WIDE = [
  ...['😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '𝔘𝔫𝔦', '𠜎', '𠀋', 'é', 'a\u0301\u0302\u0303', 'ǅ', 'ـ', '\u200d', ' ', 'ß'],
];

export const GENERATORS: Record<string, Generator> = {
  normal: () => [], // the realistic bench dataset (datasets.ts), see fileFor
  'deep-nesting': function* (next) {
    yield* ordinary(next);
    // Content parts nested 100,000 levels deep, twenty times.
    for (let i = 0; i < 20; i++)
      yield `{"messages":[{"role":"user","content":${'['.repeat(100_000)}${']'.repeat(100_000)}},{"role":"assistant","content":"OK."}]}\n`;
  },
  'huge-line': function* (next) {
    yield* ordinary(next);
    // One message of 64 MB of ordinary words: over the line limit (64 MiB with the JSON around it).
    yield line(words(next, (64 * MB) / 3.2), 'OK.');
  },
  'big-line': function* (next) {
    yield* ordinary(next);
    // One message of 40 MB of words: under the line limit (64 MiB), so it is read, far over 65,536 tokens.
    yield line(words(next, (40 * MB) / 3.2), 'OK.');
  },
  'space-line': function* (next) {
    yield* ordinary(next);
    // One message of 24 MB of spaces: a single pre-tokenizer piece, under the line limit.
    yield line(`a${' '.repeat(24 * MB)}b`);
  },
  'space-runs': (next) =>
    // 100,000 spaces (give or take, so that no two lines are the same) between two words.
    upTo(16 * MB, () => line(`a${' '.repeat(100_000 + Math.floor(next() * 1000))}b`)),
  'letter-runs': (next) => upTo(16 * MB, () => line(pick(next, [...'abcdefghij'], 50_000))),
  'cjk-runs': (next) => upTo(16 * MB, () => line(pick(next, CJK, 30_000), pick(next, CJK, 200))),
  'tiny-lines': () => upTo(Infinity, (i) => (i < 2_000_000 ? line('a', 'b') : '')),
  duplicates: (next) => {
    const same = line(words(next, 200), words(next, 50));
    return upTo(16 * MB, () => same);
  },
  'wide-unicode': (next) => upTo(16 * MB, () => line(pick(next, WIDE, 400), pick(next, WIDE, 100))),
};

async function fileFor(name: string): Promise<string> {
  if (name === 'normal') return benchDataset('realistic', 16);
  await mkdir(DIR, { recursive: true });
  const path = join(DIR, `${name}-v2.jsonl`);
  if (existsSync(path)) return path;
  const out = createWriteStream(`${path}.part`);
  for (const text of GENERATORS[name]!(random(name.length * 7919))) {
    if (text === '') break;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(`${path}.part`, path);
  return path;
}

export interface AdversarialRow {
  generator: string;
  megabytes: number;
  seconds?: number;
  peakRssMb?: number;
  verdict?: string;
  firstError?: string;
  failure?: string;
}

/** In the child: validate one file in-thread and print one JSON line. */
async function measureChild(path: string): Promise<void> {
  const started = performance.now();
  const report = await validateDataset(() => createReadStream(path), {
    model: findModel('gpt-4.1-mini')!,
    seed: 42,
    validationRatio: 0.2,
    maxValidationExamples: 1000,
    nEpochs: 'auto',
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      seconds,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      verdict: report.verdict,
      firstError: report.errors[0]?.code,
    }),
  );
}

function measure(generator: string, path: string): AdversarialRow {
  const megabytes = statSync(path).size / MB;
  const child = spawnSync(process.execPath, ['--import', 'tsx', FILE, 'measure', path], {
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 1 << 24,
  });
  if (child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT')
    return { generator, megabytes, failure: 'timeout' };
  const last = child.stdout.trim().split('\n').at(-1) ?? '';
  if (child.status !== 0 || !last.startsWith('{')) {
    const reason =
      child.stderr.match(/^\w*Error[^\n]*/m)?.[0] ?? child.signal ?? `exit ${child.status ?? '?'}`;
    return { generator, megabytes, failure: `crashed: ${reason.slice(0, 80)}` };
  }
  return { generator, megabytes, ...(JSON.parse(last) as Omit<AdversarialRow, 'generator' | 'megabytes'>) };
}

/** Runs the generators (all, or `only`), prints the table; resolves true when every row passes. */
export async function runAdversarialBench(only?: string[]): Promise<boolean> {
  const names = [
    'normal',
    ...Object.keys(GENERATORS).filter((n) => n !== 'normal' && (!only || only.includes(n))),
  ];
  console.log(
    'generator        size MB   seconds     MB/s  vs normal  peak RSS MB  result   verdict  first error',
  );
  let baseline = 0;
  let allPass = true;
  for (const name of names) {
    const row = measure(name, await fileFor(name));
    const speed = row.seconds === undefined ? 0 : row.megabytes / row.seconds;
    if (name === 'normal') baseline = speed;
    const ratio = baseline > 0 ? speed / baseline : 0;
    const pass = row.failure === undefined && ratio >= MIN_RATIO && (row.peakRssMb ?? Infinity) <= MAX_RSS_MB;
    allPass &&= pass;
    const cells = row.failure
      ? ['', '', '', '', ''.padStart(11), pass ? 'PASS' : 'FAIL', row.failure]
      : [
          row.seconds!.toFixed(2),
          speed.toFixed(1),
          `${ratio.toFixed(2)}x`,
          row.peakRssMb!.toFixed(0),
          pass ? 'PASS' : 'FAIL',
          `${row.verdict}`.padEnd(8),
          row.firstError ?? '-',
        ];
    console.log(
      `${name.padEnd(16)} ${row.megabytes.toFixed(1).padStart(7)} ${cells[0]!.padStart(9)} ${cells[1]!.padStart(8)} ${cells[2]!.padStart(10)} ${cells[3]!.padStart(12)}  ${cells.slice(4).join(' ')}`,
    );
  }
  console.log(
    `targets: throughput >= ${MIN_RATIO}x normal, peak RSS <= ${MAX_RSS_MB} MB, no crash or timeout`,
  );
  return allPass;
}

if (process.argv[1] === FILE && process.argv[2] === 'measure') await measureChild(process.argv[3]!);
