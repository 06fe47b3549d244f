/**
 * How long a provider call may take, in one place: a call retried by the SDK must still end before the
 * Lambda function does, so that the step fails with a typed, retryable error (the workflow retries it)
 * instead of being killed mid-call by Lambda's timeout.
 *
 * The worst case of one call is every attempt timing out, with the SDK's backoff between attempts:
 *   attempts × attemptTimeout + backoff(attempts − 1)
 * openai-node (7.x, `calculateDefaultRetryTimeoutMillis` and `retryRequest` in src/client.ts, read
 * 2026-11-29 in node_modules/openai/client.js) waits min(0.5 s × 2^n, 8 s), minus up to 25% jitter, before
 * retry n, and applies its `timeout` to each attempt separately. It obeys a Retry-After header of up to
 * 60 s as given, which no per-attempt timeout bounds: every call therefore also carries an abort signal at
 * its worst case (see openai-provider.ts), so a long Retry-After ends the call rather than the function.
 */

/** SDK retries of the calls that are safe to repeat (all but job creation: OpenAI takes no idempotency key). */
export const SDK_MAX_RETRIES = 2;
export const SDK_ATTEMPTS = SDK_MAX_RETRIES + 1;

/**
 * Per attempt, for API calls (list, retrieve, cancel, download a result file), when the invocation's
 * remaining time is not known. These answer in well under a second normally; 7 s lets a 1-minute function
 * make two calls with all their retries (get status, then cancel) and still keep a tenth of its time.
 * PROVIDER_TIMEOUT_MS overrides it (local tests use a short one).
 */
export const API_ATTEMPT_TIMEOUT_MS = 7_000;

/** Per attempt, for a file upload, when the invocation's remaining time is not known. */
export const UPLOAD_ATTEMPT_TIMEOUT_MS = 4 * 60_000;

/** Kept back for the handler after its last provider call: a DynamoDB write, logging, returning. */
export const HANDLER_RESERVE_MS = 5_000;

/** Below this, an attempt cannot reasonably succeed: the step fails fast and the workflow retries it. */
export const MIN_ATTEMPT_TIMEOUT_MS = 1_000;

/** The most the SDK sleeps between `retries` retries on its default backoff (no Retry-After). */
export function sdkBackoffMs(retries: number): number {
  let total = 0;
  for (let n = 0; n < retries; n++) total += Math.min(500 * 2 ** n, 8_000);
  return total;
}

/** The longest one call can take: every attempt times out, the SDK backs off between them. */
export function worstCaseCallMs(attemptTimeoutMs: number, attempts: number): number {
  return attempts * attemptTimeoutMs + sdkBackoffMs(attempts - 1);
}

/**
 * The per-attempt timeout with which `attempts` attempts and the backoff between them end `reserveMs`
 * before the invocation does: the inverse of `worstCaseCallMs`.
 */
export function attemptTimeoutWithin(
  remainingMs: number,
  attempts: number,
  { reserveMs = HANDLER_RESERVE_MS }: { reserveMs?: number } = {},
): number {
  return Math.floor((remainingMs - reserveMs - sdkBackoffMs(attempts - 1)) / attempts);
}
