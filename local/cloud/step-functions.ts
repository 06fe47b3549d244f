import { StateMachine } from 'aws-local-stepfunctions';
import { AwsApiError, serveAwsJson, type AwsJsonActions } from './aws-json-server.js';
import type { Invoke } from './lambda.js';
import {
  DATA_LIMIT_ERROR,
  dataLimitCause,
  ExecutionHistory,
  taskResource,
  type HistoryEvent,
  type SimulatedClock,
} from './step-functions-history.js';

export { SimulatedClock, HISTORY_EVENT_LIMIT, PAYLOAD_LIMIT_BYTES } from './step-functions-history.js';
export type { HistoryEvent } from './step-functions-history.js';

/**
 * Local Step Functions: runs the synthesized definition with aws-local-stepfunctions and answers the
 * Step Functions API (AWS JSON 1.0) for StartExecution, DescribeExecution, ListExecutions and
 * StopExecution, so the validate handler starts runs with the real SDK call.
 *
 * aws-local-stepfunctions keys its overrides by state name, so they are built by walking the
 * definition: each Task's Resource (a Lambda ARN, or lambda:invoke with FunctionName) is mapped to the
 * local function. Time is accelerated, not removed: every Wait sleeps `timeScale` of its duration, a
 * SecondsPath read from the state the previous Task produced (in this workflow a Wait always follows a
 * Task or a Choice); retry intervals and the execution's TimeoutSeconds are scaled the same way. With a
 * SimulatedClock instead, Waits take no real time at all and move the clock on, and TimeoutSeconds is
 * measured on it: a 72-hour run takes as long as its work.
 *
 * As on AWS, each execution keeps its history (the events GetExecutionHistory would list) and fails
 * past Step Functions' quotas: 25,000 history events, 256 KiB for a state's input or output or a task's
 * result (step-functions-history.ts has the sources). The interpreter's event log gives the state
 * events; the Task handlers below give the function's (scheduled, started, succeeded or failed) and
 * measure its result before the interpreter sees it, so a result over the quota is a task failure that
 * Retry and Catch see, as on AWS. A quota that ends the execution aborts the interpreter and the
 * execution ends FAILED with AWS's error and cause.
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type State = Record<string, Json> & { Type: string };
export interface Definition {
  StartAt: string;
  States: Record<string, State>;
  TimeoutSeconds?: number;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
  /** State transitions, for watching a run: `Entered Prepare`, `Failed Upload: ...`. */
  events: Array<{ at: Date; type: string; state?: string }>;
  /** The history as GetExecutionHistory would list it: `ExecutionStarted`, `TaskStateEntered`, ... */
  history: readonly HistoryEvent[];
  /** `history.length`: Step Functions fails an execution at 25,000. */
  readonly historyEventCount: number;
  /** The largest state input or output or task result so far, in UTF-8 bytes of its JSON (quota: 262,144). */
  readonly largestPayloadBytes: number;
  done: Promise<Execution>;
  abort: () => void;
}

export interface LocalStepFunctionsOptions {
  invokers: ReadonlyMap<string, Invoke>;
  /** Real seconds per workflow second. @default 1/600 (a 10-minute wait takes one second) */
  timeScale?: number;
  /** Simulated time instead of scaled time (timeScale is then unused): for tests of runs lasting days. */
  clock?: SimulatedClock;
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, { name: string; definition: Definition }>();
  private readonly executions = new Map<string, Execution>();
  private readonly timeScale: number;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.timeScale = options.timeScale ?? 1 / 600;
  }

  private now(): Date {
    return this.options.clock?.now() ?? new Date();
  }

  register(arn: string, name: string, definition: Definition): void {
    this.machines.set(arn, { name, definition });
  }

  start(stateMachineArn: string, name: string | undefined, input = '{}'): Execution {
    const machine = this.machines.get(stateMachineArn);
    if (!machine)
      throw new AwsApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const executionName = name ?? crypto.randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(executionName)) {
      throw new AwsApiError('InvalidName', `Invalid Name: '${executionName}'`);
    }
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // As AWS: the same name and input while running is the same execution; anything else is refused.
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new AwsApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const parsedInput = JSON.parse(input) as Json;
    const startDate = this.now();
    const attempts = new Map<string, Attempt>();
    let abort = (): void => undefined;
    // A quota may end the execution before `run` has returned: abort on the next microtask.
    const history = new ExecutionHistory(
      () => this.now(),
      () => queueMicrotask(() => abort()),
    );
    const run = new StateMachine(this.scaledDefinition(machine.definition) as never, {
      validationOptions: { checkArn: false },
    }).run(parsedInput as never, {
      overrides: this.overrides(machine.definition, parsedInput, history, attempts, startDate) as never,
    });
    abort = run.abort;

    const execution: Execution = {
      executionArn,
      stateMachineArn,
      name: executionName,
      status: 'RUNNING',
      input,
      startDate,
      events: [],
      history: history.events,
      get historyEventCount() {
        return history.events.length;
      },
      get largestPayloadBytes() {
        return history.largestPayloadBytes;
      },
      done: undefined as unknown as Promise<Execution>,
      abort: run.abort,
    };
    const logged = (async () => {
      for await (const event of run.eventLogs as AsyncIterable<LoggedEvent>) {
        execution.events.push({
          at: this.now(),
          type: event.type,
          ...(event.state ? { state: event.state.name } : {}),
        });
        recordHistory(history, attempts, event);
      }
    })().catch(() => undefined);
    // The log is read to its end before the execution ends: a state output over the quota, found there,
    // fails an execution that the interpreter may already have finished.
    execution.done = Promise.allSettled([run.result, logged]).then(([result]) => {
      const imposed = history.imposedEnd;
      if (imposed) return this.finish(execution, imposed.status, imposed);
      if (result.status === 'fulfilled')
        return this.finish(execution, 'SUCCEEDED', { output: JSON.stringify(result.value) });
      const error = result.reason as Error;
      if (error.name === 'ExecutionAbortedError') return this.finish(execution, 'ABORTED', {});
      if (error.name === 'ExecutionTimeoutError')
        return this.finish(execution, 'TIMED_OUT', { error: 'States.Timeout' });
      const cause = (error.cause ?? error) as Error;
      return this.finish(execution, 'FAILED', { error: cause.name, cause: cause.message });
    });
    this.executions.set(executionArn, execution);
    return execution;
  }

  describe(executionArn: string): Execution {
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new AwsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  list(stateMachineArn?: string): Execution[] {
    return [...this.executions.values()].filter(
      (e) => !stateMachineArn || e.stateMachineArn === stateMachineArn,
    );
  }

  stop(executionArn: string): Execution {
    const execution = this.describe(executionArn);
    if (execution.status === 'RUNNING') execution.abort();
    return execution;
  }

  /** Resolves when every execution started so far has ended. */
  async settle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  private readonly endListeners: Array<(execution: Execution) => void> = [];

  /** Called when an execution ends, as Step Functions reports status changes to EventBridge. */
  onExecutionEnd(listener: (execution: Execution) => void): void {
    this.endListeners.push(listener);
  }

  private finish(execution: Execution, status: ExecutionStatus, fields: Partial<Execution>): Execution {
    Object.assign(execution, { status, stopDate: this.now(), ...fields });
    for (const listener of this.endListeners) listener(execution);
    return execution;
  }

  private scaledDefinition(definition: Definition): Definition {
    const copy = structuredClone(definition);
    // On a simulated clock the timeout is checked by the Waits (overrides), on simulated time.
    if (this.options.clock) delete copy.TimeoutSeconds;
    else if (copy.TimeoutSeconds !== undefined)
      copy.TimeoutSeconds = Math.max(1, Math.ceil(copy.TimeoutSeconds * this.timeScale));
    return copy;
  }

  /** Builds the per-state overrides for one execution (they keep that execution's last state). */
  private overrides(
    definition: Definition,
    input: Json,
    history: ExecutionHistory,
    attempts: Map<string, Attempt>,
    startDate: Date,
  ) {
    let lastState: Json = input;
    const taskResourceLocalHandlers: Record<string, (input: Json) => Promise<Json>> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number[]> = {};
    const clock = this.options.clock;

    for (const [name, state] of walkStates(definition)) {
      if (state.Type === 'Task') {
        const invoke = this.resolveTask(name, state);
        const resource = taskResource(String(state.Resource));
        const resultPath =
          typeof state.ResultPath === 'string' ? state.ResultPath : state.ResultPath === null ? null : '$';
        taskResourceLocalHandlers[name] = async (taskInput) => {
          // The interpreter logs asynchronously: let the history catch up with it before this attempt,
          // so that an execution a quota has ended invokes nothing more.
          await new Promise((resolve) => setImmediate(resolve));
          if (!history.withinPayloadLimit(taskInput)) history.fail(DATA_LIMIT_ERROR, dataLimitCause(name));
          if (
            !history.record(`${resource.events}Scheduled`, name) ||
            !history.record(`${resource.events}Started`, name)
          )
            throw new ExecutionEndedError();
          const attempt: Attempt = { open: true, events: resource.events };
          attempts.set(name, attempt);
          let result: Json;
          try {
            result = (await invoke(taskInput)) as Json;
          } catch (error) {
            if (attempt.open) history.record(`${resource.events}Failed`, name);
            attempt.open = false;
            throw error;
          }
          if (!attempt.open) return result; // it timed out meanwhile: the interpreter has moved on
          attempt.open = false;
          if (!history.withinPayloadLimit(result)) {
            history.record(`${resource.events}Failed`, name);
            // A connector's output over the quota fails the task, and the state's Retry and Catch see it:
            // AWS's recorded histories show `States.ALL` catching it (see step-functions-history.ts),
            // although the error-handling page calls the error terminal.
            throw Object.assign(new Error(dataLimitCause(resource.causeSubject)), { name: DATA_LIMIT_ERROR });
          }
          if (!history.record(`${resource.events}Succeeded`, name)) throw new ExecutionEndedError();
          lastState = applyResultPath(taskInput, resultPath, result);
          return result;
        };
        if (Array.isArray(state.Retry)) {
          retryIntervalOverrides[name] = (state.Retry as Array<Record<string, Json>>).map((retrier) =>
            clock ? 0 : Math.round(Number(retrier.IntervalSeconds ?? 1) * 1000 * this.timeScale),
          );
        }
      } else if (state.Type === 'Wait') {
        // The interpreter reads a Wait's override once, when the state runs.
        Object.defineProperty(waitTimeOverrides, name, {
          enumerable: true,
          get: () => {
            const seconds = waitSeconds(state, lastState, this.now());
            if (!clock) return Math.round(seconds * 1000 * this.timeScale);
            const left =
              definition.TimeoutSeconds === undefined
                ? Infinity
                : definition.TimeoutSeconds - (clock.now().getTime() - startDate.getTime()) / 1000;
            if (seconds < left) {
              clock.advance(seconds);
              return 0;
            }
            // The execution times out during this Wait. The interpreter reads this before the history
            // has caught up with its log, so the timeout is recorded once it has, and the interpreter
            // sleeps until the abort that follows.
            clock.advance(left);
            setImmediate(() => history.timeOut());
            return UNTIL_ABORTED_MS;
          },
        });
      }
    }
    return { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides };
  }

  /** The one place where a Task invokes a function. */
  private resolveTask(name: string, state: State): (input: Json) => Promise<unknown> {
    const resource = String(state.Resource);
    const direct = this.options.invokers.get(resource);
    if (direct) return direct;
    if (resource.startsWith('arn:aws:states:::lambda:invoke')) {
      return async (input) => {
        const params = input as { FunctionName?: string; Payload?: Json };
        const target = this.options.invokers.get(String(params.FunctionName));
        if (!target) throw new Error(`local mode has no function ${params.FunctionName} (state ${name})`);
        return { Payload: await target(params.Payload ?? null), StatusCode: 200, ExecutedVersion: '$LATEST' };
      };
    }
    return async () => {
      throw new Error(`local mode cannot run the resource of state "${name}": ${resource}`);
    };
  }

  /** Serves the Step Functions API on 127.0.0.1 for SDK clients (AWS_ENDPOINT_URL_SFN). */
  async serve(): Promise<{ endpoint: string; close: () => Promise<void> }> {
    const api: AwsJsonActions = {
      StartExecution: (b) => {
        const e = this.start(
          String(b.stateMachineArn),
          b.name === undefined ? undefined : String(b.name),
          b.input === undefined ? '{}' : String(b.input),
        );
        return { executionArn: e.executionArn, startDate: e.startDate.getTime() / 1000 };
      },
      DescribeExecution: (b) => describeShape(this.describe(String(b.executionArn))),
      ListExecutions: (b) => ({
        executions: this.list(String(b.stateMachineArn))
          .filter((e) => !b.statusFilter || e.status === b.statusFilter)
          .map((e) => ({
            executionArn: e.executionArn,
            stateMachineArn: e.stateMachineArn,
            name: e.name,
            status: e.status,
            startDate: e.startDate.getTime() / 1000,
            ...(e.stopDate ? { stopDate: e.stopDate.getTime() / 1000 } : {}),
          })),
      }),
      StopExecution: (b) => {
        this.stop(String(b.executionArn));
        return { stopDate: Date.now() / 1000 };
      },
    };
    return serveAwsJson({
      service: 'Step Functions',
      targetPrefix: 'AWSStepFunctions',
      jsonVersion: '1.0',
      actions: api,
    });
  }
}

function describeShape(e: Execution) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    input: e.input,
    startDate: e.startDate.getTime() / 1000,
    ...(e.stopDate ? { stopDate: e.stopDate.getTime() / 1000 } : {}),
    ...(e.output !== undefined ? { output: e.output } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
  };
}

/** Every state, including those inside Parallel branches and Map iterators. */
export function* walkStates(definition: { States: Record<string, State> }): Generator<[string, State]> {
  for (const [name, state] of Object.entries(definition.States)) {
    yield [name, state];
    const nested = [
      ...((state.Branches as unknown as Definition[] | undefined) ?? []),
      ...([state.Iterator, state.ItemProcessor].filter(Boolean) as unknown as Definition[]),
    ];
    for (const child of nested) yield* walkStates(child);
  }
}

function waitSeconds(state: State, lastState: Json, now: Date): number {
  if (typeof state.Seconds === 'number') return state.Seconds;
  if (typeof state.SecondsPath === 'string') return Number(readPath(lastState, state.SecondsPath) ?? 1);
  const timestamp =
    typeof state.Timestamp === 'string'
      ? state.Timestamp
      : typeof state.TimestampPath === 'string'
        ? String(readPath(lastState, state.TimestampPath))
        : undefined;
  return timestamp ? Math.max(0, (Date.parse(timestamp) - now.getTime()) / 1000) : 0;
}

/** Reads a simple reference path ($.a.b). */
function readPath(value: Json, path: string): Json | undefined {
  let current: Json | undefined = value;
  for (const key of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    current = current && typeof current === 'object' && !Array.isArray(current) ? current[key] : undefined;
  }
  return current;
}

function applyResultPath(input: Json, resultPath: string | null, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === '$') return result;
  const copy = structuredClone(input) as Record<string, Json>;
  const keys = resultPath.replace(/^\$\./, '').split('.');
  let target = copy;
  for (const key of keys.slice(0, -1)) target = (target[key] ??= {}) as Record<string, Json>;
  target[keys.at(-1)!] = result;
  return copy;
}

/** A real sleep that the abort of a timed-out execution cuts short. */
const UNTIL_ABORTED_MS = 60_000;

/** What aws-local-stepfunctions logs (its EventLog union, reduced to what the history needs). */
interface LoggedEvent {
  type: string;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  Error?: string;
}

/**
 * Thrown in a Task once the execution has ended by a quota; no Retry or Catch sees it (the interpreter
 * reads these two flags), and the execution's end is already decided.
 */
class ExecutionEndedError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor() {
    super('the execution has ended');
    this.name = 'States.Runtime';
  }
}

/** A Task's call in progress: closed once its end is recorded, by the Task or by its timeout. */
interface Attempt {
  open: boolean;
  events: 'LambdaFunction' | 'Task';
}

/**
 * Turns one logged event into the history events AWS would list. Task attempts are recorded by the
 * Task handlers; a Task timed out by the interpreter is recorded here, as its attempt never returns.
 */
function recordHistory(history: ExecutionHistory, attempts: Map<string, Attempt>, event: LoggedEvent): void {
  const state = event.state;
  switch (event.type) {
    case 'ExecutionStarted':
      history.record('ExecutionStarted');
      return;
    case 'ExecutionSucceeded':
    case 'ExecutionFailed':
    case 'ExecutionAborted':
      history.record(event.type);
      return;
    case 'ExecutionTimeout':
      history.record('ExecutionTimedOut');
      return;
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed':
      history.record(event.type);
      return;
  }
  if (!state) return;
  switch (event.type) {
    case 'StateEntered':
      if (!history.withinPayloadLimit(state.input ?? null))
        return history.fail(DATA_LIMIT_ERROR, dataLimitCause(state.name));
      history.record(`${state.type}StateEntered`, state.name);
      if (state.type === 'Map' || state.type === 'Parallel')
        history.record(`${state.type}StateStarted`, state.name);
      return;
    case 'StateExited':
      // Over the quota, AWS logs no exit: ExecutionFailed follows the state's last event.
      if (!history.withinPayloadLimit(state.output ?? null))
        return history.fail(DATA_LIMIT_ERROR, dataLimitCause(state.name));
      if (state.type === 'Map' || state.type === 'Parallel')
        history.record(`${state.type}StateSucceeded`, state.name);
      history.record(`${state.type}StateExited`, state.name);
      return;
    case 'StateFailed':
      if (state.type === 'Task' && event.Error === 'States.Timeout') {
        const attempt = attempts.get(state.name);
        if (attempt?.open) history.record(`${attempt.events}TimedOut`, state.name);
        if (attempt) attempt.open = false;
      }
      if (state.type === 'Map' || state.type === 'Parallel')
        history.record(`${state.type}StateFailed`, state.name);
      return;
  }
}
