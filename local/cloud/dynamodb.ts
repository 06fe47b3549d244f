import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateTableCommand,
  waitUntilTableExists,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';

/**
 * Local DynamoDB: dynalite in memory on 127.0.0.1. Tables are created from the CloudFormation
 * properties of the synthesized template; what dynalite lacks (point-in-time recovery, SSE, deletion
 * protection, TTL) is left out, none of it changes what the handlers see.
 */
export interface LocalDynamoDb {
  endpoint: string;
  close(): Promise<void>;
}

export async function startLocalDynamoDb(): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type CfnProps = Record<string, unknown>;

export async function createTableFromTemplate(
  client: DynamoDBClient,
  name: string,
  properties: CfnProps,
): Promise<void> {
  const input: CreateTableCommandInput = {
    TableName: name,
    KeySchema: properties.KeySchema as CreateTableCommandInput['KeySchema'],
    AttributeDefinitions: properties.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    BillingMode: 'PAY_PER_REQUEST',
    ...(Array.isArray(properties.GlobalSecondaryIndexes)
      ? {
          GlobalSecondaryIndexes: (properties.GlobalSecondaryIndexes as CfnProps[]).map((index) => ({
            IndexName: index.IndexName as string,
            KeySchema: index.KeySchema as NonNullable<CreateTableCommandInput['KeySchema']>,
            Projection: index.Projection as { ProjectionType: 'ALL' },
          })),
        }
      : {}),
  };
  await client.send(new CreateTableCommand(input));
  await waitUntilTableExists({ client, maxWaitTime: 10, minDelay: 0.05, maxDelay: 0.2 }, { TableName: name });
}
