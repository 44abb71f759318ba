/**
 * Heartbeats keep an idle slot from holding WAL back: with the captured table idle and another
 * table busy, confirmed_flush_lsn keeps advancing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '../../cdc/index.js';
import { createCdcDatabase, startTestConnector, waitUntil, type CdcDatabase } from './harness.js';

let db: CdcDatabase;
beforeAll(async () => {
  db = await createCdcDatabase();
  await db.sql('CREATE TABLE watched (id int PRIMARY KEY, v text)');
  await db.sql('CREATE TABLE busy (id serial PRIMARY KEY, payload text)');
});
afterAll(() => db.cleanup());

async function confirmedFlush(slot: string): Promise<bigint> {
  const { rows } = await db.sql(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return parseLsn((rows[0] as { lsn: string }).lsn);
}

describe('heartbeats', () => {
  it('advance the slot while the captured table is idle and another table is busy', async () => {
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: ['public.watched'],
      heartbeatIntervalMs: 200,
      topicPrefix: 'hb',
    });
    try {
      const start = await confirmedFlush(cdc.options.slotName);
      const positions: bigint[] = [];
      for (let round = 0; round < 5; round++) {
        await db.sql(
          "INSERT INTO busy (payload) SELECT repeat('x', 200) FROM generate_series(1, 500)",
        );
        const { rows } = await db.sql('SELECT pg_current_wal_insert_lsn()::text AS lsn');
        const written = parseLsn((rows[0] as { lsn: string }).lsn);
        await waitUntil(async () => (await confirmedFlush(cdc.options.slotName)) >= written, 5_000);
        positions.push(await confirmedFlush(cdc.options.slotName));
      }
      expect(positions[0]! > start).toBe(true);
      expect(positions.every((lsn, i) => i === 0 || lsn > positions[i - 1]!)).toBe(true);
      // Nothing from the busy table was emitted; heartbeat records were.
      expect(cdc.events()).toEqual([]);
      const heartbeats = cdc.records.filter((r) => r.topic === '__debezium-heartbeat.hb');
      expect(heartbeats.length).toBeGreaterThan(0);
      expect(heartbeats[0]?.key).toEqual({ serverName: 'hb' });
      expect(Object.keys(heartbeats[0]?.value ?? {})).toEqual(['ts_ms']);
    } finally {
      await cdc.stop();
    }
  });

  it('run the heartbeat action query on the source', async () => {
    await db.sql(
      'CREATE TABLE heartbeat_log (id serial PRIMARY KEY, at timestamptz DEFAULT now())',
    );
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: ['public.watched'],
      heartbeatIntervalMs: 100,
      heartbeatActionQuery: 'INSERT INTO heartbeat_log DEFAULT VALUES',
    });
    try {
      await waitUntil(async () => {
        const { rows } = await db.sql('SELECT count(*)::int AS n FROM heartbeat_log');
        return (rows[0] as { n: number }).n >= 3;
      });
    } finally {
      await cdc.stop();
    }
  });
});
