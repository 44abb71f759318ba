/**
 * The admin API, mounted by the gateway at /_ficus/api. Every endpoint needs the bearer token.
 *
 *   GET   /routes                        the running version { version, table, actor, reason, kind, at }
 *   PUT   /routes                        { table, reason }          → the new version
 *   PATCH /routes/:id                    { mode?, weight?, reason } → the new version
 *   GET   /versions                      { versions: [...] }, newest first
 *   GET   /versions/:version             one version
 *   POST  /versions/:version/restore     { reason }                 → the new version
 *   GET   /store                         where the table comes from, and its last problem
 *
 * The actor recorded with a change is the X-Ficus-Actor header, or `admin-api`. Errors are
 * `{ "error": { "code", "message", "field"? } }`; a refused table adds `problems`, each naming the
 * route and the field. Bodies are parsed here only: the gateway's proxy must see them untouched.
 */
import express, {
  Router,
  type ErrorRequestHandler,
  type Request,
  type RequestHandler,
} from 'express';
import { z } from 'zod';
import {
  createSilentLogger,
  FicusError,
  toErrorResponse,
  type Logger,
} from '../../common/index.js';
import { RouteTableError, ROUTE_MODES } from '../route-table/index.js';
import { VersionNotFoundError, type RouteStore } from '../store/index.js';
import { requireAdminToken } from './auth.js';
import type { DashboardSession, SessionSigner } from './session.js';

/** What {@link createAdminRouter} needs. */
export interface AdminRouterOptions {
  store: RouteStore;
  /** The bearer token every request must carry (FICUS_ADMIN_TOKEN). */
  token: string;
  /** Default: silent. */
  logger?: Logger;
  /** Adds endpoints (stats, shadow mismatches) behind the same token, body parser and errors. */
  extra?: (router: Router) => void;
  /** Largest JSON body accepted. Default `1mb`. */
  bodyLimit?: string;
  /** Also accept dashboard session cookies signed by this (see session.ts). */
  sessions?: SessionSigner;
}

/** A request the admin API cannot act on; `field` names what is wrong. */
export class AdminRequestError extends FicusError {
  readonly field: string;
  constructor(field: string, message: string, options: { cause?: unknown } = {}) {
    super('FICUS_REQUEST_INVALID', message, { statusCode: 400, cause: options.cause });
    this.field = field;
  }
}

/** The actor recorded when the request does not name one. */
export const DEFAULT_ACTOR = 'admin-api';
const ACTOR_HEADER = 'x-ficus-actor';

const reason = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? 'reason is required: say why, it goes into the route history'
        : 'reason must be a string',
  })
  .trim()
  .min(1, 'reason is required: say why, it goes into the route history')
  .max(1000, 'reason must be at most 1000 characters');

const putRoutesBody = z
  .object({
    table: z.custom<unknown>((value) => value !== undefined, 'table is required'),
    reason,
  })
  .strict();

const patchRouteBody = z
  .object({
    mode: z.enum(ROUTE_MODES).optional(),
    weight: z.number().min(0).max(100).optional(),
    reason,
  })
  .strict()
  .refine((body) => body.mode !== undefined || body.weight !== undefined, {
    message: 'give a mode, a weight or both',
    path: ['mode'],
  });

const restoreBody = z.object({ reason }).strict();

/** The admin API as an express router, for `app.use('/_ficus/api', router)`. */
export function createAdminRouter(options: AdminRouterOptions): Router {
  const { store } = options;
  const logger = options.logger ?? createSilentLogger();
  const router = Router();

  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  router.use(requireAdminToken({ token: options.token, logger, sessions: options.sessions }));
  router.use(express.json({ limit: options.bodyLimit ?? '1mb' }));

  router
    .route('/routes')
    .get((_req, res) => {
      res.json(store.current());
    })
    .put(async (req, res) => {
      const raw = req.body as Record<string, unknown> | undefined;
      if (
        raw &&
        typeof raw === 'object' &&
        !('table' in raw) &&
        ('routes' in raw || 'legacy' in raw)
      ) {
        throw new AdminRequestError(
          'table',
          'send the table wrapped with a reason: { "table": {...}, "reason": "..." }',
        );
      }
      const body = readBody(req, putRoutesBody);
      res.json(await store.update(body.table, { actor: actorOf(req), reason: body.reason }));
    })
    .all(methodNotAllowed('GET, PUT'));

  router
    .route('/routes/:id')
    .patch(async (req, res) => {
      const { mode, weight, reason } = readBody(req, patchRouteBody);
      const patch = {
        ...(mode === undefined ? {} : { mode }),
        ...(weight === undefined ? {} : { weight }),
      };
      res.json(await store.setMode(req.params.id ?? '', patch, { actor: actorOf(req), reason }));
    })
    .all(methodNotAllowed('PATCH'));

  router
    .route('/versions')
    .get(async (_req, res) => {
      res.json({ versions: await store.history() });
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/versions/:version')
    .get(async (req, res) => {
      const number = versionParam(req);
      const found = (await store.history()).find((version) => version.version === number);
      if (!found) throw new VersionNotFoundError(number, store.current().version);
      res.json(found);
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/versions/:version/restore')
    .post(async (req, res) => {
      const number = versionParam(req);
      const body = readBody(req, restoreBody);
      res.json(await store.restore(number, { actor: actorOf(req), reason: body.reason }));
    })
    .all(methodNotAllowed('POST'));

  router
    .route('/store')
    .get((_req, res) => {
      res.json(store.status());
    })
    .all(methodNotAllowed('GET'));

  options.extra?.(router);

  router.use((req) => {
    throw new FicusError('FICUS_NOT_FOUND', `no admin endpoint ${req.method} ${req.path}`, {
      statusCode: 404,
    });
  });
  router.use(handleErrors(logger));
  return router;
}

/** Validates a JSON body; the error names the first field that is wrong. */
function readBody<T>(req: Request, schema: z.ZodType<T>): T {
  if (!req.is('application/json')) {
    throw new AdminRequestError('body', 'send a JSON body with Content-Type: application/json');
  }
  const result = schema.safeParse(req.body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new AdminRequestError('body', 'the request body is invalid');
  const field =
    issue.code === 'unrecognized_keys'
      ? issue.keys.join(', ')
      : issue.path.map(String).join('.') || 'body';
  const message =
    issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
  throw new AdminRequestError(field, message);
}

/** The X-Ficus-Actor header, else the dashboard session's actor, else {@link DEFAULT_ACTOR}. */
export function actorOf(req: Request): string {
  const header = req.get(ACTOR_HEADER)?.trim();
  if (!header) {
    const session = req.res?.locals.ficusSession as DashboardSession | undefined;
    return session?.actor ?? DEFAULT_ACTOR;
  }
  if (header.length > 100) {
    throw new AdminRequestError('X-Ficus-Actor', 'X-Ficus-Actor must be at most 100 characters');
  }
  return header;
}

function versionParam(req: Request): number {
  const raw: unknown = req.params.version;
  const text = typeof raw === 'string' ? raw : '';
  if (!/^[1-9][0-9]{0,14}$/.test(text)) {
    throw new AdminRequestError(
      'version',
      `version must be a version number (1, 2, …), got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

function methodNotAllowed(allow: string): RequestHandler {
  return (req, res) => {
    res.set('Allow', allow);
    throw new FicusError(
      'FICUS_METHOD_NOT_ALLOWED',
      `${req.method} is not allowed on ${req.baseUrl}${req.path}; use ${allow}`,
      { statusCode: 405 },
    );
  };
}

/** body-parser reports its failures as http-errors carrying `type` and `status`. */
function fromBodyParser(err: unknown): unknown {
  if (err instanceof FicusError || !(err instanceof Error)) return err;
  const { type, status } = err as { type?: unknown; status?: unknown };
  if (type === 'entity.parse.failed') {
    return new AdminRequestError('body', `the request body is not valid JSON: ${err.message}`, {
      cause: err,
    });
  }
  if (type === 'entity.too.large') {
    return new FicusError('FICUS_REQUEST_TOO_LARGE', 'the request body is too large', {
      statusCode: 413,
      cause: err,
    });
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new FicusError('FICUS_REQUEST_INVALID', err.message, { statusCode: status, cause: err });
  }
  return err;
}

function handleErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const error = fromBodyParser(err);
    if (error instanceof RouteTableError) {
      res.status(400).json({
        error: {
          code: error.code,
          message: error.message,
          problems: error.problems.map((problem) => ({
            route: problem.route ?? null,
            field: problem.field,
            message: problem.message,
          })),
        },
      });
      return;
    }
    const { status, body } = toErrorResponse(error);
    if (status >= 500) {
      logger.error({ err, method: req.method, path: req.originalUrl }, 'admin API request failed');
    }
    res.status(status).json(body);
  };
}
