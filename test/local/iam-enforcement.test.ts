import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../local/cloud/index.js';
import { SAMPLE, startLocalHarness } from '../support/local-harness.js';
import type { RunRecord } from '../../functions/core/run.js';
import { withoutAction, withoutResources } from '../support/grants.js';
import { actionsOf, FUNCTION_PERMISSIONS, type FunctionStep } from '../../functions/adapters/permissions.js';

/**
 * Local mode enforces IAM as AWS does: a deployment missing one grant fails locally where it would
 * fail on AWS, naming the action. For each function (and the state machine, S3's and EventBridge's
 * permissions), the app is built without one grant it needs, and the scenario that needs it fails.
 */
const API_KEY = 'sk-test-iam';

async function withCloud<T>(
  transformTemplate: LocalCloudOptions['transformTemplate'],
  scenario: (cloud: LocalCloud) => Promise<T>,
  options: Pick<LocalCloudOptions, 'schedules'> = {},
): Promise<T> {
  const harness = await startLocalHarness({
    apiKey: API_KEY,
    cloud: { onLog: () => undefined, ...(transformTemplate ? { transformTemplate } : {}), ...options },
  });
  try {
    return await scenario(harness.cloud);
  } finally {
    await harness.close();
  }
}

const dropAndWait = async (cloud: LocalCloud, family: string): Promise<RunRecord> => {
  const runId = await cloud.drop(SAMPLE, `incoming/${family}/tickets.jsonl`);
  return cloud.waitForRun(runId, { timeoutMs: 60_000 });
};

const deadLetterNaming = async (cloud: LocalCloud, action: string) => {
  for (let i = 0; i < 400; i++) {
    const letters = await cloud.peekDeadLetters();
    const letter = letters.find((l) => l.body.includes(action));
    if (letter)
      return JSON.parse(letter.body) as { responsePayload: { errorType: string; errorMessage: string } };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no dead letter names ${action}; dropped: ${JSON.stringify(cloud.droppedEvents)}`);
};

describe('a function missing a grant it needs fails as on AWS, naming the action', () => {
  it.each([
    ['prepare', 's3:PutObject'],
    ['upload', 's3:GetObject'],
    ['acquire-slot', 'dynamodb:UpdateItem'],
    ['acquire-slot', 'states:SendTaskSuccess'],
    ['await-job', 'dynamodb:UpdateItem'],
    ['create-job', 'secretsmanager:GetSecretValue'],
    ['get-status', 'secretsmanager:GetSecretValue'],
    ['collect', 's3:PutObject'],
  ])('%s without %s: the run is recorded FAILED with AccessDenied for it', async (step, action) => {
    // The slot sweep (every 10 minutes, 0.6 s at this time scale) delivers a grant whose resume failed,
    // as it should: it would rescue the run Acquire provider slot could not resume, in a race with the
    // failure. Without it, the failure is what this test sees.
    const run = await withCloud(
      withoutAction({ entry: `functions/${step}/handler.ts` }, action),
      (cloud) => dropAndWait(cloud, step),
      { schedules: false },
    );
    expect(run.status).toBe('FAILED');
    expect(run.error?.message).toContain(`is not authorized to perform: ${action.replace('*', '')}`);
    expect(run.error?.name).toMatch(/AccessDenied/);
  });

  it('record without dynamodb:UpdateItem: the workflow fails, and reconcile records the run FAILED with the cause', async () => {
    const run = await withCloud(
      withoutAction({ entry: 'functions/record/handler.ts' }, 'dynamodb:UpdateItem'),
      (cloud) => dropAndWait(cloud, 'record'),
    );
    expect(run.status).toBe('FAILED');
    expect(run.error?.message).toContain('is not authorized to perform: dynamodb:UpdateItem');
  });

  it('validate without states:StartExecution: the upload event fails through its retries into the dead letters', async () => {
    await withCloud(
      withoutAction({ entry: 'functions/validate/handler.ts' }, 'states:StartExecution'),
      async (cloud) => {
        await cloud.drop(SAMPLE, 'incoming/validate/tickets.jsonl');
        const letter = await deadLetterNaming(cloud, 'states:StartExecution');
        expect(letter.responsePayload.errorType).toBe('AccessDeniedException');
        expect(cloud.stepFunctions.list()).toHaveLength(0);
      },
    );
  });

  it('validate without s3:ListBucket: a missing companion file is refused (403), not absent (404), and the upload event fails into the dead letters', async () => {
    await withCloud(
      withoutAction({ entry: 'functions/validate/handler.ts' }, 's3:ListBucket'),
      async (cloud) => {
        await cloud.drop(SAMPLE, 'incoming/validate/tickets.jsonl');
        const letter = await deadLetterNaming(cloud, 'validate');
        // A HEAD's 403 has no body: the SDK names it only by its status, as it does on AWS.
        expect(letter.responsePayload.errorType).toBeTruthy();
        expect(cloud.iamDecisions).toContainEqual(
          expect.objectContaining({ action: 's3:ListBucket', allowed: false }),
        );
        expect(cloud.stepFunctions.list()).toHaveLength(0);
      },
    );
  });

  it('validate without sqs:SendMessage: a failed upload event is dropped, as Lambda drops what its destination refuses', async () => {
    await withCloud(
      (t) =>
        withoutAction(
          { entry: 'functions/validate/handler.ts' },
          'sqs:SendMessage',
        )(withoutAction({ entry: 'functions/validate/handler.ts' }, 'states:StartExecution')(t)),
      async (cloud) => {
        await cloud.drop(SAMPLE, 'incoming/validate/tickets.jsonl');
        for (let i = 0; i < 200 && cloud.droppedEvents.length === 0; i++)
          await new Promise((r) => setTimeout(r, 50));
        expect(cloud.droppedEvents[0]?.reason).toContain('is not authorized to perform: sqs:SendMessage');
        expect(await cloud.peekDeadLetters()).toEqual([]);
      },
    );
  });

  it('reconcile without dynamodb:UpdateItem: a stopped run fails reconcile, whose event goes to the dead letters', async () => {
    await withCloud(
      withoutAction({ entry: 'functions/reconcile/handler.ts' }, 'dynamodb:UpdateItem'),
      async (cloud) => {
        const runId = await cloud.drop(SAMPLE, 'incoming/reconcile/tickets.jsonl');
        await cloud.waitForRun(runId, { timeoutMs: 30_000, until: (run) => run.status !== 'RECEIVED' });
        const sfn = new SFNClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SFN });
        const execution = cloud.stepFunctions.list().find((e) => e.name === runId)!;
        await sfn.send(new StopExecutionCommand({ executionArn: execution.executionArn }));
        sfn.destroy();
        const letter = await deadLetterNaming(cloud, 'dynamodb:UpdateItem');
        expect(letter.responsePayload.errorType).toBe('AccessDeniedException');
      },
    );
  });
});

describe('the services that invoke functions need their permissions too', () => {
  it('a state machine role without lambda:InvokeFunction fails its first Task with Lambda.AWSLambdaException', async () => {
    const run = await withCloud(
      (template) => {
        // The state machine may invoke every function but Prepare.
        const t = structuredClone(template);
        for (const resource of Object.values(t.Resources)) {
          if (resource.Type !== 'AWS::IAM::Policy') continue;
          const doc = (resource.Properties as { PolicyDocument: { Statement: Array<{ Resource: unknown }> } })
            .PolicyDocument;
          doc.Statement = doc.Statement.filter(
            (s) => !JSON.stringify(s.Resource).includes('PipelinePrepare'),
          );
        }
        return t;
      },
      (cloud) => dropAndWait(cloud, 'machine'),
    );
    expect(run.status).toBe('FAILED');
    expect(run.error?.name).toBe('Lambda.AWSLambdaException');
    expect(run.error?.message).toContain('is not authorized to perform: lambda:InvokeFunction');
  });

  it('a bucket notification without its Lambda permission fails to deploy, so local mode refuses to start', async () => {
    await expect(
      startLocalCloud({
        openAiBaseUrl: 'http://127.0.0.1:9/v1',
        apiKey: API_KEY,
        transformTemplate: withoutResources('AWS::Lambda::Permission', /AllowBucketNotifications/),
      }),
    ).rejects.toThrow(/the deployment would fail: S3 cannot validate the notification/);
  });

  it('a rule without its Lambda permission cannot deliver, and its event goes to the rule target dead-letter queue', async () => {
    await withCloud(withoutResources('AWS::Lambda::Permission', /AllowEventRule/), async (cloud) => {
      const runId = await cloud.drop(SAMPLE, 'incoming/rule/tickets.jsonl');
      await cloud.waitForRun(runId, { timeoutMs: 30_000, until: (run) => run.status !== 'RECEIVED' });
      cloud.stepFunctions.stop(cloud.stepFunctions.list().find((e) => e.name === runId)!.executionArn);
      for (let i = 0; i < 200 && (await cloud.peekDeadLetters()).length === 0; i++)
        await new Promise((r) => setTimeout(r, 50));
      const [letter] = await cloud.peekDeadLetters();
      expect(letter?.attributes.ERROR_MESSAGE).toContain(
        'events.amazonaws.com is not authorized to perform: lambda:InvokeFunction',
      );
      expect(JSON.parse(letter!.body)).toMatchObject({
        source: 'aws.states',
        detail: { name: runId, status: 'ABORTED' },
      });
    });
  });
});

it('a complete deployment makes no call IAM refuses', async () => {
  await withCloud(undefined, async (cloud) => {
    const run = await dropAndWait(cloud, 'complete');
    expect(run.status).toBe('SUCCEEDED');
    expect(cloud.iamDecisions.filter((d) => !d.allowed)).toEqual([]);
    // Every function made its calls as its own role.
    const principals = new Set(cloud.iamDecisions.map((d) => d.principal.split('/')[2]));
    for (const fn of [
      'Validate',
      'Prepare',
      'Upload',
      'AcquireSlot',
      'CreateJob',
      'AwaitJob',
      'Webhook',
      'GetStatus',
      'Collect',
      'Record',
    ])
      expect([...principals].some((p) => p?.includes(fn))).toBe(true);
    // And each made only calls its role is meant to grant (functions/adapters/permissions.ts).
    for (const fn of cloud.plan.functions) {
      const step = /^functions\/(.+)\/handler\.ts$/.exec(fn.entry)?.[1] as FunctionStep;
      const made = cloud.iamDecisions
        .filter((d) => d.principal.split('/')[2] === fn.logicalId)
        .map((d) => d.action);
      expect({
        step,
        outside: made.filter((a) => !actionsOf(FUNCTION_PERMISSIONS[step]).includes(a)),
      }).toEqual({
        step,
        outside: [],
      });
    }
  });
});
