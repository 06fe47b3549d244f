import { BedrockClient, GetCustomModelCommand } from '@aws-sdk/client-bedrock';
import { GetObjectCommand, GetObjectTaggingCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { azureOpenAiProvider } from '../../functions/adapters/azure-openai-provider.js';
import { bedrockProvider } from '../../functions/adapters/bedrock-provider.js';
import { openAiProvider } from '../../functions/adapters/openai-provider.js';
import { s3ObjectStore } from '../../functions/adapters/s3-object-store.js';
import OpenAI from 'openai';
import { PROVIDERS, type ProviderName } from '../../functions/core/catalog.js';
import { TRAINING_COPY_TAG, type RunRecord } from '../../functions/core/run.js';
import { actionsOf, FUNCTION_PERMISSIONS, type FunctionStep } from '../../functions/adapters/permissions.js';
import { main } from '../../cli/main.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import type { RunningEmulator } from '../../local/openai-emulator/server.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * The same sample, the same steps, on each provider (issue #11): end to end, with a lost create answer
 * (exactly one job), with a job the provider fails, and stopped by `tunedrop cancel`. OpenAI and Azure
 * OpenAI are the emulator in their two shapes; Bedrock is the local cloud's control plane, behind IAM,
 * its jobs reading and writing S3 as the stack's service role.
 */
const API_KEY = 'sk-test-providers';
const AZURE_KEY = 'azure-test-providers';
let harness: LocalHarness;
let cloud: LocalCloud;
let openai: OpenAI;
let azure: RunningEmulator;
let azureClient: OpenAI;

beforeAll(async () => {
  harness = await startLocalHarness({ apiKey: API_KEY, azureOpenAiKey: AZURE_KEY });
  ({ cloud, openai } = harness);
  azure = harness.azure!;
  azureClient = new OpenAI({
    baseURL: `${azure.endpoint}/openai/v1/`,
    apiKey: 'unused',
    defaultHeaders: { 'api-key': AZURE_KEY, Authorization: null },
  });
});
afterEach(() => {
  harness.emulator.faults.clear();
  azure.faults.clear();
  cloud.bedrock.faults.clear();
});
afterAll(() => harness?.close());

/** The provider's jobs for a run, as the provider lists them. */
async function jobsOf(provider: ProviderName, runId: string): Promise<Array<{ id: string; status: string }>> {
  if (provider === 'openai') return (await openai.fineTuning.jobs.list({ metadata: { runId } })).data;
  if (provider === 'azure-openai') {
    // Azure keeps no metadata: a run's jobs are those trained on its uploaded files.
    const files = new Set<string>();
    for await (const file of azureClient.files.list())
      if (file.filename.startsWith(`${runId}-`)) files.add(file.id);
    const jobs = [];
    for await (const job of azureClient.fineTuning.jobs.list({ limit: 100 }))
      if (files.has(job.training_file)) jobs.push(job);
    return jobs;
  }
  return cloud.bedrock
    .jobs()
    .filter((job) => job.jobName === `tunedrop-${runId}`)
    .map((job) => ({ id: job.jobArn, status: job.status }));
}

async function drop(provider: ProviderName, family: string, settings: Record<string, unknown> = {}) {
  await cloud.s3.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: `incoming/${family}/tunedrop.json`,
      Body: JSON.stringify({ provider, ...settings }),
    }),
  );
  return cloud.drop(SAMPLE, `incoming/${family}/tickets.jsonl`);
}

async function text(key: string): Promise<string> {
  const object = await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }));
  return object.Body!.transformToString();
}

async function untilTraining(runId: string): Promise<RunRecord> {
  return cloud.waitForRun(runId, {
    until: (run) => run.status === 'TRAINING' && run.providerJobId !== undefined,
    timeoutMs: 60_000,
  });
}

const cli = async (...argv: string[]) => {
  let out = '';
  const code = await main(
    argv,
    (t) => void (out += t),
    (t) => void (out += t),
  );
  return { code, out };
};

describe.each(PROVIDERS)('on %s', (provider) => {
  const family = (what: string) => `${provider}-${what}`;

  it('the sample trains, and its results, summary and run item look as on every provider', async () => {
    const runId = await drop(provider, family('sample'));
    const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      provider,
      providerJobId: expect.any(String),
      fineTunedModel: expect.any(String),
      trainingExamples: 52,
      validationExamples: 12,
      resultsKey: `runs/${runId}/results.csv`,
      summaryKey: `runs/${runId}/summary.json`,
    });
    const rows = (await text(run.resultsKey!)).trim().split('\n');
    expect(rows[0]).toBe('step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy');
    const losses = rows.slice(1).map((row) => Number(row.split(',')[1]));
    expect(losses.length).toBeGreaterThan(10);
    // The same small model really trained on the uploaded tokens, wherever it ran.
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    const summary = JSON.parse(await text(run.summaryKey!));
    expect(summary).toMatchObject({
      provider,
      jobId: run.providerJobId,
      fineTunedModel: run.fineTunedModel,
      metrics: { steps: rows.length - 1, final: expect.objectContaining({ trainLoss: expect.any(Number) }) },
    });
    expect(await jobsOf(provider, runId)).toHaveLength(1);
    if (provider === 'bedrock') {
      // The copy in Nova's format is a copy of the user's data: tagged to expire like Prepare's.
      const { TagSet } = await cloud.s3.send(
        new GetObjectTaggingCommand({ Bucket: cloud.bucket, Key: `runs/${runId}/bedrock/training.jsonl` }),
      );
      expect(TagSet).toEqual([{ Key: TRAINING_COPY_TAG.key, Value: TRAINING_COPY_TAG.value }]);
    }
    if (provider === 'bedrock')
      // Bedrock's job state change, through the stack's EventBridge rule, woke the run.
      expect(
        cloud.iamDecisions.some(
          (d) => d.principal.includes('JobEvent') && d.action === 'states:SendTaskSuccess' && d.allowed,
        ),
      ).toBe(true);
  });

  it("the trained model can be deleted through the provider's adapter (Azure's API cannot: it says where)", async () => {
    const run = await cloud.waitForRun(await drop(provider, family('delete')), { timeoutMs: 60_000 });
    expect(run.status).toBe('SUCCEEDED');
    const model = run.fineTunedModel!;
    if (provider === 'openai') {
      await openAiProvider({ apiKey: API_KEY, baseURL: harness.emulator.baseUrl }).deleteModel(model);
      await expect(openai.models.delete(model)).rejects.toMatchObject({ status: 404 });
    } else if (provider === 'azure-openai') {
      await expect(
        azureOpenAiProvider({ endpoint: azure.endpoint, apiKey: AZURE_KEY }).deleteModel(model),
      ).rejects.toMatchObject({ code: 'not_supported', fix: expect.stringContaining('portal') });
    } else {
      const client = new BedrockClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.BEDROCK });
      const bedrock = bedrockProvider({
        client,
        store: s3ObjectStore(cloud.s3),
        bucket: cloud.bucket,
        roleArn: 'unused',
      });
      await bedrock.deleteModel(model);
      await expect(client.send(new GetCustomModelCommand({ modelIdentifier: model }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
    }
  });

  it('a create whose answer is lost still makes exactly one job, and the run succeeds', async () => {
    if (provider === 'bedrock')
      cloud.bedrock.faults.onRequest({
        operation: 'CreateModelCustomizationJob',
        fault: { kind: 'lostResponse' },
      });
    else
      (provider === 'openai' ? harness.emulator : azure).faults.onRequest({
        method: 'POST',
        path: '/fine_tuning/jobs',
        fault: { kind: 'lostResponse' },
      });
    const runId = await drop(provider, family('lost'));
    const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
    expect(run.status).toBe('SUCCEEDED');
    const jobs = await jobsOf(provider, runId);
    expect(jobs).toHaveLength(1);
    expect(run.providerJobId).toBe(jobs[0]!.id);
    const applied =
      provider === 'bedrock'
        ? cloud.bedrock.faults.applied.map((a) => a.fault)
        : (provider === 'openai' ? harness.emulator : azure).faults.applied.map((a) => a.fault);
    expect(applied).toContain('lostResponse');
  });

  it('throttled job creation is retried, and the run succeeds with one job', async () => {
    if (provider === 'bedrock')
      cloud.bedrock.faults.onRequest({
        operation: 'CreateModelCustomizationJob',
        fault: { kind: 'throttle' },
        times: 2,
      });
    else
      (provider === 'openai' ? harness.emulator : azure).faults.onRequest({
        method: 'POST',
        path: '/fine_tuning/jobs',
        fault: { kind: 'status', status: 429, retryAfterSeconds: 0 },
        times: 2,
      });
    const runId = await drop(provider, family('throttled'));
    const run = await cloud.waitForRun(runId, { timeoutMs: 60_000 });
    expect(run.status).toBe('SUCCEEDED');
    expect(await jobsOf(provider, runId)).toHaveLength(1);
  });

  it("a job the provider fails ends the run FAILED with the provider's reason", async () => {
    if (provider === 'bedrock')
      cloud.bedrock.faults.onNextJob({ failWith: 'The training data has an issue.' });
    else
      (provider === 'openai' ? harness.emulator : azure).faults.onNextJob({
        failWith: { code: 'invalid_training_file', message: 'The training data has an issue.' },
      });
    const run = await cloud.waitForRun(await drop(provider, family('failed')), { timeoutMs: 60_000 });
    expect(run).toMatchObject({
      status: 'FAILED',
      providerStatus: 'failed',
      error: { message: expect.stringContaining('The training data has an issue.') },
    });
  });

  it('tunedrop cancel stops the run and its job at the provider', async () => {
    if (provider === 'bedrock') cloud.bedrock.faults.onNextJob({ stuckInProgress: true });
    else (provider === 'openai' ? harness.emulator : azure).faults.onNextJob({ stuckIn: 'queued' });
    const runId = await drop(provider, family('cancel'));
    await untilTraining(runId);
    expect(await cli('cancel', runId, '--state-machine', cloud.stateMachineArn)).toMatchObject({ code: 0 });
    const run = await cloud.waitForRun(runId, { timeoutMs: 30_000 });
    expect(run.status).toBe('CANCELLED');
    const [job] = await jobsOf(provider, runId);
    // Bedrock stops a job in two steps (Stopping, then Stopped); either means it no longer trains.
    expect(provider === 'bedrock' ? ['Stopping', 'Stopped'] : ['cancelled']).toContain(job!.status);
  });
});

describe('Azure OpenAI, one training job at a time per resource', () => {
  it('creates the next job only when the running one has ended', async () => {
    const [first, second] = await Promise.all([
      drop('azure-openai', 'azure-one-a'),
      drop('azure-openai', 'azure-one-b'),
    ]);
    const runs = await Promise.all([first, second].map((id) => cloud.waitForRun(id, { timeoutMs: 90_000 })));
    expect(runs.map((run) => run.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const jobs = await Promise.all(
      runs.map((run) => azureClient.fineTuning.jobs.retrieve(run.providerJobId!)),
    );
    const [earlier, later] = jobs.sort((a, b) => a.created_at - b.created_at);
    // tunedrop held the second run in its queue (Azure's slot limit is 1) until the first job finished.
    expect(later!.created_at).toBeGreaterThanOrEqual(earlier!.finished_at!);
  });
});

describe('after every scenario above, on all three providers', () => {
  it('no call was refused, and each function called only what its role is meant to grant', async () => {
    await cloud.stepFunctions.settle();
    expect(cloud.iamDecisions.filter((d) => !d.allowed)).toEqual([]);
    for (const fn of cloud.plan.functions) {
      const step = /^functions\/(.+)\/handler\.ts$/.exec(fn.entry)?.[1] as FunctionStep;
      const made = new Set(
        cloud.iamDecisions.filter((d) => d.principal.split('/')[2] === fn.logicalId).map((d) => d.action),
      );
      expect({
        step,
        outside: [...made].filter((a) => !actionsOf(FUNCTION_PERMISSIONS[step]).includes(a)),
      }).toEqual({
        step,
        outside: [],
      });
    }
    // Bedrock acted as the service role, and only on S3.
    const bedrockRole = cloud.iamDecisions.filter((d) => d.principal.includes('BedrockServiceRole'));
    expect(bedrockRole.length).toBeGreaterThan(0);
    expect(new Set(bedrockRole.map((d) => d.action))).toEqual(
      new Set(['s3:GetObject', 's3:ListBucket', 's3:PutObject']),
    );
  });
});
