export {
  actorOf,
  AdminRequestError,
  createAdminRouter,
  DEFAULT_ACTOR,
  type AdminRouterOptions,
} from './routes-api.js';
export { ForbiddenError, isAdminToken, requireAdminToken, UnauthorizedError } from './auth.js';
export {
  cookieValue,
  createSessionSigner,
  DASHBOARD_HEADER,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  sessionCookie,
  type DashboardSession,
  type SessionSigner,
  type SessionSignerOptions,
} from './session.js';
export {
  AdminClientError,
  createAdminClient,
  type AdminClient,
  type AdminClientOptions,
  type SetModeRequest,
} from './client.js';
