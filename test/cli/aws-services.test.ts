import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { awsServices } from '../../cli/aws-services.js';
import { FunctionFailedError } from '../../cli/errors.js';
import { UsageError } from '../../cli/args.js';

const cloudFormation = mockClient(CloudFormationClient);
const documents = mockClient(DynamoDBDocumentClient);
const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);

const target = { description: 'AWS', client: () => ({ region: 'eu-west-1' }) };
const item = (runId: string, createdAt: string, fields: Record<string, unknown> = {}) => ({
  runId,
  family: 'support',
  status: 'SUCCEEDED',
  history: [{ status: 'RECEIVED', at: createdAt }],
  source: { bucket: 'b', key: `incoming/support/${runId}.jsonl` },
  createdAt,
  updatedAt: createdAt,
  ...fields,
});

beforeEach(() => {
  for (const mock of [cloudFormation, documents, lambda, s3]) mock.reset();
  cloudFormation.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'Tunedrop',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [
          { OutputKey: 'RunsTableName', OutputValue: 'runs-table' },
          { OutputKey: 'ModelRegistryTableName', OutputValue: 'registry-table' },
        ],
      },
    ],
  });
});

describe('the runs table as the CLI reads it', () => {
  it('queries the byFamily index newest first, one page at a time until the limit is reached', async () => {
    documents
      .on(QueryCommand)
      .resolvesOnce({
        Items: [item('c', '2026-11-03'), item('b', '2026-11-02')],
        LastEvaluatedKey: { runId: 'b' },
      })
      .resolvesOnce({ Items: [item('a', '2026-11-01')] });
    const services = awsServices(target, 'Tunedrop');
    const runs = await services.listRuns({ family: 'support', limit: 2 });
    expect(runs.map((r) => r.runId)).toEqual(['c', 'b']);
    const calls = documents.commandCalls(QueryCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({
      TableName: 'runs-table',
      IndexName: 'byFamily',
      KeyConditionExpression: '#family = :family',
      ExpressionAttributeNames: { '#family': 'family' },
      ExpressionAttributeValues: { ':family': 'support' },
      ScanIndexForward: false,
    });
  });

  it('filters a family by status, reading whole the runs the index holds only the keys of', async () => {
    documents.on(QueryCommand).resolves({
      Items: [
        { runId: 'b', family: 'support', createdAt: '2026-11-02' },
        { runId: 'a', family: 'support', createdAt: '2026-11-01' },
      ],
    });
    documents.on(GetCommand, { Key: { runId: 'b' } }).resolves({ Item: item('b', '2026-11-02') });
    documents
      .on(GetCommand, { Key: { runId: 'a' } })
      .resolves({ Item: item('a', '2026-11-01', { status: 'FAILED' }) });
    const runs = await awsServices(target, 'Tunedrop').listRuns({
      family: 'support',
      status: 'FAILED',
      limit: 5,
    });
    expect(runs.map((r) => [r.runId, r.status])).toEqual([['a', 'FAILED']]);
  });

  it('scans every page without --family, leaves out the "~" items, and sorts newest first', async () => {
    documents
      .on(ScanCommand)
      .resolvesOnce({
        Items: [item('a', '2026-11-01'), { runId: '~lane#support', holders: [] }],
        LastEvaluatedKey: { runId: 'a' },
      })
      .resolvesOnce({ Items: [item('c', '2026-11-03'), item('b', '2026-11-02', { status: 'FAILED' })] });
    const services = awsServices(target, 'Tunedrop');
    expect((await services.listRuns({ limit: 10 })).map((r) => r.runId)).toEqual(['c', 'b', 'a']);
    expect(documents.commandCalls(ScanCommand)[1]!.args[0].input.ExclusiveStartKey).toEqual({ runId: 'a' });
  });

  it('filters by kind before the limit, with and without --family (no kind on the item: fine-tuning)', async () => {
    const embeddings = (runId: string, createdAt: string) =>
      item(runId, createdAt, {
        kind: 'embeddings',
        source: { bucket: 'b', key: `embed/support/${runId}.jsonl` },
        embedding: { model: 'text-embedding-3-small', dimensions: 256, mode: 'batch' },
      });
    const items = [
      item('t3', '2026-11-06'),
      embeddings('e2', '2026-11-05'),
      item('t2', '2026-11-04', { kind: 'fine-tuning' }),
      embeddings('e1', '2026-11-03'),
      item('t1', '2026-11-02'),
    ];
    documents.on(ScanCommand).resolves({ Items: items });
    documents
      .on(QueryCommand)
      .resolvesOnce({ Items: items.slice(0, 2), LastEvaluatedKey: { runId: 'e2' } })
      .resolvesOnce({ Items: items.slice(2) });
    const services = awsServices(target, 'Tunedrop');
    expect((await services.listRuns({ kind: 'embeddings', limit: 2 })).map((r) => r.runId)).toEqual([
      'e2',
      'e1',
    ]);
    expect((await services.listRuns({ kind: 'fine-tuning', limit: 5 })).map((r) => r.runId)).toEqual([
      't3',
      't2',
      't1',
    ]);
    expect(
      (await services.listRuns({ family: 'support', kind: 'embeddings', limit: 2 })).map((r) => r.runId),
    ).toEqual(['e2', 'e1']);
    expect(documents.commandCalls(QueryCommand)).toHaveLength(2);
  });

  it('reads one run by its key, the stack read once for all calls', async () => {
    documents.on(GetCommand).resolves({ Item: item('a', '2026-11-01', { parentModel: 'ft:prev' }) });
    const services = awsServices(target, 'Tunedrop');
    expect(await services.getRun('a')).toMatchObject({ runId: 'a', parentModel: 'ft:prev' });
    await services.getRun('a');
    expect(documents.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: 'runs-table',
      Key: { runId: 'a' },
    });
    expect(cloudFormation.commandCalls(DescribeStacksCommand)).toHaveLength(1);
  });

  it('names the fix when the stack lacks an output the command needs', async () => {
    await expect(awsServices(target, 'Tunedrop').output('RetrainFunctionName')).rejects.toThrow(
      new UsageError('stack Tunedrop has no RetrainFunctionName output; deploy the latest stack'),
    );
  });
});

describe('the model registry as the CLI reads it', () => {
  const entry = (model: string, createdAt: string) => ({
    family: 'support',
    model,
    provider: 'openai',
    baseModel: 'gpt-4o-mini-2024-07-18',
    parentModel: 'gpt-4o-mini-2024-07-18',
    runId: 'r',
    createdAt,
  });
  const pointer = {
    family: 'support',
    model: '~current',
    currentModel: 'ft:b',
    provider: 'openai',
    baseModel: 'gpt-4o-mini-2024-07-18',
    runId: 'r',
    updatedAt: '2026-11-02',
  };

  it("queries a family's partition, telling the models from the current-model pointer", async () => {
    documents
      .on(QueryCommand)
      .resolves({ Items: [entry('ft:b', '2026-11-02'), entry('ft:a', '2026-11-01'), pointer] });
    documents.on(GetCommand).resolves({ Item: pointer });
    const view = await awsServices(target, 'Tunedrop').registry('support');
    expect(view.models.map((m) => m.model)).toEqual(['ft:a', 'ft:b']);
    expect(view.current).toEqual([pointer]);
    expect(documents.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      TableName: 'registry-table',
      KeyConditionExpression: '#family = :family',
      ExpressionAttributeNames: { '#family': 'family' },
    });
  });

  it('finds a model by its id in any family through the byModel index', async () => {
    documents.on(QueryCommand).resolves({ Items: [entry('ft:b', '2026-11-02')] });
    expect(await awsServices(target, 'Tunedrop').findModel('ft:b')).toMatchObject({ model: 'ft:b' });
    expect(documents.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      IndexName: 'byModel',
      ExpressionAttributeValues: { ':model': 'ft:b' },
    });
  });
});

describe('functions and files', () => {
  it('invokes a function with the JSON payload and returns its answer', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode('{"outcome":"queued","message":"m"}') as never,
    });
    expect(
      await awsServices(target, 'Tunedrop').invoke('retrain-fn', { family: 'f', trigger: 'operator' }),
    ).toEqual({
      outcome: 'queued',
      message: 'm',
    });
    const input = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input.FunctionName).toBe('retrain-fn');
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({
      family: 'f',
      trigger: 'operator',
    });
  });

  it("reports a function's own error with its type and message", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode('{"errorType":"ProviderError","errorMessage":"model busy"}') as never,
    });
    await expect(awsServices(target, 'Tunedrop').invoke('models-fn', {})).rejects.toThrow(
      new FunctionFailedError('models-fn failed: ProviderError: model busy'),
    );
  });

  it('reads an object of the local cloud as bytes', async () => {
    s3.on(GetObjectCommand).resolves({
      Body: { transformToByteArray: async () => new TextEncoder().encode('step\n') } as never,
    });
    const local = {
      description: 'the local cloud',
      client: () => ({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1' }),
    };
    const bytes = await awsServices(local, 'Tunedrop').readObject('b', 'runs/r/results.csv');
    expect(new TextDecoder().decode(bytes)).toBe('step\n');
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'b',
      Key: 'runs/r/results.csv',
    });
  });
});
