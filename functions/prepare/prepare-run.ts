import { labelOfLine } from '../core/classes.js';
import { BudgetExceededError, DatasetRejectedError } from '../core/errors.js';
import { distinctExamples, familySources, type DatasetSource } from '../core/family-dataset.js';
import { readJsonlLines } from '../core/jsonl.js';
import type { ObjectStore, ObjectWriter, RunStore } from '../core/ports.js';
import {
  DATASET_FILES_KEPT,
  type DatasetFile,
  type DatasetRecord,
  type ModelRegistry,
} from '../core/registry.js';
import { runKeys, TRAINING_COPY_TAG, type RunRecord } from '../core/run.js';
import { classThresholdKey, MIN_TRAINING_EXAMPLES, splitDataset, splitHash } from '../core/split.js';
import type { ExecutionInput, PreparedFiles } from '../core/workflow-state.js';
import { z } from 'zod';

export interface PrepareDeps {
  store: ObjectStore;
  runs: RunStore;
  /** The family's current model, for "baseModel": "latest". */
  registry: Pick<ModelRegistry, 'current'>;
}

const JSONL = 'application/jsonl';
/** Copies of the user's data: tagged so the bucket's lifecycle rule expires them (core/run.ts). */
const TRAINING_COPY = { [TRAINING_COPY_TAG.key]: TRAINING_COPY_TAG.value };

/**
 * The parts of a stored validation report (validate's validation.json) that Prepare reads of an earlier
 * drop: how to convert its lines, and how its own run split them.
 */
const StoredPlanSchema = z.looseObject({
  conversion: z
    .looseObject({ separator: z.string(), endToken: z.string() })
    .nullish()
    .transform((c) => (c ? { separator: c.separator, endToken: c.endToken } : null)),
  split: z
    .looseObject({
      threshold: z.number().nullable(),
      classThresholds: z.record(z.string(), z.number().nullable()).nullish(),
      trainHashes: z.array(z.number()).optional(),
    })
    .optional(),
});
type StoredPlan = z.infer<typeof StoredPlanSchema>;
type SplitRule = NonNullable<StoredPlan['split']>;

/**
 * Splits the run's data into `runs/<runId>/train.jsonl` and `validation.jsonl` in one streaming pass, by
 * the threshold the validator chose (or, when the user supplied a validation file, copies it as it is).
 * The data is the dropped file ("dataset": "newest"), or every accepted file of the family so far, each
 * distinct example once ("dataset": "all"). The split goes by each example's seeded hash, so an example
 * stays on its side from one run of the family to the next: a model continued from the last one is never
 * validated on what it trained on before. The files trained on, with their versions and hashes, are
 * recorded (`runs/<runId>/dataset.json` and the run item).
 *
 * The model the job trains from is settled here too: with "baseModel": "latest", the family's current
 * model when it was trained on the same provider from the same base model, else the base model.
 *
 * The user's objects are only read, at their pinned versions. Running it again rewrites the same files.
 */
export async function prepareRun(input: ExecutionInput, deps: PrepareDeps): Promise<PreparedFiles> {
  const keys = runKeys(input.runId);
  const startFrom = await modelToStartFrom(input, deps.registry);
  const running = await deps.runs.advance(input.runId, 'PREPARING', {
    provider: input.config.provider,
    baseModel: input.model,
    parentModel: startFrom,
    estimatedTokens: input.estimate.billedTokens,
    ...(input.estimate.costUsd !== null ? { estimatedCostUsd: input.estimate.costUsd } : {}),
  });
  const run = running ?? (await deps.runs.get(input.runId));
  if (!run) throw new Error(`run ${input.runId} has no item in the runs table`);

  const sources: DatasetSource[] =
    input.config.dataset === 'all'
      ? familySources(await deps.runs.listFamily(input.family), run)
      : [{ runId: input.runId, ref: input.source }];
  // Every earlier drop's report is read first: one that is gone refuses the run before anything is written.
  const stored = new Map<string, StoredPlan>();
  for (const source of sources)
    if (source.runId !== input.runId) stored.set(source.runId, await storedPlan(deps.store, source));
  const files: DatasetFile[] = [];
  const lines = distinctExamples(
    sources,
    async (source) => ({
      bytes: deps.store.read(source.ref),
      conversion: source.runId === input.runId ? input.conversion : stored.get(source.runId)!.conversion,
    }),
    (file) => files.push(file),
  );
  // An example goes to validation only if the plan of every file of the dataset puts it there: each earlier
  // run of the family trained by one of those plans (a drop's own, or all of them up to its own), so an
  // example any earlier run trained on is never a validation example of a model continued from it.
  const earlierRules = [...stored.values()].flatMap((plan) => (plan.split ? [plan.split] : []));
  const trainedBefore = (text: string) =>
    earlierRules.some((rule) => sideByRule(rule, input.split.seed, text) === 'training');

  const bucket = input.source.bucket;
  const training = deps.store.createWriter({ bucket, key: keys.training }, JSONL, TRAINING_COPY);
  const splitsOff = input.split.threshold !== null || input.split.classThresholds !== null;
  const validation =
    splitsOff || input.validationSource
      ? deps.store.createWriter({ bucket, key: keys.validation }, JSONL, TRAINING_COPY)
      : undefined;
  const writers: ObjectWriter[] = validation ? [training, validation] : [training];

  try {
    const counts = { training: 0, validation: 0 };
    await splitDataset(lines, { ...input.split, conversion: null }, (planned, text) => {
      const side = planned === 'validation' && trainedBefore(text) ? 'training' : planned;
      counts[side] += 1;
      return side === 'training' ? training.write(text) : validation!.write(text);
    });
    if (input.validationSource) {
      // The user's own validation file, copied as it is (converted if the training file was).
      const copied = await splitDataset(
        readJsonlLines(deps.store.read(input.validationSource)),
        { seed: input.split.seed, threshold: null, conversion: input.conversion },
        (_side, text) => validation!.write(text),
      );
      counts.validation = copied.training;
    }
    // The validator planned at least the provider's minimum; a plan that did not hold is not uploaded.
    if (counts.training < MIN_TRAINING_EXAMPLES) {
      // Permanent: the same file and plan split the same way on every retry.
      throw new DatasetRejectedError(
        `the split left ${counts.training} training example(s) and ${counts.validation} validation example(s); the provider needs at least ${MIN_TRAINING_EXAMPLES} training examples`,
        'Add distinct examples (exact copies always land on the same side), then drop the file again.',
      );
    }
    const dataset = datasetRecord(input, files, counts.training + counts.validation);
    const estimate = scaledEstimate(input, files);
    const estimatedCostUsd = estimate.costUsd;
    const evaluationCostUsd = scaledEvaluationBound(input, counts.validation);
    const budgeted = estimatedCostUsd === null ? null : estimatedCostUsd + (evaluationCostUsd ?? 0);
    if (input.config.maxCostUsd !== undefined && budgeted !== null && budgeted > input.config.maxCostUsd)
      throw new BudgetExceededError(
        `the family's data (${dataset.examples} distinct examples from ${dataset.fileCount} files) is estimated to cost $${budgeted.toFixed(2)}${evaluationCostUsd ? ` (training $${estimatedCostUsd!.toFixed(2)}, evaluation at most $${evaluationCostUsd.toFixed(2)})` : ''}, over "maxCostUsd" ($${input.config.maxCostUsd})`,
        'Raise "maxCostUsd" in the family\'s tunedrop.json, set "dataset": "newest" to train on the newest file alone, or lower "evaluation.maxExamples".',
      );
    await Promise.all(writers.map((writer) => writer.close()));
    await deps.store.write(
      { bucket, key: keys.dataset },
      // Every file, newest first as on the items (core/registry.ts DatasetRecord).
      `${JSON.stringify({ runId: input.runId, ...dataset, files: [...files].reverse() }, null, 2)}\n`,
      'application/json',
    );
    await deps.runs.amend(input.runId, 'PREPARING', {
      dataset,
      ...(input.config.dataset === 'all'
        ? {
            estimatedTokens: estimate.billedTokens,
            ...(estimatedCostUsd !== null ? { estimatedCostUsd } : {}),
          }
        : {}),
    });
    return {
      trainingKey: keys.training,
      trainingExamples: counts.training,
      validationKey: validation && counts.validation > 0 ? keys.validation : null,
      validationExamples: counts.validation,
      startFrom,
      dataset,
    };
  } catch (error) {
    await Promise.allSettled(writers.map((writer) => writer.abort()));
    throw error;
  }
}

/**
 * The model the job trains from: with "baseModel": "latest", the family's current model, if it was
 * trained on this provider from this base model (a run whose settings changed the base or the provider
 * starts a new line from the base); otherwise, and for a family without a model yet, the base model.
 */
async function modelToStartFrom(
  input: ExecutionInput,
  registry: Pick<ModelRegistry, 'current'>,
): Promise<string> {
  if (input.config.baseModel !== 'latest') return input.model;
  const current = await registry.current(input.family);
  return current && current.provider === input.config.provider && current.baseModel === input.model
    ? current.currentModel
    : input.model;
}

/** How an earlier drop's lines are converted and were split: as its validation report says (validate wrote it). */
async function storedPlan(store: ObjectStore, source: DatasetSource): Promise<StoredPlan> {
  const text = await store.readText({ bucket: source.ref.bucket, key: runKeys(source.runId).validationJson });
  if (text === undefined)
    throw new DatasetRejectedError(
      `the validation report of ${source.ref.key} (run ${source.runId}) is gone, so tunedrop cannot tell how to read that file`,
      'Drop that file again (it is then checked anew), or set "dataset": "newest".',
    );
  return StoredPlanSchema.parse(JSON.parse(text));
}

/**
 * The side a split plan puts a line on (a line as Prepare writes it: chat, converted if it was legacy), as
 * core/split.ts routes it: by the seeded hash of its parsed form, against its class's threshold when the
 * plan has them, copies-heavy hashes kept in training. Earlier drops were split with the family's seed.
 */
function sideByRule(rule: SplitRule, seed: number, text: string): 'training' | 'validation' {
  const value = JSON.parse(text) as Record<string, unknown>;
  let threshold = rule.threshold;
  if (rule.classThresholds) {
    const keys = Object.keys(rule.classThresholds);
    const label = labelOfLine(value);
    const key = keys.every((k) => k.startsWith(classThresholdKey(''))) ? classThresholdKey(label) : label;
    threshold = Object.hasOwn(rule.classThresholds, key) ? (rule.classThresholds[key] ?? null) : null;
  }
  if (threshold === null) return 'training';
  const hash = splitHash(seed, JSON.stringify(value));
  return hash <= threshold && !(rule.trainHashes ?? []).includes(hash) ? 'validation' : 'training';
}

function datasetRecord(input: ExecutionInput, files: DatasetFile[], examples: number): DatasetRecord {
  const newestFirst = [...files].reverse();
  return {
    mode: input.config.dataset,
    files: newestFirst.slice(0, DATASET_FILES_KEPT),
    fileCount: files.length,
    manifestKey: runKeys(input.runId).dataset,
    examples,
    duplicatesRemoved: files.reduce((sum, f) => sum + f.duplicates, 0),
  };
}

/**
 * The validator estimated the dropped file's tokens and cost; the family's data ("dataset": "all") comes to
 * them in proportion to its distinct examples (an estimate: examples differ in length). The cost is null
 * when the drop's is unknown.
 */
function scaledEstimate(
  input: ExecutionInput,
  files: DatasetFile[],
): { billedTokens: number; costUsd: number | null } {
  const { billedTokens, costUsd } = input.estimate;
  // The dropped version's counts (an earlier version of the same key is another file of the family).
  const own = files.find(
    (f) => f.key === input.source.key && (f.versionId ?? '') === (input.source.versionId ?? ''),
  );
  const distinct = files.reduce((sum, f) => sum + f.examples - f.duplicates, 0);
  if (!own || own.examples === 0 || input.config.dataset !== 'all') return { billedTokens, costUsd };
  const scale = distinct / own.examples;
  return {
    billedTokens: Math.round(billedTokens * scale),
    costUsd: costUsd === null ? null : costUsd * scale,
  };
}

/**
 * The evaluation's bound for the examples this run holds out: Validate's, counted on the dropped file's
 * held-out examples, scaled to those of the family's data ("dataset": "all" holds out more), at most
 * `evaluation.maxExamples` either way; each asked example is taken to cost what the file's did.
 */
function scaledEvaluationBound(input: ExecutionInput, heldOut: number): number | null {
  const { evaluationCostUsd, evaluationExamples } = input.estimate;
  if (evaluationCostUsd === undefined || evaluationCostUsd === null) return evaluationCostUsd ?? null;
  if (!evaluationExamples || input.config.dataset !== 'all') return evaluationCostUsd;
  return (evaluationCostUsd * Math.min(input.config.evaluation.maxExamples, heldOut)) / evaluationExamples;
}

export type { RunRecord };
