import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsRedriveDeps } from '../../functions/adapters/aws-redrive.js';
import { redrive } from '../../functions/core/redrive.js';
import type { Values } from '../args.js';
import type { Context } from '../context.js';

/** Sends every dead letter back to the function it failed in (see functions/core/redrive.ts). */
export async function redriveDeadLetters(values: Values, context: Context): Promise<number> {
  const { services, target } = await context.connect(values);
  const queueUrl =
    typeof values.queue === 'string'
      ? values.queue
      : await services.output('DeadLetterQueueUrl', '--queue URL');
  const sqs = new SQSClient(target.client('SQS'));
  const lambda = new LambdaClient(target.client('LAMBDA'));
  try {
    const result = await redrive(awsRedriveDeps(sqs, lambda, queueUrl));
    context.out(`Redrove ${result.redriven} event${result.redriven === 1 ? '' : 's'}.\n`);
    for (const kept of result.kept) context.out(`Kept message ${kept.id}: ${kept.reason}.\n`);
    return result.kept.length === 0 ? 0 : 1;
  } finally {
    sqs.destroy();
    lambda.destroy();
  }
}
