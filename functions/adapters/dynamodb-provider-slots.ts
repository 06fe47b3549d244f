import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProviderName } from '../core/catalog.js';
import { z } from 'zod';
import { conditionally } from './dynamodb-requests.js';
import type { ProviderSlots } from '../core/ports.js';
import { RUN_STATUSES, type RunStatus } from '../core/run.js';
import { deadHolders, queueOrder, VANISHED_HOLDER_GRACE_MS, type SlotHolder } from '../core/slots.js';

/**
 * The holders of provider slots, on one item of the runs table: `leases`, a map from run id to when
 * the run took its slot (epoch ms), and `waiting`, the queue: a map from run id to when it joined
 * (epoch ms), read oldest first. The item's key cannot be a run id (those are [A-Za-z0-9_-] only).
 *
 * Taking a slot is one conditional write: the map gains the run while it has fewer than `limit`
 * entries (or already holds it), so two runs racing for the last slot cannot both get it; a grant
 * moves the run from `waiting` to `leases` in the same write. When all
 * are taken, the holders' run items (in the same table) are read, and a holder whose run has ended or
 * vanished (core/slots.ts) is removed by a write conditional on its entry being the one read, then the
 * write is tried again.
 *
 * DynamoDB facts this relies on (Condition and filter expressions, operators, and functions:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html,
 * read 2026-11-29): `size(path)` of a Map is its number of elements, and conditions may name nested
 * paths. A nested SET (`leases.#run = ...`) on an item without the `leases` map is a ValidationException
 * ("The document path provided in the update expression is invalid for update"), so the maps are
 * created first, with `if_not_exists`. dynalite behaves the same (checked in the adapter's tests).
 *
 * The attribute was a string set `holders` before; a new name keeps an upgraded stack from failing on
 * the old item (a nested SET into a set is invalid). Runs that held slots in the old set at upgrade
 * time are not counted while they finish.
 */
export const PROVIDER_SLOTS_KEY = '~provider-slots';

/**
 * Each provider has its own slots (its own limit on jobs at once): OpenAI's keep the item they had
 * before there were other providers.
 */
export const providerSlotsKey = (provider: ProviderName): string =>
  provider === 'openai' ? PROVIDER_SLOTS_KEY : `${PROVIDER_SLOTS_KEY}#${provider}`;

/**
 * A family's lane: a slot set of one, so that one run per family trains at a time and the others queue
 * in the order they were received (core/slots.ts hands it over as it does provider slots).
 */
export const familyLaneKey = (family: string): string => `~family-lane#${family}`;

export interface ProviderSlotsOptions {
  /** Whose slots. @default 'openai' */
  provider?: ProviderName;
  /** The item holding the slots, instead of the provider's (a family's lane: familyLaneKey). */
  itemKey?: string;
  /** Epoch milliseconds. @default Date.now */
  now?: () => number;
  /** @default VANISHED_HOLDER_GRACE_MS */
  vanishedGraceMs?: number;
}

const SlotsItemSchema = z.object({
  leases: z.record(z.string(), z.number()).optional(),
  waiting: z.record(z.string(), z.number()).optional(),
});
const RunStatusSchema = z.object({ status: z.enum(RUN_STATUSES) });

/** After a round of taking slots back, someone else may take them first; then the run waits its turn. */
const ROUNDS = 3;

export function dynamoDbProviderSlots(
  documents: DynamoDBDocumentClient,
  tableName: string,
  options: ProviderSlotsOptions = {},
): ProviderSlots {
  const now = options.now ?? Date.now;
  const Key = { runId: options.itemKey ?? providerSlotsKey(options.provider ?? 'openai') };

  const conditional = (command: UpdateCommand) => conditionally(documents, command);

  /**
   * The one write that gives a run a slot: while fewer than `limit` hold one (or the run already does). A
   * run asking again keeps its first acquiredAt: that is when its slot started. From the queue (a grant),
   * the run must be waiting, and leaves the queue in the same write.
   */
  const takeSlot = (runId: string, limit: number, from: 'anywhere' | 'queue') =>
    conditional(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression: `SET leases.#run = if_not_exists(leases.#run, :now)${from === 'queue' ? ' REMOVE waiting.#run' : ''}`,
        ConditionExpression: `${from === 'queue' ? 'attribute_exists(waiting.#run)' : 'attribute_exists(leases)'} AND (size(leases) < :limit OR attribute_exists(leases.#run))`,
        ExpressionAttributeNames: { '#run': runId },
        ExpressionAttributeValues: { ':now': now(), ':limit': limit },
      }),
    );

  const readItem = async () => {
    const { Item } = await documents.send(
      new GetCommand({ TableName: tableName, Key, ConsistentRead: true }),
    );
    return Item ? SlotsItemSchema.parse(Item) : undefined;
  };

  const createMaps = () =>
    documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression:
          'SET leases = if_not_exists(leases, :empty), waiting = if_not_exists(waiting, :empty)',
        ExpressionAttributeValues: { ':empty': {} },
      }),
    );

  const statusOf = async (runId: string): Promise<RunStatus | undefined> => {
    const { Item } = await documents.send(
      new GetCommand({
        TableName: tableName,
        Key: { runId },
        ConsistentRead: true,
        ProjectionExpression: '#status',
        ExpressionAttributeNames: { '#status': 'status' },
      }),
    );
    return Item ? RunStatusSchema.parse(Item).status : undefined;
  };

  const evict = (holder: SlotHolder) =>
    conditional(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression: 'REMOVE leases.#run',
        // Only the lease that was judged: never one the run has taken again since.
        ConditionExpression: 'leases.#run = :acquiredAt',
        ExpressionAttributeNames: { '#run': holder.runId },
        ExpressionAttributeValues: { ':acquiredAt': holder.acquiredAt },
      }),
    );

  /**
   * Tries `write` (a take or a grant); when the slots are all held, takes back the dead holders' and
   * tries again. `stillAsking` says, from the item read after a refusal, whether the write can succeed
   * at all (a grant cannot for a run no longer in the queue).
   */
  const withDeadHoldersTakenBack = async (
    write: () => Promise<boolean>,
    limit: number,
    stillAsking: (item: z.infer<typeof SlotsItemSchema>) => boolean,
  ): Promise<boolean> => {
    for (let round = 0; round < ROUNDS; round++) {
      if (await write()) return true;
      const item = await readItem();
      if (!item?.leases || !item.waiting) {
        await createMaps();
        continue;
      }
      if (!stillAsking(item)) return false;
      const holders = Object.entries(item.leases).map(([runId, acquiredAt]) => ({ runId, acquiredAt }));
      // A slot was freed between the write and the read: try again.
      if (holders.length < limit) continue;
      const statuses = new Map(
        await Promise.all(holders.map(async (h) => [h.runId, await statusOf(h.runId)] as const)),
      );
      const dead = deadHolders(holders, statuses, now(), options.vanishedGraceMs ?? VANISHED_HOLDER_GRACE_MS);
      if (dead.length === 0) return false;
      await Promise.all(dead.map(evict));
    }
    return false;
  };

  return {
    acquire: (runId, limit) =>
      withDeadHoldersTakenBack(
        () => takeSlot(runId, limit, 'anywhere'),
        limit,
        () => true,
      ),

    grant: (runId, limit) =>
      withDeadHoldersTakenBack(
        () => takeSlot(runId, limit, 'queue'),
        limit,
        (item) => item.waiting?.[runId] !== undefined,
      ),

    async release(runId) {
      // Conditional, so releasing a run that holds nothing neither fails nor creates the item.
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key,
          UpdateExpression: 'REMOVE leases.#run',
          ConditionExpression: 'attribute_exists(leases.#run)',
          ExpressionAttributeNames: { '#run': runId },
        }),
      );
    },

    async holders() {
      return Object.keys((await readItem())?.leases ?? {});
    },

    async holds(runId) {
      return (await readItem())?.leases?.[runId] !== undefined;
    },

    async enqueue(runId, queuedAt) {
      const join = () =>
        conditional(
          new UpdateCommand({
            TableName: tableName,
            Key,
            // Asking again keeps the run's place in the queue.
            UpdateExpression: 'SET waiting.#run = if_not_exists(waiting.#run, :now)',
            ConditionExpression: 'attribute_exists(waiting)',
            ExpressionAttributeNames: { '#run': runId },
            ExpressionAttributeValues: { ':now': queuedAt ?? now() },
          }),
        );
      if (await join()) return;
      await createMaps();
      if (!(await join())) throw new Error('the provider slots item has no queue even after creating it');
    },

    async waiting() {
      const item = await readItem();
      return Object.entries(item?.waiting ?? {})
        .map(([runId, queuedAt]) => ({ runId, queuedAt }))
        .sort(queueOrder);
    },

    async dequeue(runId) {
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key,
          UpdateExpression: 'REMOVE waiting.#run',
          ConditionExpression: 'attribute_exists(waiting.#run)',
          ExpressionAttributeNames: { '#run': runId },
        }),
      );
    },
  };
}

/** The item listing the families that have a lane, so the sweep can hand over each one's. */
export const FAMILY_LANES_KEY = '~family-lanes';

/** The families with a lane: a string set on one item, added to when a family's run first queues. */
export function dynamoDbFamilyLaneIndex(documents: DynamoDBDocumentClient, tableName: string) {
  const Key = { runId: FAMILY_LANES_KEY };
  return {
    async note(family: string): Promise<void> {
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key,
          UpdateExpression: 'ADD families :family',
          ExpressionAttributeValues: { ':family': new Set([family]) },
        }),
      );
    },
    async families(): Promise<string[]> {
      const { Item } = await documents.send(
        new GetCommand({ TableName: tableName, Key, ConsistentRead: true }),
      );
      const families = z.object({ families: z.set(z.string()).optional() }).parse(Item ?? {}).families;
      return [...(families ?? [])].sort();
    },
  };
}
