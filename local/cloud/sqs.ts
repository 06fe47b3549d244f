import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AwsApiError, serveAwsJson, type AwsJsonActions } from './aws-json-server.js';

/**
 * Local SQS: standard queues behind the AWS JSON 1.0 protocol that @aws-sdk/client-sqs speaks
 * (`X-Amz-Target: AmazonSQS.<Action>`), for the dead-letter queue that Lambda's on-failure destination
 * and EventBridge's target DLQ fill and that `tunedrop redrive` drains.
 *
 * What SQS enforces is enforced here, so a redrive that works locally works on AWS: a received message
 * is invisible until its visibility timeout ends and then comes back with a new receipt handle and a
 * higher ApproximateReceiveCount; only the latest handle deletes it; MD5 digests of the body and of the
 * message attributes are SQS's (the SDK checks the body's); sizes, characters, attribute names and
 * parameter ranges are checked with SQS's error names.
 *
 * Facts used, read 2026-11-29:
 * - Errors: status, `x-amzn-query-error: <query code>;Sender` header and `{"__type", "message"}` body,
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html.
 *   The SDK (awsQueryCompatible) names the exception from that header, so the query codes and statuses
 *   below are those of the error shapes in @aws-sdk/client-sqs 3.1175.0 (dist-es/schemas/schemas_0.js).
 *   InvalidParameterValue and MissingParameter are common errors outside the model: the SDK raises them
 *   by the header's code.
 * - Queue attributes, ranges and defaults (MaximumMessageSize 1 MiB, VisibilityTimeout 30 s, retention
 *   4 days): https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
 *   (and the same text in the SDK's models_0.d.ts).
 * - ReceiveMessage: MaxNumberOfMessages 1-10, WaitTimeSeconds 0-20, VisibilityTimeout 0-43200,
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html;
 *   the error text is the one SQS returns ("Value 15 for parameter MaxNumberOfMessages is invalid.
 *   Reason: Must be between 1 and 10, if provided.", quoted in github.com/h2ik/go-sqs-poller/pull/12).
 * - DeleteMessage with a handle that is not the latest: "the request will succeed, but the message might
 *   not be deleted", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html.
 *   Here it is never deleted, the strict reading; a handle SQS never issued is ReceiptHandleIsInvalid.
 * - Message content: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF, at most 10
 *   message attributes, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html;
 *   attribute names, types and the MD5 of message attributes (names sorted; each of name, type and value
 *   as a 4-byte big-endian length and its bytes; a transport byte, 1 String/Number, 2 Binary, before the
 *   value), https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html.
 * - PurgeQueue: one per queue every 60 seconds, else PurgeQueueInProgress,
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_PurgeQueue.html.
 *
 * Not here: FIFO queues, batches, queue policies and redrive policies (refused or ignored, see below).
 */
export const SQS_ACCOUNT = '000000000000';
export const SQS_REGION = 'us-east-1';

export interface MessageAttributeInput {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

export interface SendResult {
  MessageId: string;
  MD5OfMessageBody: string;
  MD5OfMessageAttributes?: string;
}

export interface LocalSqs {
  /** The endpoint for SDK clients (AWS_ENDPOINT_URL_SQS). */
  endpoint: string;
  /** Creates a queue (idempotent for the same attributes), as CreateQueue does. */
  createQueue(name: string, attributes?: Record<string, string>): { url: string; arn: string };
  /**
   * Sends a message from in-process code (Lambda's on-failure destination, EventBridge's DLQ), with the
   * same checks as SendMessage. The queue is named by URL, ARN or name.
   */
  send(queue: string, body: string, attributes?: Record<string, MessageAttributeInput>): SendResult;
  /** The ARN of the queue at this URL (for IAM checks), or undefined if there is none. */
  queueArn(queueUrl: string): string | undefined;
  /** The URL of the queue with this name or ARN, or undefined if there is none. */
  queueUrl(nameOrArn: string): string | undefined;
  /**
   * Makes queue URLs point at another endpoint (an IAM-checking gateway in front of this one): the SDK
   * sends requests to a QueueUrl's host when it differs from the client's endpoint. URLs already handed
   * out keep working: queues are found by the path `/<account>/<name>`.
   */
  advertise(endpoint: string): void;
  close(): Promise<void>;
}

/** The error SQS returns, with the query code that the SDK names the exception by. */
const ERRORS = {
  QueueDoesNotExist: { code: 'AWS.SimpleQueueService.NonExistentQueue', status: 400 },
  QueueNameExists: { code: 'QueueAlreadyExists', status: 400 },
  ReceiptHandleIsInvalid: { code: 'ReceiptHandleIsInvalid', status: 404 },
  MessageNotInflight: { code: 'AWS.SimpleQueueService.MessageNotInflight', status: 400 },
  PurgeQueueInProgress: { code: 'AWS.SimpleQueueService.PurgeQueueInProgress', status: 403 },
  UnsupportedOperation: { code: 'AWS.SimpleQueueService.UnsupportedOperation', status: 400 },
  InvalidAddress: { code: 'InvalidAddress', status: 404 },
  InvalidAttributeName: { code: 'InvalidAttributeName', status: 400 },
  InvalidAttributeValue: { code: 'InvalidAttributeValue', status: 400 },
  InvalidMessageContents: { code: 'InvalidMessageContents', status: 400 },
  InvalidParameterValue: { code: 'InvalidParameterValue', status: 400 },
  MissingParameter: { code: 'MissingParameter', status: 400 },
} as const;
export type SqsErrorName = keyof typeof ERRORS;

export function sqsError(name: SqsErrorName, message: string): AwsApiError {
  const { code, status } = ERRORS[name];
  return new AwsApiError(`com.amazonaws.sqs#${name}`, message, {
    status,
    headers: { 'x-amzn-query-error': `${code};Sender` },
  });
}

/** Queue attributes a queue may be created with: [min, max, default]. */
const NUMERIC_ATTRIBUTES = {
  DelaySeconds: [0, 900, 0],
  MaximumMessageSize: [1024, 1_048_576, 1_048_576],
  MessageRetentionPeriod: [60, 1_209_600, 345_600],
  ReceiveMessageWaitTimeSeconds: [0, 20, 0],
  VisibilityTimeout: [0, 43_200, 30],
} as const;
type NumericAttribute = keyof typeof NUMERIC_ATTRIBUTES;
const isNumericAttribute = (key: string): key is NumericAttribute => Object.hasOwn(NUMERIC_ATTRIBUTES, key);
/** Accepted and reported back, without effect here (encryption, policies). */
const OTHER_ATTRIBUTES = new Set([
  'Policy',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
]);
const MESSAGE_SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
] as const;

interface StoredAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Buffer;
}

interface StoredMessage {
  id: string;
  body: string;
  md5OfBody: string;
  attributes: Record<string, StoredAttribute>;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The handle of the latest receive: the only one that deletes the message. */
  receipt?: string;
}

interface Queue {
  name: string;
  arn: string;
  settings: Record<NumericAttribute, number>;
  other: Record<string, string>;
  createdAt: number;
  messages: Map<string, StoredMessage>;
  /** Long polls waiting for a message on this queue. */
  waiters: Set<() => void>;
  lastPurgeAt?: number;
}

/** MD5 of a message body as SQS reports it (MD5OfBody, MD5OfMessageBody): hex of the UTF-8 bytes. */
export function md5OfBody(body: string): string {
  return createHash('md5').update(body, 'utf8').digest('hex');
}

/** MD5OfMessageAttributes, by SQS's documented encoding (see the header). */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeInput>): string {
  const hash = createHash('md5');
  const field = (bytes: Uint8Array) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name]!;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(attribute.DataType, 'utf8'));
    if (isBinaryType(attribute.DataType)) {
      hash.update(Uint8Array.of(2));
      field(attribute.BinaryValue ?? new Uint8Array());
    } else {
      hash.update(Uint8Array.of(1));
      field(Buffer.from(attribute.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}

const isBinaryType = (dataType: string) => dataType === 'Binary' || dataType.startsWith('Binary.');

const ALLOWED_CHARACTERS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const WireAttributeSchema = z.looseObject({
  DataType: z.string().optional(),
  StringValue: z.string().optional(),
  BinaryValue: z.string().optional(),
});
const QueueUrlSchema = z.looseObject({ QueueUrl: z.string().optional() });
const CreateQueueSchema = z.looseObject({
  QueueName: z.string().optional(),
  Attributes: z.record(z.string(), z.string()).optional(),
});
const GetQueueUrlSchema = z.looseObject({ QueueName: z.string().optional() });
const GetQueueAttributesSchema = QueueUrlSchema.extend({ AttributeNames: z.array(z.string()).optional() });
const SendMessageSchema = QueueUrlSchema.extend({
  MessageBody: z.string().optional(),
  DelaySeconds: z.number().optional(),
  MessageAttributes: z.record(z.string(), WireAttributeSchema).optional(),
  MessageGroupId: z.string().optional(),
});
const ReceiveMessageSchema = QueueUrlSchema.extend({
  AttributeNames: z.array(z.string()).optional(),
  MessageSystemAttributeNames: z.array(z.string()).optional(),
  MessageAttributeNames: z.array(z.string()).optional(),
  MaxNumberOfMessages: z.number().optional(),
  VisibilityTimeout: z.number().optional(),
  WaitTimeSeconds: z.number().optional(),
});
const ReceiptSchema = QueueUrlSchema.extend({
  ReceiptHandle: z.string().optional(),
  VisibilityTimeout: z.number().optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw sqsError('InvalidParameterValue', `${issue?.path.join('.') || 'request'}: ${issue?.message}`);
  }
  return result.data;
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === '') {
    throw sqsError('MissingParameter', `The request must contain the parameter ${name}.`);
  }
  return value;
}

function inRange(value: number | undefined, name: string, min: number, max: number): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
    const reason = min === 1 && max === 10 ? 'Must be between 1 and 10' : `Must be >= ${min} and <= ${max}`;
    throw sqsError(
      'InvalidParameterValue',
      `Value ${value} for parameter ${name} is invalid. Reason: ${reason}, if provided.`,
    );
  }
  return value;
}

export async function startLocalSqs(): Promise<LocalSqs> {
  const queues = new Map<string, Queue>();
  const receipts = new Map<string, { queue: Queue; message: StoredMessage }>();
  let advertised = '';
  let closed = false;

  const urlOf = (queue: Queue) => `${advertised}/${SQS_ACCOUNT}/${queue.name}`;

  const queueFromUrl = (url: string): Queue => {
    let path: string[];
    try {
      path = new URL(url).pathname.split('/').filter(Boolean);
    } catch {
      throw sqsError('InvalidAddress', `The address ${url} is not valid for this endpoint.`);
    }
    const queue = path.length === 2 && path[0] === SQS_ACCOUNT ? queues.get(path[1]!) : undefined;
    if (!queue) throw sqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    prune(queue);
    return queue;
  };

  const findQueue = (ref: string): Queue | undefined => {
    if (ref.startsWith('arn:')) return [...queues.values()].find((q) => q.arn === ref);
    if (ref.includes('/')) {
      try {
        return queueFromUrl(ref);
      } catch {
        return undefined;
      }
    }
    return queues.get(ref);
  };

  /** Drops messages older than the queue's retention period, as SQS does. */
  const prune = (queue: Queue) => {
    const oldest = Date.now() - queue.settings.MessageRetentionPeriod * 1000;
    for (const [id, message] of queue.messages) if (message.sentAt <= oldest) queue.messages.delete(id);
  };

  const wake = (queue: Queue) => {
    for (const waiter of [...queue.waiters]) waiter();
  };

  const createQueue = (name: string, attributes: Record<string, string> = {}) => {
    if (name.endsWith('.fifo') || attributes.FifoQueue !== undefined) {
      throw sqsError('UnsupportedOperation', `local SQS has standard queues only, not FIFO (${name})`);
    }
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw sqsError(
        'InvalidParameterValue',
        'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    const settings: Record<NumericAttribute, number> = {
      DelaySeconds: NUMERIC_ATTRIBUTES.DelaySeconds[2],
      MaximumMessageSize: NUMERIC_ATTRIBUTES.MaximumMessageSize[2],
      MessageRetentionPeriod: NUMERIC_ATTRIBUTES.MessageRetentionPeriod[2],
      ReceiveMessageWaitTimeSeconds: NUMERIC_ATTRIBUTES.ReceiveMessageWaitTimeSeconds[2],
      VisibilityTimeout: NUMERIC_ATTRIBUTES.VisibilityTimeout[2],
    };
    const other: Record<string, string> = {};
    for (const [key, value] of Object.entries(attributes)) {
      if (isNumericAttribute(key)) {
        const [min, max] = NUMERIC_ATTRIBUTES[key];
        const number = Number(value);
        if (!/^\d+$/.test(value) || number < min || number > max) {
          throw sqsError('InvalidAttributeValue', `Invalid value for the parameter ${key}.`);
        }
        settings[key] = number;
      } else if (OTHER_ATTRIBUTES.has(key)) {
        other[key] = value;
      } else {
        throw sqsError('InvalidAttributeName', `Unknown Attribute ${key}.`);
      }
    }
    const existing = queues.get(name);
    if (existing) {
      const differing = Object.entries(attributes).find(([key, value]) =>
        isNumericAttribute(key) ? existing.settings[key] !== Number(value) : existing.other[key] !== value,
      );
      if (differing) {
        throw sqsError(
          'QueueNameExists',
          `A queue already exists with the same name and a different value for attribute ${differing[0]}`,
        );
      }
      return existing;
    }
    const queue: Queue = {
      name,
      arn: `arn:aws:sqs:${SQS_REGION}:${SQS_ACCOUNT}:${name}`,
      settings,
      other,
      createdAt: Date.now(),
      messages: new Map(),
      waiters: new Set(),
    };
    queues.set(name, queue);
    return queue;
  };

  const send = (
    queue: Queue,
    body: string | undefined,
    attributes: Record<string, StoredAttribute>,
    delaySeconds: number | undefined,
  ): SendResult => {
    const text = required(body, 'MessageBody');
    checkCharacters(text, 'the message body');
    const names = Object.keys(attributes);
    if (names.length > 10) {
      throw sqsError(
        'InvalidParameterValue',
        `Number of message attributes [${names.length}] exceeds the allowed maximum [10].`,
      );
    }
    let size = Buffer.byteLength(text, 'utf8');
    for (const [name, attribute] of Object.entries(attributes)) {
      checkAttribute(name, attribute);
      size +=
        Buffer.byteLength(name) +
        Buffer.byteLength(attribute.DataType) +
        (attribute.BinaryValue?.length ?? Buffer.byteLength(attribute.StringValue ?? ''));
    }
    const limit = queue.settings.MaximumMessageSize;
    if (size > limit) {
      throw sqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${limit} bytes.`,
      );
    }
    const delay = inRange(delaySeconds, 'DelaySeconds', 0, 900) ?? queue.settings.DelaySeconds;
    const now = Date.now();
    const message: StoredMessage = {
      id: randomUUID(),
      body: text,
      md5OfBody: md5OfBody(text),
      attributes,
      sentAt: now,
      visibleAt: now + delay * 1000,
      receiveCount: 0,
    };
    queue.messages.set(message.id, message);
    wake(queue);
    return {
      MessageId: message.id,
      MD5OfMessageBody: message.md5OfBody,
      ...(names.length ? { MD5OfMessageAttributes: md5OfMessageAttributes(attributes) } : {}),
    };
  };

  /** Takes up to `max` visible messages, making each invisible for `visibility` seconds. */
  const take = (queue: Queue, max: number, visibility: number) => {
    const now = Date.now();
    const taken: Array<{ message: StoredMessage; receipt: string }> = [];
    for (const message of queue.messages.values()) {
      if (taken.length >= max) break;
      if (message.visibleAt > now) continue;
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.visibleAt = now + visibility * 1000;
      message.receipt = randomBytes(48).toString('base64');
      receipts.set(message.receipt, { queue, message });
      taken.push({ message, receipt: message.receipt });
    }
    return taken;
  };

  /** Waits until something may have changed on the queue, or `until` (epoch ms), whichever is first. */
  const waitForChange = (queue: Queue, until: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        queue.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      queue.waiters.add(done);
    });

  const receive = async (input: z.infer<typeof ReceiveMessageSchema>) => {
    const queue = queueFromUrl(required(input.QueueUrl, 'QueueUrl'));
    const max = inRange(input.MaxNumberOfMessages, 'MaxNumberOfMessages', 1, 10) ?? 1;
    const visibility =
      inRange(input.VisibilityTimeout, 'VisibilityTimeout', 0, 43_200) ?? queue.settings.VisibilityTimeout;
    const wait =
      inRange(input.WaitTimeSeconds, 'WaitTimeSeconds', 0, 20) ??
      queue.settings.ReceiveMessageWaitTimeSeconds;
    // Long polling: answer as soon as one message is visible (sent, or its visibility timeout over).
    const deadline = Date.now() + wait * 1000;
    let taken = take(queue, max, visibility);
    while (taken.length === 0 && !closed && Date.now() < deadline) {
      const nextVisible = Math.min(
        ...[...queue.messages.values()].map((m) => m.visibleAt).filter((at) => at > Date.now()),
      );
      await waitForChange(queue, Math.min(deadline, nextVisible));
      prune(queue);
      taken = take(queue, max, visibility);
    }
    const systemNames = new Set([
      ...(input.AttributeNames ?? []),
      ...(input.MessageSystemAttributeNames ?? []),
    ]);
    const wanted = input.MessageAttributeNames ?? [];
    const messages = taken.map(({ message, receipt }) => {
      const system: Record<string, string> = {
        SenderId: SQS_ACCOUNT,
        SentTimestamp: String(message.sentAt),
        ApproximateReceiveCount: String(message.receiveCount),
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
      };
      const attributes = Object.fromEntries(
        MESSAGE_SYSTEM_ATTRIBUTES.filter((name) => systemNames.has('All') || systemNames.has(name)).map(
          (name) => [name, system[name]!],
        ),
      );
      const selected = Object.fromEntries(
        Object.entries(message.attributes).filter(([name]) => attributeWanted(name, wanted)),
      );
      return {
        MessageId: message.id,
        ReceiptHandle: receipt,
        MD5OfBody: message.md5OfBody,
        Body: message.body,
        ...(Object.keys(attributes).length ? { Attributes: attributes } : {}),
        // The digest covers the attributes returned, which is what SDKs check it against.
        ...(Object.keys(selected).length
          ? {
              MessageAttributes: Object.fromEntries(
                Object.entries(selected).map(([name, a]) => [name, toWire(a)]),
              ),
              MD5OfMessageAttributes: md5OfMessageAttributes(selected),
            }
          : {}),
      };
    });
    return messages.length ? { Messages: messages } : {};
  };

  /** The message a receipt handle names, checked against the queue it is used on. */
  const byReceipt = (queue: Queue, handle: string) => {
    const found = receipts.get(handle);
    if (!found || found.queue !== queue) {
      throw sqsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${handle}" is not a valid receipt handle.`,
      );
    }
    return found.message;
  };

  const actions: AwsJsonActions = {
    CreateQueue(body) {
      const input = parse(CreateQueueSchema, body);
      const queue = createQueue(required(input.QueueName, 'QueueName'), input.Attributes);
      return { QueueUrl: urlOf(queue) };
    },
    GetQueueUrl(body) {
      const name = required(parse(GetQueueUrlSchema, body).QueueName, 'QueueName');
      const queue = queues.get(name);
      if (!queue) throw sqsError('QueueDoesNotExist', 'The specified queue does not exist.');
      return { QueueUrl: urlOf(queue) };
    },
    GetQueueAttributes(body) {
      const input = parse(GetQueueAttributesSchema, body);
      const queue = queueFromUrl(required(input.QueueUrl, 'QueueUrl'));
      const now = Date.now();
      const messages = [...queue.messages.values()];
      const all: Record<string, string> = {
        QueueArn: queue.arn,
        ApproximateNumberOfMessages: String(messages.filter((m) => m.visibleAt <= now).length),
        ApproximateNumberOfMessagesNotVisible: String(
          messages.filter((m) => m.visibleAt > now && m.receiveCount > 0).length,
        ),
        ApproximateNumberOfMessagesDelayed: String(
          messages.filter((m) => m.visibleAt > now && m.receiveCount === 0).length,
        ),
        CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
        LastModifiedTimestamp: String(Math.floor(queue.createdAt / 1000)),
        ...Object.fromEntries(Object.entries(queue.settings).map(([key, value]) => [key, String(value)])),
        ...queue.other,
      };
      const names = input.AttributeNames ?? [];
      for (const name of names) {
        if (name !== 'All' && !(name in all) && !OTHER_ATTRIBUTES.has(name)) {
          throw sqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
        }
      }
      const attributes = names.includes('All')
        ? all
        : Object.fromEntries(names.filter((name) => name in all).map((name) => [name, all[name]!]));
      return Object.keys(attributes).length ? { Attributes: attributes } : {};
    },
    SendMessage(body) {
      const input = parse(SendMessageSchema, body);
      const queue = queueFromUrl(required(input.QueueUrl, 'QueueUrl'));
      if (input.MessageGroupId !== undefined) {
        throw sqsError(
          'UnsupportedOperation',
          'local SQS has standard queues only: MessageGroupId is not supported',
        );
      }
      const attributes = Object.fromEntries(
        Object.entries(input.MessageAttributes ?? {}).map(([name, wire]) => [name, fromWire(name, wire)]),
      );
      return send(queue, input.MessageBody, attributes, input.DelaySeconds);
    },
    ReceiveMessage: (body) => receive(parse(ReceiveMessageSchema, body)),
    DeleteMessage(body) {
      const input = parse(ReceiptSchema, body);
      const queue = queueFromUrl(required(input.QueueUrl, 'QueueUrl'));
      const handle = required(input.ReceiptHandle, 'ReceiptHandle');
      const message = byReceipt(queue, handle);
      // Only the latest receive's handle deletes; an older one succeeds and leaves the message.
      if (message.receipt === handle) queue.messages.delete(message.id);
      return {};
    },
    ChangeMessageVisibility(body) {
      const input = parse(ReceiptSchema, body);
      const queue = queueFromUrl(required(input.QueueUrl, 'QueueUrl'));
      const handle = required(input.ReceiptHandle, 'ReceiptHandle');
      const timeout = required(
        inRange(input.VisibilityTimeout, 'VisibilityTimeout', 0, 43_200),
        'VisibilityTimeout',
      );
      const message = byReceipt(queue, handle);
      if (message.receipt !== handle || !queue.messages.has(message.id)) {
        throw sqsError(
          'InvalidParameterValue',
          `Value ${handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
        );
      }
      if (message.visibleAt <= Date.now()) throw sqsError('MessageNotInflight', 'Message not inflight.');
      message.visibleAt = Date.now() + timeout * 1000;
      if (timeout === 0) wake(queue);
      return {};
    },
    PurgeQueue(body) {
      const queue = queueFromUrl(required(parse(QueueUrlSchema, body).QueueUrl, 'QueueUrl'));
      const now = Date.now();
      if (queue.lastPurgeAt !== undefined && now - queue.lastPurgeAt < 60_000) {
        throw sqsError(
          'PurgeQueueInProgress',
          `Only one PurgeQueue operation on ${queue.name} is allowed every 60 seconds.`,
        );
      }
      queue.lastPurgeAt = now;
      queue.messages.clear();
      return {};
    },
  };

  const server = await serveAwsJson({
    service: 'SQS',
    targetPrefix: 'AmazonSQS',
    jsonVersion: '1.0',
    actions,
  });
  advertised = server.endpoint;

  return {
    endpoint: server.endpoint,
    createQueue(name, attributes) {
      const queue = createQueue(name, attributes);
      return { url: urlOf(queue), arn: queue.arn };
    },
    send(ref, body, attributes = {}) {
      const queue = findQueue(ref);
      if (!queue) throw sqsError('QueueDoesNotExist', `The specified queue does not exist: ${ref}`);
      prune(queue);
      const stored = Object.fromEntries(
        Object.entries(attributes).map(([name, a]) => [
          name,
          {
            DataType: a.DataType,
            ...(a.StringValue !== undefined ? { StringValue: a.StringValue } : {}),
            ...(a.BinaryValue !== undefined ? { BinaryValue: Buffer.from(a.BinaryValue) } : {}),
          },
        ]),
      );
      return send(queue, body, stored, undefined);
    },
    queueArn: (url) => findQueue(url)?.arn,
    queueUrl(ref) {
      const queue = findQueue(ref);
      return queue && urlOf(queue);
    },
    advertise(endpoint) {
      advertised = endpoint.replace(/\/+$/, '');
    },
    async close() {
      closed = true;
      for (const queue of queues.values()) wake(queue);
      await server.close();
    },
  };
}

function checkCharacters(text: string, what: string) {
  if (!ALLOWED_CHARACTERS.test(text)) {
    const bad = [...text].find((c) => !ALLOWED_CHARACTERS.test(c))!;
    throw sqsError(
      'InvalidMessageContents',
      `Invalid binary character '#x${bad.codePointAt(0)!.toString(16).toUpperCase()}' was found in ${what}, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`,
    );
  }
}

function checkAttribute(name: string, attribute: StoredAttribute) {
  if (
    !/^[A-Za-z0-9_.-]{1,256}$/.test(name) ||
    /^(aws\.|amazon\.)/i.test(name) ||
    name.startsWith('.') ||
    name.endsWith('.') ||
    name.includes('..')
  ) {
    throw sqsError(
      'InvalidParameterValue',
      `Message (user) attribute name '${name}' is invalid: use A-Z, a-z, 0-9, '_', '-' and '.', up to 256 characters, not starting with AWS. or Amazon., without leading, trailing or consecutive periods.`,
    );
  }
  const type = attribute.DataType;
  if (!/^(String|Number|Binary)(\..+)?$/.test(type) || type.length > 256) {
    throw sqsError(
      'InvalidParameterValue',
      `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
    );
  }
  if (isBinaryType(type)) {
    if (!attribute.BinaryValue?.length) {
      throw sqsError(
        'InvalidParameterValue',
        `Message (user) attribute '${name}' must contain a non-empty value of message attribute type '${type}'.`,
      );
    }
    return;
  }
  if (!attribute.StringValue) {
    throw sqsError(
      'InvalidParameterValue',
      `Message (user) attribute '${name}' must contain a non-empty value of message attribute type '${type}'.`,
    );
  }
  checkCharacters(attribute.StringValue, `message (user) attribute '${name}'`);
  if (type.startsWith('Number') && !NUMBER.test(attribute.StringValue)) {
    throw sqsError(
      'InvalidParameterValue',
      `Can't cast the value of message (user) attribute '${name}' to a number.`,
    );
  }
}

/** Binary values travel base64-encoded in the JSON protocol. */
function fromWire(name: string, wire: z.infer<typeof WireAttributeSchema>): StoredAttribute {
  const type = wire.DataType;
  if (!type) {
    throw sqsError(
      'InvalidParameterValue',
      `The message attribute '${name}' must contain non-empty message attribute type.`,
    );
  }
  return {
    DataType: type,
    ...(wire.StringValue !== undefined ? { StringValue: wire.StringValue } : {}),
    ...(wire.BinaryValue !== undefined ? { BinaryValue: Buffer.from(wire.BinaryValue, 'base64') } : {}),
  };
}

function toWire(attribute: StoredAttribute) {
  return isBinaryType(attribute.DataType)
    ? {
        DataType: attribute.DataType,
        BinaryValue: (attribute.BinaryValue ?? Buffer.alloc(0)).toString('base64'),
      }
    : { DataType: attribute.DataType, StringValue: attribute.StringValue ?? '' };
}

/** MessageAttributeNames: "All" or ".*" for every one, "prefix.*" for a prefix, else exact names. */
function attributeWanted(name: string, wanted: string[]): boolean {
  return wanted.some(
    (w) => w === 'All' || w === '.*' || w === name || (w.endsWith('.*') && name.startsWith(w.slice(0, -1))),
  );
}
