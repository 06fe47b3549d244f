import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, RedriveDeps } from '../core/redrive.js';

/** Redrive on SQS and Lambda. */
export function awsRedriveDeps(sqs: SQSClient, lambda: LambdaClient, queueUrl: string): RedriveDeps {
  return {
    receive: () => receiveDeadLetters(sqs, queueUrl, { visibilityTimeout: 60, waitSeconds: 1 }),
    async remove(letter) {
      if (!letter.receipt)
        throw new Error(`dead letter ${letter.id} has no receipt handle; it was not received from SQS`);
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: letter.receipt,
        }),
      );
    },
    async invoke(functionArn, payload) {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionArn,
          InvocationType: 'Event',
          Payload: JSON.stringify(payload),
        }),
      );
    },
  };
}

/**
 * Up to 10 dead letters, hidden from other receivers for `visibilityTimeout` seconds (0: a look that
 * leaves them where they are).
 */
export async function receiveDeadLetters(
  sqs: SQSClient,
  queueUrl: string,
  options: { visibilityTimeout: number; waitSeconds?: number },
): Promise<DeadLetter[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: options.waitSeconds ?? 0,
      VisibilityTimeout: options.visibilityTimeout,
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages.map((message) => ({
    id: message.MessageId ?? '',
    body: message.Body ?? '',
    receipt: message.ReceiptHandle ?? '',
    attributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue ?? '']),
    ),
  }));
}
