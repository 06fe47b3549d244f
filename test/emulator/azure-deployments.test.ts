import OpenAI, { toFile } from 'openai';
import {
  startOpenAiEmulator,
  type RunningEmulator,
  type ServicePrincipal,
} from '../../local/openai-emulator/server.js';
import { chatDataset } from '../support/fakes.js';

/**
 * The Azure flavor's management side: an Entra token for the service principal, ARM deployments of the
 * models it fine-tuned, and the v1 chat completions answered from a deployment once it has Succeeded.
 */
const KEY = 'azure-deployments-key';
const BOM = '\uFEFF';
const SP: ServicePrincipal = {
  tenantId: '11111111-2222-4333-8444-555555555555',
  clientId: '66666666-7777-4888-8999-aaaaaaaaaaaa',
  clientSecret: 'sp-secret',
  subscriptionId: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff',
  resourceGroup: 'rg-tunedrop',
  accountName: 'aoai-tunedrop',
};
const API_VERSION = '2025-07-01-preview';
const DEPLOYING_MS = 80;

let emulator: RunningEmulator;
let client: OpenAI;
let token: string;
/** A fine-tune of gpt-4.1-mini (developer tier allowed) and of gpt-4o-mini (not allowed). */
let model41: string;
let model4o: string;

const deploymentsUrl = (name = '', version: string | null = API_VERSION, sp = SP) =>
  `${emulator.endpoint}/arm/subscriptions/${sp.subscriptionId}/resourceGroups/${sp.resourceGroup}` +
  `/providers/Microsoft.CognitiveServices/accounts/${sp.accountName}/deployments${name ? `/${name}` : ''}` +
  (version ? `?api-version=${version}` : '');

/** A JSON body read loosely: the tests reach into ARM resources and chat answers by path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

async function json(response: Response) {
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Loose) : undefined };
}

async function getToken(form: Record<string, string>, tenant = SP.tenantId) {
  return json(
    await fetch(`${emulator.endpoint}/entra/${tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    }),
  );
}

const goodForm = () => ({
  grant_type: 'client_credentials',
  client_id: SP.clientId,
  client_secret: SP.clientSecret,
  scope: 'https://management.azure.com/.default',
});

const arm = async (
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${token}` },
) =>
  json(
    await fetch(url, {
      method,
      headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    }),
  );

const deployBody = (model: string, sku = 'developertier', capacity = 50) => ({
  sku: { name: sku, capacity },
  properties: { model: { format: 'OpenAI', name: model, version: '1' } },
});

const deploy = (name: string, model: string, sku?: string) =>
  arm('PUT', deploymentsUrl(name), deployBody(model, sku));
const remove = (name: string) => arm('DELETE', deploymentsUrl(name));

async function waitForState(name: string, states: string[], seen?: Set<string>) {
  for (let i = 0; i < 2000; i++) {
    const { status, body } = await arm('GET', deploymentsUrl(name));
    const state = status === 200 ? (body!.properties.provisioningState as string) : `HTTP ${status}`;
    seen?.add(state);
    if (states.includes(state)) return body!;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`deployment ${name} never reached ${states.join('/')}`);
}

const chat = async (model: string, extra: Record<string, unknown> = {}) =>
  json(
    await fetch(`${emulator.endpoint}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        messages: [
          { role: 'system', content: 'Classify the support ticket.' },
          { role: 'user', content: 'Ticket 3: something about billing number 21' },
        ],
        temperature: 0,
        max_tokens: 5,
        ...extra,
      }),
    }),
  );

async function train(base: string): Promise<string> {
  const file = await client.files.create({
    file: await toFile(Buffer.from(BOM + chatDataset(30)), 'train.jsonl'),
    purpose: 'fine-tune',
  });
  const job = await client.fineTuning.jobs.create({ model: base, training_file: file.id });
  for (let i = 0; i < 2000; i++) {
    const current = await client.fineTuning.jobs.retrieve(job.id);
    if (current.status === 'succeeded') return current.fine_tuned_model!;
    if (current.status === 'failed' || current.status === 'cancelled')
      throw new Error(`job ${job.id} ${current.status}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`job ${job.id} never finished`);
}

const DEPLOYMENT_NOT_FOUND = {
  error: {
    code: 'DeploymentNotFound',
    message:
      'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
  },
};

beforeAll(async () => {
  emulator = await startOpenAiEmulator({
    flavor: 'azure-openai',
    apiKey: KEY,
    servicePrincipal: SP,
    timing: { validatingMs: 5, queuedMs: 5, msPerStep: 0, deployingMs: DEPLOYING_MS },
  });
  client = new OpenAI({
    baseURL: `${emulator.endpoint}/openai/v1/`,
    apiKey: 'unused',
    defaultHeaders: { 'api-key': KEY, Authorization: null },
    maxRetries: 0,
  });
  model41 = await train('gpt-4.1-mini-2025-04-14');
  model4o = await train('gpt-4o-mini-2024-07-18');
  const answer = await getToken(goodForm());
  token = answer.body!.access_token as string;
});
afterAll(() => emulator.close());
afterEach(async () => {
  for (const { name } of emulator.deployments) await remove(name);
  emulator.faults.clear();
});

describe('the Entra token endpoint', () => {
  it('issues a bearer token for the service principal, as the identity platform answers', async () => {
    const { status, body } = await getToken(goodForm());
    expect(status).toBe(200);
    expect(body).toEqual({
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    });
  });

  it("refuses a wrong secret, client, tenant or scope with Entra's error body", async () => {
    const secret = await getToken({ ...goodForm(), client_secret: 'wrong' });
    expect(secret.status).toBe(401);
    expect(secret.body).toEqual({
      error: 'invalid_client',
      error_description: expect.stringMatching(
        /^AADSTS7000215: Invalid client secret provided\..*Trace ID: /,
      ),
      error_codes: [7000215],
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/),
      trace_id: expect.any(String),
      correlation_id: expect.any(String),
      error_uri: 'https://login.microsoftonline.com/error?code=7000215',
    });
    const client = await getToken({ ...goodForm(), client_id: 'someone-else' });
    expect(client).toMatchObject({ status: 400, body: { error_codes: [700016] } });
    const tenant = await getToken(goodForm(), 'other-tenant');
    expect(tenant).toMatchObject({ status: 400, body: { error: 'invalid_request', error_codes: [90002] } });
    const scope = await getToken({ ...goodForm(), scope: 'https://graph.microsoft.com/.default' });
    expect(scope).toMatchObject({ status: 400, body: { error: 'invalid_scope', error_codes: [70011] } });
    const grant = await getToken({ ...goodForm(), grant_type: 'password' });
    expect(grant).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
  });
});

describe('ARM authentication and addressing', () => {
  it('refuses a missing or foreign bearer, and the data-plane key', async () => {
    expect(await arm('GET', deploymentsUrl('x'), undefined, {})).toEqual({
      status: 401,
      body: {
        error: {
          code: 'AuthenticationFailed',
          message: "Authentication failed. The 'Authorization' header is missing.",
        },
      },
    });
    expect(await arm('GET', deploymentsUrl('x'), undefined, { authorization: 'Bearer nope' })).toEqual({
      status: 401,
      body: { error: { code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' } },
    });
    expect((await arm('GET', deploymentsUrl('x'), undefined, { 'api-key': KEY })).status).toBe(401);
  });

  it('answers 404 for another subscription, group or account, and 400 without api-version', async () => {
    const other = (patch: Partial<ServicePrincipal>) => deploymentsUrl('x', API_VERSION, { ...SP, ...patch });
    expect(await arm('GET', other({ subscriptionId: 'other' }))).toMatchObject({
      status: 404,
      body: { error: { code: 'SubscriptionNotFound' } },
    });
    expect(await arm('GET', other({ resourceGroup: 'other' }))).toMatchObject({
      status: 404,
      body: { error: { code: 'ResourceGroupNotFound' } },
    });
    expect(await arm('GET', other({ accountName: 'other' }))).toMatchObject({
      status: 404,
      body: {
        error: {
          code: 'ResourceNotFound',
          message: expect.stringContaining("The Resource 'Microsoft.CognitiveServices/accounts/other'"),
        },
      },
    });
    expect(await arm('GET', deploymentsUrl('x', null))).toMatchObject({
      status: 400,
      body: { error: { code: 'MissingApiVersionParameter' } },
    });
  });
});

describe('a developer-tier deployment of a model trained here', () => {
  it('goes Accepted → Creating → Succeeded, answers chats as the model, and is gone after DELETE', async () => {
    const seen = new Set<string>();
    const created = await deploy('eval-new', model41);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: `/subscriptions/${SP.subscriptionId}/resourceGroups/${SP.resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${SP.accountName}/deployments/eval-new`,
      name: 'eval-new',
      type: 'Microsoft.CognitiveServices/accounts/deployments',
      sku: { name: 'developertier', capacity: 50 },
      properties: { model: { format: 'OpenAI', name: model41, version: '1' }, provisioningState: 'Accepted' },
    });
    seen.add(created.body!.properties.provisioningState as string);
    // Not yet Succeeded: the data plane does not know it.
    expect(await chat('eval-new')).toEqual({ status: 404, body: DEPLOYMENT_NOT_FOUND });
    const ready = await waitForState('eval-new', ['Succeeded', 'Failed'], seen);
    expect(ready.properties.provisioningState).toBe('Succeeded');
    expect([...seen]).toEqual(['Accepted', 'Creating', 'Succeeded']);
    expect(emulator.deployments).toEqual([
      {
        name: 'eval-new',
        model: model41,
        sku: { name: 'developertier', capacity: 50 },
        provisioningState: 'Succeeded',
      },
    ]);

    // The same PUT again is idempotent.
    const again = await deploy('eval-new', model41);
    expect(again.status).toBe(200);
    expect(again.body!.properties.provisioningState).toBe('Succeeded');

    const first = await chat('eval-new');
    expect(first.status).toBe(200);
    expect(first.body!.model).toBe(model41);
    expect(first.body!.object).toBe('chat.completion');
    // The model learned the labels: at temperature 0 it answers the same, from what it learned.
    const answer = first.body!.choices[0].message.content as string;
    expect(answer.length).toBeGreaterThan(0);
    // A second deployment of the same model answers exactly as the first: one model, one answer.
    await deploy('eval-same', model41, 'standard');
    await waitForState('eval-same', ['Succeeded']);
    const second = await chat('eval-same', { seed: 7 });
    expect(second.body!.choices[0].message.content).toBe(answer);
    expect(emulator.deploymentChatCompletions.byDeployment['eval-new']!.calls).toBe(1);
    expect(emulator.deploymentChatCompletions.byDeployment['eval-same']!.calls).toBe(1);
    expect(emulator.chatCompletions.byModel[model41]!.calls).toBe(2);

    const deleted = await remove('eval-new');
    expect(deleted.status).toBe(200);
    expect(await remove('eval-new')).toEqual({ status: 204, body: undefined });
    expect(await arm('GET', deploymentsUrl('eval-new'))).toMatchObject({
      status: 404,
      body: { error: { code: 'NotFound' } },
    });
    expect(await chat('eval-new')).toEqual({ status: 404, body: DEPLOYMENT_NOT_FOUND });
  });

  it('refuses top_logprobs above 5, as Azure caps it', async () => {
    await deploy('eval-logprobs', model41);
    await waitForState('eval-logprobs', ['Succeeded']);
    const refused = await chat('eval-logprobs', { logprobs: true, top_logprobs: 6 });
    expect(refused).toEqual({
      status: 400,
      body: {
        error: {
          code: 'invalid_value',
          message: "Invalid value for 'top_logprobs': must be less than or equal to 5",
          param: 'top_logprobs',
          type: 'error',
        },
      },
    });
    const five = await chat('eval-logprobs', { logprobs: true, top_logprobs: 5 });
    expect(five.status).toBe(200);
  });

  it('is auto-deleted after its lifetime (24 h on Azure; shortened here)', async () => {
    const short = await startOpenAiEmulator({
      flavor: 'azure-openai',
      apiKey: KEY,
      servicePrincipal: SP,
      timing: { validatingMs: 5, queuedMs: 5, msPerStep: 0, deployingMs: 10, developerLifetimeMs: 60 },
    });
    try {
      const base = emulator;
      emulator = short;
      try {
        const trained = await trainOn(short, 'gpt-4.1-nano-2025-04-14');
        const tokenHere = (await getToken(goodForm())).body!.access_token as string;
        const put = await arm('PUT', deploymentsUrl('short-lived'), deployBody(trained), {
          authorization: `Bearer ${tokenHere}`,
        });
        expect(put.status).toBe(201);
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(short.deployments).toEqual([]);
      } finally {
        emulator = base;
      }
    } finally {
      await short.close();
    }
  });
});

/** Trains on another emulator through its own client. */
async function trainOn(target: RunningEmulator, base: string): Promise<string> {
  const saved = client;
  client = new OpenAI({
    baseURL: `${target.endpoint}/openai/v1/`,
    apiKey: 'unused',
    defaultHeaders: { 'api-key': KEY, Authorization: null },
    maxRetries: 0,
  });
  try {
    return await train(base);
  } finally {
    client = saved;
  }
}

describe('what Azure refuses', () => {
  it('a developer-tier deployment of a gpt-4o fine-tune (developer tier lists gpt-4.1 models only)', async () => {
    const refused = await deploy('eval-4o', model4o);
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'InvalidResourceProperties' } } });
    // Standard takes it (at $1.70/h on Azure).
    expect((await deploy('eval-4o', model4o, 'standard')).status).toBe(201);
  });

  it('a model not fine-tuned here, or a base model: not deployable, and no deployment to chat with', async () => {
    expect(await deploy('eval-x', 'gpt-4.1-mini-2025-04-14.ft-unknown')).toMatchObject({
      status: 400,
      body: { error: { code: 'DeploymentModelNotSupported' } },
    });
    expect(await deploy('eval-base', 'gpt-4.1-mini-2025-04-14')).toMatchObject({ status: 400 });
    expect(await chat('gpt-4.1-mini-2025-04-14')).toEqual({ status: 404, body: DEPLOYMENT_NOT_FOUND });
    expect(await chat(model41)).toEqual({ status: 404, body: DEPLOYMENT_NOT_FOUND });
  });

  it('a sixth fine-tuned deployment on the resource', async () => {
    for (let i = 1; i <= 5; i++) expect((await deploy(`d${i}`, model41, 'standard')).status).toBe(201);
    expect(await deploy('d6', model41, 'standard')).toMatchObject({
      status: 400,
      body: { error: { code: 'InsufficientQuota' } },
    });
    await remove('d1');
    expect((await deploy('d6', model41, 'standard')).status).toBe(201);
  });

  it('a deployment the fault fails ends Failed, and does not answer', async () => {
    emulator.faults.onNextDeployment({ fail: true });
    expect((await deploy('eval-failing', model41)).status).toBe(201);
    const ended = await waitForState('eval-failing', ['Succeeded', 'Failed']);
    expect(ended.properties.provisioningState).toBe('Failed');
    expect(await chat('eval-failing')).toEqual({ status: 404, body: DEPLOYMENT_NOT_FOUND });
    // The next one is not affected.
    await deploy('eval-ok', model41);
    expect((await waitForState('eval-ok', ['Succeeded', 'Failed'])).properties.provisioningState).toBe(
      'Succeeded',
    );
  });
});
