import express, { type ErrorRequestHandler } from 'express';
import type { Knex } from 'knex';
import { FicusError, toErrorResponse, type Logger } from '../../common/index.js';
import { InvalidJsonError, NotFoundError, PayloadTooLargeError } from './errors.js';
import { createReviewsRouter } from './reviews.js';

/**
 * The reviews service's HTTP API, mounted at `/`. Body parsing, unknown routes and failures are
 * handled as the monolith handles them, so every answer the gateway compares is the same bytes.
 */
export function createReviewsApp(deps: { db: Knex; logger: Logger }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(createReviewsRouter({ db: deps.db }));

  app.use((req) => {
    throw new NotFoundError(`no route for ${req.method} ${req.path}`);
  });
  app.use(handleErrors(deps.logger));
  return app;
}

/** body-parser reports its failures as http-errors carrying `type`, `status` and `expose`. */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
  message: string;
}

function toFicusError(err: unknown): unknown {
  if (err instanceof FicusError || !(err instanceof Error)) return err;
  const { type, status, expose } = err as BodyParserError;
  if (type === 'entity.parse.failed')
    return new InvalidJsonError(`request body is not valid JSON: ${err.message}`, { cause: err });
  if (type === 'entity.too.large')
    return new PayloadTooLargeError('request body is larger than 100kb', { cause: err });
  if (typeof status === 'number' && status >= 400 && status < 500 && expose === true)
    return new FicusError('BAD_REQUEST', err.message, { statusCode: status, cause: err });
  return err;
}

function handleErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    const { status, body } = toErrorResponse(toFicusError(err));
    if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      next(err);
      return;
    }
    res.status(status).json(body);
  };
}
