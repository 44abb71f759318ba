export {
  RouteChangeError,
  RouteNotFoundError,
  RouteStoreClosedError,
  RouteStoreUnavailableError,
  VERSION_KINDS,
  VersionNotFoundError,
  parseRouteTableVersion,
  type ModePatch,
  type RestoreChange,
  type RouteChange,
  type RouteStore,
  type RouteStoreProblem,
  type RouteStoreStatus,
  type RouteTableVersion,
  type VersionKind,
} from './store.js';
export { createMemoryRouteStore } from './memory-store.js';
export { createFileRouteStore, type FileRouteStoreOptions } from './file-store.js';
export {
  createPostgresRouteStore,
  ROUTE_VERSIONS_DDL,
  ROUTES_CHANNEL,
  type PostgresRouteStoreOptions,
} from './postgres-store.js';
