/**
 * The dashboard's main snapshot: migration progress and one row per route. Served by
 * GET /_ficus/api/overview and pushed as the `stats` event of the live stream.
 */
import type { GuardState, RouteGuard } from '../guard.js';
import type { Guard, RouteMode } from '../route-table/index.js';
import type { RouteTableVersion } from '../store/index.js';
import type { MismatchLog, ShadowStats } from '../shadow/index.js';
import type { UnclaimedPaths, UnclaimedTemplate } from '../unclaimed/index.js';
import type { SeriesTotals, SideSummary, TrafficSeries } from './series.js';

/** Requests the clients got, and how many of them the new services answered. */
export interface Share {
  requests: number;
  /** Answered by a new service (a failed answer that fell back to the monolith is not counted). */
  newRequests: number;
  /** newRequests / requests; null without requests. */
  ratio: number | null;
}

/** One route as the routes table shows it. */
export interface OverviewRoute {
  id: string;
  methods: string[] | null;
  path: string;
  mode: RouteMode;
  weight: number;
  service: string | null;
  /** The service's URL. */
  target: string | null;
  /** Over the last `windowSeconds`. */
  traffic: {
    legacy: SideSummary;
    new: SideSummary;
    fallback: SideSummary;
    shadow: SideSummary;
  };
  shadow: ShadowStats & {
    /** matches / (matches + mismatches); null before the first comparison. */
    matchRate: number | null;
  };
  guard: { config: Guard; state: GuardState } | null;
}

/** What the top of the page shows. */
export interface Progress {
  routesByMode: Record<RouteMode, number>;
  share: { recent: Share & { seconds: number }; sinceStart: Share };
  /** Routes whose every request the monolith still answers. */
  legacyRoutes: string[];
  unclaimed: {
    totalRequests: number;
    distinct: number;
    maxTemplates: number;
    /** The busiest templates. */
    top: UnclaimedTemplate[];
  };
}

/** GET /_ficus/api/overview. */
export interface Overview {
  /** ISO 8601. */
  at: string;
  version: number;
  /** The window of each route's `traffic`. */
  windowSeconds: number;
  progress: Progress;
  routes: OverviewRoute[];
}

/** What {@link buildOverview} reads. */
export interface OverviewSources {
  version: RouteTableVersion;
  guard: RouteGuard;
  mismatches: MismatchLog;
  series: TrafficSeries;
  unclaimed: UnclaimedPaths;
  /** Window of the per-route numbers; default 60. */
  windowSeconds?: number;
  /** Window of the recent share; default 300. */
  shareSeconds?: number;
  /** Unclaimed templates listed; default 10. */
  unclaimedTop?: number;
}

/** Builds the snapshot. Cost grows with the routes only (a few buckets each). */
export function buildOverview(sources: OverviewSources): Overview {
  const { version, guard, mismatches, series, unclaimed } = sources;
  const windowSeconds = sources.windowSeconds ?? 60;
  const shareSeconds = sources.shareSeconds ?? 300;
  const table = version.table;
  const routesByMode: Record<RouteMode, number> = { legacy: 0, shadow: 0, canary: 0, new: 0 };
  const routes = table.routes.map((route): OverviewRoute => {
    routesByMode[route.mode]++;
    const shadow = mismatches.stats(route.id);
    const compared = shadow.matches + shadow.mismatches;
    return {
      id: route.id,
      methods: route.methods ? [...route.methods] : null,
      path: route.path,
      mode: route.mode,
      weight: route.weight,
      service: route.service ?? null,
      target: route.service ? (table.services[route.service] ?? null) : null,
      traffic: series.summary(route.id, windowSeconds),
      shadow: { ...shadow, matchRate: compared === 0 ? null : shadow.matches / compared },
      guard: route.guard ? { config: route.guard, state: guard.state(route.id) } : null,
    };
  });
  const report = unclaimed.report(sources.unclaimedTop ?? 10);
  return {
    at: new Date().toISOString(),
    version: version.version,
    windowSeconds,
    progress: {
      routesByMode,
      share: {
        recent: { seconds: shareSeconds, ...shareOf(series.windowTotals(shareSeconds)) },
        sinceStart: shareOf(series.totals()),
      },
      legacyRoutes: table.routes.filter((route) => route.mode === 'legacy').map((r) => r.id),
      unclaimed: {
        totalRequests: report.totalRequests,
        distinct: report.distinct,
        maxTemplates: report.maxTemplates,
        top: report.templates,
      },
    },
    routes,
  };
}

function shareOf(totals: SeriesTotals): Share {
  const requests = totals.legacy.requests + totals.new.requests;
  const newRequests = Math.max(0, totals.new.requests - totals.fallback.requests);
  return { requests, newRequests, ratio: requests === 0 ? null : newRequests / requests };
}
