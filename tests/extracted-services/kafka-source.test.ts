/**
 * Services consuming the CDC topics from a real Kafka broker: a service started after 10,000
 * changes backfills from the start of the topics to an identical copy; a second consumer group
 * replaying every topic from the start into the same database changes nothing; and a service
 * process killed mid catch-up (SIGKILL) resumes to an identical copy.
 */
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSink } from '../../cdc/index.js';
import {
  CATALOG_DEFINITION,
  createKafkaSource,
  NOTIFICATIONS_DEFINITION,
  reconcile,
  startExtractedService,
  type Reconciliation,
  type RunningService,
} from '../../extracted-services/index.js';
import {
  createLegacyApp,
  createLegacyDatabase,
  migrateLegacyDatabase,
  seedLegacyDatabase,
} from '../../legacy-monolith/index.js';
import request from 'supertest';
import {
  createCdcDatabase,
  startTestConnector,
  waitUntil,
  type CdcDatabase,
  type TestConnector,
} from '../cdc/harness.js';
import { spawnFicus } from '../support/cli.js';
import { kafkaBrokers, kafkaSkipReason, uniqueName } from '../support/kafka.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const brokers = kafkaBrokers();
const CHANGES = 10_000;

let source: CdcDatabase;
let monolithDb: Knex;
let cdc: TestConnector;
let topicPrefix: string;
const opened: { drop(): Promise<void> }[] = [];
const running: RunningService[] = [];

async function serviceDatabase(): Promise<{ url: string; db: Knex }> {
  const database: TestDatabase = await createTestDatabase('kafkasvc');
  const db = knex({ client: 'pg', connection: database.url, pool: { min: 0, max: 2 } });
  opened.push({ drop: async () => (await db.destroy(), await database.drop()) });
  return { url: database.url, db };
}

function topics(definition = CATALOG_DEFINITION): string[] {
  return definition.sourceTables.map((table) => `${topicPrefix}.${table}`);
}

async function compare(db: Knex, settleMs = 0): Promise<Reconciliation> {
  const { mappings } = CATALOG_DEFINITION.create({ db });
  return reconcile({ db, sourceDb: monolithDb, mappings, settleMs });
}

/** Waits until the copy equals the source (settle 0: every row, right now). */
async function waitInSync(db: Knex, timeoutMs: number): Promise<void> {
  let last: Reconciliation | undefined;
  await waitUntil(
    async () => (last = await compare(db)).inSync,
    timeoutMs,
    () =>
      JSON.stringify(
        last?.tables.map((t) => ({ t: t.table, m: t.missing, e: t.extra, d: t.different })),
      ),
  );
}

/** 10,000 row changes in 100 transactions: updates, inserts and deletes over the catalog tables. */
async function makeChanges(): Promise<void> {
  let made = 0;
  for (let tx = 0; made < CHANGES; tx++) {
    await monolithDb.transaction(async (trx) => {
      const round = tx % 4;
      if (round === 0) {
        made += Number(await trx('products').update({ stock: trx.raw('stock + 1') }));
      } else if (round === 1) {
        const reviews = Array.from({ length: 60 }, (_, i) => ({
          product_id: ((tx * 7 + i) % 300) + 1,
          member_id: ((tx + i) % 40) + 1,
          rating: (i % 5) + 1,
          title: `Backfill review ${tx}-${i}`,
          body: 'Written while no service was listening.',
        }));
        await trx('reviews').insert(reviews);
        made += reviews.length;
      } else if (round === 2) {
        made += Number(
          await trx('reviews')
            .whereIn('id', trx('reviews').select('id').orderBy('id', 'desc').limit(25))
            .del(),
        );
      } else {
        made += Number(
          await trx('products')
            .where('id', '<=', 100)
            .update({ price: trx.raw('price + 0.01'), updated_at: trx.fn.now() }),
        );
        made += Number(await trx('categories').update({ name: trx.raw(`name || '.'`) }));
      }
    });
  }
}

describe.skipIf(!brokers)(
  `services on the Kafka source${brokers ? '' : ` (skipped: ${kafkaSkipReason()})`}`,
  () => {
    beforeAll(async () => {
      source = await createCdcDatabase();
      monolithDb = createLegacyDatabase(source.url);
      await migrateLegacyDatabase(monolithDb);
      await seedLegacyDatabase(monolithDb);
      topicPrefix = uniqueName('svc').replace('-', '_');
      cdc = await startTestConnector(source.url, {
        topicPrefix,
        tableIncludeList: [
          ...CATALOG_DEFINITION.sourceTables,
          ...NOTIFICATIONS_DEFINITION.sourceTables,
        ].map((t) => `^${t.replace('.', '\\.')}$`),
        sink: createKafkaSink({ brokers: brokers! }),
      });
      const before = cdc.connector.status().totalEvents;
      await makeChanges();
      await waitUntil(() => cdc.connector.status().totalEvents >= before + CHANGES, 60_000);
    }, 180_000);

    afterAll(async () => {
      for (const service of running) await service.close();
      await cdc?.stop();
      for (const database of opened) await database.drop();
      await monolithDb?.destroy();
      await source?.cleanup();
    });

    it('a service started after 10,000 changes backfills from the start of the topics to an identical copy', async () => {
      const { url, db } = await serviceDatabase();
      const started = Date.now();
      const service = await startExtractedService({
        definition: CATALOG_DEFINITION,
        databaseUrl: url,
        port: 0,
        source: createKafkaSource({
          brokers: brokers!,
          topics: topics(),
          groupId: uniqueName('g'),
        }),
      });
      running.push(service);
      await waitInSync(db, 90_000);
      const caughtUpMs = Date.now() - started;
      const status = await service.status();
      expect(status.source).toMatchObject({ kind: 'kafka', state: 'running' });
      expect(status.lag.eventsApplied).toBeGreaterThan(CHANGES);
      console.log(
        `backfill: ${status.lag.eventsApplied} events applied, in sync after ${caughtUpMs} ms`,
      );

      // Still following: a change after the backfill arrives too.
      await monolithDb('products').where({ id: 1 }).update({ name: 'After the backfill' });
      await waitUntil(
        async () =>
          (await db('products').where({ id: 1 }).first<{ name: string }>('name')).name ===
          'After the backfill',
        30_000,
      );

      // Every event a second time, from a second group replaying every topic into the same copy.
      const applied = service.service.carried.lag().eventsApplied;
      const replay = await startExtractedService({
        definition: CATALOG_DEFINITION,
        databaseUrl: url,
        port: 0,
        source: createKafkaSource({
          brokers: brokers!,
          topics: topics(),
          groupId: uniqueName('replay'),
        }),
      });
      running.push(replay);
      await waitUntil(async () => {
        const s = await replay.status();
        return (s.source?.details.consumed as number) >= applied && s.source?.eventsBehind === 0;
      }, 90_000);
      expect(replay.service.carried.lag().eventsApplied).toBe(0);
      expect((await compare(db)).inSync).toBe(true);
    }, 240_000);

    it('a new, empty database under a group that has consumed before is still backfilled', async () => {
      const groupId = uniqueName('reused');
      const first = await serviceDatabase();
      const before = await startExtractedService({
        definition: CATALOG_DEFINITION,
        databaseUrl: first.url,
        port: 0,
        source: createKafkaSource({ brokers: brokers!, topics: topics(), groupId }),
      });
      await waitInSync(first.db, 90_000);
      await before.close();

      // The same group, committed to the end of every topic, on a database that holds nothing.
      const second = await serviceDatabase();
      const after = await startExtractedService({
        definition: CATALOG_DEFINITION,
        databaseUrl: second.url,
        port: 0,
        source: createKafkaSource({ brokers: brokers!, topics: topics(), groupId }),
      });
      running.push(after);
      await waitInSync(second.db, 90_000);
    }, 240_000);

    it('a service process killed mid catch-up resumes to an identical copy', async () => {
      const { url, db } = await serviceDatabase();
      const args = [
        'service',
        'catalog',
        '--database-url',
        url,
        '--kafka-brokers',
        brokers!.join(','),
        '--topic-prefix',
        topicPrefix,
        '--group-id',
        uniqueName('crash'),
        '--port',
        '0',
      ];
      const first = spawnFicus(args);
      try {
        await first.waitFor(/catalog service listening/);
        await waitUntil(
          async () =>
            Number((await db('carried_positions').count({ n: '*' }).first<{ n: string }>())?.n) > 0,
          60_000,
        );
      } finally {
        first.child.kill('SIGKILL');
      }
      expect(await first.exited).toBe('SIGKILL');
      const partial = await compare(db);

      const second = spawnFicus(args);
      try {
        await second.waitFor(/catalog service listening/);
        await waitInSync(db, 90_000);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
      console.log(
        `crash: copy after SIGKILL had ${partial.tables.map((t) => `${t.table} ${t.carriedRows}/${t.sourceRows}`).join(', ')}; resumed to in sync`,
      );
    }, 240_000);

    it('notifies each order once when a second consumer group replays every topic into the same service', async () => {
      const { url, db } = await serviceDatabase();
      const started = await startExtractedService({
        definition: NOTIFICATIONS_DEFINITION,
        databaseUrl: url,
        port: 0,
        source: createKafkaSource({
          brokers: brokers!,
          topics: topics(NOTIFICATIONS_DEFINITION),
          groupId: uniqueName('notify'),
        }),
      });
      running.push(started);
      const monolith = createLegacyApp({ db: monolithDb });
      const buyers = await monolithDb('members')
        .orderBy('balance', 'desc')
        .limit(5)
        .pluck<number[]>('id');
      const [cheapest] = await monolithDb('products')
        .where('stock', '>', 10)
        .orderBy('price')
        .limit(1)
        .pluck<number[]>('id');
      const orders: number[] = [];
      for (const memberId of buyers) {
        const res = await request(monolith)
          .post('/orders')
          .send({ memberId, items: [{ productId: cheapest!, quantity: 1 }] });
        expect(res.status, res.text).toBe(201);
        orders.push((res.body as { id: number }).id);
      }
      const sent = async () =>
        db('notifications')
          .select<{ kind: string; order_id: number }[]>('kind', 'order_id')
          .orderBy(['order_id', 'kind']);
      const expected = orders.flatMap((id) => [
        { kind: 'order-paid', order_id: id },
        { kind: 'order-placed', order_id: id },
      ]);
      await waitUntil(async () => (await sent()).length >= expected.length, 60_000);
      expect(await sent()).toEqual(expected);

      const replay = await startExtractedService({
        definition: NOTIFICATIONS_DEFINITION,
        databaseUrl: url,
        port: 0,
        source: createKafkaSource({
          brokers: brokers!,
          topics: topics(NOTIFICATIONS_DEFINITION),
          groupId: uniqueName('notify-replay'),
        }),
      });
      running.push(replay);
      const published = started.service.carried.lag().eventsApplied;
      await waitUntil(async () => {
        const s = await replay.status();
        return (s.source?.details.consumed as number) >= published && s.source?.eventsBehind === 0;
      }, 60_000);
      expect(replay.service.carried.lag().eventsApplied).toBe(0);
      expect(await sent()).toEqual(expected);
      const { mappings } = NOTIFICATIONS_DEFINITION.create({ db });
      expect((await reconcile({ db, sourceDb: monolithDb, mappings, settleMs: 0 })).inSync).toBe(
        true,
      );
    }, 180_000);
  },
);
