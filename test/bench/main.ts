import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDataset, type DatasetKind } from './datasets.js';
import { runAdversarialBench } from './adversarial.js';
import { printEmbeddingsBench, runEmbeddingsBench } from './embeddings.js';
import { runLoad } from './load.js';
import { printUploadBench, runUploadBench } from './upload.js';
import { runWaitingBench } from './waiting.js';

/**
 * `npm run bench`: validation speed and memory against a baseline measured in the same run.
 * Options: `--sizes 20,200` (MB), `--kinds realistic,unique,random` (default: realistic,unique).
 * `npm run bench -- load [--files 200] [--concurrency 4]`: many files dropped at once in local mode.
 * `npm run bench -- upload [--mib 511]`: the Upload step's peak memory, against the function's memory size.
 * `npm run bench -- waiting`: state transitions and history events per run, with webhooks and polling alone.
 * `npm run bench -- adversarial [--strict] [--only space-runs,...]`: worst-case inputs against a normal file.
 * `npm run bench -- embeddings [--lines 10000,100000] [--dimensions 64]`: an embedding run's memory per step,
 * 100,000 records against 10,000 (about a minute; not in the default set).
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const TSX = join(HERE, '../../node_modules/.bin/tsx');

interface Measurement {
  mode: string;
  megabytes: number;
  seconds: number;
  peakRssMb: number;
  examples: number;
}

function option(name: string, fallback: string): string[] {
  const index = process.argv.indexOf(`--${name}`);
  return (index >= 0 ? process.argv[index + 1]! : fallback).split(',');
}

function measure(mode: string, path: string): Measurement {
  const out = execFileSync(TSX, [join(HERE, 'measure.ts'), mode, path], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Measurement;
}

if (process.argv.includes('load')) {
  const files = Number(option('files', '200')[0]);
  const concurrency = Number(option('concurrency', '4')[0]);
  const result = await runLoad({ files, concurrency });
  console.log(
    `load: ${result.recorded}/${result.dropped} runs recorded, ${result.lost} lost, max concurrent provider jobs ${result.maxConcurrentJobs}`,
  );
  console.log(`  (cap ${concurrency}; ${JSON.stringify(result.statuses)}; ${result.seconds.toFixed(1)} s)`);
  process.exit(result.lost === 0 && result.maxConcurrentJobs <= concurrency ? 0 : 1);
}

if (process.argv.includes('adversarial')) {
  const only = process.argv.includes('--only') ? option('only', '') : undefined;
  const passed = await runAdversarialBench(only);
  // Failing rows are reported; the exit code reflects them only when asked (CI may not be ready for them).
  process.exit(passed || !process.argv.includes('--strict') ? 0 : 1);
}

if (process.argv.includes('waiting')) {
  process.exit((await runWaitingBench()) ? 0 : 1);
}

if (process.argv.includes('embeddings')) {
  const result = await runEmbeddingsBench({
    lines: option('lines', '10000,100000').map(Number),
    dimensions: Number(option('dimensions', '64')[0]),
  });
  printEmbeddingsBench(result);
  process.exit(result.passed ? 0 : 1);
}

if (process.argv.includes('upload')) {
  const result = await runUploadBench({ mebibytes: Number(option('mib', '511')[0]) });
  printUploadBench(result);
  process.exit(result.passed ? 0 : 1);
}

const sizes = option('sizes', '20,200').map(Number);
const kinds = option('kinds', 'realistic,unique') as DatasetKind[];
const TARGETS: Partial<Record<DatasetKind, number>> = { realistic: 5, unique: 1.8 };
console.log('dataset              mode       MB/s    peak RSS MB   vs naive');
for (const size of sizes) {
  for (const kind of kinds) {
    const path = await benchDataset(kind, size);
    const results = ['floor', 'naive', 'tunedrop'].map((mode) => measure(mode, path));
    const naive = results[1]!;
    for (const r of results) {
      const speed = r.megabytes / r.seconds;
      const ratio = naive.seconds / r.seconds;
      console.log(
        `${`${kind}-${size}MB`.padEnd(20)} ${r.mode.padEnd(9)} ${speed.toFixed(1).padStart(6)} ${r.peakRssMb.toFixed(0).padStart(13)}   ${ratio.toFixed(2)}x`,
      );
    }
    const ours = naive.seconds / results[2]!.seconds;
    const target = TARGETS[kind];
    const verdict =
      target === undefined ? '(no target)' : `(target >= ${target}x) ${ours >= target ? 'met' : 'NOT MET'}`;
    console.log(`${`${kind}-${size}MB`.padEnd(20)} tunedrop vs naive: ${ours.toFixed(2)}x ${verdict}`);
  }
}
