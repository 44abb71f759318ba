import { FicusError } from '../../common/index.js';

/** A malformed request (400 `VALIDATION_FAILED`); `field` names the offending parameter. */
export class ValidationError extends FicusError {
  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('VALIDATION_FAILED', message, { statusCode: 400, cause: options.cause });
    this.field = options.field;
  }
}

/** An unknown notification id or route (404 `NOT_FOUND`). */
export class NotFoundError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('NOT_FOUND', message, { statusCode: 404, cause: options.cause });
  }
}
