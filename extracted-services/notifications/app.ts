import express, { type ErrorRequestHandler } from 'express';
import type { Knex } from 'knex';
import { toErrorResponse, type Logger } from '../../common/index.js';
import { NotFoundError } from './errors.js';
import { createNotificationsRouter } from './notifications.js';

/**
 * The notifications service's HTTP API, mounted at `/`: read-only, so no body parser. Errors are
 * `{ "error": { "code", "message", "field"? } }`.
 */
export function createNotificationsApp(deps: { db: Knex; logger: Logger }): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(createNotificationsRouter({ db: deps.db }));

  app.use((req) => {
    throw new NotFoundError(`no route for ${req.method} ${req.path}`);
  });
  app.use(handleErrors(deps.logger));
  return app;
}

function handleErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      next(err);
      return;
    }
    res.status(status).json(body);
  };
}
