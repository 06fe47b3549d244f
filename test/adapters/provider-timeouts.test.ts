import fc from 'fast-check';
import {
  API_ATTEMPT_TIMEOUT_MS,
  attemptTimeoutWithin,
  HANDLER_RESERVE_MS,
  SDK_ATTEMPTS,
  sdkBackoffMs,
  worstCaseCallMs,
} from '../../functions/adapters/provider-timeouts.js';
import { functionSettingsByEntry } from '../support/template-functions.js';

/**
 * The provider calls each step makes in one invocation on its longest path, with the SDK attempts of each
 * (job creation is never retried by the SDK). Read from the steps: create-job.ts, get-status.ts (cancel
 * when maxTrainingHours passed), reconcile-run.ts, collect-results.ts.
 */
const CALLS_BY_ENTRY: Record<string, number[]> = {
  'functions/create-job/handler.ts': [
    SDK_ATTEMPTS /* find by runId */,
    1 /* create */,
    SDK_ATTEMPTS /* cancel: the run ended meanwhile */,
    SDK_ATTEMPTS /* read it again when the cancel is refused */,
  ],
  'functions/get-status/handler.ts': [SDK_ATTEMPTS /* read */, SDK_ATTEMPTS /* cancel */],
  'functions/reconcile/handler.ts': [
    SDK_ATTEMPTS /* read the run's job */,
    SDK_ATTEMPTS /* cancel it */,
    SDK_ATTEMPTS /* read it again when the cancel is refused */,
    SDK_ATTEMPTS /* look again: the recorded job, or one found by run id */,
    SDK_ATTEMPTS /* cancel that */,
    SDK_ATTEMPTS /* read it again when the cancel is refused */,
  ],
  'functions/collect/handler.ts': [SDK_ATTEMPTS /* read */, SDK_ATTEMPTS /* download results */],
};

const functions = functionSettingsByEntry();
const upload = functions.get('functions/upload/handler.ts')!;

describe('provider timeouts against the functions that make the calls', () => {
  it.each(Object.entries(CALLS_BY_ENTRY))(
    '%s ends all its provider calls, every retry included, with a tenth of its timeout to spare',
    (entry, calls) => {
      const fn = functions.get(entry);
      expect(fn).toBeDefined();
      const worst =
        calls.reduce((sum, attempts) => sum + worstCaseCallMs(API_ATTEMPT_TIMEOUT_MS, attempts), 0) +
        HANDLER_RESERVE_MS;
      expect(worst).toBeLessThanOrEqual(fn!.timeoutSeconds * 1000 * 0.9);
    },
  );

  it('gives each attempt of a 512 MiB upload at least 2 MiB/s from the start of an Upload invocation', () => {
    const perAttempt = attemptTimeoutWithin(upload.timeoutSeconds * 1000, SDK_ATTEMPTS);
    expect(perAttempt).toBeGreaterThanOrEqual((512 / 2) * 1000);
  });

  it('ends every attempt of an upload before the Upload function times out, with the reserve left', () => {
    const budget = upload.timeoutSeconds * 1000;
    const perAttempt = attemptTimeoutWithin(budget, SDK_ATTEMPTS);
    expect(worstCaseCallMs(perAttempt, SDK_ATTEMPTS) + HANDLER_RESERVE_MS).toBeLessThanOrEqual(budget);
  });
});

describe('attemptTimeoutWithin', () => {
  it('never lets the attempts and the backoff between them run into the reserve', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 15 * 60_000 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 10_000 }),
        (remaining, attempts, reserveMs) => {
          const perAttempt = attemptTimeoutWithin(remaining, attempts, { reserveMs });
          expect(worstCaseCallMs(perAttempt, attempts) + reserveMs).toBeLessThanOrEqual(remaining);
        },
      ),
    );
  });

  it('uses the whole budget, to the millisecond per attempt', () => {
    const perAttempt = attemptTimeoutWithin(60_000, 3, { reserveMs: 5_000 });
    expect(worstCaseCallMs(perAttempt + 1, 3) + 5_000).toBeGreaterThan(60_000);
  });
});

describe('sdkBackoffMs', () => {
  it("follows the SDK's doubling from half a second, at most 8 s a retry", () => {
    expect([0, 1, 2, 3, 6].map(sdkBackoffMs)).toEqual([0, 500, 1_500, 3_500, 23_500]);
  });
});
