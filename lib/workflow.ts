import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  JitterType,
  LogLevel,
  StateMachine,
  StateMachineType,
  IntegrationPattern,
  JsonPath,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
  type INextable,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { PERMANENT_ERROR_NAMES } from '../functions/core/errors.js';
import { RUN_TIMEOUT_DAYS, SLOT_WAITING } from '../functions/core/workflow-state.js';
import { acknowledge, nagArn } from './nag.js';
import { LOG_RETENTION } from './secure-defaults.js';

export interface RunWorkflowFunctions {
  prepare: IFunction;
  upload: IFunction;
  acquireSlot: IFunction;
  createJob: IFunction;
  awaitJob: IFunction;
  getStatus: IFunction;
  collect: IFunction;
  evaluate: IFunction;
  record: IFunction;
}

export interface RunWorkflowProps {
  functions: RunWorkflowFunctions;
  /**
   * The longest a run may take, waiting for its family's turn and polling included; the execution then
   * times out.
   * @default RUN_TIMEOUT_DAYS (14 days)
   */
  timeout?: Duration;
}

/** State names, shared with tests and the local runner so nobody spells them twice. */
export const STATE = {
  familyTurn: 'Wait for family turn',
  prepare: 'Prepare',
  upload: 'Upload',
  acquireSlot: 'Acquire provider slot',
  createJob: 'Create job',
  wait: 'Wait for job',
  getStatus: 'Get status',
  done: 'Job finished?',
  collect: 'Collect results',
  evaluate: 'Evaluate model',
  evaluated: 'Evaluation finished?',
  evaluationWait: 'Wait for evaluation',
  checkEvaluation: 'Check evaluation',
  record: 'Record',
  recordFailure: 'Record failure',
  failed: 'Run failed',
} as const;

/**
 * The run's state machine: Wait for family turn (one run per family at a time) → Prepare → Upload → Acquire provider slot (parked until a slot is given) →
 * Create job → (Wait for job, parked until the job's event or a timeout → Get status)* → Collect →
 * Evaluate (the new model beside the current one; a failure here keeps the model, unpromoted; in batch
 * mode or on Bedrock, (Wait for evaluation → Check evaluation)* while batches run or deployments are
 * made) → Record,
 * with every failure caught and recorded. The two waits are `.waitForTaskToken` tasks: a run
 * waits without costing a transition until someone resumes it (docs/waiting.md has who and when).
 * Every task has a timeout (its function's plus a margin, so the function's own timeout error is what
 * surfaces) and retries with exponential backoff and full jitter, except on errors that retrying cannot
 * fix (PERMANENT_ERROR_NAMES) and the waits' own timeouts, which are caught and routed.
 */
export class RunWorkflow extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: RunWorkflowProps) {
    super(scope, id);
    const f = props.functions;

    const recordFailure = lambdaTask(
      this,
      STATE.recordFailure,
      f.record,
      Duration.minutes(2),
      '$.recorded',
    ).next(
      new Fail(this, STATE.failed, {
        error: 'RunFailed',
        cause: 'The run failed; its DynamoDB item has the cause.',
      }),
    );
    const guarded = (task: LambdaInvoke) => task.addCatch(recordFailure, { resultPath: '$.failure' });

    // One run per family trains at a time, so each continues from the last one's model and trains on the
    // data as it was when it started. The run parks here until its family's lane is free (at once if it
    // is), in the order the family's runs were received; a lost resume is caught by the timeout.
    const familyTurn = parkedLambdaTask(this, STATE.familyTurn, f.acquireSlot, '$.turn', {
      timeout: Timeout.duration(Duration.seconds(SLOT_WAITING.timeoutSeconds)),
      lane: 'family',
    });
    familyTurn.addCatch(familyTurn, { errors: ['States.Timeout'], resultPath: '$.turnTimeout' });
    guarded(familyTurn);

    const prepare = guarded(lambdaTask(this, STATE.prepare, f.prepare, Duration.minutes(16), '$.prepared'));
    const upload = guarded(lambdaTask(this, STATE.upload, f.upload, Duration.minutes(16), '$.files'));
    const createJob = guarded(lambdaTask(this, STATE.createJob, f.createJob, Duration.minutes(3), '$.job'));
    const getStatus = guarded(lambdaTask(this, STATE.getStatus, f.getStatus, Duration.minutes(2), '$.job'));
    const collect = guarded(lambdaTask(this, STATE.collect, f.collect, Duration.minutes(6), '$.results'));
    const record = guarded(lambdaTask(this, STATE.record, f.record, Duration.minutes(2), '$.recorded'));
    // An evaluation that fails after its retries never loses the model: Record keeps it, unpromoted.
    // A timed-out evaluation is not asked again from the start (the same calls, paid twice).
    const evaluate = lambdaTask(this, STATE.evaluate, f.evaluate, Duration.minutes(16), '$.evaluation', [
      'States.Timeout',
      'Sandbox.Timedout',
    ]);
    evaluate.addCatch(record, { resultPath: '$.evaluationFailure' });
    // In batch mode Evaluate answers with the batches it started, on Bedrock with the deployments it
    // made: the run waits, and looks again, until they have ended or are ready (the wait grows from a
    // minute to half an hour: core/evaluation.ts).
    const checkEvaluation = lambdaTask(
      this,
      STATE.checkEvaluation,
      f.evaluate,
      Duration.minutes(16),
      '$.evaluation',
    );
    checkEvaluation.addCatch(record, { resultPath: '$.evaluationFailure' });
    const evaluated = new Choice(this, STATE.evaluated)
      .when(
        Condition.isPresent('$.evaluation.pending'),
        new Wait(this, STATE.evaluationWait, {
          time: WaitTime.secondsPath('$.evaluation.pending.waitSeconds'),
        }).next(checkEvaluation),
      )
      .otherwise(record);
    checkEvaluation.next(evaluated);

    // At most PROVIDER_CONCURRENCY jobs train at once. A run parks here until it holds a slot: at once if
    // one is free, else when a run that frees one (or the sweep) resumes it. A lost resume is caught by
    // the timeout: the run asks again, and finds the slot it was given.
    const acquireSlot = parkedLambdaTask(this, STATE.acquireSlot, f.acquireSlot, '$.slot', {
      timeout: Timeout.duration(Duration.seconds(SLOT_WAITING.timeoutSeconds)),
    });
    acquireSlot.addCatch(acquireSlot, { errors: ['States.Timeout'], resultPath: '$.slotTimeout' });
    guarded(acquireSlot);

    // Parked until the job's event (the provider's webhook) wakes the run, or the timeout Create job or
    // Get status chose passes; Get status looks either way.
    const awaitJob = parkedLambdaTask(this, STATE.wait, f.awaitJob, '$.wake', {
      timeout: Timeout.at('$.job.waitSeconds'),
    });
    awaitJob.addCatch(getStatus, { errors: ['States.Timeout'], resultPath: '$.wake' });
    guarded(awaitJob);

    const done = new Choice(this, STATE.done)
      .when(
        Condition.stringEquals('$.job.phase', 'succeeded'),
        // Record ends the execution (SUCCEEDED) itself: no Succeed state, one transition fewer per run.
        collect.next(evaluate).next(evaluated),
      )
      .when(
        Condition.or(
          Condition.stringEquals('$.job.phase', 'failed'),
          Condition.stringEquals('$.job.phase', 'cancelled'),
          Condition.stringEquals('$.job.phase', 'timed_out'),
        ),
        recordFailure,
      )
      .otherwise(awaitJob);

    // Create job's answer goes through the Choice too: a job cancelled because its run ended while it was
    // being created goes to Record, not to waiting.
    createJob.next(done);
    awaitJob.next(getStatus);
    getStatus.next(done);

    const definition = familyTurn.next(prepare).next(upload).next(acquireSlot).next(createJob);

    this.stateMachine = tracedStateMachine(
      this,
      definition,
      props.timeout ?? Duration.days(RUN_TIMEOUT_DAYS),
      Object.values(f),
    );
  }
}

/**
 * A workflow's state machine: Standard, traced, its every event logged (for the audit trail; a run is about
 * twenty transitions) without the execution data (states' inputs and outputs stay out of the logs), and
 * the findings of CDK's own grants to it acknowledged: its tracing and logging, and its tasks' functions.
 */
export function tracedStateMachine(
  scope: Construct,
  definition: IChainable,
  timeout: Duration,
  functions: readonly IFunction[],
): StateMachine {
  const stateMachine = new StateMachine(scope, 'StateMachine', {
    stateMachineType: StateMachineType.STANDARD,
    definitionBody: DefinitionBody.fromChainable(definition as IChainable & INextable),
    timeout,
    tracingEnabled: true,
    logs: {
      destination: new LogGroup(scope, 'Logs', { retention: LOG_RETENTION }),
      level: LogLevel.ALL,
      includeExecutionData: false,
    },
  });
  acknowledge(
    stateMachine,
    "CDK's grants for the state machine's tracing and logging: X-Ray's PutTraceSegments, PutTelemetryRecords, " +
      'GetSamplingRules and GetSamplingTargets have no resource type, so IAM takes them only on Resource "*" ' +
      '(Service Authorization Reference for AWS X-Ray, read 2026-11-29); the CloudWatch Logs delivery actions ' +
      '(logs:CreateLogDelivery and the rest) are granted by CDK on "*" as well.',
    'AwsSolutions-IAM5[Resource::*]',
  );
  acknowledge(
    stateMachine,
    "CDK's LambdaInvoke grant: lambda:InvokeFunction on each task's function and on `<function ARN>:*`, its " +
      'versions and aliases. The wildcard never reaches another function.',
    ...functions.map((fn) => `AwsSolutions-IAM5[Resource::${nagArn(fn)}:*]`),
  );
  return stateMachine;
}

/**
 * A task that invokes its function with the run id, its provider (unless `withProvider` is false) and a task
 * token, and waits until the token is completed (SendTaskSuccess) or `timeout` passes (States.Timeout, never
 * retried: the caller catches it).
 */
export function parkedLambdaTask(
  scope: Construct,
  name: string,
  fn: IFunction,
  resultPath: string,
  options: { timeout: Timeout; lane?: 'family'; withProvider?: boolean },
): LambdaInvoke {
  const task = new LambdaInvoke(scope, name, {
    lambdaFunction: fn,
    integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    // The provider picks the run's slots (each provider has its own); a family's lane is the family's,
    // queued by when the run was received.
    payload: TaskInput.fromObject({
      runId: JsonPath.stringAt('$.runId'),
      ...(options.withProvider === false ? {} : { provider: JsonPath.stringAt('$.config.provider') }),
      taskToken: JsonPath.taskToken,
      ...(options.lane === 'family'
        ? {
            lane: 'family',
            family: JsonPath.stringAt('$.family'),
            receivedAt: JsonPath.stringAt('$.receivedAt'),
          }
        : {}),
    }),
    retryOnServiceExceptions: false,
    resultPath,
    taskTimeout: options.timeout,
  });
  task.addRetry({ errors: ['States.Timeout'], maxAttempts: 0 });
  return withRetries(task);
}

/** `alsoFinal`: errors besides the permanent ones that are not retried (the first matching retrier wins). */
export function lambdaTask(
  scope: Construct,
  name: string,
  fn: IFunction,
  timeout: Duration,
  resultPath: string,
  alsoFinal: readonly string[] = [],
): LambdaInvoke {
  const task = new LambdaInvoke(scope, name, {
    lambdaFunction: fn,
    payloadResponseOnly: true,
    // The catch-all retry below covers Lambda service errors too, with jitter.
    retryOnServiceExceptions: false,
    resultPath,
    taskTimeout: Timeout.duration(timeout),
  });
  return withRetries(task, alsoFinal);
}

/**
 * Every task's retries: none on errors that retrying cannot fix (PERMANENT_ERROR_NAMES, and `alsoFinal`),
 * else four, with exponential backoff and full jitter.
 */
function withRetries(task: LambdaInvoke, alsoFinal: readonly string[] = []): LambdaInvoke {
  task.addRetry({ errors: [...PERMANENT_ERROR_NAMES, ...alsoFinal], maxAttempts: 0 });
  task.addRetry({
    errors: ['States.ALL'],
    interval: Duration.seconds(2),
    maxAttempts: 4,
    backoffRate: 2,
    maxDelay: Duration.minutes(1),
    jitterStrategy: JitterType.FULL,
  });
  return task;
}
