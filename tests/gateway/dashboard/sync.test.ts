/**
 * The data-sync view: the gateway fetches the CDC status and every extracted service's status
 * (real HTTP servers here, plus one that is down and one without the endpoint), and passes a
 * reconciliation request through to the service.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncReport } from '../../../gateway/index.js';
import { findFreePort } from '../../../common/index.js';
import { waitUntil } from '../../cdc/harness.js';
import { bearer, request, startDashboardHarness, type DashboardHarness } from './harness.js';

/** A JSON server answering by method and path; records what it was asked. */
async function startJsonServer(
  routes: Record<string, () => { status: number; body: unknown }>,
): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const key = `${req.method} ${req.url}`;
    seen.push(key);
    const route = routes[key];
    const { status, body } = route
      ? route()
      : { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no' } } };
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const reconciliation = {
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:01.500Z',
  durationMs: 1500,
  inSync: false,
  tables: [
    {
      table: 'products',
      source: 'public.products',
      sourceRows: 300,
      carriedRows: 299,
      missing: 1,
      extra: 0,
      different: 0,
      inSync: false,
      differences: [{ key: { id: 7 }, kind: 'missing' }],
    },
  ],
};

let h: DashboardHarness;
let cdc: Awaited<ReturnType<typeof startJsonServer>>;
let catalog: Awaited<ReturnType<typeof startJsonServer>>;
let lagBytes = 4096;
let reconcileStatus = 200;

beforeAll(async () => {
  cdc = await startJsonServer({
    'GET /status': () => ({
      status: 200,
      body: {
        state: 'streaming',
        slot: 'ficus',
        publication: 'ficus',
        sink: 'embedded',
        lastReceivedLsn: '0/1',
        confirmedLsn: '0/1',
        slotLagBytes: lagBytes,
        millisBehindSource: 12,
        eventsPerSecond: 3.5,
        totalEvents: 1200,
        tables: { 'public.products': { r: 300, u: 4 } },
        snapshot: { completed: true, tables: 8, rows: 1000 },
        lastError: null,
        startedAt: '2026-01-01T00:00:00.000Z',
      },
    }),
  });
  catalog = await startJsonServer({
    'GET /_ficus/status': () => ({
      status: 200,
      body: {
        service: 'catalog',
        state: 'running',
        source: { kind: 'embedded' },
        lag: { eventsApplied: 1200, millisBehindSource: 20, eventsBehind: null },
        tables: [{ table: 'products', source: 'public.products', rows: 299 }],
        reconciliation: null,
      },
    }),
    'POST /_ficus/reconcile': () =>
      reconcileStatus === 200
        ? { status: 200, body: reconciliation }
        : {
            status: reconcileStatus,
            body: { error: { code: 'BUSY', message: 'a reconciliation is running' } },
          },
  });
  const down = `http://127.0.0.1:${await findFreePort()}`;
  h = await startDashboardHarness(
    ({ legacy, service }) => ({
      legacy,
      services: { catalog: catalog.url, reviews: down, plain: service },
      routes: [],
    }),
    { cdcStatusUrl: `${cdc.url}/status` },
  );
});
afterAll(async () => {
  await h.close();
  await Promise.all([cdc.close(), catalog.close()]);
});

const report = async () =>
  (await request(h.url, { path: '/_ficus/api/sync', headers: bearer })).json() as SyncReport;

describe('GET /_ficus/api/sync', () => {
  it('needs the admin token', async () => {
    expect((await request(h.url, { path: '/_ficus/api/sync' })).status).toBe(401);
  });

  it('reports the connector and each service, and marks the ones it cannot read as unavailable', async () => {
    const sync = await report();
    expect(sync.cdc).toMatchObject({
      url: `${cdc.url}/status`,
      available: true,
      status: {
        state: 'streaming',
        slotLagBytes: 4096,
        millisBehindSource: 12,
        eventsPerSecond: 3.5,
      },
    });
    expect(sync.services).toEqual([
      {
        name: 'catalog',
        url: catalog.url,
        available: true,
        status: expect.objectContaining({
          state: 'running',
          tables: [{ table: 'products', source: 'public.products', rows: 299 }],
        }) as unknown,
      },
      {
        name: 'reviews',
        url: expect.any(String) as unknown,
        available: false,
        error: 'ECONNREFUSED',
      },
      {
        name: 'plain',
        url: h.service.url,
        available: false,
        error: expect.stringContaining('status does not fit the contract') as unknown,
      },
    ]);
    expect(catalog.seen).toContain('GET /_ficus/status');
  });

  it('keeps CDC samples over time for the chart', async () => {
    const before = (await report()).cdc!.samples.length;
    lagBytes = 8192;
    // Samples are kept at most every 2 s; wait for the next one.
    let sync = await report();
    await waitUntil(async () => {
      sync = await report();
      return sync.cdc!.samples.length > before;
    });
    expect(sync.cdc!.samples.length).toBe(before + 1);
    expect(sync.cdc!.samples.at(-1)).toMatchObject({ slotLagBytes: 8192, eventsPerSecond: 3.5 });
  });

  it('reports an unreachable connector without failing', async () => {
    const own = await startDashboardHarness(({ legacy }) => ({ legacy, routes: [] }), {
      cdcStatusUrl: `http://127.0.0.1:${await findFreePort()}/status`,
    });
    try {
      const sync = (
        await request(own.url, { path: '/_ficus/api/sync', headers: bearer })
      ).json() as SyncReport;
      expect(sync.cdc).toMatchObject({ available: false, error: 'ECONNREFUSED', samples: [] });
      expect(sync.services).toEqual([]);
    } finally {
      await own.close();
    }
  });
});

describe('POST /_ficus/api/sync/services/:name/reconcile', () => {
  const reconcile = (name: string) =>
    request(h.url, {
      method: 'POST',
      path: `/_ficus/api/sync/services/${name}/reconcile`,
      headers: bearer,
    });

  it('runs the service reconciliation and answers with it', async () => {
    const answer = await reconcile('catalog');
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual(reconciliation);
    expect(catalog.seen).toContain('POST /_ficus/reconcile');
  });

  it('answers 404 for a service the route table does not name', async () => {
    const answer = await reconcile('nope');
    expect(answer.status).toBe(404);
    expect(answer.json()).toMatchObject({ error: { code: 'FICUS_SERVICE_NOT_FOUND' } });
  });

  it('answers 502 when the service is down or refuses', async () => {
    const down = await reconcile('reviews');
    expect(down.status).toBe(502);
    expect(down.json()).toMatchObject({ error: { code: 'FICUS_SERVICE_UNREACHABLE' } });
    reconcileStatus = 409;
    try {
      const refused = await reconcile('catalog');
      expect(refused.status).toBe(502);
      expect(refused.json()).toMatchObject({
        error: {
          code: 'FICUS_SERVICE_FAILED',
          message:
            'service catalog answered 409 to POST /_ficus/reconcile: a reconciliation is running',
        },
      });
    } finally {
      reconcileStatus = 200;
    }
  });
});
