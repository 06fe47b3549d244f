import { existsSync, mkdirSync, statSync, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { join, relative, sep } from 'node:path';
import { startLocalCloud, PROJECT_ROOT } from './cloud/index.js';
import { startOpenAiEmulator } from './openai-emulator/server.js';
import { describeChange, describeRun } from './progress.js';
import { LOCAL_CONNECTION_FILE } from '../functions/cli/aws-target.js';

/**
 * `npm run local`: keeps the local cloud running and watches ./drop/<family>/*.jsonl. Every file
 * written there is uploaded to incoming/<family>/ as a user would upload it to S3, and its run is
 * followed to the end; a drop/<family>/tunedrop.json is uploaded as the family's settings (for example
 * `{"provider": "bedrock"}`: all three providers are served). Ctrl-C stops everything cleanly.
 */
const DROP = join(PROJECT_ROOT, 'drop');
const SETTLE_MS = 300;
/** Where each run's files are copied for reading (the local S3 keeps them in its own format). */
const RUNS = join(PROJECT_ROOT, '.tunedrop', 'runs');

async function main(): Promise<void> {
  mkdirSync(join(DROP, 'support'), { recursive: true });
  const emulator = await startOpenAiEmulator({ apiKey: 'sk-local-demo' });
  const azure = await startOpenAiEmulator({ flavor: 'azure-openai', apiKey: 'azure-local-demo' });
  const cloud = await startLocalCloud({
    openAiBaseUrl: emulator.baseUrl,
    apiKey: 'sk-local-demo',
    azureOpenAi: { endpoint: azure.endpoint, apiKey: 'azure-local-demo' },
    logLevel: 'ERROR',
    // `npx tunedrop cancel RUN --local` and `npx tunedrop redrive --local` find the cloud through it.
    connectionFile: join(PROJECT_ROOT, LOCAL_CONNECTION_FILE),
  });
  console.log(
    `Local cloud running (with Bedrock). Bucket s3://${cloud.bucket}, OpenAI emulator at ${emulator.baseUrl}, Azure OpenAI emulator at ${azure.endpoint}.`,
  );
  console.log(
    `Drop JSONL files into ${relative(process.cwd(), DROP) || '.'}/<family>/ (for example drop/support/tickets.jsonl), and a tunedrop.json beside them to choose the provider. Ctrl-C stops.`,
  );
  console.log('From another terminal: npx tunedrop cancel RUN --local, npx tunedrop redrive --local.');

  const timers = new Map<string, NodeJS.Timeout>();
  const submit = async (path: string) => {
    const [family, ...rest] = relative(DROP, path).split(sep);
    if (family && rest.length === 1 && rest[0] === 'tunedrop.json') {
      const key = `incoming/${family}/tunedrop.json`;
      await cloud.s3.send(
        new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: await readFile(path) }),
      );
      console.log(`\n${relative(process.cwd(), path)} → s3://${cloud.bucket}/${key} (the family's settings)`);
      return;
    }
    if (!family || rest.length !== 1 || !path.endsWith('.jsonl')) {
      console.log(`  ignoring ${relative(process.cwd(), path)}: put files in drop/<family>/<name>.jsonl`);
      return;
    }
    const key = `incoming/${family}/${rest[0]}`;
    console.log(`\n${relative(process.cwd(), path)} → s3://${cloud.bucket}/${key}`);
    const runId = await cloud.drop(path, key);
    const run = await cloud.waitForRun(runId, {
      onChange: (r) => console.log(describeChange(r)),
      timeoutMs: 24 * 3600_000,
    });
    console.log(describeRun(run, cloud.bucket));
    const saved = await cloud.saveRunFiles(runId, RUNS);
    console.log(
      `  local copies        ${relative(process.cwd(), join(RUNS, runId))}/ (${saved.map((p) => relative(join(RUNS, runId), p)).join(', ')})`,
    );
  };
  // Editors and copies write in several steps: wait until the file has been quiet for a moment.
  const schedule = (path: string) => {
    clearTimeout(timers.get(path));
    timers.set(
      path,
      setTimeout(() => {
        timers.delete(path);
        if (existsSync(path) && statSync(path).isFile())
          submit(path).catch((error) => console.error(`  ${(error as Error).message}`));
      }, SETTLE_MS),
    );
  };

  const watcher = watch(DROP, { recursive: true }, (_event, name) => {
    if (name) schedule(join(DROP, name.toString()));
  });
  for (const family of await readdir(DROP)) {
    for (const file of existsSync(join(DROP, family)) && statSync(join(DROP, family)).isDirectory()
      ? await readdir(join(DROP, family))
      : []) {
      if (file === 'tunedrop.json') await submit(join(DROP, family, file));
      else if (file.endsWith('.jsonl'))
        console.log(`  (already there, not submitted: drop/${family}/${file}; touch it to submit)`);
    }
  }

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log('\nStopping…');
  watcher.close();
  for (const timer of timers.values()) clearTimeout(timer);
  await cloud.close();
  await emulator.close();
  await azure.close();
}

await main();
