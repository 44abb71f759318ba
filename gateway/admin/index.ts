export {
  AdminRequestError,
  createAdminRouter,
  DEFAULT_ACTOR,
  type AdminRouterOptions,
} from './routes-api.js';
export { isAdminToken, requireAdminToken, UnauthorizedError } from './auth.js';
export {
  AdminClientError,
  createAdminClient,
  type AdminClient,
  type AdminClientOptions,
  type SetModeRequest,
} from './client.js';
