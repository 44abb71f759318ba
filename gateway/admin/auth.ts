/**
 * Bearer-token authentication for the admin API (RFC 6750). Every endpoint needs the token,
 * reads too: the route table names internal services and their addresses.
 *
 * https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ConfigError, FicusError, type Logger } from '../../common/index.js';
import { DASHBOARD_HEADER, type SessionSigner } from './session.js';

/** The request carried no admin token, or the wrong one. */
export class UnauthorizedError extends FicusError {
  constructor(message: string) {
    super('FICUS_UNAUTHORIZED', message, { statusCode: 401 });
  }
}

/**
 * True when `given` is the token. Both sides are hashed first so the comparison takes the same
 * time whatever the given token's length or content.
 */
export function isAdminToken(given: string, token: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** A cookie-authenticated write without the dashboard header (see session.ts). */
export class ForbiddenError extends FicusError {
  constructor(message: string) {
    super('FICUS_FORBIDDEN', message, { statusCode: 403 });
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Answers 401 with `WWW-Authenticate: Bearer` and a JSON error body unless the request carries
 * `Authorization: Bearer <token>` or, with `sessions`, a genuine dashboard session cookie. The
 * session is left in `res.locals.ficusSession` for the actor of changes.
 */
export function requireAdminToken(options: {
  token: string;
  logger: Logger;
  sessions?: SessionSigner;
}): RequestHandler {
  const { token, logger, sessions } = options;
  if (!token.trim()) {
    throw new ConfigError('the admin token is empty; set FICUS_ADMIN_TOKEN to a long random value');
  }
  return (req, res, next) => {
    const header = req.get('authorization');
    const given = header ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
    if (given !== undefined && isAdminToken(given, token)) {
      next();
      return;
    }
    const session = header === undefined ? sessions?.verify(req.get('cookie')) : undefined;
    if (session) {
      if (!SAFE_METHODS.has(req.method) && req.get(DASHBOARD_HEADER) !== '1') {
        const error = new ForbiddenError(
          `a change made with the dashboard session cookie must carry the header ${DASHBOARD_HEADER}: 1`,
        );
        res.status(403).json({ error: { code: error.code, message: error.message } });
        return;
      }
      res.locals.ficusSession = session;
      next();
      return;
    }
    const error = given
      ? new UnauthorizedError('the bearer token is not the admin token')
      : new UnauthorizedError(
          header
            ? 'the Authorization header must be "Bearer <admin token>"'
            : 'the admin API needs an Authorization: Bearer <admin token> header (FICUS_ADMIN_TOKEN)',
        );
    logger.warn(
      {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        ip: req.ip,
        tokenGiven: Boolean(given),
      },
      'admin API request refused',
    );
    res
      .status(401)
      .set(
        'WWW-Authenticate',
        given ? 'Bearer realm="ficus", error="invalid_token"' : 'Bearer realm="ficus"',
      )
      .json({ error: { code: error.code, message: error.message } });
  };
}
