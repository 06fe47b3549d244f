import { azureModelDeployments } from '../../functions/adapters/azure-deployments.js';
import type { AzureManagement } from '../../functions/adapters/provider-secrets.js';
import { redactSecrets } from '../../functions/core/redact.js';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { AZURE_SERVICE_PRINCIPAL } from '../support/local-harness.js';

/**
 * The Azure deployments adapter (azure-deployments.ts) against the emulator's Microsoft Entra and Azure
 * Resource Manager: how it reads their answers and refusals. The whole path (deploy, wait, ask, remove) runs
 * in test/local/evaluation-azure.test.ts.
 */
let emulator: RunningEmulator;
let management: AzureManagement;

beforeAll(async () => {
  emulator = await startOpenAiEmulator({
    flavor: 'azure-openai',
    apiKey: 'azure-adapter-test',
    servicePrincipal: AZURE_SERVICE_PRINCIPAL,
  });
  management = emulator.servicePrincipal!;
});
afterAll(() => emulator?.close());

describe('azureModelDeployments', () => {
  it('refuses a model Azure will not deploy, with its code and what to check', async () => {
    await expect(
      azureModelDeployments(management).deploy('gpt-4.1-mini-2025-04-14', 'tunedrop-new-x'),
    ).rejects.toMatchObject({
      name: 'ProviderRejectedError',
      code: 'DeploymentModelNotSupported',
      fix: expect.stringContaining('gpt-4.1 family'),
    });
  });

  it('reads a deployment that is not there as failed (Developer deployments live 24 hours), and removes it without error', async () => {
    const deployments = azureModelDeployments(management);
    expect(await deployments.state('tunedrop-new-gone')).toEqual({
      status: 'failed',
      reason: expect.stringContaining('24 hours'),
    });
    await deployments.remove('tunedrop-new-gone');
  });

  it('refuses a service principal Entra does not know, naming the role to give it, and never shows its secret', async () => {
    const wrong = { ...management, clientSecret: 'wrong-secret-canary-9191' };
    const error = (await azureModelDeployments(wrong)
      .state('tunedrop-new-x')
      .catch((e: unknown) => e)) as Error & { fix: string; code: string };
    expect(error).toMatchObject({ name: 'ProviderRejectedError', code: 'invalid_client' });
    expect(error.fix).toContain('deployments/write');
    expect(redactSecrets(`${error.message} ${error.fix}`)).not.toContain('wrong-secret-canary-9191');
    expect(error.message).not.toContain('wrong-secret-canary-9191');
  });
});
