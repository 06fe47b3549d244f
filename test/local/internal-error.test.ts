import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { chatDataset } from '../support/fakes.js';

/**
 * A file that crashes validation (here a line nested 100,000 levels deep, which overflows the stack) ends
 * its run FAILED with an `internal_error` report, instead of three failed invocations and a dead letter.
 */
let harness: LocalHarness;

beforeAll(async () => {
  harness = await startLocalHarness({ apiKey: 'sk-internal-error' });
});
afterAll(() => harness?.close());

it('a file that crashes validation ends FAILED with internal_error and its report, and nothing is dead-lettered', async () => {
  const { cloud } = harness;
  const dir = mkdtempSync(join(tmpdir(), 'tunedrop-internal-error-'));
  const path = join(dir, 'deep.jsonl');
  const deep = `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}\n`;
  writeFileSync(path, chatDataset(12) + deep);

  const runId = await cloud.drop(path, 'incoming/support/deep.jsonl');
  const run = await cloud.waitForRun(runId, { timeoutMs: 30_000 });
  expect(run).toMatchObject({
    status: 'FAILED',
    error: { name: 'InternalError', code: 'internal_error' },
  });
  expect(run.history.map((change) => change.status)).toEqual(['RECEIVED', 'FAILED']);

  const saved = await cloud.saveRunFiles(runId, join(dir, 'runs'));
  const json = saved.find((file) => file.endsWith('validation.json'));
  expect(saved.some((file) => file.endsWith('validation.md'))).toBe(true);
  expect(JSON.parse(readFileSync(json!, 'utf8'))).toMatchObject({
    runId,
    verdict: 'invalid',
    errors: [
      expect.objectContaining({
        code: 'internal_error',
        message: expect.stringContaining('checking the training file incoming/support/deep.jsonl'),
      }),
    ],
  });

  // Nothing retried into the dead-letter queue, and no delivery failed.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await cloud.peekDeadLetters()).toEqual([]);
  expect(cloud.deliveryFailures).toEqual([]);
});
