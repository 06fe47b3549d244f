/**
 * An execution's history as Step Functions keeps it, and the two quotas it enforces on it, so that a
 * local run that would fail on AWS fails locally too, with the same status, error and cause.
 *
 * Event types, as GetExecutionHistory lists them:
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html (read 2026-11-29).
 * Which events a state produces, from histories recorded on AWS (localstack/localstack,
 * tests/aws/services/stepfunctions/v2/error_handling/test_states_errors.snapshot.json, recorded
 * 2024-03-21 against AWS, read 2026-11-29): ExecutionStarted; per state `<Type>StateEntered` and
 * `<Type>StateExited` (a Fail state only enters); per attempt of a Task that invokes a Lambda ARN
 * directly LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded | LambdaFunctionFailed
 * | LambdaFunctionTimedOut, and of any other Task (`arn:aws:states:::lambda:invoke`…) TaskScheduled,
 * TaskStarted, TaskSucceeded | TaskFailed | TaskTimedOut; a caught error exits the state
 * (TaskStateExited) before the Catch's Next is entered; the execution's end event.
 */

/**
 * "AWS Step Functions has a hard quota of 25,000 entries in the execution event history. When an
 * execution reaches 24,999 events, it waits for the next event to happen. If the event number 25,000 is
 * ExecutionSucceeded, the execution finishes successfully. If [not], the ExecutionFailed event is logged"
 * https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html (read 2026-11-29). The
 * error and cause are those AWS reports (loads/ardere#86: `States.Runtime`, "The execution reached the
 * maximum number of history events (25000)."); States.Runtime cannot be retried or caught
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, read 2026-11-29).
 */
export const HISTORY_EVENT_LIMIT = 25_000;

/**
 * The service quotas page: "Maximum input or output size for a task, state, or execution: 256 KiB of
 * data as a UTF-8 encoded string" (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
 * as quoted in cdklabs/construct-hub#1635); the history fields that carry payloads say "Length
 * Constraints: Maximum length of 262144 ... expressed as bytes in UTF-8 encoding"
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StateExitedEventDetails.html, read
 * 2026-11-29): 262,144 bytes pass, one more fails. Over it, States.DataLimitExceeded: "When the output of
 * a connector is larger than payload size quota. When the output of a state is larger [...]. When, after
 * Parameters processing, the input of a state is larger [...]" (concepts-error-handling.html, above).
 */
export const PAYLOAD_LIMIT_BYTES = 256 * 1024;

export const DATA_LIMIT_ERROR = 'States.DataLimitExceeded';
const HISTORY_LIMIT_ERROR = 'States.Runtime';

/**
 * The cause AWS gives with States.DataLimitExceeded, naming the task's resource type (`lambda` for
 * lambda:invoke), the Lambda ARN of a direct Task, or the state whose output is too large (recorded on
 * AWS, see above; the same words for an input too large are an assumption: no recording shows one).
 */
export function dataLimitCause(subject: string): string {
  return `The state/task '${subject}' returned a result with a size exceeding the maximum number of bytes service limit.`;
}

/** A payload's size as Step Functions measures it: its JSON text, in UTF-8 bytes. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

/**
 * How Step Functions names a Task's resource in its events and causes. A Lambda ARN is invoked
 * directly (LambdaFunction* events, the ARN in causes); an `arn:aws:states:::service:action` resource
 * is a service integration (Task* events, the resource type in causes: `lambda`, `aws-sdk:s3`).
 */
export function taskResource(resource: string): { events: 'LambdaFunction' | 'Task'; causeSubject: string } {
  if (/^arn:aws[\w-]*:lambda:/.test(resource)) return { events: 'LambdaFunction', causeSubject: resource };
  const integration = resource.replace(/^arn:aws[\w-]*:states:::/, '');
  const parts = integration.split(':');
  return { events: 'Task', causeSubject: parts.length > 1 ? parts.slice(0, -1).join(':') : integration };
}

export interface HistoryEvent {
  /** Numbered from 1, as GetExecutionHistory numbers them. */
  id: number;
  type: string;
  timestamp: Date;
  stateName?: string;
}

export type ExecutionEnd =
  { status: 'FAILED'; error: string; cause: string } | { status: 'TIMED_OUT'; error: 'States.Timeout' };

const END_EVENTS = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionTimedOut',
  'ExecutionAborted',
]);

/**
 * One execution's history. `record` adds an event unless the history is full; `imposedEnd` is set when
 * a quota (or the simulated clock's timeout) ended the execution, and then wins over whatever the
 * interpreter reports afterwards.
 */
export class ExecutionHistory {
  readonly events: HistoryEvent[] = [];
  largestPayloadBytes = 0;
  imposedEnd: ExecutionEnd | undefined;
  private ended = false;

  constructor(
    private readonly now: () => Date,
    private readonly onImposedEnd: () => void,
  ) {}

  /** Records an event; false when it could not be, because the execution has ended (maybe by this very event). */
  record(type: string, stateName?: string): boolean {
    if (this.ended) return false;
    if (this.events.length >= HISTORY_EVENT_LIMIT - 1 && !END_EVENTS.has(type)) {
      this.fail(
        HISTORY_LIMIT_ERROR,
        `The execution reached the maximum number of history events (${HISTORY_EVENT_LIMIT}).`,
      );
      return false;
    }
    this.push(type, stateName);
    if (END_EVENTS.has(type)) this.ended = true;
    return true;
  }

  /** Measures a payload (a state's input or output, a task's result): false when it is over the quota. */
  withinPayloadLimit(value: unknown): boolean {
    const bytes = payloadBytes(value);
    this.largestPayloadBytes = Math.max(this.largestPayloadBytes, bytes);
    return bytes <= PAYLOAD_LIMIT_BYTES;
  }

  /** Ends the execution FAILED with an error no Retry or Catch sees; ExecutionFailed is its last event. */
  fail(error: string, cause: string): void {
    if (this.ended) return;
    this.push('ExecutionFailed');
    this.ended = true;
    this.imposedEnd = { status: 'FAILED', error, cause };
    this.onImposedEnd();
  }

  timeOut(): void {
    if (this.ended) return;
    this.push('ExecutionTimedOut');
    this.ended = true;
    this.imposedEnd = { status: 'TIMED_OUT', error: 'States.Timeout' };
    this.onImposedEnd();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private push(type: string, stateName?: string): void {
    this.events.push({
      id: this.events.length + 1,
      type,
      timestamp: this.now(),
      ...(stateName === undefined ? {} : { stateName }),
    });
  }
}

/**
 * Time that passes only when something moves it: a Wait, a `.waitForTaskToken` task's wait (to its
 * next deadline or scheduled callback), or a test. A 72-hour run takes no longer than its work.
 *
 * Tests schedule callbacks at simulated times (a person answering a task token five hours later); a
 * move of the clock runs those it passes in time order (then in the order they were scheduled), each
 * with the clock reading its own time.
 */
export class SimulatedClock {
  private ms: number;
  private readonly scheduled: Array<{ at: number; order: number; fn: () => unknown }> = [];
  private order = 0;
  /** What scheduled callbacks threw or rejected with: a test asserts it is empty. */
  readonly callbackErrors: unknown[] = [];

  constructor(start: Date = new Date()) {
    this.ms = start.getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  /** Runs `fn` when the clock reaches `at` (at its next move, if `at` has passed already). */
  schedule(at: Date, fn: () => unknown): void {
    this.scheduled.push({ at: at.getTime(), order: this.order++, fn });
    this.scheduled.sort((a, b) => a.at - b.at || a.order - b.order);
  }

  /** When the earliest scheduled callback is due, if any is. */
  nextScheduled(): Date | undefined {
    const first = this.scheduled[0];
    return first ? new Date(first.at) : undefined;
  }

  /**
   * Moves the clock on, running the callbacks it passes. Synchronous, because a Wait's duration is read
   * synchronously by the interpreter: a callback's promise is not awaited (what it awaits happens after
   * the Wait), only its failure kept.
   */
  advance(seconds: number): void {
    const target = this.ms + Math.max(0, seconds) * 1000;
    for (let due = this.takeDue(target); due; due = this.takeDue(target)) {
      this.ms = Math.max(this.ms, due.at);
      try {
        const result = due.fn();
        if (result instanceof Promise) result.catch((error: unknown) => this.callbackErrors.push(error));
      } catch (error) {
        this.callbackErrors.push(error);
      }
    }
    this.ms = Math.max(this.ms, target);
  }

  /** Moves the clock to `at`, running the callbacks it passes one after the other, awaiting each. */
  async advanceTo(at: Date): Promise<void> {
    const target = at.getTime();
    for (let due = this.takeDue(target); due; due = this.takeDue(target)) {
      this.ms = Math.max(this.ms, due.at);
      try {
        await due.fn();
      } catch (error) {
        this.callbackErrors.push(error);
      }
    }
    this.ms = Math.max(this.ms, target);
  }

  private takeDue(target: number) {
    return this.scheduled[0] && this.scheduled[0].at <= target ? this.scheduled.shift() : undefined;
  }
}
