import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { LocalSubscription, LocalTopic } from '../template.js';

/**
 * Local SNS, for the topics the template declares: Publish (what CloudWatch alarms and EventBridge do to
 * the notifications topic, and what a person may do to try a subscription), GetTopicAttributes, ListTopics
 * and ListSubscriptionsByTopic, in the awsQuery protocol SNS speaks (a form-encoded POST, an XML answer;
 * errors as `<ErrorResponse><Error>` with Type, Code and Message). IAM is the gateway's (and, for the
 * services that publish in-process, the caller's) business: this only keeps topics and what was published.
 *
 * Nothing is delivered to a subscription's endpoint: an email subscription on AWS waits for its
 * confirmation, and local mode sends no mail. Every published message is kept (`notifications()`) and
 * handed to `onPublish`, for tests and the terminal.
 *
 * Facts used, read 2026-11-30: Publish takes TopicArn (or TargetArn), Message (required, at most 256 KB)
 * and an optional Subject (at most 100 printable ASCII characters) and answers a MessageId; a topic that
 * does not exist is a NotFound error "Topic does not exist"; a missing Message is InvalidParameter
 * (Amazon SNS API reference, Publish, https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
 */
export interface LocalNotification {
  topicArn: string;
  subject?: string;
  message: string;
  messageId: string;
  /** ISO 8601, when it was published. */
  at: string;
}

export interface LocalSns {
  /** The endpoint for SDK clients (AWS_ENDPOINT_URL_SNS). */
  endpoint: string;
  /** Publishes from in-process code (EventBridge, CloudWatch alarms), with Publish's own checks. */
  publish(topicArn: string, message: string, subject?: string): LocalNotification;
  /** Whether the topic exists. */
  has(topicArn: string): boolean;
  /** Every message published so far, in order. */
  notifications(): LocalNotification[];
  close(): Promise<void>;
}

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const MAX_MESSAGE_BYTES = 262_144;

export class SnsError extends Error {
  constructor(
    readonly code: 'NotFound' | 'InvalidParameter' | 'InvalidAction',
    message: string,
  ) {
    super(message);
  }
}

/** Publish's checks: a topic that exists, a message, a subject SNS would take. */
export function checkPublish(
  topics: ReadonlyMap<string, LocalTopic>,
  topicArn: string | undefined,
  message: string | undefined,
  subject: string | undefined,
): void {
  if (!topicArn || !topics.has(topicArn)) throw new SnsError('NotFound', 'Topic does not exist');
  if (message === undefined || message === '')
    throw new SnsError('InvalidParameter', 'Invalid parameter: Empty message');
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES)
    throw new SnsError('InvalidParameter', 'Invalid parameter: Message too long');
  if (subject !== undefined && (subject.length > 100 || !/^[\x20-\x7e]+$/.test(subject)))
    throw new SnsError('InvalidParameter', 'Invalid parameter: Subject');
}

export async function startLocalSns(
  topicList: readonly LocalTopic[],
  subscriptions: readonly LocalSubscription[],
  onPublish: (notification: LocalNotification) => void = () => undefined,
): Promise<LocalSns> {
  const topics = new Map(topicList.map((t) => [t.arn, t]));
  const published: LocalNotification[] = [];

  const publish = (topicArn: string, message: string, subject?: string): LocalNotification => {
    checkPublish(topics, topicArn, message, subject);
    const notification: LocalNotification = {
      topicArn,
      ...(subject !== undefined ? { subject } : {}),
      message,
      messageId: randomUUID(),
      at: new Date().toISOString(),
    };
    published.push(notification);
    onPublish(notification);
    return notification;
  };

  const answer = (action: string, params: URLSearchParams): string => {
    switch (action) {
      case 'Publish': {
        const topicArn = params.get('TopicArn') ?? params.get('TargetArn') ?? undefined;
        const { messageId } = publish(
          topicArn ?? '',
          params.get('Message') ?? '',
          params.get('Subject') ?? undefined,
        );
        return `<PublishResult><MessageId>${messageId}</MessageId></PublishResult>`;
      }
      case 'ListTopics':
        return `<ListTopicsResult><Topics>${[...topics.keys()]
          .map((arn) => `<member><TopicArn>${xml(arn)}</TopicArn></member>`)
          .join('')}</Topics></ListTopicsResult>`;
      case 'GetTopicAttributes': {
        const arn = params.get('TopicArn') ?? '';
        const topic = topics.get(arn);
        if (!topic) throw new SnsError('NotFound', 'Topic does not exist');
        const attributes = {
          TopicArn: topic.arn,
          DisplayName: topic.name,
          SubscriptionsConfirmed: '0',
          SubscriptionsPending: String(subscriptions.filter((s) => s.topicArn === arn).length),
        };
        return `<GetTopicAttributesResult><Attributes>${Object.entries(attributes)
          .map(([k, v]) => `<entry><key>${k}</key><value>${xml(v)}</value></entry>`)
          .join('')}</Attributes></GetTopicAttributesResult>`;
      }
      case 'ListSubscriptionsByTopic': {
        const arn = params.get('TopicArn') ?? '';
        if (!topics.has(arn)) throw new SnsError('NotFound', 'Topic does not exist');
        return `<ListSubscriptionsByTopicResult><Subscriptions>${subscriptions
          .filter((s) => s.topicArn === arn)
          .map(
            (s) =>
              `<member><TopicArn>${xml(s.topicArn)}</TopicArn><Protocol>${xml(s.protocol)}</Protocol>` +
              `<Endpoint>${xml(s.endpoint)}</Endpoint><SubscriptionArn>PendingConfirmation</SubscriptionArn></member>`,
          )
          .join('')}</Subscriptions></ListSubscriptionsByTopicResult>`;
      }
      default:
        throw new SnsError('InvalidAction', `local SNS does not serve ${action || 'this request'}`);
    }
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const requestId = randomUUID();
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const action = params.get('Action') ?? '';
      const reply = (status: number, body: string) => {
        response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
        response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
      };
      try {
        const result = answer(action, params);
        reply(
          200,
          `<${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId>` +
            `</ResponseMetadata></${action}Response>`,
        );
      } catch (error) {
        const e = error instanceof SnsError ? error : new SnsError('InvalidParameter', String(error));
        reply(
          e.code === 'NotFound' ? 404 : 400,
          `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${e.code}</Code>` +
            `<Message>${xml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    publish,
    has: (arn) => topics.has(arn),
    notifications: () => [...published],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
