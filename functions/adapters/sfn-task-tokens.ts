import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { TaskTokens } from '../core/ports.js';

/**
 * The errors SendTaskSuccess answers for a task that no longer waits: "TaskDoesNotExist", "TaskTimedOut"
 * ("The task token has either expired or the task associated with the token has already been closed")
 * and "InvalidToken" (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html,
 * read 2026-11-29). Anything else (throttling, access denied) is thrown: the caller's retry is the fix.
 */
const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

export function sfnTaskTokens(sfn: SFNClient): TaskTokens {
  return {
    async resume(token, output) {
      try {
        await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
        return true;
      } catch (error) {
        if (GONE.has((error as Error).name)) return false;
        throw error;
      }
    },
  };
}
