import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { ParkedRuns, SlotLane } from '../core/ports.js';

/**
 * ParkedRuns on the run's own item, in attributes RunRecord does not read (a token resumes the run: it
 * is not for showing): `slotToken` (a provider slot's wait), `turnToken` (a family turn's), `jobToken`, and `jobWake`, a wake-up that came while the run was not
 * parked. Every write requires the run item to exist, so nothing here creates a stub item for a run
 * that is gone.
 *
 * Parking and waking meet in two conditional writes, so a wake-up is never lost and never used twice,
 * whatever their order: parking sets the token only while no wake-up waits (else it takes the wake-up);
 * waking takes the token while there is one (else it leaves a wake-up, only while there is still no
 * token, and otherwise tries again).
 */
/** The attribute each lane's token is kept in (Wait for family turn's, Acquire provider slot's). */
const TOKEN_ATTRIBUTE = { provider: 'slotToken', family: 'turnToken' } as const satisfies Record<
  SlotLane,
  string
>;

export function dynamoDbParkedRuns(documents: DynamoDBDocumentClient, tableName: string): ParkedRuns {
  const update = async (command: UpdateCommand): Promise<Record<string, unknown> | undefined | false> => {
    try {
      const { Attributes } = await documents.send(command);
      return Attributes ?? undefined;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  };
  const Tokens = z.object({
    slotToken: z.string().optional(),
    turnToken: z.string().optional(),
    jobToken: z.string().optional(),
    jobWake: z.string().optional(),
  });

  return {
    async parkForSlot(runId, token, lane = 'provider') {
      await update(
        new UpdateCommand({
          TableName: tableName,
          Key: { runId },
          UpdateExpression: 'SET #token = :token',
          ConditionExpression: 'attribute_exists(runId)',
          ExpressionAttributeNames: { '#token': TOKEN_ATTRIBUTE[lane] },
          ExpressionAttributeValues: { ':token': token },
        }),
      );
    },

    async slotToken(runId, lane = 'provider') {
      const { Item } = await documents.send(
        new GetCommand({
          TableName: tableName,
          Key: { runId },
          ConsistentRead: true,
          ProjectionExpression: '#token',
          ExpressionAttributeNames: { '#token': TOKEN_ATTRIBUTE[lane] },
        }),
      );
      return Item ? Tokens.parse(Item)[TOKEN_ATTRIBUTE[lane]] : undefined;
    },

    async clearSlotToken(runId, token, lane = 'provider') {
      await update(
        new UpdateCommand({
          TableName: tableName,
          Key: { runId },
          UpdateExpression: 'REMOVE #token',
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': TOKEN_ATTRIBUTE[lane] },
          ExpressionAttributeValues: { ':token': token },
        }),
      );
    },

    async parkForJob(runId, token) {
      const parked = await update(
        new UpdateCommand({
          TableName: tableName,
          Key: { runId },
          UpdateExpression: 'SET jobToken = :token',
          ConditionExpression: 'attribute_exists(runId) AND attribute_not_exists(jobWake)',
          ExpressionAttributeValues: { ':token': token },
        }),
      );
      if (parked !== false) return undefined;
      const woken = await update(
        new UpdateCommand({
          TableName: tableName,
          Key: { runId },
          UpdateExpression: 'REMOVE jobWake',
          ConditionExpression: 'attribute_exists(jobWake)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      return woken ? Tokens.parse(woken).jobWake : undefined;
    },

    async wakeForJob(runId, event) {
      // Each round ends unless a park slipped in between the two writes; a park happens once per turn.
      for (let round = 0; round < 3; round++) {
        const taken = await update(
          new UpdateCommand({
            TableName: tableName,
            Key: { runId },
            UpdateExpression: 'REMOVE jobToken',
            ConditionExpression: 'attribute_exists(jobToken)',
            ReturnValues: 'ALL_OLD',
          }),
        );
        if (taken) return Tokens.parse(taken).jobToken;
        const left = await update(
          new UpdateCommand({
            TableName: tableName,
            Key: { runId },
            UpdateExpression: 'SET jobWake = :event',
            ConditionExpression: 'attribute_exists(runId) AND attribute_not_exists(jobToken)',
            ExpressionAttributeValues: { ':event': event },
          }),
        );
        if (left !== false) return undefined;
        const { Item } = await documents.send(
          new GetCommand({
            TableName: tableName,
            Key: { runId },
            ConsistentRead: true,
            ProjectionExpression: 'runId',
          }),
        );
        if (!Item) return undefined; // no such run: nothing to wake
      }
      return undefined;
    },
  };
}
