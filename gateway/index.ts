/**
 * The ficus gateway: route toggles that move endpoints from the monolith to new services.
 * Other components import only this file.
 */
export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export {
  compileRoutes,
  parseRouteTable,
  RouteTableError,
  ROUTE_MODES,
  type Route,
  type RouteMode,
  type RouteTable,
  type RouteTableInput,
} from './route-table/index.js';
export * from './store/index.js';
export { createMemoryRouteStore } from './store/memory-store.js';

export {
  createAdminClient,
  DASHBOARD_HEADER,
  SESSION_COOKIE,
  type DashboardSession,
} from './admin/index.js';
export type {
  CdcReport,
  Dashboard,
  DashboardSettings,
  MismatchSummary,
  Overview,
  OverviewRoute,
  Reconciliation,
  RouteSeries,
  ServiceReport,
  SyncReport,
} from './dashboard/index.js';
export { templateOf, type UnclaimedReport, type UnclaimedTemplate } from './unclaimed/index.js';
export { normalizePath, InvalidPathError } from './path.js';
export { canaryBucket, FORCE_HEADER } from './canary.js';
