import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';

/**
 * One Lambda execution environment, in its own worker thread: its own module state, its own
 * process.env (the function's environment and its role's credentials), one invocation at a time.
 * The handler module is imported once (the cold start); each invocation gets a fresh JSON copy of the
 * event and returns a JSON result, as Lambda's runtime API carries them.
 */
interface EnvironmentData {
  entryPath: string;
  functionName: string;
  functionArn: string;
  memorySize: number;
}
export type EnvironmentRequest = {
  type: 'invoke';
  id: string;
  event: string;
  requestId: string;
  deadline: number;
  /** The invocation's X-Ray trace header, which Lambda puts in `_X_AMZN_TRACE_ID` for each invocation. */
  traceHeader?: string;
};
export type EnvironmentReply =
  | { type: 'ready' }
  | { type: 'init-error'; errorType: string; errorMessage: string; trace: string[] }
  | { type: 'result'; id: string; payload: string }
  | { type: 'error'; id: string; errorType: string; errorMessage: string; trace: string[] };

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const data = workerData as EnvironmentData;
const port = parentPort!;
const post = (reply: EnvironmentReply) => port.postMessage(reply);
const describe = (error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  return { errorType: e.name || 'Error', errorMessage: e.message, trace: (e.stack ?? '').split('\n') };
};

let handler: Handler;
try {
  const module = (await import(pathToFileURL(data.entryPath).href)) as { handler?: Handler };
  if (typeof module.handler !== 'function') throw new Error(`${data.entryPath} exports no handler`);
  handler = module.handler;
  post({ type: 'ready' });
} catch (error) {
  // Lambda reports a module that fails to load as Runtime.ImportModuleError.
  post({ type: 'init-error', ...describe(error), errorType: 'Runtime.ImportModuleError' });
}

port.on('message', (request: EnvironmentRequest) => {
  const context: Context = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: data.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: data.functionArn,
    memoryLimitInMB: String(data.memorySize),
    awsRequestId: request.requestId,
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, request.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  // This thread's process.env is its own: the variable changes with each invocation, as on Lambda, where
  // "_X_AMZN_TRACE_ID – The X-Ray tracing header. This environment variable changes with each invocation"
  // (Lambda developer guide, "Defined runtime environment variables", read 2026-11-30).
  if (request.traceHeader) process.env._X_AMZN_TRACE_ID = request.traceHeader;
  else delete process.env._X_AMZN_TRACE_ID;
  void (async () => {
    try {
      const result = await handler(JSON.parse(request.event), context);
      post({ type: 'result', id: request.id, payload: JSON.stringify(result ?? null) });
    } catch (error) {
      post({ type: 'error', id: request.id, ...describe(error) });
    }
  })();
});
