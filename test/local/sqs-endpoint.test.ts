import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startLocalSqs, type LocalSqs } from '../../local/cloud/sqs.js';

/** The local SQS endpoint, as the real SDK client sees it: shapes, digests, visibility and error names. */
let sqs: LocalSqs;
let client: SQSClient;
let queueCount = 0;

beforeAll(async () => {
  sqs = await startLocalSqs();
  client = new SQSClient({
    region: 'us-east-1',
    endpoint: sqs.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});
afterAll(async () => {
  client.destroy();
  await sqs.close();
});

const newQueue = async () => {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: `q${++queueCount}` }));
  return QueueUrl!;
};
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      message: error.message,
      status: error.$metadata?.httpStatusCode,
    }),
  );
const counts = async (QueueUrl: string) =>
  (
    await client.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    )
  ).Attributes;

describe('queues', () => {
  it('a created queue has the account-000000000000 URL, is found by name, and reports its ARN', async () => {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'dead-letters' }));
    expect(QueueUrl).toBe(`${sqs.endpoint}/000000000000/dead-letters`);
    expect((await client.send(new GetQueueUrlCommand({ QueueName: 'dead-letters' }))).QueueUrl).toBe(
      QueueUrl,
    );
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
    );
    expect(Attributes).toMatchObject({
      QueueArn: 'arn:aws:sqs:us-east-1:000000000000:dead-letters',
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      VisibilityTimeout: '30',
      MaximumMessageSize: '1048576',
    });
    expect(sqs.queueArn(QueueUrl!)).toBe('arn:aws:sqs:us-east-1:000000000000:dead-letters');
    expect(sqs.queueUrl('arn:aws:sqs:us-east-1:000000000000:dead-letters')).toBe(QueueUrl);
  });

  it('creating the same queue again is idempotent, with other attributes it is QueueNameExists', async () => {
    await client.send(
      new CreateQueueCommand({ QueueName: 'twice', Attributes: { VisibilityTimeout: '60' } }),
    );
    await client.send(
      new CreateQueueCommand({ QueueName: 'twice', Attributes: { VisibilityTimeout: '60' } }),
    );
    expect(
      await errorOf(
        client.send(new CreateQueueCommand({ QueueName: 'twice', Attributes: { VisibilityTimeout: '10' } })),
      ),
    ).toMatchObject({ name: 'QueueNameExists', status: 400 });
  });

  it('an unknown queue is QueueDoesNotExist, by name and by URL', async () => {
    expect(await errorOf(client.send(new GetQueueUrlCommand({ QueueName: 'nope' })))).toEqual({
      name: 'QueueDoesNotExist',
      message: 'The specified queue does not exist.',
      status: 400,
    });
    expect(
      await errorOf(
        client.send(
          new SendMessageCommand({ QueueUrl: `${sqs.endpoint}/000000000000/nope`, MessageBody: 'x' }),
        ),
      ),
    ).toMatchObject({ name: 'QueueDoesNotExist' });
  });

  it('a bad queue name or attribute is refused with SQS error names', async () => {
    expect(await errorOf(client.send(new CreateQueueCommand({ QueueName: 'has space' })))).toMatchObject({
      name: 'InvalidParameterValue',
    });
    expect(
      await errorOf(
        client.send(new CreateQueueCommand({ QueueName: 'ok', Attributes: { VisibilityTimeout: '43201' } })),
      ),
    ).toMatchObject({ name: 'InvalidAttributeValue' });
    expect(
      await errorOf(
        client.send(new CreateQueueCommand({ QueueName: 'ok', Attributes: { Colour: 'red' } as never })),
      ),
    ).toMatchObject({ name: 'InvalidAttributeName' });
  });
});

describe('messages', () => {
  it('a message sent with attributes is received with its body, attributes and the SDK-checked body MD5', async () => {
    const QueueUrl = await newQueue();
    const body = JSON.stringify({ note: 'naïve café ☕ 🚀' });
    const sent = await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: body,
        MessageAttributes: {
          TARGET_ARN: { DataType: 'String', StringValue: 'arn:aws:lambda:us-east-1:000000000000:function:F' },
          Attempt: { DataType: 'Number', StringValue: '3' },
          Raw: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
        },
      }),
    );
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      }),
    );
    expect(Messages).toHaveLength(1);
    const [message] = Messages;
    expect(message).toMatchObject({
      MessageId: sent.MessageId,
      Body: body,
      MD5OfBody: sent.MD5OfMessageBody,
      MD5OfMessageAttributes: sent.MD5OfMessageAttributes,
      Attributes: { ApproximateReceiveCount: '1', SentTimestamp: expect.stringMatching(/^\d{13}$/) },
      MessageAttributes: {
        TARGET_ARN: { DataType: 'String', StringValue: 'arn:aws:lambda:us-east-1:000000000000:function:F' },
        Attempt: { DataType: 'Number', StringValue: '3' },
      },
    });
    expect(Buffer.from(message!.MessageAttributes!.Raw!.BinaryValue!)).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it("MD5OfMessageAttributes follows SQS's encoding (published digests of aws-md5-of-message-attributes)", async () => {
    // Digests from https://www.npmjs.com/package/aws-md5-of-message-attributes (read 2026-11-29), an
    // implementation checked against SQS; the code here was written from the SQS developer guide.
    const QueueUrl = await newQueue();
    const digest = async (
      MessageAttributes: Record<string, { DataType: string; StringValue?: string; BinaryValue?: Uint8Array }>,
    ) =>
      (await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageAttributes })))
        .MD5OfMessageAttributes;
    const simple = { attribName1: { DataType: 'String', StringValue: 'attribValue 1' } };
    const custom = {
      customNumberTypeAttrib: {
        DataType: 'Number.float',
        StringValue: '4563442423554324324264524243.32543234',
      },
    };
    const binary = {
      binaryAttribute: { DataType: 'Binary', BinaryValue: Buffer.from('Hello binary world!') },
    };
    expect(await digest(simple)).toBe('19e27d4e946b072f3f58da80d94fd778');
    expect(await digest(custom)).toBe('9fe1b90bbd9965bdf77bac517c7d2495');
    expect(await digest(binary)).toBe('31a92b15d92f8db860eda32aceb656c3');
    expect(await digest({ ...simple, ...custom, ...binary })).toBe('c932db14a896c663f83c260297d594ff');
  });

  it('only the message attributes asked for are returned, with the digest of those', async () => {
    const QueueUrl = await newQueue();
    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'x',
        MessageAttributes: {
          'lambda.one': { DataType: 'String', StringValue: '1' },
          'lambda.two': { DataType: 'String', StringValue: '2' },
          other: { DataType: 'String', StringValue: '3' },
        },
      }),
    );
    const [message] =
      (await client.send(new ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ['lambda.*'] })))
        .Messages ?? [];
    expect(Object.keys(message!.MessageAttributes!).sort()).toEqual(['lambda.one', 'lambda.two']);
    const expected = await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'y',
        MessageAttributes: {
          'lambda.one': { DataType: 'String', StringValue: '1' },
          'lambda.two': { DataType: 'String', StringValue: '2' },
        },
      }),
    );
    expect(message!.MD5OfMessageAttributes).toBe(expected.MD5OfMessageAttributes);
  });

  it('a received message is invisible until its visibility timeout, then comes back with ApproximateReceiveCount 2', async () => {
    const QueueUrl = await newQueue();
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'again' }));
    const receive = () =>
      client.send(
        new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 1, MessageSystemAttributeNames: ['All'] }),
      );
    const first = (await receive()).Messages ?? [];
    expect(first).toHaveLength(1);
    expect((await receive()).Messages).toBeUndefined();
    expect(await counts(QueueUrl)).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await counts(QueueUrl)).toMatchObject({ ApproximateNumberOfMessages: '1' });
    const second = (await receive()).Messages ?? [];
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({
      MessageId: first[0]!.MessageId,
      Attributes: {
        ApproximateReceiveCount: '2',
        ApproximateFirstReceiveTimestamp: first[0]!.Attributes!.ApproximateFirstReceiveTimestamp,
      },
    });
    expect(second[0]!.ReceiptHandle).not.toBe(first[0]!.ReceiptHandle);
  });

  it('only the latest receipt handle deletes: an older one succeeds and leaves the message, a made-up one is ReceiptHandleIsInvalid', async () => {
    const QueueUrl = await newQueue();
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'handles' }));
    const receive = async () =>
      ((await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0 }))).Messages ?? [])[0]!;
    const old = await receive();
    const latest = await receive();
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: old.ReceiptHandle }));
    expect(await counts(QueueUrl)).toMatchObject({ ApproximateNumberOfMessages: '1' });
    expect(
      await errorOf(client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'not-a-handle' }))),
    ).toMatchObject({ name: 'ReceiptHandleIsInvalid', status: 404 });
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: latest.ReceiptHandle }));
    expect(await counts(QueueUrl)).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    // Deleting an already deleted message again succeeds, as on SQS.
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: latest.ReceiptHandle }));
  });

  it('a receipt handle of one queue is invalid on another', async () => {
    const [a, b] = [await newQueue(), await newQueue()];
    await client.send(new SendMessageCommand({ QueueUrl: a, MessageBody: 'x' }));
    const [message] = (await client.send(new ReceiveMessageCommand({ QueueUrl: a }))).Messages ?? [];
    expect(
      await errorOf(
        client.send(new DeleteMessageCommand({ QueueUrl: b, ReceiptHandle: message!.ReceiptHandle })),
      ),
    ).toMatchObject({ name: 'ReceiptHandleIsInvalid' });
  });

  it('long polling answers as soon as a message arrives, and with nothing when the wait ends', async () => {
    const QueueUrl = await newQueue();
    const started = Date.now();
    const polling = client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
    setTimeout(() => void client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'arrived' })), 300);
    const { Messages } = await polling;
    const elapsed = Date.now() - started;
    expect(Messages?.[0]?.Body).toBe('arrived');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);

    const emptyStart = Date.now();
    expect(
      (await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }))).Messages,
    ).toBeUndefined();
    expect(Date.now() - emptyStart).toBeGreaterThanOrEqual(950);
  });

  it('long polling also answers when an in-flight message becomes visible again', async () => {
    const QueueUrl = await newQueue();
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'back' }));
    await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 1 }));
    const started = Date.now();
    const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    expect(Messages?.[0]?.Body).toBe('back');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('a receive returns at most MaxNumberOfMessages, and refuses values outside 1-10 and waits over 20 s', async () => {
    const QueueUrl = await newQueue();
    for (let i = 0; i < 12; i++)
      await client.send(new SendMessageCommand({ QueueUrl, MessageBody: `m${i}` }));
    expect(
      (await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))).Messages,
    ).toHaveLength(10);
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages).toHaveLength(1);
    expect(
      await errorOf(client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 }))),
    ).toEqual({
      name: 'InvalidParameterValue',
      message:
        'Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.',
      status: 400,
    });
    expect(
      await errorOf(client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 21 }))),
    ).toMatchObject({
      name: 'InvalidParameterValue',
    });
    expect(
      await errorOf(client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 43_201 }))),
    ).toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('ChangeMessageVisibility to 0 makes a message receivable at once; on a message not in flight it is MessageNotInflight', async () => {
    const QueueUrl = await newQueue();
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' }));
    const [message] =
      (await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 600 }))).Messages ?? [];
    await client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: message!.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    expect(
      await errorOf(
        client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl,
            ReceiptHandle: message!.ReceiptHandle,
            VisibilityTimeout: 10,
          }),
        ),
      ),
    ).toMatchObject({ name: 'MessageNotInflight', status: 400 });
    const [again] = (await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages ?? [];
    expect(again?.MessageId).toBe(message!.MessageId);
  });

  it('bodies SQS would refuse are refused: a control character, more than 1 MiB, more than 10 attributes, no body', async () => {
    const QueueUrl = await newQueue();
    expect(
      await errorOf(client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'a\u0000b' }))),
    ).toMatchObject({
      name: 'InvalidMessageContents',
    });
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x'.repeat(1_048_576) }));
    expect(
      await errorOf(client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x'.repeat(1_048_577) }))),
    ).toMatchObject({
      name: 'InvalidParameterValue',
      message: 'One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.',
    });
    const eleven = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'v' }]),
    );
    expect(
      await errorOf(
        client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageAttributes: eleven })),
      ),
    ).toMatchObject({ name: 'InvalidParameterValue' });
    expect(
      await errorOf(
        client.send(
          new SendMessageCommand({
            QueueUrl,
            MessageBody: 'x',
            MessageAttributes: { 'AWS.reserved': { DataType: 'String', StringValue: 'v' } },
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidParameterValue' });
    expect(await errorOf(client.send(new SendMessageCommand({ QueueUrl, MessageBody: '' })))).toMatchObject({
      name: 'MissingParameter',
    });
  });

  it('PurgeQueue empties the queue, and a second purge within 60 s is PurgeQueueInProgress', async () => {
    const QueueUrl = await newQueue();
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' }));
    await client.send(new PurgeQueueCommand({ QueueUrl }));
    expect(await counts(QueueUrl)).toMatchObject({ ApproximateNumberOfMessages: '0' });
    expect(await errorOf(client.send(new PurgeQueueCommand({ QueueUrl })))).toMatchObject({
      name: 'PurgeQueueInProgress',
      status: 403,
    });
  });

  it('after advertise(), queue URLs name the gateway in front, and URLs handed out before still work', async () => {
    const { url: before } = sqs.createQueue('advertised');
    sqs.advertise('http://127.0.0.1:1/');
    try {
      expect(sqs.queueUrl('advertised')).toBe('http://127.0.0.1:1/000000000000/advertised');
      expect(sqs.queueArn('http://127.0.0.1:1/000000000000/advertised')).toBe(
        'arn:aws:sqs:us-east-1:000000000000:advertised',
      );
      expect((await client.send(new GetQueueUrlCommand({ QueueName: 'advertised' }))).QueueUrl).toBe(
        'http://127.0.0.1:1/000000000000/advertised',
      );
      await client.send(new SendMessageCommand({ QueueUrl: before, MessageBody: 'still here' }));
    } finally {
      sqs.advertise(sqs.endpoint);
    }
    expect(await counts(before)).toMatchObject({ ApproximateNumberOfMessages: '1' });
  });

  it('in-process code sends by ARN with string attributes, and the SDK receives them', async () => {
    const { url, arn } = sqs.createQueue('in-process');
    const sent = sqs.send(arn, '{"a":1}', {
      TARGET_ARN: { DataType: 'String', StringValue: 'arn:aws:lambda:us-east-1:000000000000:function:R' },
    });
    const [message] =
      (await client.send(new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'] })))
        .Messages ?? [];
    expect(message).toMatchObject({
      MessageId: sent.MessageId,
      Body: '{"a":1}',
      MD5OfMessageAttributes: sent.MD5OfMessageAttributes,
      MessageAttributes: { TARGET_ARN: { StringValue: 'arn:aws:lambda:us-east-1:000000000000:function:R' } },
    });
    expect(() => sqs.send('arn:aws:sqs:us-east-1:000000000000:missing', 'x')).toThrow(
      expect.objectContaining({ type: 'com.amazonaws.sqs#QueueDoesNotExist' }),
    );
    expect(() => sqs.send(arn, 'bad \u0001')).toThrow(
      expect.objectContaining({ type: 'com.amazonaws.sqs#InvalidMessageContents' }),
    );
  });
});
