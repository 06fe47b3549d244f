import { BedrockClient } from '@aws-sdk/client-bedrock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * One client of each kind per Lambda container, created on first use. Endpoints come from the SDK's
 * standard environment (AWS_ENDPOINT_URL_<SERVICE>), which is how local mode points them at emulators
 * without a branch here.
 */
let s3: S3Client | undefined;
let documents: DynamoDBDocumentClient | undefined;
let secrets: SecretsManagerClient | undefined;
let sfn: SFNClient | undefined;
let bedrock: BedrockClient | undefined;
let ssm: SSMClient | undefined;
let scheduler: SchedulerClient | undefined;

export const awsClients = {
  s3: () => (s3 ??= new S3Client({})),
  documents: () =>
    (documents ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    })),
  secrets: () => (secrets ??= new SecretsManagerClient({})),
  sfn: () => (sfn ??= new SFNClient({})),
  bedrock: () => (bedrock ??= new BedrockClient({})),
  ssm: () => (ssm ??= new SSMClient({})),
  scheduler: () => (scheduler ??= new SchedulerClient({})),
};
