/**
 * Two appliers on one carried copy at once: a Kafka consumer that lost its partitions in a
 * rebalance but is still finishing a batch (a zombie) while its successor applies newer events.
 * The older event must not overwrite the newer one: the helper serialises applies on a database.
 */
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isChangeEventValue, type ChangeRecord } from '../../cdc/index.js';
import {
  createCarriedState,
  type TableMapping,
} from '../../extracted-services/carried-state/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  waitUntil,
  type CdcDatabase,
  type TestConnector,
} from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let source: CdcDatabase;
let cdc: TestConnector;
let service: TestDatabase;
const pools: Knex[] = [];

const MAPPING: TableMapping = {
  source: 'public.stock',
  table: 'stock',
  key: ['id'],
  columns: ['id', 'level'],
};

function pool(applicationName: string): Knex {
  const db = knex({
    client: 'pg',
    connection: { connectionString: service.url, application_name: applicationName },
    pool: { min: 0, max: 2 },
  });
  pools.push(db);
  return db;
}

beforeAll(async () => {
  source = await createCdcDatabase();
  await source.sql('CREATE TABLE stock (id int PRIMARY KEY, level int NOT NULL)');
  await source.sql('CREATE TABLE codes (id int PRIMARY KEY, code text NOT NULL UNIQUE)');
  await source.sql('CREATE TABLE tickets (id int PRIMARY KEY, label text NOT NULL)');
  cdc = await startTestConnector(source.url);
  await source.sql('INSERT INTO stock VALUES (1, 10)');
  await source.sql('UPDATE stock SET level = 20 WHERE id = 1');
  await cdc.waitFor(
    (records) =>
      records.filter((r) => r.topic.endsWith('.stock') && isChangeEventValue(r.value)).length === 2,
  );
  service = await createTestDatabase('concurrency');
  const setup = pool('setup');
  await setup.schema.createTable('stock', (t) => {
    t.integer('id').primary();
    t.integer('level').notNullable();
  });
  await createCarriedState({ db: setup, mappings: [MAPPING] }).migrate();
});

afterAll(async () => {
  for (const db of pools) await db.destroy();
  await cdc?.stop();
  await service?.drop();
  await source?.cleanup();
});

it('keeps the newer row when an older event is applied while the newer one commits', async () => {
  const changes = cdc.records.filter(
    (r) => r.topic.endsWith('.stock') && isChangeEventValue(r.value),
  );
  const [insert, update] = changes as [ChangeRecord, ChangeRecord];
  const successor = createCarriedState({ db: pool('successor'), mappings: [MAPPING] });
  const zombie = createCarriedState({ db: pool('zombie'), mappings: [MAPPING] });
  const observer = pool('observer');
  const zombieWaits = async () => {
    const { rows } = await observer.raw<{ rows: { n: string }[] }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'zombie' AND wait_event_type = 'Lock'",
    );
    return Number(rows[0]?.n) > 0;
  };

  let zombieApply: Promise<unknown> | undefined;
  await successor.apply([update], {
    // Inside the successor's transaction, its row written but not committed: the zombie starts
    // on the older event now, and the successor commits only once the zombie is blocked.
    onApplied: async () => {
      zombieApply = zombie.apply([insert]);
      await waitUntil(zombieWaits, 10_000);
    },
  });
  await zombieApply;

  const rows = await observer('stock').select('id', 'level');
  expect(rows).toEqual([{ id: 1, level: 20 }]);
});

it('writes a batch whose rows swap a value the local table keeps unique', async () => {
  await source.sql("INSERT INTO codes VALUES (1, 'A'), (2, 'B')");
  await source.sql(`BEGIN;
    UPDATE codes SET code = 'swap' WHERE id = 1;
    UPDATE codes SET code = 'A' WHERE id = 2;
    UPDATE codes SET code = 'B' WHERE id = 1;
    COMMIT`);
  await cdc.waitFor(
    (records) => records.filter((r) => r.topic.endsWith('.codes') && r.value !== null).length === 5,
  );
  const db = pool('codes');
  await db.schema.createTable('codes', (t) => {
    t.integer('id').primary();
    t.text('code').notNullable().unique();
  });
  const mapping: TableMapping = {
    source: 'public.codes',
    table: 'codes',
    key: ['id'],
    columns: ['id', 'code'],
  };
  const carried = createCarriedState({ db, mappings: [mapping] });
  const records = cdc.records.filter((r) => r.topic.endsWith('.codes'));
  expect(await carried.apply(records.slice(0, 2))).toEqual({ applied: 2, skipped: 0 });
  // One batch: written in bulk, row 1 would take 'B' while row 2 still holds it.
  expect(await carried.apply(records.slice(2))).toEqual({ applied: 3, skipped: 0 });
  expect(await db('codes').select('id', 'code').orderBy('id')).toEqual([
    { id: 1, code: 'B' },
    { id: 2, code: 'A' },
  ]);
});

it('starts a row deleted and created again in one batch afresh, as applying one by one would', async () => {
  await source.sql("INSERT INTO tickets VALUES (5, 'first')");
  await source.sql('DELETE FROM tickets WHERE id = 5');
  await source.sql("INSERT INTO tickets VALUES (5, 'second')");
  const tickets = () => cdc.records.filter((r) => r.topic.endsWith('.tickets') && r.value !== null);
  await cdc.waitFor(() => tickets().length === 3);
  const db = pool('tickets');
  await db.schema.createTable('tickets', (t) => {
    t.integer('id').primary();
    t.text('label').notNullable();
    // A column of the service's own, not carried: a fresh row starts from its default.
    t.text('triaged').notNullable().defaultTo('no');
  });
  const mapping: TableMapping = {
    source: 'public.tickets',
    table: 'tickets',
    key: ['id'],
    columns: ['id', 'label'],
  };
  const carried = createCarriedState({ db, mappings: [mapping] });
  const [insert, ...recreate] = tickets();
  await carried.apply([insert!]);
  await db('tickets').where({ id: 5 }).update({ triaged: 'yes' });
  expect(await carried.apply(recreate)).toEqual({ applied: 2, skipped: 0 });
  expect(await db('tickets').select('id', 'label', 'triaged')).toEqual([
    { id: 5, label: 'second', triaged: 'no' },
  ]);
});
