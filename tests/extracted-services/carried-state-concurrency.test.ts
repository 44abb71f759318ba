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
  cdc = await startTestConnector(source.url);
  await source.sql('INSERT INTO stock VALUES (1, 10)');
  await source.sql('UPDATE stock SET level = 20 WHERE id = 1');
  await cdc.waitFor((records) => records.filter((r) => isChangeEventValue(r.value)).length === 2);
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
  const changes = cdc.records.filter((r) => isChangeEventValue(r.value));
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
