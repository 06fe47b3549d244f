import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { awsClients } from '../../functions/adapters/aws-clients.js';
import {
  dynamoDbProviderSlots,
  PROVIDER_SLOTS_KEY,
} from '../../functions/adapters/dynamodb-provider-slots.js';
import { dynamoDbRunStore } from '../../functions/adapters/dynamodb-run-store.js';
import {
  providerSecretsMiddleware,
  type ContextWithProviderSecrets,
} from '../../functions/adapters/provider-secrets.js';
import { s3FamilyArrivals } from '../../functions/adapters/s3-family-arrivals.js';
import { s3ObjectStore } from '../../functions/adapters/s3-object-store.js';
import { sfnRunStarter } from '../../functions/adapters/sfn-run-starter.js';
import { executionArnOf } from '../../functions/core/run-events.js';
import { PLACEHOLDER_API_KEY } from '../../functions/core/config.js';
import type { ObjectRef } from '../../functions/core/ports.js';
import type { RunRecord, RunStatus } from '../../functions/core/run.js';
import type { ExecutionInput } from '../../functions/core/workflow-state.js';
import { validateUpload } from '../../functions/validate/validate-upload.js';
import { LOCAL_ADMIN } from '../../local/cloud/iam/authorizer.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { asFunction } from '../support/function-identity.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * Each AWS adapter of functions/adapters on its own, against the local cloud's endpoints (each behind
 * the IAM gateway), made with the credentials of a function that uses it in production: the tests
 * check the adapter's contract and, in passing, that the function's grants in the template suffice.
 *
 * The redrive adapter (aws-redrive.ts) is not here: test/local/dead-letters.test.ts runs it against the
 * local cloud's SQS and Lambda endpoints through `tunedrop redrive`, and test/local/redrive-endpoints
 * checks its contract.
 *
 * One cloud for the file. Objects go under runs/ (where the functions may write, and no notification
 * fires); the Step Functions test starts a real run and comes last, so the slots item is untouched
 * before the slots tests.
 */
const API_KEY = 'sk-adapters-on-local-cloud';
const VALIDATE = 'functions/validate/handler.ts';
const PREPARE = 'functions/prepare/handler.ts';
const UPLOAD = 'functions/upload/handler.ts';
const CREATE_JOB = 'functions/create-job/handler.ts';
const GET_STATUS = 'functions/get-status/handler.ts';
const COLLECT = 'functions/collect/handler.ts';
const ACQUIRE_SLOT = 'functions/acquire-slot/handler.ts';
const RECORD = 'functions/record/handler.ts';
const RECONCILE = 'functions/reconcile/handler.ts';

let harness: LocalHarness;
let cloud: LocalCloud;
const clients: Array<{ destroy(): void }> = [];
const track = <T extends { destroy(): void }>(client: T): T => (clients.push(client), client);

beforeAll(async () => {
  harness = await startLocalHarness({ apiKey: API_KEY });
  cloud = harness.cloud;
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await harness?.close();
});

// Clients made as the production ones are (aws-clients.ts), with a function's credentials.
const s3As = (entry: string) =>
  track(new S3Client({ ...asFunction(cloud, entry).clientConfig, endpoint: cloud.endpoints.S3 }));
const documentsAs = (entry: string) =>
  DynamoDBDocumentClient.from(
    track(
      new DynamoDBClient({ ...asFunction(cloud, entry).clientConfig, endpoint: cloud.endpoints.DYNAMODB }),
    ),
    { marshallOptions: { removeUndefinedValues: true } },
  );
const secretsAs = (entry: string) =>
  track(
    new SecretsManagerClient({
      ...asFunction(cloud, entry).clientConfig,
      endpoint: cloud.endpoints.SECRETS_MANAGER,
    }),
  );
const sfnAs = (entry: string) =>
  track(new SFNClient({ ...asFunction(cloud, entry).clientConfig, endpoint: cloud.endpoints.SFN }));
const admin = {
  s3: () =>
    track(new S3Client({ ...cloud.clientConfig, endpoint: cloud.endpoints.S3, forcePathStyle: true })),
  secrets: () =>
    track(new SecretsManagerClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SECRETS_MANAGER })),
  sfn: () => track(new SFNClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SFN })),
  documents: () =>
    DynamoDBDocumentClient.from(
      track(new DynamoDBClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.DYNAMODB })),
    ),
};

const storeAs = (entry: string) => s3ObjectStore(s3As(entry));
const runsTable = (entry: string) => asFunction(cloud, entry).environment.RUNS_TABLE!;
const runsAs = (entry: string) => dynamoDbRunStore(documentsAs(entry), runsTable(entry));

/** The IAM decisions made for `entry`'s calls since `mark` (a length of cloud.iamDecisions). */
const decisionsOf = (entry: string, mark: number) =>
  cloud.iamDecisions
    .slice(mark)
    .filter((d) => d.principal === asFunction(cloud, entry).principalArn)
    .map(({ action, resource, allowed }) => ({ action, resource, allowed }));

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; count: number }> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return { bytes: Buffer.concat(parts), count: parts.length };
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

describe('the S3 object store', () => {
  const ref = (name: string): ObjectRef => ({ bucket: cloud.bucket, key: `runs/adapters-s3/${name}` });
  // Under incoming/, not ending in .jsonl: readable as Validate and Prepare, and no bucket notification.
  const incoming = (name: string): ObjectRef => ({
    bucket: cloud.bucket,
    key: `incoming/adapters-s3/${name}.in`,
  });
  // Each function reads only what its own code reads; what it wrote elsewhere is checked by the operator.
  const adminStore = () => s3ObjectStore(admin.s3());

  it('writes an object with its content type as Validate, and Upload reads it back whole, as a stream and by head', async () => {
    await storeAs(VALIDATE).write(
      ref('validation.json'),
      '{"verdict":"valid","note":"é ✓"}\n',
      'application/json',
    );
    const store = storeAs(UPLOAD);
    const text = '{"verdict":"valid","note":"é ✓"}\n';

    expect(await store.readText(ref('validation.json'))).toBe(text);
    expect((await collect(store.read(ref('validation.json')))).bytes.toString('utf8')).toBe(text);
    expect(await store.head(ref('validation.json'))).toMatchObject({
      size: Buffer.byteLength(text),
      etag: expect.stringMatching(/^".+"$/),
    });
    const stored = await admin
      .s3()
      .send(new HeadObjectCommand({ Bucket: cloud.bucket, Key: ref('validation.json').key }));
    expect(stored.ContentType).toBe('application/json');
  });

  it('builds an object larger than one multipart part piece by piece, visible only after close, and streams it back in many chunks, as Prepare', async () => {
    const store = storeAs(PREPARE);
    const line = `${JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(1000) }] })}\n`;
    const lines = Math.ceil((6 * 1024 * 1024) / line.length); // over the 5 MiB part size: multipart
    const writer = store.createWriter(ref('train.jsonl'), 'application/jsonl');
    for (let i = 0; i < lines; i++) await writer.write(line);
    expect(await adminStore().head(ref('train.jsonl'))).toBeUndefined();
    await writer.close();

    expect(await storeAs(UPLOAD).head(ref('train.jsonl'))).toMatchObject({ size: lines * line.length });
    const { bytes, count } = await collect(storeAs(UPLOAD).read(ref('train.jsonl')));
    expect(bytes.length).toBe(lines * line.length);
    expect(sha256(bytes)).toBe(sha256(line.repeat(lines)));
    expect(count).toBeGreaterThan(1);
  });

  it('leaves no object behind when a writer is aborted, as Prepare', async () => {
    const store = storeAs(PREPARE);
    const writer = store.createWriter(ref('aborted.jsonl'), 'application/jsonl');
    await writer.write('x'.repeat(6 * 1024 * 1024));
    await writer.abort();

    expect(await adminStore().head(ref('aborted.jsonl'))).toBeUndefined();
    expect(await adminStore().readText(ref('aborted.jsonl'))).toBeUndefined();
  });

  it('reports a missing object as absent to head and readText, and fails a read of it with NoSuchKey, as Validate (which may list the bucket)', async () => {
    const store = storeAs(VALIDATE);
    expect(await store.head(incoming('missing'))).toBeUndefined();
    expect(await store.readText(incoming('missing'))).toBeUndefined();
    await expect(collect(store.read(incoming('missing')))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it("pins reads to the version asked for (s3:GetObjectVersion, which Prepare's grant allows)", async () => {
    await adminStore().write(incoming('versioned'), 'v1\n', 'application/jsonl');
    const mark = cloud.iamDecisions.length;
    const store = storeAs(PREPARE);
    const pinned = { ...incoming('versioned'), versionId: 'local-version-1' };

    // s3rver keeps no versions, so the bytes are the newest; what is checked is the request made.
    expect((await collect(store.read(pinned))).bytes.toString()).toBe('v1\n');
    expect(await store.head(pinned)).toMatchObject({ size: 3 });
    expect(decisionsOf(PREPARE, mark)).toEqual([
      {
        action: 's3:GetObjectVersion',
        resource: `arn:aws:s3:::${cloud.bucket}/${pinned.key}`,
        allowed: true,
      },
      {
        action: 's3:GetObjectVersion',
        resource: `arn:aws:s3:::${cloud.bucket}/${pinned.key}`,
        allowed: true,
      },
    ]);
  });

  it("fails, rather than reporting absent, what the caller's role may not do: Upload writing a user's file or heading an upload", async () => {
    const store = storeAs(UPLOAD);
    // Upload writes only Bedrock's copies in the model's format (runs/<run>/bedrock/), not other run
    // files, and never where users drop files.
    await expect(store.write(ref('from-upload.csv'), 'x', 'text/csv')).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('s3:PutObject'),
    });
    await expect(store.write(incoming('from-upload.csv'), 'x', 'text/csv')).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('s3:PutObject'),
    });
    await admin
      .s3()
      .send(new PutObjectCommand({ Bucket: cloud.bucket, Key: 'elsewhere/a.jsonl', Body: 'a\n' }));
    await expect(store.head({ bucket: cloud.bucket, key: 'elsewhere/a.jsonl' })).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
  });
});

describe("the S3 listing of a family's drops", () => {
  it("lists the incoming folder with the roles that hand a family's lane over, and nothing else of the bucket", async () => {
    await admin.s3().send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: 'incoming/adapters-arrivals/notes.txt',
        Body: 'x',
      }),
    );
    for (const entry of [ACQUIRE_SLOT, RECORD, RECONCILE, 'functions/sweep-slots/handler.ts']) {
      const mark = cloud.iamDecisions.length;
      // A file that starts no run is listed, and left out.
      await expect(
        s3FamilyArrivals(s3As(entry), cloud.bucket, 'incoming/').since('adapters-arrivals', 0),
      ).resolves.toEqual([]);
      expect(decisionsOf(entry, mark)).toEqual([
        { action: 's3:ListBucket', resource: `arn:aws:s3:::${cloud.bucket}`, allowed: true },
      ]);
      await expect(
        s3As(entry).send(new ListObjectsV2Command({ Bucket: cloud.bucket, Prefix: 'runs/' })),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    }
  });
});

describe('the DynamoDB run store', () => {
  const at = '2026-11-30T10:00:00.000Z';
  const newRun = (runId: string): RunRecord => ({
    runId,
    family: 'support',
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at }],
    source: { bucket: 'data', key: `incoming/support/${runId}.jsonl`, etag: '"abc"', size: 10 },
    createdAt: at,
    updatedAt: at,
    validationReportKey: `runs/${runId}/validation.md`,
  });

  it('creates a run once, as Validate: a second create returns false and leaves the first record as it was', async () => {
    const runs = runsAs(VALIDATE);
    expect(await runs.create(newRun('store-create'))).toBe(true);
    expect(await runs.create({ ...newRun('store-create'), family: 'other' })).toBe(false);
    expect(await runs.get('store-create')).toEqual(newRun('store-create'));
  });

  it('moves a run along the allowed edges, each step with its own role, recording history and fields, and stamps finishedAt at the end', async () => {
    await runsAs(VALIDATE).create(newRun('store-path'));
    const steps: Array<[string, RunStatus, Parameters<ReturnType<typeof runsAs>['advance']>[2]]> = [
      [PREPARE, 'PREPARING', {}],
      [PREPARE, 'UPLOADING', { trainingExamples: 80, validationExamples: 20 }],
      [CREATE_JOB, 'TRAINING', { providerJobId: 'ftjob-1', detail: 'validating_files' }],
      [GET_STATUS, 'TRAINING', { providerStatus: 'running', detail: 'running', fineTunedModel: undefined }],
      [COLLECT, 'COLLECTING', { fineTunedModel: 'ft:model', trainedTokens: 1234 }],
      [RECORD, 'SUCCEEDED', { costUsd: 0.05 }],
    ];
    let last: RunRecord | undefined;
    for (const [entry, status, fields] of steps) {
      last = await runsAs(entry).advance('store-path', status, fields);
      expect(last?.status).toBe(status);
    }

    expect(last).toMatchObject({
      trainingExamples: 80,
      validationExamples: 20,
      providerJobId: 'ftjob-1',
      providerStatus: 'running',
      fineTunedModel: 'ft:model',
      trainedTokens: 1234,
      costUsd: 0.05,
      finishedAt: last!.updatedAt,
    });
    expect(last!.history.map(({ status, detail }) => (detail ? `${status}:${detail}` : status))).toEqual([
      'RECEIVED',
      'PREPARING',
      'UPLOADING',
      'TRAINING:validating_files',
      'TRAINING:running',
      'COLLECTING',
      'SUCCEEDED',
    ]);
    expect(await runsAs(VALIDATE).get('store-path')).toEqual(last);
  });

  it('refuses a move the run may not make and changes nothing: skipping ahead, going back, or leaving an end', async () => {
    const runs = runsAs(RECORD);
    await runsAs(VALIDATE).create(newRun('store-refused'));
    expect(await runs.advance('store-refused', 'COLLECTING')).toBeUndefined();
    await runs.advance('store-refused', 'PREPARING');
    expect(await runs.advance('store-refused', 'RECEIVED')).toBeUndefined();
    const ended = await runs.advance('store-refused', 'FAILED', {
      error: { name: 'PrepareError', message: 'boom' },
    });
    expect(await runs.advance('store-refused', 'CANCELLED')).toBeUndefined();
    expect(await runs.advance('store-refused', 'FAILED')).toBeUndefined();

    expect(await runs.get('store-refused')).toEqual(ended);
    expect(ended!.history.map((h) => h.status)).toEqual(['RECEIVED', 'PREPARING', 'FAILED']);
  });

  it('neither advances nor notes a late job for a run that does not exist, and creates no item for it', async () => {
    expect(await runsAs(PREPARE).advance('store-nobody', 'PREPARING')).toBeUndefined();
    expect(
      await runsAs(RECONCILE).recordLateJob('store-nobody', {
        providerJobId: 'j',
        providerStatus: 'cancelled',
      }),
    ).toBeUndefined();
    expect(await runsAs(VALIDATE).get('store-nobody')).toBeUndefined();
  });

  it('notes the late job of an ended run without moving its status or history, and refuses a run still going, as Reconcile and Create job', async () => {
    await runsAs(VALIDATE).create(newRun('store-late'));
    const going = await runsAs(PREPARE).advance('store-late', 'PREPARING');
    const job = { providerJobId: 'ftjob-late', providerStatus: 'cancelled' };
    expect(await runsAs(CREATE_JOB).recordLateJob('store-late', job)).toBeUndefined();
    expect(await runsAs(VALIDATE).get('store-late')).toEqual(going);

    const ended = await runsAs(RECONCILE).advance('store-late', 'CANCELLED', {
      error: { name: 'ExecutionStopped', message: 'stopped' },
    });
    const noted = await runsAs(RECONCILE).recordLateJob('store-late', job);
    expect(noted).toEqual({ ...ended, ...job, updatedAt: noted!.updatedAt });
    expect(noted!.history).toEqual(ended!.history);
  });
});

describe('the DynamoDB provider slots', () => {
  const leases = async () =>
    (
      await admin.documents().send(
        new GetCommand({
          TableName: cloud.table,
          Key: { runId: PROVIDER_SLOTS_KEY },
          ConsistentRead: true,
        }),
      )
    ).Item?.leases as Record<string, number> | undefined;

  /** A run in the real table, in `status`, as its steps would have left it. */
  async function runIn(runId: string, status: RunStatus) {
    const at = new Date().toISOString();
    await runsAs(VALIDATE).create({
      runId,
      family: 'support',
      status: 'RECEIVED',
      history: [{ status: 'RECEIVED', at }],
      source: { bucket: cloud.bucket, key: `incoming/support/${runId}.jsonl` },
      createdAt: at,
      updatedAt: at,
    });
    for (const step of ['PREPARING', 'UPLOADING'] as const) await runsAs(PREPARE).advance(runId, step);
    if (status !== 'UPLOADING') await runsAs(RECORD).advance(runId, status);
  }

  it("lets at most `limit` runs hold a slot in the stack's table, Acquire slot creating the item on first use, and frees the slot Record releases", async () => {
    const slots = dynamoDbProviderSlots(documentsAs(ACQUIRE_SLOT), cloud.table);
    for (const run of ['slot-a', 'slot-b', 'slot-c']) await runIn(run, 'UPLOADING');
    expect(await leases()).toBeUndefined(); // nothing has run in this cloud yet

    expect(await slots.acquire('slot-a', 2)).toBe(true);
    expect(await slots.acquire('slot-b', 2)).toBe(true);
    expect(await slots.acquire('slot-c', 2)).toBe(false);
    const held = await leases();
    expect(await slots.acquire('slot-a', 2)).toBe(true); // asking again keeps its slot and its start
    expect(await leases()).toEqual(held);
    expect(Object.keys(held!).sort()).toEqual(['slot-a', 'slot-b']);

    await dynamoDbProviderSlots(documentsAs(RECORD), cloud.table).release('slot-a');
    expect(await slots.acquire('slot-c', 2)).toBe(true);
    expect(Object.keys((await leases())!).sort()).toEqual(['slot-b', 'slot-c']);

    for (const run of ['slot-b', 'slot-c'])
      await dynamoDbProviderSlots(documentsAs(RECORD), cloud.table).release(run);
    expect(await leases()).toEqual({});
  });

  it('releases a run that holds nothing without failing or changing the item, as Reconcile', async () => {
    const before = await leases();
    await dynamoDbProviderSlots(documentsAs(RECONCILE), cloud.table).release('slot-nobody');
    expect(await leases()).toEqual(before);
  });

  it("takes back the slot of a holder whose run has ended, reading the holders' runs with Acquire slot's role", async () => {
    const slots = dynamoDbProviderSlots(documentsAs(ACQUIRE_SLOT), cloud.table);
    await runIn('slot-live', 'UPLOADING');
    await runIn('slot-ended', 'UPLOADING');
    await runIn('slot-next', 'UPLOADING');
    expect(await slots.acquire('slot-live', 2)).toBe(true);
    expect(await slots.acquire('slot-ended', 2)).toBe(true);
    await runsAs(RECONCILE).advance('slot-ended', 'CANCELLED'); // stopped, and its release was lost

    expect(await slots.acquire('slot-next', 2)).toBe(true);
    expect(Object.keys((await leases())!).sort()).toEqual(['slot-live', 'slot-next']);
    for (const run of ['slot-live', 'slot-next'])
      await dynamoDbProviderSlots(documentsAs(RECORD), cloud.table).release(run);
  });
});

describe('the API key middleware on Secrets Manager', () => {
  const secretId = () => asFunction(cloud, CREATE_JOB).environment.API_KEY_SECRET_ID!;
  const putSecret = (value: string) =>
    admin.secrets().send(new PutSecretValueCommand({ SecretId: secretId(), SecretString: value }));
  const restore = () => putSecret(JSON.stringify({ apiKey: API_KEY }));
  const handlerWith = (client: SecretsManagerClient, id: string, now: () => number = () => 0) =>
    middy<unknown, string, Error, ContextWithProviderSecrets>()
      .use(providerSecretsMiddleware({ client, secretIds: { openai: id }, cacheSeconds: 60, now }))
      .handler(async (_event, context) => context.providerSecrets.openAiKey());
  const context = { functionName: 'test' } as ContextWithProviderSecrets;
  afterEach(restore);

  it("puts the key of the stack's JSON secret on the context, read with Create job's role", async () => {
    expect(await handlerWith(secretsAs(CREATE_JOB), secretId())({}, context)).toBe(API_KEY);
  });

  it('takes a bare key the user put instead, once the cached key has expired, as Get status', async () => {
    let now = 0;
    const handler = handlerWith(secretsAs(GET_STATUS), secretId(), () => now);
    expect(await handler({}, context)).toBe(API_KEY);
    await putSecret(' sk-bare-rotated\n');
    now = 59_000;
    expect(await handler({}, context)).toBe(API_KEY);
    now = 61_000;
    expect(await handler({}, context)).toBe('sk-bare-rotated');
  });

  it('fails with ApiKeyNotSetError and the command to fix it while the secret holds the placeholder the stack creates', async () => {
    await putSecret(JSON.stringify({ apiKey: PLACEHOLDER_API_KEY, placeholderNonce: 'n0nce' }));
    await expect(handlerWith(secretsAs(RECONCILE), secretId())({}, context)).rejects.toMatchObject({
      name: 'ApiKeyNotSetError',
      fix: expect.stringContaining(`--secret-id ${secretId()}`),
    });
  });

  it('fails with ResourceNotFoundException for a secret that does not exist', async () => {
    const client = track(
      new SecretsManagerClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.SECRETS_MANAGER }),
    );
    await expect(handlerWith(client, 'tunedrop/no-such-secret')({}, context)).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('fails with AccessDeniedException for a function not granted the secret (Prepare)', async () => {
    await expect(handlerWith(secretsAs(PREPARE), secretId())({}, context)).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('secretsmanager:GetSecretValue'),
    });
  });
});

describe('the production clients (aws-clients.ts)', () => {
  afterAll(() => {
    for (const client of [awsClients.s3(), awsClients.documents(), awsClients.secrets(), awsClients.sfn()])
      client.destroy();
  });

  it('reach every local endpoint through AWS_ENDPOINT_URL_<SERVICE> and the environment credentials alone', async () => {
    const mark = cloud.iamDecisions.length;
    await awsClients.s3().send(new HeadBucketCommand({ Bucket: cloud.bucket }));
    await awsClients.documents().send(new GetCommand({ TableName: cloud.table, Key: { runId: 'none' } }));
    const { SecretString } = await awsClients
      .secrets()
      .send(
        new GetSecretValueCommand({ SecretId: asFunction(cloud, CREATE_JOB).environment.API_KEY_SECRET_ID }),
      );
    const { executions } = await awsClients
      .sfn()
      .send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn }));

    expect(JSON.parse(SecretString!)).toEqual({ apiKey: API_KEY });
    expect(executions).toEqual([]);
    expect(
      cloud.iamDecisions
        .slice(mark)
        .filter((d) => d.principal === LOCAL_ADMIN.arn)
        .map((d) => `${d.action} ${d.allowed}`),
    ).toEqual([
      's3:ListBucket true',
      'dynamodb:GetItem true',
      'secretsmanager:GetSecretValue true',
      'states:ListExecutions true',
    ]);
  });
});

describe('starting a run as Validate does (sfnRunStarter)', () => {
  const executionsOf = async (name: string) =>
    (
      await admin.sfn().send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn }))
    ).executions!.filter((e) => e.name === name);

  it("starts one execution named after the run with Validate's input, which the workflow takes to SUCCEEDED; starting it again is no error and no second execution", async () => {
    const validate = asFunction(cloud, VALIDATE);
    const start = sfnRunStarter(sfnAs(VALIDATE), validate.environment.STATE_MACHINE_ARN!);
    const inputs: ExecutionInput[] = [];
    // Under incoming/ (all Validate and Prepare may read) but not ending in .jsonl, so the bucket
    // notification does not start validate itself.
    const key = 'incoming/adapters/support/tickets.jsonl.sample';
    const body = readFileSync(SAMPLE);
    const put = await admin.s3().send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: body }));

    const outcome = await validateUpload(
      { bucket: cloud.bucket, key, etag: put.ETag, size: body.length },
      {
        store: storeAs(VALIDATE),
        runs: runsAs(VALIDATE),
        startRun: (runId, input) => (inputs.push(input), start(runId, input)),
        executionArn: (runId) => executionArnOf(validate.environment.STATE_MACHINE_ARN!, runId),
        defaults: JSON.parse(validate.environment.RUN_DEFAULTS ?? '{}') as Record<string, unknown>,
        incomingPrefix: 'incoming/adapters/',
        now: () => new Date(),
      },
    );
    expect(outcome).toMatchObject({ outcome: 'started' });
    const runId = outcome.runId!;
    const [execution] = await executionsOf(runId);
    const described = await admin
      .sfn()
      .send(new DescribeExecutionCommand({ executionArn: execution!.executionArn }));
    expect(JSON.parse(described.input!)).toEqual(inputs[0]);
    // The run item names the execution that was started, before it started.
    expect((await runsAs(VALIDATE).get(runId))?.executionArn).toBe(execution!.executionArn);

    await expect(start(runId, { ...inputs[0]!, model: 'another-model' })).resolves.toBeUndefined();
    expect(await cloud.waitForRun(runId, { timeoutMs: 60_000 })).toMatchObject({ status: 'SUCCEEDED' });
    await expect(start(runId, inputs[0]!)).resolves.toBeUndefined();
    expect(await executionsOf(runId)).toHaveLength(1);
  });

  it("fails with AccessDeniedException, not as a duplicate, when the caller's role may not start executions (Prepare)", async () => {
    const start = sfnRunStarter(sfnAs(PREPARE), cloud.stateMachineArn);
    await expect(
      start('refused-run', { runId: 'refused-run' } as unknown as ExecutionInput),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('states:StartExecution'),
    });
  });
});
