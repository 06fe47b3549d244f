import type { Context } from 'aws-lambda';
import { z } from 'zod';
import {
  annotateRun,
  logger,
  stepHandler,
  traceInvocation,
  tracer,
} from '../../functions/adapters/handler-kit.js';
import { awsClients } from '../../functions/adapters/aws-clients.js';

/**
 * The functions' Tracer outside Lambda (unit tests, scripts): off by itself, because AWS_EXECUTION_ENV is
 * not set, and silent: a traced handler and traced clients behave as untraced ones and print nothing.
 * On Lambda and in local mode it is on (test/local/tracing.test.ts).
 */
const context = { functionName: 'test', awsRequestId: 'r-1' } as Context;

/** Everything written to stdout and stderr, and through console, while `run` runs. */
async function printedDuring(run: () => Promise<unknown>): Promise<string[]> {
  const printed: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const consoles = methods.map((m) => console[m]);
  for (const stream of streams)
    stream.write = ((chunk: unknown) => printed.push(String(chunk)) > 0) as typeof stream.write;
  for (const m of methods) console[m] = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
  try {
    await run();
  } finally {
    streams.forEach((stream, i) => void (stream.write = writes[i]!));
    methods.forEach((m, i) => void (console[m] = consoles[i]!));
  }
  return printed;
}

it('is off outside Lambda', () => {
  expect(process.env.AWS_EXECUTION_ENV).toBeUndefined();
  expect(tracer.isTracingEnabled()).toBe(false);
});

it('leaves a step handler, its annotations and its errors silent when off', async () => {
  logger.setLogLevel('SILENT');
  const ok = stepHandler('demo', z.object({ runId: z.string() }), async (input) => {
    annotateRun({ runId: input.runId, family: 'f' });
    return { done: true };
  });
  const failing = stepHandler('demo', z.object({}), async () => {
    throw new Error('boom');
  });
  const printed = await printedDuring(async () => {
    await expect(ok({ runId: 'r-1' }, context)).resolves.toEqual({ done: true });
    await expect(failing({}, context)).rejects.toThrow('boom');
  });
  expect(printed).toEqual([]);
});

it('hands the AWS SDK clients back as they are when off', () => {
  const client = awsClients.s3();
  expect(client.middlewareStack.identify().some((m) => /xray|trace/i.test(m))).toBe(false);
});

it("masks a failed invocation's error before the Tracer keeps it", async () => {
  const key = 'sk-tracer-canary-0123456789abcdef';
  const error = new Error(`could not call with ${key}`);
  const middleware = traceInvocation();
  await middleware.onError({ event: {}, context, response: undefined, error, internal: {} } as never);
  expect(error.message).not.toContain(key);
  expect(error.stack).not.toContain(key);
});
