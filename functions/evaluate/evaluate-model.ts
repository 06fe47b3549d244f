import { PERMANENT_ERROR_NAMES, TunedropError } from '../core/errors.js';
import { z } from 'zod';
import {
  decisionWithoutEvaluation,
  EVALUATION_SCHEMA_VERSION,
  evaluationBatchWaitSeconds,
  evaluationExampleOf,
  promotionDecision,
  scoreAnswers,
  type EvaluatedModel,
  type EvaluationExample,
  type EvaluationRecord,
  type EvaluationSettings,
  type EvaluationUsage,
  type ModelAnswer,
  type NoEvaluation,
  type PromotionSettings,
} from '../core/evaluation.js';
import { headlineMetric } from '../core/evaluation-metrics.js';
import { sampleEvaluationExamples } from '../core/evaluation-sample.js';
import { createHash } from 'node:crypto';
import type { ChatBatchState, ChatModels, DeploymentState, ObjectStore, RunStore } from '../core/ports.js';
import type { ModelRegistry } from '../core/registry.js';
import { runKeys } from '../core/run.js';
import { withEvaluation } from '../core/run-report.js';
import { countTextTokens } from '../core/tokens.js';
import { readJsonlLines } from '../core/jsonl.js';
import { splitHash } from '../core/split.js';
import type {
  CollectedResults,
  EvaluationPending,
  EvaluationOutcome,
  ExecutionInput,
  PreparedFiles,
} from '../core/workflow-state.js';

/** USD per 1M tokens of calling a model. */
export interface InferencePrice {
  inputUsdPerMillionTokens: number;
  outputUsdPerMillionTokens: number;
}

export interface EvaluateDeps {
  store: ObjectStore;
  runs: RunStore;
  /** Where the new model is asked; undefined where the provider cannot be asked here (`unavailable` says why). */
  chat: ChatModels | undefined;
  /** Why the provider's models cannot be asked, and what the user can do, when `chat` is undefined. */
  unavailable?: { reason: string; fix: string };
  registry: Pick<ModelRegistry, 'current' | 'markDeleted'>;
  /** Told when adding the evaluation to report.html failed; evaluation.json stands. @default none */
  onReportError?(error: unknown): void;
  /** Deletes a model at the provider: a model not promoted, under `"notPromoted": "delete"`. */
  deleteModel(model: string): Promise<void>;
  /**
   * What calling `model` costs at the run's provider, online or through its Batch API, where a source gives
   * it (functions/core/catalog.ts).
   */
  inferencePrice(model: string, role: EvaluatedModel['role'], mode: EvaluationMode): InferencePrice | null;
  now(): Date;
}

export type EvaluateInput = ExecutionInput & {
  prepared?: PreparedFiles | undefined;
  results: CollectedResults;
  /** What Evaluate waits for, when it looks again: its batches (batch mode), or its deployments (Bedrock). */
  evaluation?: EvaluationPending | undefined;
};

type EvaluationMode = EvaluationSettings['mode'];

/**
 * A classification answer is a label: the longest label's tokens, and one more for whatever the model
 * ends with. A generated answer may be longer than the longest expected one, but not without bound.
 */
const GENERATION_TOKENS_FACTOR = 1.5;
const GENERATION_TOKENS_MIN = 16;
const GENERATION_TOKENS_MAX = 4096;

/**
 * Evaluates the run's new model on held-out examples, side by side with the family's current model (or,
 * for a family's first model, the base model), and decides whether it is promoted (Record promotes it).
 * Writes `runs/<runId>/evaluation.json` in every case: the numbers, or why there are none. A model the
 * policy does not promote is deleted at the provider under `"notPromoted": "delete"`; a model whose
 * evaluation failed never is.
 *
 * Online, the models are asked here and the outcome returned. In batch mode the questions go to the
 * provider's Batch API and the batches are returned; where custom models answer only from a deployment
 * (Amazon Bedrock), the deployments are made and returned. Either way the workflow waits, and calls this
 * again with them (`input.evaluation`) until the batches have ended or the deployments are ready.
 */
export async function evaluateModel(
  input: EvaluateInput,
  settings: { evaluation: EvaluationSettings; promotion: PromotionSettings },
  deps: EvaluateDeps,
): Promise<EvaluationOutcome | EvaluationPending> {
  if (input.evaluation) return checkPending(input, input.evaluation, settings, deps);
  await deps.runs.advance(input.runId, 'EVALUATING');
  const newModel = input.results.fineTunedModel;
  const current = await deps.registry.current(input.family);
  // The current model of another provider (the family moved) cannot be called here: compare with the base.
  const currentModel =
    current && current.provider === input.config.provider && current.currentModel !== newModel
      ? current.currentModel
      : null;
  const out = outcomes(input, currentModel, deps);

  if (!newModel) return out.without('failed', 'the job ended without a fine-tuned model');
  if (!settings.evaluation.enabled) return out.without('disabled', 'evaluation is turned off');
  if (!deps.chat)
    return out.without(
      'unavailable',
      deps.unavailable?.reason ?? "the provider's models cannot be asked here",
      {
        ...(deps.unavailable ? { fix: deps.unavailable.fix } : {}),
      },
    );
  const chat = deps.chat;
  const validationKey = input.prepared?.validationKey ?? null;
  if (!validationKey) return out.without('nothing_held_out', 'the run held out no validation examples');

  const text = await deps.store.readText({ bucket: input.source.bucket, key: validationKey });
  if (text === undefined)
    return out.without(
      'failed',
      `the run's validation file s3://${input.source.bucket}/${validationKey} is gone`,
      {
        fix: "Copies of training data under runs/ expire after a while (the bucket's lifecycle rule); drop the file again to retrain and evaluate.",
      },
    );
  const labels = labelsOf(input);
  const examples = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => evaluationExampleOf(JSON.parse(line) as Record<string, unknown>, line, labels))
    .filter((example): example is EvaluationExample => example !== undefined)
    // Classification compares labels: an example without one (a few are allowed) is not asked.
    .filter((example) => labels === null || example.label !== undefined);
  // The current model must not be judged on examples it trained on (a family that trains on all its data
  // moves the split as the data grows): those are left out, where its run's training copy still exists.
  const seen =
    current && currentModel ? await trainedLines(deps.store, input.source.bucket, current.runId) : null;
  const unseen = seen ? examples.filter((example) => !seen.has(lineKey(example.canonicalJson))) : examples;
  if (unseen.length === 0)
    return out.without('nothing_held_out', 'every held-out example is one the current model trained on');
  const sample = sampleEvaluationExamples(unseen, {
    seed: input.split.seed,
    maxExamples: settings.evaluation.maxExamples,
  });
  const plan: EvaluationPlan = {
    newModel,
    currentModel,
    compared: { role: currentModel ? 'current' : 'base', model: currentModel ?? input.model },
    labels,
    sample: sample.counts,
    heldOut: {
      examples: examples.length,
      // null: the current model's training copy has expired, so what it trained on is not known.
      trainedOnByCurrent: currentModel ? (seen ? examples.length - unseen.length : null) : 0,
    },
    asked: sample.examples,
    maxTokens: answerTokens(sample.examples, labels),
    topLogprobs: labels ? Math.min(chat.maxTopLogprobs, Math.max(labels.length, 5)) : 0,
  };

  const pendingOf = async (
    kind: EvaluationPending['pending']['kind'],
    submitted: EvaluationPending['pending']['submitted'],
  ): Promise<EvaluationPending> => {
    // What the check needs to score the answers, kept beside the run: the workflow's state stays small.
    await deps.store.write(
      { bucket: input.source.bucket, key: planKey(input.runId) },
      `${JSON.stringify(plan)}\n`,
      'application/json',
    );
    return {
      pending: {
        kind,
        submitted,
        submittedAt: deps.now().toISOString(),
        checks: 0,
        waitSeconds: evaluationBatchWaitSeconds(0),
      },
    };
  };
  if (settings.evaluation.mode === 'batch') {
    if (!chat.batches)
      return out.without('unavailable', `${chat.name} has no Batch API here`, {
        fix: 'Set "evaluation": {"mode": "online"} in the family\'s tunedrop.json.',
      });
    const submitted: EvaluationPending['pending']['submitted'] = [];
    for (const { role, model } of [{ role: 'new' as const, model: newModel }, plan.compared]) {
      const id = await chat.batches.submit(
        plan.asked.map((example, index) => ({
          customId: String(index),
          request: requestOf(plan, model, example),
        })),
        { tunedrop_run: input.runId, tunedrop_role: role },
      );
      submitted.push({ role, model, id });
    }
    return pendingOf('batches', submitted);
  }
  if (chat.deployments) {
    // A custom model answers only from a deployment of it; a base model answers as it is.
    const deployments = chat.deployments;
    const submitted: EvaluationPending['pending']['submitted'] = [];
    try {
      for (const { role, model } of [{ role: 'new' as const, model: newModel }, plan.compared])
        if (role !== 'base')
          submitted.push({
            role,
            model,
            id: await deployments.deploy(model, deploymentName(input.runId, role)),
          });
    } catch (error) {
      // Refused (a model that cannot be deployed, a quota): the evaluation fails, the model is kept. A
      // passing failure (throttling, an outage) is thrown, for the workflow's retries.
      if (
        !(error instanceof TunedropError) ||
        !(PERMANENT_ERROR_NAMES as readonly string[]).includes(error.name)
      )
        throw error;
      for (const made of submitted) await deployments.remove(made.id);
      return out.without('failed', `deploying a model for on-demand inference failed: ${error.message}`, {
        ...(error.fix ? { fix: error.fix } : {}),
      });
    }
    return pendingOf('deployments', submitted);
  }

  const ask = (model: string) =>
    answersOf(model, plan, { chat, concurrency: settings.evaluation.concurrency });
  const challenger = await ask(newModel);
  // A new model that cannot be asked is not asked against anything.
  const compared = challenger.error ? undefined : await ask(plan.compared.model);
  return conclude(input, plan, { challenger, compared, mode: 'online' }, settings, deps);
}

/** What an evaluation asks, as Evaluate planned it: kept at runs/<runId>/evaluation-plan.json in batch mode. */
const EvaluationPlanSchema = z.object({
  newModel: z.string(),
  currentModel: z.string().nullable(),
  compared: z.object({ role: z.enum(['current', 'base']), model: z.string() }),
  labels: z.array(z.string()).nullable(),
  sample: z.custom<EvaluationRecordSample>((value) => typeof value === 'object' && value !== null),
  heldOut: z.object({ examples: z.number(), trainedOnByCurrent: z.number().nullable() }),
  asked: z.array(
    z.object({
      canonicalJson: z.string(),
      prompt: z.array(z.looseObject({ role: z.string() })),
      expected: z.string(),
      label: z.string().optional(),
    }),
  ),
  maxTokens: z.number().int().positive(),
  topLogprobs: z.number().int().min(0),
});
type EvaluationRecordSample = Extract<EvaluationRecord, { status: 'completed' }>['sample'];
type EvaluationPlan = z.infer<typeof EvaluationPlanSchema>;

const planKey = (runId: string) => `${runKeys(runId).prefix}evaluation-plan.json`;

const requestOf = (plan: EvaluationPlan, model: string, example: EvaluationPlan['asked'][number]) => ({
  model,
  messages: example.prompt,
  maxTokens: plan.maxTokens,
  topLogprobs: plan.topLogprobs,
});

/**
 * A deployment's name: `tunedrop-` and a digest of the run and the role, within Bedrock's 63 characters, the
 * same on every attempt (so a retried Evaluate finds its deployment instead of making a second).
 */
export function deploymentName(runId: string, role: EvaluatedModel['role']): string {
  const digest = createHash('sha256').update(`${runId}\n${role}`).digest('hex').slice(0, 24);
  return `tunedrop-${role}-${digest}`;
}

/** Looks again at what Evaluate waits for: its batches, or its deployments. */
async function checkPending(
  input: EvaluateInput,
  waiting: EvaluationPending,
  settings: { evaluation: EvaluationSettings; promotion: PromotionSettings },
  deps: EvaluateDeps,
): Promise<EvaluationOutcome | EvaluationPending> {
  const text = await deps.store.readText({ bucket: input.source.bucket, key: planKey(input.runId) });
  const plan = text === undefined ? undefined : EvaluationPlanSchema.parse(JSON.parse(text));
  const out = outcomes(input, plan?.currentModel ?? null, deps);
  const waitLonger = (): EvaluationPending => {
    const checks = waiting.pending.checks + 1;
    return { pending: { ...waiting.pending, checks, waitSeconds: evaluationBatchWaitSeconds(checks) } };
  };
  if (waiting.pending.kind === 'deployments') {
    const deployments = deps.chat?.deployments;
    if (!plan || !deployments) {
      if (deployments) await removeDeployments(waiting, deployments);
      return out.without(
        'failed',
        plan
          ? 'the deployments cannot be reached here any more'
          : `the evaluation's plan ${planKey(input.runId)} is gone`,
      );
    }
    return checkDeployments(input, plan, waiting, { ...deps, chat: deps.chat! }, settings, waitLonger, out);
  }
  if (!plan) return out.without('failed', `the evaluation's plan ${planKey(input.runId)} is gone`);
  const batches = deps.chat?.batches;
  if (!batches) return out.without('failed', 'the Batch API cannot be reached here any more');
  const states: ChatBatchState[] = [];
  for (const batch of waiting.pending.submitted) states.push(await batches.get(batch.id));
  if (states.some((state) => state.status === 'pending')) return waitLonger();
  const [challenger, compared] = waiting.pending.submitted.map((batch, i) =>
    answersOfBatch(plan, batch.id, states[i]!),
  );
  return conclude(
    input,
    plan,
    {
      challenger: challenger!,
      compared,
      mode: 'batch',
      batches: waiting.pending.submitted.map(({ model, id }) => ({ model, batchId: id })),
    },
    settings,
    deps,
  );
}

/**
 * Once every deployment is active, asks the models online (a custom model through its deployment), removes
 * the deployments, and scores the answers. A deployment that failed fails the evaluation (the model is
 * kept, not promoted); the others are removed too.
 */
async function checkDeployments(
  input: EvaluateInput,
  plan: EvaluationPlan,
  waiting: EvaluationPending,
  deps: EvaluateDeps & { chat: ChatModels },
  settings: { evaluation: EvaluationSettings; promotion: PromotionSettings },
  waitLonger: () => EvaluationPending,
  out: ReturnType<typeof outcomes>,
): Promise<EvaluationOutcome | EvaluationPending> {
  const deployments = deps.chat.deployments!;
  const states: DeploymentState[] = [];
  for (const deployment of waiting.pending.submitted) states.push(await deployments.state(deployment.id));
  const failed = states.findIndex((state) => state.status === 'failed');
  if (failed >= 0) {
    await removeDeployments(waiting, deployments);
    const state = states[failed] as Extract<DeploymentState, { status: 'failed' }>;
    return out.without(
      'failed',
      `deploying ${waiting.pending.submitted[failed]!.model} for on-demand inference failed: ${state.reason}`,
    );
  }
  if (states.some((state) => state.status === 'creating')) return waitLonger();
  const answeredBy = (role: EvaluatedModel['role'], model: string) =>
    waiting.pending.submitted.find((deployment) => deployment.role === role)?.id ?? model;
  const ask = (role: EvaluatedModel['role'], model: string) =>
    answersOf(answeredBy(role, model), plan, {
      chat: deps.chat,
      concurrency: settings.evaluation.concurrency,
    });
  let asked: { challenger: Answers; compared: Answers | undefined };
  try {
    const challenger = await ask('new', plan.newModel);
    const compared = challenger.error ? undefined : await ask(plan.compared.role, plan.compared.model);
    asked = { challenger, compared };
  } finally {
    // Removed before the outcome: a model the policy does not promote may be deleted, which Bedrock
    // refuses while a deployment of it exists.
    await removeDeployments(waiting, deployments);
  }
  return conclude(
    input,
    plan,
    {
      ...asked,
      mode: 'online',
      deployments: waiting.pending.submitted.map(({ model, id }) => ({ model, deploymentId: id })),
    },
    settings,
    deps,
  );
}

async function removeDeployments(
  waiting: EvaluationPending,
  deployments: NonNullable<ChatModels['deployments']>,
): Promise<void> {
  for (const deployment of waiting.pending.submitted) await deployments.remove(deployment.id);
}

/** A finished batch's answers in the questions' order; any question not answered is the evaluation's error. */
function answersOfBatch(plan: EvaluationPlan, batchId: string, state: ChatBatchState): Answers {
  const result: Answers = { answers: [], calls: 0, inputTokens: 0, outputTokens: 0 };
  if (state.status === 'pending') throw new Error(`batch ${batchId} has not ended`);
  if (!('answers' in state))
    return { ...result, error: { message: `batch ${batchId} ${state.status}: ${state.reason}` } };
  for (const answer of state.answers.values()) {
    result.calls++;
    result.inputTokens += answer.inputTokens;
    result.outputTokens += answer.outputTokens;
  }
  const missing = plan.asked.map((_, index) => String(index)).filter((id) => !state.answers.has(id));
  if (missing.length) {
    const firstError = missing.map((id) => state.errors.get(id)).find((error) => error !== undefined);
    const why = state.status === 'expired' ? 'the batch expired first' : (firstError ?? 'no answer');
    return {
      ...result,
      error: {
        message: `batch ${batchId}: ${missing.length} of ${plan.asked.length} questions were not answered (${why})`,
        ...(state.status === 'expired'
          ? {
              fix: 'OpenAI answers a batch within 24 hours, or returns what it answered; drop the file again, or use "evaluation": {"mode": "online"}.',
            }
          : {}),
      },
    };
  }
  result.answers = plan.asked.map((_, index) => {
    const answer = state.answers.get(String(index))!;
    return { text: answer.text, firstTokenTopLogprobs: answer.firstTokenTopLogprobs };
  });
  return result;
}

/** How an evaluation without numbers ends, and where its record goes. */
function outcomes(input: EvaluateInput, currentModel: string | null, deps: EvaluateDeps) {
  const key = runKeys(input.runId).evaluation;
  const write = async (record: EvaluationRecord) => {
    await deps.store.write(
      { bucket: input.source.bucket, key },
      `${JSON.stringify(record, null, 2)}\n`,
      'application/json',
    );
    // The run's report gets the evaluation too. Best effort: the numbers are in evaluation.json, and a
    // failed write here must not make the workflow retry the step (and pay for the calls again).
    const reportKey = input.results.reportKey;
    if (!reportKey) return;
    try {
      const report = { bucket: input.source.bucket, key: reportKey };
      const html = await deps.store.readText(report);
      if (html !== undefined)
        await deps.store.write(report, withEvaluation(html, record), 'text/html; charset=utf-8');
    } catch (error) {
      deps.onReportError?.(error);
    }
  };
  const header = () =>
    ({
      schemaVersion: EVALUATION_SCHEMA_VERSION,
      runId: input.runId,
      family: input.family,
      provider: input.config.provider,
      evaluatedAt: deps.now().toISOString(),
    }) as const;
  const without = async (
    why: NoEvaluation,
    reason: string,
    extra: { fix?: string; usage?: EvaluationUsage } = {},
  ): Promise<EvaluationOutcome> => {
    const decision = decisionWithoutEvaluation(why, currentModel !== null);
    const status = why === 'failed' ? 'failed' : 'skipped';
    await write({ ...header(), status, reason, ...extra, decision });
    return {
      evaluationKey: key,
      evaluation: {
        status,
        promoted: decision.promote,
        reason: `${reason}: ${decision.reason}`,
        costUsd: extra.usage ? extra.usage.costUsd : 0,
      },
    };
  };
  return { key, write, header, without };
}

/** Scores both models' answers, applies the promotion policy and records it all. */
async function conclude(
  input: EvaluateInput,
  plan: EvaluationPlan,
  asked: {
    challenger: Answers;
    /** Undefined when the new model could not be asked, so the other was not either. */
    compared: Answers | undefined;
    mode: EvaluationMode;
    batches?: Array<{ model: string; batchId: string }>;
    deployments?: Array<{ model: string; deploymentId: string }>;
  },
  settings: { evaluation: EvaluationSettings; promotion: PromotionSettings },
  deps: EvaluateDeps,
): Promise<EvaluationOutcome> {
  const out = outcomes(input, plan.currentModel, deps);
  const { newModel, labels } = plan;
  const examples = plan.asked as EvaluationExample[];
  const usageOf = (model: string, role: EvaluatedModel['role'], answers: Answers): EvaluationUsage => {
    const price = deps.inferencePrice(model, role, asked.mode);
    return {
      calls: answers.calls,
      inputTokens: answers.inputTokens,
      outputTokens: answers.outputTokens,
      costUsd: price
        ? (answers.inputTokens * price.inputUsdPerMillionTokens +
            answers.outputTokens * price.outputUsdPerMillionTokens) /
          1_000_000
        : null,
    };
  };
  const { challenger } = asked;
  const comparedRole = plan.compared.role;
  const comparedModel = plan.compared.model;
  const challengerUsage = usageOf(newModel, 'new', challenger);
  const comparedUsage = asked.compared ? usageOf(comparedModel, comparedRole, asked.compared) : undefined;
  const spent = sumUsage(comparedUsage ? [challengerUsage, comparedUsage] : [challengerUsage]);
  if (challenger.error)
    return out.without('failed', `asking ${newModel} failed: ${challenger.error.message}`, {
      ...(challenger.error.fix ? { fix: challenger.error.fix } : {}),
      usage: spent,
    });
  const compared = asked.compared!;
  const newEvaluation = scoreAnswers(examples, challenger.answers, labels);
  const models: EvaluatedModel[] = [
    {
      model: newModel,
      role: 'new',
      evaluation: newEvaluation,
      headline: headlineMetric(newEvaluation),
      usage: challengerUsage,
    },
  ];
  let comparedNote: string | undefined;
  if (compared.error) {
    // The current model must be compared with: without it, nothing is promoted. A base model that cannot
    // be called (retired at the provider) only loses the comparison, since nothing would be kept instead.
    if (comparedRole === 'current')
      return out.without(
        'failed',
        `asking the current model ${comparedModel} failed: ${compared.error.message}`,
        { ...(compared.error.fix ? { fix: compared.error.fix } : {}), usage: spent },
      );
    comparedNote = `the base model ${comparedModel} could not be asked (${compared.error.message})`;
  } else {
    const evaluation = scoreAnswers(examples, compared.answers, labels);
    models.push({
      model: comparedModel,
      role: comparedRole,
      evaluation,
      headline: headlineMetric(evaluation),
      usage: comparedUsage!,
    });
  }
  const decision = promotionDecision({
    challenger: models[0]!.headline,
    current: models.find((m) => m.role === 'current')?.headline ?? null,
    margin: settings.promotion.margin,
  });
  if (comparedNote) decision.reason = `${decision.reason}; ${comparedNote}`;
  let reason = decision.reason;
  if (!decision.promote && settings.promotion.notPromoted === 'delete') {
    await deps.deleteModel(newModel);
    await deps.registry.markDeleted(input.family, newModel, deps.now().toISOString());
    reason = `${reason}; deleted at the provider ("notPromoted": "delete")`;
  }
  await out.write({
    ...out.header(),
    status: 'completed',
    kind: labels ? 'classification' : 'generation',
    labels,
    sample: plan.sample,
    heldOut: plan.heldOut,
    models,
    mode: asked.mode,
    ...(asked.batches ? { batches: asked.batches } : {}),
    ...(asked.deployments ? { deployments: asked.deployments } : {}),
    decision: { promote: decision.promote, reason },
  });
  const comparedEntry = models[1];
  return {
    evaluationKey: out.key,
    evaluation: {
      status: 'completed',
      metric: models[0]!.headline.metric,
      score: models[0]!.headline.value,
      ...(comparedEntry
        ? {
            compared: {
              role: comparedEntry.role === 'current' ? 'current' : 'base',
              model: comparedEntry.model,
              score: comparedEntry.headline.value,
            },
          }
        : {}),
      promoted: decision.promote,
      reason,
      costUsd: sumUsage(models.map((m) => m.usage)).costUsd,
    },
  };
}

/** A training line's identity (its exact text, hashed: the split's hash, seed 0). */
const lineKey = (line: string) => splitHash(0, line);

/**
 * The lines a run trained on, from its training copy (Prepare's runs/<runId>/train.jsonl), or null when
 * the copy is gone (the bucket's lifecycle expires training copies; 30 days by default).
 */
async function trainedLines(store: ObjectStore, bucket: string, runId: string): Promise<Set<number> | null> {
  const ref = { bucket, key: runKeys(runId).training };
  if (!(await store.head(ref))) return null;
  const keys = new Set<number>();
  for await (const line of readJsonlLines(store.read(ref)))
    if (line.text.trim() !== '') keys.add(lineKey(line.text));
  return keys;
}

/** The dataset's classes, as Validate found them (the split's per-class thresholds); null when not classification. */
function labelsOf(input: ExecutionInput): string[] | null {
  const thresholds = input.split.classThresholds;
  if (!thresholds) return null;
  const labels = Object.keys(thresholds)
    .filter((key) => key.startsWith('class:'))
    .map((key) => key.slice('class:'.length))
    .filter((label) => label !== '');
  return labels.length >= 2 ? labels.sort() : null;
}

function answerTokens(examples: readonly EvaluationExample[], labels: readonly string[] | null): number {
  if (labels) return Math.max(...labels.map((label) => countTextTokens(label))) + 1;
  const longest = Math.max(...examples.map((example) => countTextTokens(example.expected)));
  return Math.min(
    GENERATION_TOKENS_MAX,
    Math.max(GENERATION_TOKENS_MIN, Math.ceil(longest * GENERATION_TOKENS_FACTOR)),
  );
}

interface Answers {
  answers: ModelAnswer[];
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** The first call that failed (after the client's own retries); the others are not asked. */
  error?: { message: string; fix?: string };
}

/** Asks `model` every planned question, `concurrency` at a time, in order; stops asking at the first failure. */
async function answersOf(
  model: string,
  plan: EvaluationPlan,
  how: { chat: ChatModels; concurrency: number },
): Promise<Answers> {
  const examples = plan.asked;
  const result: Answers = {
    answers: new Array<ModelAnswer>(examples.length),
    calls: 0,
    inputTokens: 0,
    outputTokens: 0,
  };
  let next = 0;
  const worker = async () => {
    while (next < examples.length && !result.error) {
      const index = next++;
      try {
        const answer = await how.chat.complete(requestOf(plan, model, examples[index]!));
        result.calls++;
        result.inputTokens += answer.inputTokens;
        result.outputTokens += answer.outputTokens;
        result.answers[index] = { text: answer.text, firstTokenTopLogprobs: answer.firstTokenTopLogprobs };
      } catch (error) {
        result.error ??=
          error instanceof TunedropError
            ? { message: error.message, fix: error.fix }
            : { message: error instanceof Error ? error.message : String(error) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(how.concurrency, examples.length) }, worker));
  return result;
}

function sumUsage(usages: readonly EvaluationUsage[]): EvaluationUsage {
  return usages.reduce<EvaluationUsage>(
    (sum, usage) => ({
      calls: sum.calls + usage.calls,
      inputTokens: sum.inputTokens + usage.inputTokens,
      outputTokens: sum.outputTokens + usage.outputTokens,
      costUsd: sum.costUsd === null || usage.costUsd === null ? null : sum.costUsd + usage.costUsd,
    }),
    { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
  );
}
