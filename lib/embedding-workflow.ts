import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Choice, Condition, Fail, Timeout, type StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { EMBEDDING_RUN_TIMEOUT_DAYS } from '../functions/core/embedding-run.js';
import { lambdaTask, parkedLambdaTask, tracedStateMachine } from './workflow.js';

export interface EmbeddingWorkflowFunctions {
  prepare: IFunction;
  batches: IFunction;
  /** The training workflow's own Wait for job function: it parks a run until its provider's event. */
  awaitJob: IFunction;
  collect: IFunction;
  record: IFunction;
}

export interface EmbeddingWorkflowProps {
  functions: EmbeddingWorkflowFunctions;
  /**
   * The longest an embedding run may take; the execution then times out (and reconcile records it).
   * @default EMBEDDING_RUN_TIMEOUT_DAYS (3 days: a batch's 24 h window, its retry's, and a margin)
   */
  timeout?: Duration;
}

/** State names, shared with tests and the local runner. */
export const EMBEDDING_STATE = {
  prepare: 'Prepare requests',
  mode: 'Batch or direct?',
  batches: 'Run batches',
  batchesDone: 'Batches finished?',
  wait: 'Wait for batches',
  collect: 'Collect embeddings',
  recordFailure: 'Record embedding failure',
  failed: 'Embedding run failed',
} as const;

/**
 * An embedding run's state machine: Prepare requests (the input cut into the provider's requests and batch
 * files) → in batch mode, (Run batches → Wait for batches, parked until a batch's webhook or a timeout)*
 * until every batch has ended and its failed lines have been sent once more → Collect embeddings (the
 * vectors in input order into embeddings.parquet, the manifest, the run's end) ; in direct mode straight to
 * Collect embeddings, which calls the provider itself. Every failure is caught and recorded. Tasks retry
 * as the training workflow's do (lib/workflow.ts).
 */
export class EmbeddingWorkflow extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: EmbeddingWorkflowProps) {
    super(scope, id);
    const f = props.functions;

    const recordFailure = lambdaTask(
      this,
      EMBEDDING_STATE.recordFailure,
      f.record,
      Duration.minutes(2),
      '$.recorded',
    ).next(
      new Fail(this, EMBEDDING_STATE.failed, {
        error: 'EmbeddingRunFailed',
        cause: 'The embedding run failed; its DynamoDB item has the cause.',
      }),
    );
    const guarded = <T extends ReturnType<typeof lambdaTask>>(task: T) =>
      task.addCatch(recordFailure, { resultPath: '$.failure' }) as T;

    const prepare = guarded(
      lambdaTask(this, EMBEDDING_STATE.prepare, f.prepare, Duration.minutes(16), '$.prepared'),
    );
    const batches = guarded(
      lambdaTask(this, EMBEDDING_STATE.batches, f.batches, Duration.minutes(16), '$.batches'),
    );
    // Direct mode calls the provider for 15 minutes at most (Lambda's longest): a timeout is not retried,
    // since the same calls would be made, and paid, again.
    const collect = guarded(
      lambdaTask(this, EMBEDDING_STATE.collect, f.collect, Duration.minutes(16), '$.collected', [
        'States.Timeout',
        'Sandbox.Timedout',
      ]),
    );

    // Parked until a batch's event (the provider's webhook) wakes the run, or the wait Run batches chose
    // passes; Run batches looks at every batch either way.
    const wait = parkedLambdaTask(this, EMBEDDING_STATE.wait, f.awaitJob, '$.wake', {
      timeout: Timeout.at('$.batches.waitSeconds'),
      withProvider: false,
    });
    wait.addCatch(batches, { errors: ['States.Timeout'], resultPath: '$.wake' });
    guarded(wait);
    wait.next(batches);

    batches.next(
      new Choice(this, EMBEDDING_STATE.batchesDone)
        .when(Condition.booleanEquals('$.batches.pending', true), wait)
        .otherwise(collect),
    );

    const definition = prepare.next(
      new Choice(this, EMBEDDING_STATE.mode)
        .when(Condition.stringEquals('$.prepared.mode', 'batch'), batches)
        .otherwise(collect),
    );

    this.stateMachine = tracedStateMachine(
      this,
      definition,
      props.timeout ?? Duration.days(EMBEDDING_RUN_TIMEOUT_DAYS),
      Object.values(f),
    );
  }
}
