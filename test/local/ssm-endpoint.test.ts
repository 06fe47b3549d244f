import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { startLocalCloud, type LocalCloud } from '../../local/cloud/index.js';
import type { CloudFormationTemplate } from '../../local/template.js';

/**
 * The local SSM Parameter Store, as the real SDK client sees it through the IAM gateway: shapes, versions,
 * AWS's naming rules and error names, pagination, the template's parameters, and IAM.
 */
let cloud: LocalCloud;
let ssm: SSMClient;

/** A parameter and a second table (with a GSI) added to the app's template, as the stack is adding them. */
const withParameterAndRegistry = (template: CloudFormationTemplate): CloudFormationTemplate => ({
  ...template,
  Resources: {
    ...template.Resources,
    CurrentModelParameter: {
      Type: 'AWS::SSM::Parameter',
      Properties: {
        Name: '/tunedrop/test/current-model',
        Type: 'String',
        Value: 'none',
        Description: 'test',
      },
    },
    TestRegistryTable: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [
          { AttributeName: 'family', KeyType: 'HASH' },
          { AttributeName: 'modelId', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'family', AttributeType: 'S' },
          { AttributeName: 'modelId', AttributeType: 'S' },
          { AttributeName: 'status', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byStatus',
            KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      },
    },
  },
});

beforeAll(async () => {
  cloud = await startLocalCloud({
    openAiBaseUrl: 'http://127.0.0.1:9/v1',
    apiKey: 'sk-ssm',
    logLevel: 'SILENT',
    onLog: () => undefined,
    schedules: false,
    transformTemplate: withParameterAndRegistry,
  });
  ssm = new SSMClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SSM, maxAttempts: 1 });
});
afterAll(async () => {
  ssm?.destroy();
  await cloud?.close();
});

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      message: error.message,
      status: error.$metadata?.httpStatusCode,
    }),
  );

describe('PutParameter and GetParameter', () => {
  it('creates version 1 and reads it back in the SDK shape', async () => {
    const before = Date.now() / 1000;
    expect(
      await ssm.send(new PutParameterCommand({ Name: '/app/one', Value: 'v1', Type: 'String' })),
    ).toMatchObject({ Version: 1, Tier: 'Standard' });
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: '/app/one' }));
    expect(Parameter).toEqual({
      Name: '/app/one',
      Type: 'String',
      Value: 'v1',
      Version: 1,
      LastModifiedDate: expect.any(Date),
      ARN: 'arn:aws:ssm:us-east-1:000000000000:parameter/app/one',
      DataType: 'text',
    });
    expect(Parameter!.LastModifiedDate!.getTime() / 1000).toBeGreaterThanOrEqual(Math.floor(before));
  });

  it('an existing name is ParameterAlreadyExists unless Overwrite is true; Version counts up', async () => {
    await ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'a', Type: 'String' }));
    expect(
      await errorOf(ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'b', Type: 'String' }))),
    ).toMatchObject({ name: 'ParameterAlreadyExists', status: 400 });
    expect(
      await errorOf(
        ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'b', Type: 'String', Overwrite: false })),
      ),
    ).toMatchObject({ name: 'ParameterAlreadyExists' });
    expect(
      (await ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'b', Overwrite: true }))).Version,
    ).toBe(2);
    expect(
      (
        await ssm.send(
          new PutParameterCommand({ Name: 'plain', Value: 'c', Type: 'String', Overwrite: true }),
        )
      ).Version,
    ).toBe(3);
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: 'plain' }));
    expect(Parameter).toMatchObject({
      Name: 'plain',
      Value: 'c',
      Version: 3,
      ARN: expect.stringMatching(/:parameter\/plain$/),
    });
    // A version selector reads an older version.
    expect((await ssm.send(new GetParameterCommand({ Name: 'plain:1' }))).Parameter).toMatchObject({
      Value: 'a',
      Version: 1,
      Selector: ':1',
    });
  });

  it('StringList and SecureString: a SecureString reads as ciphertext unless WithDecryption', async () => {
    await ssm.send(new PutParameterCommand({ Name: '/app/list', Value: 'a,b', Type: 'StringList' }));
    expect((await ssm.send(new GetParameterCommand({ Name: '/app/list' }))).Parameter?.Value).toBe('a,b');
    await ssm.send(new PutParameterCommand({ Name: '/app/secret', Value: 's3cret', Type: 'SecureString' }));
    const hidden = (await ssm.send(new GetParameterCommand({ Name: '/app/secret' }))).Parameter;
    expect(hidden?.Type).toBe('SecureString');
    expect(hidden?.Value).not.toContain('s3cret');
    expect(
      (await ssm.send(new GetParameterCommand({ Name: '/app/secret', WithDecryption: true }))).Parameter
        ?.Value,
    ).toBe('s3cret');
    expect(
      await errorOf(
        ssm.send(
          new PutParameterCommand({ Name: '/app/secret', Value: 'x', Type: 'String', Overwrite: true }),
        ),
      ),
    ).toMatchObject({ name: 'HierarchyTypeMismatchException' });
  });

  it.each([
    ['a space', 'has space'],
    ['a character outside a-zA-Z0-9_.-/', '/app/bad*name'],
    ['the aws prefix', 'awsThing'],
    ['the AWS prefix in another case, under a slash', '/AWS/thing'],
    ['the ssm prefix', 'SSM-thing'],
    ['a hierarchy without its leading slash', 'app/one'],
    ['an empty level', '/app//one'],
    ['more than 2048 characters', `/${'a'.repeat(2048)}`],
  ])('a name with %s is a ValidationException', async (_, Name) => {
    expect(
      await errorOf(ssm.send(new PutParameterCommand({ Name, Value: 'v', Type: 'String' }))),
    ).toMatchObject({ name: 'ValidationException', status: 400 });
  });

  it('15 levels are allowed, 16 are HierarchyLevelLimitExceededException', async () => {
    const levels = (n: number) => Array.from({ length: n }, (_, i) => `/l${i}`).join('');
    await ssm.send(new PutParameterCommand({ Name: levels(15), Value: 'deep', Type: 'String' }));
    expect(
      await errorOf(ssm.send(new PutParameterCommand({ Name: levels(16), Value: 'v', Type: 'String' }))),
    ).toMatchObject({ name: 'HierarchyLevelLimitExceededException' });
  });

  it('a Standard value holds 4096 characters, not more; Advanced holds more', async () => {
    await ssm.send(new PutParameterCommand({ Name: '/size/ok', Value: 'x'.repeat(4096), Type: 'String' }));
    expect(
      await errorOf(
        ssm.send(new PutParameterCommand({ Name: '/size/big', Value: 'x'.repeat(4097), Type: 'String' })),
      ),
    ).toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/4096/) });
    expect(
      await ssm.send(
        new PutParameterCommand({
          Name: '/size/big',
          Value: 'x'.repeat(4097),
          Type: 'String',
          Tier: 'Advanced',
        }),
      ),
    ).toMatchObject({ Version: 1, Tier: 'Advanced' });
  });

  it('a missing parameter is ParameterNotFound, for GetParameter and DeleteParameter', async () => {
    expect(await errorOf(ssm.send(new GetParameterCommand({ Name: '/nope' })))).toMatchObject({
      name: 'ParameterNotFound',
      status: 400,
    });
    expect(await errorOf(ssm.send(new DeleteParameterCommand({ Name: '/nope' })))).toMatchObject({
      name: 'ParameterNotFound',
    });
    await ssm.send(new PutParameterCommand({ Name: '/gone', Value: 'v', Type: 'String' }));
    await ssm.send(new DeleteParameterCommand({ Name: '/gone' }));
    expect(await errorOf(ssm.send(new GetParameterCommand({ Name: '/gone' })))).toMatchObject({
      name: 'ParameterNotFound',
    });
  });
});

describe('GetParameters and GetParametersByPath', () => {
  beforeAll(async () => {
    for (const name of ['/tree/a', '/tree/b', '/tree/sub/c', '/tree/sub/deeper/d', '/treeish'])
      await ssm.send(new PutParameterCommand({ Name: name, Value: name, Type: 'String' }));
  });

  it('GetParameters gives the found ones and names the rest as InvalidParameters', async () => {
    const { Parameters, InvalidParameters } = await ssm.send(
      new GetParametersCommand({ Names: ['/tree/a', '/tree/missing', '/tree/b'] }),
    );
    expect(Parameters?.map((p) => p.Name)).toEqual(['/tree/a', '/tree/b']);
    expect(InvalidParameters).toEqual(['/tree/missing']);
  });

  it('by path: direct children only, or every descendant when Recursive', async () => {
    const names = async (Recursive: boolean) =>
      (await ssm.send(new GetParametersByPathCommand({ Path: '/tree', Recursive }))).Parameters?.map(
        (p) => p.Name,
      );
    expect(await names(false)).toEqual(['/tree/a', '/tree/b']);
    expect(await names(true)).toEqual(['/tree/a', '/tree/b', '/tree/sub/c', '/tree/sub/deeper/d']);
  });

  it('pages with MaxResults and NextToken; MaxResults above 10 is a ValidationException', async () => {
    const seen: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await ssm.send(
        new GetParametersByPathCommand({ Path: '/tree', Recursive: true, MaxResults: 3, NextToken }),
      );
      seen.push(...(page.Parameters ?? []).map((p) => p.Name!));
      NextToken = page.NextToken;
      pages++;
    } while (NextToken);
    expect(pages).toBe(2);
    expect(seen).toEqual(['/tree/a', '/tree/b', '/tree/sub/c', '/tree/sub/deeper/d']);
    expect(
      await errorOf(ssm.send(new GetParametersByPathCommand({ Path: '/tree', MaxResults: 11 }))),
    ).toMatchObject({ name: 'ValidationException' });
  });
});

describe('the template', () => {
  it("creates the template's AWS::SSM::Parameter as CloudFormation would", async () => {
    expect(cloud.plan.parameters).toContainEqual(
      expect.objectContaining({ logicalId: 'CurrentModelParameter', name: '/tunedrop/test/current-model' }),
    );
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: '/tunedrop/test/current-model' }));
    expect(Parameter).toMatchObject({ Value: 'none', Type: 'String', Version: 1 });
  });

  it('creates every table of the template with its GSIs, and cloud.table stays the runs table', async () => {
    const dynamo = new DynamoDBClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.DYNAMODB });
    try {
      expect(cloud.plan.tables.length).toBeGreaterThanOrEqual(2);
      for (const t of cloud.plan.tables) {
        const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: t.name }));
        expect(Table?.TableStatus).toBe('ACTIVE');
        const declared = ((t.properties.GlobalSecondaryIndexes ?? []) as Array<{ IndexName: string }>).map(
          (i) => i.IndexName,
        );
        expect((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort()).toEqual(declared.sort());
      }
      const registry = await dynamo.send(new DescribeTableCommand({ TableName: 'TestRegistryTable' }));
      expect(registry.Table?.GlobalSecondaryIndexes?.[0]?.IndexName).toBe('byStatus');
      const runs = await dynamo.send(new DescribeTableCommand({ TableName: cloud.table }));
      expect(runs.Table?.KeySchema).toContainEqual({ AttributeName: 'runId', KeyType: 'HASH' });
    } finally {
      dynamo.destroy();
    }
  });
});

describe('IAM', () => {
  it('a function whose role has no ssm grant is refused with AccessDeniedException; the admin is allowed', async () => {
    const fn = cloud.plan.functions.find((f) => f.entry === 'functions/validate/handler.ts')!;
    const asFunction = new SSMClient({
      region: cloud.clientConfig.region,
      credentials: cloud.functionCredentials(fn.entry),
      endpoint: cloud.endpoints.SSM,
      maxAttempts: 1,
    });
    try {
      expect(
        await errorOf(asFunction.send(new GetParameterCommand({ Name: '/tunedrop/test/current-model' }))),
      ).toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining(
          'is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:000000000000:parameter/tunedrop/test/current-model',
        ),
      });
      expect(
        await errorOf(asFunction.send(new GetParametersByPathCommand({ Path: '/tunedrop/test' }))),
      ).toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining(
          'ssm:GetParametersByPath on resource: arn:aws:ssm:us-east-1:000000000000:parameter/tunedrop/test',
        ),
      });
    } finally {
      asFunction.destroy();
    }
    expect(cloud.iamDecisions).toContainEqual(
      expect.objectContaining({
        principal: 'arn:aws:iam::000000000000:user/local-admin',
        action: 'ssm:GetParameter',
        resource: 'arn:aws:ssm:us-east-1:000000000000:parameter/tunedrop/test/current-model',
        allowed: true,
      }),
    );
  });

  it('the functions are given the SSM endpoint as AWS_ENDPOINT_URL_SSM', () => {
    expect(cloud.endpoints.SSM).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.AWS_ENDPOINT_URL_SSM).toBe(cloud.endpoints.SSM);
  });
});
