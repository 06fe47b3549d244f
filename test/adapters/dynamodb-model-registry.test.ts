import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  dynamoDbModelRegistry,
  MODEL_INDEX,
  ssmCurrentModelParameters,
} from '../../functions/adapters/dynamodb-model-registry.js';
import { CURRENT_MODEL_KEY, type ModelEntry, type ModelRegistry } from '../../functions/core/registry.js';
import {
  createTableFromTemplate,
  startLocalDynamoDb,
  type LocalDynamoDb,
} from '../../local/cloud/dynamodb.js';

/**
 * The model registry's adapter against dynalite, on a table shaped as the stack's (lib/pipeline.ts,
 * ModelRegistry): partition key `family`, sort key `model`, and the byModel index (partition key `model`,
 * all attributes). Each test gets its own table.
 */
let db: LocalDynamoDb | undefined;
let client: DynamoDBClient | undefined;
let documents: DynamoDBDocumentClient;
let tables = 0;

beforeAll(async () => {
  db = await startLocalDynamoDb();
  client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  documents = DynamoDBDocumentClient.from(client);
});
afterAll(async () => {
  client?.destroy();
  await db?.close();
});

async function newRegistry() {
  const table = `registry-${++tables}`;
  await createTableFromTemplate(client!, table, {
    KeySchema: [
      { AttributeName: 'family', KeyType: 'HASH' },
      { AttributeName: 'model', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'family', AttributeType: 'S' },
      { AttributeName: 'model', AttributeType: 'S' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: MODEL_INDEX,
        KeySchema: [{ AttributeName: 'model', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  });
  const pointer = async (family: string) =>
    (await documents.send(new GetCommand({ TableName: table, Key: { family, model: CURRENT_MODEL_KEY } })))
      .Item;
  return { table, registry: dynamoDbModelRegistry(documents, table), pointer };
}

const entry = (model: string, createdAt: string, fields: Partial<ModelEntry> = {}): ModelEntry => ({
  family: 'support',
  model,
  provider: 'openai',
  baseModel: 'gpt-4.1-mini-2025-04-14',
  parentModel: 'gpt-4.1-mini-2025-04-14',
  runId: `run-${model}`,
  createdAt,
  ...fields,
});
const DAY1 = '2026-11-27T10:00:00.000Z';
const DAY2 = '2026-11-28T10:00:00.000Z';
const DAY3 = '2026-11-29T10:00:00.000Z';

/** Registered and promoted as of its creation, as a run whose evaluation promoted it leaves it. */
const promoted = async (registry: ModelRegistry, model: ModelEntry) =>
  (await registry.register(model)) && registry.promote(model, model.createdAt);

describe('the model registry on DynamoDB', () => {
  it('registers a model whole, and makes it the family’s current model when it is promoted', async () => {
    const { registry, pointer } = await newRegistry();
    const first = entry('ft:a', DAY1, {
      trainLoss: 0.5,
      validAccuracy: 0.9,
      trainedTokens: 1000,
      costUsd: 0.01,
      dataset: {
        mode: 'all',
        files: [
          { key: 'incoming/support/a.jsonl', versionId: 'v1', sha256: 'ab', examples: 20, duplicates: 2 },
        ],
        fileCount: 1,
        manifestKey: 'runs/run-ft:a/dataset.json',
        examples: 18,
        duplicatesRemoved: 2,
      },
    });
    expect(await registry.register(first)).toBe(true);

    expect(await registry.find('ft:a')).toEqual(first);
    // Registered, not current: its evaluation decides (Record promotes it).
    expect(await registry.current('support')).toBeUndefined();
    expect(await registry.families()).toEqual(['support']);
    expect(await registry.promote(first, DAY1)).toBe(true);
    expect(await registry.current('support')).toEqual({
      family: 'support',
      model: CURRENT_MODEL_KEY,
      currentModel: 'ft:a',
      provider: 'openai',
      baseModel: 'gpt-4.1-mini-2025-04-14',
      runId: 'run-ft:a',
      updatedAt: DAY1,
    });
    expect(await pointer('support')).toMatchObject({ currentModel: 'ft:a' });
  });

  it('moves the pointer to each later model promoted, and is idempotent', async () => {
    const { registry } = await newRegistry();
    const b = entry('ft:b', DAY2, { parentModel: 'ft:a' });
    expect(await promoted(registry, entry('ft:a', DAY1))).toBe(true);
    expect(await promoted(registry, b)).toBe(true);
    expect(await promoted(registry, b)).toBe(true);
    expect((await registry.current('support'))?.currentModel).toBe('ft:b');
    expect((await registry.list('support')).map((m) => m.model)).toEqual(['ft:a', 'ft:b']);
  });

  it('never moves the pointer back to an older model promoted late (a retried Record), unless forced', async () => {
    const { registry } = await newRegistry();
    await promoted(registry, entry('ft:new', DAY2));
    const old = entry('ft:old', DAY1);
    expect(await promoted(registry, old)).toBe(false);
    expect((await registry.current('support'))?.currentModel).toBe('ft:new');
    // The older model is registered all the same.
    expect(await registry.find('ft:old')).toMatchObject({ model: 'ft:old', createdAt: DAY1 });
    // The operator's `tunedrop models promote` is the latest word.
    expect(await registry.promote(old, DAY3, { force: true })).toBe(true);
    expect(await registry.current('support')).toMatchObject({ currentModel: 'ft:old', updatedAt: DAY3 });
  });

  it('never promotes a model it does not know, nor a deleted one', async () => {
    const { registry } = await newRegistry();
    expect(await registry.promote(entry('ft:ghost', DAY1), DAY1)).toBe(false);
    await registry.register(entry('ft:a', DAY1));
    await registry.markDeleted('support', 'ft:a', DAY2);
    expect(await registry.promote(entry('ft:a', DAY1), DAY3, { force: true })).toBe(false);
    expect(await registry.current('support')).toBeUndefined();
  });

  it('answers undefined for a family without a model, and for a model it does not know', async () => {
    const { registry } = await newRegistry();
    expect(await registry.current('support')).toBeUndefined();
    expect(await registry.find('ft:nope')).toBeUndefined();
    expect(await registry.list('support')).toEqual([]);
    expect(await registry.families()).toEqual([]);
  });

  it('does not take the pointer’s key for a model', async () => {
    const { registry } = await newRegistry();
    await registry.register(entry('ft:a', DAY1));
    expect(await registry.find(CURRENT_MODEL_KEY)).toBeUndefined();
  });

  it('finds a model in whichever family trained it, and lists families and their models oldest first', async () => {
    const { registry } = await newRegistry();
    await registry.register(entry('ft:s2', DAY3));
    await registry.register(entry('ft:b1', DAY2, { family: 'billing' }));
    await registry.register(entry('ft:s1', DAY1));
    expect(await registry.find('ft:b1')).toMatchObject({ family: 'billing', model: 'ft:b1' });
    expect(await registry.families()).toEqual(['billing', 'support']);
    expect((await registry.list('support')).map((m) => m.model)).toEqual(['ft:s1', 'ft:s2']);
    expect((await registry.list()).map((m) => m.model)).toEqual(['ft:s1', 'ft:b1', 'ft:s2']);
  });

  it('reads every page of a long family', async () => {
    const { table, registry } = await newRegistry();
    // Large items (an attribute of a later version), so that one query page (1 MB) cannot hold them all.
    const notes = 'x'.repeat(300 * 1024);
    const models = [0, 1, 2, 3, 4].map((i) => entry(`ft:big-${i}`, `2026-11-2${i}T10:00:00.000Z`));
    for (const model of models)
      await documents.send(new PutCommand({ TableName: table, Item: { ...model, notes } }));
    expect(await registry.list('support')).toEqual(models);
    expect(await registry.find('ft:big-3')).toEqual(models[3]);
  });

  it('marks a model deleted once, keeps it listed, and leaves the pointer to clearCurrent', async () => {
    const { registry } = await newRegistry();
    await promoted(registry, entry('ft:a', DAY1));
    await registry.markDeleted('support', 'ft:a', DAY2);
    await registry.markDeleted('support', 'ft:a', DAY3);
    expect((await registry.find('ft:a'))?.deletedAt).toBe(DAY2);
    expect((await registry.list('support')).map((m) => [m.model, m.deletedAt])).toEqual([['ft:a', DAY2]]);
    expect((await registry.current('support'))?.currentModel).toBe('ft:a');
  });

  it('creates no item when marking a model it does not know deleted', async () => {
    const { registry } = await newRegistry();
    await registry.markDeleted('support', 'ft:nope', DAY1);
    expect(await registry.find('ft:nope')).toBeUndefined();
    expect(await registry.list('support')).toEqual([]);
  });

  it('clears the pointer only when it names the model, and keeps the family listed', async () => {
    const { registry } = await newRegistry();
    await promoted(registry, entry('ft:a', DAY1));
    await promoted(registry, entry('ft:b', DAY2));
    expect(await registry.clearCurrent('support', 'ft:a')).toBe(false);
    expect((await registry.current('support'))?.currentModel).toBe('ft:b');
    expect(await registry.clearCurrent('support', 'ft:b')).toBe(true);
    expect(await registry.current('support')).toBeUndefined();
    expect(await registry.clearCurrent('support', 'ft:b')).toBe(false);
    expect(await registry.clearCurrent('nobody', 'ft:b')).toBe(false);
    expect(await registry.families()).toEqual(['support']);
  });

  it('makes the next model current after the pointer was cleared', async () => {
    const { registry } = await newRegistry();
    await promoted(registry, entry('ft:a', DAY1));
    await registry.clearCurrent('support', 'ft:a');
    expect(await promoted(registry, entry('ft:b', DAY2))).toBe(true);
    expect((await registry.current('support'))?.currentModel).toBe('ft:b');
  });

  it('keeps deletedAt when a deleted model is registered again, and does not make it current again', async () => {
    const { registry } = await newRegistry();
    const model = entry('ft:a', DAY1, { trainLoss: 0.5 });
    await promoted(registry, model);
    await registry.markDeleted('support', 'ft:a', DAY2);
    await registry.clearCurrent('support', 'ft:a');

    expect(await registry.register({ ...model, trainLoss: 0.4 })).toBe(false);
    expect(await registry.find('ft:a')).toEqual({ ...model, deletedAt: DAY2 });
    // Applications are never sent to a model that no longer exists.
    expect(await registry.current('support')).toBeUndefined();
  });

  it('refuses an entry that is not a model entry, writing nothing', async () => {
    const { registry } = await newRegistry();
    await expect(
      registry.register({ ...entry('ft:a', DAY1), provider: 'someone' as never }),
    ).rejects.toThrow();
    expect(await registry.families()).toEqual([]);
  });
});

describe('the current-model parameters in SSM', () => {
  const ssm = mockClient(SSMClient);
  const parameters = () => ssmCurrentModelParameters(new SSMClient({ region: 'us-east-1' }), '/tunedrop');
  beforeEach(() => ssm.reset());

  it('puts the model id alone in a String parameter named after the family, overwriting the last', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    await parameters().put('support', 'ft:a');
    const calls = ssm.commandCalls(PutParameterCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({
      Name: '/tunedrop/support/current-model',
      Value: 'ft:a',
      Type: 'String',
      Overwrite: true,
    });
  });

  it('uses the stack’s prefix', async () => {
    ssm.on(PutParameterCommand).resolves({});
    await ssmCurrentModelParameters(new SSMClient({ region: 'us-east-1' }), '/apps/ml').put(
      'support',
      'ft:a',
    );
    expect(ssm.commandCalls(PutParameterCommand)[0]!.args[0].input.Name).toBe(
      '/apps/ml/support/current-model',
    );
  });

  it('removes the family’s parameter, and takes one already gone as removed', async () => {
    ssm
      .on(DeleteParameterCommand)
      .resolvesOnce({})
      .rejects(Object.assign(new Error('gone'), { name: 'ParameterNotFound' }));
    await parameters().remove('support');
    await parameters().remove('support');
    expect(ssm.commandCalls(DeleteParameterCommand).map((call) => call.args[0].input)).toEqual([
      { Name: '/tunedrop/support/current-model' },
      { Name: '/tunedrop/support/current-model' },
    ]);
  });

  it('passes on any other error', async () => {
    ssm
      .on(PutParameterCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    ssm
      .on(DeleteParameterCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(parameters().put('support', 'ft:a')).rejects.toThrow('denied');
    await expect(parameters().remove('support')).rejects.toThrow('slow down');
  });
});
