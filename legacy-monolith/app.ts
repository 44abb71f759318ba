import { performance } from 'node:perf_hooks';
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import type { Knex } from 'knex';
import { createSilentLogger, FicusError, toErrorResponse, type Logger } from '../common/index.js';
import { InvalidJsonError, NotFoundError, PayloadTooLargeError } from './errors.js';
import { createCategoriesRouter } from './routes/categories.js';
import { createMembersRouter } from './routes/members.js';
import { createOrdersRouter } from './routes/orders.js';
import { createProductsRouter } from './routes/products.js';
import { createReviewsRouter } from './routes/reviews.js';
import { createWishlistRouter } from './routes/wishlist.js';

/** What {@link createLegacyApp} needs. */
export interface LegacyAppDeps {
  db: Knex;
  /** Request logs go here at debug level, failures at error level. Default: silent. */
  logger?: Logger;
}

/**
 * The monolith's HTTP API as an express app, mounted at `/`. Every error, including unknown
 * routes, malformed JSON and unexpected failures, is answered as
 * `{ "error": { "code", "message", "field"? } }`.
 */
export function createLegacyApp(deps: LegacyAppDeps): express.Express {
  const logger = deps.logger ?? createSilentLogger();
  const routeDeps = { db: deps.db };
  const app = express();
  app.disable('x-powered-by');

  app.use(logRequests(logger));
  app.use(express.json({ limit: '100kb' }));

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(createCategoriesRouter(routeDeps));
  app.use(createProductsRouter(routeDeps));
  app.use(createReviewsRouter(routeDeps));
  app.use(createMembersRouter(routeDeps));
  app.use(createWishlistRouter(routeDeps));
  app.use(createOrdersRouter(routeDeps));

  app.use((req) => {
    throw new NotFoundError(`no route for ${req.method} ${req.path}`);
  });
  app.use(handleErrors(logger));
  return app;
}

function requestLogger(res: Response, fallback: Logger): Logger {
  return (res.locals as { logger?: Logger }).logger ?? fallback;
}

/** One child logger per request; one debug line when the response is done (or abandoned). */
function logRequests(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const log = logger.child({ method: req.method, path: req.path });
    (res.locals as { logger?: Logger }).logger = log;
    res.once('close', () => {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      log.debug(
        { status: res.statusCode, ms, ...(res.writableFinished ? {} : { aborted: true }) },
        'request',
      );
    });
    next();
  };
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
  if (type === 'entity.parse.failed') {
    return new InvalidJsonError(`request body is not valid JSON: ${err.message}`, { cause: err });
  }
  if (type === 'entity.too.large') {
    return new PayloadTooLargeError('request body is larger than 100kb', { cause: err });
  }
  if (typeof status === 'number' && status >= 400 && status < 500 && expose === true) {
    return new FicusError('BAD_REQUEST', err.message, { statusCode: status, cause: err });
  }
  return err;
}

function handleErrors(logger: Logger): ErrorRequestHandler {
  return (err, _req, res, next) => {
    const log = requestLogger(res, logger);
    const error = toFicusError(err);
    const { status, body } = toErrorResponse(error);
    if (status >= 500) log.error({ err }, 'request failed');
    if (res.headersSent) {
      next(err);
      return;
    }
    res.status(status).json(body);
  };
}
