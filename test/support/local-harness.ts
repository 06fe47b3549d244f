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
} from '../../local/openai-emulator/server.js';

/**
 * The one way local scenarios start: the OpenAI emulator, the local cloud pointed at it with the same
 * key, and an OpenAI client to look at the emulator as the provider sees it. Time runs 1000 times
 * faster and the functions log nothing unless a suite asks.
 */
export const SAMPLE = join(PROJECT_ROOT, 'local/samples/support-tickets.jsonl');
export const BROKEN = join(PROJECT_ROOT, 'local/samples/broken-tickets.jsonl');

export interface LocalHarness {
  apiKey: string;
  cloud: LocalCloud;
  emulator: RunningEmulator;
  openai: OpenAI;
  /** Drops a file as a user would and waits for its run to end. */
  dropAndWait(path: string, key: string, timeoutMs?: number): Promise<RunRecord>;
  close(): Promise<void>;
}

export interface LocalHarnessOptions {
  apiKey: string;
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
  try {
    cloud = await startLocalCloud({
      logLevel: 'SILENT',
      timeScale: 1 / 1000,
      ...options.cloud,
      openAiBaseUrl: emulator.baseUrl,
      apiKey: options.apiKey,
    });
  } catch (error) {
    await emulator.close();
    throw error;
  }
  if (options.webhooks ?? true) await connectProviderWebhooks(cloud, emulator);
  return {
    apiKey: options.apiKey,
    cloud,
    emulator,
    openai: new OpenAI({ apiKey: options.apiKey, baseURL: emulator.baseUrl }),
    async dropAndWait(path, key, timeoutMs = 60_000) {
      return cloud.waitForRun(await cloud.drop(path, key), { timeoutMs });
    },
    async close() {
      await cloud.close();
      await emulator.close();
    },
  };
}
