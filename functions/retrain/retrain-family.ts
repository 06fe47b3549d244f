import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PROVIDER_TITLES, type ProviderName } from '../core/catalog.js';
import type { ObjectStore, RunStore } from '../core/ports.js';
import type { ModelRegistry } from '../core/registry.js';
import { familySettings, modelForRun } from '../core/run-settings.js';
import {
  familySettingsKey,
  runKeys,
  TERMINAL_STATUSES,
  TRAINED_STATUSES,
  type RunRecord,
} from '../core/run.js';
import type { ExecutionInput } from '../core/workflow-state.js';

export interface RetrainRequest {
  family: string;
  /** Who asks: the family's schedule, or an operator (`tunedrop retrain`). */
  trigger: 'schedule' | 'operator';
  /** Retrain even when no file arrived since the family's current model (an operator's choice). */
  force?: boolean;
}

export type RetrainOutcome =
  | { outcome: 'started'; runId: string; message: string }
  /** Nothing to do: no file since the current model, a run of the family under way, or no data at all. */
  | { outcome: 'nothing_new' | 'under_way' | 'no_data'; runId?: string; message: string }
  /** The family's settings or model refuse a run; the message says what to fix. */
  | { outcome: 'refused'; message: string };

export interface RetrainDeps {
  runs: RunStore;
  store: ObjectStore;
  registry: Pick<ModelRegistry, 'current'>;
  startRun(runId: string, input: ExecutionInput): Promise<void>;
  /** The ARN of the execution `startRun` starts for the run. */
  executionArn(runId: string): string;
  bucket: string;
  defaults: Record<string, unknown>;
  incomingPrefix: string;
  providers: readonly ProviderName[];
  now(): Date;
}

/** The parts of a drop's stored validation report (validate's validation.json) a retrain reuses. */
const StoredPlanSchema = z.looseObject({
  verdict: z.literal('valid'),
  method: z.enum(['supervised', 'dpo']),
  conversion: z
    .looseObject({ separator: z.string(), endToken: z.string() })
    .nullish()
    .transform((c) => (c ? { separator: c.separator, endToken: c.endToken } : null)),
  split: z.looseObject({
    threshold: z.number().nullable(),
    classThresholds: z.record(z.string(), z.number().nullable()).nullish(),
    trainHashes: z.array(z.number()).optional(),
  }),
  estimate: z.looseObject({
    billedTokens: z.number(),
    costUsd: z.number().nullable(),
    epochs: z.number(),
  }),
});

/** A drop that passed validation: its run got as far as PREPARING. Retrain runs are not drops. */
const isAcceptedDrop = (run: RunRecord) =>
  (run.trigger ?? 'drop') === 'drop' && run.history.some((change) => change.status === 'PREPARING');

/**
 * Retrains a family on all its data so far: on its schedule, or when an operator asks. A run starts when
 * a file was accepted since the family's current model was trained (or the family has no model yet), and
 * no run of the family is under way (it will train on that file itself); otherwise nothing happens and
 * the outcome says why. The run trains with the family's settings as they are now, on "dataset": "all",
 * and queues in the family's lane like a drop's run.
 *
 * A schedule that fires twice for the same data starts one run: the run id follows from the newest file.
 */
export async function retrainFamily(request: RetrainRequest, deps: RetrainDeps): Promise<RetrainOutcome> {
  const { family } = request;
  const runs = await deps.runs.listFamily(family);
  const drops = runs.filter(isAcceptedDrop).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const newest = drops.at(-1);
  if (!newest)
    return {
      outcome: 'no_data',
      message: `family "${family}" has no accepted data yet: drop a JSONL file into ${deps.incomingPrefix}${family}/`,
    };

  const at = deps.now();
  // The same newest file gives the same run id (a schedule firing twice starts one run), except after a
  // retrain of it that ended without a model (a provider outage): the next try is a run of its own.
  let runId = retrainRunId(family, newest.runId, request.force ? at.toISOString() : '');
  for (let tried = runs.find((run) => run.runId === runId); tried && endedWithoutModel(tried);) {
    runId = retrainRunId(family, newest.runId, `after ${runId}`);
    tried = runs.find((run) => run.runId === runId);
  }
  // This retrain's own run may be there, not started (a crash between recording and starting it): it is
  // started below. Any other run under way trains on the family's data itself.
  const underWay = runs.find((run) => !TERMINAL_STATUSES.has(run.status) && run.runId !== runId);
  if (underWay)
    return {
      outcome: 'under_way',
      runId: underWay.runId,
      message: `run ${underWay.runId} of family "${family}" is under way (${underWay.status}); it trains on the family's data itself`,
    };

  const current = await deps.registry.current(family);
  const trainedAt = current ? runs.find((run) => run.runId === current.runId)?.createdAt : undefined;
  const arrived = drops.filter((drop) => trainedAt === undefined || drop.createdAt > trainedAt);
  if (current && arrived.length === 0 && !request.force)
    return {
      outcome: 'nothing_new',
      message: `no file has arrived in family "${family}" since its current model ${current.currentModel} was trained; nothing to do${request.trigger === 'operator' ? ' (--force retrains all the same)' : ''}`,
    };

  const settingsKey = familySettingsKey(family, deps.incomingPrefix);
  const { config: settings, problems } = await familySettings(
    deps.store,
    deps.bucket,
    settingsKey,
    family,
    deps.defaults,
  );
  if (problems.length > 0) return { outcome: 'refused', message: problems.join('; ') };
  const config = { ...settings, dataset: 'all' as const };
  if (!deps.providers.includes(config.provider))
    return {
      outcome: 'refused',
      message: `${settingsKey} chooses ${PROVIDER_TITLES[config.provider]}, which this stack is not deployed to train on`,
    };
  const { model, issues } = modelForRun(config, at.toISOString().slice(0, 10), settingsKey);
  const blocking = issues.filter((issue) => issue.severity === 'error');
  if (blocking.length > 0) return { outcome: 'refused', message: blocking.map((i) => i.message).join('; ') };

  const reportText = await deps.store.readText({
    bucket: newest.source.bucket,
    key: runKeys(newest.runId).validationJson,
  });
  const plan = reportText === undefined ? undefined : StoredPlanSchema.safeParse(parseJson(reportText));
  if (!plan?.success)
    return {
      outcome: 'refused',
      message: `the validation report of ${newest.source.key} (run ${newest.runId}) is missing or unreadable: drop that file again`,
    };

  const createdAt = at.toISOString();
  const created = await deps.runs.create({
    runId,
    family,
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at: createdAt }],
    source: newest.source,
    createdAt,
    updatedAt: createdAt,
    trigger: request.trigger,
    // A retrain is always started: its events link the execution from the first.
    executionArn: deps.executionArn(runId),
  });
  if (!created && (await deps.runs.get(runId))?.status !== 'RECEIVED')
    return { outcome: 'nothing_new', runId, message: `run ${runId} retrained on this data already` };
  await deps.startRun(runId, {
    runId,
    family,
    source: newest.source,
    config,
    model: model.id,
    split: {
      seed: config.seed,
      threshold: plan.data.split.threshold,
      classThresholds: plan.data.split.classThresholds ?? null,
      ...(plan.data.split.trainHashes ? { trainHashes: plan.data.split.trainHashes } : {}),
    },
    validationSource: null,
    method: plan.data.method,
    conversion: plan.data.conversion,
    // The execution input's fields only: the report's estimate has more (its model, upkeep…).
    estimate: {
      billedTokens: plan.data.estimate.billedTokens,
      costUsd: plan.data.estimate.costUsd,
      epochs: plan.data.estimate.epochs,
    },
    receivedAt: createdAt,
  });
  return {
    outcome: 'started',
    runId,
    message: `run ${runId} retrains family "${family}" on its ${drops.length} accepted file(s)${arrived.length ? `, ${arrived.length} new since its current model` : ''}`,
  };
}

/** A stored report's JSON, or undefined when it is not JSON (a report cut short, or written by hand). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const endedWithoutModel = (run: RunRecord) =>
  TERMINAL_STATUSES.has(run.status) && !TRAINED_STATUSES.has(run.status);

/**
 * A retrain run's id: readable in the console, and the same for the same newest file (a schedule firing
 * twice starts one run); `salt` makes a forced retrain a new run. At most 80 characters of [A-Za-z0-9_-].
 */
export function retrainRunId(family: string, newestRunId: string, salt: string): string {
  const digest = createHash('sha256').update(`${family}\n${newestRunId}\n${salt}`).digest('hex').slice(0, 16);
  const readable = family
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  return `retrain-${readable ? `${readable}-` : ''}${digest}`;
}
