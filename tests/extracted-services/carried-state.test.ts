/**
 * The carried-state helper on a real connector: a source database streaming Debezium events and a
 * service database holding the carried copy. Every check compares ordered rows exactly.
 */
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isChangeEventValue,
  UNAVAILABLE_VALUE,
  type ChangeEventValue,
  type ChangeRecord,
} from '../../cdc/index.js';
import {
  compileMapping,
  comparePositions,
  createCarriedState,
  POSITIONS_TABLE,
  type CarriedState,
  type LocalRow,
  type TableMapping,
} from '../../extracted-services/carried-state/index.js';
import { basePosition } from '../../extracted-services/carried-state/position.js';
import {
  createCdcDatabase,
  startTestConnector,
  type CdcDatabase,
  type TestConnector,
} from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let source: CdcDatabase;
let cdc: TestConnector;
let service: TestDatabase;
let db: Knex;
let records: ChangeRecord[];
let tableCounter = 0;

const PRODUCTS_SQL = `SELECT id AS product_id, name AS title, price::text AS price, released::text AS released,
  updated_at::text AS updated_at, body, upper(name) AS name_upper FROM products ORDER BY id`;

beforeAll(async () => {
  source = await createCdcDatabase();
  await source.sql(`CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2),
    released date, updated_at timestamp(6), body text, internal_note text)`);
  // Out of line and uncompressed, so a long body is TOASTed and an update that leaves it alone
  // (REPLICA IDENTITY DEFAULT) carries the placeholder.
  await source.sql('ALTER TABLE products ALTER COLUMN body SET STORAGE EXTERNAL');
  await source.sql('CREATE TABLE tags (id int PRIMARY KEY, label text)');
  await source.sql(`INSERT INTO products VALUES
    (1, 'desk', '249.00', '2024-02-29', '2025-03-01 10:15:30.123456', repeat('oak ', 5000), 'x'),
    (2, 'chair', '99.50', '1969-12-31', '1969-12-31 23:59:59.999999', 'short', 'y'),
    (3, 'lamp', '19.99', NULL, NULL, NULL, NULL),
    (4, 'shelf', '75.00', '2000-01-01', '2000-01-01 00:00:00', 'pine', NULL),
    (5, 'rug', '120.00', '2010-06-15', '2010-06-15 12:00:00.5', 'wool', NULL)`);
  await source.sql("INSERT INTO tags VALUES (1, 'old-a'), (2, 'old-b')");

  cdc = await startTestConnector(source.url);
  await source.sql(
    "INSERT INTO products VALUES (6, 'sofa', '899.00', '2025-01-02', now(), 'linen', NULL)",
  );
  await source.sql("INSERT INTO products VALUES (7, 'bed', '450.00', NULL, NULL, 'queen', NULL)");
  await source.sql("UPDATE products SET price = '89.00' WHERE id = 2");
  await source.sql("UPDATE products SET name = 'standing desk' WHERE id = 1");
  await source.sql('DELETE FROM products WHERE id = 3');
  await source.sql('UPDATE products SET id = 40 WHERE id = 4');
  await source.sql(
    "UPDATE products SET released = '2011-07-16', updated_at = '2011-07-16 08:00:00.000001' WHERE id = 5",
  );
  await source.sql("INSERT INTO products VALUES (8, 'stool', '30.00', NULL, NULL, 'birch', NULL)");
  await source.sql("UPDATE products SET price = '35.00' WHERE id = 8");
  await source.sql('DELETE FROM products WHERE id = 8');
  await source.sql('BEGIN');
  await source.sql("UPDATE products SET name = 'armchair' WHERE id = 2");
  await source.sql("UPDATE products SET name = 'recliner' WHERE id = 2");
  await source.sql('COMMIT');
  await source.sql('TRUNCATE tags');
  await source.sql("INSERT INTO tags VALUES (3, 'new-c')");
  await source.sql("INSERT INTO products VALUES (99, 'marker', NULL, NULL, NULL, NULL, NULL)");
  await cdc.waitFor((all) =>
    all.some((r) => isChangeEventValue(r.value) && r.value.after?.['id'] === 99),
  );
  records = [...cdc.records];

  service = await createTestDatabase('carried');
  db = knex({ client: 'pg', connection: service.url, pool: { min: 0, max: 4 } });
});

afterAll(async () => {
  await cdc?.stop();
  await db?.destroy();
  await service?.drop();
  await source?.cleanup();
});

function productsMapping(table: string, project?: (row: LocalRow) => LocalRow): TableMapping {
  return {
    source: 'public.products',
    table,
    key: ['id'],
    columns: {
      id: 'product_id',
      name: 'title',
      price: 'price',
      released: { from: 'epochDays' },
      updated_at: { from: 'epochMicros' },
      body: 'body',
    },
    project: (row) => {
      const projected = {
        ...row,
        name_upper: typeof row['title'] === 'string' ? row['title'].toUpperCase() : null,
      };
      return project ? project(projected) : projected;
    },
  };
}

/** A fresh local products table and a helper over it (and over a fresh tags table). */
async function setup(project?: (row: LocalRow) => LocalRow) {
  const n = tableCounter++;
  const products = `carried_products_${n}`;
  const tags = `carried_tags_${n}`;
  await db.raw(`CREATE TABLE ${products} (product_id int PRIMARY KEY, title text NOT NULL,
    price numeric(10,2), released date, updated_at timestamp(6), body text, name_upper text)`);
  await db.raw(`CREATE TABLE ${tags} (id int PRIMARY KEY, label text)`);
  const carried = createCarriedState({
    db,
    mappings: [
      productsMapping(products, project),
      { source: 'public.tags', table: tags, key: ['id'], columns: ['id', 'label'] },
    ],
  });
  await carried.migrate();
  return { carried, products, tags };
}

async function localProducts(table: string): Promise<unknown[]> {
  const result = await db.raw<{ rows: unknown[] }>(
    `SELECT product_id, title, price::text AS price, released::text AS released,
       updated_at::text AS updated_at, body, name_upper FROM ${table} ORDER BY product_id`,
  );
  return result.rows;
}

async function sourceProducts(): Promise<unknown[]> {
  return (await source.sql(PRODUCTS_SQL)).rows as unknown[];
}

async function localTags(table: string): Promise<unknown[]> {
  return (await db.raw<{ rows: unknown[] }>(`SELECT id, label FROM ${table} ORDER BY id`)).rows;
}

async function applyInBatches(
  carried: CarriedState,
  list: readonly ChangeRecord[],
  size: number,
  consumer?: string,
): Promise<{ applied: number; skipped: number }> {
  let applied = 0;
  let skipped = 0;
  for (let i = 0; i < list.length; i += size) {
    const result = await carried.apply(list.slice(i, i + size), { consumer });
    applied += result.applied;
    skipped += result.skipped;
  }
  return { applied, skipped };
}

function events(list: readonly ChangeRecord[] = records): ChangeEventValue[] {
  return list.map((r) => r.value).filter(isChangeEventValue);
}

function isEventOn(table: string, id: number, ops: string) {
  return (record: ChangeRecord): boolean => {
    const { value } = record;
    if (!isChangeEventValue(value) || value.source.table !== table) return false;
    return ops.includes(value.op) && (value.after ?? value.before)?.['id'] === id;
  };
}

describe('carried state from a real connector', () => {
  it('captures the workload the other checks rely on', () => {
    const ops = events().map((e) => `${e.source.table}:${e.op}`);
    expect(ops.filter((o) => o === 'products:r')).toHaveLength(5);
    expect(ops).toContain('tags:t');
    const toastUpdate = events().find((e) => e.op === 'u' && e.after?.['name'] === 'standing desk');
    expect(toastUpdate?.after?.['body']).toBe(UNAVAILABLE_VALUE);
  });

  it('ends equal to the source after snapshot and stream', async () => {
    const { carried, products, tags } = await setup();
    const result = await applyInBatches(carried, records, 3);
    expect(result.skipped).toBe(0);
    expect(await localProducts(products)).toEqual(await sourceProducts());
    expect(await localTags(tags)).toEqual([{ id: 3, label: 'new-c' }]);
  });

  it("deletes by key alone: a DEFAULT delete's fallback values never reach a carried row", async () => {
    // REPLICA IDENTITY DEFAULT: the deletes (3, 8, and 4 of the move to 40) carry the key and, in
    // the NOT NULL name, Debezium's fallback "" instead of the deleted row's value.
    const deletes = records.filter((r) => isChangeEventValue(r.value) && r.value.op === 'd');
    expect(events(deletes).map((e) => [e.before?.['id'], e.before?.['name']])).toEqual([
      [3, ''],
      [4, ''],
      [8, ''],
    ]);
    const { carried, products } = await setup();
    // Deletes first, on a copy that lacks the rows: they write no row and keep the positions.
    await carried.apply(deletes);
    expect(await localProducts(products)).toEqual([]);
    await applyInBatches(carried, records, 4);
    expect(await localProducts(products)).toEqual(await sourceProducts());
    const titles = await db(products).pluck<string[]>('title');
    expect(titles).not.toContain('');
  });

  it('keeps the stored value of an unchanged TOASTed column', async () => {
    const { carried, products } = await setup();
    await carried.apply(records);
    const [desk] = await db(products)
      .where({ product_id: 1 })
      .select<{ title: string; body: string }[]>('title', 'body');
    expect(desk?.title).toBe('standing desk');
    expect(desk?.body).toBe('oak '.repeat(5000));
  });

  it('ends in the same state when every record arrives twice, interleaved', async () => {
    const { carried, products, tags } = await setup();
    const twice = records.flatMap((r) => [r, r]);
    const result = await applyInBatches(carried, twice, 5);
    expect(result.applied).toBe(events().length);
    expect(await localProducts(products)).toEqual(await sourceProducts());
    expect(await localTags(tags)).toEqual([{ id: 3, label: 'new-c' }]);
  });

  it('changes nothing when the whole stream is replayed from the start', async () => {
    const { carried, products, tags } = await setup();
    await applyInBatches(carried, records, 4);
    const rows = await localProducts(products);
    const positions = await db(POSITIONS_TABLE)
      .whereIn('local_table', [products, tags])
      .orderBy(['local_table', 'key_json']);
    const replay = await applyInBatches(carried, records, 7);
    expect(replay).toEqual({ applied: 0, skipped: events().length });
    expect(await localProducts(products)).toEqual(rows);
    expect(await localTags(tags)).toEqual([{ id: 3, label: 'new-c' }]);
    expect(
      await db(POSITIONS_TABLE)
        .whereIn('local_table', [products, tags])
        .orderBy(['local_table', 'key_json']),
    ).toEqual(positions);
  });

  it('skips snapshot reads that arrive after a later streamed change', async () => {
    const { carried, products } = await setup();
    const reads = records.filter((r) => isChangeEventValue(r.value) && r.value.op === 'r');
    const streamed = records.filter((r) => !reads.includes(r));
    await carried.apply(streamed);
    const late = await carried.apply(reads);
    // Rows 1, 2, 3 (deleted), 4 (moved to 40) and 5 changed after the snapshot; tags 1 and 2 were truncated.
    expect(late).toEqual({ applied: 0, skipped: reads.length });
    // Row 1's first event here is an update that did not carry its TOASTed body, and the read
    // that had it is older: the body is unknown, so row 1 is left out rather than invented (a
    // NOT NULL body would fail the batch for good), and the older read cannot bring back a stale
    // row 1 either.
    const expected = (await sourceProducts()).filter(
      (row) => (row as { product_id: number }).product_id !== 1,
    );
    expect(await localProducts(products)).toEqual(expected);
  });

  it('skips an older insert or update that arrives after the delete', async () => {
    const { carried, products } = await setup();
    const del = records.filter(isEventOn('products', 8, 'd'));
    const older = records.filter(isEventOn('products', 8, 'cu'));
    expect(del).toHaveLength(1);
    expect(older).toHaveLength(2);
    expect(await carried.apply(del)).toEqual({ applied: 1, skipped: 0 });
    expect(await carried.apply(older)).toEqual({ applied: 0, skipped: 2 });
    expect(await db(products).where({ product_id: 8 })).toEqual([]);
  });

  it('clears the table on truncate and skips the changes before it', async () => {
    const { carried, tags } = await setup();
    const tagRecords = records.filter(
      (r) => isChangeEventValue(r.value) && r.value.source.table === 'tags',
    );
    const truncateAt = tagRecords.findIndex(
      (r) => isChangeEventValue(r.value) && r.value.op === 't',
    );
    await carried.apply(tagRecords.slice(0, truncateAt));
    expect(await localTags(tags)).toEqual([
      { id: 1, label: 'old-a' },
      { id: 2, label: 'old-b' },
    ]);
    await carried.apply(tagRecords.slice(truncateAt));
    expect(await localTags(tags)).toEqual([{ id: 3, label: 'new-c' }]);
    expect(await carried.apply(tagRecords.slice(0, truncateAt))).toEqual({
      applied: 0,
      skipped: 2,
    });
    expect(await localTags(tags)).toEqual([{ id: 3, label: 'new-c' }]);
  });

  it('keeps rows set after a truncate that arrives late', async () => {
    const { carried, tags } = await setup();
    const tagRecords = records.filter(
      (r) => isChangeEventValue(r.value) && r.value.source.table === 'tags',
    );
    const truncate = tagRecords.filter((r) => isChangeEventValue(r.value) && r.value.op === 't');
    const rest = tagRecords.filter((r) => !truncate.includes(r));
    await carried.apply(rest);
    await carried.apply(truncate);
    expect(await localTags(tags)).toEqual([{ id: 3, label: 'new-c' }]);
  });

  it('leaves nothing half-applied when a batch fails, and converges on retry', async () => {
    let failures = 0;
    const { carried, products, tags } = await setup((row) => {
      if (row['product_id'] === 6 && failures === 0) {
        failures++;
        throw new Error('projection failed on row 6');
      }
      return row;
    });
    await expect(carried.apply(records, { consumer: 'crashy' })).rejects.toThrow(
      'projection failed on row 6',
    );
    expect(await localProducts(products)).toEqual([]);
    expect(await localTags(tags)).toEqual([]);
    expect(await db(POSITIONS_TABLE).whereIn('local_table', [products, tags])).toEqual([]);
    expect(await carried.progress('crashy')).toBeNull();
    expect(carried.lag().eventsApplied).toBe(0);

    const retry = await carried.apply(records, { consumer: 'crashy' });
    expect(retry).toEqual({ applied: events().length, skipped: 0 });
    expect(await localProducts(products)).toEqual(await sourceProducts());
  });

  it('commits the consumer progress with the batch and reports lag', async () => {
    const { carried } = await setup();
    const consumer = `c${tableCounter}`;
    const half = Math.floor(records.length / 2);
    const first = records.slice(0, half);
    await carried.apply(first, { consumer });
    const highest = (list: readonly ChangeRecord[]) =>
      events(list)
        .map((e) => ({ ...basePosition(e), value: e }))
        .reduce((a, b) => (comparePositions({ ...a, index: 0 }, { ...b, index: 0 }) >= 0 ? a : b));
    const afterFirst = await carried.progress(consumer);
    expect(afterFirst).toMatchObject({ commit: highest(first).commit, lsn: highest(first).lsn });

    const start = Date.now();
    await carried.apply(records, { consumer });
    const afterAll = await carried.progress(consumer);
    const last = highest(records);
    expect(afterAll).toMatchObject({ commit: last.commit, lsn: last.lsn });
    // Replaying older records never moves the progress back.
    await carried.apply(first, { consumer });
    expect(await carried.progress(consumer)).toEqual(afterAll);

    const lag = carried.lag(start + 1000);
    expect(lag.eventsApplied).toBe(events().length);
    expect(lag.lastPosition).toEqual(afterAll);
    expect(lag.millisBehindSource).toBe(start + 1000 - last.value.source.ts_ms);
  });
});

describe('positions', () => {
  const event = (op: 'r' | 'u', sequence: [string | null, string]): ChangeEventValue =>
    ({
      op,
      before: null,
      after: null,
      transaction: null,
      source: { sequence: JSON.stringify(sequence), lsn: Number(sequence[1]) },
    }) as unknown as ChangeEventValue;
  const at = (e: ChangeEventValue) => ({ ...basePosition(e), index: 0 });

  it.each([
    [
      'a transaction committed later, with changes at lower LSNs',
      event('u', ['100', '110']),
      event('u', ['120', '90']),
    ],
    [
      'a later change in the same transaction',
      event('u', ['100', '110']),
      event('u', ['100', '111']),
    ],
    [
      'the first streamed change after a snapshot, even below its consistent point',
      event('r', [null, '500']),
      event('u', ['500', '480']),
    ],
    [
      'a fresh snapshot after older streamed changes',
      event('u', ['300', '400']),
      event('r', [null, '600']),
    ],
  ])('orders %s after the earlier event', (_name, earlier, later) => {
    expect(comparePositions(at(earlier), at(later))).toBeLessThan(0);
    expect(comparePositions(at(later), at(earlier))).toBeGreaterThan(0);
  });
});

describe('column converters', () => {
  const mapping = compileMapping({
    source: 'public.t',
    table: 't',
    key: ['id'],
    columns: {
      id: 'id',
      d: { from: 'epochDays' },
      us: { from: 'epochMicros' },
      ms: { name: 'millis', from: 'epochMillis' },
    },
  });

  it.each([
    [
      { id: 1, d: 0, us: 0, ms: 0 },
      {
        id: 1,
        d: '1970-01-01',
        us: '1970-01-01T00:00:00.000000+00:00',
        millis: '1970-01-01T00:00:00.000000+00:00',
      },
    ],
    [
      { id: 2, d: -1, us: -1, ms: -1 },
      {
        id: 2,
        d: '1969-12-31',
        us: '1969-12-31T23:59:59.999999+00:00',
        millis: '1969-12-31T23:59:59.999000+00:00',
      },
    ],
    [
      { id: 3, d: 19782, us: 1740824130123456, ms: 1740824130123 },
      {
        id: 3,
        d: '2024-02-29',
        us: '2025-03-01T10:15:30.123456+00:00',
        millis: '2025-03-01T10:15:30.123000+00:00',
      },
    ],
    [
      { id: 4, d: null, us: 9223372036825200000, ms: null },
      { id: 4, d: null, us: 'infinity', millis: null },
    ],
  ])('maps %j to %j', (row, expected) => {
    expect(mapping.toLocal(row)).toEqual({ row: expected, unavailable: [] });
  });

  it('marks the TOAST placeholder as unavailable instead of mapping it', () => {
    expect(mapping.toLocal({ id: 5, d: UNAVAILABLE_VALUE })).toEqual({
      row: { id: 5 },
      unavailable: ['d'],
    });
  });
});
