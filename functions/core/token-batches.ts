import type { TokenCounter } from './token-counter.js';
import { totalsFromCounts, type ExampleTokens, type TokenPlan } from './tokens.js';

export interface TokenSummary {
  total: number;
  min: number;
  max: number;
  mean: number;
  /** Examples per bin of at most `upTo` tokens (null: the open-ended last bin). */
  histogram: Array<{ upTo: number | null; examples: number }>;
}

/** Tokens per example: total, range and a histogram in powers of two. */
export class TokenHistogram {
  static readonly BOUNDS = [
    64,
    128,
    256,
    512,
    1024,
    2048,
    4096,
    8192,
    16384,
    32768,
    65536,
    Number.POSITIVE_INFINITY,
  ];
  private readonly counts = TokenHistogram.BOUNDS.map(() => 0);
  total = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = 0;

  add(tokens: number) {
    this.total += tokens;
    this.min = Math.min(this.min, tokens);
    this.max = Math.max(this.max, tokens);
    this.counts[TokenHistogram.BOUNDS.findIndex((bound) => tokens <= bound)]!++;
  }

  summary(examples: number): TokenSummary {
    return {
      total: this.total,
      min: examples && Number.isFinite(this.min) ? this.min : 0,
      max: this.max,
      mean: examples ? Math.round(this.total / examples) : 0,
      histogram: TokenHistogram.BOUNDS.map((upTo, i) => ({
        upTo: Number.isFinite(upTo) ? upTo : null,
        examples: this.counts[i]!,
      })).filter((bin) => bin.examples > 0),
    };
  }
}

export interface PendingExample {
  line: number;
  hash: number;
  label: string;
  plan: TokenPlan;
}

/**
 * Groups examples into batches for the token counter and finishes them in order as counts come back,
 * keeping a bounded number of batches in flight (memory stays flat whatever the file size).
 */
export class TokenBatches {
  private static readonly MAX_TEXTS = 2048;
  private batch: PendingExample[] = [];
  private texts = 0;
  private readonly inFlight: Array<Promise<void>> = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly counter: TokenCounter,
    private readonly finishExample: (pending: PendingExample, tokens: ExampleTokens) => void,
    /** The model's example limit: past it a text may be counted by its lower bound (countOrBound). */
    private readonly neverFitsTokens?: number,
  ) {}

  async add(pending: PendingExample): Promise<void> {
    this.batch.push(pending);
    this.texts += pending.plan.texts.length;
    if (this.texts >= TokenBatches.MAX_TEXTS) await this.flush();
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.chain;
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const items = this.batch;
    this.batch = [];
    this.texts = 0;
    const counted = this.counter.count(
      items.flatMap((item) => item.plan.texts),
      this.neverFitsTokens,
    );
    this.chain = this.chain.then(async () => {
      const counts = await counted;
      let offset = 0;
      for (const item of items) {
        this.finishExample(
          item,
          totalsFromCounts(item.plan, counts.slice(offset, offset + item.plan.texts.length)),
        );
        offset += item.plan.texts.length;
      }
    });
    this.inFlight.push(this.chain);
    // Room for the main thread to read ahead while the workers start up; bounded, so memory stays flat.
    if (this.inFlight.length > 8 + 2 * this.counter.parallelism) await this.inFlight.shift();
  }
}
