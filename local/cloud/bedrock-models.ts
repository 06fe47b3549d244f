import { z } from 'zod';

/**
 * The base models the local Bedrock knows, what data each takes and which hyperparameters it accepts.
 *
 * Facts (read 2026-11-29):
 * - Fine-tunable models and their customization ids (`:NNk`): Bedrock user guide, "Supported models and
 *   Regions for fine-tuning", https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html
 *   (as recorded in docs/providers.md B2).
 * - Nova records (`bedrock-conversation-2024`, first turn user, last assistant, reserved words):
 *   https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html (B3).
 * - Nova 2 SFT does not take a validation set: https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html (B3).
 * - Llama 3.x takes `{"prompt","completion"}`: https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-code-samples.html (B3).
 * - Hyperparameter ranges: https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-nova-mm.html,
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-meta-llama31.html,
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-meta-llama32.html (B4).
 * Not found offline: Nova 2 Lite's hyperparameter ranges (the Nova 1 ranges are used), and whether AWS
 * refuses hyperparameter names a model does not list (local mode refuses them, so a typo cannot pass).
 */
export type DataFormat = 'bedrock-conversation-2024' | 'prompt-completion';

export interface HyperparameterRange {
  min: number;
  max: number;
  default: number;
  integer: boolean;
}

export interface BaseModel {
  id: string;
  name: string;
  provider: string;
  format: DataFormat;
  /** Whether a validation dataset may be given (Nova 2 SFT takes none). */
  validation: boolean;
  /**
   * The foundation model's id for inference (the customization id without its `:NNk` context suffix), when
   * its custom models can be deployed for on-demand inference and the local runtime answers it by id.
   */
  onDemand?: { inferenceId: string };
  hyperparameters: Record<string, HyperparameterRange>;
}

const NOVA_HP: Record<string, HyperparameterRange> = {
  epochCount: { min: 1, max: 5, default: 2, integer: true },
  learningRate: { min: 1e-6, max: 1e-4, default: 1e-5, integer: false },
  learningRateWarmupSteps: { min: 0, max: 100, default: 10, integer: true },
};
const LLAMA_HP: Record<string, HyperparameterRange> = {
  epochCount: { min: 1, max: 10, default: 5, integer: true },
  learningRate: { min: 5e-6, max: 0.1, default: 1e-4, integer: false },
  // "batchSize fixed at 1" (B4): a range of one value.
  batchSize: { min: 1, max: 1, default: 1, integer: true },
};

const nova = (id: string, name: string, validation = true, onDemand = false): BaseModel => ({
  id,
  name,
  provider: 'Amazon',
  format: 'bedrock-conversation-2024',
  validation,
  hyperparameters: NOVA_HP,
  ...(onDemand ? { onDemand: { inferenceId: id.replace(/:\d+k$/, '') } } : {}),
});
const llama = (id: string, name: string): BaseModel => ({
  id,
  name,
  provider: 'Meta',
  format: 'prompt-completion',
  validation: true,
  hyperparameters: LLAMA_HP,
});

export const BASE_MODELS: readonly BaseModel[] = [
  // On-demand deployment of custom models: "Amazon Nova Lite, Amazon Nova Micro, Amazon Nova Pro" (Bedrock
  // user guide, "Deploy a custom model for on-demand inference",
  // https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html, read
  // 2026-11-30; the Nova user guide adds Nova Canvas, which is not fine-tuned here). Nova 2 Lite and the
  // Llama models are not listed, so their custom models are refused.
  nova('amazon.nova-micro-v1:0:128k', 'Nova Micro', true, true),
  nova('amazon.nova-lite-v1:0:300k', 'Nova Lite', true, true),
  nova('amazon.nova-pro-v1:0:300k', 'Nova Pro', true, true),
  nova('amazon.nova-2-lite-v1:0:256k', 'Nova 2 Lite', false),
  llama('meta.llama3-1-8b-instruct-v1:0:128k', 'Llama 3.1 8B Instruct'),
  llama('meta.llama3-1-70b-instruct-v1:0:128k', 'Llama 3.1 70B Instruct'),
  llama('meta.llama3-2-1b-instruct-v1:0:128k', 'Llama 3.2 1B Instruct'),
  llama('meta.llama3-2-3b-instruct-v1:0:128k', 'Llama 3.2 3B Instruct'),
];

/** A foundation model's ARN has no account: `arn:aws:bedrock:<region>::foundation-model/<id>`. */
export const foundationModelArn = (region: string, id: string) =>
  `arn:aws:bedrock:${region}::foundation-model/${id}`;

/**
 * The foundation model a Converse modelId names by its inference id or foundation-model ARN
 * (`amazon.nova-micro-v1:0`), among those the local runtime answers: the on-demand Nova models.
 */
export function findInferenceModel(modelId: string): BaseModel | undefined {
  const marker = ':foundation-model/';
  if (modelId.startsWith('arn:') && !modelId.includes(marker)) return undefined;
  const id = modelId.startsWith('arn:') ? modelId.slice(modelId.indexOf(marker) + marker.length) : modelId;
  return BASE_MODELS.find((m) => m.onDemand?.inferenceId === id);
}

/** The model named by a baseModelIdentifier (its id or its foundation-model ARN). */
export function findBaseModel(identifier: string): BaseModel | undefined {
  const id = identifier.startsWith('arn:')
    ? identifier.slice(identifier.indexOf('foundation-model/') + 17)
    : identifier;
  return BASE_MODELS.find((m) => m.id === id);
}

/**
 * The hyperparameters a job runs with, defaults filled in, or the first problem (for a
 * ValidationException). Values arrive as strings (the API's map of string to string).
 */
export function resolveHyperparameters(
  model: BaseModel,
  given: Record<string, string>,
): { values: Record<string, number> } | { problem: string } {
  const values: Record<string, number> = {};
  for (const [name, text] of Object.entries(given)) {
    const range = model.hyperparameters[name];
    if (!range)
      return {
        problem: `The hyperparameter ${name} is not supported for ${model.id}. Supported hyperparameters: ${Object.keys(model.hyperparameters).join(', ')}.`,
      };
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value)))
      return {
        problem: `The value ${JSON.stringify(text)} of hyperparameter ${name} is not a valid ${range.integer ? 'integer' : 'number'}.`,
      };
    if (value < range.min || value > range.max)
      return {
        problem: `The value ${text} of hyperparameter ${name} is out of range for ${model.id}: it must be between ${range.min} and ${range.max}.`,
      };
    values[name] = value;
  }
  for (const [name, range] of Object.entries(model.hyperparameters)) values[name] ??= range.default;
  return { values };
}

/** Nova's reserved words: a record containing one fails the job (B3). */
export const NOVA_RESERVED_WORDS = ['User:', 'Bot:', 'Assistant:', 'System:', '<image>', '<video>', '[EOS]'];

const TextBlock = z.object({ text: z.string() });
const NovaRecord = z.object({
  schemaVersion: z.string().optional(),
  system: z.array(TextBlock).optional(),
  messages: z
    .array(
      z.object({
        role: z.enum(['user', 'assistant']),
        content: z.array(z.looseObject({ text: z.string().optional() })).min(1),
      }),
    )
    .min(2),
});
const PromptCompletion = z.object({ prompt: z.string().min(1), completion: z.string().min(1) });

export interface ChatExample {
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>;
}

export class DatasetError extends Error {}

/**
 * Reads a dataset as the base model takes it and returns its records as chat examples (what the shared
 * trainer learns from), or throws DatasetError naming the line and the problem, as a job that fails
 * "due to data issues" reports it.
 */
export function readDataset(
  text: string,
  format: DataFormat,
  which: 'training' | 'validation',
): ChatExample[] {
  const examples: ChatExample[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    const where = `${which} dataset, line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DatasetError(`Data validation failed (${where}): the line is not valid JSON.`);
    }
    examples.push(
      format === 'prompt-completion' ? promptCompletion(value, where) : conversation(value, where),
    );
  });
  if (examples.length === 0)
    throw new DatasetError(`Data validation failed: the ${which} dataset has no records.`);
  return examples;
}

function promptCompletion(value: unknown, where: string): ChatExample {
  const parsed = PromptCompletion.safeParse(value);
  if (!parsed.success)
    throw new DatasetError(
      `Data validation failed (${where}): each record must be {"prompt": "...", "completion": "..."} with non-empty strings.`,
    );
  return {
    messages: [
      { role: 'user', content: parsed.data.prompt },
      { role: 'assistant', content: parsed.data.completion },
    ],
  };
}

function conversation(value: unknown, where: string): ChatExample {
  const parsed = NovaRecord.safeParse(value);
  if (!parsed.success)
    throw new DatasetError(
      `Data validation failed (${where}): the record is not in the bedrock-conversation-2024 format (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}).`,
    );
  const { system = [], messages } = parsed.data;
  if (messages[0]!.role !== 'user')
    throw new DatasetError(`Data validation failed (${where}): the first message must have the role user.`);
  if (messages.at(-1)!.role !== 'assistant')
    throw new DatasetError(
      `Data validation failed (${where}): the last message must have the role assistant.`,
    );
  for (let i = 1; i < messages.length; i++)
    if (messages[i]!.role === messages[i - 1]!.role)
      throw new DatasetError(
        `Data validation failed (${where}): roles must alternate between user and assistant (message ${i + 1}).`,
      );
  const texts = [
    ...system.map((s) => s.text),
    ...messages.flatMap((m) => m.content.map((c) => c.text ?? '')),
  ];
  for (const text of texts) {
    const reserved = NOVA_RESERVED_WORDS.find((word) => text.includes(word));
    if (reserved)
      throw new DatasetError(
        `Data validation failed (${where}): the record contains the reserved word ${JSON.stringify(reserved)}.`,
      );
  }
  const joined = (blocks: Array<{ text?: string | undefined }>) => blocks.map((b) => b.text ?? '').join('\n');
  return {
    messages: [
      ...(system.length ? [{ role: 'system' as const, content: joined(system) }] : []),
      ...messages.map((m) => ({ role: m.role, content: joined(m.content) })),
    ],
  };
}
