/**
 * The initial snapshot and streaming together: rows written while the snapshot runs appear
 * exactly once, as a read or as a later change, never missing; an interrupted snapshot starts
 * again cleanly.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEmbeddedSink,
  isChangeEventValue,
  type ChangeEventValue,
  type ChangeRecord,
} from '../../cdc/index.js';
import { createCdcDatabase, startTestConnector, waitUntil, type CdcDatabase } from './harness.js';

let db: CdcDatabase;
beforeAll(async () => {
  db = await createCdcDatabase();
});
afterAll(() => db.cleanup());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Applies change events in order to a map of id → v, the way a consumer would. */
function replay(events: readonly ChangeEventValue[]): Map<number, number> {
  const rows = new Map<number, number>();
  for (const event of events) {
    if (event.op === 'd') rows.delete(Number(event.before!.id));
    else if (event.after) rows.set(Number(event.after.id), Number(event.after.v));
  }
  return rows;
}

async function tableContents(table: string): Promise<Map<number, number>> {
  const { rows } = await db.sql(`SELECT id, v FROM ${table}`);
  return new Map(rows.map((row: { id: number; v: number }) => [row.id, row.v]));
}

describe('snapshot then stream', () => {
  it('delivers every row exactly once as a read or a later change while writes race the snapshot', async () => {
    await db.sql('CREATE TABLE racing (id int PRIMARY KEY, v int NOT NULL)');
    await db.sql('INSERT INTO racing SELECT g, 0 FROM generate_series(1, 20000) g');
    const before = await tableContents('racing');

    // A writer that inserts, updates and deletes without pause while the snapshot runs.
    let writing = true;
    let nextId = 20001;
    const writer = (async () => {
      while (writing) {
        const id = Math.floor(Math.random() * 20000) + 1;
        await db.sql('BEGIN');
        await db.sql('INSERT INTO racing VALUES ($1, 1)', [nextId++]);
        await db.sql('UPDATE racing SET v = v + 1 WHERE id = $1', [id]);
        if (id % 7 === 0) await db.sql('DELETE FROM racing WHERE id = $1', [id + 1]);
        await db.sql('COMMIT');
      }
    })();

    const records: ChangeRecord[] = [];
    // A slow consumer (10 ms per chunk of 250 rows) keeps the snapshot running for a while.
    const sink = createEmbeddedSink([
      async (batch) => {
        records.push(...batch);
        await sleep(10);
      },
    ]);
    const startedAt = nextId;
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: ['public.racing'],
      snapshotFetchSize: 250,
      sink,
    });
    const writtenDuringSnapshot = nextId - startedAt;
    await sleep(300);
    writing = false;
    await writer;
    const after = await tableContents('racing');
    await waitUntil(() => {
      const events = records.map((r) => r.value).filter(isChangeEventValue);
      return replay(events).size === after.size && events.some((e) => e.op !== 'r');
    }, 20_000);
    await cdc.stop();

    const events = records.map((r) => r.value).filter(isChangeEventValue);
    expect(writtenDuringSnapshot).toBeGreaterThan(20);
    expect(replay(events)).toEqual(after);

    // Every row present at the snapshot point is read exactly once; rows inserted later are never read.
    const reads = events.filter((e) => e.op === 'r').map((e) => Number(e.after!.id));
    expect(new Set(reads).size).toBe(reads.length);
    const creates = new Set(events.filter((e) => e.op === 'c').map((e) => Number(e.after!.id)));
    for (const id of reads) expect(creates.has(id)).toBe(false);
    // The writer only ever deletes ids ≡ 1 (mod 7); every other original row must have been read.
    const readSet = new Set(reads);
    const unread = [...before.keys()].filter((id) => id % 7 !== 1 && !readSet.has(id));
    expect(unread).toEqual([]);
    // Snapshot reads come first, then streaming: no read after the first streamed change.
    const firstStreamed = events.findIndex((e) => e.op !== 'r');
    expect(events.slice(firstStreamed).some((e) => e.op === 'r')).toBe(false);
  }, 60_000);

  it('starts an interrupted snapshot again from scratch', async () => {
    await db.sql('CREATE TABLE interrupted (id int PRIMARY KEY, v int NOT NULL)');
    await db.sql('INSERT INTO interrupted SELECT g, g FROM generate_series(1, 3000) g');
    let delivered = 0;
    const failing = createEmbeddedSink([
      (batch) => {
        delivered += batch.length;
        if (delivered > 1000) throw new Error('sink crashed mid-snapshot');
      },
    ]);
    const workDir = await mkdtemp(path.join(tmpdir(), 'ficus-interrupted-'));
    const resumable = {
      tableIncludeList: ['public.interrupted'],
      slotName: `interrupted_${process.pid}`,
      offsetsFile: path.join(workDir, 'offsets.json'),
    };
    const first = await startTestConnector(db.url, {
      ...resumable,
      snapshotFetchSize: 500,
      sink: failing,
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(first?.message).toBe('sink crashed mid-snapshot');

    const records: ChangeRecord[] = [];
    const retry = await startTestConnector(db.url, {
      ...resumable,
      snapshotFetchSize: 500,
      sink: createEmbeddedSink([(batch) => void records.push(...batch)]),
    });
    await db.sql('UPDATE interrupted SET v = -1 WHERE id = 1');
    await waitUntil(() =>
      records.some((record) => isChangeEventValue(record.value) && record.value.op === 'u'),
    );
    await retry.stop();
    const events = records.map((r) => r.value).filter(isChangeEventValue);
    expect(events.filter((e) => e.op === 'r')).toHaveLength(3000);
    expect(events.at(-1)?.after).toEqual({ id: 1, v: -1 });
    await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  it('initial_only reads every row, then stops and leaves no slot behind', async () => {
    await db.sql('CREATE TABLE once (id int PRIMARY KEY)');
    await db.sql('INSERT INTO once SELECT generate_series(1, 50)');
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: ['public.once'],
      snapshotMode: 'initial_only',
    });
    await cdc.connector.done;
    expect(cdc.connector.status().state).toBe('stopped');
    expect(cdc.events().map((e) => e.op)).toEqual(new Array(50).fill('r'));
    // The temporary slot that gave the snapshot its consistent view is gone with its connection.
    const { rows } = await db.sql(
      'SELECT slot_name FROM pg_replication_slots WHERE starts_with(slot_name, $1)',
      [cdc.options.slotName],
    );

    expect(rows).toEqual([]);
    await cdc.stop();
  });
});
