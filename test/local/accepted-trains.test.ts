import { PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL, findModel } from '../../functions/core/catalog.js';
import { resolveRunConfig } from '../../functions/core/config.js';
import { validateDataset, validationOptionsFor } from '../../functions/core/dataset.js';
import type { RunRecord } from '../../functions/core/run.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Issue #10: a file tunedrop's validator accepts must train at the provider. Generated datasets that the
 * validator (default options, as the pipeline runs it) calls valid are dropped into the local pipeline,
 * whose emulator refuses what OpenAI refuses; each run must end SUCCEEDED. A run that fails is a real
 * disagreement between tunedrop and the provider, printed with the file's first lines and the run's error.
 */
const API_KEY = 'sk-test-accepted';
let harness: LocalHarness;
const dir = mkdtempSync(join(tmpdir(), 'accepted-trains-'));

beforeAll(async () => {
  harness = await startLocalHarness({ apiKey: API_KEY });
});
afterAll(() => harness?.close());

const word = fc.constantFrom(
  'alpha',
  'billing',
  'refund',
  'login',
  'error',
  'ticket',
  'order',
  'late',
  'the',
);
const sentence = fc.array(word, { minLength: 1, maxLength: 8 }).map((words) => words.join(' '));
const label = fc.constantFrom('billing', 'bug', 'account', 'shipping');
const toolName = fc.stringMatching(/^[a-zA-Z0-9_-]{1,64}$/);

/** One chat example: a system message or not, one to three turns, weights, and a tool round trip or not. */
const chatExample = (classification: boolean) =>
  fc
    .record({
      system: fc.option(sentence, { nil: undefined }),
      turns: fc.array(
        fc.record({
          user: sentence,
          answer: classification ? label : sentence,
          weight: fc.constantFrom(0, 1),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      tool: fc.option(fc.record({ name: toolName, city: word, result: sentence }), { nil: undefined }),
    })
    .map(({ system, turns, tool }) => {
      const messages: Array<Record<string, unknown>> = system ? [{ role: 'system', content: system }] : [];
      turns.forEach((turn, i) => {
        messages.push({ role: 'user', content: turn.user });
        if (tool && i === turns.length - 1) {
          messages.push({
            role: 'assistant',
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: tool.name, arguments: JSON.stringify({ city: tool.city }) },
              },
            ],
          });
          messages.push({ role: 'tool', tool_call_id: 'call_1', content: tool.result });
        }
        // The last answer is always trained; earlier ones may be weighted 0.
        const last = i === turns.length - 1;
        messages.push({
          role: 'assistant',
          content: turn.answer,
          ...(last ? {} : { weight: turn.weight }),
        });
      });
      return {
        messages,
        ...(tool
          ? {
              tools: [
                {
                  type: 'function',
                  function: {
                    name: tool.name,
                    parameters: { type: 'object', properties: { city: { type: 'string' } } },
                  },
                },
              ],
            }
          : {}),
      };
    });

const preferenceExample = fc
  .record({ system: fc.option(sentence, { nil: undefined }), user: sentence, good: sentence, bad: sentence })
  .map(({ system, user, good, bad }) => ({
    input: {
      messages: [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: user }],
    },
    preferred_output: [{ role: 'assistant', content: good }],
    non_preferred_output: [{ role: 'assistant', content: `${bad} instead` }],
  }));

/** A dataset: distinct examples, then copies of some of them (up to heavy duplication), shuffled. */
const dataset = fc
  .record({
    kind: fc.constantFrom('chat', 'classification', 'dpo'),
    distinct: fc.integer({ min: 10, max: 120 }),
    copies: fc.integer({ min: 0, max: 180 }),
    seed: fc.integer(),
  })
  .chain(({ kind, distinct, copies, seed }) =>
    fc
      .array<object>(kind === 'dpo' ? preferenceExample : chatExample(kind === 'classification'), {
        minLength: distinct,
        maxLength: distinct,
      })
      .map((examples) => {
        const lines = examples.map((example) => JSON.stringify(example));
        for (let i = 0; i < copies; i++)
          lines.push(lines[Math.abs(seed + i * 7) % Math.min(3, lines.length)]!);
        return { kind, lines };
      }),
  );

async function dropDataset(family: string, method: 'dpo' | undefined, text: string): Promise<RunRecord> {
  const { cloud } = harness;
  if (method)
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: `incoming/${family}/tunedrop.json`,
        Body: JSON.stringify({ method }),
      }),
    );
  const path = join(dir, `${family}.jsonl`);
  writeFileSync(path, text);
  return harness.dropAndWait(path, `incoming/${family}/data.jsonl`, 60_000);
}

describe('a dataset the validator accepts', () => {
  it('trains at the (emulated) provider: every run ends SUCCEEDED, never FAILED for its data', async () => {
    let runs = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(dataset, async ({ kind, lines }) => {
        const method = kind === 'dpo' ? ('dpo' as const) : undefined;
        const text = `${lines.join('\n')}\n`;
        const config = resolveRunConfig(method ? { method } : {});
        if (!config.ok) throw new Error(config.problems.join('; '));
        const report = await validateDataset(
          async function* () {
            yield new TextEncoder().encode(text);
          },
          validationOptionsFor(config.config, findModel(DEFAULT_MODEL)!),
        );
        // Only files the validator accepts are the subject; the generator aims at them, so few are skipped.
        fc.pre(report.verdict === 'valid');
        runs += 1;
        const run = await dropDataset(`accepted-${runs}`, method, text);
        if (run.status !== 'SUCCEEDED')
          throw new Error(
            `a ${kind} file of ${lines.length} lines the validator accepts ended ${run.status}: ${JSON.stringify(run.error)}\nfirst lines:\n${lines.slice(0, 3).join('\n')}`,
          );
      }),
      { numRuns: 10, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );
    expect(runs).toBeGreaterThan(5);
    console.log(`${runs} runs in ${Date.now() - started} ms`);
  }, 180_000);
});

describe('an organization out of credit', () => {
  it('fails the run with insufficient_quota after one attempt, and the fix points at billing', async () => {
    const { cloud, emulator, openai } = harness;
    emulator.faults.onRequest({
      method: 'POST',
      path: '/fine_tuning/jobs',
      fault: { kind: 'insufficientQuota' },
      times: 5,
    });
    try {
      const runId = await cloud.drop(SAMPLE, 'incoming/no-credit/tickets.jsonl');
      const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
      expect(run).toMatchObject({
        status: 'FAILED',
        error: {
          code: 'insufficient_quota',
          fix: expect.stringContaining('https://platform.openai.com/settings/organization/billing'),
        },
      });
      expect(
        emulator.faults.applied.filter((a) => a.method === 'POST' && a.path === '/fine_tuning/jobs'),
      ).toHaveLength(1);
      expect((await openai.fineTuning.jobs.list({ metadata: { runId } })).data).toHaveLength(0);
    } finally {
      emulator.faults.clear();
    }
  });
});
