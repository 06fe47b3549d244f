import OpenAI from 'openai';
import { createReadStream, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { openAiProvider } from '../../functions/adapters/openai-provider.js';
import { resolveRunConfig } from '../../functions/core/config.js';
import type { ObjectStore } from '../../functions/core/ports.js';
import type { ExecutionInput } from '../../functions/core/workflow-state.js';
import { uploadFiles } from '../../functions/upload/upload-files.js';
import { memoryRunStore } from '../support/fakes.js';

/**
 * One upload of FILE to the OpenAI emulator at BASE_URL, in its own process so that its peak RSS is its own:
 *   tunedrop  the Upload step as the Lambda runs it: `uploadFiles` with the real OpenAI adapter, reading
 *             the prepared file from a file-backed object store (standing in for S3: both stream)
 *   naive     the whole file read into memory, then sent with the same SDK
 * Prints one JSON line: {mode, bytes, seconds, peakRssMb, uploadedBytes}.
 */
const [mode, path, baseURL] = process.argv.slice(2);
if ((mode !== 'tunedrop' && mode !== 'naive') || !path || !baseURL)
  throw new Error('usage: upload-measure.ts tunedrop|naive FILE BASE_URL');
const apiKey = process.env.OPENAI_API_KEY ?? 'sk-bench';

/** Objects are files under `root`; the bucket is ignored. Reads stream, as S3's GetObject body does. */
function fileObjectStore(root: string): ObjectStore {
  const unused = () => Promise.reject(new Error('the upload step only reads'));
  return {
    head: unused,
    readText: unused,
    readRange: unused,
    write: unused,
    createWriter: () => {
      throw new Error('the upload step only reads');
    },
    read: ({ key }) => createReadStream(join(root, key)),
  };
}

async function tunedrop(): Promise<number> {
  const config = resolveRunConfig({ suffix: 'bench' });
  if (!config.ok) throw new Error('the bench run config does not resolve');
  const input: ExecutionInput = {
    runId: 'bench-upload-0000000000000000',
    family: 'bench',
    source: { bucket: 'bench', key: `incoming/bench/${basename(path!)}` },
    config: config.config,
    model: 'gpt-4.1-mini-2025-04-14',
    split: { seed: 1, threshold: null, classThresholds: null },
    validationSource: null,
    conversion: null,
    estimate: { billedTokens: 0, costUsd: 0, epochs: 1 },
  };
  const { runs } = memoryRunStore();
  const at = new Date().toISOString();
  await runs.create({
    runId: input.runId,
    family: input.family,
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at }],
    source: input.source,
    createdAt: at,
    updatedAt: at,
  });
  await runs.advance(input.runId, 'PREPARING');
  const scratchDir = await mkdtemp(join(tmpdir(), 'tunedrop-bench-scratch-'));
  const provider = openAiProvider({ apiKey, baseURL });
  let uploaded = 0;
  try {
    await uploadFiles(
      {
        ...input,
        prepared: {
          trainingKey: basename(path!),
          trainingExamples: 0,
          validationKey: null,
          validationExamples: 0,
        },
      },
      {
        store: fileObjectStore(dirname(path!)),
        runs,
        provider: {
          ...provider,
          // Counts what the provider says it stored, so a short upload cannot pass for a flat one.
          uploadFile: async (file) => {
            const result = await provider.uploadFile(file);
            uploaded += result.bytes;
            return result;
          },
        },
        scratchDir,
      },
    );
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
  return uploaded;
}

async function naive(): Promise<number> {
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 15 * 60_000 });
  const bytes = await readFile(path!);
  const file = new File([bytes], basename(path!), { type: 'application/jsonl' });
  const created = await client.files.create({ file, purpose: 'fine-tune' });
  return created.bytes ?? 0;
}

const started = performance.now();
const uploadedBytes = mode === 'tunedrop' ? await tunedrop() : await naive();
console.log(
  JSON.stringify({
    mode,
    bytes: statSync(path).size,
    seconds: (performance.now() - started) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    uploadedBytes,
  }),
);
