import { z } from 'zod';
import { ProviderRejectedError, ProviderUnavailableError, type TunedropError } from '../core/errors.js';
import type { DeploymentState, ModelDeployments } from '../core/ports.js';
import { redactSecrets, registerSecret } from '../core/redact.js';
import type { AzureManagement } from './provider-secrets.js';

/**
 * The ARM api-version of Microsoft's Developer-tier example ("Deploy a fine-tuned model for testing",
 * https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/fine-tune-test, page date 2025-09-30,
 * read 2026-11-30; docs/evaluation-facts.md 2.2): the one known to take the `developertier` sku.
 */
const ARM_API_VERSION = '2025-07-01-preview';

/**
 * A Developer deployment: no hosting fee, per-token billing, deleted by Azure after 24 hours, "designed for
 * model candidate evaluation" (the same page). Capacity 50 is the page's (thousands of tokens a minute).
 */
const DEVELOPER_SKU = { name: 'developertier', capacity: 50 } as const;

/** How long one management call may take, retries aside. */
const CALL_TIMEOUT_MS = 30_000;

const TokenSchema = z.looseObject({ access_token: z.string().min(1), expires_in: z.coerce.number() });
const DeploymentSchema = z.looseObject({
  properties: z.looseObject({ provisioningState: z.string() }).optional(),
});
const ArmErrorSchema = z.looseObject({
  error: z.looseObject({ code: z.string().optional(), message: z.string().optional() }),
});
const EntraErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

const ROLE_FIX =
  'Give the service principal in the Azure OpenAI secret ("management") a role with Microsoft.CognitiveServices/accounts/deployments/write on the resource (Cognitive Services Contributor, or Azure AI Owner), and check its tenant, client id and secret.';

/**
 * Deploying models on an Azure OpenAI resource for evaluation: Azure Resource Manager's deployments of the
 * resource (PUT, GET, DELETE `…/accounts/<account>/deployments/<name>`), authorized by a service
 * principal's token from Microsoft Entra (client credentials, scope `https://management.azure.com/.default`).
 * A deployment is ready when its `provisioningState` is `Succeeded` (Accepted and Creating before it;
 * Failed and Canceled end it: docs/evaluation-facts.md 2.2). The deployment's name is what chat
 * completions take as `model`, so it is the deployment's id here.
 */
export function azureModelDeployments(management: AzureManagement): ModelDeployments {
  registerSecret(management.clientSecret);
  let token: { value: string; until: number } | undefined;

  const failure = (what: string, status: number, body: unknown): TunedropError => {
    const arm = ArmErrorSchema.safeParse(body);
    const entra = EntraErrorSchema.safeParse(body);
    const said = redactSecrets(
      arm.success
        ? `${arm.data.error.code ?? status}: ${arm.data.error.message ?? ''}`
        : entra.success
          ? `${entra.data.error}: ${entra.data.error_description ?? ''}`
          : `HTTP ${status}`,
    );
    if (status === 429 || status >= 500)
      return new ProviderUnavailableError(
        `Azure could not ${what} (${said})`,
        'tunedrop retries this with backoff; if the run still failed, check https://azure.status.microsoft and drop the file again.',
      );
    return new ProviderRejectedError(
      `Azure refused to ${what} (${said})`,
      status === 401 || status === 403 || entra.success
        ? ROLE_FIX
        : 'Check the message: a Developer deployment takes fine-tunes of the gpt-4.1 family, and a resource at most 5 fine-tuned deployments.',
      arm.success ? arm.data.error.code : entra.success ? entra.data.error : String(status),
    );
  };

  const send = async (what: string, url: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    } catch (error) {
      throw new ProviderUnavailableError(
        `Azure could not ${what}: ${error instanceof Error ? error.message : String(error)}`,
        'tunedrop retries this; if the run still failed, drop the file again.',
        { cause: error },
      );
    }
  };

  const bearer = async (): Promise<string> => {
    if (token && Date.now() < token.until) return token.value;
    const response = await send(
      'sign in the service principal',
      `${management.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(management.tenantId)}/oauth2/v2.0/token`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: management.clientId,
          client_secret: management.clientSecret,
          // The token's audience is Resource Manager's, whichever host answers for it.
          scope: 'https://management.azure.com/.default',
        }),
      },
    );
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) throw failure('sign in the service principal', response.status, body);
    const parsed = TokenSchema.parse(body);
    registerSecret(parsed.access_token);
    // A minute's margin: a token that expires during a call fails it.
    token = { value: parsed.access_token, until: Date.now() + (parsed.expires_in - 60) * 1000 };
    return token.value;
  };

  const urlOf = (name: string) =>
    `${management.resourceManager.replace(/\/+$/, '')}/subscriptions/${encodeURIComponent(management.subscriptionId)}/resourceGroups/${encodeURIComponent(management.resourceGroup)}/providers/Microsoft.CognitiveServices/accounts/${encodeURIComponent(management.accountName)}/deployments/${encodeURIComponent(name)}?api-version=${ARM_API_VERSION}`;

  const arm = async (what: string, method: string, name: string, body?: unknown) => {
    const response = await send(what, urlOf(name), {
      method,
      headers: {
        authorization: `Bearer ${await bearer()}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const json: unknown = text ? JSON.parse(text) : null;
    return { status: response.status, ok: response.ok, json };
  };

  return {
    async deploy(model, name) {
      const what = `deploy ${model} (Developer tier) as ${name}`;
      // A PUT is create-or-update: asking again with the same body finds the same deployment.
      const answer = await arm(what, 'PUT', name, {
        sku: DEVELOPER_SKU,
        properties: { model: { format: 'OpenAI', name: model, version: '1' } },
      });
      if (!answer.ok) throw failure(what, answer.status, answer.json);
      return name;
    },
    async state(name): Promise<DeploymentState> {
      const what = `read the deployment ${name}`;
      const answer = await arm(what, 'GET', name);
      if (answer.status === 404)
        return { status: 'failed', reason: 'the deployment is gone (a Developer deployment lives 24 hours)' };
      if (!answer.ok) throw failure(what, answer.status, answer.json);
      const state = DeploymentSchema.parse(answer.json).properties?.provisioningState ?? 'Accepted';
      if (state === 'Succeeded') return { status: 'active' };
      if (state === 'Failed' || state === 'Canceled')
        return { status: 'failed', reason: `its provisioning state is ${state}` };
      return { status: 'creating' };
    },
    async remove(name) {
      const what = `remove the deployment ${name}`;
      const answer = await arm(what, 'DELETE', name);
      if (!answer.ok && answer.status !== 404) throw failure(what, answer.status, answer.json);
    },
  };
}
