/**
 * The migration dashboard at /_ficus/: the page (static.ts), the admin API endpoints it reads
 * (api.ts), the live stream (events.ts), and the state only the dashboard needs: per-route time
 * series (series.ts) and the CDC / service sync view (sync.ts).
 */
import type { Router } from 'express';
import { createSilentLogger, type Logger } from '../../common/index.js';
import type { SessionSigner } from '../admin/index.js';
import type { RouteGuard } from '../guard.js';
import type { MismatchLog } from '../shadow/index.js';
import type { RouteStore } from '../store/index.js';
import type { UnclaimedPaths } from '../unclaimed/index.js';
import { mountDashboardApi } from './api.js';
import { createEventHub, type EventHub } from './events.js';
import { buildOverview, type Overview } from './overview.js';
import type { TrafficSeries } from './series.js';
import { createDashboardStatic } from './static.js';
import { createSyncMonitor, type SyncMonitor } from './sync.js';

export { DASHBOARD_ACTOR, mountDashboardApi, type DashboardApiOptions } from './api.js';
export {
  createEventHub,
  type EventHub,
  type EventHubOptions,
  type MismatchSummary,
} from './events.js';
export {
  buildOverview,
  type Overview,
  type OverviewRoute,
  type OverviewSources,
  type Progress,
  type Share,
} from './overview.js';
export {
  createTrafficSeries,
  SERIES_SIDES,
  type RouteSeries,
  type SeriesSide,
  type SeriesTotals,
  type SideColumns,
  type SideSummary,
  type TrafficSeries,
  type TrafficSeriesOptions,
} from './series.js';
export { createDashboardStatic, publicDir, uplotDir } from './static.js';
export {
  createSyncMonitor,
  ServiceCallError,
  ServiceNotFoundError,
  type CdcReport,
  type CdcSample,
  type Reconciliation,
  type ServiceReport,
  type SyncMonitor,
  type SyncMonitorOptions,
  type SyncReport,
} from './sync.js';

/** Dashboard settings a gateway takes. */
export interface DashboardSettings {
  /** The CDC connector's status URL, e.g. http://127.0.0.1:3200/status. */
  cdcStatusUrl?: string;
  /** Interval of the live stream's `stats` event; default 2000. */
  statsEveryMs?: number;
  /** Interval of the live stream's `sync` event; default 5000. */
  syncEveryMs?: number;
}

/** What {@link createDashboard} needs from the gateway. */
export interface DashboardOptions extends DashboardSettings {
  store: RouteStore;
  guard: RouteGuard;
  mismatches: MismatchLog;
  series: TrafficSeries;
  unclaimed: UnclaimedPaths;
  sessions: SessionSigner;
  unmatchedRoute: string;
  logger?: Logger;
}

/** The dashboard's parts, for the gateway to mount. */
export interface Dashboard {
  /** Adds the API endpoints to the admin router (at /_ficus/api). */
  mountApi(router: Router): void;
  /** The page, to mount at /_ficus. */
  readonly page: Router;
  readonly events: EventHub;
  readonly sync: SyncMonitor;
  overview(): Overview;
  /** Ends the live streams. */
  close(): void;
}

/** Creates the dashboard over the gateway's state. */
export function createDashboard(options: DashboardOptions): Dashboard {
  const logger = options.logger ?? createSilentLogger();
  const { store } = options;
  const overview = () =>
    buildOverview({
      version: store.current(),
      guard: options.guard,
      mismatches: options.mismatches,
      series: options.series,
      unclaimed: options.unclaimed,
    });
  const sync = createSyncMonitor({
    ...(options.cdcStatusUrl ? { cdcStatusUrl: options.cdcStatusUrl } : {}),
    services: () => store.current().table.services,
    logger,
  });
  const events = createEventHub({
    store,
    mismatches: options.mismatches,
    overview,
    sync: () => sync.report(),
    ...(options.statsEveryMs ? { statsEveryMs: options.statsEveryMs } : {}),
    ...(options.syncEveryMs ? { syncEveryMs: options.syncEveryMs } : {}),
    logger,
  });
  return {
    mountApi(router) {
      mountDashboardApi(router, {
        store,
        sessions: options.sessions,
        overview,
        series: options.series,
        unclaimed: options.unclaimed,
        sync,
        events,
        unmatchedRoute: options.unmatchedRoute,
      });
    },
    page: createDashboardStatic({ logger }),
    events,
    sync,
    overview,
    close: () => events.close(),
  };
}
