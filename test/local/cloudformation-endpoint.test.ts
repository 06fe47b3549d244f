import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { startLocalCloudFormation, type LocalCloudFormation } from '../../local/cloud/cloudformation.js';

/** The local CloudFormation DescribeStacks, as the real SDK client parses it. */
let cfn: LocalCloudFormation;
let client: CloudFormationClient;

beforeAll(async () => {
  cfn = await startLocalCloudFormation({
    stackName: 'Tunedrop',
    outputs: {
      StateMachineArn: { value: 'arn:aws:states:us-east-1:000000000000:stateMachine:RunWorkflow' },
      DeadLetterQueueUrl: {
        value: 'http://127.0.0.1:1/000000000000/dead&letters<1>',
        description: 'Events that failed',
      },
    },
  });
  client = new CloudFormationClient({
    region: 'us-east-1',
    endpoint: cfn.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await cfn.close();
});

it('DescribeStacks by name gives the stack with its outputs, descriptions and escaped characters intact', async () => {
  const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: 'Tunedrop' }));
  expect(Stacks).toHaveLength(1);
  expect(Stacks![0]).toMatchObject({
    StackName: 'Tunedrop',
    StackId: cfn.stackId,
    StackStatus: 'CREATE_COMPLETE',
    CreationTime: expect.any(Date),
    Outputs: [
      {
        OutputKey: 'StateMachineArn',
        OutputValue: 'arn:aws:states:us-east-1:000000000000:stateMachine:RunWorkflow',
      },
      {
        OutputKey: 'DeadLetterQueueUrl',
        OutputValue: 'http://127.0.0.1:1/000000000000/dead&letters<1>',
        Description: 'Events that failed',
      },
    ],
  });
});

it('DescribeStacks without a name, or by stack ID, gives the same stack', async () => {
  expect((await client.send(new DescribeStacksCommand({}))).Stacks?.map((s) => s.StackName)).toEqual([
    'Tunedrop',
  ]);
  expect(
    (await client.send(new DescribeStacksCommand({ StackName: cfn.stackId }))).Stacks?.[0]?.StackName,
  ).toBe('Tunedrop');
});

it('another stack name is ValidationError "Stack with id X does not exist" with status 400', async () => {
  const error = await client.send(new DescribeStacksCommand({ StackName: 'Other' })).then(
    () => undefined,
    (e: Error & { $metadata: { httpStatusCode?: number } }) => e,
  );
  expect(error).toMatchObject({ name: 'ValidationError', message: 'Stack with id Other does not exist' });
  expect(error?.$metadata.httpStatusCode).toBe(400);
});

it('an action other than DescribeStacks is refused by name', async () => {
  await expect(client.send(new ListStacksCommand({}))).rejects.toMatchObject({ name: 'InvalidAction' });
});
