import { QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  CURRENT_MODEL_KEY,
  CurrentModelSchema,
  ModelEntrySchema,
  type ModelEntry,
} from '../functions/core/registry.js';
import type { RegistryView } from './services.js';

/**
 * Reading the model registry table (functions/core/registry.ts: partition key family, sort key model,
 * one pointer item per family under CURRENT_MODEL_KEY). Read-only: deleting goes through the stack's
 * models function, which deletes at the provider first.
 */
export async function readRegistry(
  documents: DynamoDBDocumentClient,
  table: string,
  family?: string,
): Promise<RegistryView> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      family
        ? new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'family = :family',
            ExpressionAttributeValues: { ':family': family },
            ...(start ? { ExclusiveStartKey: start } : {}),
          })
        : new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return splitRegistryItems(items);
}

/** Model items and pointer items, models oldest first as the registry lists them. */
export function splitRegistryItems(items: Record<string, unknown>[]): RegistryView {
  const pointers = items.filter((item) => item.model === CURRENT_MODEL_KEY);
  const models = items
    .filter((item) => item.model !== CURRENT_MODEL_KEY)
    .map((item) => ModelEntrySchema.parse(item));
  models.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  return { models, current: pointers.map((item) => CurrentModelSchema.parse(item)) };
}

/** A model by its id, in whichever family: the id is the sort key, not the partition key, so a filtered Scan. */
export async function findModel(
  documents: DynamoDBDocumentClient,
  table: string,
  model: string,
): Promise<ModelEntry | undefined> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: '#model = :model',
        ExpressionAttributeNames: { '#model': 'model' },
        ExpressionAttributeValues: { ':model': model },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    const item = page.Items?.[0];
    if (item) return ModelEntrySchema.parse(item);
    start = page.LastEvaluatedKey;
  } while (start);
  return undefined;
}
