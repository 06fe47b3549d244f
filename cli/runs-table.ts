import { GetCommand, QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FAMILY_INDEX } from '../functions/adapters/dynamodb-run-store.js';
import { runKindOf, type RunKind } from '../functions/core/run.js';
import { CliRunSchema, type CliRun } from './services.js';

/**
 * A family's runs, newest first, through the byFamily index: pages are read only until `limit` runs
 * matched, so a family's long history costs one page for `runs list --family F`. The status and kind are
 * filtered here, not by DynamoDB, and an item the index holds only part of (a KEYS_ONLY or INCLUDE
 * projection) is read whole from the table: either way the result does not depend on the projection.
 */
export async function queryFamilyRuns(
  documents: DynamoDBDocumentClient,
  table: string,
  query: { family: string; status?: string | undefined; kind?: RunKind | undefined; limit: number },
): Promise<CliRun[]> {
  const runs: CliRun[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: table,
        IndexName: FAMILY_INDEX,
        // "family" is one of DynamoDB's reserved words (Reserved words in DynamoDB, developer guide,
        // read 2026-11-29): named by a placeholder.
        KeyConditionExpression: '#family = :family',
        ExpressionAttributeNames: { '#family': 'family' },
        ExpressionAttributeValues: { ':family': query.family },
        ScanIndexForward: false,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      if (runs.length >= query.limit) break;
      if (typeof item.runId !== 'string' || item.runId.startsWith('~')) continue;
      const whole = CliRunSchema.safeParse(item);
      const run = whole.success ? whole.data : await getRun(documents, table, item.runId);
      if (run && matches(run, query)) runs.push(run);
    }
    start = page.LastEvaluatedKey;
  } while (start && runs.length < query.limit);
  return newestFirst(runs);
}

export async function getRun(
  documents: DynamoDBDocumentClient,
  table: string,
  runId: string,
): Promise<CliRun | undefined> {
  const { Item } = await documents.send(new GetCommand({ TableName: table, Key: { runId } }));
  return Item ? CliRunSchema.parse(Item) : undefined;
}

/**
 * Every run of the table (a paginated Scan: newest first needs them all), filtered by status and kind, newest
 * first, at most `limit`. Items whose runId starts with "~" are the pipeline's bookkeeping (a family's
 * lane), not runs.
 */
export async function scanRuns(
  documents: DynamoDBDocumentClient,
  table: string,
  query: { status?: string | undefined; kind?: RunKind | undefined; limit: number },
): Promise<CliRun[]> {
  const runs: CliRun[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    runs.push(...runsOf(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return newestFirst(runs.filter((run) => matches(run, query))).slice(0, query.limit);
}

/** The --status and --kind filters (applied before the limit, so N runs of that kind are listed). */
export function matches(
  run: CliRun,
  query: { status?: string | undefined; kind?: RunKind | undefined },
): boolean {
  return (!query.status || run.status === query.status) && (!query.kind || runKindOf(run) === query.kind);
}

export function runsOf(items: Record<string, unknown>[]): CliRun[] {
  return items
    .filter((item) => !(typeof item.runId === 'string' && item.runId.startsWith('~')))
    .map((item) => CliRunSchema.parse(item));
}

export function newestFirst(runs: CliRun[]): CliRun[] {
  return [...runs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}
