import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { conditionally, isConditionFailure, queryAll } from './dynamodb-requests.js';
import { DeleteParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import {
  CURRENT_MODEL_KEY,
  CurrentModelSchema,
  currentModelParameter,
  ModelEntrySchema,
  type CurrentModelParameters,
  type ModelEntry,
  type ModelRegistry,
} from '../core/registry.js';

/**
 * The registry table's index from model id to its item (all attributes): `models show MODEL` and
 * `models delete MODEL` find a model without knowing its family. The stack defines it (lib/pipeline.ts).
 */
export const MODEL_INDEX = 'byModel';

/**
 * ModelRegistry on its DynamoDB table (core/registry.ts has the item shapes). A model's item is written
 * whole when its run collects it; the pointer moves to it when it is promoted, conditional on the pointer
 * not naming a model made current later: a retried promotion of an older run never takes the pointer back.
 */
export function dynamoDbModelRegistry(documents: DynamoDBDocumentClient, tableName: string): ModelRegistry {
  const conditional = (command: UpdateCommand) => conditionally(documents, command);
  const query = (command: (start: Record<string, unknown> | undefined) => QueryCommand) =>
    queryAll(documents, command);

  const registry: ModelRegistry = {
    async register(entry) {
      const item = ModelEntrySchema.parse(entry);
      // A model deleted meanwhile stays deleted: registering again keeps its deletedAt.
      const registered = await documents
        .send(
          new PutCommand({
            TableName: tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(deletedAt)',
          }),
        )
        .then(
          () => true,
          (error: unknown) => {
            if (!isConditionFailure(error)) throw error;
            return false;
          },
        );
      // The family's pointer item exists from its first model on, current or not: families() lists the
      // families by it (a family whose models were all kept out has one, naming no current model).
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { family: item.family, model: CURRENT_MODEL_KEY },
          UpdateExpression: 'SET firstModelAt = if_not_exists(firstModelAt, :at)',
          ExpressionAttributeValues: { ':at': item.createdAt },
        }),
      );
      return registered;
    },

    async promote(entry, at, options = {}) {
      const item = ModelEntrySchema.parse(entry);
      // Never point applications at a model deleted at the provider (read strongly: a delete just made
      // must be seen).
      const stored = await documents.send(
        new GetCommand({
          TableName: tableName,
          Key: { family: item.family, model: item.model },
          ConsistentRead: true,
        }),
      );
      if (!stored.Item || stored.Item.deletedAt !== undefined) return false;
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { family: item.family, model: CURRENT_MODEL_KEY },
          UpdateExpression:
            'SET currentModel = :model, #provider = :provider, baseModel = :base, runId = :run, updatedAt = :at',
          ExpressionAttributeNames: { '#provider': 'provider' },
          // Runs of a family end one after another (its lane), so a later time is a later model; an
          // operator's promotion (force) is the latest word whatever the times.
          ...(options.force
            ? {}
            : { ConditionExpression: 'attribute_not_exists(updatedAt) OR updatedAt <= :at' }),
          ExpressionAttributeValues: {
            ':model': item.model,
            ':provider': item.provider,
            ':base': item.baseModel,
            ':run': item.runId,
            ':at': at,
          },
        }),
      );
    },

    async current(family) {
      const { Item } = await documents.send(
        new GetCommand({
          TableName: tableName,
          Key: { family, model: CURRENT_MODEL_KEY },
          ConsistentRead: true,
        }),
      );
      return Item && Item.currentModel !== undefined ? CurrentModelSchema.parse(Item) : undefined;
    },

    async find(model) {
      if (model === CURRENT_MODEL_KEY) return undefined;
      const items = await query(
        (start) =>
          new QueryCommand({
            TableName: tableName,
            IndexName: MODEL_INDEX,
            KeyConditionExpression: '#model = :model',
            ExpressionAttributeNames: { '#model': 'model' },
            ExpressionAttributeValues: { ':model': model },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
      );
      const [item] = items;
      return item ? ModelEntrySchema.parse(item) : undefined;
    },

    async list(family) {
      const entries: ModelEntry[] = [];
      const families = family ? [family] : await registry.families();
      for (const name of families) {
        const items = await query(
          (start) =>
            new QueryCommand({
              TableName: tableName,
              // "family" is one of DynamoDB's reserved words: every attribute is named by a placeholder.
              KeyConditionExpression: '#family = :family',
              ExpressionAttributeNames: { '#family': 'family' },
              ExpressionAttributeValues: { ':family': name },
              ConsistentRead: true,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
        );
        for (const item of items)
          if (item.model !== CURRENT_MODEL_KEY) entries.push(ModelEntrySchema.parse(item));
      }
      return entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.model.localeCompare(b.model));
    },

    async families() {
      // The pointer items: one per family that has had a model (promoted or not), read through the model index.
      const items = await query(
        (start) =>
          new QueryCommand({
            TableName: tableName,
            IndexName: MODEL_INDEX,
            KeyConditionExpression: '#model = :current',
            ExpressionAttributeNames: { '#model': 'model' },
            ExpressionAttributeValues: { ':current': CURRENT_MODEL_KEY },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
      );
      return [...new Set(items.map((item) => String(item.family)))].sort();
    },

    async markDeleted(family, model, at) {
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { family, model },
          UpdateExpression: 'SET deletedAt = if_not_exists(deletedAt, :at)',
          ConditionExpression: 'attribute_exists(#model)',
          ExpressionAttributeNames: { '#model': 'model' },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    },

    async clearCurrent(family, model) {
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { family, model: CURRENT_MODEL_KEY },
          UpdateExpression: 'REMOVE currentModel, #provider, baseModel, runId SET clearedAt = :at',
          ConditionExpression: 'currentModel = :model',
          ExpressionAttributeNames: { '#provider': 'provider' },
          ExpressionAttributeValues: { ':model': model, ':at': new Date().toISOString() },
        }),
      );
    },
  };
  return registry;
}

/** The families' current-model parameters in SSM Parameter Store (String, overwritten on each change). */
export function ssmCurrentModelParameters(ssm: SSMClient, prefix: string): CurrentModelParameters {
  return {
    async put(family, model) {
      await ssm.send(
        new PutParameterCommand({
          Name: currentModelParameter(family, prefix),
          Value: model,
          Type: 'String',
          Overwrite: true,
          Description: `tunedrop: the current fine-tuned model of family ${family}`,
        }),
      );
    },
    async remove(family) {
      await ssm
        .send(new DeleteParameterCommand({ Name: currentModelParameter(family, prefix) }))
        .catch((error: unknown) => {
          if ((error as Error).name !== 'ParameterNotFound') throw error;
        });
    },
  };
}
