import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { isConditionFailure, queryAll } from './dynamodb-requests.js';
import type { ActiveRuns, RunStore } from '../core/ports.js';
import {
  canTransition,
  RUN_STATUSES,
  RunRecordSchema,
  TERMINAL_STATUSES,
  type RunRecord,
  type RunStatus,
} from '../core/run.js';
import type { ActiveRun } from '../core/stuck-runs.js';

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

/** The key prefix of the items that link a provider job to its run (RunStore.linkProviderJob). */
const LINK_PREFIX = '~job/';

/** The run a link item's key names: `~job/<runId>/<providerJobId>` → `<runId>`; undefined for a run's own key. */
function linkedRunOf(key: string): string | undefined {
  if (!key.startsWith(LINK_PREFIX)) return undefined;
  const rest = key.slice(LINK_PREFIX.length);
  const slash = rest.indexOf('/');
  return slash > 0 ? rest.slice(0, slash) : undefined;
}

/**
 * The runs table's index of runs not ended yet, by status and since when (keys only): how the sweep finds
 * stuck runs (core/stuck-runs.ts) without scanning the table. Sparse: DynamoDB indexes only the items that
 * have the index's key attributes ("Take advantage of sparse indexes", DynamoDB developer guide,
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-indexes-general-sparse-indexes.html,
 * read 2026-11-30: global secondary indexes are sparse by default), and the store sets ACTIVE_STATUS only
 * while a run is not ended, removing both when it ends. Slots, webhook claims and the other items of the
 * table never have them. A run item written before this was kept has neither, and is not listed until its
 * status next moves.
 */
export const ACTIVE_RUN_INDEX = 'byActiveStatus';
/** The index's partition key: the run's status, present only while it is not terminal. */
export const ACTIVE_STATUS = 'activeStatus';
/** The index's sort key: when the run's current status began (ISO 8601), present with ACTIVE_STATUS. */
export const STATUS_SINCE = 'statusSince';

/** The statuses a run may be in before it ends: one query of the index each. */
const ACTIVE_STATUSES = RUN_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status));

/** The index attributes a run item has in `status` since `at`: none once it has ended. */
function activeAttributes(status: RunStatus, at: string): Record<string, string> {
  return TERMINAL_STATUSES.has(status) ? {} : { [ACTIVE_STATUS]: status, [STATUS_SINCE]: at };
}

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
            Item: { ...RunRecordSchema.parse(record), ...activeAttributes(record.status, record.updatedAt) },
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
      const update = { set: sets.join(', '), names, values };
      if (TERMINAL_STATUSES.has(status))
        return updateIfStatusIn(runId, from, { ...update, remove: [ACTIVE_STATUS, STATUS_SINCE] });
      // A status entered anew begins now; staying in it (TRAINING's progress notes) keeps when it began.
      // Which of the two it is shows only in the item, so the stay (the frequent one) is tried first.
      const entered = {
        ...update,
        set: `${update.set}, ${ACTIVE_STATUS} = :status, ${STATUS_SINCE} = :at`,
      };
      if (!from.includes(status)) return updateIfStatusIn(runId, from, entered);
      return (
        (await updateIfStatusIn(runId, [status], update)) ??
        updateIfStatusIn(
          runId,
          from.filter((candidate) => candidate !== status),
          entered,
        )
      );
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
      if (!item) return undefined;
      const key = z.object({ runId: z.string() }).parse(item).runId;
      return linkedRunOf(key) ?? key;
    },

    async linkProviderJob(runId, providerJobId) {
      // Its own item, so a run may have many (an embedding run's batches): the byProviderJob index finds it
      // by the job, and its key names the run (the index projects keys only). "~" marks bookkeeping.
      await documents.send(
        new PutCommand({
          TableName: tableName,
          Item: { runId: `${LINK_PREFIX}${runId}/${providerJobId}`, providerJobId },
        }),
      );
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
    update: {
      set: string;
      remove?: string[];
      names: Record<string, string>;
      values: Record<string, unknown>;
    },
  ): Promise<RunRecord | undefined> {
    // No status leads there (RECEIVED): nothing to update, and `IN ()` is not a valid condition.
    if (statuses.length === 0) return undefined;
    const values = { ...update.values };
    statuses.forEach((candidate, i) => (values[`:in${i}`] = candidate));
    try {
      const { Attributes } = await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { runId },
          UpdateExpression: `SET ${update.set}${update.remove?.length ? ` REMOVE ${update.remove.join(', ')}` : ''}`,
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

const ActiveRunItemSchema = z.object({
  runId: z.string(),
  [ACTIVE_STATUS]: z.enum(RUN_STATUSES),
  [STATUS_SINCE]: z.string(),
});

/**
 * ActiveRuns on the runs table's ACTIVE_RUN_INDEX: one query per status a run may be in before it ends,
 * each reading only the runs whose status began before the cutoff (the sort key's range), page by page.
 */
export function dynamoDbActiveRuns(documents: DynamoDBDocumentClient, tableName: string): ActiveRuns {
  return {
    async statusBegunBefore(before) {
      const found: ActiveRun[] = [];
      for (const status of ACTIVE_STATUSES) {
        const items = await queryAll(
          documents,
          (start) =>
            new QueryCommand({
              TableName: tableName,
              IndexName: ACTIVE_RUN_INDEX,
              KeyConditionExpression: `${ACTIVE_STATUS} = :status AND ${STATUS_SINCE} < :before`,
              ExpressionAttributeValues: { ':status': status, ':before': before.toISOString() },
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
        );
        for (const item of items) {
          const run = ActiveRunItemSchema.parse(item);
          found.push({ runId: run.runId, status: run[ACTIVE_STATUS], since: run[STATUS_SINCE] });
        }
      }
      return found;
    },
  };
}
