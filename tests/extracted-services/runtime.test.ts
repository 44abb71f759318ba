/**
 * The service runtime with the catalog: a service fed by a connector of its own on a seeded
 * monolith, its status endpoint, and reconciliation (library, HTTP and the `ficus reconcile` CLI)
 * finding nothing on a faithful copy and exactly the rows that were tampered with otherwise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CATALOG_DEFINITION,
  createConnectorSource,
  reconcile,
  REVIEWS_DEFINITION,
  startExtractedService,
  type Reconciliation,
  type RunningService,
  type ServiceStatus,
} from '../../extracted-services/index.js';
import {
  createLegacyDatabase,
  migrateLegacyDatabase,
  seedLegacyDatabase,
} from '../../legacy-monolith/index.js';
import { createCdcDatabase, waitUntil, type CdcDatabase } from '../cdc/harness.js';
import { spawnFicus } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let source: CdcDatabase;
let monolithDb: Knex;
let serviceDatabase: TestDatabase;
let serviceDb: Knex;
let running: RunningService;
let offsetsDir: string;

async function sourceCount(table: string): Promise<number> {
  const row = await monolithDb(table).count({ n: '*' }).first<{ n: string }>();
  return Number(row.n);
}

async function status(): Promise<ServiceStatus> {
  return (await (await fetch(`${running.url}/_ficus/status`)).json()) as ServiceStatus;
}

async function reconcileOverHttp(): Promise<Reconciliation> {
  const res = await fetch(`${running.url}/_ficus/reconcile`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as Reconciliation;
}

beforeAll(async () => {
  source = await createCdcDatabase();
  monolithDb = createLegacyDatabase(source.url);
  await migrateLegacyDatabase(monolithDb);
  await seedLegacyDatabase(monolithDb);
  serviceDatabase = await createTestDatabase('runtime');
  serviceDb = knex({ client: 'pg', connection: serviceDatabase.url, pool: { min: 0, max: 2 } });
  offsetsDir = await mkdtemp(path.join(tmpdir(), 'ficus-runtime-'));
  running = await startExtractedService({
    definition: CATALOG_DEFINITION,
    databaseUrl: serviceDatabase.url,
    sourceDatabaseUrl: source.url,
    port: 0,
    source: createConnectorSource({
      databaseUrl: source.url,
      tables: CATALOG_DEFINITION.sourceTables,
      slotName: `runtime_${process.pid}`,
      publicationName: `runtime_${process.pid}`,
      topicPrefix: 'legacy',
      offsetsFile: path.join(offsetsDir, 'offsets.json'),
    }),
  });
  const products = await sourceCount('products');
  await waitUntil(
    async () => (await status()).tables.find((t) => t.table === 'products')?.rows === products,
    30_000,
  );
});

afterAll(async () => {
  await running?.close();
  await serviceDb?.destroy();
  await monolithDb?.destroy();
  await serviceDatabase?.drop();
  await source?.cleanup();
  await rm(offsetsDir, { recursive: true, force: true });
});

describe('a service fed by a connector of its own', () => {
  it('reports its source, lag and carried row counts at /_ficus/status', async () => {
    const body = await status();
    expect(body).toMatchObject({
      service: 'catalog',
      state: 'running',
      source: { kind: 'connector', state: 'running', details: { slot: `runtime_${process.pid}` } },
      reconciliation: null,
    });
    expect(body.lag.eventsApplied).toBeGreaterThan(1000);
    expect(body.tables).toEqual([
      { table: 'categories', source: 'public.categories', rows: await sourceCount('categories') },
      { table: 'products', source: 'public.products', rows: await sourceCount('products') },
      { table: 'reviews', source: 'public.reviews', rows: await sourceCount('reviews') },
    ]);
  });

  it('follows changes in the monolith', async () => {
    await monolithDb('products').where({ id: 11 }).update({ name: 'Renamed by the runtime test' });
    await waitUntil(async () => {
      const row = await serviceDb('products').where({ id: 11 }).first<{ name: string }>('name');
      return row.name === 'Renamed by the runtime test';
    });
    const body = await status();
    expect(body.lag.millisBehindSource).not.toBeNull();
    expect(body.lag.lastAppliedAt).not.toBeNull();
  });
});

describe('reconciliation', () => {
  it('finds a faithful copy in sync, with equal row counts per table', async () => {
    const result = await reconcileOverHttp();
    expect(result.inSync).toBe(true);
    for (const table of result.tables) {
      expect(table).toMatchObject({ missing: 0, extra: 0, different: 0, inSync: true });
      expect(table.carriedRows).toBe(await sourceCount(table.source.split('.')[1]!));
      expect(table.carriedRows).toBeGreaterThan(0);
    }
    expect((await status()).reconciliation).toEqual(result);
  });

  it('lists exactly the rows that differ, by kind, and the CLI exits 1 on them', async () => {
    await serviceDb('products').where({ id: 7 }).update({ price: '0.01' });
    await serviceDb('reviews').where({ id: 3 }).del();
    await serviceDb('categories').insert({ id: 999, slug: 'not-in-source', name: 'Not in source' });
    try {
      const result = await reconcileOverHttp();
      expect(result.inSync).toBe(false);
      const byTable = Object.fromEntries(result.tables.map((t) => [t.table, t]));
      expect(byTable.products).toMatchObject({ different: 1, missing: 0, extra: 0 });
      expect(byTable.products?.differences).toEqual([{ key: { id: '7' }, kind: 'different' }]);
      expect(byTable.reviews?.differences).toEqual([{ key: { id: '3' }, kind: 'missing' }]);
      expect(byTable.reviews?.carriedRows).toBe((byTable.reviews?.sourceRows ?? 0) - 1);
      expect(byTable.categories?.differences).toEqual([{ key: { id: '999' }, kind: 'extra' }]);

      const cli = spawnFicus([
        'reconcile',
        'catalog',
        '--database-url',
        serviceDatabase.url,
        '--source-database-url',
        source.url,
        '--settle-ms',
        '0',
      ]);
      expect(await cli.exited).toBe(1);
      expect(cli.output()).toContain('catalog: NOT in sync');
      expect(cli.output()).toMatch(/products \{"id":"7"\} different/);
      expect(cli.output()).toMatch(/reviews \{"id":"3"\} missing/);
      expect(cli.output()).toMatch(/categories \{"id":"999"\} extra/);
    } finally {
      // Put the copy back as it was, for the tests after this one.
      await serviceDb('categories').where({ id: 999 }).del();
      const product = await monolithDb('products')
        .where({ id: 7 })
        .first<{ price: string }>('price');
      await serviceDb('products').where({ id: 7 }).update({ price: product.price });
      const review = await monolithDb('reviews')
        .where({ id: 3 })
        .first<{ id: number; product_id: number; rating: number }>('id', 'product_id', 'rating');
      await serviceDb('reviews').insert(review);
    }
  });

  it('reports a row that is only late once it stays different past the settle time', async () => {
    const { price } = await serviceDb('products')
      .where({ id: 12 })
      .first<{ price: string }>('price');
    const stale = async () => serviceDb('products').where({ id: 12 }).update({ price: '0.02' });
    const caughtUp = async () => serviceDb('products').where({ id: 12 }).update({ price });
    const options = { db: serviceDb, sourceDb: monolithDb, mappings: running.service.mappings };
    const differing = (result: Reconciliation) =>
      result.tables
        .filter((t) => t.table === 'products')
        .flatMap((t) => t.differences.map((d) => ({ table: t.table, ...d })));

    await stale();
    const late = setTimeout(() => void caughtUp(), 400);
    try {
      expect(differing(await reconcile({ ...options, settleMs: 3_000 }))).toEqual([]);
    } finally {
      clearTimeout(late);
      await caughtUp();
    }

    await stale();
    try {
      expect(differing(await reconcile({ ...options, settleMs: 0 }))).toEqual([
        { table: 'products', key: { id: '12' }, kind: 'different' },
      ]);
    } finally {
      await caughtUp();
    }
  });

  it('through a running service, the CLI prints the same comparison and exits 0 when in sync', async () => {
    await monolithDb('reviews').where({ id: 3 }).update({ rating: 5 });
    await waitUntil(
      async () =>
        (await serviceDb('reviews').where({ id: 3 }).first<{ rating: number }>('rating')).rating ===
        5,
    );
    const cli = spawnFicus(['reconcile', 'catalog', '--service-url', running.url, '--json']);
    expect(await cli.exited).toBe(0);
    const printed = JSON.parse(cli.output()) as Reconciliation;
    expect(printed.inSync).toBe(true);
    expect(printed.tables.map((t) => t.table)).toEqual(['categories', 'products', 'reviews']);
  });

  it('names what is missing when neither a service nor both databases are given', async () => {
    const cli = spawnFicus(['reconcile', 'catalog'], {
      DATABASE_URL: '',
      FICUS_SOURCE_DATABASE_URL: '',
    });
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toContain(
      'pass --service-url (a running service) or both --database-url and --source-database-url',
    );
  });
});

describe('a service whose companion stops', () => {
  it('reports itself degraded (503 on /_ficus/health) until the write-back is running again', async () => {
    const own = await createTestDatabase('runtimereviews');
    const reviews = await startExtractedService({
      definition: REVIEWS_DEFINITION,
      databaseUrl: own.url,
      sourceDatabaseUrl: source.url,
      port: 0,
      source: createConnectorSource({
        databaseUrl: source.url,
        tables: REVIEWS_DEFINITION.sourceTables,
        slotName: `runtime_reviews_${process.pid}`,
        publicationName: `runtime_reviews_${process.pid}`,
        topicPrefix: 'legacy',
        offsetsFile: path.join(offsetsDir, 'reviews-offsets.json'),
      }),
    });
    try {
      expect((await fetch(`${reviews.url}/_ficus/health`)).status).toBe(200);
      // The write-back streams the service's own database; cut its replication connection.
      const admin = knex({ client: 'pg', connection: own.url, pool: { min: 0, max: 1 } });
      try {
        await waitUntil(async () => {
          const { rows } = await admin.raw<{ rows: { n: string }[] }>(
            `SELECT count(pg_terminate_backend(active_pid)) AS n FROM pg_replication_slots
             WHERE database = current_database() AND active_pid IS NOT NULL`,
          );
          return Number(rows[0]?.n) > 0;
        });
      } finally {
        await admin.destroy();
      }
      let degraded: unknown;
      await waitUntil(async () => {
        const res = await fetch(`${reviews.url}/_ficus/health`);
        if (res.status === 503) degraded = await res.json();
        return res.status === 503;
      });
      expect(degraded).toEqual({ status: 'degraded', service: 'reviews' });

      // Restarted with backoff, and writing back again.
      await waitUntil(async () => (await fetch(`${reviews.url}/_ficus/health`)).status === 200);
      const status = (await (await fetch(`${reviews.url}/_ficus/status`)).json()) as ServiceStatus;
      expect(status.companions).toMatchObject({ restarts: 1 });
      const created = await fetch(`${reviews.url}/products/3/reviews`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          memberId: 2,
          rating: 5,
          title: 'After the restart',
          body: 'Still written back.',
        }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: number };
      await waitUntil(
        async () => (await monolithDb('reviews').where({ id }).first()) !== undefined,
      );
    } finally {
      await reviews.close();
      await own.drop();
    }
  });
});
