import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UsageError } from './args.js';
import type { AwsTarget } from './aws-target.js';
import { isAccessDenied } from './refusals.js';
import { readRegistry, findModel } from './registry-table.js';
import { getRun, queryFamilyRuns, scanRuns } from './runs-table.js';
import { FunctionFailedError } from './errors.js';
import type { Services } from './services.js';

/** The Services on AWS or the local cloud; each SDK client made on first use. */
export function awsServices(target: AwsTarget, stack: string): Services {
  let cloudFormation: CloudFormationClient | undefined;
  let documents: DynamoDBDocumentClient | undefined;
  let lambda: LambdaClient | undefined;
  let s3: S3Client | undefined;
  let outputs: Promise<Map<string, string>> | undefined;
  const docs = () =>
    (documents ??= DynamoDBDocumentClient.from(new DynamoDBClient(target.client('DYNAMODB'))));

  async function readOutputs(): Promise<Map<string, string>> {
    cloudFormation ??= new CloudFormationClient(target.client('CLOUDFORMATION'));
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
    return new Map((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  }

  const services: Services = {
    async output(key, instead) {
      let found: Map<string, string>;
      try {
        found = await (outputs ??= readOutputs());
      } catch (error) {
        if (isAccessDenied(error)) throw error;
        throw new UsageError(
          `cannot read stack ${stack} (${(error as Error).message}); pass --stack NAME${instead ? ` or ${instead}` : ''}`,
        );
      }
      const value = found.get(key);
      if (!value)
        throw new UsageError(
          `stack ${stack} has no ${key} output; deploy the latest stack${instead ? ` or pass ${instead}` : ''}`,
        );
      return value;
    },
    async getRun(runId) {
      return getRun(docs(), await services.output('RunsTableName'), runId);
    },
    async listRuns(query) {
      const table = await services.output('RunsTableName');
      return query.family
        ? queryFamilyRuns(docs(), table, { ...query, family: query.family })
        : scanRuns(docs(), table, query);
    },
    async allRuns() {
      return scanRuns(docs(), await services.output('RunsTableName'), { limit: Infinity });
    },
    async registry(family) {
      return readRegistry(docs(), await services.output('ModelRegistryTableName'), family);
    },
    async findModel(model) {
      return findModel(docs(), await services.output('ModelRegistryTableName'), model);
    },
    async invoke(functionName, payload) {
      lambda ??= new LambdaClient(target.client('LAMBDA'));
      const answer = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
      );
      const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : 'null';
      if (answer.FunctionError) {
        // Lambda's error payload: {errorType, errorMessage, trace}.
        let message = text;
        try {
          const body = JSON.parse(text) as { errorType?: string; errorMessage?: string };
          message = `${body.errorType ?? 'Error'}: ${body.errorMessage ?? text}`;
        } catch {
          // Not JSON: the raw text says it.
        }
        throw new FunctionFailedError(`${functionName} failed: ${message}`);
      }
      return JSON.parse(text) as unknown;
    },
    async readObject(bucket, key) {
      const settings = target.client('S3');
      // The local cloud's S3 serves path-style URLs only.
      s3 ??= new S3Client({ ...settings, ...(settings.endpoint ? { forcePathStyle: true } : {}) });
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!Body) return new Uint8Array();
      return Body.transformToByteArray();
    },
    close() {
      cloudFormation?.destroy();
      documents?.destroy();
      lambda?.destroy();
      s3?.destroy();
    },
  };
  return services;
}
