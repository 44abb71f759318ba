import type express from 'express';
import type { Knex } from 'knex';
import { type Logger, createServiceApp } from '../../index.js';
import { NotFoundError } from './errors.js';
import { createNotificationsRouter } from './notifications.js';

/**
 * The notifications service's HTTP API, mounted at `/`: read-only, so no body parser. Errors are
 * `{ "error": { "code", "message", "field"? } }`.
 */
export function createNotificationsApp(deps: { db: Knex; logger: Logger }): express.Express {
  return createServiceApp({
    routes: createNotificationsRouter({ db: deps.db }),
    errors: { notFound: (message) => new NotFoundError(message) },
    logger: deps.logger,
  });
}
