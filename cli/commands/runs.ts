import {
  RUN_KINDS,
  RUN_STATUSES,
  TERMINAL_STATUSES,
  runKindOf,
  type RunKind,
  type RunStatus,
} from '../../functions/core/run.js';
import { decodeResultFile } from '../../functions/core/results.js';
import { UsageError, type Values } from '../args.js';
import type { Context } from '../context.js';
import { lossPoints, type LossPoint } from '../loss-curve.js';
import { describeRun, runFiles, runJson, runsTable } from '../run-view.js';
import type { CliRun, Services } from '../services.js';
import { time } from '../table.js';

export const DEFAULT_LIMIT = 20;
export const DEFAULT_INTERVAL_SECONDS = 5;
/** How long `runs watch` waits for a run that does not exist yet (its file is still being read). */
export const APPEAR_WITHIN_SECONDS = 60;

/** --limit N: a positive whole number. */
export function parseLimit(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UsageError(`--limit takes a positive whole number, not "${String(value)}" (e.g. --limit 50)`);
  return limit;
}

/** --status S: one of the run statuses, in any case. */
export function parseStatus(value: string | boolean | undefined): RunStatus | undefined {
  if (value === undefined) return undefined;
  const status = String(value).toUpperCase();
  if (!(RUN_STATUSES as readonly string[]).includes(status))
    throw new UsageError(`unknown status "${String(value)}"; choose one of: ${RUN_STATUSES.join(', ')}`);
  return status as RunStatus;
}

/** --kind K: fine-tuning or embeddings (in any case; "embedding" and "fine-tune" are taken too). */
export function parseKind(value: string | boolean | undefined): RunKind | undefined {
  if (value === undefined) return undefined;
  const kind = String(value).toLowerCase();
  const aliases: Record<string, RunKind> = { embedding: 'embeddings', 'fine-tune': 'fine-tuning' };
  const known = (RUN_KINDS as readonly string[]).includes(kind) ? (kind as RunKind) : aliases[kind];
  if (!known) throw new UsageError(`unknown kind "${String(value)}"; choose one of: ${RUN_KINDS.join(', ')}`);
  return known;
}

export async function runsList(values: Values, context: Context): Promise<number> {
  const status = parseStatus(values.status);
  const kind = parseKind(values.kind);
  const limit = parseLimit(values.limit);
  const { services } = await context.connect(values);
  const runs = await services.listRuns({
    family: typeof values.family === 'string' ? values.family : undefined,
    status,
    ...(kind ? { kind } : {}),
    limit,
  });
  context.out(values.json ? `${JSON.stringify({ runs: runs.map(runJson) }, null, 2)}\n` : runsTable(runs));
  return 0;
}

export async function runsShow(runId: string, values: Values, context: Context): Promise<number> {
  const { services } = await context.connect(values);
  const run = await services.getRun(runId);
  if (!run) {
    context.err(`tunedrop: no run ${runId}; "tunedrop runs list" shows the runs there are.\n`);
    return 1;
  }
  // An embedding run trains nothing: no results.csv to read, no curve.
  const { loss, note } =
    runKindOf(run) === 'embeddings' ? { loss: null, note: undefined } : await readLoss(services, run);
  context.out(
    values.json
      ? `${JSON.stringify({ run: runJson(run), files: runFiles(run), loss }, null, 2)}\n`
      : describeRun(run, loss, note),
  );
  return 0;
}

/** The run's loss points from its results.csv; a note instead when it has none or it cannot be read. */
export async function readLoss(
  services: Services,
  run: CliRun,
): Promise<{ loss: LossPoint[] | null; note?: string }> {
  if (!run.resultsKey)
    return {
      loss: null,
      note: TERMINAL_STATUSES.has(run.status) ? 'no results.csv' : 'results.csv comes when training ends',
    };
  try {
    const csv = decodeResultFile(await services.readObject(run.source.bucket, run.resultsKey));
    return { loss: lossPoints(csv) };
  } catch (error) {
    // The run's facts are still worth showing: the curve is a nicety, its absence a note.
    return {
      loss: null,
      note: `cannot read s3://${run.source.bucket}/${run.resultsKey} (${(error as Error).message})`,
    };
  }
}

export function parseInterval(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_INTERVAL_SECONDS;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(
      `--interval takes a number of seconds above 0, not "${String(value)}" (e.g. --interval 10)`,
    );
  return seconds;
}

/**
 * Prints each status change (the run's history, so changes between two looks are not lost) until the
 * run ends. Exit code 0 when it SUCCEEDED (its model is now current), 3 when it trained a model its
 * evaluation kept out (SUCCEEDED_NOT_PROMOTED), 1 otherwise, so scripts can chain on it.
 */
export async function runsWatch(runId: string, values: Values, context: Context): Promise<number> {
  const interval = parseInterval(values.interval);
  const { services } = await context.connect(values);
  let shown = 0;
  let waited = 0;
  for (;;) {
    const run = await services.getRun(runId);
    if (!run) {
      // A file dropped a moment ago has no run item until it has been read: watch waits for it a while.
      if (waited >= APPEAR_WITHIN_SECONDS) {
        context.err(`tunedrop: no run ${runId}; "tunedrop runs list" shows the runs there are.\n`);
        return 1;
      }
      if (waited === 0 && !values.json)
        context.err(`tunedrop: no run ${runId} yet; waiting for it to appear.\n`);
      waited += interval;
      await context.sleep(interval * 1000);
      continue;
    }
    for (const change of run.history.slice(shown)) {
      context.out(
        values.json
          ? `${JSON.stringify({ runId, ...change })}\n`
          : `${time(change.at)}  ${change.status}${change.detail ? ` (${change.detail})` : ''}\n`,
      );
    }
    shown = Math.max(shown, run.history.length);
    if (TERMINAL_STATUSES.has(run.status)) {
      if (!values.json) {
        if (run.status === 'SUCCEEDED' && runKindOf(run) === 'embeddings')
          context.out(`Run ${runId} SUCCEEDED${embeddedText(run)}.\n`);
        else if (run.status === 'SUCCEEDED')
          context.out(`Run ${runId} SUCCEEDED${run.fineTunedModel ? `: ${run.fineTunedModel}` : ''}.\n`);
        else if (run.status === 'SUCCEEDED_NOT_PROMOTED')
          context.out(
            `Run ${runId} SUCCEEDED_NOT_PROMOTED${run.fineTunedModel ? `: ${run.fineTunedModel} kept, not promoted` : ''}${run.evaluation ? ` (${run.evaluation.reason})` : ''}.\n`,
          );
        else
          context.out(
            `Run ${runId} ended ${run.status}${
              run.error ? `: ${run.error.message}${run.error.fix ? `\nFix: ${run.error.fix}` : ''}` : ''
            }.\n`,
          );
      }
      return run.status === 'SUCCEEDED' ? 0 : run.status === 'SUCCEEDED_NOT_PROMOTED' ? 3 : 1;
    }
    await context.sleep(interval * 1000);
  }
}

/** What a finished embedding run made: its counts and where its embeddings are. */
function embeddedText(run: CliRun): string {
  const embedding = run.embedding;
  if (!embedding) return '';
  const parts: string[] = [];
  if (embedding.embedded !== undefined)
    parts.push(
      `${embedding.embedded} record${embedding.embedded === 1 ? '' : 's'} embedded` +
        (embedding.failed ? `, ${embedding.failed} failed` : ''),
    );
  if (embedding.outputKey) parts.push(`s3://${run.source.bucket}/${embedding.outputKey}`);
  return parts.length ? `: ${parts.join(' in ')}` : '';
}
