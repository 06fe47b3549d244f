/**
 * A small real language model for the emulator: a smoothed bigram model over o200k token ids, trained
 * batch by batch, with an "opener" term conditioned on the prompt. Loss and accuracy are measured on each
 * batch before the model learns from it (as a trainer reports train_loss), so the curve in results.csv is
 * the model's real learning curve on the uploaded data: it falls on repetitive data and stays high on
 * noise. The same model answers chat completions (generate), so what the emulator's fine-tuned models say
 * is what they learned.
 *
 * Inside an answer:
 *   P(next | prev) = λ·(c(prev,next) + k) / (c(prev) + k·V) + (1 − λ)·(c(next) + k) / (N + k·V)
 * At an answer's first token (the "opener", right after the `assistant\n` header):
 *   P(next | prev, prompt) = (1 − μ)·P(next | prev) + μ·NB(next | prompt)
 * A bigram alone sees only the header's last token before an answer, so every answer would open with the
 * same token (the majority label of a classification file): it could not learn to classify. NB is a naive
 * Bayes classifier of the opener from the set of distinct prompt tokens, trained on the same targets:
 * each opener's prior, and for each prompt token the share of that opener's examples whose prompt holds
 * it (Bernoulli, presence terms only, smoothed by α). Tokens found in every prompt (the system message,
 * the headers) then weigh alike for every opener and cancel out; the words that tell labels apart decide.
 * A model that learned no opener (trained on nothing) has no NB term.
 *
 * Bounds (so that training on a large file stays linear): at most MAX_OPENERS distinct openers are
 * classes (the first ones met; another opener still trains the bigram, not NB), and an opener is
 * classified from at most MAX_FEATURES distinct prompt tokens, those nearest the answer.
 */
/** o200k_base's `<|endoftext|>`: appended to every assistant message in training, it ends an answer. */
export const END_OF_TEXT = 199_999;
/** o200k_base has no token 199,998 (its mergeable ranks are 0..199,997; see functions/core/tokens.ts). */
const NO_TOKEN = 199_998;
/** The ids the model can emit: the mergeable ranks and END_OF_TEXT. */
const VOCABULARY = 199_999;
const K = 0.01;
const LAMBDA = 0.8;
/** μ: how much of an opener's probability the prompt decides. */
const OPENER_WEIGHT = 0.5;
/** α: the naive Bayes smoothing of a prompt token's presence per opener. */
const ALPHA = 0.5;
const MAX_OPENERS = 64;
const MAX_FEATURES = 2048;

/**
 * One training sequence: context tokens, and which positions are trained on (assistant tokens and the
 * END_OF_TEXT after them). A trained position after an untrained one opens an answer (headers are never
 * trained), and is predicted with the prompt before it.
 */
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

export interface TokenLogprob {
  token: number;
  logprob: number;
}

export interface GeneratedToken extends TokenLogprob {
  /** The most probable tokens at this position, most probable first (ties by lower id), `topLogprobs` of them. */
  top: TokenLogprob[];
  /** Whether the token is among the 20 most probable at its position (OpenAI reports -9999 otherwise). */
  inTop20: boolean;
}

export interface Generation {
  /** The answer's tokens, without the END_OF_TEXT that ended it. */
  tokens: GeneratedToken[];
  /** `stop`: the model ended its answer (or `shouldStop` said so); `length`: maxTokens were generated. */
  finishReason: 'stop' | 'length';
}

export interface GenerateOptions {
  maxTokens: number;
  /** 0: greedy (the most probable token, ties to the lower id); above 0: sampled from P^(1/temperature). */
  temperature: number;
  /** Seeds the sampler: the same seed, prompt and options give the same answer. */
  seed: number;
  /** How many alternatives each generated token carries in `top` (0..20). */
  topLogprobs: number;
  /** Called with the answer's tokens after each one; true ends it with `stop` (stop sequences). */
  shouldStop?: (tokens: readonly number[]) => boolean;
}

/** The probability of every next token at one position, and its most probable ones. */
interface StepDistribution {
  probability(token: number): number;
  /** The k most probable tokens, exactly (see ranked()), with their probabilities. */
  top(k: number): TokenLogprob[];
}

export class BigramModel {
  private readonly pairs = new Map<number, Map<number, number>>();
  private readonly contexts = new Map<number, number>();
  /** The most frequent follower of each token, kept up to date for argmax predictions. */
  private readonly best = new Map<number, { token: number; count: number }>();
  private readonly unigrams = new Map<number, number>();
  private total = 0;
  private bestUnigram = { token: -1, count: 0 };
  /** NB's classes: answers opened by each opener. */
  private readonly openers = new Map<number, number>();
  private openerTotal = 0;
  /** NB's evidence: for each prompt token, how many answers of each opener had it in their prompt. */
  private readonly openerFeatures = new Map<number, Map<number, number>>();
  /** The seen tokens by unigram count (then id), for exact top-k; rebuilt after learning. */
  private byUnigram: number[] | undefined;

  /** A copy that learns on without changing this one: a job continuing from a fine-tuned model. */
  clone(): BigramModel {
    const copy = new BigramModel();
    for (const [prev, followers] of this.pairs) copy.pairs.set(prev, new Map(followers));
    for (const [prev, count] of this.contexts) copy.contexts.set(prev, count);
    for (const [prev, best] of this.best) copy.best.set(prev, { ...best });
    for (const [token, count] of this.unigrams) copy.unigrams.set(token, count);
    copy.total = this.total;
    copy.bestUnigram = { ...this.bestUnigram };
    for (const [opener, count] of this.openers) copy.openers.set(opener, count);
    copy.openerTotal = this.openerTotal;
    for (const [token, counts] of this.openerFeatures) copy.openerFeatures.set(token, new Map(counts));
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
        const opener = trained[i - 1] ? undefined : this.openerPosterior(tokens.slice(0, i));
        loss -= Math.log(this.mixture(prev, opener)(next));
        if ((opener ? this.predictOpener(prev, opener) : this.predict(prev)) === next) correct++;
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
        if (!trained[i]) continue;
        if (!trained[i - 1]) this.learnOpener(promptFeatures(tokens.slice(0, i)), tokens[i]!);
        this.learn(tokens[i - 1]!, tokens[i]!);
      }
    }
    return metrics;
  }

  /**
   * P(next | prev), or with `prompt`, P(next | prompt) for the first token of the answer that follows the
   * prompt (whose last token is then prev): the probability training scores and generation samples.
   */
  probability(prev: number, next: number, prompt?: readonly number[]): number {
    return this.mixture(prev, prompt ? this.openerPosterior(prompt) : undefined)(next);
  }

  /**
   * The model's answer to a prompt that ends with the `assistant\n` header: token by token until it emits
   * END_OF_TEXT (not part of the answer) or maxTokens are generated. Each token comes with its log
   * probability and the most probable alternatives, as probability() gives them.
   */
  generate(prompt: readonly number[], options: GenerateOptions): Generation {
    const random = options.temperature > 0 ? seededRandom(options.seed) : undefined;
    const tokens: GeneratedToken[] = [];
    let prev = prompt.at(-1) ?? END_OF_TEXT;
    for (let step = 0; step < options.maxTokens; step++) {
      const step0 = step === 0 ? this.openerPosterior(prompt) : undefined;
      const distribution = this.distribution(prev, step0);
      const top20 = distribution.top(Math.max(20, options.topLogprobs));
      const token = random ? this.sample(distribution, random, options.temperature) : top20[0]!.token;
      if (token === END_OF_TEXT) return { tokens, finishReason: 'stop' };
      const p = distribution.probability(token);
      tokens.push({
        token,
        logprob: Math.log(p),
        top: top20.slice(0, options.topLogprobs),
        inTop20: Math.log(p) >= top20.at(-1)!.logprob,
      });
      if (options.shouldStop?.(tokens.map((t) => t.token))) return { tokens, finishReason: 'stop' };
      prev = token;
    }
    return { tokens, finishReason: 'length' };
  }

  /** P(· | prev), mixed with NB's posterior at an answer's opener. */
  private mixture(prev: number, opener: Map<number, number> | undefined): (next: number) => number {
    const followers = this.pairs.get(prev);
    const context = this.contexts.get(prev) ?? 0;
    const weight = opener ? OPENER_WEIGHT : 0;
    return (next) => {
      const pair = followers?.get(next) ?? 0;
      const unigram = this.unigrams.get(next) ?? 0;
      const bigramP = (pair + K) / (context + K * VOCABULARY);
      const unigramP = (unigram + K) / (this.total + K * VOCABULARY);
      const base = LAMBDA * bigramP + (1 - LAMBDA) * unigramP;
      return (1 - weight) * base + weight * (opener?.get(next) ?? 0);
    };
  }

  /**
   * One position's distribution. Its top k is exact without scoring the whole vocabulary: a token that is
   * neither a follower of prev nor an NB class has a probability that grows with its unigram count only,
   * so the best of them are the first of `byUnigram` not already candidates; every unseen token has the
   * same probability, so the lowest ids stand for them.
   */
  private distribution(prev: number, opener: Map<number, number> | undefined): StepDistribution {
    const probability = this.mixture(prev, opener);
    return {
      probability,
      top: (k) => {
        const candidates = new Set<number>([
          ...(this.pairs.get(prev)?.keys() ?? []),
          ...(opener?.keys() ?? []),
        ]);
        const special = candidates.size;
        for (const token of this.ranked()) {
          if (candidates.size >= special + k) break;
          candidates.add(token);
        }
        for (let token = 0, added = 0; added < k && token < VOCABULARY + 1; token++) {
          if (token === NO_TOKEN || this.unigrams.has(token)) continue;
          candidates.add(token);
          added++;
        }
        return [...candidates]
          .map((token) => ({ token, p: probability(token) }))
          .sort((a, b) => b.p - a.p || a.token - b.token)
          .slice(0, k)
          .map(({ token, p }) => ({ token, logprob: Math.log(p) }));
      },
    };
  }

  /**
   * A token drawn from P^(1/temperature), normalised: every seen token weighed, the unseen ones as one
   * block of equal weights, of which one is drawn uniformly.
   */
  private sample(distribution: StepDistribution, random: () => number, temperature: number): number {
    const power = 1 / temperature;
    const seen = [...this.unigrams.keys()];
    const weights = seen.map((token) => distribution.probability(token) ** power);
    const unseenCount = VOCABULARY - seen.length;
    const unseenWeight = unseenCount > 0 ? this.unseenProbability(distribution) ** power : 0;
    let r = random() * (weights.reduce((sum, w) => sum + w, 0) + unseenCount * unseenWeight);
    for (let i = 0; i < seen.length; i++) {
      r -= weights[i]!;
      if (r < 0) return seen[i]!;
    }
    for (;;) {
      const token = Math.floor(random() * (VOCABULARY + 1));
      if (token !== NO_TOKEN && !this.unigrams.has(token)) return token;
    }
  }

  /** The probability of any token never trained on (all are equal). */
  private unseenProbability(distribution: StepDistribution): number {
    for (let token = 0; token <= VOCABULARY; token++)
      if (token !== NO_TOKEN && !this.unigrams.has(token)) return distribution.probability(token);
    return 0;
  }

  /** Seen tokens, most frequent first, ties by lower id. */
  private ranked(): number[] {
    this.byUnigram ??= [...this.unigrams.entries()]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([token]) => token);
    return this.byUnigram;
  }

  private predict(prev: number): number {
    return this.best.get(prev)?.token ?? this.bestUnigram.token;
  }

  /**
   * The prediction scored as accuracy at an opener: the most probable of NB's classes, prev's most
   * frequent follower and the most frequent token (the same cheap candidates as predict(), plus NB's).
   */
  private predictOpener(prev: number, opener: Map<number, number>): number {
    const probability = this.mixture(prev, opener);
    let best = { token: -1, p: -1 };
    for (const token of [...opener.keys(), this.predict(prev)]) {
      const p = probability(token);
      if (p > best.p || (p === best.p && token < best.token)) best = { token, p };
    }
    return best.token;
  }

  /** NB's posterior over the openers for an answer after this prompt; undefined before any was learned. */
  private openerPosterior(prompt: readonly number[]): Map<number, number> | undefined {
    if (this.openers.size === 0) return undefined;
    const features = promptFeatures(prompt);
    const scores = new Map<number, number>();
    for (const [opener, count] of this.openers) {
      const prior = Math.log((count + ALPHA) / (this.openerTotal + ALPHA * this.openers.size));
      // Every feature as if absent from this opener's prompts; the ones present are corrected below.
      scores.set(opener, prior + features.length * Math.log(ALPHA / (count + 2 * ALPHA)));
    }
    for (const token of features) {
      for (const [opener, count] of this.openerFeatures.get(token) ?? []) {
        scores.set(opener, scores.get(opener)! + Math.log((count + ALPHA) / ALPHA));
      }
    }
    const max = Math.max(...scores.values());
    let sum = 0;
    for (const [opener, score] of scores) {
      const weight = Math.exp(score - max);
      scores.set(opener, weight);
      sum += weight;
    }
    for (const [opener, weight] of scores) scores.set(opener, weight / sum);
    return scores;
  }

  private learnOpener(features: readonly number[], opener: number): void {
    if (!this.openers.has(opener) && this.openers.size >= MAX_OPENERS) return;
    this.openers.set(opener, (this.openers.get(opener) ?? 0) + 1);
    this.openerTotal++;
    for (const token of features) {
      let counts = this.openerFeatures.get(token);
      if (!counts) this.openerFeatures.set(token, (counts = new Map()));
      counts.set(opener, (counts.get(opener) ?? 0) + 1);
    }
  }

  private learn(prev: number, next: number): void {
    this.byUnigram = undefined;
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

/** The distinct tokens of a prompt, at most MAX_FEATURES, nearest the answer first. */
function promptFeatures(prompt: readonly number[]): number[] {
  const seen = new Set<number>();
  for (let i = prompt.length - 1; i >= 0 && seen.size < MAX_FEATURES; i--) seen.add(prompt[i]!);
  return [...seen];
}

/**
 * A small seeded generator (xorshift32 over the seed folded to 32 bits): the same seed, the same
 * draws, in [0, 1).
 */
function seededRandom(seed: number): () => number {
  let state = ((Math.abs(Math.trunc(seed)) % 0x1_0000_0000) ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}
