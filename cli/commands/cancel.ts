import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { Values } from '../args.js';
import type { Context } from '../context.js';

/**
 * Stops the run's workflow execution (named after the run). Step Functions then reports it stopped,
 * and the reconcile function records the run CANCELLED and cancels its provider job, exactly as when
 * the execution is stopped from the console.
 */
export async function cancel(runId: string, values: Values, context: Context): Promise<number> {
  const { services, target } = await context.connect(values);
  const executionOf = (stateMachineArn: string) =>
    `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
  const given = values['state-machine'];
  // An embedding run's execution is in the embedding workflow: its item names it. Without the item (a run
  // the table does not know, or no permission to read it), the training workflow is where the run is.
  const run = typeof given === 'string' ? undefined : await services.getRun(runId).catch(() => undefined);
  const executionArn =
    typeof given === 'string'
      ? executionOf(given)
      : run?.kind === 'embeddings' && run.executionArn
        ? run.executionArn
        : executionOf(await services.output('StateMachineArn', '--state-machine ARN'));
  const stateMachineArn = executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, '');
  const sfn = new SFNClient(target.client('SFN'));
  try {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') {
      context.err(`tunedrop: run ${runId} has already ended (${execution.status}); nothing to cancel.\n`);
      return 1;
    }
    await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'CancelledByUser', cause: 'tunedrop cancel' }),
    );
    context.out(
      `Stopped run ${runId}. It is recorded CANCELLED, and its provider job cancelled, within moments.\n`,
    );
    return 0;
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') {
      context.err(
        `tunedrop: no run ${runId} in ${stateMachineArn} (a rejected file has no workflow to cancel).\n`,
      );
      return 1;
    }
    throw error;
  } finally {
    sfn.destroy();
  }
}
