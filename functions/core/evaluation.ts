import { z } from 'zod';
import { detectFormat, textOf, type ChatMessage } from './formats.js';
import {
  classificationEvaluation,
  generationEvaluation,
  HeadlineSchema,
  labelOfAnswer,
  labelProbabilities,
  ModelEvaluationSchema,
  normaliseAnswer,
  type ClassificationPair,
  type Headline,
  type ModelEvaluation,
  type TopLogprob,
} from './evaluation-metrics.js';
import { EvaluationSampleCountsSchema } from './evaluation-sample.js';
import type { TokenPrice } from './catalog.js';

/**
 * Evaluation before promotion (#14): the new model and the family's current one (or the base model, for a
 * family's first model) answer the same held-out examples, the way the user will call them (chat
 * completions with the example's own turns before its answer), and the promotion policy compares one
 * number. Pure: the step (functions/evaluate) reads the examples, calls the models and writes
 * `runs/<runId>/evaluation.json` (EvaluationRecordSchema; docs/evaluation.md).
 */

/** A family's evaluation settings (`"evaluation"` in tunedrop.json). */
export const EvaluationSettingsSchema = z
  .object({
    /**
     * Evaluate each new model before it becomes the family's current one. Off, a new model is promoted
     * as before #14, without numbers. @default true
     */
    enabled: z.boolean().default(true),
    /**
     * At most this many held-out examples are asked (sampled with the run's seed, stratified by class).
     * Each is asked of both models. @default 200
     */
    maxExamples: z.number().int().min(1).max(10_000).default(200),
    /** Calls to the provider at once, per model (online mode). @default 4 */
    concurrency: z.number().int().min(1).max(16).default(4),
    /**
     * How the models are asked. "online": chat completions, `concurrency` at a time, done in minutes.
     * "batch": the provider's Batch API (OpenAI: about half the price, answers within 24 hours; docs/
     * evaluation-facts.md 1.2); the run waits in EVALUATING, looking every few minutes, and the family's
     * next run waits behind it. Where a provider has no Batch API here, "batch" is refused at validation.
     * @default "online"
     */
    mode: z.enum(['online', 'batch']).default('online'),
  })
  .strict();
export type EvaluationSettings = z.infer<typeof EvaluationSettingsSchema>;

/** A family's promotion policy (`"promotion"` in tunedrop.json). */
export const PromotionSettingsSchema = z
  .object({
    /**
     * How far (absolute, on the 0–1 headline metric) the new model may fall below the current one and still
     * be promoted. 0 promotes when the metric does not drop. @default 0
     */
    margin: z.number().min(0).max(1).default(0),
    /**
     * A model not promoted: "keep" it at the provider (listed in the registry, `tunedrop models promote`
     * can still make it current) or "delete" it there (no upkeep where the provider charges for it).
     * @default "keep"
     */
    notPromoted: z.enum(['keep', 'delete']).default('keep'),
  })
  .strict();
export type PromotionSettings = z.infer<typeof PromotionSettingsSchema>;

/** The message fields chat completions take; a training line's `weight` is not one of them. */
const PROMPT_FIELDS = ['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'function_call'] as const;

/** One held-out example as evaluation asks it. */
export interface EvaluationExample {
  /** The line's JSON, as the split hashed it: what the sample ranks by. */
  canonicalJson: string;
  /** The turns before the answer, as chat completions takes them. */
  prompt: ChatMessage[];
  /** The answer the example teaches. */
  expected: string;
  /** Its class, for a classification dataset (the answer, trimmed, when it is one of the classes). */
  label?: string;
}

/**
 * A validated training line (chat or preference) as an evaluation example: the turns before its last
 * trained answer, and that answer; undefined for a line with nothing to ask (no trained answer).
 */
export function evaluationExampleOf(
  line: Record<string, unknown>,
  canonicalJson: string,
  labels: readonly string[] | null,
): EvaluationExample | undefined {
  let prompt: ChatMessage[];
  let expected: string;
  const format = detectFormat(line);
  if (format === 'chat' && Array.isArray(line.messages)) {
    const messages = line.messages as ChatMessage[];
    const last = messages.findLastIndex((m) => m.role === 'assistant' && m.weight !== 0);
    if (last < 0) return undefined;
    prompt = messages.slice(0, last);
    expected = textOf(messages[last]!);
  } else if (format === 'preference' && Array.isArray(line.preferred_output)) {
    const input = line.input as { messages?: unknown } | undefined;
    const preferred = (line.preferred_output as ChatMessage[])[0];
    if (!Array.isArray(input?.messages) || !preferred) return undefined;
    prompt = input.messages as ChatMessage[];
    expected = textOf(preferred);
  } else return undefined;
  if (prompt.length === 0 || !prompt.every(isTextTurn) || !isTextTurn(answerOf(line, format)))
    return undefined;
  const label = labels ? (labelOfAnswer(expected, labels) ?? undefined) : undefined;
  return {
    canonicalJson,
    prompt: prompt.map((message) => promptMessage(message)),
    expected,
    ...(label !== undefined ? { label } : {}),
  };
}

/**
 * Evaluation asks text conversations only: a turn with tool calls, a tool's or function's answer, or an
 * image is left out (the request such a conversation needs, with its tool definitions or images, is not
 * one tunedrop makes yet; docs/evaluation.md, "Limits").
 */
function isTextTurn(message: ChatMessage | undefined): boolean {
  if (!message || !['system', 'developer', 'user', 'assistant'].includes(message.role)) return false;
  if (message.tool_calls !== undefined || message.function_call !== undefined) return false;
  const content = message.content;
  return (
    typeof content === 'string' ||
    (Array.isArray(content) &&
      content.every(
        (part) => typeof part === 'object' && part !== null && (part as { type?: unknown }).type === 'text',
      ))
  );
}

/** The answer a line teaches, as evaluationExampleOf picks it. */
function answerOf(
  line: Record<string, unknown>,
  format: ReturnType<typeof detectFormat>,
): ChatMessage | undefined {
  if (format === 'chat' && Array.isArray(line.messages))
    return (line.messages as ChatMessage[]).findLast((m) => m.role === 'assistant' && m.weight !== 0);
  if (format === 'preference' && Array.isArray(line.preferred_output))
    return (line.preferred_output as ChatMessage[])[0];
  return undefined;
}

function promptMessage(message: ChatMessage): ChatMessage {
  const kept: Record<string, unknown> = {};
  for (const field of PROMPT_FIELDS) if (message[field] !== undefined) kept[field] = message[field];
  return kept as ChatMessage;
}

/** One model's answer to one example. */
export interface ModelAnswer {
  text: string;
  /** The first generated token's alternatives, where the provider gives logprobs. */
  firstTokenTopLogprobs: TopLogprob[] | null;
}

/** What one model's answers score on the examples (classification when `labels` is given). */
export function scoreAnswers(
  examples: readonly EvaluationExample[],
  answers: readonly ModelAnswer[],
  labels: readonly string[] | null,
): ModelEvaluation {
  if (labels) {
    const pairs: ClassificationPair[] = examples.map((example, i) => {
      const answer = answers[i]!;
      const probabilities = answer.firstTokenTopLogprobs
        ? labelProbabilities(answer.firstTokenTopLogprobs, labels).probabilities
        : undefined;
      return {
        expected: example.label ?? normaliseAnswer(example.expected),
        predicted: answer.text,
        ...(probabilities ? { probabilities } : {}),
      };
    });
    return classificationEvaluation(pairs, labels);
  }
  return generationEvaluation(
    examples.map((example, i) => ({ expected: example.expected, predicted: answers[i]!.text })),
  );
}

/** What the promotion policy decided, and why, in words a person reads. */
export const PromotionDecisionSchema = z.object({
  promote: z.boolean(),
  reason: z.string(),
});
export type PromotionDecision = z.infer<typeof PromotionDecisionSchema>;

/**
 * The policy: promote when the family has no current model, or when the new model's headline metric is not
 * below the current model's by more than `margin`. Against the base model (a first model), the numbers are
 * shown but nothing is compared: there is no model to keep instead.
 */
export function promotionDecision(input: {
  challenger: Headline;
  /** The current model's headline on the same examples; null when the family has no current model. */
  current: Headline | null;
  margin: number;
}): PromotionDecision {
  const { challenger, current, margin } = input;
  if (!current) return { promote: true, reason: 'the family has no current model' };
  const drop = current.value - challenger.value;
  const shown = (value: number) => value.toFixed(3);
  if (drop <= margin + 1e-12)
    return {
      promote: true,
      reason:
        drop <= 0
          ? `${challenger.metric} ${shown(challenger.value)} is not below the current model's ${shown(current.value)}`
          : `${challenger.metric} ${shown(challenger.value)} is below the current model's ${shown(current.value)} by ${shown(drop)}, within the margin ${margin}`,
    };
  return {
    promote: false,
    reason: `${challenger.metric} ${shown(challenger.value)} is below the current model's ${shown(current.value)} by ${shown(drop)}, more than the margin ${margin}`,
  };
}

/** Tokens a model's evaluation used, and what they cost where the price is known. */
export const EvaluationUsageSchema = z.object({
  calls: z.number().int().min(0),
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  /** Null where no source gives the model's inference price. */
  costUsd: z.number().min(0).nullable(),
});
export type EvaluationUsage = z.infer<typeof EvaluationUsageSchema>;

/** One model's side of the comparison. */
export const EvaluatedModelSchema = z.object({
  model: z.string(),
  /** new: the run's model; current: the family's current model; base: the base model (a first model). */
  role: z.enum(['new', 'current', 'base']),
  evaluation: ModelEvaluationSchema,
  headline: HeadlineSchema,
  usage: EvaluationUsageSchema,
});
export type EvaluatedModel = z.infer<typeof EvaluatedModelSchema>;

export const EVALUATION_SCHEMA_VERSION = 1;

/** `runs/<runId>/evaluation.json`. */
export const EvaluationRecordSchema = z.discriminatedUnion('status', [
  z.object({
    schemaVersion: z.literal(EVALUATION_SCHEMA_VERSION),
    status: z.literal('completed'),
    runId: z.string(),
    family: z.string(),
    provider: z.string(),
    evaluatedAt: z.string(),
    kind: z.enum(['classification', 'generation']),
    /** The classes, for classification. */
    labels: z.array(z.string()).nullable(),
    sample: EvaluationSampleCountsSchema,
    /**
     * The run's held-out examples, and how many of them the current model had trained on (left out, so that
     * it is not judged on what it learned); null when its training copy has expired and that is not known.
     */
    heldOut: z
      .object({ examples: z.number().int().min(0), trainedOnByCurrent: z.number().int().min(0).nullable() })
      .optional(),
    models: z.array(EvaluatedModelSchema).min(1),
    /** How the models were asked; absent in records written before batch mode existed (online). */
    mode: z.enum(['online', 'batch']).optional(),
    /** The provider's batches, in batch mode (the new model's, the compared model's). */
    batches: z.array(z.object({ model: z.string(), batchId: z.string() })).optional(),
    /** The on-demand deployments the custom models were asked through (Amazon Bedrock), removed since. */
    deployments: z.array(z.object({ model: z.string(), deploymentId: z.string() })).optional(),
    decision: PromotionDecisionSchema,
  }),
  z.object({
    schemaVersion: z.literal(EVALUATION_SCHEMA_VERSION),
    /** Not run (turned off, nothing held out) or could not finish: the decision says what happened to the model. */
    status: z.enum(['skipped', 'failed']),
    runId: z.string(),
    family: z.string(),
    provider: z.string(),
    evaluatedAt: z.string(),
    reason: z.string(),
    /** What to do about it, when something can be done. */
    fix: z.string().optional(),
    /** Tokens spent before a failure. */
    usage: EvaluationUsageSchema.optional(),
    decision: PromotionDecisionSchema,
  }),
]);
export type EvaluationRecord = z.infer<typeof EvaluationRecordSchema>;

/** Why a run has no numbers to compare. */
export type NoEvaluation = 'disabled' | 'nothing_held_out' | 'unavailable' | 'failed';

/**
 * The decision without numbers. Turned off, the new model is promoted as before evaluation existed. With
 * nothing held out, it is promoted only where nothing is lost by it (a family without a current model). An
 * evaluation that failed never promotes: the model stays in the registry, and `tunedrop models promote`
 * makes it current once someone has looked.
 */
export function decisionWithoutEvaluation(why: NoEvaluation, hasCurrentModel: boolean): PromotionDecision {
  switch (why) {
    case 'disabled':
      return {
        promote: true,
        reason: 'evaluation is turned off for the family ("evaluation": {"enabled": false})',
      };
    case 'failed':
      return {
        promote: false,
        reason:
          'the evaluation failed, so the model is not promoted (tunedrop models promote makes it current)',
      };
    case 'unavailable':
      return hasCurrentModel
        ? {
            promote: false,
            reason:
              'the family has a current model, which stays current without a comparison (tunedrop models promote makes the new one current; "evaluation": {"enabled": false} promotes every new model unevaluated)',
          }
        : { promote: true, reason: 'the family has no current model' };
    case 'nothing_held_out':
      return hasCurrentModel
        ? {
            promote: false,
            reason:
              'no examples were held out to evaluate on, and the family has a current model: it stays current (tunedrop models promote makes the new one current)',
          }
        : {
            promote: true,
            reason: 'no examples were held out to evaluate on, and the family has no current model',
          };
  }
}

/** The headline number of the model in `role`, if it was evaluated. */
export function headlineOf(record: EvaluationRecord, role: EvaluatedModel['role']): Headline | undefined {
  return record.status === 'completed' ? record.models.find((m) => m.role === role)?.headline : undefined;
}

/**
 * At most what an evaluation costs, before training (the budget guard counts it with the training
 * cost): the held-out examples it will ask, at their share of the validation tokens, each asked of two
 * models at the fine-tuned price (the dearer, whichever model is compared), and each answer counted as
 * long as its whole example at the output price. Null without a price.
 */
export function evaluationCostBound(input: {
  settings: EvaluationSettings;
  validationExamples: number;
  validationTokens: number;
  price: TokenPrice | undefined;
}): number | null {
  const { settings, validationExamples, validationTokens, price } = input;
  if (!settings.enabled || validationExamples === 0) return 0;
  if (!price) return null;
  const asked = Math.min(settings.maxExamples, validationExamples);
  const tokens = (validationTokens * asked) / validationExamples;
  const perModel = (tokens * (price.inputUsdPerMillionTokens + price.outputUsdPerMillionTokens)) / 1_000_000;
  return 2 * perModel;
}

/**
 * How long a run in batch mode waits before it looks at its batches again, after `checks` looks: a minute,
 * doubling to half an hour. A batch of a few hundred lines often ends within minutes, and OpenAI promises
 * 24 hours (the `completion_window`): about 60 looks at most, a few hundred history events of the
 * execution's 25,000.
 */
export const EVALUATION_BATCH_WAIT = { firstSeconds: 60, maxSeconds: 30 * 60 } as const;

export function evaluationBatchWaitSeconds(checks: number): number {
  return Math.min(
    EVALUATION_BATCH_WAIT.maxSeconds,
    EVALUATION_BATCH_WAIT.firstSeconds * 2 ** Math.min(checks, 16),
  );
}
