/**
 * At-least-once across Kafka outages: the broker is restarted, and crashed, while a writer commits
 * and `ficus cdc` streams to it; once during an outage the connector is SIGKILLed too. Nothing may
 * be lost, so the connector must never confirm a position Kafka has not accepted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFicus, type FicusProcess } from '../support/cli.js';
import {
  checkKafkaPrerequisites,
  startKafkaBroker,
  type KafkaBroker,
} from '../support/kafka-broker.js';
import { uniqueName } from '../support/kafka.js';
import { consumeAll, startWriter, verifyDelivery } from './delivery.js';
import { createCdcDatabase, type CdcDatabase } from './harness.js';

const prerequisites = await checkKafkaPrerequisites();
const available = prerequisites.ok || Boolean(process.env.CI);

describe.skipIf(!available)(
  `CDC across Kafka outages${prerequisites.ok ? '' : ` (skipped: ${prerequisites.missing})`}`,
  () => {
    let broker: KafkaBroker;
    let db: CdcDatabase;
    let workDir: string;
    const running: FicusProcess[] = [];

    beforeAll(async () => {
      [broker, db, workDir] = await Promise.all([
        startKafkaBroker({ persistent: true }),
        createCdcDatabase(),
        mkdtemp(path.join(tmpdir(), 'ficus-outage-')),
      ]);
    }, 120_000);
    afterAll(async () => {
      for (const child of running) child.child.kill('SIGKILL');
      await Promise.all(running.map((child) => child.exited));
      await Promise.all([broker?.destroy(), db?.cleanup()]);
      await rm(workDir, { recursive: true, force: true });
    });

    it('loses nothing when the broker restarts, crashes, and the connector dies during the outage', async () => {
      const prefix = uniqueName('outage');
      await db.sql(
        'CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL)',
      );
      await db.sql('CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)');
      await db.sql('INSERT INTO counters SELECT g, 0 FROM generate_series(1, 10) g');
      const config = path.join(workDir, 'cdc.yaml');
      // Report positions every 100 ms, so a position confirmed too early would reach Postgres
      // before the connector is killed.
      await writeFile(
        config,
        [
          `databaseUrl: ${db.url}`,
          `slotName: ${prefix.replaceAll('-', '_')}`,
          `topicPrefix: ${prefix}`,
          'tableIncludeList: [public.events, public.counters]',
          `offsetsFile: ${path.join(workDir, 'offsets.json')}`,
          `kafkaBrokers: [${broker.brokers.join(', ')}]`,
          'statusIntervalMs: 100',
          'statusPort: 0',
        ].join('\n'),
      );
      const startCdc = async () => {
        const cdc = spawnFicus(['cdc', '--config', config]);
        running.push(cdc);
        await cdc.waitFor(/streaming started/, 60_000);
        return cdc;
      };

      let cdc = await startCdc();
      const writer = startWriter(db.url, { keys: 10, pauseMs: 2 });
      await writer.waitForCommits(200);

      // A clean restart while the connector keeps running: it retries until Kafka is back.
      await broker.restart({ downtimeMs: 1_500 });
      await writer.waitForCommits(writer.committed() + 200);

      // A crash, and the connector killed while Kafka is away.
      await broker.kill();
      await writer.waitForCommits(writer.committed() + 200);
      await cdc.waitFor(/Kafka unreachable/, 20_000);
      cdc.child.kill('SIGKILL');
      await cdc.exited;
      await writer.waitForCommits(writer.committed() + 100);
      await broker.start();
      cdc = await startCdc();

      await writer.waitForCommits(writer.committed() + 200);
      const log = await writer.stop();
      const topics = [`${prefix}.public.events`, `${prefix}.public.counters`];
      const received = await consumeAll(
        broker.brokers,
        topics,
        (records) => verifyDelivery(log, records).missing === 0,
      );
      cdc.child.kill('SIGTERM');
      expect(await cdc.exited, cdc.output().slice(-3000)).toBe(0);

      const result = verifyDelivery(log, received);
      expect(result.missingSample).toEqual([]);
      expect(result.missing).toBe(0);
      expect(result.outOfOrderKeys).toEqual([]);
      expect(cdc.output()).not.toContain('CDC connector failed');
    }, 240_000);
  },
);
