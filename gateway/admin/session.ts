/**
 * Dashboard sessions. A browser signs in once with the admin token (POST /_ficus/api/session with
 * `Authorization: Bearer <token>`) and gets a cookie instead of keeping the token in the page:
 *
 *   ficus_session=<payload>.<signature>; Path=/_ficus; HttpOnly; SameSite=Strict; Max-Age=43200
 *
 * The payload holds the actor and the expiry; the signature is an HMAC-SHA256 under a key derived
 * from the admin token. So the cookie works on every gateway replica that shares the token, needs
 * no server-side state, and every session ends when the token is rotated. HttpOnly keeps it from
 * page scripts; SameSite=Strict keeps other sites from sending it. EventSource, which cannot set
 * an Authorization header, sends it like any same-origin request.
 *
 * A write authenticated by the cookie alone must also carry `X-Ficus-Dashboard: 1`: a header a
 * cross-site form cannot add, in case a browser ignores SameSite.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie's name. */
export const SESSION_COOKIE = 'ficus_session';
/** The header a cookie-authenticated write must carry. */
export const DASHBOARD_HEADER = 'x-ficus-dashboard';
/** How long a session lasts unless told otherwise: 12 hours. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** A verified session. */
export interface DashboardSession {
  /** Recorded as the actor of the changes made in it. */
  actor: string;
  /** Unix milliseconds. */
  expiresAt: number;
}

/** Issues and checks session cookies. */
export interface SessionSigner {
  /** A new session's cookie value. */
  issue(actor: string): { value: string; session: DashboardSession };
  /** The session a Cookie header carries, if its cookie is genuine and not expired. */
  verify(cookieHeader: string | undefined): DashboardSession | undefined;
  readonly ttlMs: number;
}

/** What {@link createSessionSigner} takes. */
export interface SessionSignerOptions {
  /** The admin token; the signing key is derived from it. */
  token: string;
  ttlMs?: number;
  /** Wall clock in milliseconds; `Date.now` by default. */
  now?: () => number;
}

/** Creates a signer for the gateway whose admin token is `token`. */
export function createSessionSigner(options: SessionSignerOptions): SessionSigner {
  const key = createHmac('sha256', options.token).update('ficus dashboard session').digest();
  const ttlMs = options.ttlMs ?? SESSION_TTL_MS;
  const now = options.now ?? (() => Date.now());
  const sign = (payload: string) => createHmac('sha256', key).update(payload).digest();

  return {
    ttlMs,
    issue(actor) {
      const session = { actor, expiresAt: now() + ttlMs };
      const payload = Buffer.from(
        JSON.stringify({ a: actor, e: session.expiresAt, n: randomBytes(9).toString('base64url') }),
      ).toString('base64url');
      return { value: `${payload}.${sign(payload).toString('base64url')}`, session };
    },
    verify(cookieHeader) {
      const value = cookieValue(cookieHeader, SESSION_COOKIE);
      if (!value) return undefined;
      const [payload, signature, extra] = value.split('.');
      if (!payload || !signature || extra !== undefined) return undefined;
      const given = Buffer.from(signature, 'base64url');
      const expected = sign(payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      let parsed: { a?: unknown; e?: unknown };
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof parsed;
      } catch {
        return undefined;
      }
      if (typeof parsed.a !== 'string' || typeof parsed.e !== 'number') return undefined;
      if (parsed.e <= now()) return undefined;
      return { actor: parsed.a, expiresAt: parsed.e };
    },
  };
}

/** The value of cookie `name` in a Cookie header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value that stores `value` (or, with `value` undefined, removes the cookie). */
export function sessionCookie(
  value: string | undefined,
  options: { maxAgeSeconds: number; secure: boolean },
): string {
  return [
    `${SESSION_COOKIE}=${value ?? ''}`,
    'Path=/_ficus',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${value === undefined ? 0 : options.maxAgeSeconds}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
