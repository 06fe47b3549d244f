import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProviderSlots } from '../core/ports.js';

/**
 * The holders of provider slots, as a string set on one item of the runs table. Its key cannot be a run
 * id (those are [A-Za-z0-9_-] only). The conditional ADD admits a run while the set is smaller than the
 * limit, or when the run is in it already.
 */
export const PROVIDER_SLOTS_KEY = '~provider-slots';

export function dynamoDbProviderSlots(documents: DynamoDBDocumentClient, tableName: string): ProviderSlots {
  return {
    async acquire(runId, limit) {
      try {
        await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { runId: PROVIDER_SLOTS_KEY },
            UpdateExpression: 'ADD holders :run',
            ConditionExpression:
              'attribute_not_exists(holders) OR size(holders) < :limit OR contains(holders, :id)',
            ExpressionAttributeValues: { ':run': new Set([runId]), ':limit': limit, ':id': runId },
          }),
        );
        return true;
      } catch (error) {
        if ((error as Error).name === 'ConditionalCheckFailedException') return false;
        throw error;
      }
    },
    async release(runId) {
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { runId: PROVIDER_SLOTS_KEY },
          UpdateExpression: 'DELETE holders :run',
          ExpressionAttributeValues: { ':run': new Set([runId]) },
        }),
      );
    },
  };
}
