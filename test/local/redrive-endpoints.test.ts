import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsRedriveDeps } from '../../functions/adapters/aws-redrive.js';
import { main } from '../../cli/main.js';
import { redrive } from '../../functions/core/redrive.js';
import { startLocalCloudFormation, type LocalCloudFormation } from '../../local/cloud/cloudformation.js';
import {
  functionResolver,
  startLocalLambdaApi,
  type InvocationType,
  type LocalLambdaApi,
} from '../../local/cloud/lambda-api.js';
import { startLocalSqs, type LocalSqs } from '../../local/cloud/sqs.js';
import { LocalStepFunctions } from '../../local/cloud/step-functions.js';

/**
 * The redrive adapter and the CLI's AWS commands against the local SQS, Lambda, CloudFormation and Step
 * Functions endpoints, through the real SDK clients: what `npx tunedrop redrive` and `npx tunedrop
 * cancel` do against a deployed stack, done against local mode.
 */
const VALIDATE = 'arn:aws:lambda:us-east-1:000000000000:function:Validate';
const RECONCILE = 'arn:aws:lambda:us-east-1:000000000000:function:Reconcile';
const STATE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:RunWorkflow';
const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };

let sqs: LocalSqs;
let lambda: LocalLambdaApi;
let cloudFormation: LocalCloudFormation;
let stepFunctions: LocalStepFunctions;
let sfnEndpoint: { endpoint: string; close: () => Promise<void> };
let queueUrl: string;
let sqsClient: SQSClient;
const invocations: Array<{ arn: string; payload: unknown; type: InvocationType }> = [];

beforeAll(async () => {
  sqs = await startLocalSqs();
  queueUrl = sqs.createQueue('DeadLetters', {
    MessageRetentionPeriod: '1209600',
    SqsManagedSseEnabled: 'true',
  }).url;
  lambda = await startLocalLambdaApi({
    resolve: functionResolver(() => [VALIDATE, RECONCILE]),
    invoke: async (arn, payload, type) => void invocations.push({ arn, payload, type }),
  });
  stepFunctions = new LocalStepFunctions({ invokers: new Map(), timeScale: 1 });
  stepFunctions.register(STATE_MACHINE, 'RunWorkflow', {
    StartAt: 'Train',
    States: { Train: { Type: 'Wait', Seconds: 3600, End: true } },
  });
  sfnEndpoint = await stepFunctions.serve();
  cloudFormation = await startLocalCloudFormation({
    stackName: 'Tunedrop',
    outputs: {
      StateMachineArn: { value: STATE_MACHINE },
      DeadLetterQueueUrl: { value: queueUrl },
    },
  });
  sqsClient = new SQSClient({ region: 'us-east-1', endpoint: sqs.endpoint, credentials });
});
afterAll(async () => {
  sqsClient.destroy();
  for (const execution of stepFunctions.list()) stepFunctions.stop(execution.executionArn);
  await Promise.all([sqs.close(), lambda.close(), cloudFormation.close(), sfnEndpoint.close()]);
});
beforeEach(async () => {
  invocations.length = 0;
});

/** What Lambda's on-failure destination writes once an asynchronous invocation's retries are spent. */
const onFailureRecord = (functionArn: string, event: unknown) =>
  JSON.stringify({
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: crypto.randomUUID(),
      functionArn: `${functionArn}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'ResourceNotFoundException', errorMessage: 'Requested resource not found' },
  });
const s3Event = {
  Records: [{ eventName: 'ObjectCreated:Put', s3: { object: { key: 'incoming/support/a.jsonl' } } }],
};
const statusChange = {
  source: 'aws.states',
  'detail-type': 'Step Functions Execution Status Change',
  detail: { status: 'ABORTED', name: 'run-x' },
};
/** As EventBridge writes a target's dead letter: the event, the target and the error in attributes. */
const sendEventBridgeLetter = () =>
  sqs.send(queueUrl, JSON.stringify(statusChange), {
    RULE_ARN: { DataType: 'String', StringValue: 'arn:aws:events:us-east-1:000000000000:rule/Reconcile' },
    TARGET_ARN: { DataType: 'String', StringValue: RECONCILE },
    ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' },
    ERROR_MESSAGE: { DataType: 'String', StringValue: 'Unable to invoke Lambda function' },
  });
const queueCounts = async () => {
  const { Attributes } = await sqsClient.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
};
/** A queue of its own for a test that does not go through the stack's output. */
const freshQueue = () => sqs.createQueue(`DeadLetters${crypto.randomUUID().slice(0, 8)}`).url;

describe('the redrive adapter on local SQS and Lambda', () => {
  it('a Lambda on-failure record and an EventBridge letter go back to their functions and are deleted; an unreadable letter is kept', async () => {
    const url = freshQueue();
    sqs.send(url, onFailureRecord(VALIDATE, s3Event));
    sqs.send(url, JSON.stringify(statusChange), {
      TARGET_ARN: { DataType: 'String', StringValue: RECONCILE },
    });
    const unreadable = sqs.send(url, 'not json {');
    const lambdaClient = new LambdaClient({ region: 'us-east-1', endpoint: lambda.endpoint, credentials });

    const result = await redrive(awsRedriveDeps(sqsClient, lambdaClient, url));

    expect(result).toEqual({
      redriven: 2,
      kept: [{ id: unreadable.MessageId, reason: 'the message body is not JSON' }],
    });
    expect(invocations).toEqual(
      expect.arrayContaining([
        { arn: VALIDATE, payload: s3Event, type: 'Event' },
        { arn: RECONCILE, payload: statusChange, type: 'Event' },
      ]),
    );
    expect(invocations).toHaveLength(2);
    const { Attributes } = await sqsClient.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    // Only the unreadable letter is left, invisible for the adapter's visibility timeout.
    expect(Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    lambdaClient.destroy();
  });

  it('a letter whose function is gone is not deleted: the invoke fails with ResourceNotFoundException', async () => {
    const url = freshQueue();
    sqs.send(url, onFailureRecord('arn:aws:lambda:us-east-1:000000000000:function:Removed', s3Event));
    const lambdaClient = new LambdaClient({ region: 'us-east-1', endpoint: lambda.endpoint, credentials });
    await expect(redrive(awsRedriveDeps(sqsClient, lambdaClient, url))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    const { Attributes } = await sqsClient.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('1');
    lambdaClient.destroy();
  });
});

describe('the CLI against the local endpoints', () => {
  const saved: Record<string, string | undefined> = {};
  const env = () => ({
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint,
    AWS_ENDPOINT_URL_SFN: sfnEndpoint.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
  });
  beforeAll(() => {
    for (const [key, value] of Object.entries(env())) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
  });
  afterAll(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(
      argv,
      (text) => void (out += text),
      (text) => void (err += text),
    );
    return { code, out, err };
  };

  it('tunedrop redrive finds the queue in the stack outputs and redrives every letter', async () => {
    sqs.send(queueUrl, onFailureRecord(VALIDATE, s3Event));
    sendEventBridgeLetter();

    expect(await run('redrive')).toEqual({ code: 0, out: 'Redrove 2 events.\n', err: '' });
    expect(invocations.map((i) => i.arn).sort()).toEqual([RECONCILE, VALIDATE]);
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0 });
  });

  it('tunedrop redrive exits 1 and names each letter it kept', async () => {
    const kept = sqs.send(queueUrl, '<not json>');
    const result = await run('redrive');
    expect(result).toEqual({
      code: 1,
      out: `Redrove 0 events.\nKept message ${kept.MessageId}: the message body is not JSON.\n`,
      err: '',
    });
  });

  it('tunedrop redrive --queue URL needs no stack', async () => {
    const url = freshQueue();
    sqs.send(url, onFailureRecord(VALIDATE, s3Event));
    expect(await run('redrive', '--stack', 'NoSuchStack', '--queue', url)).toMatchObject({
      code: 0,
      out: 'Redrove 1 event.\n',
    });
  });

  it('a stack that does not exist is a usage error that says so', async () => {
    const result = await run('redrive', '--stack', 'Other');
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      'cannot read stack Other (Stack with id Other does not exist); pass --stack NAME or --queue URL',
    );
    const cancel = await run('cancel', 'run-1', '--stack', 'Other');
    expect(cancel.code).toBe(2);
    expect(cancel.err).toContain('; pass --stack NAME or --state-machine ARN');
  });

  it('tunedrop cancel stops the running run found through the stack, and a second cancel says it has ended', async () => {
    const execution = stepFunctions.start(STATE_MACHINE, 'run-cancel-me', '{}');
    expect(await run('cancel', 'run-cancel-me')).toMatchObject({
      code: 0,
      out: expect.stringContaining('Stopped run run-cancel-me.'),
    });
    expect((await execution.done).status).toBe('ABORTED');
    expect(await run('cancel', 'run-cancel-me')).toMatchObject({
      code: 1,
      err: 'tunedrop: run run-cancel-me has already ended (ABORTED); nothing to cancel.\n',
    });
  });

  it('the usage text names redrive and its --queue option', async () => {
    const { code, out } = await run('redrive', '--help');
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: tunedrop redrive \[options\]$/m);
    expect(out).toMatch(/^ {2}--queue URL /m);
  });

  it('tunedrop cancel of an unknown run exits 1, and --state-machine needs no stack', async () => {
    expect(
      await run('cancel', 'never-started', '--stack', 'NoSuchStack', '--state-machine', STATE_MACHINE),
    ).toEqual({
      code: 1,
      out: '',
      err: `tunedrop: no run never-started in ${STATE_MACHINE} (a rejected file has no workflow to cancel).\n`,
    });
  });
});
