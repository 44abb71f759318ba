/**
 * The Postgres route store on a real Postgres: replicas see each other's changes within a second,
 * concurrent changes from two replicas are both kept, and a lost LISTEN connection is survived.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../common/index.js';
import { RouteTableError } from '../../../gateway/route-table/index.js';
import {
  createPostgresRouteStore,
  type PostgresRouteStoreOptions,
  type RouteStore,
} from '../../../gateway/store/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { nextVersion, routeOf, sampleTable } from './fixtures.js';

let database: TestDatabase;
const opened: RouteStore[] = [];

async function open(options: Partial<PostgresRouteStoreOptions> = {}): Promise<RouteStore> {
  const store = await createPostgresRouteStore({
    url: database.url,
    initial: sampleTable(),
    ...options,
  });
  opened.push(store);
  return store;
}

async function query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

beforeEach(async () => {
  database = await createTestDatabase('route_store');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await database.drop();
});

describe('starting', () => {
  it('creates the table, seeds an empty database once, and loads what is there afterwards', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    expect(a.current()).toMatchObject({ version: 1, kind: 'load' });
    expect(b.current()).toEqual(a.current());
    const rows = await query<{ count: string }>('SELECT count(*) FROM ficus_route_versions');
    expect(rows[0]?.count).toBe('1');

    const later = await open({ initial: undefined });
    expect(later.current()).toEqual(a.current());
  });

  it('refuses to start on an empty database without an initial table', async () => {
    await expect(open({ initial: undefined })).rejects.toThrow(ConfigError);
  });

  it('refuses to start when the database cannot be reached, saying so', async () => {
    const url = new URL(database.url);
    url.port = '1';
    await expect(open({ url: url.toString() })).rejects.toMatchObject({
      code: 'FICUS_ROUTE_STORE_UNAVAILABLE',
      message: expect.stringMatching(
        /cannot load the route table from 127\.0\.0\.1:1\//,
      ) as unknown,
    });
  });
});

describe('two replicas', () => {
  it('sees a change made through the other within a second', async () => {
    const a = await open();
    const b = await open();
    const delays: number[] = [];
    for (const weight of [10, 20, 30, 40, 50]) {
      const seen = nextVersion(b, (version) => routeOf(version, 'orders').weight === weight);
      const started = performance.now();
      const written = await a.setMode(
        'orders',
        { mode: 'canary', weight },
        { actor: 'alice', reason: `canary ${weight}%` },
      );
      const version = await seen;
      delays.push(performance.now() - started);
      expect(version).toEqual(written);
      expect(b.current()).toEqual(written);
    }
    if (process.env.FICUS_TEST_VERBOSE) {
      console.log(`replica propagation ms: ${delays.map((d) => d.toFixed(1)).join(', ')}`);
    }
    expect(Math.max(...delays)).toBeLessThan(1_000);
  });

  it('keeps every concurrent change from both replicas', async () => {
    const table = sampleTable();
    const ids = Array.from({ length: 10 }, (_, i) => `r${i}`);
    table.routes = ids.map((id) => ({ id, path: `/${id}`, service: 'catalog', mode: 'legacy' }));
    const a = await open({ initial: table });
    const b = await open();

    const written = await Promise.all(
      ids.map((id, i) =>
        (i % 2 ? a : b).setMode(
          id,
          { mode: 'canary', weight: i + 1 },
          { actor: i % 2 ? 'a' : 'b', reason: `move ${id}` },
        ),
      ),
    );

    expect(new Set(written.map((version) => version.version)).size).toBe(10);
    const history = await a.history();
    expect(history.map((version) => version.version)).toEqual(
      Array.from({ length: 11 }, (_, i) => 11 - i),
    );
    // The newest version carries all ten changes: none was applied on a stale table.
    const latest = history[0]!;
    ids.forEach((id, i) =>
      expect(routeOf(latest, id)).toMatchObject({ mode: 'canary', weight: i + 1 }),
    );
    const times = history.map((version) => Date.parse(version.at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    await vi.waitFor(() => {
      expect(a.current()).toEqual(latest);
      expect(b.current()).toEqual(latest);
    });
  });

  it('tells subscribers about every version of the other replica, in order', async () => {
    const a = await open();
    const b = await open();
    const seen: number[] = [];
    b.subscribe((version) => seen.push(version.version));
    for (let i = 1; i <= 5; i++) {
      await a.setMode('orders', { mode: 'canary', weight: i }, { actor: 'a', reason: `${i}` });
    }
    await vi.waitFor(() => expect(seen).toEqual([2, 3, 4, 5, 6]));
  });

  it('keeps up through polling when the LISTEN connection is killed, and listens again', async () => {
    const a = await open();
    const b = await open({ pollMs: 100 });
    const killed = await query<{ killed: boolean }>(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'ficus-routes-listener'`,
    );
    expect(killed).toHaveLength(2);

    const seen = nextVersion(b);
    const started = performance.now();
    const written = await a.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'move' });
    expect(await seen).toEqual(written);
    const delay = performance.now() - started;
    if (process.env.FICUS_TEST_VERBOSE) {
      console.log(`propagation without LISTEN ms: ${delay.toFixed(1)}`);
    }
    expect(delay).toBeLessThan(1_000);

    await vi.waitFor(
      async () => {
        const listeners = await query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
           AND application_name = 'ficus-routes-listener' AND query ILIKE 'LISTEN%'`,
        );
        expect(listeners).toHaveLength(2);
      },
      { timeout: 10_000, interval: 100 },
    );
  });
});

describe('changes', () => {
  it('refuses an invalid table and keeps the running one', async () => {
    const a = await open();
    const table = sampleTable();
    table.routes[0]!.mode = 'shadow';
    (table.routes[0] as { weight?: number }).weight = -1;
    await expect(a.update(table, { actor: 'a', reason: 'b' })).rejects.toMatchObject({
      problems: [expect.objectContaining({ route: 'product-detail', field: 'routes[0].weight' })],
    });
    await expect(
      a.setMode('static', { mode: 'new' }, { actor: 'a', reason: 'b' }),
    ).rejects.toBeInstanceOf(RouteTableError);
    await expect(
      a.setMode('nope', { mode: 'new' }, { actor: 'a', reason: 'b' }),
    ).rejects.toMatchObject({ code: 'FICUS_ROUTE_NOT_FOUND', statusCode: 404 });
    expect(a.current().version).toBe(1);
    expect(await a.history()).toHaveLength(1);
  });

  it('restores an earlier version as a new one that every replica gets', async () => {
    const a = await open();
    const b = await open();
    await a.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'move orders' });
    const seen = nextVersion(b, (version) => version.kind === 'restore');
    const restored = await a.restore(1, { actor: 'carol', reason: 'orders broke' });
    expect(restored).toMatchObject({
      version: 3,
      kind: 'restore',
      restoredFrom: 1,
      actor: 'carol',
      reason: 'orders broke',
    });
    expect(routeOf(restored, 'orders').mode).toBe('legacy');
    expect(await seen).toEqual(restored);
    expect((await b.history())[0]).toEqual(restored);
    await expect(a.restore(42, { actor: 'a', reason: 'b' })).rejects.toMatchObject({
      code: 'FICUS_VERSION_NOT_FOUND',
      statusCode: 404,
    });
  });

  it('records the guard rollback kind', async () => {
    const a = await open();
    await a.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'move' });
    const rolledBack = await a.setMode(
      'orders',
      { mode: 'legacy' },
      { actor: 'guard', reason: 'error rate 0.31 > 0.05', kind: 'rollback' },
    );
    expect(rolledBack).toMatchObject({ kind: 'rollback', actor: 'guard' });
    const rows = await query<{ kind: string }>(
      'SELECT kind FROM ficus_route_versions ORDER BY version',
    );
    expect(rows.map((row) => row.kind)).toEqual(['load', 'change', 'rollback']);
  });

  it('throws on writes after close', async () => {
    const a = await open();
    await a.close();
    await expect(a.update(sampleTable(), { actor: 'a', reason: 'b' })).rejects.toMatchObject({
      code: 'FICUS_ROUTE_STORE_CLOSED',
    });
  });
});
