import type express from 'express';
import type { Knex } from 'knex';
import { type Logger, createServiceApp } from '../../index.js';
import { InvalidJsonError, NotFoundError, PayloadTooLargeError } from './errors.js';
import { createReviewsRouter } from './reviews.js';

/**
 * The reviews service's HTTP API, mounted at `/`. Body parsing, unknown routes and failures are
 * handled as the monolith handles them, so every answer the gateway compares is the same bytes.
 */
export function createReviewsApp(deps: { db: Knex; logger: Logger }): express.Express {
  return createServiceApp({
    routes: createReviewsRouter({ db: deps.db }),
    bodyLimit: '100kb',
    errors: {
      notFound: (message) => new NotFoundError(message),
      invalidJson: (message, cause) => new InvalidJsonError(message, { cause }),
      payloadTooLarge: (message, cause) => new PayloadTooLargeError(message, { cause }),
    },
    logger: deps.logger,
  });
}
