/**
 * Backoff for throttled embedding requests, shared by the OpenAI/Azure and Bedrock adapters. The callers
 * run several requests at once, so the waits are spread with full jitter (a random wait between 0 and the
 * exponential step: "Exponential Backoff And Jitter", AWS Architecture Blog, 2015, read 2026-11-30), and a
 * provider's Retry-After is a floor, with the jitter on top so that the requests told the same wait do not
 * all come back at the same instant.
 */

export interface ThrottlePolicy {
  /** Attempts in all, the first included. @default 6 */
  attempts: number;
  /** The first step of the exponential backoff. @default 1000 */
  baseMs: number;
  /** No step is longer, and a Retry-After longer than this is not waited for (the error surfaces). @default 60_000 */
  maxDelayMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = { attempts: 6, baseMs: 1_000, maxDelayMs: 60_000 };

export interface RetryTools {
  /** In [0, 1). @default Math.random */
  random?: (() => number) | undefined;
  /** @default a timer */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** The invocation's remaining time: no wait is started that would end after it (less `reserveMs`). */
  remainingTimeMs?: (() => number) | undefined;
  reserveMs?: number | undefined;
}

/** How long to wait before retry `retry` (0 for the first retry), or undefined: do not retry. */
export function throttleDelayMs(
  retry: number,
  retryAfterMs: number | undefined,
  policy: ThrottlePolicy,
  random: () => number,
): number | undefined {
  if (retryAfterMs !== undefined && retryAfterMs > policy.maxDelayMs) return undefined;
  const step = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** retry);
  const jitter = Math.floor(random() * step);
  return retryAfterMs === undefined ? jitter : Math.min(policy.maxDelayMs, retryAfterMs + jitter);
}

const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds, or throws what it threw when `throttled` says the error is not
 * throttling, when the attempts are spent, when the provider asks for a longer wait than the policy's
 * longest, or when the wait would outlast the invocation. `throttled` gives the provider's Retry-After in
 * ms when it sent one (`null`: throttled, no Retry-After; `undefined`: not throttled).
 */
export async function retryThrottled<T>(
  attempt: () => Promise<T>,
  throttled: (error: unknown) => number | null | undefined,
  policy: ThrottlePolicy,
  tools: RetryTools = {},
): Promise<T> {
  const random = tools.random ?? Math.random;
  const sleep = tools.sleep ?? timer;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      const retryAfter = throttled(error);
      if (retryAfter === undefined || retry + 1 >= policy.attempts) throw error;
      const delay = throttleDelayMs(retry, retryAfter ?? undefined, policy, random);
      if (delay === undefined) throw error;
      const remaining = tools.remainingTimeMs?.();
      if (remaining !== undefined && delay > remaining - (tools.reserveMs ?? 5_000)) throw error;
      await sleep(delay);
    }
  }
}

/** A Retry-After header's wait in ms: delta-seconds or an HTTP date (RFC 9110 10.2.3); `retry-after-ms` first. */
export function retryAfterMs(
  header: (name: string) => string | null | undefined,
  now = Date.now(),
): number | undefined {
  const ms = Number(header('retry-after-ms'));
  if (header('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const value = header('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
