import { randomBytes } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { AwsApiError, serveAwsJson, type AwsJsonActions } from './aws-json-server.js';
import type { Invoke, InvokeOptions } from './lambda.js';
import { formatTraceHeader, newSegmentId, newTraceId, parseTraceHeader } from './xray.js';
import {
  DATA_LIMIT_ERROR,
  dataLimitCause,
  ExecutionHistory,
  PAYLOAD_LIMIT_BYTES,
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
 *
 * A `.waitForTaskToken` Task (the callback pattern) invokes its function with a fresh task token and
 * then waits for SendTaskSuccess, SendTaskFailure or the end of its TimeoutSeconds/HeartbeatSeconds,
 * which this class enforces itself on scaled or simulated time (see `waitForTaskToken`).
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
  /** The execution's X-Ray trace (`Root=…;Sampled=1`), when its state machine has tracing enabled. */
  traceHeader?: string;
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
  private readonly machines = new Map<string, { name: string; definition: Definition; tracing: boolean }>();
  private readonly executions = new Map<string, Execution>();
  private readonly timeScale: number;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.timeScale = options.timeScale ?? 1 / 600;
  }

  private now(): Date {
    return this.options.clock?.now() ?? new Date();
  }

  /**
   * `tracing`: the state machine's TracingConfiguration is enabled. Each execution is then part of a trace
   * (its caller's, see `start`, or one of its own), and Step Functions passes the trace header on to the functions its Tasks invoke, so that a run's
   * functions share one trace: "If your Lambda function is called by another instrumented service, Lambda
   * traces requests that have already been sampled" (AWS X-Ray developer guide, "AWS Lambda and AWS
   * X-Ray", read 2026-11-30; no page read here describes Step Functions' side in more detail). Its own
   * segments (the execution, each Task) are not recorded locally.
   */
  register(arn: string, name: string, definition: Definition, options: { tracing?: boolean } = {}): void {
    this.machines.set(arn, { name, definition, tracing: options.tracing === true });
  }

  /**
   * `traceHeader`: the caller's X-Ray trace header. A traced state machine's execution continues that
   * trace (or starts one without it): "For X-Ray traces, all AWS services use the X-Amzn-Trace-Id header
   * from the HTTP request [...] StartExecution and StartSyncExecution API operations can also use
   * traceHeader from the body of the request payload. If both sources are provided, Step Functions will
   * use the header value" (Step Functions API reference, StartExecution, traceHeader, read 2026-11-30).
   */
  start(stateMachineArn: string, name: string | undefined, input = '{}', traceHeader?: string): Execution {
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
    const tokens = new ExecutionTokens(stateMachineArn, executionArn);
    const enteredInputs = new Map<string, Json>();
    const upstream = traceHeader === undefined ? undefined : parseTraceHeader(traceHeader);
    const traceId = machine.tracing ? (upstream?.root ?? newTraceId(startDate)) : undefined;
    const sampled = upstream?.sampled ?? true;
    let abort = (): void => undefined;
    // A quota may end the execution before `run` has returned: abort on the next microtask.
    const history = new ExecutionHistory(
      () => this.now(),
      () => queueMicrotask(() => abort()),
    );
    const run = new StateMachine(this.scaledDefinition(machine.definition) as never, {
      validationOptions: { checkArn: false },
    }).run(parsedInput as never, {
      overrides: this.overrides(machine.definition, parsedInput, {
        history,
        attempts,
        startDate,
        tokens,
        enteredInputs,
        stateMachineArn,
        ...(traceId ? { trace: { root: traceId, sampled } } : {}),
      }) as never,
      // The interpreter copies this object's properties into the context object once per run, so `Task`
      // stays this very object and `$$.Task.Token` calls the getter each time a Task's Parameters read it.
      context: {
        Task: {
          get Token() {
            return tokens.peek();
          },
        },
      },
    });
    // Stopping the run also ends its token waits at once: the interpreter's abort does not settle the
    // Task it is awaiting, and a later SendTask* must be refused.
    abort = () => {
      run.abort();
      tokens.endAll();
    };

    const execution: Execution = {
      executionArn,
      stateMachineArn,
      name: executionName,
      status: 'RUNNING',
      input,
      startDate,
      ...(traceId ? { traceHeader: formatTraceHeader({ root: traceId, sampled }) } : {}),
      events: [],
      history: history.events,
      get historyEventCount() {
        return history.events.length;
      },
      get largestPayloadBytes() {
        return history.largestPayloadBytes;
      },
      done: undefined as unknown as Promise<Execution>,
      abort: () => abort(),
    };
    const logged = (async () => {
      for await (const event of run.eventLogs as AsyncIterable<LoggedEvent>) {
        execution.events.push({
          at: this.now(),
          type: event.type,
          ...(event.state ? { state: event.state.name } : {}),
        });
        // TimeoutSecondsPath and HeartbeatSecondsPath are read from the state's input.
        if (event.type === 'StateEntered' && event.state)
          enteredInputs.set(event.state.name, (event.state.input ?? null) as Json);
        recordHistory(history, attempts, event);
      }
    })().catch(() => undefined);
    // The log is read to its end before the execution ends: a state output over the quota, found there,
    // fails an execution that the interpreter may already have finished.
    execution.done = Promise.allSettled([run.result, logged]).then(([result]) => {
      // However it ended (timeout, stop, quota), its outstanding tokens end with it.
      tokens.endAll();
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

  /**
   * SendTaskSuccess: the token's task succeeds with `output` (a JSON text) as its result.
   * Errors as https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html
   * lists them (read 2026-11-29): InvalidToken, TaskTimedOut (the task has ended), InvalidOutput (not
   * JSON; over the 262,144-byte length constraint of `output`).
   */
  sendTaskSuccess(taskToken: string, output: string): void {
    const wait = this.openWait(taskToken);
    if (typeof output !== 'string' || Buffer.byteLength(output, 'utf8') > PAYLOAD_LIMIT_BYTES)
      throw new AwsApiError(
        'InvalidOutput',
        `the output is not a JSON text of at most ${PAYLOAD_LIMIT_BYTES} bytes`,
      );
    let result: Json;
    try {
      result = JSON.parse(output) as Json;
    } catch {
      throw new AwsApiError('InvalidOutput', 'the output is not valid JSON');
    }
    wait.answer({ output: result });
  }

  /**
   * SendTaskFailure: the token's task fails with `error` and `cause`, which its Retry and Catch match.
   * Constraints from https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html
   * (read 2026-11-29): error at most 256 characters, cause at most 32,768; errors InvalidToken and
   * TaskTimedOut as for SendTaskSuccess.
   */
  sendTaskFailure(taskToken: string, error = '', cause = ''): void {
    if (error.length > 256 || cause.length > 32_768)
      throw new AwsApiError('ValidationException', 'error is limited to 256 characters and cause to 32768');
    this.openWait(taskToken).answer({ error, cause });
  }

  /**
   * SendTaskHeartbeat: restarts the task's HeartbeatSeconds; its TimeoutSeconds is unchanged ("The
   * Timeout of a task [...] is its maximum allowed duration, regardless of the number of
   * SendTaskHeartbeat requests received", and a heartbeat "does not in itself create an event in the
   * execution history": https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskHeartbeat.html,
   * read 2026-11-29).
   */
  sendTaskHeartbeat(taskToken: string): void {
    this.openWait(taskToken).heartbeat();
  }

  private readonly tokenWaits = new Map<string, TokenWait>();

  /** The wait a SendTask* call is about, if it is still waiting for an answer. */
  private openWait(taskToken: string): TokenWait {
    if (typeof taskToken !== 'string' || taskToken.length < 1 || taskToken.length > 2048)
      // The taskToken length constraints of the three actions' API reference pages (read 2026-11-29).
      throw new AwsApiError('ValidationException', 'taskToken must be 1 to 2048 characters long');
    const wait = this.tokenWaits.get(taskToken);
    if (!wait)
      throw new AwsApiError('InvalidToken', 'Invalid Token: local Step Functions issued no such task token');
    // The message AWS answers for a token whose task has ended (reported with the response AWS gave in
    // github.com/andybalham/blog-task-tokens-part-2, 2022-07-26; read 2026-11-29).
    if (wait.status !== 'waiting')
      throw new AwsApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    return wait;
  }

  /**
   * Runs one attempt of a `.waitForTaskToken` Task: invokes the function with the Parameters' Payload
   * (the token in it), then waits for an answer to the token, its TimeoutSeconds, its HeartbeatSeconds
   * or the end of the execution. The history is the one AWS recorded for a callback task
   * (localstack/localstack tests/aws/services/stepfunctions/v2/callback/test_callback.snapshot.json,
   * recorded against AWS 2023-06-25 and 2024-03-10, read 2026-11-29): TaskScheduled, TaskStarted,
   * TaskSubmitted once the function has taken the token, then TaskSucceeded | TaskFailed | TaskTimedOut
   * (for States.Timeout and States.HeartbeatTimeout alike, as API_SendTaskHeartbeat says). The function's
   * own result is ignored; its failure fails the task. The types are in API_HistoryEvent.html (see
   * step-functions-history.ts).
   *
   * Time: on scaled time the deadlines are real timers, `timeScale` of their seconds; on a
   * SimulatedClock the wait moves the clock to its next deadline or scheduled callback (never while the
   * function is still running), and ends as soon as an answer arrives.
   */
  private async waitForTaskToken(
    name: string,
    state: State,
    taskInput: Json,
    claimed: string | undefined,
    invoke: (input: Json) => Promise<unknown>,
    definition: Definition,
    scope: ExecutionScope,
  ): Promise<Json> {
    const { history, attempts, tokens, startDate } = scope;
    const clock = this.options.clock;
    const token = claimed ?? tokens.peek();
    tokens.claim();
    const wait = new TokenWait(tokens.stateMachineArn, tokens.executionArn);
    this.tokenWaits.set(token, wait);
    tokens.waits.add(wait);
    try {
      // Let the history catch up with the interpreter's log first (as the other Tasks do).
      await new Promise((resolve) => setImmediate(resolve));
      if (wait.executionEnded) throw new ExecutionEndedError();
      if (!history.withinPayloadLimit(taskInput)) history.fail(DATA_LIMIT_ERROR, dataLimitCause(name));
      if (!history.record('TaskScheduled', name) || !history.record('TaskStarted', name))
        throw new ExecutionEndedError();
      const attempt: Attempt = { open: true, events: 'Task' };
      attempts.set(name, attempt);

      const stateInput = scope.enteredInputs.get(name) ?? null;
      const timeoutSeconds = taskSeconds(state, 'Timeout', stateInput);
      const heartbeatSeconds = taskSeconds(state, 'Heartbeat', stateInput);
      const nowMs = () => (clock ? clock.now().getTime() : Date.now());
      const msPerSecond = clock ? 1000 : 1000 * this.timeScale;
      // On scaled time the function runs in real time while the deadlines are scaled down (a 60 s timeout
      // is 60 ms at 1/1000), so a cold start could outlast a timeout it never would on AWS. There the
      // deadlines start when the function has taken the token (TaskSubmitted); on a simulated clock, where
      // the function takes no simulated time, at the start, as on AWS.
      let timeoutAt: number | undefined;
      const startDeadlines = () => {
        if (timeoutSeconds !== undefined) timeoutAt = nowMs() + timeoutSeconds * msPerSecond;
        wait.onHeartbeat();
      };
      if (heartbeatSeconds !== undefined)
        wait.onHeartbeat = () => (wait.heartbeatAt = nowMs() + heartbeatSeconds * msPerSecond);
      if (clock) startDeadlines();
      // On scaled time the interpreter enforces the execution's TimeoutSeconds; on a simulated clock
      // nothing else would, so the wait does.
      const executionDeadline =
        clock && definition.TimeoutSeconds !== undefined
          ? startDate.getTime() + definition.TimeoutSeconds * 1000
          : undefined;

      const invocation: { state: 'running' | 'done' | 'failed'; error?: unknown } = { state: 'running' };
      invoke(taskInput).then(
        () => {
          invocation.state = 'done';
          wait.poke();
        },
        (error: unknown) => {
          invocation.state = 'failed';
          invocation.error = error;
          wait.poke();
        },
      );
      let submitted = false;
      const close = () => {
        wait.status = 'closed';
        attempt.open = false;
      };

      for (;;) {
        if (wait.executionEnded) throw new ExecutionEndedError();
        if (invocation.state === 'failed' && wait.status === 'waiting') {
          close();
          history.record('TaskFailed', name);
          throw invocation.error;
        }
        if (invocation.state === 'done' && !submitted) {
          submitted = true;
          if (!clock) startDeadlines();
          if (!history.record('TaskSubmitted', name)) throw new ExecutionEndedError();
        }
        // An answer that came while the function was still running is applied once it has returned,
        // so that TaskSubmitted comes first as on AWS.
        if (wait.status === 'completed' && invocation.state !== 'running') {
          close();
          const answer = wait.answered!;
          if ('error' in answer) {
            history.record('TaskFailed', name);
            throw Object.assign(new Error(answer.cause), { name: answer.error });
          }
          if (!history.withinPayloadLimit(answer.output)) {
            history.record('TaskFailed', name);
            throw Object.assign(new Error(dataLimitCause('lambda')), { name: DATA_LIMIT_ERROR });
          }
          if (!history.record('TaskSucceeded', name)) throw new ExecutionEndedError();
          return answer.output;
        }
        const now = nowMs();
        if (wait.status === 'waiting') {
          if (timeoutAt !== undefined && now >= timeoutAt) {
            close();
            history.record('TaskTimedOut', name);
            throw await statesTimeoutError();
          }
          if (wait.heartbeatAt !== undefined && now >= wait.heartbeatAt) {
            close();
            history.record('TaskTimedOut', name);
            throw Object.assign(new Error(HEARTBEAT_TIMEOUT_ERROR), { name: HEARTBEAT_TIMEOUT_ERROR });
          }
        }
        if (executionDeadline !== undefined && now >= executionDeadline) {
          close();
          history.timeOut();
          throw new ExecutionEndedError();
        }

        const woken = wait.sleep();
        // Only a task still waiting for its answer has deadlines to sleep until.
        const deadlines =
          wait.status === 'waiting' ? [timeoutAt, wait.heartbeatAt, executionDeadline] : [executionDeadline];
        if (!clock) {
          const next = earliest(deadlines);
          const timer = next === undefined ? undefined : setTimeout(() => wait.poke(), next - now);
          await woken;
          clearTimeout(timer);
        } else if (invocation.state === 'running' || wait.status !== 'waiting') {
          await woken;
        } else {
          // An answer already on its way (sent by the function as it returned) lands before time moves.
          await new Promise((resolve) => setImmediate(resolve));
          if (wait.status !== 'waiting' || wait.executionEnded) continue;
          const next = earliest([...deadlines, clock.nextScheduled()?.getTime()]);
          if (next === undefined) await woken;
          else await clock.advanceTo(new Date(next));
        }
      }
    } finally {
      wait.status = 'closed';
      wait.poke = () => undefined;
      tokens.waits.delete(wait);
    }
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
    // A JSON copy, not structuredClone: the interpreter resolves nested Parameters only in objects whose
    // prototype is its realm's Object.prototype, and under Jest's VM context structuredClone returns the
    // host realm's objects (a `Payload: { 'taskToken.$': ... }` was then passed on unresolved).
    const copy = JSON.parse(JSON.stringify(definition)) as Definition;
    // On a simulated clock the timeout is checked by the Waits (overrides), on simulated time.
    if (this.options.clock) delete copy.TimeoutSeconds;
    else if (copy.TimeoutSeconds !== undefined)
      copy.TimeoutSeconds = Math.max(1, Math.ceil(copy.TimeoutSeconds * this.timeScale));
    // The interpreter races every Task against its own timer (TimeoutSeconds, else 60 s of real time).
    // A token task's timeout and heartbeat are enforced by waitForTaskToken on scaled or simulated time,
    // so the interpreter gets the longest timer Node can set instead, which the wait always outlives
    // (it ends with the execution at the latest, and then the interpreter clears its timer).
    for (const [, state] of walkStates(copy)) {
      if (state.Type !== 'Task' || !isTokenTask(state)) continue;
      delete state.TimeoutSecondsPath;
      delete state.HeartbeatSeconds;
      delete state.HeartbeatSecondsPath;
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
    }
    return copy;
  }

  /** Builds the per-state overrides for one execution (they keep that execution's last state). */
  private overrides(definition: Definition, input: Json, scope: ExecutionScope) {
    const { history, attempts, startDate, tokens } = scope;
    let lastState: Json = input;
    const taskResourceLocalHandlers: Record<string, (input: Json) => Promise<Json>> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number[]> = {};
    const clock = this.options.clock;

    for (const [name, state] of walkStates(definition)) {
      if (state.Type === 'Task') {
        const invokeTask = this.resolveTask(name, state);
        // Each invocation a Task makes carries the execution's trace, its parent a new id (the Task's
        // subsegment on AWS); without tracing, none.
        const invoke = (taskInput: Json) =>
          invokeTask(taskInput, {
            stateMachineArn: scope.stateMachineArn,
            ...(scope.trace
              ? { traceHeader: formatTraceHeader({ ...scope.trace, parent: newSegmentId() }) }
              : {}),
          });
        const resource = taskResource(String(state.Resource));
        const resultPath =
          typeof state.ResultPath === 'string' ? state.ResultPath : state.ResultPath === null ? null : '$';
        if (isTokenTask(state)) {
          taskResourceLocalHandlers[name] = async (taskInput) => {
            // Synchronously, before anything else can run: the token this attempt's Parameters just read.
            const token = tokens.claim();
            const result = await this.waitForTaskToken(
              name,
              state,
              taskInput,
              token,
              invoke,
              definition,
              scope,
            );
            lastState = applyResultPath(scope.enteredInputs.get(name) ?? lastState, resultPath, result);
            return result;
          };
        } else
          taskResourceLocalHandlers[name] = async (taskInput) => {
            // `$$.Task.Token` means nothing outside a token task: whatever was read is dropped.
            tokens.claim();
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
              throw Object.assign(new Error(dataLimitCause(resource.causeSubject)), {
                name: DATA_LIMIT_ERROR,
              });
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
  private resolveTask(name: string, state: State): (input: Json, options: InvokeOptions) => Promise<unknown> {
    const resource = String(state.Resource);
    const direct = this.options.invokers.get(resource);
    if (direct) return direct;
    if (resource.startsWith('arn:aws:states:::lambda:invoke')) {
      return async (input, options) => {
        const params = input as { FunctionName?: string; Payload?: Json };
        const target = this.options.invokers.get(String(params.FunctionName));
        if (!target) throw new Error(`local mode has no function ${params.FunctionName} (state ${name})`);
        return {
          Payload: await target(params.Payload ?? null, options),
          StatusCode: 200,
          ExecutedVersion: '$LATEST',
        };
      };
    }
    return async () => {
      throw new Error(`local mode cannot run the resource of state "${name}": ${resource}`);
    };
  }

  /** Serves the Step Functions API on 127.0.0.1 for SDK clients (AWS_ENDPOINT_URL_SFN). */
  async serve(): Promise<{ endpoint: string; close: () => Promise<void> }> {
    const api: AwsJsonActions = {
      StartExecution: (b, { headers }) => {
        const header = headers['x-amzn-trace-id'];
        const e = this.start(
          String(b.stateMachineArn),
          b.name === undefined ? undefined : String(b.name),
          b.input === undefined ? '{}' : String(b.input),
          typeof header === 'string' ? header : typeof b.traceHeader === 'string' ? b.traceHeader : undefined,
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
      // The three answer an empty object (the API reference's "Response Elements", read 2026-11-29).
      SendTaskSuccess: (b) => {
        if (typeof b.output !== 'string') throw new AwsApiError('ValidationException', 'output is required');
        this.sendTaskSuccess(String(b.taskToken ?? ''), b.output);
        return {};
      },
      SendTaskFailure: (b) => {
        this.sendTaskFailure(
          String(b.taskToken ?? ''),
          typeof b.error === 'string' ? b.error : undefined,
          typeof b.cause === 'string' ? b.cause : undefined,
        );
        return {};
      },
      SendTaskHeartbeat: (b) => {
        this.sendTaskHeartbeat(String(b.taskToken ?? ''));
        return {};
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
    ...(e.traceHeader !== undefined ? { traceHeader: e.traceHeader } : {}),
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

/** An error no Retry or Catch sees (the interpreter reads these two flags). */
class UncatchableError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Thrown in a Task once the execution has ended (by a quota, a stop, its timeout): the execution's end
 * is already decided.
 */
class ExecutionEndedError extends UncatchableError {
  constructor() {
    super('States.Runtime', 'the execution has ended');
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

/** What one execution's Task handlers share. */
interface ExecutionScope {
  history: ExecutionHistory;
  attempts: Map<string, Attempt>;
  startDate: Date;
  tokens: ExecutionTokens;
  /** Each state's input when it was last entered, from the interpreter's log. */
  enteredInputs: Map<string, Json>;
  /** The execution's X-Ray trace, when its state machine is traced. */
  trace?: { root: string; sampled: boolean };
  /** Its state machine: a Task invokes as that state machine's role. */
  stateMachineArn: string;
}

/**
 * A Task of the callback pattern: "Call a service with a task token, and have Step Functions wait until
 * that token is returned with a payload" by appending `.waitForTaskToken` to the resource
 * (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token,
 * read 2026-11-29).
 */
function isTokenTask(state: State): boolean {
  return typeof state.Resource === 'string' && state.Resource.endsWith('.waitForTaskToken');
}

/**
 * A task's TimeoutSeconds or HeartbeatSeconds, or the positive integer its …SecondsPath selects in the
 * state input ("TimeoutSecondsPath [...] provide a timeout value dynamically from the state input using
 * a reference path", https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html, read
 * 2026-11-29). A path that selects no positive integer fails the task with States.Runtime, which no
 * Retry or Catch sees.
 */
function taskSeconds(state: State, kind: 'Timeout' | 'Heartbeat', stateInput: Json): number | undefined {
  const fixed = state[`${kind}Seconds`];
  if (typeof fixed === 'number') return fixed;
  const path = state[`${kind}SecondsPath`];
  if (typeof path !== 'string') return undefined;
  const value = readPath(stateInput, path);
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  throw new UncatchableError(
    'States.Runtime',
    `${kind}SecondsPath '${path}' does not select a positive integer in the state input`,
  );
}

function earliest(times: ReadonlyArray<number | undefined>): number | undefined {
  const defined = times.filter((t): t is number => t !== undefined);
  return defined.length ? Math.min(...defined) : undefined;
}

/** The longest delay setTimeout takes (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * "States.HeartbeatTimeout: A Task state failed to send a heartbeat for a period longer than the
 * HeartbeatSeconds value. HeartbeatTimeout is available inside the Catch and Retry fields."
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, read 2026-11-29).
 */
const HEARTBEAT_TIMEOUT_ERROR = 'States.HeartbeatTimeout';

let statesTimeoutErrorClass: Promise<new () => Error> | undefined;

/**
 * A States.Timeout error the interpreter treats as its own. On AWS, `States.TaskFailed` in a Retry or
 * Catch "matches any known error name except for States.Timeout" (concepts-error-handling.html, above);
 * the interpreter implements that exception with `instanceof` its StatesTimeoutError, which it does not
 * export. The class is taken, once, from a throwaway run whose Task times out after 1 ms (validation
 * off, since a fractional TimeoutSeconds is not valid ASL).
 */
async function statesTimeoutError(): Promise<Error> {
  statesTimeoutErrorClass ??= new StateMachine(
    {
      StartAt: 'Probe',
      States: { Probe: { Type: 'Task', Resource: 'probe', TimeoutSeconds: 0.001, End: true } },
    } as never,
    { validationOptions: { noValidate: true } },
  )
    .run(null as never, {
      overrides: { taskResourceLocalHandlers: { Probe: () => new Promise<never>(() => undefined) } },
    })
    .result.then(
      () => {
        throw new Error('the timeout probe did not time out');
      },
      (error: Error) => (error.cause as Error).constructor as new () => Error,
    );
  return new (await statesTimeoutErrorClass)();
}

/**
 * A task token: which state machine and execution issued it, readable without the server so that IAM
 * can authorize SendTask* on the state machine (`taskTokenStateMachineArn`), and 32 random bytes that
 * make it unguessable. Only tokens this process issued are accepted: the whole string is looked up, so
 * a token whose ARNs were rewritten is unknown.
 */
function mintTaskToken(stateMachineArn: string, executionArn: string): string {
  const issuer = Buffer.from(JSON.stringify({ s: stateMachineArn, e: executionArn })).toString('base64url');
  return `${TOKEN_PREFIX}${issuer}.${randomBytes(32).toString('base64url')}`;
}

const TOKEN_PREFIX = 'local1.';

/** The ARN of the state machine whose execution issued a task token, if it is one local mode issues. */
export function taskTokenStateMachineArn(taskToken: string): string | undefined {
  if (!taskToken.startsWith(TOKEN_PREFIX)) return undefined;
  const [issuer = ''] = taskToken.slice(TOKEN_PREFIX.length).split('.');
  try {
    const parsed: unknown = JSON.parse(Buffer.from(issuer, 'base64url').toString('utf8'));
    const arn = (parsed as { s?: unknown } | null)?.s;
    return typeof arn === 'string' && arn.startsWith('arn:') ? arn : undefined;
  } catch {
    return undefined;
  }
}

/** One execution's task tokens: the one `$$.Task.Token` reads next, and the waits still open. */
class ExecutionTokens {
  private pending: string | undefined;
  readonly waits = new Set<TokenWait>();

  constructor(
    readonly stateMachineArn: string,
    readonly executionArn: string,
  ) {}

  /** The token the next Task attempt will claim: read as often as its Parameters mention it. */
  peek(): string {
    return (this.pending ??= mintTaskToken(this.stateMachineArn, this.executionArn));
  }

  /** Takes the token read since the last claim (a Task claims it synchronously as it starts). */
  claim(): string | undefined {
    const token = this.pending;
    this.pending = undefined;
    return token;
  }

  /** The execution has ended: every open wait ends, and its token is refused from now on. */
  endAll(): void {
    for (const wait of this.waits) {
      wait.executionEnded = true;
      wait.status = 'closed';
      wait.poke();
    }
  }
}

type TokenAnswer = { output: Json } | { error: string; cause: string };

/**
 * A token task's wait. `waiting` accepts one answer; `completed` has it (applied once the function
 * has returned); `closed` has ended, and refuses answers with TaskTimedOut.
 */
class TokenWait {
  status: 'waiting' | 'completed' | 'closed' = 'waiting';
  answered: TokenAnswer | undefined;
  executionEnded = false;
  heartbeatAt: number | undefined;
  onHeartbeat: () => void = () => undefined;
  /** Wakes the waiting loop to look again. */
  poke: () => void = () => undefined;

  constructor(
    readonly stateMachineArn: string,
    readonly executionArn: string,
  ) {}

  answer(answer: TokenAnswer): void {
    this.answered = answer;
    this.status = 'completed';
    this.poke();
  }

  heartbeat(): void {
    this.onHeartbeat();
    this.poke();
  }

  /** Resolves at the next poke. */
  sleep(): Promise<void> {
    return new Promise<void>((resolve) => (this.poke = resolve));
  }
}
