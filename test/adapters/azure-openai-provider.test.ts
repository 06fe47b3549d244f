import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { azureOpenAiProvider, isRunFile } from '../../functions/adapters/azure-openai-provider.js';
import { PERMANENT_ERROR_NAMES } from '../../functions/core/errors.js';
import type { CreateJobRequest, FineTuningProvider, ProviderJob } from '../../functions/core/ports.js';
import { decodeResultFile, summarizeResults } from '../../functions/core/results.js';
import { phaseOf } from '../../functions/core/workflow-state.js';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { chatDataset } from '../support/fakes.js';

/**
 * The Azure OpenAI adapter against the emulator's Azure mode (local/openai-emulator/azure-routes.ts: the
 * v1 API's paths, api-key auth, Azure's statuses, errors, results.csv and BOM rule), and, where what the
 * adapter sends must be seen byte for byte, against a server that records requests.
 */
const KEY = '0123456789abcdef0123456789abcdef';
const BOM = '\uFEFF';
const MODEL = 'gpt-4.1-nano-2025-04-14';
const AZURE_STATUSES = [
  'pending',
  'running',
  'pausing',
  'paused',
  'resuming',
  'succeeded',
  'failed',
  'cancelled',
];

let emulator: RunningEmulator;
let dir: string;
let train: string;

beforeAll(async () => {
  emulator = await startOpenAiEmulator({
    flavor: 'azure-openai',
    apiKey: KEY,
    timing: { validatingMs: 5, queuedMs: 5, msPerStep: 2 },
  });
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-azure-'));
  train = join(dir, 'train.jsonl');
  await writeFile(train, chatDataset(20));
});
afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => emulator.faults.clear());

const provider = (options: Partial<Parameters<typeof azureOpenAiProvider>[0]> = {}) =>
  azureOpenAiProvider({ endpoint: emulator.endpoint, apiKey: KEY, ...options });

const uploadFor = (runId: string, path = train) =>
  ({
    runId,
    purpose: 'training',
    fileName: `${runId}-train.jsonl`,
    path,
    model: MODEL,
  }) as const;

const jobRequest = (runId: string, trainingFileId: string): CreateJobRequest => ({
  runId,
  model: MODEL,
  trainingFileId,
  validationFileId: null,
  suffix: 'support',
  seed: 7,
  method: 'supervised',
  hyperparameters: { nEpochs: 1, batchSize: 'auto', learningRateMultiplier: 'auto' },
});

/** The emulator's own view, read directly (not through the adapter under test). */
const raw = async (path: string) => {
  const response = await fetch(`${emulator.endpoint}/openai/v1${path}`, { headers: { 'api-key': KEY } });
  // Decoded by hand: Response.text() drops a leading BOM, the very thing some tests look for.
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await response.arrayBuffer());
  return { status: response.status, text };
};
const allJobs = async () =>
  (
    JSON.parse((await raw('/fine_tuning/jobs?limit=100')).text) as {
      data: Array<{ id: string; training_file: string }>;
    }
  ).data;

async function until(azure: FineTuningProvider, jobId: string, done: (job: ProviderJob) => boolean) {
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const job = await azure.getJob(jobId);
    seen.add(job.status);
    if (done(job)) return { job, seen };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${jobId} never got there; statuses seen: ${[...seen].join(', ')}`);
}

/** An error's message, stack and fields, and its causes', as text. */
function everything(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 5) return String(error);
  return [JSON.stringify({ ...error }), error.message, error.stack, everything(error.cause, depth + 1)].join(
    '\n',
  );
}

describe('what the adapter sends (a server that records requests)', () => {
  const received: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];
  let server: Server;
  let endpoint: string;
  const JOB = {
    object: 'fine_tuning.job',
    id: 'ftjob-1',
    status: 'pending',
    model: MODEL,
    created_at: 1,
    training_file: 'file-1',
    metadata: null,
  };
  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received.push({ method: request.method!, url: request.url!, headers: request.headers, body });
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(JOB));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => (received.length = 0));

  it('calls the v1 API with the key in api-key only: no Authorization header, no api-version', async () => {
    // A trailing slash, or the /openai/v1 a user may paste with the endpoint, changes nothing.
    for (const given of [endpoint, `${endpoint}/`, `${endpoint}/openai/v1`]) {
      const azure = azureOpenAiProvider({ endpoint: given, apiKey: KEY });
      await azure.getJob('ftjob-1');
    }
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(
      Array(3).fill('GET /openai/v1/fine_tuning/jobs/ftjob-1'),
    );
    for (const { headers } of received) {
      expect(headers['api-key']).toBe(KEY);
      expect(headers.authorization).toBeUndefined();
      expect(JSON.stringify(headers)).not.toMatch(/Bearer/i);
    }
  });

  it("creates a job with OpenAI's body, no metadata, and trainingType only when the run sets it", async () => {
    const azure = azureOpenAiProvider({ endpoint, apiKey: KEY });
    await azure.createJob(jobRequest('run-a', 'file-1'));
    await azure.createJob({ ...jobRequest('run-b', 'file-1'), azure: { trainingType: 'GlobalStandard' } });
    await azure.createJob({ ...jobRequest('run-c', 'file-1'), method: 'dpo', validationFileId: 'file-2' });
    const bodies = received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(
      Array(3).fill('POST /openai/v1/fine_tuning/jobs'),
    );
    expect(bodies[0]).toEqual({
      model: MODEL,
      training_file: 'file-1',
      suffix: 'support',
      seed: 7,
      method: {
        type: 'supervised',
        supervised: {
          hyperparameters: { n_epochs: 1, batch_size: 'auto', learning_rate_multiplier: 'auto' },
        },
      },
    });
    expect(bodies[1]).toMatchObject({ trainingType: 'GlobalStandard' });
    expect(bodies[2]).toMatchObject({ validation_file: 'file-2', method: { type: 'dpo' } });
    for (const body of bodies) expect(body).not.toHaveProperty('metadata');
    expect(bodies[0]).not.toHaveProperty('trainingType');
  });
});

describe('uploads', () => {
  it('prepend the BOM Azure requires while streaming, keep the name, and do not double a BOM already there', async () => {
    const azure = provider();
    const plain = await azure.uploadFile(uploadFor('run-bom'));
    expect(plain.bytes).toBe(Buffer.byteLength(chatDataset(20)) + 3);
    expect((await raw(`/files/${plain.fileId}/content`)).text).toBe(BOM + chatDataset(20));
    const meta = JSON.parse((await raw(`/files/${plain.fileId}`)).text) as { filename: string };
    expect(meta.filename).toBe('run-bom-train.jsonl');

    const withBom = join(dir, 'bom.jsonl');
    await writeFile(withBom, BOM + chatDataset(20));
    const kept = await azure.uploadFile(uploadFor('run-bom2', withBom));
    expect((await raw(`/files/${kept.fileId}/content`)).text).toBe(BOM + chatDataset(20));
  });
});

describe('a job from upload to results', () => {
  it("trains with Azure's statuses (each one running until final) and returns results.csv in tunedrop's columns", async () => {
    const azure = provider();
    const { fileId } = await azure.uploadFile(uploadFor('run-train'));
    const created = await azure.createJob(jobRequest('run-train', fileId));
    expect(created.status).toBe('pending');
    const { job, seen } = await until(azure, created.id, (j) => phaseOf(j.status) !== 'running');
    expect(job).toMatchObject({
      status: 'succeeded',
      fineTunedModel: expect.stringMatching(/^gpt-4\.1-nano-2025-04-14\.ft-/),
    });
    for (const status of seen) expect(AZURE_STATUSES).toContain(status);
    const bytes = await azure.resultFile(job);
    const csv = decodeResultFile(bytes!);
    expect(csv.split('\n')[0]).toBe('step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy');
    const summary = summarizeResults(csv);
    expect(summary.steps).toBeGreaterThan(0);
    expect(summary.final?.trainLoss).toEqual(expect.any(Number));
    expect(summary.final?.trainAccuracy).toEqual(expect.any(Number));
  });

  it('phaseOf counts every Azure status that is not final as running', () => {
    expect(Object.fromEntries(AZURE_STATUSES.map((status) => [status, phaseOf(status)]))).toEqual({
      pending: 'running',
      running: 'running',
      pausing: 'running',
      paused: 'running',
      resuming: 'running',
      succeeded: 'succeeded',
      failed: 'failed',
      cancelled: 'cancelled',
    });
  });
});

describe('exactly one job per run without metadata', () => {
  it('finds the job whose create answer was lost by its training file, so the retry adopts it', async () => {
    const azure = provider();
    const runId = 'tickets-0123456789abcdef';
    const { fileId } = await azure.uploadFile(uploadFor(runId));
    // Another run whose id extends this one's, with a job of its own: not taken for this run's.
    const longer = `${runId}-x-fedcba9876543210`;
    const other = await azure.uploadFile(uploadFor(longer));
    const otherJob = await azure.createJob(jobRequest(longer, other.fileId));

    expect(await azure.findJobByRunId(runId)).toBeUndefined();
    emulator.faults.onRequest({ method: 'POST', path: '/fine_tuning/jobs', fault: { kind: 'lostResponse' } });
    await expect(azure.createJob(jobRequest(runId, fileId))).rejects.toMatchObject({
      name: 'ProviderUnavailableError',
    });
    // What the step does on its retry: look first, create only when nothing is found.
    const found = await azure.findJobByRunId(runId);
    const jobs = await allJobs();
    const mine = jobs.filter((job) => job.training_file === fileId);
    expect(mine).toHaveLength(1);
    expect(found?.id).toBe(mine[0]!.id);
    expect((await azure.findJobByRunId(longer))?.id).toBe(otherJob.id);
    expect(await azure.findJobByRunId('never-uploaded-0000000000000000')).toBeUndefined();
    await azure.cancelJob(found!.id);
    await azure.cancelJob(otherJob.id);
  });

  it('tells a run file by name: the run id, a dash, one word', () => {
    expect(isRunFile('a-0123-train.jsonl', 'a-0123')).toBe(true);
    expect(isRunFile('a-0123-validation.jsonl', 'a-0123')).toBe(true);
    expect(isRunFile('a-0123-x-9999-train.jsonl', 'a-0123')).toBe(false);
    expect(isRunFile('a-01234-train.jsonl', 'a-0123')).toBe(false);
    expect(isRunFile('upload.jsonl', 'a-0123')).toBe(false);
  });
});

describe('errors, in Azure OpenAI’s words', () => {
  it('a wrong key is permanent, and the fix names the secret with the endpoint and key', async () => {
    const error = await provider({ apiKey: 'ffffffffffffffffffffffffffffffff' })
      .getJob('ftjob-1')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'ProviderRejectedError',
      message: expect.stringMatching(/^Azure OpenAI refused to read job ftjob-1 \(HTTP 401/),
      fix: expect.stringMatching(/endpoint.*key.*secret/s),
    });
    expect(PERMANENT_ERROR_NAMES).toContain((error as Error).name);
  });

  it('a 429 is retried (a rate or queue limit, never a billing stop), and its fix names the per-resource limits', async () => {
    emulator.faults.onRequest({
      method: 'GET',
      path: '/fine_tuning/jobs/*',
      fault: { kind: 'insufficientQuota' },
    });
    const azure = provider();
    await expect(azure.getJob('ftjob-missing')).rejects.toMatchObject({
      name: 'ProviderRejectedError',
      code: 'fine_tuning_job_not_found',
    });
    expect(emulator.faults.applied).toHaveLength(1);

    emulator.faults.onRequest({
      method: 'POST',
      path: '/fine_tuning/jobs',
      fault: { kind: 'status', status: 429, code: '429', retryAfterSeconds: 0 },
    });
    await expect(azure.createJob(jobRequest('run-429', 'file-x'))).rejects.toMatchObject({
      name: 'ProviderUnavailableError',
      message: expect.stringContaining('Azure OpenAI could not create the fine-tuning job (HTTP 429)'),
      fix: expect.stringMatching(/1 job at a time and queues at most 20/),
    });
  });

  it('a refused job says what to check in tunedrop.json, trainingType included', async () => {
    const azure = provider();
    const { fileId } = await azure.uploadFile(uploadFor('run-refused'));
    await expect(
      azure.createJob({ ...jobRequest('run-refused', fileId), model: 'gpt-3.5-turbo-0125' }),
    ).rejects.toMatchObject({
      name: 'ProviderRejectedError',
      message: expect.stringContaining('The specified base model does not support fine-tuning.'),
      fix: expect.stringMatching(/18 characters.*trainingType/s),
    });
  });

  it('a key no header can carry is a configuration error with no trace of the key', async () => {
    const key = 'azure-canary-1111\nazure-canary-2222';
    const error = await provider({ apiKey: key })
      .getJob('ftjob-1')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'InvalidConfigError',
      message: expect.stringContaining('Azure OpenAI API key'),
    });
    expect(everything(error)).not.toMatch(/azure-canary-1111|azure-canary-2222/);
  });

  it('a key the service quotes back is masked', async () => {
    const key = 'quoted-azure-key-abcdef0123456789';
    const echo = createServer((_request, response) => {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: '401', message: `Key ${key} is not valid.` } }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
      const error = await azureOpenAiProvider({ endpoint, apiKey: key })
        .getJob('ftjob-1')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        name: 'ProviderRejectedError',
        message: expect.stringContaining('[redacted secret]'),
      });
      expect(everything(error)).not.toContain(key);
    } finally {
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it('a model cannot be deleted through the v1 API: a permanent error that says where', async () => {
    await expect(provider().deleteModel('gpt-4.1-nano-2025-04-14.ft-1')).rejects.toMatchObject({
      name: 'ProviderRejectedError',
      code: 'not_supported',
      fix: expect.stringContaining('portal'),
    });
  });
});

describe('within an invocation', () => {
  it('retries an upload whose first attempt hangs and still ends before the invocation does', async () => {
    emulator.faults.onRequest({ method: 'POST', path: '/files', fault: { kind: 'slow', delayMs: 2_500 } });
    const deadline = Date.now() + 6_000;
    const azure = provider({ remainingTimeMs: () => deadline - Date.now(), reserveMs: 500 });
    await expect(azure.uploadFile(uploadFor('run-slow'))).resolves.toMatchObject({
      fileId: expect.stringMatching(/^file-/),
    });
    expect(emulator.faults.applied).toEqual([{ method: 'POST', path: '/files', fault: 'slow' }]);
    expect(Date.now()).toBeLessThan(deadline);
  });

  it('does not start a call it has no time to finish', async () => {
    const azure = provider({ remainingTimeMs: () => 2_000, reserveMs: 1_000 });
    await expect(azure.findJobByRunId('run-1')).rejects.toMatchObject({
      name: 'ProviderUnavailableError',
      message: expect.stringContaining('Too little time'),
    });
  });
});
