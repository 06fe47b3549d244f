import { parentPort } from 'node:worker_threads';
import { countTextTokens } from './tokens.js';

/** A token-counting worker: receives {id, texts}, answers {id, counts}. See token-counter.ts. */
parentPort!.on('message', ({ id, texts }: { id: number; texts: string[] }) => {
  parentPort!.postMessage({ id, counts: texts.map(countTextTokens) });
});
