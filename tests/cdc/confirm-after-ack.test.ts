/**
 * A crash replays everything after the slot's confirmed_flush_lsn, so the connector reports a
 * position soon after the sink accepted it (within flushConfirmIntervalMs), never before, and
 * coalesces the reports instead of sending one per acknowledgement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEmbeddedSink,
  isChangeEventValue,
  parseLsn,
  type ChangeEventValue,
  type ChangeRecord,
} from '../../cdc/index.js';
import { ReplicationConnection } from '../../cdc/replication/stream.js';
import { createCdcDatabase, startTestConnector, waitUntil, type CdcDatabase } from './harness.js';

let db: CdcDatabase;
let tableCounter = 0;
beforeAll(async () => {
  db = await createCdcDatabase();
});
afterAll(() => db.cleanup());

async function confirmedFlush(slot: string): Promise<bigint> {
  const { rows } = await db.sql(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return parseLsn((rows[0] as { lsn: string }).lsn);
}

/** When the walsender of `slot` last got a standby status update (the client's send time). */
async function lastReplyMs(slot: string): Promise<number | null> {
  const { rows } = await db.sql(
    `SELECT (extract(epoch FROM r.reply_time) * 1000)::float8 AS ms
       FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE s.slot_name = $1`,
    [slot],
  );
  return (rows[0] as { ms: number | null } | undefined)?.ms ?? null;
}

/** A sink whose writes wait while `hold()` is in force; records are kept once accepted. */
function createHeldSink() {
  const accepted: ChangeRecord[] = [];
  const offered: ChangeRecord[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const sink = createEmbeddedSink([
    async (batch) => {
      offered.push(...batch);
      if (gate) await gate;
      accepted.push(...batch);
    },
  ]);
  return {
    sink,
    accepted,
    offered,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      gate = undefined;
      open?.();
    },
  };
}

/** Creates a table of this test's own; returns its name. */
async function newTable(): Promise<string> {
  const table = `acked_${tableCounter++}`;
  await db.sql(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  return table;
}

const eventsOf = (records: readonly ChangeRecord[], table: string): ChangeEventValue[] =>
  records
    .map((record) => record.value)
    .filter(isChangeEventValue)
    .filter((value) => value.source.table === table);

describe('confirming positions to the slot', () => {
  it('does not confirm a transaction while the sink holds it, however often it reports', async () => {
    const table = await newTable();
    const held = createHeldSink();
    // Periodic status updates every 50 ms: any premature confirmation would reach Postgres.
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: [`public.${table}`],
      sink: held.sink,
      statusIntervalMs: 50,
      flushConfirmIntervalMs: 100,
    });
    const slot = cdc.options.slotName;
    try {
      held.hold();
      await db.sql(`INSERT INTO ${table} SELECT g, 'x' FROM generate_series(1, 3) g`);
      await waitUntil(() => eventsOf(held.offered, table).length === 3, 10_000);
      const lastChange = BigInt(eventsOf(held.offered, table).at(-1)!.source.lsn!);
      const heldSince = Date.now();
      // Several status updates went out since the sink got the batch...
      await waitUntil(async () => ((await lastReplyMs(slot)) ?? 0) > heldSince + 300, 10_000);
      // ...and none of them confirmed the transaction.
      expect(await confirmedFlush(slot)).toBeLessThanOrEqual(lastChange);
      expect(eventsOf(held.accepted, table)).toEqual([]);

      held.release();
      await waitUntil(async () => (await confirmedFlush(slot)) > lastChange, 10_000);
      expect(eventsOf(held.accepted, table)).toHaveLength(3);
    } finally {
      held.release();
      await cdc.stop();
    }
  });

  it('confirms within about flushConfirmIntervalMs of the sink accepting, not the status interval', async () => {
    const table = await newTable();
    const held = createHeldSink();
    // No periodic update during the test: only the prompt confirmation can move the slot.
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: [`public.${table}`],
      sink: held.sink,
      statusIntervalMs: 600_000,
      flushConfirmIntervalMs: 200,
    });
    const slot = cdc.options.slotName;
    try {
      for (let round = 0; round < 3; round++) {
        held.hold();
        await db.sql(`INSERT INTO ${table} SELECT g + $1, 'x' FROM generate_series(1, 50) g`, [
          round * 100,
        ]);
        await waitUntil(() => eventsOf(held.offered, table).length === (round + 1) * 50, 10_000);
        const lastChange = BigInt(eventsOf(held.offered, table).at(-1)!.source.lsn!);
        expect(await confirmedFlush(slot)).toBeLessThanOrEqual(lastChange);

        const releasedAt = performance.now();
        held.release();
        await waitUntil(async () => (await confirmedFlush(slot)) > lastChange, 20_000);
        // 200 ms coalescing plus polling and scheduling slack; the status interval is 600 s.
        expect(performance.now() - releasedAt).toBeLessThan(2_000);
      }
    } finally {
      held.release();
      await cdc.stop();
    }
  });

  it('coalesces reports: at most one per flushConfirmIntervalMs however often it confirms', async () => {
    const slot = `coalesce_${process.pid}`;
    const publication = `pub_${slot}`;
    const table = await newTable();
    await db.sql(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
    await db.sql("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const start = await confirmedFlush(slot);
    await db.sql(`INSERT INTO ${table} SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g`);
    const replication = await ReplicationConnection.connect(db.url);
    // Positions up to the last one streamed are real WAL to confirm into.
    let messages = 0;
    let end = 0n;
    const stream = replication.start(
      {
        slot,
        publications: [publication],
        startLsn: 0n,
        statusIntervalMs: 600_000,
        flushConfirmIntervalMs: 200,
      },
      {
        onData: (lsn) => {
          messages++;
          if (lsn > end) end = lsn;
        },
      },
    );
    try {
      await waitUntil(
        () => messages >= 2_000,
        10_000,
        () => `${messages} messages`,
      );
      // Confirm a new position every 2 ms for a bit over a second.
      let confirmed = start;
      const step = (end - start) / 1_000n;
      const confirming = setInterval(() => {
        if (confirmed + step < end) stream.confirm((confirmed += step));
      }, 2);
      const replies = new Set<number>();
      const startedAt = performance.now();
      try {
        while (performance.now() - startedAt < 1_200) {
          const ms = await lastReplyMs(slot);
          if (ms !== null) replies.add(ms);
        }
      } finally {
        clearInterval(confirming);
      }
      const times = [...replies].sort((a, b) => a - b);
      expect(times.length).toBeGreaterThanOrEqual(3);
      // reply_time is in ms precision here; allow one ms of rounding and a little timer slack.
      const gaps = times.slice(1).map((time, i) => time - times[i]!);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(190);
      expect(await confirmedFlush(slot)).toBeGreaterThan(start);
    } finally {
      await stream.stop();
      // The slot itself is dropped with the database's others in db.cleanup().
    }
  });
});
