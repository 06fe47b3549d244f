import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import OpenAI, { toFile } from 'openai';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createEmbeddings } from '../../local/openai-emulator/embeddings.js';
import {
  startOpenAiEmulator,
  type RunningEmulator,
  type ServicePrincipal,
} from '../../local/openai-emulator/server.js';
import { localEmbedding } from '../../local/embeddings/vectors.js';
import { chatDataset } from '../support/fakes.js';
import { expectShape as expectOpenAiShape } from '../support/openai-spec.js';

/**
 * The emulator's Azure OpenAI mode against the published Azure v1 spec (the excerpt in
 * ../fixtures/azure-openai/, with its source in its header), with the plain `openai` client pointed at
 * `endpoint + '/openai/v1/'` as Microsoft's docs do.
 */
const SPEC_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '../fixtures/azure-openai/v1-fine-tuning-schemas.yaml',
);
const spec = toJsonSchema2020(parse(readFileSync(SPEC_PATH, 'utf8'))) as {
  components: { schemas: Record<string, Record<string, unknown>> };
};
/**
 * Azure's status vocabulary (FineTuningState of the 2025-04-01-preview spec, see the fixture's header),
 * which the emulator answers with where the v1 spec lists OpenAI's six: a job is checked against the v1
 * schema with this status enum.
 */
const AZURE_FINE_TUNING_STATE = [
  'created',
  'pending',
  'running',
  'pausing',
  'paused',
  'resuming',
  'succeeded',
  'cancelled',
  'failed',
];
const schemas = spec.components.schemas;
const v1Job = schemas['OpenAI.FineTuningJob']!;
schemas.AzureStatusFineTuningJob = {
  ...v1Job,
  properties: {
    ...(v1Job.properties as Record<string, unknown>),
    status: { type: 'string', enum: AZURE_FINE_TUNING_STATE },
  },
};
schemas.AzureStatusJobList = {
  ...schemas['OpenAI.ListPaginatedFineTuningJobsResponse']!,
  properties: {
    ...(schemas['OpenAI.ListPaginatedFineTuningJobsResponse']!.properties as Record<string, unknown>),
    data: { type: 'array', items: { $ref: '#/components/schemas/AzureStatusFineTuningJob' } },
  },
};
const ajv = new Ajv2020.default({ strict: false, allErrors: true, validateFormats: false });
addFormats.default(ajv);
ajv.addSchema({ ...spec, $id: 'azure' });

/** The OpenAPI 3.0 `nullable` rewritten to its JSON Schema 2020-12 meaning (as contract.test.ts does). */
function toJsonSchema2020(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema2020);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = toJsonSchema2020(value);
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

function expectShape(name: string, value: unknown): void {
  const validate = ajv.getSchema(`azure#/components/schemas/${name}`)!;
  if (!validate(JSON.parse(JSON.stringify(value))))
    throw new Error(
      `${name} does not match the spec: ${ajv.errorsText(validate.errors, { separator: '\n' })}`,
    );
}

const KEY = 'azure-contract-key';
const BOM = '\uFEFF';
let emulator: RunningEmulator;
let client: OpenAI;

const azureClient = (endpoint: string, key = KEY) =>
  new OpenAI({
    baseURL: `${endpoint}/openai/v1/`,
    apiKey: 'unused',
    // openai-node 7 drops a header set to null, and accepts an explicit api-key (see the last test).
    defaultHeaders: { 'api-key': key, Authorization: null },
    maxRetries: 0,
  });

const raw = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${emulator.endpoint}/openai/v1${path}`, {
    ...init,
    headers: { 'api-key': KEY, ...init.headers },
  });
  return { status: response.status, body: (await response.json()) as unknown };
};

async function upload(c: OpenAI, text: string, name = 'train.jsonl') {
  return c.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'fine-tune' });
}

async function waitFor(c: OpenAI, jobId: string, statuses: string[], seen?: Set<string>) {
  for (let i = 0; i < 1000; i++) {
    const job = await c.fineTuning.jobs.retrieve(jobId);
    seen?.add(job.status);
    if (statuses.includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`job ${jobId} never reached ${statuses.join('/')}`);
}

beforeAll(async () => {
  emulator = await startOpenAiEmulator({
    flavor: 'azure-openai',
    apiKey: KEY,
    entraToken: 'entra-token',
    timing: { validatingMs: 20, queuedMs: 20, msPerStep: 1 },
  });
  client = azureClient(emulator.endpoint);
});
afterAll(() => emulator.close());

describe('the contract validator', () => {
  it('rejects a job with an OpenAI-only status, so the checks below can fail', () => {
    expect(() => expectShape('AzureStatusFineTuningJob', { id: 'x', status: 'queued' })).toThrow(/status/);
  });
});

describe('the endpoint', () => {
  it('is http://host:port, with the API under /openai/v1', () => {
    expect(emulator.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.baseUrl).toBe(emulator.endpoint);
  });

  it('takes api-version v1 or preview, and refuses a dated one as Azure does', async () => {
    expect((await raw('/files?api-version=v1')).status).toBe(200);
    expect((await raw('/files?api-version=preview')).status).toBe(200);
    const dated = await raw('/files?api-version=2025-04-01-preview');
    expect(dated).toEqual({
      status: 400,
      body: { error: { code: 'BadRequest', message: 'API version not supported', type: 'error' } },
    });
    expectShape('AzureErrorResponse', dated.body);
  });

  it("answers a wrong or missing key, or an unexpected bearer, with Azure's 401", async () => {
    const denied = {
      error: {
        code: '401',
        message:
          'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
      },
    };
    expect(await raw('/files', { headers: { 'api-key': 'wrong' } })).toEqual({ status: 401, body: denied });
    const bearer = await fetch(`${emulator.endpoint}/openai/v1/files`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(bearer.status).toBe(401);
    await expect(azureClient(emulator.endpoint, 'wrong').files.list()).rejects.toMatchObject({ status: 401 });
    expectShape('AzureErrorResponse', denied);
    const entra = await fetch(`${emulator.endpoint}/openai/v1/files`, {
      headers: { authorization: 'Bearer entra-token' },
    });
    expect(entra.status).toBe(200);
  });

  it('has no OpenAI paths and no model delete (the v1 spec has only GET /models/{model})', async () => {
    expect((await fetch(`${emulator.endpoint}/v1/files`, { headers: { 'api-key': KEY } })).status).toBe(404);
    expect((await raw('/models/gpt-4o-mini-2024-07-18.ft-x', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('files', () => {
  it("upload with a BOM, retrieve, list, download and delete in the spec's shapes", async () => {
    const text = BOM + chatDataset(12);
    const file = await upload(client, text);
    expectShape('AzureOpenAIFile', file);
    expect(file).toMatchObject({ purpose: 'fine-tune', status: 'processed', bytes: Buffer.byteLength(text) });
    expect(file.id).toMatch(/^file-[0-9a-f]{32}$/);
    expectShape('AzureOpenAIFile', await client.files.retrieve(file.id));
    expectShape('AzureListFilesResponse', (await raw('/files')).body);
    // Bytes, not text(): a WHATWG decode drops the BOM.
    const content = Buffer.from(await (await client.files.content(file.id)).arrayBuffer());
    expect(content.equals(Buffer.from(text))).toBe(true);
    expectShape('OpenAI.DeleteFileResponse', await client.files.delete(file.id));
    const gone = await raw(`/files/${file.id}`);
    expect(gone.status).toBe(404);
    expectShape('AzureErrorResponse', gone.body);
  });

  it('refuses a purpose outside the spec, with a 400 on purpose', async () => {
    const form = new FormData();
    form.append('purpose', 'vision');
    form.append('file', new Blob([chatDataset(10)]), 'train.jsonl');
    const refused = await raw('/files', { method: 'POST', body: form });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { param: 'purpose', type: 'error' } });
  });
});

describe('a fine-tuning job', () => {
  const seen = new Set<string>();
  let created: OpenAI.FineTuning.FineTuningJob;
  let final: OpenAI.FineTuning.FineTuningJob;

  beforeAll(async () => {
    const training = await upload(client, BOM + chatDataset(30));
    const validation = await upload(client, BOM + chatDataset(12), 'valid.jsonl');
    created = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini-2024-07-18',
      training_file: training.id,
      validation_file: validation.id,
      metadata: { runId: 'run-azure-1' },
      // @ts-expect-error Azure's own body field, documented for 2025-04-01-preview.
      trainingType: 'GlobalStandard',
    });
    seen.add(created.status);
    final = await waitFor(client, created.id, ['succeeded', 'failed'], seen);
  });

  it("is created pending, with no metadata, in the spec's shape", () => {
    expect(created.status).toBe('pending');
    expect(created.id).toMatch(/^ftjob-[0-9a-f]{32}$/);
    expect(created.metadata).toBeNull();
    expectShape('AzureStatusFineTuningJob', created);
  });

  it("goes pending → running → succeeded, named <base>.ft-<hex>, in the spec's shape", () => {
    expect(final.status).toBe('succeeded');
    expect([...seen]).toEqual(expect.arrayContaining(['pending', 'running', 'succeeded']));
    expect([...seen].some((s) => ['validating_files', 'queued'].includes(s))).toBe(false);
    expect(final.fine_tuned_model).toMatch(/^gpt-4o-mini-2024-07-18\.ft-[0-9a-f]{32}$/);
    expect(final.fine_tuned_model).not.toContain(created.id.slice(6));
    expect(final.metadata).toBeNull();
    expectShape('AzureStatusFineTuningJob', final);
  });

  it("serves results.csv as plain CSV with Azure's columns", async () => {
    const csv = await (await client.files.content(final.result_files[0]!)).text();
    const [header, ...rows] = csv.trim().split('\n');
    expect(header).toBe(
      'step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy,full_valid_loss,full_valid_mean_token_accuracy',
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(
      rows
        .at(-1)!
        .split(',')
        .every((cell) => cell !== ''),
    ).toBe(true);
  });

  it("lists events and checkpoints in the spec's shapes", async () => {
    expectShape(
      'OpenAI.ListFineTuningJobEventsResponse',
      (await raw(`/fine_tuning/jobs/${final.id}/events`)).body,
    );
    const checkpoints = (await raw(`/fine_tuning/jobs/${final.id}/checkpoints`)).body;
    expectShape('OpenAI.ListFineTuningJobCheckpointsResponse', checkpoints);
  });

  it('is not found by its metadata: the list does not filter on it', async () => {
    const other = await client.fineTuning.jobs.create({
      model: 'gpt-4.1-mini-2025-04-14',
      training_file: (await upload(client, BOM + chatDataset(10))).id,
    });
    const listed = (await raw('/fine_tuning/jobs?metadata[runId]=run-azure-1')).body as {
      data: Array<{ id: string; metadata: unknown }>;
    };
    expectShape('AzureStatusJobList', listed);
    expect(listed.data.map((job) => job.id)).toEqual(expect.arrayContaining([created.id, other.id]));
    expect(listed.data.every((job) => job.metadata === null)).toBe(true);
    await client.fineTuning.jobs.cancel(other.id);
  });

  it('pages the job list with after and limit, so the SDK iterator ends', async () => {
    const first = (await raw('/fine_tuning/jobs?limit=1')).body as {
      data: Array<{ id: string }>;
      has_more: boolean;
    };
    expect(first.data).toHaveLength(1);
    expect(first.has_more).toBe(true);
    const ids: string[] = [];
    for await (const job of client.fineTuning.jobs.list({ limit: 1 })) ids.push(job.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(created.id);
  });
});

describe('what Azure refuses or fails', () => {
  it('fails a job whose training file has no BOM, naming the file', async () => {
    const file = await upload(client, chatDataset(12));
    const job = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini-2024-07-18',
      training_file: file.id,
    });
    const failed = await waitFor(client, job.id, ['failed', 'succeeded']);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'invalid_training_file', param: 'training_file' });
    expect(failed.error!.message).toContain(file.id);
    expect(failed.error!.message).toMatch(/byte-order mark/);
  });

  it('fails a training file of 9 examples', async () => {
    const file = await upload(client, BOM + chatDataset(9));
    const job = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini-2024-07-18',
      training_file: file.id,
    });
    const failed = await waitFor(client, job.id, ['failed', 'succeeded']);
    expect(failed.error).toMatchObject({ code: 'invalid_n_examples' });
  });

  it("refuses a model Azure does not fine-tune, and DPO on gpt-4o-mini, in Azure's error shape", async () => {
    const file = await upload(client, BOM + chatDataset(10));
    for (const body of [
      { model: 'gpt-3.5-turbo-0125', training_file: file.id },
      { model: 'o4-mini-2025-04-16', training_file: file.id },
      { model: 'gpt-4o-mini-2024-07-18', training_file: file.id, method: { type: 'dpo' } },
      { model: 'gpt-4o-mini-2024-07-18', training_file: file.id, trainingType: 'Premium' },
    ]) {
      const refused = await raw('/fine_tuning/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(refused.status).toBe(400);
      expectShape('AzureErrorResponse', refused.body);
      expect(refused.body).toMatchObject({ error: { type: 'error' } });
    }
  });

  it('answers an injected fault in the Azure error shape, and can lose a create response', async () => {
    emulator.faults.onRequest({
      method: 'POST',
      path: '/fine_tuning/jobs',
      fault: { kind: 'status', status: 503, retryAfterSeconds: 2 },
    });
    const file = await upload(client, BOM + chatDataset(10));
    const body = JSON.stringify({ model: 'gpt-4o-mini-2024-07-18', training_file: file.id });
    const post = () =>
      raw('/fine_tuning/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const unavailable = await post();
    expect(unavailable.status).toBe(503);
    expectShape('AzureErrorResponse', unavailable.body);
    emulator.faults.onRequest({ method: 'POST', path: '/fine_tuning/jobs', fault: { kind: 'lostResponse' } });
    const before = ((await raw('/fine_tuning/jobs?limit=100')).body as { data: unknown[] }).data.length;
    await expect(post()).rejects.toThrow();
    const after = ((await raw('/fine_tuning/jobs?limit=100')).body as { data: Array<{ id: string }> }).data;
    expect(after.length).toBe(before + 1);
    await client.fineTuning.jobs.cancel(after[0]!.id);
  });
});

describe('one running training job per resource', () => {
  let limited: RunningEmulator;
  let c: OpenAI;
  beforeAll(async () => {
    limited = await startOpenAiEmulator({
      flavor: 'azure-openai',
      apiKey: KEY,
      timing: { validatingMs: 5, queuedMs: 5, msPerStep: 3 },
    });
    c = azureClient(limited.endpoint);
  });
  afterAll(() => limited.close());

  it('keeps a second job pending until the first finishes, and cancels a pending one', async () => {
    const file = await upload(c, BOM + chatDataset(40));
    const first = await c.fineTuning.jobs.create({
      model: 'gpt-4.1-nano-2025-04-14',
      training_file: file.id,
    });
    await waitFor(c, first.id, ['running']);
    const second = await c.fineTuning.jobs.create({
      model: 'gpt-4.1-nano-2025-04-14',
      training_file: file.id,
    });
    const third = await c.fineTuning.jobs.create({
      model: 'gpt-4.1-nano-2025-04-14',
      training_file: file.id,
    });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await c.fineTuning.jobs.retrieve(second.id)).status).toBe('pending');
    expect((await c.fineTuning.jobs.cancel(third.id)).status).toBe('cancelled');
    await waitFor(c, first.id, ['succeeded']);
    await waitFor(c, second.id, ['running', 'succeeded']);
    expect(limited.maxConcurrentJobs()).toBeGreaterThanOrEqual(2);
    await waitFor(c, second.id, ['succeeded']);
  });

  it('pauses and resumes a running job: pausing → paused, resuming → running', async () => {
    const file = await upload(c, BOM + chatDataset(60));
    const job = await c.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: file.id });
    await waitFor(c, job.id, ['running']);
    const paused = await c.fineTuning.jobs.pause(job.id);
    expect(paused.status).toBe('pausing');
    await waitFor(c, job.id, ['paused']);
    await expect(c.fineTuning.jobs.pause(job.id)).rejects.toMatchObject({ status: 400 });
    expect((await c.fineTuning.jobs.resume(job.id)).status).toBe('resuming');
    await waitFor(c, job.id, ['running', 'succeeded']);
    expect((await waitFor(c, job.id, ['succeeded', 'failed'])).status).toBe('succeeded');
  });

  it('refuses a 21st pending job with a 429', async () => {
    const file = await upload(c, BOM + chatDataset(200));
    const running = await c.fineTuning.jobs.create({
      model: 'gpt-4o-mini-2024-07-18',
      training_file: file.id,
    });
    await waitFor(c, running.id, ['running']);
    const pending = [];
    for (let i = 0; i < 20; i++)
      pending.push(
        await c.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: file.id }),
      );
    await expect(
      c.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: file.id }),
    ).rejects.toMatchObject({ status: 429 });
    for (const job of [running, ...pending]) await c.fineTuning.jobs.cancel(job.id);
  });
});

describe('the openai client', () => {
  it('sends only api-key when Authorization is set to null in defaultHeaders', async () => {
    const received: IncomingHttpHeaders[] = [];
    const echo = createServer((request, response) => {
      received.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ object: 'list', data: [], has_more: false }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    try {
      await azureClient(`http://127.0.0.1:${(echo.address() as AddressInfo).port}`).files.list();
      expect(received[0]!['api-key']).toBe(KEY);
      expect(received[0]!.authorization).toBeUndefined();
      expect(received[0]!['x-stainless-lang']).toBe('js');
    } finally {
      echo.close();
    }
  });
});

/**
 * Embeddings on Azure: a deployment of a base embedding model, made through ARM as a user makes it in the
 * portal (an Entra token for the service principal, then PUT …/deployments/{name}), answers POST
 * /openai/v1/embeddings with `model` = the deployment's name, with the api-key header, as the same
 * createEmbeddings that answers OpenAI's route. The Azure v1 spec's embeddings schemas are not in the
 * fixture: the answer is checked against OpenAI's CreateEmbeddingResponse, the one the v1 API returns
 * through the `openai` client.
 */
describe('embeddings through a deployment of an embedding model', () => {
  const SP: ServicePrincipal = {
    tenantId: '0c0c0c0c-1111-4222-8333-444444444444',
    clientId: '55555555-6666-4777-8888-999999999999',
    clientSecret: 'embeddings-secret',
    subscriptionId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    resourceGroup: 'rg-embeddings',
    accountName: 'aoai-embeddings',
  };
  let azure: RunningEmulator;
  let c: OpenAI;
  let token: string;
  const deploymentUrl = (name: string) =>
    `${azure.endpoint}/arm/subscriptions/${SP.subscriptionId}/resourceGroups/${SP.resourceGroup}` +
    `/providers/Microsoft.CognitiveServices/accounts/${SP.accountName}/deployments/${name}?api-version=2024-10-01`;
  const put = async (name: string, model: string, sku = 'Standard') => {
    const response = await fetch(deploymentUrl(name), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        sku: { name: sku, capacity: 10 },
        properties: { model: { format: 'OpenAI', name: model, version: '1' } },
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const succeeded = async (name: string) => {
    for (let i = 0; i < 500; i++) {
      const response = await fetch(deploymentUrl(name), { headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { properties: { provisioningState: string } };
      if (body.properties.provisioningState === 'Succeeded') return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`deployment ${name} never succeeded`);
  };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${azure.endpoint}/openai/v1${path}`, {
      method: 'POST',
      headers: { 'api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    azure = await startOpenAiEmulator({
      flavor: 'azure-openai',
      apiKey: KEY,
      servicePrincipal: SP,
      timing: { deployingMs: 40 },
    });
    c = azureClient(azure.endpoint);
    const response = await fetch(`${azure.endpoint}/entra/${SP.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: SP.clientId,
        client_secret: SP.clientSecret,
        scope: 'https://management.azure.com/.default',
      }).toString(),
    });
    token = ((await response.json()) as { access_token: string }).access_token;
  });
  afterAll(() => azure.close());

  it('deploys text-embedding-3-small through ARM: 201 Accepted, then Succeeded', async () => {
    const created = await put('embed-small', 'text-embedding-3-small');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'embed-small',
      type: 'Microsoft.CognitiveServices/accounts/deployments',
      properties: {
        model: { format: 'OpenAI', name: 'text-embedding-3-small' },
        provisioningState: 'Accepted',
      },
    });
    await succeeded('embed-small');
    expect(azure.deployments).toContainEqual(
      expect.objectContaining({ name: 'embed-small', model: 'text-embedding-3-small' }),
    );
  });

  it("answers model = the deployment's name as OpenAI's route does, counted under the deployment", async () => {
    const texts = ['My parcel is late', 'Refund my order'];
    const answer = await c.embeddings.create({
      model: 'embed-small',
      input: texts,
      dimensions: 256,
      encoding_format: 'float',
    });
    expectOpenAiShape('CreateEmbeddingResponse', answer);
    const same = createEmbeddings({
      model: 'text-embedding-3-small',
      input: texts,
      dimensions: 256,
      encoding_format: 'float',
    });
    if (same instanceof Error) throw same;
    expect(answer).toEqual(same.body);
    expect(answer.data[1]!.embedding).toEqual(localEmbedding(texts[1]!, 256));
    expect(azure.embeddingCalls.byModel['embed-small']).toEqual({
      calls: 1,
      inputs: 2,
      tokens: same.tokens,
    });
  });

  it("refuses what the model refuses, in Azure's error shape", async () => {
    const { status, body } = await post('/embeddings', {
      model: 'embed-small',
      input: 'x',
      dimensions: 2000,
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'invalid_value', param: 'dimensions', type: 'error' });
    const missing = await post('/embeddings', { input: 'x' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ param: 'model', type: 'error' });
  });

  it('answers 404 DeploymentNotFound for an unknown name, a base model name, and a deployment not yet ready', async () => {
    const expected = {
      error: {
        code: 'DeploymentNotFound',
        message: expect.stringContaining('The API deployment for this resource does not exist.'),
      },
    };
    expect(await post('/embeddings', { model: 'no-such-deployment', input: 'x' })).toEqual({
      status: 404,
      body: expected,
    });
    expect(await post('/embeddings', { model: 'text-embedding-3-small', input: 'x' })).toEqual({
      status: 404,
      body: expected,
    });
    expect((await put('embed-large', 'text-embedding-3-large')).status).toBe(201);
    expect(await post('/embeddings', { model: 'embed-large', input: 'x' })).toEqual({
      status: 404,
      body: expected,
    });
    await expect(c.embeddings.create({ model: 'no-such-deployment', input: 'x' })).rejects.toMatchObject({
      status: 404,
      code: 'DeploymentNotFound',
    });
  });

  it('answers chat on an embedding deployment with 400 OperationNotSupported', async () => {
    const { status, body } = await post('/chat/completions', {
      model: 'embed-small',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({
      code: 'OperationNotSupported',
      message: expect.stringContaining(
        'The chatCompletion operation does not work with the specified model, text-embedding-3-small.',
      ),
    });
  });

  it('refuses a developer-tier deployment of an embedding model, and a base chat model', async () => {
    const developer = await put('embed-dev', 'text-embedding-3-small', 'developertier');
    expect(developer.status).toBe(400);
    expect(developer.body.error.code).toBe('InvalidResourceProperties');
    const chat = await put('chat-base', 'gpt-4o-mini-2024-07-18');
    expect(chat.status).toBe(400);
    expect(chat.body.error.code).toBe('DeploymentModelNotSupported');
  });
});
