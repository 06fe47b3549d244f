import { resolveRunConfig } from '../../functions/core/config.js';
import {
  EvaluationRecordSchema,
  EvaluationSettingsSchema,
  PromotionSettingsSchema,
} from '../../functions/core/evaluation.js';
import { ProviderRejectedError } from '../../functions/core/errors.js';
import type {
  ChatBatches,
  ChatBatchLine,
  ChatBatchState,
  ChatModels,
  ChatRequest,
  ModelDeployments,
} from '../../functions/core/ports.js';
import { runKeys } from '../../functions/core/run.js';
import { evaluateModel, type EvaluateInput } from '../../functions/evaluate/evaluate-model.js';
import type { EvaluationPending } from '../../functions/core/workflow-state.js';
import { memoryModelRegistry, memoryObjectStore, memoryRunStore } from '../support/fakes.js';

const config = (() => {
  const result = resolveRunConfig({ suffix: 'support' });
  if (!result.ok) throw new Error('bad test config');
  return result.config;
})();
const RUN = 'tickets-0123456789abcdef';
const NEW = 'ft:gpt-4.1-mini-2025-04-14:org:support:new';
const CURRENT = 'ft:gpt-4.1-mini-2025-04-14:org:support:old';
const BASE = 'gpt-4.1-mini-2025-04-14';
const LABELS = ['billing', 'bug', 'praise'];

/** A held-out ticket of each class, in the chat format Prepare writes. */
const ticket = (i: number, label: string) =>
  JSON.stringify({
    messages: [
      { role: 'system', content: 'Classify the ticket.' },
      { role: 'user', content: `ticket ${i} about ${label}` },
      { role: 'assistant', content: label, weight: 1 },
    ],
  });
const VALIDATION = Array.from({ length: 30 }, (_, i) => ticket(i, LABELS[i % 3]!)).join('\n') + '\n';

function inputFor(fields: Partial<EvaluateInput> = {}): EvaluateInput {
  return {
    runId: RUN,
    family: 'support',
    source: { bucket: 'bucket', key: 'incoming/support/tickets.jsonl' },
    config,
    model: BASE,
    split: {
      seed: 42,
      threshold: 1,
      classThresholds: Object.fromEntries(LABELS.map((l) => [`class:${l}`, 1])),
    },
    validationSource: null,
    conversion: null,
    estimate: { billedTokens: 1000, costUsd: 0.005, epochs: 3 },
    prepared: {
      trainingKey: runKeys(RUN).training,
      trainingExamples: 120,
      validationKey: runKeys(RUN).validation,
      validationExamples: 30,
    },
    results: {
      resultsKey: runKeys(RUN).results,
      summaryKey: runKeys(RUN).summary,
      fineTunedModel: NEW,
      trainedTokens: 9000,
      costUsd: 0.045,
    },
    ...fields,
  };
}

/**
 * Models that answer from the ticket's text: `skill` says, per model, how many tickets in 10 it gets right
 * (the others it answers with the next label); a model listed in `refuses` is refused as the provider would.
 */
function chatModels(skill: Record<string, number>, refuses: string[] = []) {
  const asked: ChatRequest[] = [];
  const chat: ChatModels = {
    name: 'openai',
    maxTopLogprobs: 20,
    async complete(request) {
      asked.push(request);
      if (refuses.includes(request.model))
        throw new ProviderRejectedError(
          `The model ${request.model} does not exist or you do not have access to it.`,
          'Check the model id.',
          'model_not_found',
        );
      const user = String(request.messages.find((m) => m.role === 'user')!.content);
      const [, n, label] = /ticket (\d+) about (\w+)/.exec(user)!;
      const right = Number(n) % 10 < (skill[request.model] ?? 0);
      const text = right ? label! : LABELS[(LABELS.indexOf(label!) + 1) % 3]!;
      return {
        text,
        firstTokenTopLogprobs: [
          { token: text, logprob: Math.log(0.7) },
          { token: LABELS.find((l) => l !== text)!, logprob: Math.log(0.2) },
        ],
        inputTokens: 20,
        outputTokens: 2,
      };
    },
  };
  return { chat, asked };
}

interface BatchBehaviour {
  /** How many looks find each batch still running. @default 1 */
  pendingLooks?: number;
  /** How the batches end. @default 'completed' */
  end?: 'completed' | 'expired' | 'failed' | 'cancelled';
  /** With 'expired': how many of each batch's lines were answered in time. @default 0 */
  answered?: number;
}

/** A Batch API over the same models: each line is answered as `complete` answers it, once the batch ends. */
function batchesOver(chat: ChatModels, behaviour: BatchBehaviour) {
  const submitted: Array<{
    id: string;
    lines: ChatBatchLine[];
    metadata: Record<string, string>;
    looks: number;
  }> = [];
  const batches: ChatBatches = {
    async submit(lines, metadata) {
      const id = `batch_${submitted.length + 1}`;
      submitted.push({ id, lines: [...lines], metadata: { ...metadata }, looks: 0 });
      return id;
    },
    async get(id): Promise<ChatBatchState> {
      const batch = submitted.find((b) => b.id === id)!;
      batch.looks++;
      if (batch.looks <= (behaviour.pendingLooks ?? 1))
        return { status: 'pending', providerStatus: 'in_progress' };
      const end = behaviour.end ?? 'completed';
      if (end === 'failed' || end === 'cancelled')
        return { status: end, reason: 'the input file was refused' };
      const answers = new Map<string, Awaited<ReturnType<ChatModels['complete']>>>();
      const errors = new Map<string, string>();
      for (const [i, line] of batch.lines.entries()) {
        if (end === 'expired' && i >= (behaviour.answered ?? 0)) continue;
        try {
          answers.set(line.customId, await chat.complete(line.request));
        } catch (error) {
          errors.set(line.customId, (error as Error).message);
        }
      }
      return { status: end, answers, errors };
    },
    async cancel() {},
  };
  return { batches, submitted };
}

interface DeploymentBehaviour {
  /** How many looks find each deployment still being created. @default 1 */
  creatingLooks?: number;
  /** The model whose deployment fails. */
  fails?: string;
  /** Deploying is refused outright (a model Bedrock cannot deploy). */
  refused?: boolean;
}

/**
 * Models as Amazon Bedrock serves them: a custom model (ft:…) answers only through an active deployment of
 * it, a base model as it is, and without logprobs. `log` says what happened, in order.
 */
function deploymentsOver(chat: ChatModels, behaviour: DeploymentBehaviour) {
  const made = new Map<string, { model: string; looks: number; removed: boolean }>();
  const log: string[] = [];
  const deployments: ModelDeployments = {
    async deploy(model, name) {
      if (behaviour.refused)
        throw new ProviderRejectedError(
          'the base model does not support on-demand deployment',
          'Use an Amazon Nova model.',
          'ValidationException',
        );
      const id = `arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/${name}`;
      if (!made.has(id)) made.set(id, { model, looks: 0, removed: false });
      log.push(`deploy ${model}`);
      return id;
    },
    async state(id) {
      const deployment = made.get(id)!;
      deployment.looks++;
      if (deployment.looks <= (behaviour.creatingLooks ?? 1)) return { status: 'creating' };
      if (behaviour.fails === deployment.model) return { status: 'failed', reason: 'no capacity' };
      return { status: 'active' };
    },
    async remove(id) {
      made.get(id)!.removed = true;
      log.push(`remove ${made.get(id)!.model}`);
    },
  };
  const served: ChatModels = {
    name: 'bedrock',
    maxTopLogprobs: 0,
    deployments,
    async complete(request) {
      const deployment = made.get(request.model);
      if (request.model.startsWith('ft:') || deployment?.removed)
        throw new ProviderRejectedError(
          `${request.model} cannot be invoked on demand`,
          'Deploy it.',
          'ValidationException',
        );
      const answer = await chat.complete({ ...request, model: deployment?.model ?? request.model });
      return { ...answer, firstTokenTopLogprobs: null };
    },
  };
  return { chat: served, made, log };
}

async function evaluate(
  options: {
    skill?: Record<string, number>;
    refuses?: string[];
    current?: string | null;
    evaluation?: Record<string, unknown>;
    promotion?: Record<string, unknown>;
    input?: Partial<EvaluateInput>;
    validation?: string | null;
    unavailable?: boolean;
    /** The current model's training copy (runs/earlier-run/train.jsonl). @default none (expired) */
    currentTrainedOn?: string;
    /** Evaluate in batch mode, the batches behaving so. */
    batch?: BatchBehaviour;
    /** Models that answer only from deployments (Amazon Bedrock), the deployments behaving so. */
    deployments?: DeploymentBehaviour;
  } = {},
) {
  const objects = memoryObjectStore({
    ...(options.validation === null
      ? {}
      : { [`bucket/${runKeys(RUN).validation}`]: options.validation ?? VALIDATION }),
    ...(options.currentTrainedOn
      ? { [`bucket/${runKeys('earlier-run').training}`]: options.currentTrainedOn }
      : {}),
  });
  const { registry, models } = memoryModelRegistry();
  const entry = (model: string, runId: string, createdAt: string) => ({
    family: 'support',
    model,
    provider: 'openai' as const,
    baseModel: BASE,
    parentModel: BASE,
    runId,
    createdAt,
  });
  if (options.current !== null) {
    const current = entry(options.current ?? CURRENT, 'earlier-run', '2026-11-01T00:00:00.000Z');
    await registry.register(current);
    await registry.promote(current, current.createdAt);
  }
  // Collect registered the new model before Evaluate runs.
  await registry.register(entry(NEW, RUN, '2026-11-30T09:00:00.000Z'));
  const { runs, records } = memoryRunStore();
  await runs.create({
    runId: RUN,
    family: 'support',
    status: 'RECEIVED',
    history: [{ status: 'RECEIVED', at: '2026-11-30T08:00:00.000Z' }],
    source: { bucket: 'bucket', key: 'incoming/support/tickets.jsonl' },
    createdAt: '2026-11-30T08:00:00.000Z',
    updatedAt: '2026-11-30T08:00:00.000Z',
  });
  for (const status of ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING'] as const)
    await runs.advance(RUN, status);
  const deleted: string[] = [];
  const { chat: online, asked } = chatModels(
    options.skill ?? { [NEW]: 9, [CURRENT]: 6, [BASE]: 0 },
    options.refuses,
  );
  const overBatches = options.batch ? batchesOver(online, options.batch) : undefined;
  const overDeployments = options.deployments ? deploymentsOver(online, options.deployments) : undefined;
  const chat: ChatModels = overBatches
    ? { ...online, batches: overBatches.batches }
    : (overDeployments?.chat ?? online);
  const settings = {
    evaluation: EvaluationSettingsSchema.parse({
      ...(options.batch ? { mode: 'batch' } : {}),
      ...options.evaluation,
    }),
    promotion: PromotionSettingsSchema.parse(options.promotion ?? {}),
  };
  // The workflow's loop in batch mode: Evaluate, then wait and look again while the batches run.
  const steps: Array<EvaluationPending> = [];
  const evaluateStep = (evaluation?: EvaluationPending) =>
    evaluateModel(inputFor({ ...options.input, ...(evaluation ? { evaluation } : {}) }), settings, {
      store: objects.store,
      runs,
      chat: options.unavailable ? undefined : chat,
      ...(options.unavailable
        ? { unavailable: { reason: 'Amazon Bedrock custom models need a deployment', fix: 'Deploy it.' } }
        : {}),
      registry,
      deleteModel: async (model) => {
        deleted.push(model);
        overDeployments?.log.push(`delete ${model}`);
      },
      // Batch prices are half the online ones here (the catalog keeps each model's own).
      inferencePrice: (model, _role, mode) => {
        const factor = mode === 'batch' ? 0.5 : 1;
        return model.startsWith('ft:')
          ? { inputUsdPerMillionTokens: 0.8 * factor, outputUsdPerMillionTokens: 3.2 * factor }
          : { inputUsdPerMillionTokens: 0.4 * factor, outputUsdPerMillionTokens: 1.6 * factor };
      },
      now: () => new Date('2026-11-30T10:00:00.000Z'),
    });
  let result = await evaluateStep();
  while ('pending' in result) {
    steps.push(result);
    if (steps.length > 20) throw new Error('the batches never ended');
    result = await evaluateStep(result);
  }
  const written = objects.has(runKeys(RUN).evaluation)
    ? EvaluationRecordSchema.parse(JSON.parse(objects.text(runKeys(RUN).evaluation)))
    : undefined;
  expect(result.evaluationKey).toBe(runKeys(RUN).evaluation);
  const outcome = { ...result.evaluation, promote: result.evaluation.promoted };
  return {
    outcome,
    record: written,
    asked,
    deleted,
    models,
    status: records.get(RUN)!.status,
    steps,
    submitted: overBatches?.submitted ?? [],
    deployments: overDeployments,
    objects,
  };
}

describe('evaluateModel', () => {
  it('asks the new and the current model every held-out ticket, as the user will, and promotes the better new one', async () => {
    const { outcome, record, asked, status } = await evaluate();
    expect(status).toBe('EVALUATING');
    expect(outcome).toMatchObject({
      status: 'completed',
      promote: true,
      metric: 'macro_f1',
      score: expect.any(Number),
      compared: { role: 'current', model: CURRENT },
    });
    expect(outcome.score!).toBeGreaterThan(outcome.compared!.score);
    expect(record).toMatchObject({ status: 'completed', kind: 'classification', labels: LABELS });
    if (record?.status !== 'completed') throw new Error('not completed');
    expect(record.models.map((m) => [m.model, m.role])).toEqual([
      [NEW, 'new'],
      [CURRENT, 'current'],
    ]);
    expect(record.models[0]!.evaluation).toMatchObject({
      kind: 'classification',
      examples: 30,
      accuracy: 0.9,
    });
    expect(record.models[1]!.evaluation).toMatchObject({ accuracy: 0.6 });
    // The example's own system and user turns, without its answer or its training weight.
    expect(asked[0]!.messages).toEqual([
      { role: 'system', content: 'Classify the ticket.' },
      { role: 'user', content: expect.stringMatching(/^ticket \d+ about \w+$/) },
    ]);
    // A label's tokens and one more; logprobs for the class probabilities.
    expect(asked.every((r) => r.maxTokens <= 3 && r.topLogprobs >= LABELS.length)).toBe(true);
    expect(asked).toHaveLength(60);
    // 30 calls of 20 + 2 tokens each per model, at the model's price.
    expect(record.models[0]!.usage).toEqual({
      calls: 30,
      inputTokens: 600,
      outputTokens: 60,
      costUsd: (600 * 0.8 + 60 * 3.2) / 1e6,
    });
    // The current model is fine-tuned too: the same price.
    expect(outcome.costUsd).toBeCloseTo((2 * (600 * 0.8 + 60 * 3.2)) / 1e6, 12);
  });

  it('keeps the current model when the new one is worse by more than the margin, and promotes it within the margin', async () => {
    const worse = await evaluate({ skill: { [NEW]: 5, [CURRENT]: 7 } });
    expect(worse.outcome).toMatchObject({
      promote: false,
      reason: expect.stringContaining('more than the margin 0'),
    });
    expect(worse.record?.decision.promote).toBe(false);
    const within = await evaluate({ skill: { [NEW]: 6, [CURRENT]: 7 }, promotion: { margin: 0.2 } });
    expect(within.outcome).toMatchObject({
      promote: true,
      reason: expect.stringContaining('within the margin 0.2'),
    });
  });

  it("compares a family's first model with the base model, and promotes it whatever the numbers", async () => {
    const { outcome, record } = await evaluate({ current: null, skill: { [NEW]: 2, [BASE]: 8 } });
    expect(outcome).toMatchObject({ promote: true, compared: { role: 'base', model: BASE } });
    expect(outcome.reason).toContain('no current model');
    if (record?.status !== 'completed') throw new Error('not completed');
    expect(record.models.map((m) => m.role)).toEqual(['new', 'base']);
  });

  it('promotes a first model without a comparison when the base model cannot be asked (retired at the provider)', async () => {
    const { outcome, record } = await evaluate({ current: null, refuses: [BASE] });
    expect(outcome).toMatchObject({ status: 'completed', promote: true });
    expect(outcome.reason).toContain(`the base model ${BASE} could not be asked`);
    if (record?.status !== 'completed') throw new Error('not completed');
    expect(record.models.map((m) => m.role)).toEqual(['new']);
  });

  it('records a failed evaluation and does not promote when the new model cannot be asked; the model is kept', async () => {
    const { outcome, record } = await evaluate({ refuses: [NEW] });
    expect(outcome).toMatchObject({ status: 'failed', promote: false });
    expect(record).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining(`asking ${NEW} failed`),
      fix: 'Check the model id.',
      decision: { promote: false },
    });
  });

  it('does not promote when the current model cannot be asked: nothing to compare with', async () => {
    const { outcome } = await evaluate({ refuses: [CURRENT] });
    expect(outcome).toMatchObject({ status: 'failed', promote: false });
    expect(outcome.reason).toContain('the evaluation failed');
  });

  it('asks at most maxExamples, stratified by class, the same ones for both models', async () => {
    const { record, asked } = await evaluate({ evaluation: { maxExamples: 9 } });
    if (record?.status !== 'completed') throw new Error('not completed');
    expect(record.sample).toMatchObject({ availableExamples: 30, chosenExamples: 9, stratified: true });
    expect(record.sample.perClass.map((c) => c.chosen)).toEqual([3, 3, 3]);
    const byModel = (model: string) =>
      asked
        .filter((r) => r.model === model)
        .map((r) => JSON.stringify(r.messages))
        .sort();
    expect(byModel(NEW)).toEqual(byModel(CURRENT));
    expect(byModel(NEW)).toHaveLength(9);
  });

  it('scores free-text answers as generation when the dataset is not classification', async () => {
    const { record, asked } = await evaluate({
      input: { split: { seed: 42, threshold: 1, classThresholds: null } },
    });
    if (record?.status !== 'completed') throw new Error('not completed');
    expect(record).toMatchObject({ kind: 'generation', labels: null });
    expect(record.models[0]!.headline.metric).toBe('rouge_l_f1');
    expect(asked.every((r) => r.topLogprobs === 0 && r.maxTokens >= 16)).toBe(true);
  });

  it('promotes without asking anything when evaluation is turned off', async () => {
    const { outcome, record, asked } = await evaluate({ evaluation: { enabled: false } });
    expect(asked).toEqual([]);
    expect(outcome).toMatchObject({ status: 'skipped', promote: true, costUsd: 0 });
    expect(record).toMatchObject({ status: 'skipped', decision: { promote: true } });
  });

  it('keeps the current model when nothing was held out, and promotes a first model', async () => {
    const noValidation = {
      prepared: { ...inputFor().prepared!, validationKey: null, validationExamples: 0 },
    };
    const kept = await evaluate({ input: noValidation });
    expect(kept.outcome).toMatchObject({ status: 'skipped', promote: false });
    const first = await evaluate({ input: noValidation, current: null });
    expect(first.outcome).toMatchObject({ status: 'skipped', promote: true });
  });

  it('fails the evaluation, not the run, when the validation file has expired, saying why', async () => {
    const { outcome, record } = await evaluate({ validation: null });
    expect(outcome).toMatchObject({ status: 'failed', promote: false });
    expect(record).toMatchObject({ status: 'failed', fix: expect.stringContaining('lifecycle') });
  });

  it('deletes a model the policy does not promote under "notPromoted": "delete", and never one whose evaluation failed', async () => {
    const worse = await evaluate({ skill: { [NEW]: 5, [CURRENT]: 7 }, promotion: { notPromoted: 'delete' } });
    expect(worse.deleted).toEqual([NEW]);
    expect(worse.models.get(NEW)?.deletedAt).toBeDefined();
    expect(worse.outcome.reason).toContain('deleted at the provider');
    const failed = await evaluate({ refuses: [NEW], promotion: { notPromoted: 'delete' } });
    expect(failed.deleted).toEqual([]);
    expect(failed.models.get(NEW)?.deletedAt).toBeUndefined();
  });

  it("says why and what to do where the provider's models cannot be asked, keeping the current model", async () => {
    const kept = await evaluate({ unavailable: true });
    expect(kept.asked).toEqual([]);
    expect(kept.outcome).toMatchObject({ status: 'skipped', promote: false });
    expect(kept.record).toMatchObject({
      status: 'skipped',
      reason: 'Amazon Bedrock custom models need a deployment',
      fix: 'Deploy it.',
    });
    const first = await evaluate({ unavailable: true, current: null });
    expect(first.outcome).toMatchObject({ status: 'skipped', promote: true });
  });

  it('leaves out the held-out examples the current model trained on, and says how many', async () => {
    const validation = VALIDATION.trim().split('\n');
    const { record, asked } = await evaluate({ currentTrainedOn: `${validation.slice(0, 12).join('\n')}\n` });
    if (record?.status !== 'completed') throw new Error('not completed');
    expect(record.heldOut).toEqual({ examples: 30, trainedOnByCurrent: 12 });
    expect(record.sample.chosenExamples).toBe(18);
    const askedUsers = new Set(asked.map((r) => String(r.messages[1]!.content)));
    for (const line of validation.slice(0, 12))
      expect(
        askedUsers.has(
          String((JSON.parse(line) as { messages: Array<{ content: string }> }).messages[1]!.content),
        ),
      ).toBe(false);
    // Its training copy expired: all are asked, and that it is not known is said.
    const expired = await evaluate();
    if (expired.record?.status !== 'completed') throw new Error('not completed');
    expect(expired.record.heldOut).toEqual({ examples: 30, trainedOnByCurrent: null });
  });

  describe('in batch mode', () => {
    it('asks both models through the Batch API, waits while the batches run, and scores them as online answers', async () => {
      const online = await evaluate();
      const batch = await evaluate({ batch: { pendingLooks: 2 } });
      expect(batch.outcome).toEqual({ ...online.outcome, costUsd: online.outcome.costUsd! / 2 });
      expect(batch.record).toMatchObject({
        status: 'completed',
        mode: 'batch',
        batches: [
          { model: NEW, batchId: 'batch_1' },
          { model: CURRENT, batchId: 'batch_2' },
        ],
      });
      // One model per batch, every question once, named by its place.
      expect(
        batch.submitted.map((b) => [b.lines.length, new Set(b.lines.map((l) => l.request.model))]),
      ).toEqual([
        [30, new Set([NEW])],
        [30, new Set([CURRENT])],
      ]);
      expect(batch.submitted[0]!.metadata).toEqual({ tunedrop_run: RUN, tunedrop_role: 'new' });
      // Each look finds both running twice: a minute, then two, then four, backing off.
      expect(batch.steps.map((step) => [step.pending.checks, step.pending.waitSeconds])).toEqual([
        [0, 60],
        [1, 120],
        [2, 240],
      ]);
      expect(batch.status).toBe('EVALUATING');
      expect(batch.objects.has(`runs/${RUN}/evaluation-plan.json`)).toBe(true);
    });

    it('fails the evaluation, keeping the model unpromoted, when a batch expires before answering every question', async () => {
      const { outcome, record } = await evaluate({ batch: { end: 'expired', answered: 20 } });
      expect(outcome).toMatchObject({ status: 'failed', promote: false });
      expect(record).toMatchObject({
        status: 'failed',
        reason: expect.stringContaining('10 of 30 questions were not answered (the batch expired first)'),
        fix: expect.stringContaining('24 hours'),
        // What both batches answered is billed, and counted.
        usage: { calls: 40, inputTokens: 800, outputTokens: 80 },
      });
    });

    it('fails the evaluation when the provider refuses a batch, saying why', async () => {
      const { outcome, record } = await evaluate({ batch: { end: 'failed' } });
      expect(outcome).toMatchObject({ status: 'failed', promote: false });
      expect(record).toMatchObject({
        reason: expect.stringContaining('batch_1 failed: the input file was refused'),
      });
    });

    it('promotes a first model without a comparison when the base model refuses every line, as online', async () => {
      const { outcome, record } = await evaluate({ batch: {}, current: null, refuses: [BASE] });
      expect(outcome).toMatchObject({ status: 'completed', promote: true });
      expect(record).toMatchObject({
        decision: { reason: expect.stringContaining(`the base model ${BASE} could not be asked`) },
      });
    });
  });

  describe('where custom models answer only from a deployment (Amazon Bedrock)', () => {
    it('deploys the new and the current model, waits until both are active, asks them there, and removes them', async () => {
      const online = await evaluate();
      const { outcome, record, steps, deployments, status } = await evaluate({
        deployments: { creatingLooks: 2 },
      });
      // The same answers as online (no logprobs on Bedrock, which leaves the headline alone).
      expect(outcome).toMatchObject({ status: 'completed', promote: true, score: online.outcome.score });
      expect(outcome.compared).toEqual(online.outcome.compared);
      expect(
        steps.map((step) => [
          step.pending.kind,
          step.pending.checks,
          step.pending.submitted.map((d) => d.model),
        ]),
      ).toEqual([
        ['deployments', 0, [NEW, CURRENT]],
        ['deployments', 1, [NEW, CURRENT]],
        ['deployments', 2, [NEW, CURRENT]],
      ]);
      expect([...deployments!.made.values()].every((d) => d.removed)).toBe(true);
      expect(record).toMatchObject({
        mode: 'online',
        deployments: [
          {
            model: NEW,
            deploymentId: expect.stringMatching(/custom-model-deployment\/tunedrop-new-[0-9a-f]{24}$/),
          },
          { model: CURRENT, deploymentId: expect.stringMatching(/tunedrop-current-/) },
        ],
      });
      expect(status).toBe('EVALUATING');
    });

    it("deploys only the new model for a family's first model: the base model answers as it is", async () => {
      const { outcome, deployments } = await evaluate({ deployments: {}, current: null });
      expect(outcome).toMatchObject({ status: 'completed', compared: { role: 'base', model: BASE } });
      expect(deployments!.log).toEqual([`deploy ${NEW}`, `remove ${NEW}`]);
    });

    it('fails the evaluation when a deployment fails, removing the others, and keeps the model unpromoted', async () => {
      const { outcome, record, deployments } = await evaluate({ deployments: { fails: CURRENT } });
      expect(outcome).toMatchObject({ status: 'failed', promote: false });
      expect(record).toMatchObject({
        reason: expect.stringContaining(`deploying ${CURRENT} for on-demand inference failed: no capacity`),
      });
      expect([...deployments!.made.values()].every((d) => d.removed)).toBe(true);
    });

    it('fails the evaluation with the fix when deploying is refused, leaving nothing behind', async () => {
      const { outcome, record, deployments } = await evaluate({ deployments: { refused: true } });
      expect(outcome).toMatchObject({ status: 'failed', promote: false });
      expect(record).toMatchObject({
        reason: expect.stringContaining('does not support on-demand deployment'),
        fix: 'Use an Amazon Nova model.',
      });
      expect(deployments!.made.size).toBe(0);
    });

    it('removes the deployments before deleting a model the policy does not promote', async () => {
      const { outcome, deployments } = await evaluate({
        deployments: {},
        skill: { [NEW]: 3, [CURRENT]: 8 },
        promotion: { notPromoted: 'delete' },
      });
      expect(outcome).toMatchObject({ status: 'completed', promote: false });
      expect(deployments!.log).toEqual([
        `deploy ${NEW}`,
        `deploy ${CURRENT}`,
        `remove ${NEW}`,
        `remove ${CURRENT}`,
        `delete ${NEW}`,
      ]);
    });
  });
});
