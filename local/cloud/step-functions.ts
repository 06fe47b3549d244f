import { StateMachine } from 'aws-local-stepfunctions';
import { AwsApiError, serveAwsJson, type AwsJsonActions } from './aws-json-server.js';
import type { Invoke } from './lambda.js';

/**
 * Local Step Functions: runs the synthesized definition with aws-local-stepfunctions and answers the
 * Step Functions API (AWS JSON 1.0) for StartExecution, DescribeExecution, ListExecutions and
 * StopExecution, so the validate handler starts runs with the real SDK call.
 *
 * aws-local-stepfunctions keys its overrides by state name, so they are built by walking the
 * definition: each Task's Resource (a Lambda ARN, or lambda:invoke with FunctionName) is mapped to the
 * local function. Time is accelerated, not removed: every Wait sleeps `timeScale` of its duration, a
 * SecondsPath read from the state the previous Task produced (in this workflow a Wait always follows a
 * Task or a Choice); retry intervals and the execution's TimeoutSeconds are scaled the same way.
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
  done: Promise<Execution>;
  abort: () => void;
}

export interface LocalStepFunctionsOptions {
  invokers: ReadonlyMap<string, Invoke>;
  /** Real seconds per workflow second. @default 1/600 (a 10-minute wait takes one second) */
  timeScale?: number;
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, { name: string; definition: Definition }>();
  private readonly executions = new Map<string, Execution>();
  private readonly timeScale: number;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.timeScale = options.timeScale ?? 1 / 600;
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
    const run = new StateMachine(this.scaledDefinition(machine.definition) as never, {
      validationOptions: { checkArn: false },
    }).run(parsedInput as never, { overrides: this.overrides(machine.definition, parsedInput) as never });

    const execution: Execution = {
      executionArn,
      stateMachineArn,
      name: executionName,
      status: 'RUNNING',
      input,
      startDate: new Date(),
      events: [],
      done: undefined as unknown as Promise<Execution>,
      abort: run.abort,
    };
    void (async () => {
      for await (const event of run.eventLogs as AsyncIterable<{ type: string; state?: { name: string } }>) {
        execution.events.push({
          at: new Date(),
          type: event.type,
          ...(event.state ? { state: event.state.name } : {}),
        });
      }
    })().catch(() => undefined);
    execution.done = run.result.then(
      (output) => this.finish(execution, 'SUCCEEDED', { output: JSON.stringify(output) }),
      (error: Error) => {
        if (error.name === 'ExecutionAbortedError') return this.finish(execution, 'ABORTED', {});
        if (error.name === 'ExecutionTimeoutError')
          return this.finish(execution, 'TIMED_OUT', { error: 'States.Timeout' });
        const cause = (error.cause ?? error) as Error;
        return this.finish(execution, 'FAILED', { error: cause.name, cause: cause.message });
      },
    );
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
    Object.assign(execution, { status, stopDate: new Date(), ...fields });
    for (const listener of this.endListeners) listener(execution);
    return execution;
  }

  private scaledDefinition(definition: Definition): Definition {
    const copy = structuredClone(definition);
    if (copy.TimeoutSeconds !== undefined)
      copy.TimeoutSeconds = Math.max(1, Math.ceil(copy.TimeoutSeconds * this.timeScale));
    return copy;
  }

  /** Builds the per-state overrides for one execution (they keep that execution's last state). */
  private overrides(definition: Definition, input: Json) {
    let lastState: Json = input;
    const taskResourceLocalHandlers: Record<string, (input: Json) => Promise<Json>> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number[]> = {};

    for (const [name, state] of walkStates(definition)) {
      if (state.Type === 'Task') {
        const invoke = this.resolveTask(name, state);
        const resultPath =
          typeof state.ResultPath === 'string' ? state.ResultPath : state.ResultPath === null ? null : '$';
        taskResourceLocalHandlers[name] = async (taskInput) => {
          const result = (await invoke(taskInput)) as Json;
          lastState = applyResultPath(taskInput, resultPath, result);
          return result;
        };
        if (Array.isArray(state.Retry)) {
          retryIntervalOverrides[name] = (state.Retry as Array<Record<string, Json>>).map((retrier) =>
            Math.round(Number(retrier.IntervalSeconds ?? 1) * 1000 * this.timeScale),
          );
        }
      } else if (state.Type === 'Wait') {
        Object.defineProperty(waitTimeOverrides, name, {
          enumerable: true,
          get: () => Math.round(waitSeconds(state, lastState) * 1000 * this.timeScale),
        });
      }
    }
    return { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides };
  }

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

function waitSeconds(state: State, lastState: Json): number {
  if (typeof state.Seconds === 'number') return state.Seconds;
  if (typeof state.SecondsPath === 'string') return Number(readPath(lastState, state.SecondsPath) ?? 1);
  const timestamp =
    typeof state.Timestamp === 'string'
      ? state.Timestamp
      : typeof state.TimestampPath === 'string'
        ? String(readPath(lastState, state.TimestampPath))
        : undefined;
  return timestamp ? Math.max(0, (Date.parse(timestamp) - Date.now()) / 1000) : 0;
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
