import { existsSync, mkdirSync, statSync, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { join, relative, sep } from 'node:path';
import { startLocalCloud, PROJECT_ROOT } from './cloud/index.js';
import { startOpenAiEmulator } from './openai-emulator/server.js';
import { z } from 'zod';
import { familyOf, runKeys } from '../functions/core/run.js';
import { scheduleName } from '../functions/core/family-schedule.js';
import { dropAction, untilStable } from './drop-folder.js';
import { EMBED_PREFIX } from '../functions/core/embedding-settings.js';
import {
  describeChange,
  describeEvaluation,
  describeFindings,
  describeNotification,
  describeRun,
  runEventsOnceEnded,
} from './progress.js';
import { LOCAL_CONNECTION_FILE } from '../cli/aws-target.js';
import { startConsole } from './console/server.js';

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
/** The parts of validation.json and summary.json the end of a run shows (the files are the pipeline's). */
const ReportFindingsSchema = z.looseObject({ warnings: z.array(z.looseObject({ code: z.string() })) });
const SummaryFindingsSchema = z.looseObject({
  metrics: z.looseObject({
    steps: z.number(),
    final: z.looseObject({ trainLoss: z.number().nullable(), validLoss: z.number().nullable() }).nullable(),
    first: z.looseObject({ trainLoss: z.number().nullable() }).nullable(),
  }),
});

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
    // What the notifications topic gets (run-end summaries, alarms), as an email subscriber would.
    onNotification: (notification) => console.log(describeNotification(notification)),
  });
  console.log(
    `Local cloud running (with Bedrock). Bucket s3://${cloud.bucket}, OpenAI emulator at ${emulator.baseUrl}, Azure OpenAI emulator at ${azure.endpoint}.`,
  );
  console.log(
    `Drop JSONL files into ${relative(process.cwd(), DROP) || '.'}/<family>/ (for example drop/support/tickets.jsonl), and a tunedrop.json beside them to choose the provider; JSONL or CSV files to embed into drop/embed/<collection>/. Ctrl-C stops.`,
  );
  console.log('From another terminal: npx tunedrop cancel RUN --local, npx tunedrop redrive --local.');
  const consolePage = await startConsole(cloud);
  console.log(
    `Local console (runs, cost, metrics, run events, notifications): ${consolePage.url}; notifications are printed here too`,
  );

  const timers = new Map<string, NodeJS.Timeout>();
  /** Runs being followed, for what Ctrl-C leaves unfinished. */
  const following = new Map<string, string>();
  let stopping = false;
  const upload = async (path: string, key: string) =>
    cloud.s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: key, Body: await readFile(path) }));
  const readJson = async (key: string): Promise<unknown> => {
    const object = await cloud.s3
      .send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }))
      .catch(() => undefined);
    return object?.Body ? JSON.parse(await object.Body.transformToString()) : undefined;
  };
  const submit = async (path: string) => {
    const shown = relative(process.cwd(), path);
    const action = dropAction(relative(DROP, path).split(sep));
    if (action.kind === 'ignored') {
      console.log(`  ignoring ${shown}: ${action.reason}`);
      return;
    }
    // A file still being copied would be validated as a broken one: wait until nobody writes it.
    if (!(await untilStable(path))) {
      console.log(`  ${shown} is gone or still changing; not uploaded (write it again to submit it)`);
      return;
    }
    const target = `s3://${cloud.bucket}/${action.key}`;
    if (action.kind === 'settings' && action.key.startsWith(EMBED_PREFIX)) {
      await upload(path, action.key);
      console.log(`\n${shown} → ${target} (the collection's settings, read by its next drop)`);
      return;
    }
    if (action.kind === 'settings') {
      await upload(path, action.key);
      console.log(`\n${shown} → ${target} (the family's settings, read by its next drop)`);
      // Its "schedule", if any, becomes the family's retrain schedule (the family-settings function).
      // The function runs on the upload's event: give it a few seconds to create the schedule.
      const family = familyOf(action.key);
      const scheduled = () => cloud.scheduler.schedules().find((s) => s.name === scheduleName(family));
      for (let i = 0; i < 20 && !scheduled(); i++) await new Promise((resolve) => setTimeout(resolve, 500));
      const retrain = scheduled();
      if (retrain)
        console.log(
          `  family ${family} retrains on ${retrain.expression} (scaled time) when a file arrived since its last model`,
        );
      return;
    }
    if (action.kind === 'validation') {
      await upload(path, action.key);
      console.log(
        `\n${shown} → ${target} (a validation file: it starts no run; drop ${action.key
          .split('/')
          .pop()!
          .replace(/\.validation\.jsonl$/i, '.jsonl')} next)`,
      );
      return;
    }
    console.log(`\n${shown} → ${target}`);
    await follow(await cloud.drop(path, action.key), shown);
  };
  /** Follows a run to its end, then prints its summary, findings and local copies. */
  const follow = async (runId: string, shown: string) => {
    following.set(runId, shown);
    try {
      const run = await cloud.waitForRun(runId, {
        onChange: (r) => console.log(describeChange(r)),
        timeoutMs: 24 * 3600_000,
      });
      // Stopping ends every run still going (said below); the cloud is going away, nothing more to read.
      if (stopping) return;
      console.log(describeRun(run, cloud.bucket));
      const report = ReportFindingsSchema.safeParse(await readJson(runKeys(runId).validationJson)).data;
      const summary = SummaryFindingsSchema.safeParse(
        run.summaryKey ? await readJson(run.summaryKey) : undefined,
      ).data;
      const findings = describeFindings({ warnings: report?.warnings, metrics: summary?.metrics });
      if (findings) console.log(findings);
      const evaluation = describeEvaluation(run.evaluation);
      if (evaluation) console.log(evaluation);
      const events = await runEventsOnceEnded(runId, run.status, () => cloud.events.received());
      if (events) console.log(events);
      const saved = await cloud.saveRunFiles(runId, RUNS);
      console.log(
        `  local copies        ${relative(process.cwd(), join(RUNS, runId))}/ (${saved.map((p) => relative(join(RUNS, runId), p)).join(', ')})`,
      );
    } finally {
      following.delete(runId);
    }
  };
  // Runs nobody dropped (a family's schedule, `npx tunedrop retrain`) are followed too, once seen.
  const seen = new Set<string>();
  const retrains = setInterval(() => {
    cloud
      .listRuns()
      .then((runs) => {
        for (const run of runs)
          if (run.trigger && run.trigger !== 'drop' && !seen.has(run.runId) && !following.has(run.runId)) {
            seen.add(run.runId);
            console.log(
              `\nfamily ${run.family}: retrain started by ${run.trigger === 'schedule' ? 'its schedule' : 'an operator'}`,
            );
            void follow(run.runId, `the ${run.family} retrain`);
          }
      })
      .catch(() => undefined);
  }, 2_000);

  // Editors and copies write in several steps: each change restarts the wait, then untilStable checks.
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
  stopping = true;
  console.log('\nStopping…');
  for (const [runId, shown] of following)
    console.log(
      `  abandoning run ${runId} (${shown}) unfinished: its workflow is stopped with the local cloud and the run recorded CANCELLED; drop the file again after restarting to train it`,
    );
  watcher.close();
  clearInterval(retrains);
  for (const timer of timers.values()) clearTimeout(timer);
  await consolePage.close();
  await cloud.close();
  await emulator.close();
  await azure.close();
}

await main();
