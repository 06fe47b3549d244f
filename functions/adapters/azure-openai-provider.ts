import OpenAI from 'openai';
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { azureResultsToTunedrop } from '../core/azure-results.js';
import { ProviderRejectedError, ResultFileMissingError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';
import type { ChatModels, CreateJobRequest, FineTuningProvider, ProviderJob } from '../core/ports.js';
import { azureModelDeployments } from './azure-deployments.js';
import type { AzureManagement } from './provider-secrets.js';
import {
  callBudget,
  chatCompletion,
  FETCH_OPTIONS,
  FileSchema,
  fileToUpload,
  jobCreateBody,
  parseJob,
  toProviderJob,
  type CallBudgetOptions,
  type ProviderVoice,
  sharedJobCalls,
} from './openai-compatible.js';

/**
 * Fine-tuning on Azure OpenAI, through the `openai` package and the machinery it shares with the OpenAI
 * adapter (openai-compatible.ts: call budgets, streamed uploads, job reading, typed errors). Every Azure
 * fact below was read on 2026-11-29; docs/providers.md section A has the sources in full.
 *
 * Which API: Azure's **v1 API**, `{endpoint}/openai/v1/`, with the plain `OpenAI` client. It is GA
 * ("Starting in August 2025, you can opt in to the next generation v1 Azure OpenAI APIs";
 * "`api-version` is no longer a required parameter with the v1 GA API",
 * https://learn.microsoft.com/en-us/azure/foundry/openai/api-version-lifecycle), and Microsoft's
 * fine-tuning how-to uses exactly this client and base URL (docs/providers.md A1). The older route,
 * `AzureOpenAI` with a dated `?api-version=`, would leave tunedrop chasing preview versions; nothing
 * this adapter needs is missing from v1 except `trainingType` (see createJob).
 *
 * Auth: the resource key in the `api-key` header (the v1 spec's ApiKeyAuth; Microsoft's REST examples,
 * docs/providers.md A2). The SDK builds `Authorization: Bearer <apiKey>` itself; openai-node (7.x,
 * node_modules/openai/src/client.ts `defaultHeaders`: "These can be removed … by explicitly setting the
 * header to `null`", and `buildHeaders`, which applies default headers after the auth headers) drops a
 * header set to null, so the client sends `api-key` and no Authorization at all. The SDK insists on an
 * `apiKey` (or reads OPENAI_API_KEY), so it gets a placeholder that is never sent: the key lives in one
 * header only. The key is registered for masking like OpenAI's. Entra ID (bearer tokens for
 * `https://ai.azure.com/.default`) is not supported in this round.
 *
 * Differences from OpenAI that this adapter absorbs, so the steps stay the same:
 * - files must be UTF-8 with a byte-order mark (uploadFile adds it, streaming);
 * - jobs carry no `metadata` (so findJobByRunId finds a lost job by its training file's name);
 * - statuses are Azure's (`pending`, `paused`…), passed through (phaseOf counts them as running);
 * - results.csv has Azure's columns (core/azure-results.ts maps them);
 * - a 429 is a rate or queue limit (1 running and 20 queued jobs per resource), always retried;
 * - there is no model delete in the v1 API.
 */

export interface AzureOpenAiProviderOptions extends CallBudgetOptions {
  /** The resource's endpoint, `https://<resource>.openai.azure.com` (a trailing `/openai/v1` is tolerated). */
  endpoint: string;
  apiKey: string;
}

/**
 * Azure's per-resource fine-tuning limits: "1 simultaneous running training job", 20 queued
 * (https://learn.microsoft.com/en-us/azure/ai-services/openai/quotas-limits, docs/providers.md A4).
 */
const QUEUE_FIX =
  'An Azure OpenAI resource trains 1 job at a time and queues at most 20 (its fine-tuning quota); tunedrop retries with backoff. If the run still failed, let the resource’s other jobs finish (or cancel them in the Azure AI Foundry portal) and drop the file again.';

const SECRET_FIX = `tunedrop's Azure OpenAI secret (aws secretsmanager put-secret-value --secret-id <the stack's Azure OpenAI secret> --secret-string '{"endpoint":"https://<resource>.openai.azure.com","apiKey":"..."}')`;

const AZURE_VOICE: ProviderVoice = {
  title: 'Azure OpenAI',
  retryFix:
    "tunedrop retries this with backoff; if the run still failed, check the resource's Resource health in the Azure portal and https://azure.status.microsoft, then drop the file again.",
  throttledFix: QUEUE_FIX,
  fixes: {
    // Azure's 401 says "invalid subscription key or wrong API endpoint": either half of the secret.
    unauthorized: `Put the Azure OpenAI resource's endpoint and one of its keys (Keys and Endpoint in the Azure portal) in ${SECRET_FIX}.`,
    forbidden:
      "The resource refused the key's request: check its networking rules (they must admit the function) and that fine-tuning is available to it.",
    // LiteLLM found the live service answering a create without trainingType with "The specified base model
    // does not support fine-tuning" (https://github.com/BerriAI/litellm/pull/24687, docs/providers.md A3).
    refused:
      'Check the family\'s tunedrop.json: the model must be fine-tunable in the resource\'s region, the suffix at most 18 characters (Azure\'s fine-tuning how-to), and the hyperparameters in range. If Azure says the base model does not support fine-tuning, set "azure": {"trainingType": "GlobalStandard"} (or "Standard" in a region that trains the model).',
    fileTooLarge:
      'Azure OpenAI takes less than 512 MB per file: split the data into several files and drop each one.',
    keyHeader: `Store the key again without line breaks or other invisible characters in ${SECRET_FIX}.`,
  },
};

/** Never sent (the Authorization header is removed): the SDK only wants some key to exist. */
const UNUSED_BEARER_KEY = 'unused-the-key-goes-in-the-api-key-header';

/**
 * "Training and validation data files must be encoded in UTF-8 and include a byte-order mark (BOM)"
 * (MicrosoftDocs/azure-ai-docs articles/foundry/includes/fine-tuning-foundry.md, docs/providers.md A4).
 */
const UTF8_BOM = new Uint8Array([0xef, 0xbb, 0xbf]);

/**
 * How far findJobByRunId looks. A resource holds at most 50 files and 100 training jobs (quotas page,
 * docs/providers.md A4), so one page of each is the usual case; the bound only keeps a misbehaving list
 * from paging without end.
 */
const PAGE_SIZE = 100;
const MAX_PAGES = 5;

const FileListItemSchema = z.looseObject({
  id: z.string(),
  filename: z.string().nullish(),
  created_at: z.number().nullish(),
});
const ListPageSchema = z.looseObject({ data: z.array(z.unknown()), has_more: z.boolean().nullish() });

/**
 * Azure OpenAI's chat completions, for evaluation, through the same client and call budget as OpenAI's
 * (openai-compatible.ts chatCompletion): a fine-tuned model answers from a deployment, whose name is the
 * request's `model`, so with `management` the models asked are deployed first (Developer tier:
 * azure-deployments.ts). Azure returns at most 5 alternatives per token ("must be less than or equal to 5
 * for AzureOpenAi Models", docs/evaluation-facts.md 2.3).
 */
export function azureChatModels(
  options: AzureOpenAiProviderOptions & { management?: AzureManagement | undefined },
): ChatModels {
  const { call, api } = callBudget(options, AZURE_VOICE);
  const client = azureClient(options, api);
  return {
    name: 'azure-openai',
    maxTopLogprobs: 5,
    complete: (request) => chatCompletion(client, call, api, request),
    ...(options.management ? { deployments: azureModelDeployments(options.management) } : {}),
  };
}

/** The v1 API's client: the key in the `api-key` header only (see the top of this file). */
function azureClient(options: AzureOpenAiProviderOptions, api: { capMs: number; attempts: number }): OpenAI {
  registerSecret(options.apiKey);
  const endpoint = options.endpoint.replace(/\/+$/, '').replace(/\/openai(\/v1)?$/, '');
  return new OpenAI({
    apiKey: UNUSED_BEARER_KEY,
    baseURL: `${endpoint}/openai/v1/`,
    defaultHeaders: { 'api-key': options.apiKey, Authorization: null },
    timeout: api.capMs,
    maxRetries: api.attempts - 1,
    fetchOptions: FETCH_OPTIONS,
  });
}

export function azureOpenAiProvider(options: AzureOpenAiProviderOptions): FineTuningProvider {
  const { call, api, upload } = callBudget(options, AZURE_VOICE);
  // Whoever made this provider, its key is masked in every error that leaves it (and in the logs). The
  // SDK builds each request's headers when it sends it, so a key no header can carry fails inside a
  // call, as a typed error without the key (InvalidConfigError), not here.
  const client = azureClient(options, api);

  /** Ids and upload times of the run's training files: those named `<runId>-<label>` (see below). */
  const runFiles = async (runId: string): Promise<Map<string, number>> => {
    const found = new Map<string, number>();
    let after: string | undefined;
    for (let pageNo = 0; pageNo < MAX_PAGES; pageNo++) {
      const page = ListPageSchema.parse(
        await call('list uploaded files', api, (budget) =>
          client.files.list({ purpose: 'fine-tune', limit: PAGE_SIZE, ...(after ? { after } : {}) }, budget),
        ),
      );
      const files = page.data.map((item) => FileListItemSchema.parse(item));
      for (const file of files)
        if (file.filename && isRunFile(file.filename, runId)) found.set(file.id, file.created_at ?? 0);
      if (!page.has_more || files.length === 0) break;
      after = files.at(-1)!.id;
    }
    return found;
  };

  const shared = sharedJobCalls(client, call, api);
  return {
    name: 'azure-openai',

    async uploadFile({ fileName, path }) {
      // Prepare writes UTF-8 without a BOM; one already there is not doubled (a second would be a
      // U+FEFF character at the start of the first line, which is not JSON).
      const file = await fileToUpload(path, fileName, (await startsWithBom(path)) ? undefined : UTF8_BOM);
      const created = await call(`upload ${fileName}`, upload, (budget) =>
        client.files.create({ file, purpose: 'fine-tune' }, budget),
      );
      const parsed = FileSchema.parse(created);
      return { fileId: parsed.id, bytes: parsed.bytes };
    },

    async createJob(request) {
      // No SDK retry: Azure takes no idempotency key either, and a retried create could start a second
      // paid job. The caller looks the job up by runId first (findJobByRunId) and retries through the workflow.
      const job = await call('create the fine-tuning job', { ...api, attempts: 1 }, (budget) =>
        client.fineTuning.jobs.create(azureJobBody(request), budget),
      );
      return toProviderJob(job);
    },

    /**
     * Azure keeps no `metadata` on a job (the 2025-04-01-preview spec has no such field, and whether v1
     * keeps what its spec accepts was not found: docs/providers.md A3), so a job whose create answer was
     * lost is found by its training file: Upload names it `<runId>-train.jsonl` (UploadRequest.fileName).
     * The run's files are listed, then jobs newest first until one trains on one of them, or until the
     * jobs are older than the oldest such file (a job cannot predate its training file), or the bound.
     */
    async findJobByRunId(runId) {
      const files = await runFiles(runId);
      if (files.size === 0) return undefined;
      const oldestFile = Math.min(...files.values());
      let after: string | undefined;
      for (let pageNo = 0; pageNo < MAX_PAGES; pageNo++) {
        const page = ListPageSchema.parse(
          await call('list fine-tuning jobs', api, (budget) =>
            client.fineTuning.jobs.list({ limit: PAGE_SIZE, ...(after ? { after } : {}) }, budget),
          ),
        );
        const jobs = page.data.map((item) => parseJob(item));
        const match = jobs.find(({ trainingFile }) => trainingFile !== null && files.has(trainingFile));
        if (match) return match.job;
        if (!page.has_more || jobs.length === 0) return undefined;
        const last = jobs.at(-1)!.job;
        if (last.createdAt < oldestFile) return undefined;
        after = last.id;
      }
      return undefined;
    },

    getJob: shared.getJob,
    cancelJob: shared.cancelJob,

    async resultFile(job: ProviderJob) {
      const fileId = job.resultFileIds[0];
      if (!fileId) return undefined;
      const bytes = await shared.download(fileId);
      try {
        return new TextEncoder().encode(azureResultsToTunedrop(bytes));
      } catch (error) {
        throw new ResultFileMissingError(
          `job ${job.id} succeeded but its result file ${fileId} is not a results.csv tunedrop can read (${(error as Error).message})`,
          'The model may still be usable; check the job in the Azure AI Foundry portal. Drop the file again to retrain.',
        );
      }
    },

    async deleteModel(model) {
      // The v1 spec has GET /models/{model} and no DELETE: a fine-tuned model goes with its deployment,
      // through ARM or the portal (docs/providers.md A7), which a resource key cannot reach.
      throw new ProviderRejectedError(
        `Azure OpenAI's API cannot delete the fine-tuned model ${model}`,
        'Delete its deployment and the model in the Azure AI Foundry portal (or through Azure Resource Manager).',
        'not_supported',
      );
    },
  };
}

/**
 * OpenAI's body without `metadata`, which Azure does not keep, and with `trainingType` when the run sets
 * it (Standard, GlobalStandard, developerTier). That field is documented for
 * `?api-version=2025-04-01-preview` (MicrosoftDocs/azure-ai-docs fine-tuning-rest.md) and is not in the v1
 * spec (docs/providers.md A3); it is sent only when set, as an extra body field, which the SDK passes on.
 * The suffix is sent as given: Azure's how-to says "up to 18 characters", its v1 spec allows 64, so a
 * longer one is for validation to refuse (a truncated one would name the model what nobody chose).
 */
function azureJobBody(request: CreateJobRequest): OpenAI.FineTuning.JobCreateParams {
  const trainingType = request.azure?.trainingType;
  return { ...jobCreateBody(request), ...(trainingType ? { trainingType } : {}) };
}

/**
 * Whether a file is one this run uploaded: `<runId>-<label>` with a label of one word (`train.jsonl`,
 * `validation.jsonl`). A run whose id extends this one's (`<runId>-x-<digest>`, from a file named so) has
 * files that start with `<runId>-` too, but their rest holds a dash: they are not taken for this run's.
 */
export function isRunFile(fileName: string, runId: string): boolean {
  return fileName.startsWith(`${runId}-`) && !fileName.slice(runId.length + 1).includes('-');
}

async function startsWithBom(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(3), 0, 3, 0);
    return bytesRead === 3 && buffer.equals(UTF8_BOM);
  } finally {
    await handle.close();
  }
}
