import { BedrockClient } from '@aws-sdk/client-bedrock';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { tracer } from './handler-kit.js';

/**
 * One client of each kind per Lambda container, created on first use. Endpoints come from the SDK's
 * standard environment (AWS_ENDPOINT_URL_<SERVICE>), which is how local mode points them at emulators
 * without a branch here.
 *
 * Each is wrapped by the Tracer (captureAWSv3Client), so every call is a subsegment of the invocation's
 * trace, named by the service, with its operation, status and retries; outside Lambda the wrapper hands
 * the client back unchanged.
 */
let s3: S3Client | undefined;
let documents: DynamoDBDocumentClient | undefined;
let secrets: SecretsManagerClient | undefined;
let sfn: SFNClient | undefined;
let bedrock: BedrockClient | undefined;
let bedrockRuntime: BedrockRuntimeClient | undefined;
let ssm: SSMClient | undefined;
let scheduler: SchedulerClient | undefined;
let eventBridge: EventBridgeClient | undefined;
const traced = <T>(client: T): T => tracer.captureAWSv3Client(client);

export const awsClients = {
  s3: () => (s3 ??= traced(new S3Client({}))),
  // The document client sends through the DynamoDB client's middleware stack: wrapping that one traces both.
  documents: () =>
    (documents ??= DynamoDBDocumentClient.from(traced(new DynamoDBClient({})), {
      marshallOptions: { removeUndefinedValues: true },
    })),
  secrets: () => (secrets ??= traced(new SecretsManagerClient({}))),
  sfn: () => (sfn ??= traced(new SFNClient({}))),
  bedrock: () => (bedrock ??= traced(new BedrockClient({}))),
  bedrockRuntime: () => (bedrockRuntime ??= traced(new BedrockRuntimeClient({}))),
  ssm: () => (ssm ??= traced(new SSMClient({}))),
  scheduler: () => (scheduler ??= traced(new SchedulerClient({}))),
  eventBridge: () => (eventBridge ??= traced(new EventBridgeClient({}))),
};
