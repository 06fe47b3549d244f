/**
 * A results.csv as a provider writes it (OpenAI's columns): a train loss falling with noise on every
 * step, and validation every tenth of the run and on its last step. Deterministic for a given length.
 */
export function resultsCsv(steps: number, options: { validation?: boolean } = {}): string {
  const validation = options.validation ?? true;
  let seed = 7;
  const noise = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  const every = Math.max(1, Math.floor(steps / 10));
  const lines = ['step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy'];
  for (let step = 1; step <= steps; step += 1) {
    const loss = 0.35 + 2.2 * Math.exp(-step / (steps / 6));
    const accuracy = Math.min(1, 0.95 - 0.5 * Math.exp(-step / (steps / 5)));
    const valid = validation && (step % every === 0 || step === steps);
    lines.push(
      [
        step,
        (loss + noise() * 0.25).toFixed(4),
        Math.min(1, accuracy + noise() * 0.05).toFixed(4),
        valid ? (loss + 0.1).toFixed(4) : '',
        valid ? (accuracy - 0.03).toFixed(4) : '',
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
