/**
 * The admin API endpoints the dashboard adds, behind the same token (or session cookie), body
 * parser and error handling as the rest of /_ficus/api:
 *
 *   POST   /session                                { actor? } → { actor, expiresAt }, sets the cookie
 *   GET    /session                                who is signed in
 *   DELETE /session                                removes the cookie
 *   GET    /overview                               progress and one row per route (Overview)
 *   GET    /series/:route                          a route's time series (RouteSeries)
 *   GET    /unclaimed?limit=                       busiest paths no route claims (UnclaimedReport)
 *   GET    /sync                                   CDC and extracted services (SyncReport)
 *   POST   /sync/services/:name/reconcile          runs the service's reconciliation, answers with it
 *   GET    /events                                 the live stream (events.ts)
 */
import type { Request, Router } from 'express';
import { z } from 'zod';
import { FicusError } from '../../common/index.js';
import {
  AdminRequestError,
  sessionCookie,
  type DashboardSession,
  type SessionSigner,
} from '../admin/index.js';
import type { RouteStore } from '../store/index.js';
import type { UnclaimedPaths } from '../unclaimed/index.js';
import type { EventHub } from './events.js';
import type { Overview } from './overview.js';
import type { TrafficSeries } from './series.js';
import type { SyncMonitor } from './sync.js';

/** The actor of changes made in a session that did not name one. */
export const DASHBOARD_ACTOR = 'dashboard';

/** What {@link mountDashboardApi} needs. */
export interface DashboardApiOptions {
  store: RouteStore;
  sessions: SessionSigner;
  overview: () => Overview;
  series: TrafficSeries;
  unclaimed: UnclaimedPaths;
  sync: SyncMonitor;
  events: EventHub;
  /** The pseudo-route unclaimed requests are counted under in `series`. */
  unmatchedRoute: string;
}

const signInBody = z
  .object({
    actor: z
      .string()
      .trim()
      .max(100, 'actor must be at most 100 characters')
      .regex(/^[^\p{Cc}]*$/u, 'actor must not contain control characters')
      .refine(
        (actor) => !['guard', 'file'].includes(actor.toLowerCase()),
        'actor must not be guard or file (they mark automatic and file changes)',
      )
      .optional(),
  })
  .strict();

/** Adds the dashboard's endpoints to the admin router. */
export function mountDashboardApi(router: Router, options: DashboardApiOptions): void {
  const { store, sessions, series, unclaimed, sync, events } = options;

  router
    .route('/session')
    .post((req, res) => {
      // Signing in takes the admin token itself: a session cannot renew or rename itself.
      if (res.locals.ficusSession !== undefined)
        throw new FicusError(
          'FICUS_UNAUTHORIZED',
          'signing in needs the admin token (Authorization: Bearer …), not a session',
          { statusCode: 401 },
        );
      const parsed = signInBody.safeParse(req.body ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AdminRequestError(
          issue?.path.join('.') || 'body',
          issue?.message ?? 'invalid body',
        );
      }
      const { value, session } = sessions.issue(parsed.data.actor || DASHBOARD_ACTOR);
      res.set(
        'Set-Cookie',
        sessionCookie(value, {
          maxAgeSeconds: Math.floor(sessions.ttlMs / 1000),
          secure: isHttps(req),
        }),
      );
      res.json({ actor: session.actor, expiresAt: new Date(session.expiresAt).toISOString() });
    })
    .get((_req, res) => {
      const session = res.locals.ficusSession as DashboardSession | undefined;
      res.json(
        session
          ? { actor: session.actor, expiresAt: new Date(session.expiresAt).toISOString() }
          : { actor: null, expiresAt: null, bearer: true },
      );
    })
    .delete((req, res) => {
      res.set('Set-Cookie', sessionCookie(undefined, { maxAgeSeconds: 0, secure: isHttps(req) }));
      res.status(204).end();
    });

  router.get('/overview', (_req, res) => {
    res.json(options.overview());
  });

  router.get('/series/:route', (req, res) => {
    const route = req.params.route ?? '';
    const known =
      route === options.unmatchedRoute ||
      store.current().table.routes.some((r) => r.id === route) ||
      series.routes().includes(route);
    if (!known) {
      throw new FicusError('FICUS_ROUTE_NOT_FOUND', `no route with id ${JSON.stringify(route)}`, {
        statusCode: 404,
      });
    }
    res.json(series.series(route));
  });

  router.get('/unclaimed', (req, res) => {
    res.json(unclaimed.report(limitParam(req, 20, 500)));
  });

  router.get('/sync', async (_req, res) => {
    res.json(await sync.report());
  });

  router.post('/sync/services/:name/reconcile', async (req, res) => {
    res.json(await sync.reconcile(req.params.name ?? ''));
  });

  router.get('/events', (req, res) => {
    if (req.method === 'HEAD') {
      res.status(200).type('text/event-stream').end();
      return;
    }
    events.handle(req, res);
    // A stream opened with a session ends when the session does; the page signs in again.
    const session = res.locals.ficusSession as { expiresAt: number } | undefined;
    if (session) {
      const timer = setTimeout(() => res.end(), Math.max(0, session.expiresAt - Date.now()));
      res.on('close', () => clearTimeout(timer));
    }
  });
}

function limitParam(req: Request, fallback: number, max: number): number {
  const raw = req.query.limit;
  if (raw === undefined) return fallback;
  const value = typeof raw === 'string' && /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new AdminRequestError('limit', `limit must be an integer from 1 to ${max}`);
  }
  return value;
}

function isHttps(req: Request): boolean {
  return req.secure || req.get('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}
