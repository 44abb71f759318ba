/**
 * Base class for every error ficus raises on purpose. `code` is stable and documented
 * (`FICUS_CONFIG_INVALID`, `FICUS_NOT_FOUND`, …); `statusCode` is set where the error reaches HTTP.
 */
export class FicusError extends Error {
  readonly code: string;
  readonly statusCode: number;

  constructor(
    code: string,
    message: string,
    options: { statusCode?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
  }
}

/** True for errors raised by ficus itself (as opposed to a library or the runtime). */
export function isFicusError(value: unknown): value is FicusError {
  return value instanceof FicusError;
}

/** A configuration value was missing or wrong. The message names the field, the value and what is allowed. */
export class ConfigError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('FICUS_CONFIG_INVALID', message, { ...options, statusCode: 400 });
  }
}

/** The JSON body every ficus HTTP error is answered with. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** Turns any thrown value into the JSON body and status an HTTP error response should carry. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (isFicusError(err)) {
    const field = (err as { field?: unknown }).field;
    return {
      status: err.statusCode,
      body: {
        error: {
          code: err.code,
          message: err.message,
          ...(typeof field === 'string' ? { field } : {}),
        },
      },
    };
  }
  return {
    status: 500,
    body: { error: { code: 'FICUS_INTERNAL', message: 'internal error' } },
  };
}
