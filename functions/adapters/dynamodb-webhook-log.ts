import {
  GetCommand,
  PutCommand,
  DeleteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { WebhookLog } from '../core/ports.js';

/** Keys that cannot be run ids (those are [A-Za-z0-9_-] only), like PROVIDER_SLOTS_KEY. */
export const WEBHOOKS_KEY = '~webhooks';
export const webhookClaimKey = (webhookId: string) => `~webhook#${webhookId}`;

/**
 * WebhookLog on the runs table: one item per delivery claimed (`~webhook#<id>`, with `expiresAt` for the
 * table's time to live: correctness never depends on it, as DynamoDB deletes expired items only
 * eventually), and one item remembering the last verified delivery.
 */
export function dynamoDbWebhookLog(documents: DynamoDBDocumentClient, tableName: string): WebhookLog {
  return {
    async claim(webhookId, expiresAt) {
      try {
        await documents.send(
          new PutCommand({
            TableName: tableName,
            Item: { runId: webhookClaimKey(webhookId), expiresAt },
            ConditionExpression: 'attribute_not_exists(runId)',
          }),
        );
        return true;
      } catch (error) {
        if ((error as Error).name === 'ConditionalCheckFailedException') return false;
        throw error;
      }
    },

    async unclaim(webhookId) {
      await documents.send(
        new DeleteCommand({ TableName: tableName, Key: { runId: webhookClaimKey(webhookId) } }),
      );
    },

    async noteVerified(at) {
      await documents
        .send(
          new UpdateCommand({
            TableName: tableName,
            Key: { runId: WEBHOOKS_KEY },
            // Never backwards: deliveries may be handled out of order.
            UpdateExpression: 'SET lastVerifiedAt = :at',
            ConditionExpression: 'attribute_not_exists(lastVerifiedAt) OR lastVerifiedAt < :at',
            ExpressionAttributeValues: { ':at': at },
          }),
        )
        .catch((error: Error) => {
          if (error.name !== 'ConditionalCheckFailedException') throw error;
        });
    },

    async lastVerifiedAt() {
      const { Item } = await documents.send(
        new GetCommand({ TableName: tableName, Key: { runId: WEBHOOKS_KEY } }),
      );
      return Item ? z.object({ lastVerifiedAt: z.number() }).parse(Item).lastVerifiedAt : undefined;
    },
  };
}
