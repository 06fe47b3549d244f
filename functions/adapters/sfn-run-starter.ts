import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { ExecutionInput } from '../core/workflow-state.js';

/**
 * Starts a run's workflow: the execution is named after the run, so a second start of the same run (a
 * redelivered S3 event) makes no second execution and is not an error.
 */
export function sfnRunStarter<Input = ExecutionInput>(
  sfn: SFNClient,
  stateMachineArn: string,
): (runId: string, input: Input) => Promise<void> {
  return async (runId, input) => {
    try {
      await sfn.send(
        new StartExecutionCommand({ stateMachineArn, name: runId, input: JSON.stringify(input) }),
      );
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists')
        return;
      throw error;
    }
  };
}
