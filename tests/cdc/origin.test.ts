/**
 * Replication origins: every record of a transaction written under a session origin carries the
 * `ficus.origin` header (tombstones, key-change records and truncates too); ordinary
 * transactions carry none. Through the embedded sink and through Kafka.
 *
 * Reference: https://www.postgresql.org/docs/current/replication-origins.html
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKafkaSink,
  isChangeEventValue,
  ORIGIN_HEADER,
  recordOrigin,
  type ChangeRecord,
} from '../../cdc/index.js';
import { kafkaBrokers, kafkaSkipReason, testKafka, uniqueName } from '../support/kafka.js';
import { waitForTopics } from './delivery.js';
import { createCdcDatabase, startTestConnector, waitUntil, type CdcDatabase } from './harness.js';

const brokers = kafkaBrokers();
let db: CdcDatabase;
/** A second session, writing under a replication origin (origins are cluster-wide: unique name). */
let writer: pg.Client;
const origin = `reviews_${process.pid}_${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  db = await createCdcDatabase();
  await db.sql('SELECT pg_replication_origin_create($1)', [origin]);
  writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
  await writer.query('SELECT pg_replication_origin_session_setup($1)', [origin]);
});

afterAll(async () => {
  await writer.query('SELECT pg_replication_origin_session_reset()');
  await writer.end();
  await db.sql('SELECT pg_replication_origin_drop($1)', [origin]);
  await db.cleanup();
});

/** One transaction under the origin: insert, update, key change, delete, then an ordinary insert. */
async function writeBothKinds(table: string): Promise<void> {
  await writer.query('BEGIN');
  await writer.query(`INSERT INTO ${table} VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
  await writer.query(`UPDATE ${table} SET body = 'uno' WHERE id = 1`);
  await writer.query(`UPDATE ${table} SET id = 20 WHERE id = 2`);
  await writer.query(`DELETE FROM ${table} WHERE id = 3`);
  await writer.query('COMMIT');
  await db.sql(`INSERT INTO ${table} VALUES (4, 'four')`);
  await db.sql(`UPDATE ${table} SET body = 'cuatro' WHERE id = 4`);
}

/** The records of the origin's transaction and of the ordinary ones, told apart by their keys. */
const fromOrigin = (key: string | null) => key !== null && !key.includes('"id":4');

describe('replication origins', () => {
  it('tags every record of a transaction written under an origin, and nothing else', async () => {
    await db.sql('CREATE TABLE origin_notes (id int PRIMARY KEY, body text)');
    const cdc = await startTestConnector(db.url, { tableIncludeList: ['public.origin_notes'] });
    try {
      await writeBothKinds('origin_notes');
      await writer.query('TRUNCATE origin_notes');
      await cdc.waitFor((records) =>
        records.some((r) => isChangeEventValue(r.value) && r.value.op === 't'),
      );
      const records = cdc.records.filter((r) => r.topic === 'test.public.origin_notes');
      const keyOf = (r: ChangeRecord) => (r.key === null ? null : JSON.stringify(r.key));
      const tagged = records.filter((r) => keyOf(r) === null || fromOrigin(keyOf(r)));
      const ordinary = records.filter((r) => keyOf(r) !== null && !fromOrigin(keyOf(r)));

      // 3 creates, 1 update, key change (delete + tombstone + create), delete + tombstone, truncate.
      expect(tagged.map((r) => (isChangeEventValue(r.value) ? r.value.op : null))).toEqual([
        'c',
        'c',
        'c',
        'u',
        'd',
        null,
        'c',
        'd',
        null,
        't',
      ]);
      for (const record of tagged) expect(recordOrigin(record)).toBe(origin);
      // The origin header sits beside the key-change headers, not instead of them.
      expect(tagged[4]?.headers).toEqual({
        '__debezium.newkey': '{"id":20}',
        [ORIGIN_HEADER]: origin,
      });
      expect(tagged[6]?.headers).toEqual({
        '__debezium.oldkey': '{"id":2}',
        [ORIGIN_HEADER]: origin,
      });

      expect(ordinary).toHaveLength(2);
      for (const record of ordinary) {
        expect(recordOrigin(record)).toBeUndefined();
        expect(record.headers).toBeUndefined();
      }
    } finally {
      await cdc.stop();
    }
  }, 30_000);
});

describe.skipIf(!brokers)(
  `replication origins through Kafka${brokers ? '' : ` (skipped: ${kafkaSkipReason()})`}`,
  () => {
    it('writes the origin as a Kafka header', async () => {
      const prefix = uniqueName('origin');
      await db.sql('CREATE TABLE origin_kafka (id int PRIMARY KEY, body text)');
      const cdc = await startTestConnector(db.url, {
        tableIncludeList: ['public.origin_kafka'],
        topicPrefix: prefix,
        sink: createKafkaSink({ brokers: brokers! }),
      });
      const kafka = testKafka(brokers!);
      const consumer = kafka.consumer({ groupId: uniqueName('origin-reader') });
      try {
        await writeBothKinds('origin_kafka');
        // 3 creates, update, key change (delete + tombstone + create), delete + tombstone, 2 ordinary.
        await waitUntil(() => cdc.connector.status().totalEvents === 9, 20_000);
        const topic = `${prefix}.public.origin_kafka`;
        await waitForTopics(kafka, [topic]);
        const messages: { key: string | null; headers: Record<string, string> }[] = [];
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: ({ message }) => {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(message.headers ?? {}))
              headers[name] = String(value);
            messages.push({ key: message.key?.toString() ?? null, headers });
            return Promise.resolve();
          },
        });
        await waitUntil(
          () => messages.length >= 11,
          20_000,
          () => `${messages.length} messages`,
        );
        expect(messages).toHaveLength(11);
        const tagged = messages.filter((m) => fromOrigin(m.key));
        expect(tagged).toHaveLength(9);
        for (const message of tagged) expect(message.headers[ORIGIN_HEADER]).toBe(origin);
        const ordinary = messages.filter((m) => !fromOrigin(m.key));
        expect(ordinary).toHaveLength(2);
        for (const message of ordinary) expect(message.headers).toEqual({});
      } finally {
        await consumer.disconnect();
        await cdc.stop();
      }
    }, 60_000);
  },
);
