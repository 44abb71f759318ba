/**
 * Ad-hoc incremental snapshots through the signal table: the existing rows of a table arrive as
 * op "r" records while streaming goes on, and applying every delivered record in order rebuilds
 * the table exactly, even while a writer keeps changing it. Signal rows are never delivered, other
 * tables keep streaming, progress survives a restart, and a bad signal is logged, not fatal.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-incremental-snapshots
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isChangeEventValue,
  stringifyJson,
  type ChangeEventValue,
  type ChangeRecord,
} from '../../cdc/index.js';
import {
  basePosition,
  comparePositions,
  type Position,
} from '../../extracted-services/carried-state/position.js';
import { spawnFicus } from '../support/cli.js';
import { createCdcDatabase, startTestConnector, waitUntil, type CdcDatabase } from './harness.js';

type Row = Record<string, unknown>;

let db: CdcDatabase;
let workDir: string;
beforeAll(async () => {
  db = await createCdcDatabase();
  workDir = await mkdtemp(path.join(tmpdir(), 'ficus-incremental-'));
});
afterAll(async () => {
  await db.cleanup();
  await rm(workDir, { recursive: true, force: true });
});

/** A table of `rows` products, filled before any connector runs (so only a snapshot can tell them). */
async function createProducts(table: string, rows: number): Promise<void> {
  await db.sql(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`);
  await db.sql(
    `INSERT INTO ${table} SELECT n, 'product ' || n, n % 97 FROM generate_series(1, $1) AS n`,
    [rows],
  );
}

/** Applies change records in delivery order to an empty copy, as a consumer added late would. */
function applyInOrder(records: readonly ChangeRecord[], topic: string): Map<string, Row> {
  const copy = new Map<string, Row>();
  for (const record of records) {
    if (record.topic !== topic || !isChangeEventValue(record.value)) continue;
    const value = record.value;
    if (value.op === 't') copy.clear();
    else if (value.op === 'd') copy.delete(stringifyJson(record.key));
    else copy.set(stringifyJson(record.key), value.after!);
  }
  return copy;
}

async function sourceRows(table: string): Promise<Map<string, Row>> {
  const { rows } = await db.sql(`SELECT id, name, qty FROM ${table} ORDER BY id`);
  return new Map(rows.map((row: Row) => [stringifyJson({ id: row.id as number }), row]));
}

function reads(records: readonly ChangeRecord[], topic: string): ChangeEventValue[] {
  return records
    .filter((r) => r.topic === topic)
    .map((r) => r.value)
    .filter((v): v is ChangeEventValue => isChangeEventValue(v) && v.op === 'r');
}

/**
 * Keeps changing `table` (updates and deletes just ahead of the rows read so far, so they land in
 * the chunk being read, plus inserts) and inserting into `other`, until stopped.
 */
function startWriter(table: string, other: string, aheadOf: () => number) {
  const client = new pg.Client({ connectionString: db.url });
  let running = true;
  let ops = 0;
  const loop = (async () => {
    await client.connect();
    let next = 100_000;
    while (running) {
      const base = aheadOf();
      const id = base + 1 + ((ops * 7919) % 400);
      await client.query('BEGIN');
      await client.query(`UPDATE ${table} SET qty = qty + 1, name = name || '+' WHERE id = $1`, [
        id,
      ]);
      if (ops % 5 === 0) await client.query(`DELETE FROM ${table} WHERE id = $1`, [id + 1]);
      if (ops % 7 === 0)
        await client.query(
          `INSERT INTO ${table} VALUES ($1, 'new', 1), ($2, 'gap', 2) ON CONFLICT DO NOTHING`,
          [next++, base + 2],
        );
      await client.query('COMMIT');
      await client.query(`INSERT INTO ${other} (note) VALUES ($1)`, [`op ${ops}`]);
      ops++;
    }
  })();
  return {
    ops: () => ops,
    async stop() {
      running = false;
      await loop;
      await client.end();
    },
  };
}

describe('incremental snapshots', () => {
  it('rebuilds a table exactly while a writer updates, deletes and inserts in it', async () => {
    await createProducts('inc_products', 5_000);
    await db.sql('CREATE TABLE inc_other (id serial PRIMARY KEY, note text)');
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: ['public.inc_products', 'public.inc_other'],
      snapshotMode: 'never',
      incrementalSnapshotChunkSize: 400,
    });
    const productTopic = 'test.public.inc_products';
    const otherTopic = 'test.public.inc_other';
    let highestRead = 0;
    const writer = startWriter('inc_products', 'inc_other', () => highestRead);
    try {
      await cdc.waitFor((records) => records.some((r) => r.topic === otherTopic));
      await cdc.connector.requestSnapshot(['public.inc_products']);
      let sawRunning = false;
      await waitUntil(
        () => {
          for (const read of reads(cdc.records.slice(-2_000), productTopic))
            highestRead = Math.max(highestRead, read.after!.id as number);
          const status = cdc.connector.status().incrementalSnapshot;
          if (status?.table === 'public.inc_products' && status.chunks > 0) sawRunning = true;
          return sawRunning && status === null;
        },
        120_000,
        () =>
          `${cdc.records.length} records, status ${JSON.stringify(cdc.connector.status().incrementalSnapshot)}`,
      );
      expect(writer.ops()).toBeGreaterThan(0);
    } finally {
      await writer.stop();
    }
    // Everything the writer committed has been delivered once a later row arrives.
    await db.sql("INSERT INTO inc_other (note) VALUES ('last')");
    await cdc.waitFor((records) =>
      records.some(
        (r) =>
          r.topic === otherTopic && isChangeEventValue(r.value) && r.value.after?.note === 'last',
      ),
    );
    await cdc.stop();

    const copy = applyInOrder(cdc.records, productTopic);
    const source = await sourceRows('inc_products');
    expect(copy.size).toBe(source.size);
    expect(Object.fromEntries(copy)).toEqual(Object.fromEntries(source));

    const snapshotReads = reads(cdc.records, productTopic);
    expect(snapshotReads.length).toBeGreaterThan(3_000);
    for (const read of snapshotReads) {
      expect(read.source.snapshot).toBe('incremental');
      const [lastCommit, lsn] = JSON.parse(read.source.sequence) as [string, string];
      expect(lastCommit).toMatch(/^\d+$/);
      expect(read.source.lsn).toBe(Number(lsn));
    }
    // Each read's position is after every streamed change delivered before it, and before every
    // streamed change delivered after it.
    const events = cdc.records.map((r) => r.value).filter(isChangeEventValue);
    const at = (value: ChangeEventValue): Position => ({ ...basePosition(value), index: 0 });
    const highestBefore: (Position | undefined)[] = [];
    let highest: Position | undefined;
    for (const value of events) {
      highestBefore.push(highest);
      if (value.op !== 'r' && (!highest || comparePositions(at(value), highest) > 0))
        highest = at(value);
    }
    let lowest: Position | undefined;
    let checked = 0;
    for (let i = events.length - 1; i >= 0; i--) {
      const value = events[i]!;
      if (value.op === 'r') {
        const before = highestBefore[i];
        if (before) expect(comparePositions(before, at(value))).toBeLessThan(0);
        if (lowest) expect(comparePositions(at(value), lowest)).toBeLessThan(0);
        checked++;
      } else if (!lowest || comparePositions(at(value), lowest) < 0) lowest = at(value);
    }
    expect(checked).toBe(snapshotReads.length);
    // Signal rows (the request and the watermarks) never reach the sink.
    expect(cdc.records.filter((r) => r.topic.includes('ficus_signal'))).toEqual([]);
    // The other table kept streaming between the first and the last read.
    const first = cdc.records.findIndex(
      (r) => r.topic === productTopic && isChangeEventValue(r.value) && r.value.op === 'r',
    );
    const last = cdc.records.findLastIndex(
      (r) => r.topic === productTopic && isChangeEventValue(r.value) && r.value.op === 'r',
    );
    const between = cdc.records.slice(first, last).filter((r) => r.topic === otherTopic);
    expect(between.length).toBeGreaterThan(0);
  }, 180_000);

  it('resumes from the offsets file after a restart instead of starting over', async () => {
    await createProducts('inc_resume', 3_000);
    const offsetsFile = path.join(workDir, 'resume-offsets.json');
    const slotName = `inc_resume_${process.pid}`;
    const options = {
      tableIncludeList: ['public.inc_resume'],
      snapshotMode: 'never' as const,
      incrementalSnapshotChunkSize: 100,
      slotName,
      offsetsFile,
    };
    const topic = 'test.public.inc_resume';
    const first = await startTestConnector(db.url, options);
    await first.connector.requestSnapshot(['public.inc_resume']);
    await waitUntil(() => (first.connector.status().incrementalSnapshot?.chunks ?? 0) >= 3, 60_000);
    await db.sql('UPDATE inc_resume SET qty = -1 WHERE id = 2999');
    await first.stop();
    const saved = JSON.parse(await readFile(offsetsFile, 'utf8')) as {
      incrementalSnapshot: { current: { table: string; lastKey: string[] } };
    };
    expect(saved.incrementalSnapshot.current.table).toBe('public.inc_resume');
    const resumedAfter = Number(saved.incrementalSnapshot.current.lastKey[0]);
    expect(resumedAfter).toBeGreaterThanOrEqual(300);
    expect(resumedAfter).toBeLessThan(3_000);

    const second = await startTestConnector(db.url, options);
    try {
      await waitUntil(
        () => reads(second.records, topic).some((read) => read.after!.id === 3_000),
        60_000,
      );
      await waitUntil(() => second.connector.status().incrementalSnapshot === null);
    } finally {
      await second.stop();
    }
    const secondReads = reads(second.records, topic);
    expect(Math.min(...secondReads.map((read) => read.after!.id as number))).toBe(resumedAfter + 1);
    const copy = applyInOrder([...first.records, ...second.records], topic);
    expect(Object.fromEntries(copy)).toEqual(Object.fromEntries(await sourceRows('inc_resume')));
  }, 120_000);

  it('logs an unknown table by name and keeps streaming', async () => {
    await db.sql('CREATE TABLE inc_known (id int PRIMARY KEY, note text)');
    await db.sql("INSERT INTO inc_known VALUES (1, 'before')");
    const lines: { msg?: string; level?: number }[] = [];
    const logger: Logger = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string }) },
    );
    // Every table, the signal table included in the database: still never delivered.
    const cdc = await startTestConnector(db.url, { snapshotMode: 'never', logger });
    try {
      await cdc.connector.requestSnapshot(['public.no_such_table', 'public.inc_known']);
      await cdc.waitFor(
        (records) =>
          reads(records, 'test.public.inc_known').length === 1 &&
          cdc.connector.status().incrementalSnapshot === null,
        30_000,
      );
      const error = lines.find((line) => line.msg?.includes('public.no_such_table'));
      expect(error?.msg).toBe(
        'incremental snapshot: table public.no_such_table does not exist; skipped',
      );
      expect(error?.level).toBe(50);
      expect(cdc.connector.status().state).toBe('streaming');
      await db.sql("INSERT INTO inc_known VALUES (2, 'after')");
      await cdc.waitFor((records) =>
        records.some((r) => isChangeEventValue(r.value) && r.value.after?.note === 'after'),
      );
      expect(cdc.records.filter((r) => r.topic.includes('ficus_signal'))).toEqual([]);
      expect(cdc.connector.status().signalTable).toBe('public.ficus_signal');
    } finally {
      await cdc.stop();
    }
  }, 60_000);

  it('is asked for by ficus cdc snapshot', async () => {
    await db.sql('CREATE TABLE inc_cli (id int PRIMARY KEY, note text)');
    await db.sql("INSERT INTO inc_cli VALUES (1, 'one'), (2, 'two')");
    const cdc = await startTestConnector(db.url, {
      tableIncludeList: ['public.inc_cli'],
      snapshotMode: 'never',
    });
    try {
      const cli = spawnFicus(['cdc', 'snapshot', '--table', 'public.inc_cli'], {
        DATABASE_URL: db.url,
      });
      await cli.waitFor(
        /asked for an incremental snapshot of public\.inc_cli \(signal [0-9a-f-]{36} in public\.ficus_signal\)/,
      );
      expect(await cli.exited).toBe(0);
      await cdc.waitFor((records) => reads(records, 'test.public.inc_cli').length === 2, 30_000);
      expect(reads(cdc.records, 'test.public.inc_cli').map((read) => read.after)).toEqual([
        { id: 1, note: 'one' },
        { id: 2, note: 'two' },
      ]);
    } finally {
      await cdc.stop();
    }
  }, 60_000);
});
