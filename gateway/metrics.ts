/**
 * The gateway's Prometheus metrics (served at /_ficus/metrics), in a registry of its own.
 * Per-route-and-side children are cached so the proxy path does no label lookups.
 */
import { Counter, Histogram, Registry } from 'prom-client';

/** Which side answered: the monolith, the new service, or the monolith after the service failed. */
export type Side = 'legacy' | 'new' | 'fallback';

/** Counters and histograms for one route and side. */
export interface SideMetrics {
  observe(status: number, seconds: number): void;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  side(route: string, side: Side): SideMetrics;
  shadow(route: string, result: 'match' | 'mismatch' | 'error'): void;
  rollback(route: string): void;
}

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'ficus_gateway_requests_total',
    help: 'Requests answered, by route, side and status class.',
    labelNames: ['route', 'side', 'status'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'ficus_gateway_errors_total',
    help: 'Requests answered with a 5xx (including 502/504 from the gateway), by route and side.',
    labelNames: ['route', 'side'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ficus_gateway_request_duration_seconds',
    help: 'Time from request to the end of the response, by route and side.',
    labelNames: ['route', 'side'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const shadow = new Counter({
    name: 'ficus_gateway_shadow_comparisons_total',
    help: 'Shadow comparisons, by route and result (match, mismatch, error).',
    labelNames: ['route', 'result'],
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: 'ficus_gateway_rollbacks_total',
    help: 'Automatic rollbacks to legacy by a route guard.',
    labelNames: ['route'],
    registers: [registry],
  });

  const cache = new Map<string, SideMetrics>();
  return {
    registry,
    side(route, side) {
      const key = `${route}\u0000${side}`;
      let metrics = cache.get(key);
      if (!metrics) {
        const statusChildren = ['1xx', '2xx', '3xx', '4xx', '5xx'].map((status) =>
          requests.labels(route, side, status),
        );
        const errorChild = errors.labels(route, side);
        const latencyChild = latency.labels(route, side);
        metrics = {
          observe(status, seconds) {
            const index = Math.min(Math.max(Math.floor(status / 100) - 1, 0), 4);
            statusChildren[index]!.inc();
            if (status >= 500) errorChild.inc();
            latencyChild.observe(seconds);
          },
        };
        cache.set(key, metrics);
      }
      return metrics;
    },
    shadow: (route, result) => shadow.labels(route, result).inc(),
    rollback: (route) => rollbacks.labels(route).inc(),
  };
}
