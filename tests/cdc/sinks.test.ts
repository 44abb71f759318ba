/**
 * The sinks: Kafka (real broker: keys, partitions, tombstones, headers, topic creation) and stdout
 * (through the real `ficus cdc` command, with its status endpoint).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createKafkaSink, createStdoutSink } from '../../cdc/index.js';
import { spawnFicus } from '../support/cli.js';
import { kafkaBrokers, kafkaSkipReason, testKafka, uniqueName } from '../support/kafka.js';
import { waitForTopics } from './delivery.js';
import { createCdcDatabase, startTestConnector, waitUntil, type CdcDatabase } from './harness.js';

const brokers = kafkaBrokers();
let db: CdcDatabase;
beforeAll(async () => {
  db = await createCdcDatabase();
});
afterAll(() => db.cleanup());

interface KafkaMessage {
  partition: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

describe.skipIf(!brokers)(
  `the Kafka sink${brokers ? '' : ` (skipped: ${kafkaSkipReason()})`}`,
  () => {
    it('creates the topic with the configured partitions, keys by primary key, keeps tombstones and headers', async () => {
      const prefix = uniqueName('sink');
      await db.sql('CREATE TABLE accounts (id int PRIMARY KEY, owner text)');
      const cdc = await startTestConnector(db.url, {
        tableIncludeList: ['public.accounts'],
        topicPrefix: prefix,
        sink: createKafkaSink({ brokers: brokers!, partitions: 3 }),
      });
      for (let id = 1; id <= 30; id++)
        await db.sql('INSERT INTO accounts VALUES ($1, $2)', [id, `owner ${id}`]);
      await db.sql("UPDATE accounts SET owner = 'changed' WHERE id <= 10");
      await db.sql('UPDATE accounts SET id = 100 WHERE id = 30');
      await db.sql('DELETE FROM accounts WHERE id = 29');

      // 30 creates, 10 updates, a key change (delete + create) and a delete, all in Kafka.
      await waitUntil(() => cdc.connector.status().totalEvents === 43, 20_000);
      const topic = `${prefix}.public.accounts`;
      const kafka = testKafka(brokers!);
      await waitForTopics(kafka, [topic]);
      const admin = kafka.admin();
      await admin.connect();
      const messages: KafkaMessage[] = [];
      const consumer = kafka.consumer({ groupId: uniqueName('sink-reader') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {}))
            headers[name] = String(value);
          messages.push({
            partition,
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            headers,
          });
          return Promise.resolve();
        },
      });
      // 30 creates, 10 updates, primary-key change (delete, tombstone, create), delete + tombstone.
      await waitUntil(
        () => messages.length >= 45,
        20_000,
        () => `${messages.length} messages`,
      );
      await consumer.disconnect();
      await cdc.stop();

      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      await admin.disconnect();
      expect(metadata.topics[0]?.partitions).toHaveLength(3);

      expect(messages).toHaveLength(45);
      // Every record of one key lands in one partition, and keys spread over partitions.
      const partitionOf = new Map<string, number>();
      for (const message of messages) {
        expect(message.key).not.toBeNull();
        const seen = partitionOf.get(message.key!);
        if (seen !== undefined) expect(message.partition).toBe(seen);
        partitionOf.set(message.key!, message.partition);
      }
      expect(new Set(partitionOf.values()).size).toBe(3);
      expect(
        messages.find((m) => m.key === '{"id":1}' && m.value?.includes('"op":"u"')),
      ).toBeDefined();

      const forOld = messages.filter((m) => m.key === '{"id":30}');
      expect(
        forOld.map((m) => (m.value === null ? null : (JSON.parse(m.value) as { op: string }).op)),
      ).toEqual(['c', 'd', null]);
      expect(forOld[1]?.headers).toEqual({ '__debezium.newkey': '{"id":100}' });
      expect(forOld[2]?.headers).toEqual({ '__debezium.newkey': '{"id":100}' });
      const forNew = messages.filter((m) => m.key === '{"id":100}');
      expect(forNew).toHaveLength(1);
      expect(forNew[0]?.headers).toEqual({ '__debezium.oldkey': '{"id":30}' });

      const deleted = messages.filter((m) => m.key === '{"id":29}');
      expect(deleted.map((m) => m.value === null)).toEqual([false, false, true]);
    }, 60_000);
  },
);

describe('the stdout sink whose reader goes away (ficus cdc | head)', () => {
  it('refuses further writes with FICUS_CDC_STDOUT_CLOSED instead of crashing the process', async () => {
    const head = spawn('head', ['-n', '1'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise((resolve) => head.once('exit', resolve));
    const sink = createStdoutSink({ output: head.stdin });
    await sink.start();
    const record = { topic: 't', key: { id: 1 }, value: null };
    await sink.write([record]);
    await exited;
    let failure: unknown;
    for (let i = 0; i < 100 && !failure; i++) {
      await sink.write([record]).catch((error: unknown) => (failure = error));
    }
    expect(failure).toMatchObject({
      code: 'FICUS_CDC_STDOUT_CLOSED',
      message: expect.stringMatching(
        /^the output was closed by its reader \(.+\); events after the last one written are sent again on the next start$/,
      ) as unknown,
    });
    await expect(sink.write([record])).rejects.toBe(failure);
    await sink.stop();
  });
});

describe('ficus cdc with the stdout sink', () => {
  it('prints one JSON line per record and serves status, metrics and health', async () => {
    await db.sql('CREATE TABLE notes (id int PRIMARY KEY, body text)');
    await db.sql("INSERT INTO notes VALUES (1, 'snapshotted')");
    const workDir = await mkdtemp(path.join(tmpdir(), 'ficus-stdout-'));
    const slot = `stdout_${process.pid}`;
    const cdc = spawnFicus(
      ['cdc', '--sink', 'stdout', '--status-port', '0', '--topic-prefix', 'shop', '--slot', slot],
      {
        DATABASE_URL: db.url,
        FICUS_CDC_TABLES: 'public.notes',
        FICUS_CDC_PUBLICATION: slot,
        FICUS_CDC_OFFSETS_FILE: path.join(workDir, 'offsets.json'),
      },
    );
    try {
      const [, statusUrl] = await cdc.waitFor(/"status":"(http:\/\/[^"]+)"/);
      await cdc.waitFor(/streaming started/);
      await db.sql("INSERT INTO notes VALUES (2, 'streamed')");
      await cdc.waitFor(/"after":\{"id":2,"body":"streamed"\}/);

      const lines = cdc
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{"topic"'))
        .map((line) => JSON.parse(line) as { topic: string; key: unknown; value: { op: string } });
      expect(lines.map((l) => [l.topic, l.key, l.value.op])).toEqual([
        ['shop.public.notes', { id: 1 }, 'r'],
        ['shop.public.notes', { id: 2 }, 'c'],
      ]);

      const status = (await (await fetch(`${statusUrl}/status`)).json()) as {
        state: string;
        sink: string;
        tables: Record<string, Record<string, number>>;
        confirmedLsn: string | null;
      };
      expect(status).toMatchObject({
        state: 'streaming',
        sink: 'stdout',
        tables: { 'public.notes': { r: 1, c: 1 } },
      });
      const metrics = await (await fetch(`${statusUrl}/metrics`)).text();
      expect(metrics).toContain('ficus_cdc_events_total{table="public.notes",op="c"} 1');
      expect(metrics).toContain('ficus_cdc_state{state="streaming"} 1');
      expect((await fetch(`${statusUrl}/health`)).status).toBe(200);
      expect((await fetch(`${statusUrl}/nope`)).status).toBe(404);
    } finally {
      cdc.child.kill('SIGTERM');
      expect(await cdc.exited).toBe(0);
      await rm(workDir, { recursive: true, force: true });
    }
  }, 60_000);
});
