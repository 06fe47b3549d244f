import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudFormationTemplate } from '../../local/template.js';
import { startLocalHarness, type LocalHarness } from '../support/local-harness.js';
import { chatDataset } from '../support/fakes.js';
import { functionSettings } from '../support/template-functions.js';

/**
 * A file validation cannot finish in the function's time ends its run FAILED with an `internal_error`
 * report saying where it stopped, instead of a killed invocation, two retries and a dead letter. Here
 * the Validate function's timeout is cut to 61 s, leaving checking one second (60 s are kept back
 * for the report), which a 25 MB file overruns.
 */
const VALIDATE = functionSettings('functions/validate/handler.ts').logicalId;
const shortTimeout = (template: CloudFormationTemplate): CloudFormationTemplate => {
  const copy = structuredClone(template);
  (copy.Resources[VALIDATE]!.Properties as Record<string, unknown>).Timeout = 61;
  return copy;
};

let harness: LocalHarness;

beforeAll(async () => {
  harness = await startLocalHarness({
    apiKey: 'sk-internal-error',
    cloud: { onLog: () => undefined, transformTemplate: shortTimeout },
  });
});
afterAll(() => harness?.close());

it('a file validation cannot finish in time ends FAILED with internal_error and its report, and nothing is dead-lettered', async () => {
  const { cloud } = harness;
  const dir = mkdtempSync(join(tmpdir(), 'tunedrop-internal-error-'));
  const path = join(dir, 'big.jsonl');
  writeFileSync(path, chatDataset(150_000));

  const runId = await cloud.drop(path, 'incoming/support/big.jsonl');
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
        message: expect.stringMatching(
          /ran out of time while checking the training file incoming\/support\/big\.jsonl \(it had reached line \d+\)/,
        ),
      }),
    ],
  });

  // Nothing retried into the dead-letter queue, and no delivery failed.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await cloud.peekDeadLetters()).toEqual([]);
  expect(cloud.deliveryFailures).toEqual([]);
});
