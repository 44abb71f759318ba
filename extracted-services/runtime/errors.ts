/**
 * The errors extracted services answer with. They use the monolith's codes and shapes
 * (`{ "error": { "code", "message", "field"? } }`), so a service that takes over an endpoint
 * refuses a request with the same bytes the monolith would.
 */
import { FicusError } from '../../common/index.js';

/**
 * A malformed request (400 `VALIDATION_FAILED`), worded exactly as the monolith words it;
 * `field` names the offending parameter or body field.
 */
export class ValidationError extends FicusError {
  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('VALIDATION_FAILED', message, { statusCode: 400, cause: options.cause });
    this.field = options.field;
  }
}

/**
 * An unknown row or route (404 `NOT_FOUND`); `field` is set when the missing row was named in the
 * request body (`memberId`), as the monolith sets it.
 */
export class NotFoundError extends FicusError {
  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('NOT_FOUND', message, { statusCode: 404, cause: options.cause });
    this.field = options.field;
  }
}

/** A request body that is not valid JSON (400 `INVALID_JSON`), as the monolith reports it. */
export class InvalidJsonError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('INVALID_JSON', message, { statusCode: 400, cause: options.cause });
  }
}

/** A request body over 100 kB (413 `PAYLOAD_TOO_LARGE`), as the monolith reports it. */
export class PayloadTooLargeError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('PAYLOAD_TOO_LARGE', message, { statusCode: 413, cause: options.cause });
  }
}
