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
  // An embedding run's execution is in another state machine: its item names it.
  const run = typeof values['state-machine'] === 'string' ? undefined : await services.getRun(runId);
  const stateMachineArn =
    typeof values['state-machine'] === 'string'
      ? values['state-machine']
      : run?.kind === 'embeddings'
        ? await services.output('EmbeddingStateMachineArn', '--state-machine ARN')
        : await services.output('StateMachineArn', '--state-machine ARN');
  const sfn = new SFNClient(target.client('SFN'));
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
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
