import { createReadStream, statSync } from 'node:fs';
import { get_encoding } from 'tiktoken';
import { findModel } from '../../functions/core/catalog.js';
import { validateDataset } from '../../functions/core/dataset.js';
import { readJsonlLines } from '../../functions/core/jsonl.js';
import { inThreadCounter, tokenCounterFor, workerCounter } from '../../functions/core/token-counter.js';
import { availableParallelism } from 'node:os';

/**
 * One measurement, in its own process so that its peak RSS is its own:
 *   floor     read, split lines, JSON.parse: what any validator must do
 *   naive     the floor, then tokenize every message with the same tokenizer (tiktoken), one thread, no reuse
 *   tunedrop  validateDataset, as the validate Lambda runs it
 * Prints one JSON line: {mode, megabytes, seconds, peakRssMb, examples}.
 */
const [mode, path] = process.argv.slice(2);
if (!mode || !path) throw new Error('usage: measure.ts floor|naive|tunedrop FILE');

const started = performance.now();
let examples = 0;
if (mode === 'tunedrop') {
  // As the CLI chooses; WORKERS=n forces n workers (0: in-thread) for experiments.
  const workers = process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS);
  const counter =
    workers === undefined
      ? tokenCounterFor(statSync(path).size, availableParallelism())
      : workers > 0
        ? workerCounter(workers)
        : inThreadCounter();
  const report = await validateDataset(() => createReadStream(path), {
    counter,
    model: findModel('gpt-4.1-mini')!,
    seed: 42,
    validationRatio: 0.2,
    maxValidationExamples: 1000,
    nEpochs: 'auto',
  });
  await counter.close();
  examples = report.examples;
} else {
  let tokens = 0;
  const encoder = mode === 'naive' ? get_encoding('o200k_base') : undefined;
  for await (const line of readJsonlLines(createReadStream(path))) {
    if (!line.text) continue;
    const example = JSON.parse(line.text) as { messages: Array<Record<string, string>> };
    examples++;
    if (mode === 'naive') {
      for (const message of example.messages) {
        tokens += 3;
        for (const value of Object.values(message)) tokens += encoder!.encode_ordinary(value).length;
      }
    }
  }
  void tokens;
}
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    mode,
    megabytes: statSync(path).size / 1e6,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    examples,
  }),
);
