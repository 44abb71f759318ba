/**
 * A typed client for a running gateway's admin API (routes-api.ts), for the `ficus routes` CLI and
 * scripts. Failures are FicusErrors carrying the server's code and message; a refused table is a
 * RouteTableError with its problems.
 */
import { ConfigError, FicusError } from '../../common/index.js';
import { RouteTableError, type RouteMode, type RouteTableProblem } from '../route-table/index.js';
import { parseRouteTableVersion, type RouteTableVersion } from '../store/index.js';

/** What {@link createAdminClient} needs. */
export interface AdminClientOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** FICUS_ADMIN_TOKEN of that gateway. */
  token: string;
  /** Recorded as the actor of changes (X-Ficus-Actor); the server's default is `admin-api`. */
  actor?: string;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
}

/** A mode and/or weight change with the reason recorded in the history. */
export interface SetModeRequest {
  mode?: RouteMode;
  weight?: number;
  reason: string;
}

/** The admin API, one method per endpoint. */
export interface AdminClient {
  /** The running version. */
  routes(): Promise<RouteTableVersion>;
  /** Replaces the whole table. */
  update(table: unknown, reason: string): Promise<RouteTableVersion>;
  setMode(routeId: string, change: SetModeRequest): Promise<RouteTableVersion>;
  /** Newest first. */
  history(): Promise<RouteTableVersion[]>;
  version(version: number): Promise<RouteTableVersion>;
  /** Makes a new version holding `version`'s table. */
  restore(version: number, reason: string): Promise<RouteTableVersion>;
}

/** The admin API answered with an error; `code` and `message` are the server's. */
export class AdminClientError extends FicusError {
  readonly field: string | undefined;
  constructor(
    code: string,
    message: string,
    options: { statusCode: number; field?: string; cause?: unknown },
  ) {
    super(code, message, options);
    this.field = options.field;
  }
}

interface ErrorPayload {
  error?: { code?: unknown; message?: unknown; field?: unknown; problems?: unknown };
}

/** Creates a client; nothing is sent until a method is called. */
export function createAdminClient(options: AdminClientOptions): AdminClient {
  const base = parseBaseUrl(options.url);
  const api = `${base}/_ficus/api`;
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.token}`,
      accept: 'application/json',
    };
    if (options.actor) headers['x-ficus-actor'] = options.actor;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${api}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw unreachable(base, timeoutMs, err);
    }
    const text = await response.text();
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      payload = undefined;
    }
    if (response.ok && payload !== undefined) return payload;
    throw responseError(base, method, path, response, payload);
  }

  const asVersion = (payload: unknown, what: string) => {
    try {
      return parseRouteTableVersion(payload);
    } catch (err) {
      throw invalidResponse(base, what, err);
    }
  };

  return {
    routes: async () => asVersion(await call('GET', '/routes'), 'GET /routes'),
    update: async (table, reason) =>
      asVersion(await call('PUT', '/routes', { table, reason }), 'PUT /routes'),
    setMode: async (routeId, change) =>
      asVersion(
        await call('PATCH', `/routes/${encodeURIComponent(routeId)}`, change),
        'PATCH /routes/:id',
      ),
    history: async () => {
      const payload = (await call('GET', '/versions')) as { versions?: unknown } | null;
      if (!Array.isArray(payload?.versions)) {
        throw invalidResponse(base, 'GET /versions', new Error('no versions array'));
      }
      return payload.versions.map((version) => asVersion(version, 'GET /versions'));
    },
    version: async (version) =>
      asVersion(await call('GET', `/versions/${version}`), 'GET /versions/:version'),
    restore: async (version, reason) =>
      asVersion(
        await call('POST', `/versions/${version}/restore`, { reason }),
        'POST /versions/:version/restore',
      ),
  };
}

function parseBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ConfigError(
      `gateway URL ${JSON.stringify(url)} is not a URL; use one like http://127.0.0.1:8080`,
      { cause: err },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`gateway URL ${url} must start with http:// or https://`);
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

function unreachable(base: string, timeoutMs: number, err: unknown): FicusError {
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new AdminClientError(
      'FICUS_GATEWAY_TIMEOUT',
      `the gateway at ${base} did not answer within ${timeoutMs} ms`,
      { statusCode: 504, cause: err },
    );
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const detail =
    typeof cause?.code === 'string' ? cause.code : err instanceof Error ? err.message : String(err);
  return new AdminClientError(
    'FICUS_GATEWAY_UNREACHABLE',
    `cannot reach the gateway at ${base} (${detail}); is it running, and is the URL right?`,
    { statusCode: 502, cause: err },
  );
}

function responseError(
  base: string,
  method: string,
  path: string,
  response: Response,
  payload: unknown,
): FicusError {
  const error = (payload as ErrorPayload | undefined)?.error;
  if (!error || typeof error.code !== 'string' || typeof error.message !== 'string') {
    return new AdminClientError(
      'FICUS_ADMIN_RESPONSE_INVALID',
      `${method} ${base}/_ficus/api${path} answered ${response.status} ${response.statusText} without a ficus error body; is ${base} a ficus gateway?`,
      { statusCode: 502 },
    );
  }
  if (error.code === 'FICUS_ROUTES_INVALID' && Array.isArray(error.problems)) {
    return new RouteTableError(
      (error.problems as { route?: unknown; field?: unknown; message?: unknown }[]).map(
        (problem): RouteTableProblem => ({
          route: typeof problem.route === 'string' ? problem.route : undefined,
          field: typeof problem.field === 'string' ? problem.field : 'table',
          message: typeof problem.message === 'string' ? problem.message : 'invalid',
        }),
      ),
    );
  }
  const message =
    response.status === 401
      ? `the gateway at ${base} refused the admin token (${error.message}); check FICUS_ADMIN_TOKEN`
      : error.message;
  return new AdminClientError(error.code, message, {
    statusCode: response.status,
    ...(typeof error.field === 'string' ? { field: error.field } : {}),
  });
}

function invalidResponse(base: string, what: string, err: unknown): FicusError {
  return new AdminClientError(
    'FICUS_ADMIN_RESPONSE_INVALID',
    `${what} on ${base} answered with something that is not a route table version: ${err instanceof Error ? err.message : String(err)}`,
    { statusCode: 502, cause: err },
  );
}
