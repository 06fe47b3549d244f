import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { isConditionFailure, queryAll } from './dynamodb-requests.js';
import type { RunStore } from '../core/ports.js';
import { canTransition, RUN_STATUSES, RunRecordSchema, TERMINAL_STATUSES } from '../core/run.js';

/**
 * The runs table's index from provider job id to run (keys only): how a provider's event about a job
 * finds its run. The stack defines it (lib/pipeline.ts); a GSI is eventually consistent, but a job's
 * event comes minutes after Create job recorded its id.
 */
export const PROVIDER_JOB_INDEX = 'byProviderJob';

/**
 * The runs table's index from family to its runs, by createdAt (all attributes): a family's data so far
 * ("dataset": "all"), and `tunedrop runs list --family`. Eventually consistent: a family's runs are
 * received minutes apart and queue behind each other.
 */
export const FAMILY_INDEX = 'byFamily';

/**
 * RunStore on one DynamoDB table keyed by `runId`. Every write is conditional: a run is created once,
 * and its status only moves along the allowed edges, so a duplicated or retried step changes nothing.
 */
export function dynamoDbRunStore(
  documents: DynamoDBDocumentClient,
  tableName: string,
  now: () => Date = () => new Date(),
): RunStore {
  return {
    async create(record) {
      try {
        await documents.send(
          new PutCommand({
            TableName: tableName,
            Item: RunRecordSchema.parse(record),
            ConditionExpression: 'attribute_not_exists(runId)',
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },

    async get(runId) {
      const { Item } = await documents.send(
        new GetCommand({ TableName: tableName, Key: { runId }, ConsistentRead: true }),
      );
      return Item ? RunRecordSchema.parse(Item) : undefined;
    },

    async advance(runId, status, fields = {}) {
      const at = now().toISOString();
      const { detail, ...rest } = fields;
      const values: Record<string, unknown> = {
        ':status': status,
        ':at': at,
        ':change': [detail === undefined ? { status, at } : { status, at, detail }],
      };
      const names: Record<string, string> = { '#status': 'status' };
      const sets = ['#status = :status', 'updatedAt = :at', 'history = list_append(history, :change)'];
      if (TERMINAL_STATUSES.has(status)) sets.push('finishedAt = :at');
      for (const [key, value] of Object.entries(rest)) {
        if (value === undefined) continue;
        names[`#${key}`] = key;
        values[`:${key}`] = value;
        sets.push(`#${key} = :${key}`);
      }
      const from = RUN_STATUSES.filter((candidate) => canTransition(candidate, status));
      return updateIfStatusIn(runId, from, { set: sets.join(', '), names, values });
    },

    async amend(runId, status, fields) {
      const values: Record<string, unknown> = { ':at': now().toISOString() };
      const names: Record<string, string> = { '#status': 'status' };
      // No history entry: the status stays; only what is known of the run grows.
      const sets = ['updatedAt = :at'];
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        names[`#${key}`] = key;
        values[`:${key}`] = value;
        sets.push(`#${key} = :${key}`);
      }
      return updateIfStatusIn(runId, [status], { set: sets.join(', '), names, values });
    },

    async recordLateJob(runId, job) {
      return updateIfStatusIn(runId, [...TERMINAL_STATUSES], {
        // No history entry: the run's status did not change, only what is known of its job.
        set: 'providerJobId = :job, providerStatus = :providerStatus, updatedAt = :at',
        names: { '#status': 'status' },
        values: {
          ':job': job.providerJobId,
          ':providerStatus': job.providerStatus,
          ':at': now().toISOString(),
        },
      });
    },

    async findByProviderJob(providerJobId) {
      const { Items } = await documents.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: PROVIDER_JOB_INDEX,
          KeyConditionExpression: 'providerJobId = :job',
          ExpressionAttributeValues: { ':job': providerJobId },
          Limit: 1,
        }),
      );
      const item = Items?.[0];
      return item ? z.object({ runId: z.string() }).parse(item).runId : undefined;
    },

    async listFamily(family) {
      const items = await queryAll(
        documents,
        (start) =>
          new QueryCommand({
            TableName: tableName,
            IndexName: FAMILY_INDEX,
            // "family" is one of DynamoDB's reserved words (Reserved words in DynamoDB, developer guide,
            // read 2026-11-29): named by a placeholder.
            KeyConditionExpression: '#family = :family',
            ExpressionAttributeNames: { '#family': 'family' },
            ExpressionAttributeValues: { ':family': family },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
      );
      return items.map((item) => RunRecordSchema.parse(item));
    },
  };

  /** One conditional update of an existing run whose status is one of `statuses`; undefined when it is not. */
  async function updateIfStatusIn(
    runId: string,
    statuses: readonly string[],
    update: { set: string; names: Record<string, string>; values: Record<string, unknown> },
  ) {
    // No status leads there (RECEIVED): nothing to update, and `IN ()` is not a valid condition.
    if (statuses.length === 0) return undefined;
    const values = { ...update.values };
    statuses.forEach((candidate, i) => (values[`:in${i}`] = candidate));
    try {
      const { Attributes } = await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { runId },
          UpdateExpression: `SET ${update.set}`,
          ConditionExpression: `attribute_exists(runId) AND #status IN (${statuses.map((_, i) => `:in${i}`).join(', ')})`,
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return RunRecordSchema.parse(Attributes);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}
