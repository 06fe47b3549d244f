import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PROVIDER_TITLES, PROVIDERS, type ProviderName } from '../functions/core/catalog.js';
import { startLocalCloud, PROJECT_ROOT } from './cloud/index.js';
import { startOpenAiEmulator } from './openai-emulator/server.js';
import { connectProviderWebhooks } from './connect-webhooks.js';
import {
  describeChange,
  describeEvaluation,
  describeNotification,
  describeRun,
  runEventsOnceEnded,
} from './progress.js';
import { EvaluationRecordSchema } from '../functions/core/evaluation.js';
import { startConsole } from './console/server.js';
import { embeddingsDemo } from './demo-embeddings.js';

/**
 * `npm start [-- --provider openai|azure-openai|bedrock]`: the whole pipeline on this machine. With
 * `-- --embeddings`, an embedding run instead (local/demo-embeddings.ts). Starts the
 * local cloud (with its Bedrock control plane) and the OpenAI emulator in OpenAI's or Azure's shape,
 * writes the family's tunedrop.json with the chosen provider, drops the bundled sample as a user would,
 * follows the run to its end and prints what it produced; then drops a broken file to show a rejection.
 * The local console (local/console/) serves a status page while the demo runs; `-- --keep` keeps it
 * (and the local cloud) open after the demo, until Ctrl-C.
 * Exits 0 when both runs end as they should, 2 on a bad argument.
 */
const SAMPLE = join(PROJECT_ROOT, 'local/samples/support-tickets.jsonl');
const BROKEN = join(PROJECT_ROOT, 'local/samples/broken-tickets.jsonl');
const RUNS = join(PROJECT_ROOT, '.tunedrop', 'runs');

function argsOf(): { provider: ProviderName | string; keep: boolean; embeddings: boolean } {
  const { values } = parseArgs({
    options: {
      provider: { type: 'string', default: 'openai' },
      keep: { type: 'boolean', default: false },
      embeddings: { type: 'boolean', default: false },
    },
  });
  return { provider: values.provider, keep: values.keep, embeddings: values.embeddings };
}

async function main(): Promise<number> {
  let provider: ProviderName;
  let keep: boolean;
  let embeddings: boolean;
  try {
    const args = argsOf();
    const chosen = args.provider;
    keep = args.keep;
    embeddings = args.embeddings;
    if (embeddings && chosen !== 'openai')
      throw new Error('--embeddings runs on the OpenAI emulator; leave out --provider');
    if (!(PROVIDERS as readonly string[]).includes(chosen))
      throw new Error(`unknown provider "${chosen}"; choose one of: ${PROVIDERS.join(', ')}`);
    provider = chosen as ProviderName;
  } catch (error) {
    console.error(
      `npm start: ${(error as Error).message}\nUsage: npm start -- [--provider ${PROVIDERS.join('|')} | --embeddings] [--keep]`,
    );
    return 2;
  }
  const started = Date.now();
  console.log(
    `Starting the local cloud (S3, DynamoDB, Secrets Manager, Step Functions, Bedrock) and the ${provider === 'azure-openai' ? 'Azure OpenAI' : 'OpenAI'} emulator…`,
  );
  const emulator = await startOpenAiEmulator({ apiKey: 'sk-local-demo' });
  const azure =
    provider === 'azure-openai'
      ? await startOpenAiEmulator({ flavor: 'azure-openai', apiKey: 'azure-local-demo' })
      : undefined;
  const cloud = await startLocalCloud({
    openAiBaseUrl: emulator.baseUrl,
    apiKey: 'sk-local-demo',
    ...(azure ? { azureOpenAi: { endpoint: azure.endpoint, apiKey: 'azure-local-demo' } } : {}),
    logLevel: 'SILENT',
    // What the notifications topic gets (run-end summaries, alarms), as an email subscriber would.
    onNotification: (notification) => console.log(describeNotification(notification)),
  });
  const consolePage = await startConsole(cloud);
  try {
    console.log(
      `Local console: ${consolePage.url} (${keep ? 'open until Ctrl-C' : 'while the demo runs; npm start -- --keep keeps it open'})`,
    );
    if (provider === 'openai') {
      // As the README's deploy steps: the provider's webhooks tell the run its job ended.
      const webhooks = await connectProviderWebhooks(cloud, emulator);
      console.log(`Registered ${webhooks.url} for the emulator's fine-tuning webhooks`);
    }
    if (embeddings) {
      const run = await embeddingsDemo(cloud, { baseUrl: emulator.baseUrl, apiKey: 'sk-local-demo' });
      const ok = run.status === 'SUCCEEDED';
      console.log(
        `\n${ok ? 'Done' : 'Something went wrong'} in ${((Date.now() - started) / 1000).toFixed(1)} s. Embed your own files: npm run local, then drop them into drop/embed/<collection>/`,
      );
      return ok ? 0 : 1;
    }
    // One line of the family's settings picks the provider (README, "Choosing a provider").
    const settings = { provider };
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: cloud.bucket,
        Key: 'incoming/support/tunedrop.json',
        Body: JSON.stringify(settings),
      }),
    );
    console.log(
      `\nTraining on ${PROVIDER_TITLES[provider]}: wrote ${JSON.stringify(settings)} to s3://${cloud.bucket}/incoming/support/tunedrop.json`,
    );
    const key = 'incoming/support/support-tickets.jsonl';
    console.log(`\nDropping local/samples/support-tickets.jsonl into s3://${cloud.bucket}/${key}`);
    const runId = await cloud.drop(SAMPLE, key);
    const run = await cloud.waitForRun(runId, { onChange: (r) => console.log(describeChange(r)) });
    console.log(`\n${describeRun(run, cloud.bucket)}`);
    // The new model beside the base model on the held-out tickets, and whether it became current.
    const evaluated = run.evaluationKey
      ? EvaluationRecordSchema.safeParse(JSON.parse(await text(cloud, run.evaluationKey))).data
      : undefined;
    console.log(
      describeEvaluation(
        run.evaluation,
        evaluated?.status === 'completed' ? evaluated.sample.chosenExamples : undefined,
      ),
    );
    console.log(await runEventsOnceEnded(runId, run.status, () => cloud.events.received()));
    const ended = emulator.webhookEvents.find((e) => e.jobId === run.providerJobId);
    if (ended && run.finishedAt)
      console.log(
        `  (the emulator's ${ended.type} webhook woke the run at once: it ended, results collected, ${((Date.parse(run.finishedAt) - ended.emittedAt) / 1000).toFixed(1)} s after its job)`,
      );
    if (run.resultsKey) {
      const csv = await text(cloud, run.resultsKey);
      const rows = csv.trim().split('\n');
      console.log(`\nresults.csv (${rows.length - 1} steps): first and last rows`);
      console.log(`  ${rows[0]}\n  ${rows[1]}\n  …\n  ${rows.at(-1)}`);
    }

    const brokenKey = 'incoming/support/broken-tickets.jsonl';
    console.log(
      `\nDropping local/samples/broken-tickets.jsonl, which has mistakes, into s3://${cloud.bucket}/${brokenKey}`,
    );
    const rejected = await cloud.waitForRun(await cloud.drop(BROKEN, brokenKey));
    console.log(describeRun(rejected, cloud.bucket));
    console.log(await runEventsOnceEnded(rejected.runId, rejected.status, () => cloud.events.received()));
    const saved = await cloud.saveRunFiles(run.runId, RUNS);
    await cloud.saveRunFiles(rejected.runId, RUNS);
    console.log(
      `\nCopies of both runs' files are in ${relative(process.cwd(), RUNS)}/ (${saved.length} files for the first run), for example`,
    );
    console.log(`  ${relative(process.cwd(), join(RUNS, rejected.runId, 'validation.md'))}`);

    const ok = run.status === 'SUCCEEDED' && rejected.status === 'REJECTED';
    console.log(
      `\n${ok ? 'Done' : 'Something went wrong'} in ${((Date.now() - started) / 1000).toFixed(1)} s. Try your own files with: npm run local`,
    );
    if (keep) {
      console.log(`\nThe local console stays open at ${consolePage.url}. Ctrl-C stops.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    return ok ? 0 : 1;
  } finally {
    await consolePage.close();
    await cloud.close();
    await emulator.close();
    await azure?.close();
  }
}

async function text(cloud: Awaited<ReturnType<typeof startLocalCloud>>, key: string): Promise<string> {
  const object = await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }));
  return object.Body!.transformToString();
}

process.exitCode = await main();
