/**
 * A small real language model for the emulator: a smoothed bigram model over o200k token ids, trained
 * batch by batch. Loss and accuracy are measured on each batch before the model learns from it (as a
 * trainer reports train_loss), so the curve in results.csv is the model's real learning curve on the
 * uploaded data: it falls on repetitive data and stays high on noise.
 *
 * P(next | prev) = λ·(c(prev,next) + k) / (c(prev) + k·V) + (1 − λ)·(c(next) + k) / (N + k·V)
 */
const VOCABULARY = 200_000;
const K = 0.01;
const LAMBDA = 0.8;

/** One training sequence: context tokens, and which positions are trained on (assistant tokens). */
export interface Sequence {
  tokens: number[];
  /** trained[i] is true when tokens[i] is a target (predicted from tokens[i - 1]). */
  trained: boolean[];
}

export interface BatchMetrics {
  loss: number;
  accuracy: number;
  targets: number;
}

export class BigramModel {
  private readonly pairs = new Map<number, Map<number, number>>();
  private readonly contexts = new Map<number, number>();
  /** The most frequent follower of each token, kept up to date for argmax predictions. */
  private readonly best = new Map<number, { token: number; count: number }>();
  private readonly unigrams = new Map<number, number>();
  private total = 0;
  private bestUnigram = { token: -1, count: 0 };

  /** A copy that learns on without changing this one: a job continuing from a fine-tuned model. */
  clone(): BigramModel {
    const copy = new BigramModel();
    for (const [prev, followers] of this.pairs) copy.pairs.set(prev, new Map(followers));
    for (const [prev, count] of this.contexts) copy.contexts.set(prev, count);
    for (const [prev, best] of this.best) copy.best.set(prev, { ...best });
    for (const [token, count] of this.unigrams) copy.unigrams.set(token, count);
    copy.total = this.total;
    copy.bestUnigram = { ...this.bestUnigram };
    return copy;
  }

  /** Mean cross-entropy (nats) and next-token accuracy on the targets, without learning. */
  evaluate(batch: readonly Sequence[]): BatchMetrics {
    let loss = 0;
    let correct = 0;
    let targets = 0;
    for (const { tokens, trained } of batch) {
      for (let i = 1; i < tokens.length; i++) {
        if (!trained[i]) continue;
        const prev = tokens[i - 1]!;
        const next = tokens[i]!;
        loss -= Math.log(this.probability(prev, next));
        if (this.predict(prev) === next) correct++;
        targets++;
      }
    }
    return { loss: targets ? loss / targets : 0, accuracy: targets ? correct / targets : 0, targets };
  }

  /** Evaluates the batch, then learns from it. */
  train(batch: readonly Sequence[]): BatchMetrics {
    const metrics = this.evaluate(batch);
    for (const { tokens, trained } of batch) {
      for (let i = 1; i < tokens.length; i++) {
        if (trained[i]) this.learn(tokens[i - 1]!, tokens[i]!);
      }
    }
    return metrics;
  }

  private probability(prev: number, next: number): number {
    const pair = this.pairs.get(prev)?.get(next) ?? 0;
    const context = this.contexts.get(prev) ?? 0;
    const unigram = this.unigrams.get(next) ?? 0;
    const bigramP = (pair + K) / (context + K * VOCABULARY);
    const unigramP = (unigram + K) / (this.total + K * VOCABULARY);
    return LAMBDA * bigramP + (1 - LAMBDA) * unigramP;
  }

  private predict(prev: number): number {
    return this.best.get(prev)?.token ?? this.bestUnigram.token;
  }

  private learn(prev: number, next: number): void {
    let followers = this.pairs.get(prev);
    if (!followers) this.pairs.set(prev, (followers = new Map()));
    const count = (followers.get(next) ?? 0) + 1;
    followers.set(next, count);
    this.contexts.set(prev, (this.contexts.get(prev) ?? 0) + 1);
    const best = this.best.get(prev);
    if (!best || count > best.count) this.best.set(prev, { token: next, count });
    const unigram = (this.unigrams.get(next) ?? 0) + 1;
    this.unigrams.set(next, unigram);
    this.total++;
    if (unigram > this.bestUnigram.count) this.bestUnigram = { token: next, count: unigram };
  }
}
