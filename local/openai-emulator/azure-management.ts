import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.js';
import { completeChat } from './chat-completions.js';
import { createEmbeddings, EMBEDDING_MODELS } from './embeddings.js';
import type { DeploymentFault, Faults } from './faults.js';
import { readJson, sendJson, type Route } from './http.js';
import { ChatCompletionLog, type Store } from './store.js';

/**
 * Azure OpenAI's management side, as a model needs it before it can answer: an Entra ID token for a
 * service principal (client credentials), Azure Resource Manager's deployments of the account (of the
 * models it fine-tuned, and of the base embedding models), and the data plane's v1 chat completions and
 * embeddings answered from a deployment. Served by the Azure flavor of the
 * emulator next to its data plane: `{endpoint}/entra` stands for https://login.microsoftonline.com and
 * `{endpoint}/arm` for https://management.azure.com. Facts are those of docs/evaluation-facts.md section 2
 * (read 2026-11-30) unless cited here; where Azure's exact wording was not found, the comment says so.
 */

/** The one service principal the emulator knows, and the account (resource) it may manage. */
export interface ServicePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
  resourceGroup: string;
  accountName: string;
}

export interface DeploymentTiming {
  /**
   * Real milliseconds from a deployment's PUT to Succeeded: Accepted for the first half, Creating for the
   * second. How long Azure takes is not documented (evaluation-facts 2.2).
   */
  deployingMs: number;
  /**
   * A developer-tier deployment's lifetime: "Developer Tier deployments have a fixed lifetime of 24 hours"
   * and auto-delete (https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/fine-tune-test,
   * read 2026-11-30). The emulator has no clock of its own: real milliseconds, 24 h by default.
   */
  developerLifetimeMs: number;
}

export const DEFAULT_DEPLOYMENT_TIMING: DeploymentTiming = {
  deployingMs: 100,
  developerLifetimeMs: 24 * 60 * 60 * 1000,
};

/** `KnownDeploymentProvisioningState` of @azure/arm-cognitiveservices (the subset the emulator reaches). */
export type ProvisioningState = 'Accepted' | 'Creating' | 'Succeeded' | 'Failed';

export interface DeploymentSummary {
  name: string;
  /** The deployed model's name: a fine-tune of this resource, or a base embedding model. */
  model: string;
  sku: { name: string; capacity: number };
  provisioningState: ProvisioningState;
}

/** The routes' mount points on the emulator's host. */
export const ENTRA_PREFIX = '/entra';
export const ARM_PREFIX = '/arm';

/**
 * "At most 5 fine-tuned model deployments per resource" (evaluation-facts 2.1, from Azure's quotas page).
 * Whether developer deployments count is NOT CONFIRMED: every deployment counts here, failed ones too
 * (they exist until deleted).
 */
export const AZURE_MAX_FINE_TUNED_DEPLOYMENTS = 5;

/**
 * The sku names accepted, compared case-insensitively: `standard` (the deploy page's body; the spec's
 * PutDeployment example writes `Standard`), `GlobalStandard` (NOT CONFIRMED for fine-tunes, evaluation-facts
 * 2.2) and `developertier` (fine-tune-test page, with api-version 2025-07-01-preview). Standard and Global
 * Standard would cost $1.70/hour hosting on Azure.
 */
const SKUS = ['standard', 'globalstandard', 'developertier'];
/**
 * "Developer deployments are available from all Azure OpenAI regions for the following models: o4-mini,
 * GPT-4.1, GPT-4.1-mini, GPT-4.1-nano" (https://learn.microsoft.com/en-us/azure/foundry/openai/how-to/fine-tuning-deploy,
 * read 2026-11-30): gpt-4o and gpt-4o-mini are not listed, so their fine-tunes are refused. o4-mini is not
 * fine-tuned by this emulator.
 */
const DEVELOPER_BASE = /^gpt-4\.1(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?$/;

/**
 * The base models a deployment may be made of: the embedding models (embeddings.ts EMBEDDING_MODELS).
 * "Prerequisites: An Azure OpenAI resource with an embedding model deployment"; "The `model` value in each
 * request is your Azure model deployment name" (Microsoft Learn, how-to/embeddings, docs/embeddings-facts.md
 * section 2, read 2026-11-30). Which model versions Azure offers (the ARM body's `version`) was NOT
 * CONFIRMED: any is taken. Deploying one works as for a fine-tune (PUT, Accepted → Creating → Succeeded),
 * with a Standard or GlobalStandard sku: developertier is for fine-tunes (fine-tune-test page). The base
 * chat models are not deployable: Azure retired them (evaluation-facts 2.3).
 */
const isBaseEmbeddingModel = (name: string) => Object.hasOwn(EMBEDDING_MODELS, name);

/**
 * The data plane's 400 for an operation the deployment's model does not do: {"error": {"code":
 * "OperationNotSupported", "message": "The embeddings operation does not work with the specified model,
 * gpt-35-turbo. Please choose different model and try again. You can learn more about which models can be
 * used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993."}} (OpenHands/OpenHands#1003,
 * 2024-03; the chatCompletion form for text-embedding-3-large in microsoft/graphrag#1557, 2024-12; read
 * 2026-11-30).
 */
const operationNotSupported = (operation: 'embeddings' | 'chatCompletion', model: string) => ({
  status: 400,
  json: {
    error: {
      code: 'OperationNotSupported',
      message: `The ${operation} operation does not work with the specified model, ${model}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.`,
    },
  },
});

/**
 * The data plane's answer for a name that is not a ready deployment, as the live service gives it
 * (Azure-Samples/azure-search-openai-demo-csharp#379, 2024-11-15: 404, body
 * {"error":{"code":"DeploymentNotFound","message":…}}; the same text in MicrosoftDocs/azure-docs#114013).
 */
const DEPLOYMENT_NOT_FOUND = {
  error: {
    code: 'DeploymentNotFound',
    message:
      'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
  },
};

/**
 * Azure caps top_logprobs at 5: "Invalid value for 'top_logprobs': must be less than or equal to 5"
 * (confident-ai/deepeval#843, 2024-06-21, whose title adds " for AzureOpenAi Models", which reads as the
 * reporter's). The code and param of that 400 were not found: `invalid_value` and `top_logprobs`, as
 * OpenAI's own invalid values are coded.
 */
export const AZURE_MAX_TOP_LOGPROBS = 5;

interface Deployment extends DeploymentSummary {
  /** A fine-tune of this resource, or a base embedding model. */
  kind: 'fine-tuned' | 'embedding';
  format: string;
  version: string;
  createdAt: string;
  timers: NodeJS.Timeout[];
  /** The request body that made it, for an idempotent repeat. */
  fingerprint: string;
}

/** Issued Entra access tokens and their expiry (ms since the epoch). */
type Tokens = Map<string, number>;

/** "expires_in": 3599 in Microsoft identity platform client-credentials answers (seconds). */
const TOKEN_LIFETIME_S = 3599;
/** The scopes that name Azure Resource Manager: the brief's, and the legacy audience with its double slash. */
const ARM_SCOPES = ['https://management.azure.com/.default', 'https://management.core.windows.net//.default'];

export class AzureManagement {
  private readonly deployments = new Map<string, Deployment>();
  private readonly tokens: Tokens = new Map();
  /** Chat completions answered through deployments, by deployment name (kept after a deployment is deleted). */
  readonly chatByDeployment = new ChatCompletionLog();

  constructor(
    private readonly store: Store,
    private readonly faults: Faults,
    private readonly timing: DeploymentTiming,
    readonly principal: ServicePrincipal | undefined,
  ) {}

  summaries(): DeploymentSummary[] {
    return [...this.deployments.values()].map(({ name, model, sku, provisioningState }) => ({
      name,
      model,
      sku: { ...sku },
      provisioningState,
    }));
  }

  close(): void {
    for (const deployment of this.deployments.values()) deployment.timers.forEach(clearTimeout);
  }

  /** Answers a request under /entra or /arm; false when the path is neither (the data plane's). */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const under = (prefix: string) => url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
    if (!under(ENTRA_PREFIX) && !under(ARM_PREFIX)) return false;
    const answer = under(ENTRA_PREFIX) ? this.token(request, url) : this.arm(request, url);
    answer.then(
      ({ status, body }) =>
        body === undefined ? (response.writeHead(status), response.end()) : sendJson(response, status, body),
      (error: unknown) =>
        sendJson(response, 500, {
          error: { code: 'InternalServerError', message: (error as Error).message },
        }),
    );
    return true;
  }

  // ---------------------------------------------------------------- Entra ID

  /**
   * POST {authorityHost}/{tenant}/oauth2/v2.0/token, client credentials with a secret. The answer's fields
   * are the Microsoft identity platform's (token_type Bearer, expires_in, ext_expires_in, access_token).
   * Errors carry Entra's body {error, error_description, error_codes, timestamp, trace_id, correlation_id,
   * error_uri}, the description ending in Trace ID, Correlation ID and Timestamp lines as the live service
   * writes it (joelmeiller/cypress-msal-login#11, 2023-06-11).
   */
  private async token(request: IncomingMessage, url: URL): Promise<{ status: number; body: unknown }> {
    const m = /^\/entra\/([^/]+)\/oauth2\/v2\.0\/token\/?$/.exec(url.pathname);
    if (!m || request.method !== 'POST') {
      request.resume();
      return { status: 404, body: { error: 'not_found', error_description: 'Not found' } };
    }
    const tenant = decodeURIComponent(m[1]!);
    const form = new URLSearchParams(await readText(request));
    const principal = this.principal;
    // AADSTS90002 (tenant not found), 400 invalid_request: the code is Entra's; this wording is from
    // Entra's error-code reference as remembered, NOT found in a stored source.
    if (!principal || tenant !== principal.tenantId)
      return entraError(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    const grant = form.get('grant_type');
    // AADSTS900144 "The request body must contain the following parameter: '…'." (n8n-io/n8n#33881,
    // 2026-07-09, for 'scope').
    if (!grant)
      return entraError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
      );
    // AADSTS70003 unsupported_grant_type: code from Entra's reference; wording NOT found in a stored source.
    if (grant !== 'client_credentials')
      return entraError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant}'.`,
      );
    const clientId = form.get('client_id');
    if (!clientId)
      return entraError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'client_id'.",
      );
    // AADSTS700016, wording as users quote it (OfficeDev/microsoft-teams-apps-company-communicator#267,
    // 2020-12-12; microsoftgraph/msgraph-sdk-dotnet#454). Its `error` on the token endpoint
    // (unauthorized_client) and status 400 were NOT found in a stored source.
    if (clientId !== principal.clientId)
      return entraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    const secret = form.get('client_secret');
    // AADSTS7000218 (joelmeiller/cypress-msal-login#11: invalid_client).
    if (!secret)
      return entraError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    // AADSTS7000215 "Invalid client secret provided. Ensure the secret being sent in the request is the
    // client secret value, not the client secret ID, for a secret added to app '…'." (hoppscotch/hoppscotch#3868,
    // 2024-02-28; the code's meaning: https://learn.microsoft.com/en-us/azure/developer/java/sdk/troubleshooting-authentication-service-principal,
    // read 2026-11-30). Status 401 for invalid_client is an assumption: NOT CONFIRMED.
    if (secret !== principal.clientSecret)
      return entraError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    const scope = form.get('scope');
    if (!scope)
      return entraError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'scope'.",
      );
    // AADSTS70011 invalid_scope (laravel/socialite#315, 2018-12-19; MicrosoftDocs/azure-docs#36432).
    if (!ARM_SCOPES.includes(scope))
      return entraError(
        400,
        'invalid_scope',
        70011,
        `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      );
    const token = accessToken(principal);
    this.tokens.set(token, Date.now() + TOKEN_LIFETIME_S * 1000);
    return {
      status: 200,
      body: {
        token_type: 'Bearer',
        expires_in: TOKEN_LIFETIME_S,
        ext_expires_in: TOKEN_LIFETIME_S,
        access_token: token,
      },
    };
  }

  // ---------------------------------------------------------------- ARM

  private async arm(request: IncomingMessage, url: URL): Promise<{ status: number; body?: unknown }> {
    const auth = this.armAuth(request);
    if (auth) {
      request.resume();
      return auth;
    }
    const principal = this.principal!;
    const m =
      /^\/arm\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.cognitiveservices\/accounts\/([^/]+)\/deployments(?:\/([^/]+))?\/?$/i.exec(
        url.pathname,
      );
    const method = request.method ?? 'GET';
    if (!m) {
      request.resume();
      // ARM's answer for a path no provider serves: wording NOT found; the code is the ARM convention.
      return armError(
        404,
        'InvalidResourceType',
        `No route for ${method} ${url.pathname.slice(ARM_PREFIX.length)}.`,
      );
    }
    const [sub, group, account, name] = [m[1]!, m[2]!, m[3]!, m[4]].map(
      (part) => part && decodeURIComponent(part),
    );
    // ARM requires api-version on every request: 400 MissingApiVersionParameter "The api-version query
    // parameter (?api-version=) is required for all requests." (ARM's wording as remembered; NOT found in
    // a stored source). Any dated version is taken: whether a stable one accepts developertier is NOT
    // CONFIRMED (evaluation-facts 2.2).
    const version = url.searchParams.get('api-version');
    if (!version) {
      request.resume();
      return armError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(version)) {
      request.resume();
      return armError(400, 'InvalidApiVersionParameter', `The api-version '${version}' is invalid.`);
    }
    // ARM compares subscription, group and account names case-insensitively. The subscription's and the
    // group's codes are ARM's (SubscriptionNotFound, ResourceGroupNotFound; wording NOT found in a stored
    // source); the account's 404 is as the live service words it (Azure-Samples/azure-search-openai-demo#80,
    // 2023-04-01: "The Resource 'Microsoft.CognitiveServices/accounts/…' under resource group '…' was not
    // found. For more details please go to https://aka.ms/ARMResourceNotFoundFix").
    const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
    if (!same(sub!, principal.subscriptionId)) {
      request.resume();
      return armError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
    }
    if (!same(group!, principal.resourceGroup)) {
      request.resume();
      return armError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
    }
    if (!same(account!, principal.accountName)) {
      request.resume();
      return armError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.CognitiveServices/accounts/${account}' under resource group '${group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );
    }
    const base = `/subscriptions/${principal.subscriptionId}/resourceGroups/${principal.resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${principal.accountName}/deployments`;
    if (name === undefined) {
      request.resume();
      if (method !== 'GET') return armError(405, 'MethodNotAllowed', `${method} is not supported here.`);
      return { status: 200, body: { value: [...this.deployments.values()].map((d) => resource(base, d)) } };
    }
    if (method === 'GET') {
      request.resume();
      const deployment = this.deployments.get(name);
      if (!deployment) return notFound(`${base}/${name}`);
      return { status: 200, body: resource(base, deployment) };
    }
    if (method === 'DELETE') {
      request.resume();
      // DeleteDeployment answers 200, 202 or 204 (the spec's example, Azure/azure-rest-api-specs
      // …/Microsoft.CognitiveServices/stable/2024-10-01/examples/DeleteDeployment.json): 200 once deleted
      // here, 204 for a deployment that does not exist. Deleting it leaves the model, as Azure's does.
      if (!this.remove(name)) return { status: 204 };
      return { status: 200 };
    }
    if (method === 'PUT') return this.put(base, name, await readJson(request).catch(() => undefined));
    request.resume();
    return armError(405, 'MethodNotAllowed', `${method} is not supported here.`);
  }

  /**
   * A bearer Entra issued here and not expired. Without a header: 401 AuthenticationFailed "Authentication
   * failed. The 'Authorization' header is missing." (Azure/azure-sdk-for-net#4103, 2018-03-02;
   * janeczku/rancher-letsencrypt#89); a bearer ARM does not accept: 401 InvalidAuthenticationToken "The
   * access token is invalid." (Azure/azure-powershell#27882, 2025-06; Azure/azure-cli#9212).
   */
  private armAuth(request: IncomingMessage): { status: number; body: unknown } | undefined {
    const header = request.headers.authorization;
    if (!header)
      return armError(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
      );
    const m = /^Bearer (\S+)$/.exec(header);
    if (!m)
      // AuthenticationFailedInvalidHeader (Azure/azure-sdk-for-python#4124, 2019-01-04).
      return armError(
        401,
        'AuthenticationFailedInvalidHeader',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      );
    const expiry = this.tokens.get(m[1]!);
    if (!this.principal || expiry === undefined || expiry < Date.now())
      return armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
    return undefined;
  }

  private put(base: string, name: string, body: unknown): { status: number; body: unknown } {
    const parsed = parseDeployment(body);
    if (typeof parsed === 'string') return armError(400, 'InvalidRequestContent', parsed);
    const { sku, model } = parsed;
    const fingerprint = JSON.stringify([
      sku.name.toLowerCase(),
      sku.capacity,
      model.format,
      model.name,
      model.version,
    ]);
    const existing = this.deployments.get(name);
    // A repeated PUT with the same body is idempotent: it answers the resource as it is (200, the spec's
    // PutDeployment example has 200 for an existing deployment and 201 for a new one).
    if (existing && existing.fingerprint === fingerprint)
      return { status: 200, body: resource(base, existing) };
    if (isBaseEmbeddingModel(model.name)) {
      // Wording NOT found, as for the developer tier of a gpt-4o fine-tune below.
      if (sku.name.toLowerCase() === 'developertier')
        return armError(
          400,
          'InvalidResourceProperties',
          `The specified SKU '${sku.name}' for model '${model.name}' is not supported: developer deployments take fine-tuned models only.`,
        );
      return this.create(base, name, parsed, 'embedding', fingerprint, existing);
    }
    const fineTuned = this.store.fineTunedModel(model.name);
    // A model this resource did not fine-tune, or a base chat model ("a base-model comparator cannot be
    // deployed on Azure today", evaluation-facts 2.3). Azure's code and wording for this refusal were NOT
    // found; DeploymentModelNotSupported is the Cognitive Services code for a model it will not deploy.
    if (!fineTuned)
      return armError(
        400,
        'DeploymentModelNotSupported',
        `The model '${model.name}' of format '${model.format}' and version '${model.version}' is not a fine-tuned model of this resource or a base embedding model.`,
      );
    // Wording NOT found: Azure's refusal of an unsupported sku for a model is coded InvalidResourceProperties
    // in live answers for base models ("The specified SKU '…' for model '…' is not supported …"), as remembered.
    if (sku.name.toLowerCase() === 'developertier' && !DEVELOPER_BASE.test(fineTuned.base))
      return armError(
        400,
        'InvalidResourceProperties',
        `The specified SKU '${sku.name}' for model '${model.name}' is not supported: developer deployments take fine-tunes of gpt-4.1, gpt-4.1-mini and gpt-4.1-nano only.`,
      );
    // The 6th deployment: the limit is Azure's (5 per resource); its code and wording were NOT found.
    // InsufficientQuota is the code ARM gives a deployment beyond a quota (Azure-Samples/azure-search-openai-demo#402,
    // 2023-07-10, for capacity). Deployments of base models are not fine-tuned ones: they do not count.
    const fineTunedCount = [...this.deployments.values()].filter((d) => d.kind === 'fine-tuned').length;
    if (existing?.kind !== 'fine-tuned' && fineTunedCount >= AZURE_MAX_FINE_TUNED_DEPLOYMENTS)
      return armError(
        400,
        'InsufficientQuota',
        `This resource already has ${AZURE_MAX_FINE_TUNED_DEPLOYMENTS} fine-tuned model deployments, the most it may have. Delete one before deploying another.`,
      );
    return this.create(base, name, parsed, 'fine-tuned', fingerprint, existing);
  }

  private create(
    base: string,
    name: string,
    { sku, model }: DeploymentRequest,
    kind: Deployment['kind'],
    fingerprint: string,
    existing: Deployment | undefined,
  ): { status: number; body: unknown } {
    if (existing) existing.timers.forEach(clearTimeout);
    const deployment: Deployment = {
      kind,
      name,
      model: model.name,
      format: model.format,
      version: model.version,
      sku: { name: sku.name, capacity: sku.capacity },
      provisioningState: 'Accepted',
      createdAt: existing?.createdAt ?? new Date().toISOString(),
      timers: [],
      fingerprint,
    };
    this.deployments.set(name, deployment);
    this.provision(deployment, this.faults.takeDeploymentFault());
    // 201 with Accepted for a new deployment (the spec's PutDeployment example); 200 for an update.
    return { status: existing ? 200 : 201, body: resource(base, deployment) };
  }

  private provision(deployment: Deployment, fault: DeploymentFault): void {
    const { deployingMs, developerLifetimeMs } = this.timing;
    const later = (ms: number, run: () => void) => {
      const timer = setTimeout(run, ms);
      timer.unref();
      deployment.timers.push(timer);
    };
    later(deployingMs / 2, () => {
      deployment.provisioningState = 'Creating';
      if (fault.stuckCreating) return;
      later(deployingMs / 2, () => {
        deployment.provisioningState = fault.fail ? 'Failed' : 'Succeeded';
      });
    });
    if (deployment.sku.name.toLowerCase() === 'developertier')
      later(developerLifetimeMs, () => {
        if (this.deployments.get(deployment.name) === deployment) this.remove(deployment.name);
      });
  }

  private remove(name: string): boolean {
    const deployment = this.deployments.get(name);
    if (!deployment) return false;
    deployment.timers.forEach(clearTimeout);
    return this.deployments.delete(name);
  }

  // ---------------------------------------------------------------- data plane

  /** POST {endpoint}/openai/v1/chat/completions with `model` naming a deployment. */
  readonly chatRoute: Route = async ({ store }, { method, path, request }) => {
    if (method !== 'POST' || path !== '/chat/completions') return undefined;
    const body = await readJson(request);
    const name = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined;
    const deployment = typeof name === 'string' ? this.deployments.get(name) : undefined;
    // Only a deployment that has Succeeded answers: "Deployment needs to be in succeeded state in order
    // to infer" (evaluation-facts 2.2). A base model's name is no deployment (they are retired on Azure).
    if (!deployment || deployment.provisioningState !== 'Succeeded')
      return { status: 404, json: DEPLOYMENT_NOT_FOUND };
    if (deployment.kind === 'embedding') return operationNotSupported('chatCompletion', deployment.model);
    const topLogprobs = (body as { top_logprobs?: unknown }).top_logprobs;
    if (typeof topLogprobs === 'number' && topLogprobs > AZURE_MAX_TOP_LOGPROBS)
      throw new ApiError(
        400,
        `Invalid value for 'top_logprobs': must be less than or equal to ${AZURE_MAX_TOP_LOGPROBS}`,
        'top_logprobs',
        'invalid_value',
      );
    const answered = completeChat(store, { ...(body as object), model: deployment.model });
    if (answered instanceof ApiError) throw answered;
    store.chatCompletions.record(answered.model, answered.usage);
    this.chatByDeployment.record(deployment.name, answered.usage);
    return { json: answered.body };
  };

  /**
   * POST {endpoint}/openai/v1/embeddings with `model` naming a deployment of an embedding model, answered
   * by the one function OpenAI's route uses (embeddings.ts createEmbeddings) for the deployed model: the
   * same checks, vectors and cl100k_base usage; the answer's `model` is the deployed model's. The call is
   * recorded in `embeddingCalls` under the deployment's name, the model as the request named it. A name
   * that is no Succeeded deployment: 404 DeploymentNotFound, as for chat; a deployment of a fine-tuned chat
   * model: 400 OperationNotSupported. A body without a string `model` gets createEmbeddings' own 400.
   */
  readonly embeddingsRoute: Route = async ({ store }, { method, path, request }) => {
    if (method !== 'POST' || path !== '/embeddings') return undefined;
    const body = await readJson(request);
    const name = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined;
    if (typeof name !== 'string') {
      const refused = createEmbeddings(body);
      if (refused instanceof ApiError) throw refused;
    }
    const deployment = typeof name === 'string' ? this.deployments.get(name) : undefined;
    if (!deployment || deployment.provisioningState !== 'Succeeded')
      return { status: 404, json: DEPLOYMENT_NOT_FOUND };
    if (deployment.kind !== 'embedding') return operationNotSupported('embeddings', deployment.model);
    const answered = createEmbeddings({ ...(body as object), model: deployment.model });
    if (answered instanceof ApiError) throw answered;
    store.embeddingCalls.record(deployment.name, { inputs: answered.inputs, tokens: answered.tokens });
    return { json: answered.body };
  };
}

function resource(base: string, d: Deployment) {
  return {
    id: `${base}/${d.name}`,
    name: d.name,
    type: 'Microsoft.CognitiveServices/accounts/deployments',
    sku: { ...d.sku },
    systemData: { createdAt: d.createdAt, createdByType: 'Application' },
    properties: {
      model: { format: d.format, name: d.model, version: d.version },
      provisioningState: d.provisioningState,
    },
  };
}

/**
 * ARM's 404 for a deployment that does not exist, as the live service answered through the Python SDK:
 * code NotFound, "Specified resource '/subscriptions/…/deployments/chat' cannot be found."
 * (microsoft/PubSec-Info-Assistant#385, 2023-12-06). `DeploymentNotFound` is the data plane's code.
 */
function notFound(id: string) {
  return armError(404, 'NotFound', `Specified resource '${id}' cannot be found.`);
}

/** ARM's error body: {error: {code, message}} (every ARM answer cited above). */
function armError(status: number, code: string, message: string) {
  return { status, body: { error: { code, message } } };
}

function entraError(status: number, error: string, code: number, message: string) {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/** A JWT-shaped token (unsigned: nobody but this emulator checks it) with ARM's audience and the tenant. */
function accessToken(principal: ServicePrincipal): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return [
    part({ typ: 'JWT', alg: 'none' }),
    part({
      aud: 'https://management.azure.com',
      tid: principal.tenantId,
      appid: principal.clientId,
      iat: now,
      exp: now + TOKEN_LIFETIME_S,
      jti: randomBytes(8).toString('hex'),
    }),
    randomBytes(16).toString('base64url'),
  ].join('.');
}

interface DeploymentRequest {
  sku: { name: string; capacity: number };
  model: { format: string; name: string; version: string };
}

/** The PUT body's fields the emulator acts on; a problem is a message (ARM's wording was not found). */
function parseDeployment(body: unknown): DeploymentRequest | string {
  const b = (body ?? {}) as {
    sku?: { name?: unknown; capacity?: unknown };
    properties?: { model?: Record<string, unknown> };
  };
  const skuName = b.sku?.name;
  if (typeof skuName !== 'string' || !SKUS.includes(skuName.toLowerCase()))
    return `The sku name ${JSON.stringify(skuName ?? null)} is not supported: expected Standard, GlobalStandard or developertier.`;
  const capacity = b.sku?.capacity ?? 1;
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1)
    return `The sku capacity ${JSON.stringify(capacity)} is invalid: expected a positive whole number.`;
  const model = b.properties?.model;
  if (!model || typeof model.name !== 'string' || !model.name) return 'properties.model.name is required.';
  if (model.format !== 'OpenAI')
    return `The model format ${JSON.stringify(model.format ?? null)} is not supported: expected OpenAI.`;
  const version = typeof model.version === 'string' ? model.version : '1';
  return { sku: { name: skuName, capacity }, model: { format: 'OpenAI', name: model.name, version } };
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
