/**
 * The connector's HTTP status endpoint (default port 3200):
 *
 *   GET /status   connector state, LSNs, slot lag, lag behind source, rate, per-table counts,
 *                 inactive ficus slots over the warning threshold (JSON)
 *   GET /metrics  the same as Prometheus metrics
 *   GET /health   200 while snapshotting or streaming, 503 otherwise
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Connector } from './connector.js';
import type { ConnectorStatus } from './stats.js';

/** A started status server. */
export interface StatusServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Prometheus metrics over a connector's status, in a registry of their own. */
export function createCdcMetrics(status: () => ConnectorStatus): Registry {
  const registry = new Registry();
  const states = [
    'starting',
    'snapshotting',
    'streaming',
    'stopping',
    'stopped',
    'failed',
  ] as const;
  new Gauge({
    name: 'ficus_cdc_state',
    help: 'Connector state: 1 for the current state, 0 for the others.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const current = status().state;
      for (const state of states) this.set({ state }, state === current ? 1 : 0);
    },
  });
  new Counter({
    name: 'ficus_cdc_events_total',
    help: 'Change events delivered to the sink, by table and op.',
    labelNames: ['table', 'op'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [table, counts] of Object.entries(status().tables)) {
        for (const [op, count] of Object.entries(counts)) this.inc({ table, op }, count);
      }
    },
  });
  new Gauge({
    name: 'ficus_cdc_inactive_slot_retained_bytes',
    help: "WAL bytes retained by each inactive ficus slot over the warning threshold (not this connector's).",
    labelNames: ['slot'],
    registers: [registry],
    collect() {
      this.reset();
      for (const slot of status().inactiveSlots) this.set({ slot: slot.slot }, slot.retainedBytes);
    },
  });
  const gauge = (name: string, help: string, read: (s: ConnectorStatus) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const value = read(status());
        if (value === null) this.reset();
        else this.set(value);
      },
    });
  gauge(
    'ficus_cdc_slot_lag_bytes',
    'WAL bytes the replication slot retains.',
    (s) => s.slotLagBytes,
  );
  gauge(
    'ficus_cdc_millis_behind_source',
    'Milliseconds from commit to delivery of the last change.',
    (s) => s.millisBehindSource,
  );
  gauge(
    'ficus_cdc_events_per_second',
    'Change events delivered per second over the last 10 s.',
    (s) => s.eventsPerSecond,
  );
  gauge('ficus_cdc_snapshot_rows', 'Rows read by the initial snapshot.', (s) => s.snapshot.rows);
  gauge(
    'ficus_cdc_incremental_snapshot_rows',
    'Rows emitted so far for the table the incremental snapshot is reading.',
    (s) => s.incrementalSnapshot?.rows ?? 0,
  );
  return registry;
}

/** Serves /status, /metrics and /health for `connector`. */
export async function startStatusServer(options: {
  connector: Pick<Connector, 'status'>;
  port: number;
  host?: string;
}): Promise<StatusServer> {
  const registry = createCdcMetrics(() => options.connector.status());
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(
        405,
        'application/json',
        JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: 'only GET' } }),
      );
      return;
    }
    const status = options.connector.status();
    switch (path) {
      case '/':
      case '/status':
        send(200, 'application/json', JSON.stringify(status));
        return;
      case '/health': {
        const healthy = status.state === 'streaming' || status.state === 'snapshotting';
        send(
          healthy ? 200 : 503,
          'application/json',
          JSON.stringify({ status: healthy ? 'ok' : status.state }),
        );
        return;
      }
      case '/metrics':
        registry.metrics().then(
          (text) => send(200, registry.contentType, text),
          (error: unknown) => send(500, 'text/plain', String(error)),
        );
        return;
      default:
        send(
          404,
          'application/json',
          JSON.stringify({
            error: { code: 'NOT_FOUND', message: `no ${path}; try /status, /metrics or /health` },
          }),
        );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Starts the status endpoint, then the connector; if the connector cannot start, the endpoint is
 * closed again and the error is thrown.
 */
export async function startConnectorWithStatus(
  connector: Pick<Connector, 'start' | 'status'>,
  options: { port: number; host?: string },
): Promise<StatusServer> {
  const status = await startStatusServer({ connector, ...options });
  try {
    await connector.start();
  } catch (error) {
    await status.close();
    throw error;
  }
  return status;
}
