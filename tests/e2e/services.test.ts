/**
 * The migration of the product endpoints, end to end through real sockets: monolith, CDC, the
 * catalog service fed by it, and the gateway in front. In shadow the comparison finds no
 * difference on the seeded data; in `new` the same requests get the same bodies as from the
 * monolith; and a product changed in the monolith shows through the catalog within a bounded time
 * (measured: commit in the monolith → first answer through the gateway that shows it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CATALOG_DEFINITION,
  createConnectorSource,
  startExtractedService,
  type RunningService,
} from '../../extracted-services/index.js';
import { createGateway, createMemoryRouteStore, type Gateway } from '../../gateway/index.js';
import {
  createLegacyDatabase,
  startLegacyMonolith,
  type RunningLegacyMonolith,
} from '../../legacy-monolith/index.js';
import { createCdcDatabase, waitUntil, type CdcDatabase } from '../cdc/harness.js';
import { ADMIN_TOKEN, request } from '../gateway/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let source: CdcDatabase;
let monolithDb: Knex;
let monolith: RunningLegacyMonolith;
let catalogDatabase: TestDatabase;
let catalog: RunningService;
let gateway: Gateway;
let gatewayUrl: string;
let offsetsDir: string;

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

/** Every product list page at two page sizes, every category filter, and every product. */
async function catalogPaths(): Promise<string[]> {
  const products = await monolithDb('products').select<{ id: number }[]>('id').orderBy('id');
  const categories = await monolithDb('categories').select<{ slug: string }[]>('slug');
  const pages = (size: number) =>
    Array.from(
      { length: Math.ceil(products.length / size) + 1 },
      (_, i) => `/products?pageSize=${size}&page=${i + 1}`,
    );
  return [
    '/products',
    ...pages(20),
    ...pages(100),
    ...categories.map((c) => `/products?category=${c.slug}`),
    ...products.map((p) => `/products/${p.id}`),
    '/products/999999',
    '/products/not-a-number',
    '/products?pageSize=0',
  ];
}

async function setMode(route: string, mode: string): Promise<void> {
  const res = await request(gatewayUrl, {
    method: 'PATCH',
    path: `/_ficus/api/routes/${route}`,
    headers: admin,
    body: JSON.stringify({ mode, reason: `end-to-end test: ${mode}` }),
  });
  expect(res.status, res.body).toBe(200);
}

interface ShadowStats {
  matches: number;
  mismatches: number;
  errors: number;
}

async function shadowStats(): Promise<Record<string, ShadowStats>> {
  const res = await request(gatewayUrl, { path: '/_ficus/api/stats', headers: admin });
  const body = res.json() as { routes: { id: string; shadow: ShadowStats }[] };
  return Object.fromEntries(body.routes.map((r) => [r.id, r.shadow]));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

beforeAll(async () => {
  source = await createCdcDatabase();
  monolith = await startLegacyMonolith({ databaseUrl: source.url, port: 0 });
  monolithDb = createLegacyDatabase(source.url);
  catalogDatabase = await createTestDatabase('e2ecatalog');
  offsetsDir = await mkdtemp(path.join(tmpdir(), 'ficus-e2e-'));
  catalog = await startExtractedService({
    definition: CATALOG_DEFINITION,
    databaseUrl: catalogDatabase.url,
    sourceDatabaseUrl: source.url,
    port: 0,
    source: createConnectorSource({
      databaseUrl: source.url,
      tables: CATALOG_DEFINITION.sourceTables,
      slotName: `e2e_catalog_${process.pid}`,
      publicationName: `e2e_catalog_${process.pid}`,
      topicPrefix: 'legacy',
      offsetsFile: path.join(offsetsDir, 'offsets.json'),
    }),
  });
  await waitUntil(async () => (await catalog.reconcile()).inSync, 30_000);

  const store = createMemoryRouteStore({
    legacy: monolith.url,
    services: { catalog: catalog.url },
    routes: [
      {
        id: 'product-list',
        methods: ['GET'],
        path: '/products',
        service: 'catalog',
        mode: 'shadow',
      },
      {
        id: 'product-detail',
        methods: ['GET'],
        path: '/products/:id',
        service: 'catalog',
        mode: 'shadow',
      },
    ],
  });
  gateway = createGateway({ store, adminToken: ADMIN_TOKEN });
  gatewayUrl = (await gateway.listen(0)).url;
});

afterAll(async () => {
  await gateway?.close();
  await catalog?.close();
  await monolith?.close();
  await monolithDb?.destroy();
  await catalogDatabase?.drop();
  await source?.cleanup();
  await rm(offsetsDir, { recursive: true, force: true });
});

describe('moving the product endpoints to the catalog service', () => {
  it('in shadow, compares every catalog answer on the seeded data and finds no mismatch', async () => {
    const paths = await catalogPaths();
    for (const p of paths) {
      const res = await request(gatewayUrl, { path: p });
      expect(res.status).toBeLessThan(500);
    }
    let stats: Record<string, ShadowStats> = {};
    await waitUntil(
      async () => {
        stats = await shadowStats();
        const total = Object.values(stats).reduce(
          (n, s) => n + s.matches + s.mismatches + s.errors,
          0,
        );
        return total >= paths.length;
      },
      30_000,
      () => JSON.stringify(stats),
    );
    expect(stats['product-list']).toMatchObject({ mismatches: 0, errors: 0 });
    expect(stats['product-detail']).toMatchObject({ mismatches: 0, errors: 0 });
    expect(stats['product-list']!.matches + stats['product-detail']!.matches).toBe(paths.length);
  }, 120_000);

  it('in new, answers every request with the same status and body as the monolith', async () => {
    await setMode('product-list', 'new');
    await setMode('product-detail', 'new');
    for (const p of await catalogPaths()) {
      const [through, direct] = await Promise.all([
        request(gatewayUrl, { path: p }),
        request(monolith.url, { path: p }),
      ]);
      expect({ path: p, status: through.status, body: through.body }).toEqual({
        path: p,
        status: direct.status,
        body: direct.body,
      });
      expect(through.headers['x-ficus-side'] ?? 'new').not.toBe('legacy');
    }
  }, 120_000);

  it('shows a product changed in the monolith through the catalog within a bounded time', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 100; i++) {
      const id = (i % 300) + 1;
      const name = `Propagated ${i}`;
      const committed = performance.now();
      // The test cluster runs with synchronous_commit off (speed); a production monolith
      // flushes its commits, and the walsender sends only flushed WAL.
      await monolithDb.transaction(async (trx) => {
        await trx.raw('SET LOCAL synchronous_commit = on');
        await trx('products').where({ id }).update({ name });
      });
      for (;;) {
        const res = await request(gatewayUrl, { path: `/products/${id}` });
        if ((res.json() as { name: string }).name === name) break;
        if (performance.now() - committed > 10_000) throw new Error(`product ${id} not updated`);
      }
      samples.push(performance.now() - committed);
    }
    samples.sort((a, b) => a - b);
    const p50 = percentile(samples, 50);
    const p99 = percentile(samples, 99);
    console.log(
      `monolith commit → visible through the gateway via the catalog: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${samples.length} changes)`,
    );
    expect(p99).toBeLessThan(10_000);
  }, 120_000);
});
