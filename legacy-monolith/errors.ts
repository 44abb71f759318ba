import { FicusError } from '../common/index.js';

/**
 * A request the monolith refuses as malformed (400 `VALIDATION_FAILED`). `field` names the
 * offending query parameter, path parameter or body field (`items[2].quantity`); it is absent when
 * the request as a whole is wrong (a body that is not a JSON object).
 */
export class ValidationError extends FicusError {
  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('VALIDATION_FAILED', message, { statusCode: 400, cause: options.cause });
    this.field = options.field;
  }
}

/** The request body is not valid JSON (400 `INVALID_JSON`). */
export class InvalidJsonError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('INVALID_JSON', message, { statusCode: 400, cause: options.cause });
  }
}

/**
 * A resource does not exist (404 `NOT_FOUND`), for example `product 999999 not found`. `field` is
 * set when the missing resource was named in the request body (`memberId`, `items[0].productId`).
 */
export class NotFoundError extends FicusError {
  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('NOT_FOUND', message, { statusCode: 404, cause: options.cause });
    this.field = options.field;
  }
}

/** The request is well formed but conflicts with the current state of the data (409). */
export class ConflictError extends FicusError {
  readonly field: string | undefined;

  constructor(code: string, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(code, message, { statusCode: 409, cause: options.cause });
    this.field = options.field;
  }
}

/** An order asks for more units of a product than are in stock (409 `OUT_OF_STOCK`). */
export class OutOfStockError extends ConflictError {
  readonly productId: number;
  readonly requested: number;
  readonly available: number;

  constructor(details: { productId: number; requested: number; available: number; field: string }) {
    super(
      'OUT_OF_STOCK',
      `product ${details.productId} has ${details.available} in stock, ${details.requested} requested`,
      { field: details.field },
    );
    this.productId = details.productId;
    this.requested = details.requested;
    this.available = details.available;
  }
}

/** The member's balance does not cover an order's total (409 `INSUFFICIENT_BALANCE`). */
export class InsufficientBalanceError extends ConflictError {
  readonly memberId: number;
  /** Money as a decimal string with two places, like every amount in the API. */
  readonly required: string;
  readonly available: string;

  constructor(details: { memberId: number; required: string; available: string }) {
    super(
      'INSUFFICIENT_BALANCE',
      `member ${details.memberId} has a balance of ${details.available}, the order requires ${details.required}`,
    );
    this.memberId = details.memberId;
    this.required = details.required;
    this.available = details.available;
  }
}

/** The body is larger than the monolith accepts (413 `PAYLOAD_TOO_LARGE`). */
export class PayloadTooLargeError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('PAYLOAD_TOO_LARGE', message, { statusCode: 413, cause: options.cause });
  }
}
