import type { DynamoDBDocumentClient, QueryCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** DynamoDB's answer to a write whose condition did not hold: the write changed nothing. */
export function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

/** Sends a conditional write: true when it was made, false when its condition did not hold. */
export async function conditionally(
  documents: DynamoDBDocumentClient,
  command: UpdateCommand | PutCommand,
): Promise<boolean> {
  try {
    await documents.send(command as UpdateCommand);
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Every item a query matches, page after page (`command` builds the query from where the last page ended). */
export async function queryAll(
  documents: DynamoDBDocumentClient,
  command: (start: Record<string, unknown> | undefined) => QueryCommand,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(command(start));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
