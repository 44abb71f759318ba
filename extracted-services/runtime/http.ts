import express, { type ErrorRequestHandler, type Router } from 'express';
import { FicusError, toErrorResponse, type Logger } from '../../common/index.js';

/** The errors a service answers for requests its routes never see. */
export interface ServiceAppErrors {
  /** An unknown route. */
  notFound(message: string): Error;
  /** A body that is not JSON (services that take bodies). */
  invalidJson?(message: string, cause: unknown): Error;
  /** A body over the limit (services that take bodies). */
  payloadTooLarge?(message: string, cause: unknown): Error;
}

/** What {@link createServiceApp} takes. */
export interface ServiceAppOptions {
  readonly routes: Router;
  readonly errors: ServiceAppErrors;
  readonly logger: Logger;
  /** Parse JSON bodies up to this size (e.g. `100kb`); leave out for a read-only service. */
  readonly bodyLimit?: string;
}

/**
 * A service's HTTP app, mounted at `/`: `GET /health`, the service's routes, a 404 for anything
 * else, and failures as `{ "error": { "code", "message", "field"? } }`. Services that replace a
 * monolith's endpoints pass the monolith's own error codes, so body-parser failures and unknown
 * routes answer with the same bytes as the monolith.
 */
export function createServiceApp(options: ServiceAppOptions): express.Express {
  const { errors, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  if (options.bodyLimit !== undefined) app.use(express.json({ limit: options.bodyLimit }));

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(options.routes);

  app.use((req) => {
    throw errors.notFound(`no route for ${req.method} ${req.path}`);
  });
  app.use(handleErrors(logger, errors, options.bodyLimit));
  return app;
}

/** body-parser reports its failures as http-errors carrying `type`, `status` and `expose`. */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
  message: string;
}

function toServiceError(err: unknown, errors: ServiceAppErrors, limit: string | undefined) {
  if (err instanceof FicusError || !(err instanceof Error)) return err;
  const { type, status, expose } = err as BodyParserError;
  if (type === 'entity.parse.failed' && errors.invalidJson)
    return errors.invalidJson(`request body is not valid JSON: ${err.message}`, err);
  if (type === 'entity.too.large' && errors.payloadTooLarge)
    return errors.payloadTooLarge(`request body is larger than ${limit}`, err);
  if (typeof status === 'number' && status >= 400 && status < 500 && expose === true)
    return new FicusError('BAD_REQUEST', err.message, { statusCode: status, cause: err });
  return err;
}

function handleErrors(
  logger: Logger,
  errors: ServiceAppErrors,
  limit: string | undefined,
): ErrorRequestHandler {
  return (err, req, res, next) => {
    const { status, body } = toErrorResponse(toServiceError(err, errors, limit));
    if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      next(err);
      return;
    }
    res.status(status).json(body);
  };
}
