/**
 * Typed errors. Each carries a stable `code` and a `fix` the user can act on.
 *
 * The name matters beyond TypeScript: a Lambda that throws reports `errorType` = `error.name`, and the
 * state machine's Retry/Catch rules match on it. Each class spells its name out, because a minifying
 * bundler renames classes. `PermanentError`s are never retried (the workflow
 * lists their names before its catch-all retry); anything else is treated as transient.
 */
export abstract class TunedropError extends Error {
  abstract readonly code: string;
  /** What the user should do about it, in one sentence. */
  readonly fix: string;

  constructor(message: string, fix: string, options?: ErrorOptions) {
    super(message, options);
    this.fix = fix;
  }

  toJSON(): { name: string; code: string; message: string; fix: string } {
    return { name: this.name, code: this.code, message: this.message, fix: this.fix };
  }
}

/** Retrying cannot help: bad input, bad configuration, a provider that said no. */
export abstract class PermanentError extends TunedropError {}

export class InvalidEventError extends PermanentError {
  override readonly name = 'InvalidEventError';
  readonly code = 'invalid_event';
}

export class InvalidConfigError extends PermanentError {
  override readonly name = 'InvalidConfigError';
  readonly code = 'invalid_config';
}

export class ApiKeyNotSetError extends PermanentError {
  override readonly name = 'ApiKeyNotSetError';
  readonly code = 'api_key_not_set';
}

export class DatasetRejectedError extends PermanentError {
  override readonly name = 'DatasetRejectedError';
  readonly code = 'dataset_rejected';
}

/** The run's data would cost more than the family's "maxCostUsd" allows (the family's data grew). */
export class BudgetExceededError extends PermanentError {
  override readonly name = 'BudgetExceededError';
  readonly code = 'budget_exceeded';
}

/** The provider answered with a 4xx that will not change on retry (bad request, auth, not found). */
export class ProviderRejectedError extends PermanentError {
  override readonly name = 'ProviderRejectedError';
  readonly code: string;
  constructor(message: string, fix: string, code = 'provider_rejected', options?: ErrorOptions) {
    super(message, fix, options);
    this.code = code;
  }
}

/** The provider job ended without success (failed, or cancelled outside tunedrop). */
export class ProviderJobFailedError extends PermanentError {
  override readonly name = 'ProviderJobFailedError';
  readonly code: string;
  constructor(message: string, fix: string, code = 'job_failed') {
    super(message, fix);
    this.code = code;
  }
}

export class ResultFileMissingError extends PermanentError {
  override readonly name = 'ResultFileMissingError';
  readonly code = 'result_file_missing';
}

/**
 * The run ended (stopped, timed out, or recorded failed elsewhere) before its provider job was created,
 * so none is: nobody would poll, collect or pay attention to it.
 */
export class RunEndedError extends PermanentError {
  override readonly name = 'RunEndedError';
  readonly code = 'run_ended';
}

/** Throttling, 5xx, network: worth retrying with backoff. */
export class ProviderUnavailableError extends TunedropError {
  override readonly name = 'ProviderUnavailableError';
  readonly code = 'provider_unavailable';
}

/** Names of the error classes the workflow must not retry. Kept next to the classes they name. */
/**
 * An embedding run in direct mode did not finish its calls within one invocation (Lambda's 15 minutes):
 * its file is too large for direct mode at this provider's pace.
 */
export class DirectModeOutOfTimeError extends PermanentError {
  override readonly name = 'DirectModeOutOfTimeError';
  readonly code = 'direct_mode_out_of_time';
}

export const PERMANENT_ERROR_NAMES = [
  'InvalidEventError',
  'InvalidConfigError',
  'ApiKeyNotSetError',
  'DatasetRejectedError',
  'BudgetExceededError',
  'ProviderRejectedError',
  'ProviderJobFailedError',
  'ResultFileMissingError',
  'RunEndedError',
  'DirectModeOutOfTimeError',
] as const;

/**
 * Lambda reports only `errorType` and `errorMessage`, so the handler kit appends the code and fix to the
 * message as ` [code] Fix: ...`; this reads a Step Functions `Cause` back into its parts.
 */
export function formatErrorMessage(error: TunedropError): string {
  return `${error.message} [${error.code}] Fix: ${error.fix}`;
}

export function parseErrorCause(
  errorName: string,
  cause: string | undefined,
): { name: string; code?: string; message: string; fix?: string } {
  let name = errorName;
  let message = cause ?? errorName;
  try {
    const parsed = JSON.parse(cause ?? '') as { errorType?: string; errorMessage?: string };
    if (parsed.errorType) name = parsed.errorType;
    if (parsed.errorMessage) message = parsed.errorMessage;
  } catch {
    // A Cause that is not Lambda's JSON (a States.* error) is kept as it is.
  }
  const match = /^([\s\S]*) \[([a-z0-9_]+)\] Fix: ([\s\S]*)$/.exec(message);
  if (match) return { name, code: match[2]!, message: match[1]!, fix: match[3]! };
  if (name === 'States.Timeout') {
    return {
      name,
      code: 'step_timeout',
      message,
      fix: 'A step ran past its timeout; drop the file again to retry.',
    };
  }
  return { name, message };
}
