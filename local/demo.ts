import { join, relative } from 'node:path';
import { startLocalCloud, PROJECT_ROOT } from './cloud/index.js';
import { startOpenAiEmulator } from './openai-emulator/server.js';
import { connectProviderWebhooks } from './connect-webhooks.js';
import { describeChange, describeRun } from './progress.js';
import { GetObjectCommand } from '@aws-sdk/client-s3';

/**
 * `npm start`: the whole pipeline on this machine. Starts the local cloud and the OpenAI emulator,
 * drops the bundled sample as a user would, follows the run to its end and prints what it produced;
 * then drops a broken file to show a rejection. Exits 0 when both runs end as they should.
 */
const SAMPLE = join(PROJECT_ROOT, 'local/samples/support-tickets.jsonl');
const BROKEN = join(PROJECT_ROOT, 'local/samples/broken-tickets.jsonl');
const RUNS = join(PROJECT_ROOT, '.tunedrop', 'runs');

async function main(): Promise<number> {
  const started = Date.now();
  console.log(
    'Starting the local cloud (S3, DynamoDB, Secrets Manager, Step Functions) and the OpenAI emulator…',
  );
  const emulator = await startOpenAiEmulator({ apiKey: 'sk-local-demo' });
  const cloud = await startLocalCloud({
    openAiBaseUrl: emulator.baseUrl,
    apiKey: 'sk-local-demo',
    logLevel: 'SILENT',
  });
  try {
    // As the README's deploy steps: the provider's webhooks tell the run its job ended.
    const webhooks = await connectProviderWebhooks(cloud, emulator);
    console.log(`Registered ${webhooks.url} for the emulator's fine-tuning webhooks`);
    const key = 'incoming/support/support-tickets.jsonl';
    console.log(`\nDropping local/samples/support-tickets.jsonl into s3://${cloud.bucket}/${key}`);
    const runId = await cloud.drop(SAMPLE, key);
    const run = await cloud.waitForRun(runId, { onChange: (r) => console.log(describeChange(r)) });
    console.log(`\n${describeRun(run, cloud.bucket)}`);
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
    return ok ? 0 : 1;
  } finally {
    await cloud.close();
    await emulator.close();
  }
}

async function text(cloud: Awaited<ReturnType<typeof startLocalCloud>>, key: string): Promise<string> {
  const object = await cloud.s3.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }));
  return object.Body!.transformToString();
}

process.exitCode = await main();
