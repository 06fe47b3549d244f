import OpenAI from 'openai';
import { connectProviderWebhooks } from '../../local/connect-webhooks.js';
import { join } from 'node:path';
import type { RunRecord } from '../../functions/core/run.js';
import {
  PROJECT_ROOT,
  startLocalCloud,
  type LocalCloud,
  type LocalCloudOptions,
} from '../../local/cloud/index.js';
import {
  startOpenAiEmulator,
  type EmulatorOptions,
  type RunningEmulator,
  type ServicePrincipal,
} from '../../local/openai-emulator/server.js';

/**
 * The one way local scenarios start: the OpenAI emulator, the local cloud pointed at it with the same
 * key, and an OpenAI client to look at the emulator as the provider sees it; with `azureOpenAi`, the
 * emulator's Azure mode too, its endpoint and key in the stack's Azure OpenAI secret, with the service
 * principal that deploys fine-tuned models (AZURE_SERVICE_PRINCIPAL, Entra and ARM served by the emulator) as
 * its `management`. (Bedrock is part of the local cloud.) Time runs 1000 times faster and the functions log nothing unless a suite asks.
 */
export const SAMPLE = join(PROJECT_ROOT, 'local/samples/support-tickets.jsonl');
export const BROKEN = join(PROJECT_ROOT, 'local/samples/broken-tickets.jsonl');

/** The service principal the harness's Azure emulator accepts, and the account it manages. */
export const AZURE_SERVICE_PRINCIPAL: ServicePrincipal = {
  tenantId: '7a1e0c4d-5e2f-4b6a-9c8d-0e1f2a3b4c5d',
  clientId: 'b1a5e0c4-3d2c-4e1f-8a9b-7c6d5e4f3a2b',
  clientSecret: 'local-client-secret',
  subscriptionId: '5b5c41b0-0000-4000-8000-000000000001',
  resourceGroup: 'tunedrop-local',
  accountName: 'tunedrop-local-aoai',
};

export interface LocalHarness {
  apiKey: string;
  cloud: LocalCloud;
  emulator: RunningEmulator;
  openai: OpenAI;
  /** The emulator in Azure OpenAI's shape, when asked for. */
  azure?: RunningEmulator;
  /** Drops a file as a user would and waits for its run to end. */
  dropAndWait(path: string, key: string, timeoutMs?: number): Promise<RunRecord>;
  close(): Promise<void>;
}

export interface LocalHarnessOptions {
  apiKey: string;
  /** Start the emulator's Azure OpenAI mode too, with this key. @default none */
  azureOpenAiKey?: string;
  /** @default fast jobs: 10 ms validating and queued, no time per step */
  timing?: EmulatorOptions['timing'];
  /**
   * Register the stack's webhook endpoint with the emulator and store its secret, as the README's deploy
   * steps do. @default true
   */
  webhooks?: boolean;
  /** Anything else the cloud should be started with. */
  cloud?: Omit<Partial<LocalCloudOptions>, 'openAiBaseUrl' | 'apiKey'>;
}

export async function startLocalHarness(options: LocalHarnessOptions): Promise<LocalHarness> {
  const emulator = await startOpenAiEmulator({
    apiKey: options.apiKey,
    timing: options.timing ?? { validatingMs: 10, queuedMs: 10, msPerStep: 0 },
  });
  let cloud: LocalCloud;
  let azure: RunningEmulator | undefined;
  try {
    azure = options.azureOpenAiKey
      ? await startOpenAiEmulator({
          flavor: 'azure-openai',
          apiKey: options.azureOpenAiKey,
          servicePrincipal: AZURE_SERVICE_PRINCIPAL,
          timing: options.timing ?? { validatingMs: 10, queuedMs: 10, msPerStep: 0 },
        })
      : undefined;
    cloud = await startLocalCloud({
      logLevel: 'SILENT',
      timeScale: 1 / 1000,
      ...options.cloud,
      openAiBaseUrl: emulator.baseUrl,
      apiKey: options.apiKey,
      ...(azure && options.azureOpenAiKey
        ? {
            azureOpenAi: {
              endpoint: azure.endpoint,
              apiKey: options.azureOpenAiKey,
              management: azure.servicePrincipal!,
            },
          }
        : {}),
    });
  } catch (error) {
    await emulator.close();
    await azure?.close();
    throw error;
  }
  if (options.webhooks ?? true) await connectProviderWebhooks(cloud, emulator);
  return {
    apiKey: options.apiKey,
    cloud,
    emulator,
    ...(azure ? { azure } : {}),
    openai: new OpenAI({ apiKey: options.apiKey, baseURL: emulator.baseUrl }),
    async dropAndWait(path, key, timeoutMs = 60_000) {
      return cloud.waitForRun(await cloud.drop(path, key), { timeoutMs });
    },
    async close() {
      await cloud.close();
      await emulator.close();
      await azure?.close();
    },
  };
}
