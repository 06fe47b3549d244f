import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RedriveDeps } from '../redrive/redrive.js';

/** Redrive on SQS and Lambda. */
export function awsRedriveDeps(sqs: SQSClient, lambda: LambdaClient, queueUrl: string): RedriveDeps {
  return {
    async receive() {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
          MessageAttributeNames: ['All'],
        }),
      );
      return Messages.map((message) => ({
        id: message.MessageId ?? '',
        body: message.Body ?? '',
        receipt: message.ReceiptHandle ?? '',
        attributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
            name,
            value.StringValue ?? '',
          ]),
        ),
      }));
    },
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
