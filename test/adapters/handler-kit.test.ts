import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { logger, stepHandler } from '../../functions/adapters/handler-kit.js';
import { ProviderUnavailableError } from '../../functions/core/errors.js';
import { clearRegisteredSecrets, registerSecret } from '../../functions/core/redact.js';

const context = { functionName: 'test', awsRequestId: 'r-1' } as Context;
const KEY = 'sk-handler-kit-canary-0123456789';
const OTHER_SECRET = 'registered-secret-of-another-shape';

/** What the handler writes to stdout and stderr while `run` runs (where Lambda's logs come from). */
async function printedDuring(run: () => Promise<unknown>): Promise<string> {
  const printed: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams)
    stream.write = ((chunk: unknown) => printed.push(String(chunk)) > 0) as typeof stream.write;
  try {
    await run();
  } finally {
    streams.forEach((stream, i) => void (stream.write = writes[i]!));
  }
  return printed.join('');
}

afterEach(() => clearRegisteredSecrets());

describe('a step whose error quotes a key', () => {
  it('fails with the key masked in the message Step Functions gets, its stack, its cause and the log', async () => {
    registerSecret(OTHER_SECRET);
    const handler = stepHandler('demo', z.object({}), async () => {
      const lower = new TypeError(`Headers.append: "Bearer ${KEY}" and ${OTHER_SECRET}`);
      throw new ProviderUnavailableError(`could not call with ${KEY}`, 'Retrying.', { cause: lower });
    });
    let error: (Error & { cause?: Error }) | undefined;
    const printed = await printedDuring(async () => {
      error = await handler({}, context).then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: Error },
      );
    });
    expect(error?.message).toBe('could not call with sk-…[redacted] [provider_unavailable] Fix: Retrying.');
    const told = [error?.stack, error?.cause?.message, error?.cause?.stack].join('\n');
    expect(told).toContain('[redacted secret]');
    expect(told).not.toContain(KEY);
    expect(told).not.toContain(OTHER_SECRET);
    expect(printed).toContain('demo failed');
    expect(printed).toContain('sk-…[redacted]');
    expect(printed).not.toContain(KEY);
    expect(printed).not.toContain(OTHER_SECRET);
  });

  it('logs what a step logs with keys masked, whatever field they are in', async () => {
    const handler = stepHandler('demo', z.object({ runId: z.string() }), async () => 'ok');
    const printed = await printedDuring(() => handler({ runId: `run-with-${KEY}` }, context));
    expect(printed).toContain('demo started');
    expect(printed).not.toContain(KEY);
  });
});

describe('a step’s log lines', () => {
  it('each carry the run id, family and provider job id of its input, and only during its invocation', async () => {
    const handler = stepHandler('demo', z.looseObject({ runId: z.string() }), async () => {
      logger.info('inside the step');
      return 'ok';
    });
    const printed = await printedDuring(() =>
      handler({ runId: 'run-1', family: 'support', job: { jobId: 'ftjob-1' } }, context),
    );
    const lines = printed
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((l) => l.message)).toEqual(['demo started', 'inside the step', 'demo done']);
    for (const line of lines)
      expect(line).toMatchObject({ runId: 'run-1', family: 'support', jobId: 'ftjob-1' });
    const after = await printedDuring(async () => logger.info('after'));
    expect(JSON.parse(after)).not.toHaveProperty('runId');
  });
});
