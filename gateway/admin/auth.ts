/**
 * Bearer-token authentication for the admin API (RFC 6750). Every endpoint needs the token,
 * reads too: the route table names internal services and their addresses.
 *
 * https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ConfigError, FicusError, type Logger } from '../../common/index.js';

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

/**
 * Answers 401 with `WWW-Authenticate: Bearer` and a JSON error body unless the request carries
 * `Authorization: Bearer <token>`.
 */
export function requireAdminToken(options: { token: string; logger: Logger }): RequestHandler {
  const { token, logger } = options;
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
