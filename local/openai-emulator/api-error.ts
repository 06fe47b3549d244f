/**
 * An error the emulated API answers with, in the spec's ErrorResponse shape:
 * {error: {message, type, param, code}}.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }

  body(): ErrorBody {
    return errorBody(this.message, this.type, this.param, this.code);
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): ErrorBody {
  return { error: { message, type, param, code } };
}
