/**
 * The gateway: every request goes through here. Requests under /_ficus/ are the gateway's own
 * (health, metrics, admin API, dashboard) and are never proxied; every other request is matched against the
 * route table and sent to the monolith, the new service, or both:
 *
 *   request ─▶ normalise path ─▶ match route ─┬─ legacy ─────────────▶ monolith
 *                                             ├─ new ────────────────▶ service ──(fails)──▶ monolith
 *                                             ├─ canary ─ sticky hash ▶ service or monolith
 *                                             └─ shadow ─────────────▶ monolith ─▶ client
 *                                                           └─ copy ─▶ service ─▶ compare, record
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createSilentLogger, FicusError, type Logger } from '../common/index.js';
import { createAdminRouter, createSessionSigner } from './admin/index.js';
import { FORCE_HEADER, isOnNewSide } from './canary.js';
import {
  createDashboard,
  createTrafficSeries,
  type Dashboard,
  type DashboardSettings,
} from './dashboard/index.js';
import { createGuard } from './guard.js';
import { createGatewayMetrics, type GatewayMetrics, type Side } from './metrics.js';
import { InvalidPathError, splitTarget } from './path.js';
import { createProxyEngine, sendError, type ForwardOutcome } from './proxy/engine.js';
import { captureBody, createMirror } from './proxy/mirror.js';
import { createRequestIdentity } from './request-context.js';
import {
  compileRoutes,
  type Route,
  type RouteMatcher,
  type RouteTable,
} from './route-table/index.js';
import { compareResponses, createMismatchLog, type CapturedResponse } from './shadow/index.js';
import type { RouteStore, RouteTableVersion } from './store/index.js';
import { createUnclaimedPaths } from './unclaimed/index.js';

/** What createGateway needs. */
export interface GatewayOptions {
  /** Where the route table lives (file, Postgres, or memory). */
  readonly store: RouteStore;
  /** Bearer token for /_ficus/api. */
  readonly adminToken: string;
  readonly logger?: Logger;
  /** Largest response body captured for shadow comparison (default 1 MiB). */
  readonly shadowCaptureBytes?: number;
  /**
   * Serve the dashboard and the admin API only to requests for this host name (the `Host`
   * header, port ignored), e.g. `ficus-admin.internal`: an origin of their own, so scripts on the
   * monolith's pages (same origin as the gateway's public name) cannot use an operator's session.
   * `/_ficus/health` and `/_ficus/metrics` answer on every host. Default: every host.
   */
  readonly adminHost?: string;
  /** The dashboard at /_ficus/: where CDC reports its status, live-stream intervals. */
  readonly dashboard?: DashboardSettings & {
    /** Path templates of unclaimed traffic kept at most (default 500). */
    readonly maxUnclaimedTemplates?: number;
  };
}

/** A running gateway (not yet listening until `listen`). */
export interface Gateway {
  readonly app: express.Express;
  readonly metrics: GatewayMetrics;
  readonly dashboard: Dashboard;
  listen(port: number, host?: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const UNMATCHED = '(unmatched)';
const SLASH = 0x2f;
/** Request targets the express app (health, metrics, admin API) may answer; express ignores case. */
const GATEWAY_PREFIX = /^\/_ficus/i;
/** Gateway endpoints that answer on every host, whatever `adminHost` says. */
const PUBLIC_GATEWAY_ENDPOINTS = /^\/_ficus\/(health|metrics)(\?|$)/i;

const isServerError = (status: number): boolean => status >= 500;

/** The status the client got (a gateway error's own status when the upstream failed). */
function statusOf(outcome: Exclude<ForwardOutcome, { kind: 'client-gone' }>): number {
  return outcome.kind === 'response' ? outcome.status : outcome.error.statusCode;
}

/** Creates the gateway over a route store. */
export function createGateway(options: GatewayOptions): Gateway {
  const logger = options.logger ?? createSilentLogger();
  const store = options.store;
  const metrics = createGatewayMetrics();
  const engine = createProxyEngine();
  const mirror = createMirror();
  const mismatches = createMismatchLog();
  const captureLimit = options.shadowCaptureBytes ?? 1024 * 1024;
  const ensureRequestIdentity = createRequestIdentity();
  const series = createTrafficSeries();
  const unclaimed = createUnclaimedPaths(
    options.dashboard?.maxUnclaimedTemplates === undefined
      ? {}
      : { maxTemplates: options.dashboard.maxUnclaimedTemplates },
  );
  const sessions = createSessionSigner({ token: options.adminToken });

  let table: RouteTable = store.current().table;
  let matcher: RouteMatcher = compileRoutes(table);
  /** Ids of the current routes: an exchange that finishes after its route was removed is not kept. */
  let routeIds = new Set(table.routes.map((route) => route.id));
  const guard = createGuard({
    onTrip: (routeId, reason) => {
      metrics.rollback(routeId);
      logger.warn({ route: routeId, reason }, 'guard tripped: rolling the route back to legacy');
      store
        .setMode(routeId, { mode: 'legacy' }, { actor: 'guard', reason, kind: 'rollback' })
        .catch((error: unknown) =>
          logger.error({ err: error, route: routeId }, 'automatic rollback failed'),
        );
    },
  });
  const unsubscribe = store.subscribe((version: RouteTableVersion) => {
    const previous = new Map(table.routes.map((route) => [route.id, route]));
    table = version.table;
    matcher = compileRoutes(table);
    routeIds = new Set(table.routes.map((route) => route.id));
    for (const route of table.routes) {
      const before = previous.get(route.id);
      previous.delete(route.id);
      if (!before || before.mode !== route.mode || before.weight !== route.weight) {
        guard.reset(route.id);
      }
    }
    // Routes that are gone: forget what was kept about them.
    for (const removed of previous.keys()) {
      guard.reset(removed);
      mismatches.forget(removed);
      series.forget(removed);
    }
  });
  const dashboard = createDashboard({
    ...options.dashboard,
    store,
    guard,
    mismatches,
    series,
    unclaimed,
    sessions,
    unmatchedRoute: UNMATCHED,
    logger: logger.child({ part: 'dashboard' }),
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/_ficus/health', (_req, res) => {
    res.json({ status: 'ok', routesVersion: store.current().version });
  });
  app.get('/_ficus/metrics', (_req, res, next) => {
    metrics.registry.metrics().then((text) => {
      res.type(metrics.registry.contentType).send(text);
    }, next);
  });
  app.use(
    '/_ficus/api',
    createAdminRouter({
      store,
      token: options.adminToken,
      logger,
      sessions,
      extra: (router) => {
        dashboard.mountApi(router);
        router.get('/stats', (_req, res) => {
          res.json({
            routes: table.routes.map((route) => ({
              id: route.id,
              mode: route.mode,
              weight: route.weight,
              guard: guard.state(route.id),
              shadow: mismatches.stats(route.id),
            })),
          });
        });
        router.get('/shadow/mismatches', (req, res) => {
          const route = typeof req.query.route === 'string' ? req.query.route : undefined;
          const limit = Number(req.query.limit ?? 50);
          res.json({ items: mismatches.recent(route, Number.isFinite(limit) ? limit : 50) });
        });
        router.get('/shadow/mismatches/:id', (req, res) => {
          const item = mismatches.get(Number(req.params.id));
          if (!item)
            throw new FicusError('FICUS_NOT_FOUND', `no mismatch ${req.params.id}`, {
              statusCode: 404,
            });
          res.json(item);
        });
      },
    }),
  );
  app.use('/_ficus', dashboard.page);
  // Nothing under /_ficus/ is ever proxied.
  app.use('/_ficus', (_req, res) => {
    sendError(
      res,
      new FicusError('FICUS_NOT_FOUND', 'no such gateway endpoint', { statusCode: 404 }),
    );
  });
  app.use((req, res) => {
    void route(req, res);
  });

  /**
   * The listening server's handler. Proxied requests skip express: its routing and the
   * prototype swaps it does on every request cost more than the proxying itself. Anything that
   * express might route to a gateway endpoint (`/_ficus` in any case, or a target that does not
   * start with `/`) still goes through the app, which hands what it does not serve to `route`.
   */
  const adminHost = options.adminHost?.toLowerCase();
  /** Whether the dashboard and admin API may answer `req` (see `adminHost`). */
  function mayAdminister(req: http.IncomingMessage, url: string): boolean {
    if (adminHost === undefined || PUBLIC_GATEWAY_ENDPOINTS.test(url)) return true;
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    return host === adminHost;
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    if (url.charCodeAt(0) !== SLASH || GATEWAY_PREFIX.test(url)) {
      if (mayAdminister(req, url)) app(req, res);
      else
        sendError(
          res,
          new FicusError('FICUS_NOT_FOUND', 'no such gateway endpoint', { statusCode: 404 }),
        );
    } else void route(req, res);
  }

  /** Routes one request. */
  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = ensureRequestIdentity(req);
    res.setHeader('x-request-id', requestId);
    let path: string;
    try {
      const target = splitTarget(req.url ?? '/');
      path = target.path;
      req.url = target.path + target.query;
    } catch (error) {
      sendError(res, error instanceof InvalidPathError ? error : new InvalidPathError('malformed'));
      return;
    }
    // Case-insensitive, as the admin routes match: `/%5FFICUS/…` must not reach an upstream.
    if (/^\/_ficus(\/|$)/i.test(path)) {
      sendError(
        res,
        new FicusError('FICUS_NOT_FOUND', 'no such gateway endpoint', { statusCode: 404 }),
      );
      return;
    }
    const method = req.method ?? 'GET';
    const compiled = matcher.match(method, path, req.headers);
    const current = table;
    if (!compiled) {
      const outcome = await engine.forward(req, res, { target: current.legacy, timeoutMs: 30_000 });
      record(UNMATCHED, 'legacy', outcome, started);
      if (outcome.kind !== 'client-gone') unclaimed.record(method, path, statusOf(outcome));
      return;
    }
    const routeConfig = compiled.route;
    switch (routeConfig.mode) {
      case 'legacy':
        record(routeConfig.id, 'legacy', await toLegacy(req, res, current, routeConfig), started);
        return;
      case 'new':
        await toNew(req, res, current, routeConfig, started);
        return;
      case 'canary': {
        const forced = req.headers[FORCE_HEADER];
        const onNew =
          forced === 'new' ? true : forced === 'legacy' ? false : isOnNewSide(routeConfig, req);
        if (onNew) await toNew(req, res, current, routeConfig, started);
        else
          record(routeConfig.id, 'legacy', await toLegacy(req, res, current, routeConfig), started);
        return;
      }
      case 'shadow':
        await shadow(req, res, current, routeConfig, started);
        return;
    }
  }

  function toLegacy(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    current: RouteTable,
    routeConfig: Route,
  ) {
    return engine.forward(req, res, { target: current.legacy, timeoutMs: routeConfig.timeoutMs });
  }

  /** The new service answers; with `fallback`, a safe request it fails is answered by the monolith. */
  async function toNew(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    current: RouteTable,
    routeConfig: Route,
    started: number,
  ): Promise<void> {
    const target = current.services[routeConfig.service!]!;
    const canFallBack = routeConfig.fallback && SAFE_METHODS.has(req.method ?? 'GET');
    const timeoutMs = routeConfig.timeoutMs;
    const outcome = await engine.forward(
      req,
      res,
      canFallBack
        ? { target, timeoutMs, intercept: isServerError, quietErrors: true }
        : { target, timeoutMs },
    );
    const failed =
      outcome.kind === 'error' || (outcome.kind === 'response' && outcome.status >= 500);
    if (outcome.kind !== 'client-gone') observeNewSide(routeConfig, !failed, started);
    if (canFallBack && failed && !res.headersSent && !res.destroyed) {
      record(routeConfig.id, 'new', outcome, started);
      record(routeConfig.id, 'fallback', await toLegacy(req, res, current, routeConfig), started);
      return;
    }
    record(routeConfig.id, 'new', outcome, started);
  }

  /** The monolith answers the client; a copy goes to the service and the answers are compared. */
  async function shadow(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    current: RouteTable,
    routeConfig: Route,
    started: number,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const mirrored =
      routeConfig.service !== undefined &&
      routeConfig.shadow.methods.includes(method as never) &&
      (routeConfig.shadow.sampleRate >= 1 || Math.random() < routeConfig.shadow.sampleRate);
    if (!mirrored) {
      record(routeConfig.id, 'legacy', await toLegacy(req, res, current, routeConfig), started);
      return;
    }
    const requestCopy = { method, path: redactQuery(req.url ?? '/'), headers: { ...req.headers } };
    const requestBody = SAFE_METHODS.has(method) ? undefined : captureBody(req, captureLimit);
    let primaryCapture:
      | Promise<{
          status: number;
          headers: http.IncomingHttpHeaders;
          body: Buffer;
          truncated: boolean;
        }>
      | undefined;
    const outcome = await engine.forward(req, res, {
      target: current.legacy,
      timeoutMs: routeConfig.timeoutMs,
      onResponse: (response) => {
        primaryCapture = captureBody(response, captureLimit).then(({ body, truncated }) => ({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body,
          truncated,
        }));
      },
    });
    record(routeConfig.id, 'legacy', outcome, started);
    if (outcome.kind !== 'response' || !primaryCapture) return;
    // After the client has its answer: send the copy and compare, without holding anything up.
    void (async () => {
      const primary = await primaryCapture;
      const body = requestBody ? (await requestBody).body : undefined;
      const candidateStarted = performance.now();
      let candidate: CapturedResponse;
      try {
        candidate = await mirror.send(
          current.services[routeConfig.service!]!,
          { ...requestCopy, ...(body ? { body } : {}) },
          { timeoutMs: routeConfig.timeoutMs, captureLimit },
        );
      } catch (error) {
        observeNewSide(routeConfig, false, candidateStarted);
        observeSeries(routeConfig.id, 'shadow', 502, performance.now() - candidateStarted);
        mismatches.recordError(routeConfig.id, requestCopy, (error as Error).message);
        metrics.shadow(routeConfig.id, 'error');
        return;
      }
      observeNewSide(routeConfig, candidate.status < 500, candidateStarted);
      observeSeries(
        routeConfig.id,
        'shadow',
        candidate.status,
        performance.now() - candidateStarted,
      );
      const comparison = compareResponses(primary, candidate, routeConfig.shadow);
      mismatches.record(routeConfig.id, requestCopy, primary, candidate, comparison);
      metrics.shadow(routeConfig.id, comparison.match ? 'match' : 'mismatch');
    })().catch((error: unknown) => logger.warn({ err: error }, 'shadow comparison failed'));
  }

  /** Feeds one answer of the new side to the route's guard, if it has one. */
  function observeNewSide(routeConfig: Route, ok: boolean, started: number): void {
    if (routeConfig.guard) {
      guard.observe(routeConfig.id, routeConfig.guard, {
        ok,
        latencyMs: performance.now() - started,
      });
    }
  }

  function observeSeries(routeId: string, side: Side | 'shadow', status: number, ms: number) {
    if (routeIds.has(routeId)) series.observe(routeId, side, status, ms);
  }

  /** Counts an exchange in the route's metrics (a client that left is not counted). */
  function record(routeId: string, side: Side, outcome: ForwardOutcome, started: number): void {
    if (outcome.kind === 'client-gone') return;
    const status = statusOf(outcome);
    const elapsedMs = performance.now() - started;
    metrics.side(routeId, side).observe(status, elapsedMs / 1000);
    observeSeries(routeId, side, status, elapsedMs);
  }

  let server: http.Server | undefined;
  return {
    app,
    metrics,
    dashboard,
    async listen(port, host = '127.0.0.1') {
      server = http.createServer({ keepAliveTimeout: 65_000 }, handle);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      return { url: `http://${host}:${address.port}`, port: address.port };
    },
    async close() {
      unsubscribe();
      dashboard.close();
      if (server) {
        const closing = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server?.closeAllConnections(), 10_000);
        await closing;
        clearTimeout(force);
      }
      engine.close();
      mirror.close();
    },
  };
}

/** Query parameters whose values a mismatch log must not keep (tokens, codes, signatures). */
const SECRET_PARAMETER = /token|code|key|secret|passw|signature|^sig$|auth|session|credential/i;

/** `url` with the values of secret-looking query parameters replaced by `REDACTED`. */
export function redactQuery(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const parts = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // keep the raw name
      }
      return eq >= 0 && SECRET_PARAMETER.test(decoded) ? `${name}=REDACTED` : pair;
    });
  return `${url.slice(0, at)}?${parts.join('&')}`;
}
