/**
 * ficus's events against Debezium's own consumer: `ficus cdc` streams the reference monolith's 8
 * tables to Kafka as Connect JSON with schemas (precise decimals), and Debezium's JDBC sink
 * connector (3.6.0.Final, in a real Kafka Connect standalone worker) rebuilds them in a second
 * database, through the initial snapshot, inserts, updates, a primary-key change, deletes with
 * tombstones, and a crash of ficus that redelivers what it had not confirmed. Then every table
 * must equal the source: the same columns with the same types (numeric as numeric), the same
 * rows.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLegacyDatabase,
  LEGACY_TABLES,
  migrateLegacyDatabase,
  seedLegacyDatabase,
} from '../../legacy-monolith/index.js';
import { createCdcDatabase, waitUntil, type CdcDatabase } from '../cdc/harness.js';
import { spawnFicus, type FicusProcess } from '../support/cli.js';
import { kafkaBrokers, kafkaSkipReason, testKafka, uniqueName } from '../support/kafka.js';
import {
  checkKafkaConnectPrerequisites,
  jdbcConnectionOf,
  startKafkaConnect,
  type KafkaConnect,
} from '../support/kafka-connect.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const brokers = kafkaBrokers();
const connectCheck = await checkKafkaConnectPrerequisites();
if (!connectCheck.ok && process.env.CI) {
  throw new Error(
    `The JDBC sink test must run in CI, but Kafka Connect cannot start: ${connectCheck.missing}`,
  );
}
const skipReason = !brokers ? kafkaSkipReason() : connectCheck.ok ? '' : connectCheck.missing;

/** The monolith's tables without their schema: the sink names its tables `${source.table}`. */
const TABLES = LEGACY_TABLES.map((table) => table.replace(/^public\./, ''));
const NUMERIC_COLUMNS = [
  'products.price',
  'members.balance',
  'orders.total',
  'order_items.unit_price',
  'payments.amount',
];

let source: CdcDatabase;
let target: TestDatabase;
let targetClient: pg.Client;
let monolithDb: Knex;
let connect: KafkaConnect | undefined;
let workDir: string;
let topicPrefix: string;
let ficus: FicusProcess | undefined;
const sinkName = uniqueName('jdbc-sink');
const timings: Record<string, number> = {};

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  try {
    return await work();
  } finally {
    timings[label] = Math.round(performance.now() - startedAt);
  }
}

/** `ficus cdc` on the source, to Kafka, with schemas and precise decimals (its config file). */
function startFicus(): FicusProcess {
  return spawnFicus(['cdc', '--config', path.join(workDir, 'cdc.yaml')], {
    FICUS_LOG_LEVEL: 'info',
  });
}

async function writeFicusConfig(): Promise<void> {
  const slot = `jdbc_sink_${process.pid}`;
  const config = {
    databaseUrl: source.url,
    slotName: slot,
    publicationName: slot,
    topicPrefix,
    tableIncludeList: LEGACY_TABLES.map((table) => `^${table.replace('.', '\\.')}$`),
    sink: 'kafka',
    kafkaBrokers: brokers!.join(','),
    statusPort: 0,
    offsetsFile: path.join(workDir, 'offsets.json'),
    signalTable: 'none',
    decimalHandlingMode: 'precise',
    // Nothing confirms a position while the test runs (no heartbeats, no prompt confirmation,
    // no periodic status report within the test), so a SIGKILLed ficus starts again from the
    // slot's position after the snapshot and sends every streamed change a second time.
    heartbeatIntervalMs: 0,
    flushConfirmIntervalMs: 0,
    statusIntervalMs: 600_000,
    ...SCHEMAS_OPTION,
  };
  await writeFile(path.join(workDir, 'cdc.yaml'), JSON.stringify(config, null, 2)); // JSON is YAML
}

/** Kafka Connect's JSON with schemas (`JsonConverter`, `schemas.enable=true`): what the sink reads. */
const SCHEMAS_OPTION = { schemasEnable: true };

/** The sink's configuration: upserts by record key, deletes, tables created from the schemas. */
function sinkConfig(): Record<string, string> {
  return {
    'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
    'tasks.max': '1',
    ...jdbcConnectionOf(target.url),
    'insert.mode': 'upsert',
    'delete.enabled': 'true',
    'primary.key.mode': 'record_key',
    'schema.evolution': 'basic',
    'topics.regex': `${topicPrefix.replaceAll('.', '\\.')}\\.public\\..+`,
    'collection.name.format': '${source.table}',
    'use.time.zone': 'UTC',
  };
}

interface TableDifference {
  table: string;
  sourceRows: number;
  targetRows: number;
  missing: number;
  extra: number;
}

/** Column names of a table, sorted, from information_schema; empty when it does not exist. */
async function columnsOf(client: pg.Client, table: string): Promise<Map<string, string>> {
  const { rows } = await client.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1 ORDER BY column_name`,
    [table],
  );
  return new Map(rows.map((row) => [row.column_name, row.data_type]));
}

/** md5 of each row's text, its columns taken by name in sorted order, sorted. */
async function rowHashes(client: pg.Client, table: string, columns: string[]): Promise<string[]> {
  const list = columns.map((column) => `"${column}"`).join(', ');
  const { rows } = await client.query<{ h: string }>(
    `SELECT md5(ROW(${list})::text) AS h FROM "${table}" ORDER BY 1`,
  );
  return rows.map((row) => row.h);
}

/** Every table whose rows differ between source and target (by count and row hashes). */
async function differences(): Promise<TableDifference[]> {
  const found: TableDifference[] = [];
  for (const table of TABLES) {
    const columns = [...(await columnsOf(source.client, table)).keys()];
    const targetColumns = await columnsOf(targetClient, table);
    const ours = await rowHashes(source.client, table, columns);
    const theirs = columns.every((column) => targetColumns.has(column))
      ? await rowHashes(targetClient, table, columns)
      : [];
    const theirSet = new Set(theirs);
    const ourSet = new Set(ours);
    const missing = ours.filter((hash) => !theirSet.has(hash)).length;
    const extra = theirs.filter((hash) => !ourSet.has(hash)).length;
    if (missing > 0 || extra > 0 || ours.length !== theirs.length) {
      found.push({ table, sourceRows: ours.length, targetRows: theirs.length, missing, extra });
    }
  }
  return found;
}

/**
 * True when the sink has consumed every record of every topic: its consumer group
 * (`connect-<name>`) has committed the end offset of each partition. Connect commits only
 * offsets of records the task has written.
 */
async function sinkCaughtUp(): Promise<boolean> {
  const admin = testKafka(brokers!).admin();
  await admin.connect();
  try {
    const topics = TABLES.map((table) => `${topicPrefix}.public.${table}`);
    const committed = await admin.fetchOffsets({ groupId: `connect-${sinkName}`, topics });
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const done = committed.find((entry) => entry.topic === topic)?.partitions ?? [];
      for (const end of ends) {
        const at = done.find((p) => p.partition === end.partition)?.offset ?? '-1';
        if (end.high !== '0' && at !== end.high) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until the sink has consumed everything and the target equals the source, failing at once
 * with the task's trace if the sink connector fails.
 */
async function waitUntilRebuilt(timeoutMs: number): Promise<void> {
  let last: TableDifference[] | string = 'not compared yet';
  await waitUntil(
    async () => {
      await connect!.assertHealthy(sinkName);
      if (!(await sinkCaughtUp())) {
        last = 'the sink has not consumed every record yet';
        return false;
      }
      last = await differences();
      return last.length === 0;
    },
    timeoutMs,
    () =>
      `${JSON.stringify(last)}\nlast worker lines:\n${connect!.logTail().slice(-15).join('\n')}`,
  );
}

/** Every record of a topic, from the beginning to its current end. */
async function readTopic(topic: string): Promise<{ key: string | null; value: string | null }[]> {
  const kafka = testKafka(brokers!);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const records: { key: string | null; value: string | null }[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('jdbc-sink-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      records.push({
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
      });
      return Promise.resolve();
    },
  });
  try {
    await waitUntil(
      () => records.length >= total,
      20_000,
      () => `${records.length}/${total} records of ${topic}`,
    );
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** op, key and source position of a change event ('' for a tombstone): what a redelivery repeats. */
function changeIdentity(record: { key: string | null; value: string | null }): string {
  if (record.value === null) return '';
  const value = JSON.parse(record.value) as Record<string, unknown>;
  const event = ('payload' in value ? value.payload : value) as {
    op: string;
    source: { lsn: number; sequence: string };
  };
  return `${event.op}|${record.key}|${event.source.lsn}|${event.source.sequence}`;
}

async function stopFicus(signal: NodeJS.Signals): Promise<void> {
  const running = ficus;
  ficus = undefined;
  if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill(signal);
  await running.exited;
}

/** Waits until no process streams from the connector's slot (a killed walsender takes a moment). */
async function waitForSlotInactive(): Promise<void> {
  await waitUntil(async () => {
    const { rows } = await source.sql(
      'SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = current_database() AND active',
    );
    return (rows[0] as { n: number }).n === 0;
  }, 15_000);
}

describe.skipIf(skipReason !== '')(
  `Debezium's JDBC sink rebuilds the monolith from ficus's events${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    beforeAll(async () => {
      workDir = await mkdtemp(path.join(tmpdir(), 'ficus-jdbc-sink-'));
      topicPrefix = uniqueName('jdbc').replace('-', '_');
      const startConnect = timed('connect start (incl. jar check)', () =>
        startKafkaConnect({
          brokers: brokers!,
          logger: process.env.FICUS_TEST_VERBOSE
            ? (line) => process.stderr.write(`${line}\n`)
            : undefined,
        }),
      );
      const prepare = timed('databases + seed', async () => {
        source = await createCdcDatabase();
        target = await createTestDatabase('jdbc_target');
        targetClient = new pg.Client({ connectionString: target.url });
        await targetClient.connect();
        monolithDb = createLegacyDatabase(source.url);
        await migrateLegacyDatabase(monolithDb);
        await seedLegacyDatabase(monolithDb);
      });
      const [started] = await Promise.allSettled([startConnect, prepare]);
      if (started.status === 'fulfilled') connect = started.value;
      await Promise.all([startConnect, prepare]);
      timings['connect JVM to REST'] = connect!.startedInMs;
      await writeFicusConfig();
    }, 240_000);

    afterAll(async () => {
      await stopFicus('SIGTERM');
      if (connect) await connect.deleteConnector(sinkName).catch(() => undefined);
      await connect?.stop();
      await targetClient?.end();
      await monolithDb?.destroy();
      await target?.drop();
      await source?.cleanup();
      if (workDir) await rm(workDir, { recursive: true, force: true });
      console.log(`jdbc-sink timings (ms): ${JSON.stringify(timings)}`);
    });

    it('through the snapshot, inserts, updates, a key change, deletes and a redelivery, the target equals the source', async () => {
      const testStarted = performance.now();
      ficus = startFicus();
      await ficus.waitFor(/streaming started/, 60_000);
      await connect!.putConnector(sinkName, sinkConfig());
      await timed('sink task running', () => connect!.waitUntilRunning(sinkName, 60_000));
      await timed('snapshot rebuilt', () => waitUntilRebuilt(60_000));

      // Numeric columns are numeric there, as in the source (`decimalHandlingMode: precise`
      // gives Connect's Decimal type; strings would make them text). Every column has the
      // source's type.
      for (const table of TABLES) {
        const ours = await columnsOf(source.client, table);
        const theirs = await columnsOf(targetClient, table);
        expect({ table, columns: Object.fromEntries(theirs) }).toEqual({
          table,
          columns: Object.fromEntries(ours),
        });
      }
      for (const column of NUMERIC_COLUMNS) {
        const [table, name] = column.split('.') as [string, string];
        expect((await columnsOf(targetClient, table)).get(name), column).toBe('numeric');
      }

      // Inserts, updates, a primary-key change (reviews.id, which nothing references, and a
      // wishlist entry's composite key), deletes (each followed by a tombstone).
      await timed('changes rebuilt', async () => {
        await monolithDb.transaction(async (trx) => {
          await trx('categories').insert({ id: 100, slug: 'jdbc-sink', name: 'JDBC sink' });
          await trx('products').insert({
            id: 10_001,
            sku: 'JDBC-0001',
            name: 'Sink-proof desk',
            description: 'Rebuilt by Debezium',
            category_id: 100,
            price: '123456.78',
            stock: 3,
          });
          await trx('reviews').insert({
            product_id: 10_001,
            member_id: 1,
            rating: 5,
            title: 'Exactly the same',
            body: 'ünïcödé, "quotes", and a\nnewline',
          });
        });
        await monolithDb('products')
          .where('id', '<=', 20)
          .update({ price: monolithDb.raw('price + 0.01'), updated_at: monolithDb.fn.now() });
        await monolithDb('members').where({ id: 2 }).update({ balance: '0.00', name: 'Zero' });
        await monolithDb.raw('UPDATE reviews SET id = id + 500000 WHERE id IN (1, 2, 3)');
        const wish = await monolithDb('wishlist_items').first<{
          member_id: number;
          product_id: number;
        }>('member_id', 'product_id');
        await monolithDb('wishlist_items').where(wish).update({ product_id: 10_001 });
        await monolithDb('reviews').whereIn('id', [10, 11, 12]).del();
        await monolithDb('wishlist_items').where('member_id', 3).del();
        await waitUntilRebuilt(60_000);
      });

      // A crash: ficus is SIGKILLed having confirmed nothing since its snapshot, changes go on,
      // and the restarted ficus sends every streamed change again before the new ones.
      const reviewsTopic = `${topicPrefix}.public.reviews`;
      const beforeCrash = await readTopic(reviewsTopic);
      await stopFicus('SIGKILL');
      await monolithDb('reviews').where({ id: 20 }).update({ title: 'Changed during the crash' });
      await monolithDb('orders').where({ id: 1 }).update({ status: 'cancelled' });
      await waitForSlotInactive();
      await timed('redelivery rebuilt', async () => {
        ficus = startFicus();
        await ficus.waitFor(/streaming started/, 60_000);
        // A change after the restart: once it is in the target, everything before it is in Kafka.
        await monolithDb('categories').where({ id: 100 }).update({ name: 'After the crash' });
        await waitUntil(async () => {
          await connect!.assertHealthy(sinkName);
          const { rows } = await targetClient.query<{ name: string }>(
            'SELECT name FROM categories WHERE id = 100',
          );
          return rows[0]?.name === 'After the crash';
        }, 60_000);
        await waitUntilRebuilt(60_000);
      });

      // The redelivery did happen: every change streamed before the crash is in the topic twice
      // (same key, op and source position; only the envelope's ts_ms differs).
      const afterCrash = await readTopic(reviewsTopic);
      const streamedBefore = beforeCrash
        .map(changeIdentity)
        .filter((id) => id && !id.startsWith('r|'));
      const resent = new Set(afterCrash.slice(beforeCrash.length).map(changeIdentity));
      expect(streamedBefore.length).toBeGreaterThan(0);
      expect(streamedBefore.filter((id) => !resent.has(id))).toEqual([]);

      expect(await differences()).toEqual([]);
      timings.test = Math.round(performance.now() - testStarted);
    }, 300_000);
  },
);
