import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  ACTIVE_RUN_INDEX,
  ACTIVE_STATUS,
  dynamoDbRunStore,
  FAMILY_INDEX,
  PROVIDER_JOB_INDEX,
  STATUS_SINCE,
} from '../../functions/adapters/dynamodb-run-store.js';
import type { RunStore } from '../../functions/core/ports.js';
import {
  createTableFromTemplate,
  startLocalDynamoDb,
  type LocalDynamoDb,
} from '../../local/cloud/dynamodb.js';

/**
 * dynalite for the runs table's adapter tests: one server per suite (started and stopped with it), and
 * a fresh table per test, keyed by runId with the provider job, family and active-run indexes, as the
 * stack's table is.
 */
export function useRunsTables(prefix: string) {
  let db: LocalDynamoDb | undefined;
  let client: DynamoDBClient | undefined;
  let documents: DynamoDBDocumentClient | undefined;
  let tables = 0;

  beforeAll(async () => {
    db = await startLocalDynamoDb();
    client = new DynamoDBClient({
      endpoint: db.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    documents = DynamoDBDocumentClient.from(client);
  });
  afterAll(async () => {
    client?.destroy();
    await db?.close();
  });

  return {
    documents: (): DynamoDBDocumentClient => documents!,
    async newTable(): Promise<string> {
      const name = `${prefix}-${++tables}`;
      await createTableFromTemplate(client!, name, {
        KeySchema: [{ AttributeName: 'runId', KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: 'runId', AttributeType: 'S' },
          { AttributeName: 'providerJobId', AttributeType: 'S' },
          { AttributeName: 'family', AttributeType: 'S' },
          { AttributeName: 'createdAt', AttributeType: 'S' },
          { AttributeName: ACTIVE_STATUS, AttributeType: 'S' },
          { AttributeName: STATUS_SINCE, AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: PROVIDER_JOB_INDEX,
            KeySchema: [{ AttributeName: 'providerJobId', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
          {
            IndexName: FAMILY_INDEX,
            KeySchema: [
              { AttributeName: 'family', KeyType: 'HASH' },
              { AttributeName: 'createdAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: ACTIVE_RUN_INDEX,
            KeySchema: [
              { AttributeName: ACTIVE_STATUS, KeyType: 'HASH' },
              { AttributeName: STATUS_SINCE, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      });
      return name;
    },
    /** Creates RECEIVED runs in `table`; returns the table's run store. */
    async addRuns(table: string, ...runIds: string[]): Promise<RunStore> {
      const runs = dynamoDbRunStore(documents!, table);
      const at = '2026-11-29T10:00:00.000Z';
      for (const runId of runIds)
        await runs.create({
          runId,
          family: 'support',
          status: 'RECEIVED',
          history: [{ status: 'RECEIVED', at }],
          source: { bucket: 'b', key: `incoming/support/${runId}.jsonl` },
          createdAt: at,
          updatedAt: at,
        });
      return runs;
    },
  };
}
