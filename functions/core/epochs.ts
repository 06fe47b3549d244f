/**
 * How many epochs a job trains when `n_epochs` is "auto".
 *
 * OpenAI documents the default as a target of 3 epochs, raised for small files so that the model sees at
 * least ~100 examples and lowered for large ones so that it sees at most ~25,000, within 1..25 epochs
 * (OpenAI Cookbook, "Data preparation and analysis for chat model fine-tuning"). Billing counts every
 * epoch, so the cost estimate and the local emulator both use this one rule.
 */
export const AUTO_EPOCHS = {
  target: 3,
  minTargetExamples: 100,
  maxTargetExamples: 25_000,
  minEpochs: 1,
  maxEpochs: 25,
} as const;

export function resolveEpochs(requested: number | 'auto' | undefined, trainingExamples: number): number {
  if (typeof requested === 'number') return requested;
  const { target, minTargetExamples, maxTargetExamples, minEpochs, maxEpochs } = AUTO_EPOCHS;
  if (trainingExamples <= 0) return target;
  if (trainingExamples * target < minTargetExamples) {
    return Math.min(maxEpochs, Math.floor(minTargetExamples / trainingExamples));
  }
  if (trainingExamples * target > maxTargetExamples) {
    return Math.max(minEpochs, Math.floor(maxTargetExamples / trainingExamples));
  }
  return target;
}
