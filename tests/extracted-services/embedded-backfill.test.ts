/**
 * Backfill with the in-process sink, which keeps nothing: a service that subscribes after the
 * connector has streamed 10,000 changes gets the existing rows from an incremental snapshot of its
 * tables, taken while the monolith keeps changing, and ends with an identical copy.
 */
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEmbeddedSink } from '../../cdc/index.js';
import {
  CATALOG_DEFINITION,
  createEmbeddedSource,
  reconcile,
  startExtractedService,
  type RunningService,
} from '../../extracted-services/index.js';
import {
  createLegacyDatabase,
  migrateLegacyDatabase,
  seedLegacyDatabase,
} from '../../legacy-monolith/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  waitUntil,
  type CdcDatabase,
  type TestConnector,
} from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let source: CdcDatabase;
let monolithDb: Knex;
let cdc: TestConnector;
let serviceDatabase: TestDatabase;
let serviceDb: Knex;
let service: RunningService | undefined;
const sink = createEmbeddedSink();

beforeAll(async () => {
  source = await createCdcDatabase();
  monolithDb = createLegacyDatabase(source.url);
  await migrateLegacyDatabase(monolithDb);
  await seedLegacyDatabase(monolithDb);
  cdc = await startTestConnector(source.url, {
    sink,
    snapshotMode: 'never',
    signalTable: 'public.ficus_signal',
    incrementalSnapshotChunkSize: 200,
  });
  serviceDatabase = await createTestDatabase('embeddedbackfill');
  serviceDb = knex({ client: 'pg', connection: serviceDatabase.url, pool: { min: 0, max: 2 } });
});

afterAll(async () => {
  await service?.close();
  await cdc?.stop();
  await serviceDb?.destroy();
  await monolithDb?.destroy();
  await serviceDatabase?.drop();
  await source?.cleanup();
});

it('a service subscribing after 10,000 changes catches up from an incremental snapshot, writes going on', async () => {
  const before = cdc.connector.status().totalEvents;
  for (let round = 0; round < 40; round++)
    await monolithDb('products').update({ stock: monolithDb.raw('stock + 1') });
  await waitUntil(() => cdc.connector.status().totalEvents >= before + 12_000, 60_000);

  service = await startExtractedService({
    definition: CATALOG_DEFINITION,
    databaseUrl: serviceDatabase.url,
    port: 0,
    source: createEmbeddedSource({ sink }),
  });
  expect(await service.service.carried.progress('catalog')).toBeNull();

  const started = Date.now();
  await cdc.connector.requestSnapshot(CATALOG_DEFINITION.sourceTables);
  // The monolith keeps changing while the snapshot runs: updates, inserts and deletes.
  let writes = 0;
  const writer = (async () => {
    while (Date.now() - started < 3_000) {
      const id = 1 + (writes % 300);
      await monolithDb('products')
        .where({ id })
        .update({ name: `During the backfill ${writes}` });
      await monolithDb('reviews').insert({
        product_id: id,
        member_id: 1 + (writes % 40),
        rating: 1 + (writes % 5),
        title: 'Written during the backfill',
        body: 'While the snapshot ran.',
      });
      await monolithDb('reviews')
        .where('id', '<=', writes + 1)
        .andWhere('id', '>', writes)
        .del();
      writes++;
    }
  })();
  await writer;
  const { mappings } = CATALOG_DEFINITION.create({ db: serviceDb });
  let last = '';
  await waitUntil(
    async () => {
      const result = await reconcile({
        db: serviceDb,
        sourceDb: monolithDb,
        mappings,
        settleMs: 0,
      });
      last = JSON.stringify(result.tables.map((t) => [t.table, t.missing, t.extra, t.different]));
      return result.inSync;
    },
    60_000,
    () => last,
  );
  expect(writes).toBeGreaterThan(10);
  console.log(
    `embedded backfill: in sync ${Date.now() - started} ms after the snapshot was asked for, with ${writes} rounds of writes during it`,
  );
}, 180_000);
