/**
 * A service declared with `defineService`, imported the way a user imports it (the package entry
 * point, index.ts): a composite key, a date column, its own migrations, routes, and a reaction,
 * fed by a connector of its own through snapshot and live changes, and reconciled in sync. Bad
 * specs are refused with the field named.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConnectorSource,
  defineService,
  NotFoundError,
  Router,
  startExtractedService,
  type AppliedChange,
  type RunningService,
  type ServiceSpec,
} from '../../index.js';
import { createCdcDatabase, waitUntil, type CdcDatabase } from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const spec: ServiceSpec = {
  name: 'wishes',
  port: 3199,
  tables: [
    {
      source: 'public.wishes',
      table: 'wishes',
      key: ['member_id', 'product_id'],
      columns: {
        member_id: 'member_id',
        product_id: 'product_id',
        note: 'note',
        added_on: { from: 'epochDays' },
      },
    },
  ],
  migrations: [
    {
      name: '001-wishes',
      async up(knex) {
        await knex.schema.createTable('wishes', (t) => {
          t.integer('member_id');
          t.integer('product_id');
          t.text('note');
          t.date('added_on');
          t.primary(['member_id', 'product_id']);
        });
      },
    },
    {
      name: '002-wish-log',
      async up(knex) {
        await knex.schema.createTable('wish_log', (t) => {
          t.increments('id');
          t.text('op').notNullable();
          t.integer('member_id').notNullable();
          t.integer('product_id').notNullable();
        });
      },
    },
  ],
  routes: ({ db }) =>
    Router().get('/members/:id/wishes', async (req, res) => {
      const rows = await db('wishes')
        .where({ member_id: Number(req.params.id) })
        .orderBy('product_id')
        .select('product_id', 'note', db.raw(`to_char(added_on, 'YYYY-MM-DD') AS added_on`));
      if (rows.length === 0) throw new NotFoundError('no wishes');
      res.json(rows);
    }),
  async onApplied(trx, changes: readonly AppliedChange[]) {
    const created = changes.flatMap((c) => (c.op === 'c' && c.key ? [c.key] : []));
    if (created.length > 0)
      await trx('wish_log').insert(
        created.map((key) => ({ op: 'c', member_id: key.member_id, product_id: key.product_id })),
      );
  },
};

let source: CdcDatabase;
let own: TestDatabase;
let running: RunningService;
let offsetsDir: string;
let ownDb: pg.Client;

async function wishesOf(member: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${running.url}/members/${member}/wishes`);
  return { status: res.status, body: await res.json() };
}

async function count(table: string): Promise<number> {
  const found = await fetch(`${running.url}/_ficus/status`);
  const status = (await found.json()) as { tables: { table: string; rows: number }[] };
  return status.tables.find((t) => t.table === table)?.rows ?? -1;
}

beforeAll(async () => {
  source = await createCdcDatabase();
  await source.sql(`CREATE TABLE wishes (
    member_id int, product_id int, note text, added_on date NOT NULL,
    PRIMARY KEY (member_id, product_id))`);
  await source.sql(`INSERT INTO wishes SELECT m, p, 'note ' || m || '/' || p, DATE '2026-01-01' + p
    FROM generate_series(1, 5) m, generate_series(1, 4) p`);
  own = await createTestDatabase('define');
  offsetsDir = await mkdtemp(path.join(tmpdir(), 'ficus-define-'));
  const definition = defineService(spec);
  running = await startExtractedService({
    definition,
    databaseUrl: own.url,
    sourceDatabaseUrl: source.url,
    port: 0,
    source: createConnectorSource({
      databaseUrl: source.url,
      tables: definition.sourceTables,
      slotName: `define_${process.pid}`,
      publicationName: `define_${process.pid}`,
      topicPrefix: 'shop',
      offsetsFile: path.join(offsetsDir, 'offsets.json'),
    }),
  });
  await waitUntil(async () => (await count('wishes')) === 20, 30_000);
  ownDb = new pg.Client({ connectionString: own.url });
  await ownDb.connect();
});

afterAll(async () => {
  await ownDb?.end();
  await running?.close();
  await own?.drop();
  await source?.cleanup();
  await rm(offsetsDir, { recursive: true, force: true });
});

describe('a service declared with defineService', () => {
  it('carries the snapshot and serves it from its own routes', async () => {
    expect(await wishesOf(2)).toEqual({
      status: 200,
      body: [1, 2, 3, 4].map((p) => ({
        product_id: p,
        note: `note 2/${p}`,
        added_on: `2026-01-0${1 + p}`,
      })),
    });
    expect(await wishesOf(9)).toEqual({
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: 'no wishes' } },
    });
  });

  it('follows live inserts, updates and deletes, and reacts once per created row', async () => {
    await source.sql(`INSERT INTO wishes VALUES (9, 1, 'new', DATE '2026-02-01')`);
    await source.sql(`UPDATE wishes SET note = 'changed' WHERE member_id = 2 AND product_id = 1`);
    await source.sql(`DELETE FROM wishes WHERE member_id = 3`);
    await waitUntil(async () => (await wishesOf(3)).status === 404, 10_000);
    expect((await wishesOf(9)).body).toEqual([
      { product_id: 1, note: 'new', added_on: '2026-02-01' },
    ]);
    expect(((await wishesOf(2)).body as { note: string }[])[0]?.note).toBe('changed');

    const log = await ownDb.query<{ op: string; member_id: number; product_id: number }>(
      'SELECT op, member_id, product_id FROM wish_log ORDER BY id',
    );
    expect(log.rows).toEqual([{ op: 'c', member_id: 9, product_id: 1 }]);
    const reconciliation = await running.reconcile();
    expect(reconciliation.inSync).toBe(true);
    expect(reconciliation.tables).toEqual([
      expect.objectContaining({ table: 'wishes', sourceRows: 17, carriedRows: 17 }),
    ]);
  });
});

describe('starting a service', () => {
  it('on a database that does not exist says to create it', async () => {
    const missing = new URL(own.url);
    missing.pathname = '/no_such_service_db';
    await expect(
      startExtractedService({
        definition: defineService(spec),
        databaseUrl: missing.toString(),
        port: 0,
      }),
    ).rejects.toMatchObject({
      code: 'FICUS_SERVICE_DATABASE_MISSING',
      message:
        'wishes: its database "no_such_service_db" does not exist; a service keeps its data in a database of its own: create it (CREATE DATABASE "no_such_service_db") and start again',
    });
  });
});

describe('defineService refuses a bad spec, naming the field', () => {
  it.each<[string, Partial<ServiceSpec>, RegExp]>([
    [
      'a name with upper case',
      { name: 'Wishes' },
      /^defineService\("Wishes"\): name must start with a lower-case letter.*got "Wishes"$/,
    ],
    ['a port of 0', { port: 0 }, /: port must be an integer from 1 to 65535, got 0$/],
    ['no tables', { tables: [] }, /: tables must carry at least one table/],
    [
      'a table without a schema',
      { tables: [{ source: 'wishes', table: 'w', key: ['id'], columns: ['id'] }] },
      /: tables\.0\.source must be "schema\.table", got "wishes"$/,
    ],
    [
      'a key column that is not carried',
      { tables: [{ source: 'public.w', table: 'w', key: ['id'], columns: ['name'] }] },
      /: tables\.0: carried-state mapping "w": .*id/,
    ],
    [
      'one local table twice',
      {
        tables: [
          { source: 'public.a', table: 'w', key: ['id'], columns: ['id'] },
          { source: 'public.b', table: 'w', key: ['id'], columns: ['id'] },
        ],
      },
      /: tables\.1\.table "w" is carried twice/,
    ],
    [
      'a migration without up',
      { migrations: [{ name: '001' } as never] },
      /: migrations\.0\.up must be a function/,
    ],
    [
      'routes that are not a function',
      { routes: 'GET /x' as never },
      /: routes must be a function \(context\) => express\.Router, got "GET \/x"$/,
    ],
  ])('%s', (_, change, message) => {
    expect(() => defineService({ ...spec, ...change })).toThrow(message);
  });
});
