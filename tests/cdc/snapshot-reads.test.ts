/**
 * The initial snapshot's read events (`op: "r"`): one per row, in the envelope Debezium writes,
 * with the `source.snapshot` markers of its RelationalSnapshotChangeEventSource.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-snapshots
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../cdc/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  type CdcDatabase,
  type TestConnector,
} from './harness.js';
import {
  changeValue,
  ENVELOPE_FIELDS,
  envelopeTimes,
  expectSameJson,
  recordsAfter,
  SOURCE_FIELDS,
} from './records.js';

describe('snapshot reads', () => {
  let db: CdcDatabase;
  let cdc: TestConnector;
  let reads: ChangeRecord[];
  let lastSetupTxId: number;
  let lsnBeforeStart: bigint;
  let startedMs: number;
  let startReturnedMs: number;

  beforeAll(async () => {
    db = await createCdcDatabase();
    await db.sql('CREATE TABLE snap_a (id int PRIMARY KEY, label text)');
    await db.sql('CREATE TABLE snap_b (id int PRIMARY KEY, label text)');
    await db.sql('CREATE TABLE snap_c (code text PRIMARY KEY, n int)');
    await db.sql("INSERT INTO snap_a VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')");
    await db.sql("INSERT INTO snap_b VALUES (1, 'b1')");
    await db.sql('BEGIN');
    lastSetupTxId = Number(
      ((await db.sql('SELECT txid_current()::text AS xid')).rows[0] as { xid: string }).xid,
    );
    await db.sql("INSERT INTO snap_c VALUES ('x', 1), ('y', 2)");
    await db.sql('COMMIT');
    lsnBeforeStart = BigInt(
      (
        (await db.sql("SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn")).rows[0] as {
          lsn: string;
        }
      ).lsn,
    );
    startedMs = Date.now();
    cdc = await startTestConnector(db.url);
    startReturnedMs = Date.now();
    await cdc.waitFor((records) => records.length >= 6);
    reads = cdc.records.slice(0, 6);
  });

  afterAll(async () => {
    await cdc?.stop();
    await db?.cleanup();
  });

  it('reads every row as op "r" with Debezium markers, first to last', () => {
    const values = reads.map(changeValue);
    const { lsn, txId } = values[0]!.source;
    expect(typeof lsn).toBe('number');
    expect(BigInt(lsn!)).toBeGreaterThanOrEqual(lsnBeforeStart);
    // The snapshot transaction's own txid_current(), taken after every setup transaction.
    expect(txId).toBeGreaterThan(lastSetupTxId);

    const expected = [
      ['snap_a', { id: 1 }, { id: 1, label: 'a1' }, 'first'],
      ['snap_a', { id: 2 }, { id: 2, label: 'a2' }, 'true'],
      ['snap_a', { id: 3 }, { id: 3, label: 'a3' }, 'last_in_data_collection'],
      ['snap_b', { id: 1 }, { id: 1, label: 'b1' }, 'last_in_data_collection'],
      ['snap_c', { code: 'x' }, { code: 'x', n: 1 }, 'first_in_data_collection'],
      ['snap_c', { code: 'y' }, { code: 'y', n: 2 }, 'last'],
    ] as const;
    expectSameJson(
      reads,
      expected.map(([table, key, after, marker], i) => {
        const value = values[i]!;
        return {
          topic: `test.public.${table}`,
          key,
          value: {
            before: null,
            after,
            source: {
              version: 'test',
              connector: 'postgresql',
              name: 'test',
              ts_ms: value.source.ts_ms,
              snapshot: marker,
              db: db.name,
              sequence: `[null,"${lsn}"]`,
              ts_us: value.source.ts_us,
              ts_ns: value.source.ts_ns,
              schema: 'public',
              table,
              txId,
              lsn,
              xmin: null,
            },
            transaction: null,
            op: 'r',
            ...envelopeTimes(value),
          },
        };
      }),
    );
    for (const value of values) {
      expect(Object.keys(value)).toEqual(ENVELOPE_FIELDS);
      expect(Object.keys(value.source)).toEqual(SOURCE_FIELDS);
    }
  });

  it('stamps each table with the time its read began', () => {
    const sources = reads.map((r) => changeValue(r).source);
    for (const source of sources) {
      expect(source.ts_ms).toBeGreaterThanOrEqual(startedMs);
      expect(source.ts_ms).toBeLessThanOrEqual(startReturnedMs);
      expect(Math.floor(source.ts_us / 1000)).toBe(source.ts_ms);
      expect(source.ts_ns).toBe(source.ts_us * 1000);
    }
    for (const table of ['snap_a', 'snap_c']) {
      const times = new Set(sources.filter((s) => s.table === table).map((s) => s.ts_us));
      expect(times.size).toBe(1);
    }
  });

  it('streams what follows the snapshot with snapshot "false"', async () => {
    const [record] = await recordsAfter(cdc, 1, () =>
      db.sql("INSERT INTO snap_b VALUES (2, 'b2')"),
    );
    const value = changeValue(record);
    const snapshotLsn = changeValue(reads[0]).source.lsn!;
    expect(value.op).toBe('c');
    expect(value.source.snapshot).toBe('false');
    expect(value.source.lsn).toBeGreaterThan(snapshotLsn);
    expect(value.source.txId).toBeGreaterThan(changeValue(reads[0]).source.txId!);
  });

  it("emits no reads with snapshotMode: 'never'", async () => {
    const never = await startTestConnector(db.url, { snapshotMode: 'never' });
    try {
      await db.sql("INSERT INTO snap_c VALUES ('z', 3)");
      await never.waitFor((records) => records.length >= 1);
      expect(never.records.map((r) => [r.topic, r.key, changeValue(r).op])).toEqual([
        ['test.public.snap_c', { code: 'z' }, 'c'],
      ]);
    } finally {
      await never.stop();
    }
  });
});
