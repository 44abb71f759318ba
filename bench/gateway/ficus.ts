/**
 * The ficus rows: one gateway process per route mode, each with a route table whose single
 * route `/bench` is in that mode. Upstream A is the legacy monolith, upstream B the new service.
 *
 *   new      every request to B
 *   canary   50% of canary keys to B, sticky by the x-bench-user header; the rest to A
 *   shadow   A answers; each request is mirrored to B and the answers compared
 */
import type { RouteTableInput } from '../../gateway/index.js';
import { describeError, type CleanupStack } from '../cdc/cleanup.js';
import type { FicusChildConfig } from './ficus-child.js';
import { startServerProcess, type ServerStart } from './server-process.js';
import { BENCH_PATH, CANARY_HEADER } from './traffic.js';

const FICUS_CHILD = new URL('./ficus-child.ts', import.meta.url);

export const FICUS_MODES = ['new', 'canary', 'shadow'] as const;
export type FicusMode = (typeof FICUS_MODES)[number];

/** The service name upstream B has in the route table. */
export const BENCH_SERVICE = 'bench';

/** Base URLs of the running gateways, or why there are none. */
export type FicusGateways =
  | { readonly kind: 'ready'; readonly urls: Readonly<Record<FicusMode, string>> }
  | {
      readonly kind: 'skipped';
      /** One line for the report, starting "ficus rows skipped: ". */
      readonly message: string;
      /** True when gateway/index.ts loaded but the gateway did not start: a real failure. */
      readonly failed: boolean;
    };

/** The route table for `mode`: legacy is upstream A, the service upstream B. */
export function benchRouteTable(
  mode: FicusMode,
  upstreams: { readonly a: string; readonly b: string },
): RouteTableInput {
  return {
    legacy: upstreams.a,
    services: { [BENCH_SERVICE]: upstreams.b },
    routes: [
      {
        id: `bench-${mode}`,
        methods: ['GET'],
        path: BENCH_PATH,
        service: BENCH_SERVICE,
        mode,
        ...(mode === 'canary' ? { weight: 50, sticky: { header: CANARY_HEADER } } : {}),
        ...(mode === 'shadow' ? { shadow: { sampleRate: 1 } } : {}),
      },
    ],
  };
}

/**
 * Starts a gateway per mode, each in its own process (./ficus-child.ts). Resolves skipped when
 * a child cannot load gateway/index.ts (not ready yet) or the gateway fails to start (failed);
 * the other rows are measured either way.
 */
export async function startFicusGateways(
  upstreams: { readonly a: string; readonly b: string },
  cleanup: CleanupStack,
): Promise<FicusGateways> {
  const urls: Partial<Record<FicusMode, string>> = {};
  for (const mode of FICUS_MODES) {
    const config: FicusChildConfig = { port: 0, routes: benchRouteTable(mode, upstreams) };
    let started: ServerStart;
    try {
      started = await startServerProcess(FICUS_CHILD, config, {
        cleanup,
        name: `ficus gateway (${mode})`,
      });
    } catch (error) {
      const message =
        `ficus rows skipped: the gateway did not start (${describeError(error)}); ` +
        'if its API changed, adjust startGateway() in bench/gateway/ficus-child.ts';
      return { kind: 'skipped', message, failed: true };
    }
    if (started.kind === 'unavailable') {
      const message = `ficus rows skipped: gateway/index.ts not ready (${started.reason})`;
      return { kind: 'skipped', message, failed: false };
    }
    urls[mode] = started.url;
  }
  return { kind: 'ready', urls: urls as Record<FicusMode, string> };
}
