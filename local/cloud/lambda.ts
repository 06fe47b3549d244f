import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { LocalFunction } from '../template.js';
import type { EnvironmentReply, EnvironmentRequest } from './lambda-environment.js';
import {
  formatTraceHeader,
  newSegmentId,
  newTraceId,
  parseTraceHeader,
  type SegmentDocument,
} from './xray.js';

/**
 * Local Lambda. Each function of the template runs its real handler in execution environments of its
 * own: worker threads, each with the function's environment variables and its role's credentials in
 * its own process.env, its own module state, and one invocation at a time, as Lambda's environments
 * are. An environment that runs past the function's timeout is stopped and discarded, and the
 * invocation fails as Lambda fails it.
 *
 * Errors surface as Lambda reports them: `errorType` is the error's name (what Step Functions' Retry
 * and Catch match on) and the cause is Lambda's JSON `{errorType, errorMessage, trace}`.
 * Asynchronous invocations (S3, EventBridge, `Invoke` with InvocationType Event) get Lambda's retries
 * from the function's EventInvokeConfig (default: 2 retries, events kept 6 hours), and then go to its
 * on-failure destination only where one is configured; otherwise the event is dropped, as on AWS.
 */
/** A function as the local runner and Step Functions call it. */
export type Invoke = (event: unknown, options?: InvokeOptions) => Promise<unknown>;

export interface InvokeOptions {
  /**
   * The caller's X-Ray trace header (`Root=…;Parent=…;Sampled=…`), as a traced service passes it to
   * Lambda: the invocation joins that trace. Without one, a function with active tracing starts a trace.
   */
  traceHeader?: string;
  /** The state machine whose Task invokes (Step Functions calls as its role); absent for other callers. */
  stateMachineArn?: string;
}

/**
 * X-Ray, as Lambda does it for a function: its tracing mode decides whether an invocation is traced
 * (Active: always here, on AWS at a fixed sampling rate when no header says; PassThrough: only when the
 * caller's header is sampled), and Lambda records a segment for each traced invocation, which the
 * function's subsegments name as their parent (`Parent` of `_X_AMZN_TRACE_ID`). Tracing modes, from
 * CDK's Tracing enum (https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_lambda.Tracing.html,
 * read 2026-11-30): "ACTIVE: Lambda will respect any tracing header it receives from an upstream service.
 * If no tracing header is received, Lambda will sample the request based on a fixed rate"; "PASS_THROUGH:
 * Lambda will only trace the request from an upstream service if it contains a tracing header with
 * sampled=1".
 */
export interface LambdaTracing {
  /** The function's TracingConfig mode; undefined when it has none (PassThrough, Lambda's default). */
  mode(fn: LocalFunction): 'Active' | 'PassThrough' | undefined;
  /** Sends the segment Lambda records for a traced invocation (to the function's daemon). */
  record(fn: LocalFunction, document: SegmentDocument): void;
}

export class LambdaError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[] = [],
  ) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
  }
}

export interface FunctionCredentials {
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_SESSION_TOKEN: string;
}

/** What an asynchronous invocation ends with, as Lambda's destination records describe it. */
export interface AsyncInvocationOutcome {
  fn: LocalFunction;
  event: unknown;
  requestId: string;
  attempts: number;
  condition: 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';
  result?: unknown;
  error?: LambdaError;
}

export interface LocalLambdaOptions {
  projectRoot: string;
  /** Variables every environment gets besides the function's own: endpoints, region, log level. */
  sharedEnvironment: Record<string, string>;
  /**
   * Variables Lambda's runtime sets for one function (`_HANDLER`, `AWS_EXECUTION_ENV`, the X-Ray daemon's
   * address, ...), besides the ones set here for every function. @default none
   */
  runtimeEnvironment?: (fn: LocalFunction) => Record<string, string>;
  /** X-Ray: which invocations are traced and the segments Lambda records. @default nothing is traced */
  tracing?: LambdaTracing;
  credentials(fn: LocalFunction): FunctionCredentials;
  /** Where environments' stdout and stderr go, a line at a time. @default this process's stdout/stderr */
  onLog?: (functionName: string, stream: 'stdout' | 'stderr', line: string) => void;
  /**
   * Environments per function at once; further invocations wait for one (AWS would scale out, up to
   * the account's concurrency). @default 4
   */
  maxEnvironments?: number;
  /** Real seconds per simulated second, for Lambda's async retry delays (1 and 2 minutes). @default 1/600 */
  timeScale?: number;
  /** An asynchronous invocation has ended: deliver to the destination, if any (index.ts decides). */
  onAsyncOutcome?: (outcome: AsyncInvocationOutcome) => Promise<void>;
}

interface Environment {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
  settle?: { resolve: (payload: unknown) => void; reject: (error: LambdaError) => void };
  /** Ends what waits on this environment (its init, the invocation in progress) with the error. */
  fail(error: LambdaError): void;
}

/** Lambda's async retry delays: about one minute, then two (Lambda developer guide, "Asynchronous invocation", read 2026-11-29). */
const ASYNC_RETRY_DELAYS_SECONDS = [60, 120];

export class LocalLambda {
  private readonly functions = new Map<string, LocalFunction>();
  private readonly pools = new Map<string, Environment[]>();
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly pendingAsync = new Set<Promise<void>>();
  private extraEnvironment: Record<string, string> = {};
  private closed = false;
  /** Set once close has retired every environment: nothing starts another. */
  private stopped = false;

  constructor(
    functions: LocalFunction[],
    private readonly options: LocalLambdaOptions,
  ) {
    for (const fn of functions) this.functions.set(fn.arn, fn);
  }

  /** The function an ARN, a name, or a qualified ARN (`…:$LATEST`) refers to. */
  find(nameOrArn: string): LocalFunction | undefined {
    const unqualified = nameOrArn.replace(/:(\$LATEST|\d+)$/, '');
    return (
      this.functions.get(unqualified) ??
      [...this.functions.values()].find((fn) => fn.logicalId === unqualified)
    );
  }

  list(): LocalFunction[] {
    return [...this.functions.values()];
  }

  /**
   * Sets variables on every function, as UpdateFunctionConfiguration would: environments started from
   * now on see them; idle ones are retired, busy ones finish their invocation first.
   */
  updateEnvironment(variables: Record<string, string | undefined>): void {
    const next = { ...this.extraEnvironment };
    for (const [name, value] of Object.entries(variables)) {
      if (value === undefined) delete next[name];
      else next[name] = value;
    }
    this.extraEnvironment = next;
    for (const [arn, pool] of this.pools) {
      for (const environment of pool.filter((e) => !e.busy)) this.retire(arn, environment);
    }
  }

  /** A synchronous (RequestResponse) invocation: the result, or a LambdaError. */
  async invoke(functionArn: string, event: unknown, options: InvokeOptions = {}): Promise<unknown> {
    const fn = this.find(functionArn);
    if (!fn) throw new LambdaError('ResourceNotFoundException', `Function not found: ${functionArn}`);
    const requestId = randomUUID();
    const environment = await this.acquire(fn);
    try {
      return await this.traced(fn, options.traceHeader, (traceHeader) =>
        this.run(fn, environment, event, requestId, traceHeader),
      );
    } finally {
      environment.busy = false;
      this.waiting.get(fn.arn)?.shift()?.();
    }
  }

  /** An asynchronous (Event) invocation: accepted at once, retried, then sent to its destination. */
  invokeAsync(functionArn: string, event: unknown): void {
    const fn = this.find(functionArn);
    if (!fn) throw new LambdaError('ResourceNotFoundException', `Function not found: ${functionArn}`);
    const run = this.runAsync(fn, event).finally(() => this.pendingAsync.delete(run));
    this.pendingAsync.add(run);
  }

  /** Resolves when every asynchronous invocation accepted so far has ended. */
  async settle(): Promise<void> {
    while (this.pendingAsync.size) await Promise.allSettled([...this.pendingAsync]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settle();
    this.stopped = true;
    // A synchronous invocation may still be running: a Task of an execution stopped meanwhile, which
    // the interpreter no longer waits for. It ends with its environment, as when Lambda kills one, so
    // its timeout timer and the Task's are cleared and nothing outlives close.
    for (const [arn, pool] of this.pools)
      for (const environment of [...pool]) {
        environment.fail(new LambdaError('Runtime.ExitError', 'Runtime exited with error: Lambda is closed'));
        this.retire(arn, environment);
      }
    // Invocations waiting for an environment are refused (acquire), as is any later one.
    for (const queue of this.waiting.values()) for (const wake of queue.splice(0)) wake();
  }

  /**
   * Runs an invocation with the trace header Lambda would give it (none when the function is not traced
   * here), and records Lambda's segment for it when it is sampled.
   */
  private async traced<T>(
    fn: LocalFunction,
    given: string | undefined,
    invocation: (traceHeader: string | undefined) => Promise<T>,
  ): Promise<T> {
    const tracing = this.options.tracing;
    if (!tracing) return invocation(undefined);
    const upstream = given === undefined ? undefined : parseTraceHeader(given);
    const mode = tracing.mode(fn);
    // A header that made no decision (no Sampled) leaves it to Lambda, as a header-less request does.
    const sampled = upstream?.sampled ?? mode === 'Active';
    const root = upstream?.root ?? newTraceId();
    const id = newSegmentId();
    const started = Date.now() / 1000;
    const record = () => {
      if (!sampled) return;
      const parent = upstream?.parent;
      tracing.record(fn, {
        name: fn.logicalId,
        id,
        trace_id: root,
        ...(parent && /^[0-9a-f]{16}$/.test(parent) ? { parent_id: parent } : {}),
        origin: 'AWS::Lambda::Function',
        start_time: started,
        end_time: Date.now() / 1000,
      });
    };
    try {
      return await invocation(formatTraceHeader({ root, parent: id, sampled }));
    } finally {
      record();
    }
  }

  private async runAsync(fn: LocalFunction, event: unknown): Promise<void> {
    const scale = this.options.timeScale ?? 1 / 600;
    const requestId = randomUUID();
    const accepted = Date.now();
    const { maximumRetryAttempts, maximumEventAgeSeconds } = fn.invokeConfig;
    let error: LambdaError | undefined;
    let attempts = 0;
    for (let attempt = 0; attempt <= maximumRetryAttempts; attempt++) {
      if (attempt > 0) {
        const delay =
          ASYNC_RETRY_DELAYS_SECONDS[Math.min(attempt - 1, ASYNC_RETRY_DELAYS_SECONDS.length - 1)]!;
        await new Promise((resolve) => setTimeout(resolve, delay * 1000 * scale));
        if ((Date.now() - accepted) / 1000 / scale > maximumEventAgeSeconds) {
          await this.options.onAsyncOutcome?.({
            fn,
            event,
            requestId,
            attempts,
            condition: 'EventAgeExceeded',
            error: error!,
          });
          return;
        }
      }
      if (this.closed && attempt > 0) break;
      attempts++;
      try {
        const result = await this.invoke(fn.arn, event);
        await this.options.onAsyncOutcome?.({ fn, event, requestId, attempts, condition: 'Success', result });
        return;
      } catch (e) {
        error = e instanceof LambdaError ? e : new LambdaError('Error', String(e));
      }
    }
    await this.options.onAsyncOutcome?.({
      fn,
      event,
      requestId,
      attempts,
      condition: 'RetriesExhausted',
      error: error!,
    });
  }

  private async acquire(fn: LocalFunction): Promise<Environment> {
    for (;;) {
      if (this.stopped) throw new LambdaError('ServiceException', `Lambda is closed: ${fn.arn}`);
      const pool = this.pools.get(fn.arn) ?? [];
      this.pools.set(fn.arn, pool);
      const idle = pool.find((e) => !e.busy);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (pool.length < (this.options.maxEnvironments ?? 4)) {
        const environment = this.start(fn);
        environment.busy = true;
        pool.push(environment);
        return environment;
      }
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(fn.arn) ?? [];
        queue.push(resolve);
        this.waiting.set(fn.arn, queue);
      });
    }
  }

  private start(fn: LocalFunction): Environment {
    const environmentVariables: Record<string, string> = {
      ...Object.fromEntries(Object.entries(fn.environment).filter(([name]) => name !== 'NODE_OPTIONS')),
      ...this.options.sharedEnvironment,
      ...this.extraEnvironment,
      ...this.options.credentials(fn),
      ...this.options.runtimeEnvironment?.(fn),
      AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      // Lambda's "on-demand" (or "provisioned-concurrency"): Powertools annotates a cold start only with it.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    };
    const worker = new Worker(new URL('./lambda-environment.ts', import.meta.url), {
      // The handlers are TypeScript: each environment loads them through tsx, as the token workers do.
      execArgv: [...process.execArgv, '--import', import.meta.resolve('tsx')],
      env: environmentVariables,
      workerData: {
        entryPath: join(this.options.projectRoot, fn.entry),
        functionName: fn.logicalId,
        functionArn: fn.arn,
        memorySize: fn.memorySize,
      },
      stdout: true,
      stderr: true,
      // Lambda's memory size bounds the whole environment; here it bounds the JavaScript heap, which is
      // where a function that reads a whole file into memory would run out.
      resourceLimits: { maxOldGenerationSizeMb: fn.memorySize },
    });
    const log =
      this.options.onLog ??
      ((_: string, stream: 'stdout' | 'stderr', line: string) => process[stream].write(`${line}\n`));
    for (const stream of ['stdout', 'stderr'] as const)
      createInterface({ input: worker[stream] }).on('line', (line) => log(fn.logicalId, stream, line));

    let markReady: () => void = () => undefined;
    let failInit: (error: LambdaError) => void = () => undefined;
    const environment: Environment = {
      worker,
      busy: false,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        failInit = reject;
      }),
      fail(error) {
        failInit(error);
        environment.settle?.reject(error);
        environment.settle = undefined;
      },
    };
    environment.ready.catch(() => undefined);
    worker.on('message', (reply: EnvironmentReply) => {
      if (reply.type === 'ready') return markReady();
      if (reply.type === 'init-error') {
        const error = new LambdaError(reply.errorType, reply.errorMessage, reply.trace);
        failInit(error);
        return this.retire(fn.arn, environment);
      }
      const settle = environment.settle;
      environment.settle = undefined;
      if (reply.type === 'result') settle?.resolve(JSON.parse(reply.payload));
      else settle?.reject(new LambdaError(reply.errorType, reply.errorMessage, reply.trace));
    });
    const crashed = (error: LambdaError) => {
      environment.fail(error);
      this.retire(fn.arn, environment);
    };
    worker.on('error', (error) =>
      crashed(
        (error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? // Lambda kills an environment past its memory size; the invocation reports Runtime.ExitError,
            // "Runtime exited with error: signal: killed" (as reported from AWS, e.g.
            // https://www.smplogs.com/guides/lambda-memory-errors, read 2026-11-29).
            new LambdaError('Runtime.ExitError', 'Runtime exited with error: signal: killed')
          : new LambdaError(
              'Runtime.ExitError',
              `Runtime exited with error: ${error.message}`,
              (error.stack ?? '').split('\n'),
            ),
      ),
    );
    worker.on('exit', (code) =>
      crashed(new LambdaError('Runtime.ExitError', `Runtime exited with error: exit status ${code}`)),
    );
    return environment;
  }

  private async run(
    fn: LocalFunction,
    environment: Environment,
    event: unknown,
    requestId: string,
    traceHeader: string | undefined,
  ): Promise<unknown> {
    const timeoutMs = fn.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<unknown>((resolve, reject) => {
        timer = setTimeout(() => {
          // Lambda stops the environment; the next invocation starts a new one (a cold start).
          environment.settle = undefined;
          this.retire(fn.arn, environment);
          reject(
            new LambdaError(
              'Sandbox.Timedout',
              `RequestId: ${requestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
            ),
          );
        }, timeoutMs);
        environment.ready.then(
          () => {
            environment.settle = { resolve, reject };
            const request: EnvironmentRequest = {
              type: 'invoke',
              id: requestId,
              event: JSON.stringify(event ?? null),
              requestId,
              deadline,
              ...(traceHeader ? { traceHeader } : {}),
            };
            environment.worker.postMessage(request);
          },
          (error: LambdaError) => reject(error),
        );
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private retire(arn: string, environment: Environment): void {
    const pool = this.pools.get(arn);
    const index = pool?.indexOf(environment) ?? -1;
    if (index >= 0) pool!.splice(index, 1);
    environment.worker.removeAllListeners('exit');
    void environment.worker.terminate();
    this.waiting.get(arn)?.shift()?.();
  }
}
