import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { RouteStore, RouteTableVersion } from '../../../gateway/store/index.js';

/** A table with three routes: two on services, one legacy without a service. */
export function sampleTable() {
  return {
    legacy: 'http://127.0.0.1:3000',
    services: { catalog: 'http://127.0.0.1:3101', orders: 'http://127.0.0.1:3102' },
    routes: [
      {
        id: 'product-detail',
        methods: ['GET'],
        path: '/products/:id',
        service: 'catalog',
        mode: 'legacy',
      },
      { id: 'orders', path: '/orders/*', service: 'orders', mode: 'legacy' },
      { id: 'static', path: '/static/*', mode: 'legacy' },
    ],
  };
}

export const SAMPLE_YAML = `# Route table for the shop.
# Owned by the platform team.

legacy: http://127.0.0.1:3000
services:
  catalog: http://127.0.0.1:3101 # the read model
  orders: http://127.0.0.1:3102
routes:
  - id: product-detail # hottest endpoint
    methods: [GET]
    path: /products/:id
    service: catalog
    mode: legacy # moves first
  - id: orders
    path: /orders/*
    service: orders
    mode: legacy
  - id: static
    path: /static/*
    mode: legacy
`;

/** A temporary directory, removed by `remove()`. */
export async function createTempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ficus-routes-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** One pino log line. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger at debug level whose lines are kept in `lines`. */
export function captureLogs(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines };
}

/**
 * Resolves with the first version `store` announces that `accept` takes; rejects after
 * `timeoutMs`.
 */
export function nextVersion(
  store: RouteStore,
  accept: (version: RouteTableVersion) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<RouteTableVersion> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no matching route table version within ${timeoutMs} ms`));
    }, timeoutMs);
    const unsubscribe = store.subscribe((version) => {
      if (!accept(version)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(version);
    });
  });
}

export function routeOf(version: RouteTableVersion, id: string) {
  const route = version.table.routes.find((candidate) => candidate.id === id);
  if (!route) throw new Error(`route ${id} is not in version ${version.version}`);
  return route;
}
