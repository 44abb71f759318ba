/**
 * At-least-once under crashes: a writer commits a steady stream of changes while the CDC process
 * (`ficus cdc`, Kafka sink) is killed with SIGKILL and restarted several times. Afterwards every
 * committed change is in Kafka, in commit order per key, nothing missing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFicus, type FicusProcess } from '../support/cli.js';
import { kafkaBrokers, kafkaSkipReason, uniqueName } from '../support/kafka.js';
import { createCdcDatabase, type CdcDatabase } from './harness.js';
import { consumeAll, startWriter, verifyDelivery } from './delivery.js';

const brokers = kafkaBrokers();

describe.skipIf(!brokers)(
  `CDC crash safety${brokers ? '' : ` (skipped: ${kafkaSkipReason()})`}`,
  () => {
    let db: CdcDatabase;
    let workDir: string;
    const running: FicusProcess[] = [];

    beforeAll(async () => {
      db = await createCdcDatabase();
      workDir = await mkdtemp(path.join(tmpdir(), 'ficus-crash-'));
    });
    afterAll(async () => {
      for (const child of running) child.child.kill('SIGKILL');
      await Promise.all(running.map((child) => child.exited));
      await db.cleanup();
      await rm(workDir, { recursive: true, force: true });
    });

    it('loses nothing when the connector is SIGKILLed and restarted while changes flow', async () => {
      const prefix = uniqueName('crash');
      await db.sql(
        'CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL)',
      );
      await db.sql('CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)');
      await db.sql('INSERT INTO counters SELECT g, 0 FROM generate_series(1, 20) g');

      const startCdc = async () => {
        const cdc = spawnFicus(
          [
            'cdc',
            '--slot',
            prefix.replaceAll('-', '_'),
            '--topic-prefix',
            prefix,
            '--status-port',
            '0',
          ],
          {
            DATABASE_URL: db.url,
            KAFKA_BROKERS: brokers!.join(','),
            FICUS_CDC_TABLES: 'public.events,public.counters',
            FICUS_CDC_OFFSETS_FILE: path.join(workDir, 'offsets.json'),
            FICUS_LOG_LEVEL: 'info',
          },
        );
        running.push(cdc);
        await cdc.waitFor(/streaming started/, 60_000);
        return cdc;
      };

      // The writer starts after the first snapshot, so every value it commits must be streamed.
      let cdc = await startCdc();
      const writer = startWriter(db.url, { keys: 20 });
      for (let kill = 0; kill < 4; kill++) {
        await writer.waitForCommits(writer.committed() + 150 + Math.floor(Math.random() * 150));
        cdc.child.kill('SIGKILL');
        await cdc.exited;
        await writer.waitForCommits(writer.committed() + 50);
        cdc = await startCdc();
      }
      await writer.waitForCommits(writer.committed() + 100);
      const log = await writer.stop();

      const topics = [`${prefix}.public.events`, `${prefix}.public.counters`];
      const received = await consumeAll(
        brokers!,
        topics,
        (messages) => verifyDelivery(log, messages).missing === 0,
      );
      cdc.child.kill('SIGTERM');
      expect(await cdc.exited, cdc.output().slice(-3000)).toBe(0);

      const result = verifyDelivery(log, received);
      expect(result.missingSample).toEqual([]);
      expect(result.missing).toBe(0);
      expect(result.outOfOrderKeys).toEqual([]);
      expect(log.commits).toBeGreaterThan(600);
    }, 180_000);
  },
);
