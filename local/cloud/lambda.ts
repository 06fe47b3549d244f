import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { LocalFunction } from '../template.js';

/**
 * Local Lambda: each function of the template runs its real handler module in this process. A thrown
 * error surfaces as Lambda reports it: `errorType` is the error's name (what Step Functions' Retry and
 * Catch match on) and the Cause is Lambda's JSON `{errorType, errorMessage, trace}`.
 */
export type Invoke = (event: unknown) => Promise<unknown>;

export class LambdaError extends Error {
  constructor(errorType: string, errorMessage: string, trace: string[]) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
  }
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

export async function loadFunctions(
  functions: LocalFunction[],
  projectRoot: string,
): Promise<Map<string, Invoke>> {
  const invokers = new Map<string, Invoke>();
  for (const fn of functions) {
    const module = (await import(pathToFileURL(join(projectRoot, fn.entry)).href)) as { handler?: Handler };
    const handler = module.handler;
    if (typeof handler !== 'function') throw new Error(`${fn.entry} exports no handler`);
    invokers.set(fn.arn, (event) => invoke(fn, handler, event));
  }
  return invokers;
}

async function invoke(fn: LocalFunction, handler: Handler, event: unknown): Promise<unknown> {
  const deadline = Date.now() + fn.timeoutSeconds * 1000;
  const context: Context = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.logicalId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new LambdaError('Sandbox.Timedout', `Task timed out after ${fn.timeoutSeconds}.00 seconds`, []),
        ),
      fn.timeoutSeconds * 1000,
    );
  });
  try {
    // A fresh copy, as Lambda would deserialize it: handlers must not share objects with the caller.
    return await Promise.race([handler(structuredClone(event), context), timeout]);
  } catch (error) {
    if (error instanceof LambdaError) throw error;
    const e = error instanceof Error ? error : new Error(String(error));
    throw new LambdaError(e.name || 'Error', e.message, (e.stack ?? '').split('\n'));
  } finally {
    clearTimeout(timer);
  }
}
