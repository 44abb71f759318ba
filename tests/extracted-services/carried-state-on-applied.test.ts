/**
 * The carried-state helper's `onApplied` hook on a real connector: what it is handed (only the
 * changes the batch applied, as local rows), and that it runs inside the batch's transaction, so
 * what it writes commits with the carried rows and the consumer's progress or not at all.
 */
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isChangeEventValue, type ChangeRecord } from '../../cdc/index.js';
import {
  createCarriedState,
  encodePosition,
  type AppliedChange,
  type TableMapping,
} from '../../extracted-services/carried-state/index.js';
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

const OAK = 'oak '.repeat(5000);

beforeAll(async () => {
  source = await createCdcDatabase();
  await source.sql('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, body text)');
  // Out of line and uncompressed, so an update that leaves the long body alone carries the
  // TOAST placeholder and the hook must see the stored value instead.
  await source.sql('ALTER TABLE items ALTER COLUMN body SET STORAGE EXTERNAL');
  await source.sql('CREATE TABLE audits (id int PRIMARY KEY, note text)');
  await source.sql('ALTER TABLE audits REPLICA IDENTITY FULL');
  await source.sql(`INSERT INTO items VALUES (1, 'desk', $1), (2, 'chair', 'short')`, [OAK]);
  await source.sql("INSERT INTO audits VALUES (1, 'first')");

  cdc = await startTestConnector(source.url, {
    tableIncludeList: ['public.items', 'public.audits'],
  });
  await source.sql("INSERT INTO items VALUES (3, 'lamp', 'bright')");
  await source.sql("UPDATE items SET name = 'standing desk' WHERE id = 1");
  await source.sql('DELETE FROM items WHERE id = 2');
  await source.sql("UPDATE audits SET note = 'second' WHERE id = 1");
  await source.sql('DELETE FROM audits WHERE id = 1');
  await source.sql('TRUNCATE audits');
  await source.sql("INSERT INTO items VALUES (99, 'marker', NULL)");
  await cdc.waitFor((all) =>
    all.some((r) => isChangeEventValue(r.value) && r.value.after?.['id'] === 99),
  );
  records = [...cdc.records];

  service = await createTestDatabase('on_applied');
  db = knex({ client: 'pg', connection: service.url, pool: { min: 0, max: 4 } });
});

afterAll(async () => {
  await cdc?.stop();
  await db?.destroy();
  await service?.drop();
  await source?.cleanup();
});

/** Fresh local tables and a helper over them. */
async function setup() {
  const n = tableCounter++;
  const items = `hook_items_${n}`;
  const audits = `hook_audits_${n}`;
  const reactions = `hook_reactions_${n}`;
  await db.raw(
    `CREATE TABLE ${items} (item_id int PRIMARY KEY, title text NOT NULL, body text, title_upper text)`,
  );
  await db.raw(`CREATE TABLE ${audits} (id int PRIMARY KEY, note text)`);
  await db.raw(
    `CREATE TABLE ${reactions} (id serial PRIMARY KEY, position text NOT NULL, what text NOT NULL)`,
  );
  const mappings: TableMapping[] = [
    {
      source: 'public.items',
      table: items,
      key: ['id'],
      columns: { id: 'item_id', name: 'title', body: 'body' },
      project: (row) => ({
        ...row,
        title_upper: typeof row['title'] === 'string' ? row['title'].toUpperCase() : null,
      }),
    },
    { source: 'public.audits', table: audits, key: ['id'], columns: ['id', 'note'] },
  ];
  const carried = createCarriedState({ db, mappings });
  await carried.migrate();
  return { carried, items, audits, reactions };
}

/** What a change says, with the long body shortened so a failure stays readable. */
function summary(change: AppliedChange) {
  const shorten = (row: Record<string, unknown> | null) =>
    row === null
      ? null
      : Object.fromEntries(
          Object.entries(row).map(([k, v]) => [k, v === OAK ? '<oak x 5000>' : v]),
        );
  return {
    table: change.table.replace(/_\d+$/, ''),
    op: change.op,
    key: change.key,
    row: shorten(change.row),
    before: shorten(change.before),
  };
}

function isChange(record: ChangeRecord): boolean {
  return isChangeEventValue(record.value);
}

describe('carried-state onApplied', () => {
  it('hands over every applied change as local rows, in batch order', async () => {
    const { carried } = await setup();
    const seen: AppliedChange[][] = [];
    const result = await carried.apply(records, {
      onApplied: (_trx, changes) => void seen.push([...changes]),
    });
    expect(result).toEqual({ applied: 10, skipped: 0 });
    expect(seen).toHaveLength(1);
    const reads = seen[0]!.slice(0, 3).map(summary);
    expect(reads).toEqual(
      expect.arrayContaining([
        {
          table: 'hook_items',
          op: 'r',
          key: { item_id: 1 },
          row: { item_id: 1, title: 'desk', body: '<oak x 5000>', title_upper: 'DESK' },
          before: null,
        },
        {
          table: 'hook_items',
          op: 'r',
          key: { item_id: 2 },
          row: { item_id: 2, title: 'chair', body: 'short', title_upper: 'CHAIR' },
          before: null,
        },
        {
          table: 'hook_audits',
          op: 'r',
          key: { id: 1 },
          row: { id: 1, note: 'first' },
          before: null,
        },
      ]),
    );
    expect(seen[0]!.slice(3).map(summary)).toEqual([
      {
        table: 'hook_items',
        op: 'c',
        key: { item_id: 3 },
        row: { item_id: 3, title: 'lamp', body: 'bright', title_upper: 'LAMP' },
        before: null,
      },
      {
        // The body was not sent (TOAST); the hook sees the value the local row kept.
        table: 'hook_items',
        op: 'u',
        key: { item_id: 1 },
        row: {
          item_id: 1,
          title: 'standing desk',
          body: '<oak x 5000>',
          title_upper: 'STANDING DESK',
        },
        before: null,
      },
      {
        table: 'hook_items',
        op: 'd',
        key: { item_id: 2 },
        row: null,
        // REPLICA IDENTITY DEFAULT: the key; the other columns Debezium's fallback when NOT NULL
        // (name text NOT NULL: ""), else null. Not the deleted row's values.
        before: { item_id: 2, title: '', body: null },
      },
      {
        table: 'hook_audits',
        op: 'u',
        key: { id: 1 },
        row: { id: 1, note: 'second' },
        before: { id: 1, note: 'first' },
      },
      {
        table: 'hook_audits',
        op: 'd',
        key: { id: 1 },
        row: null,
        before: { id: 1, note: 'second' },
      },
      { table: 'hook_audits', op: 't', key: null, row: null, before: null },
      {
        table: 'hook_items',
        op: 'c',
        key: { item_id: 99 },
        row: { item_id: 99, title: 'marker', body: null, title_upper: 'MARKER' },
        before: null,
      },
    ]);
    const changeRecords = records.filter(isChange);
    expect(seen[0]!.map((c) => c.record)).toEqual(changeRecords);
    expect(seen[0]!.map((c) => c.event)).toEqual(changeRecords.map((r) => r.value));
  });

  it('never hands over a duplicate, a replayed or a stale change', async () => {
    const { carried } = await setup();
    const seen: AppliedChange[] = [];
    const onApplied = (_trx: Knex.Transaction, changes: readonly AppliedChange[]) => {
      seen.push(...changes);
    };
    const changeRecords = records.filter(isChange);
    const update = changeRecords.find(
      (r) => isChangeEventValue(r.value) && r.value.op === 'u' && r.value.source.table === 'items',
    )!;
    const read = changeRecords.find(
      (r) =>
        isChangeEventValue(r.value) &&
        r.value.op === 'r' &&
        r.value.source.table === 'items' &&
        r.value.after?.['id'] === 1,
    )!;

    // The update leaves item 1's TOASTed note out and the copy has no item 1 yet: nothing to
    // write (the note is unknown), so nothing is handed over, but its position is kept.
    expect(await carried.apply([update], { onApplied })).toEqual({ applied: 0, skipped: 1 });
    expect(seen).toEqual([]);
    // The snapshot read of item 1 shows it before that update, so it is stale.
    expect(await carried.apply([read], { onApplied })).toEqual({ applied: 0, skipped: 1 });
    expect(seen).toEqual([]);

    const half = Math.floor(records.length / 2);
    await carried.apply(records.slice(0, half), { onApplied });
    const before = seen.length;
    await carried.apply(records, { onApplied });
    await carried.apply(records, { onApplied });
    const again = seen.slice(before);
    expect(again.length).toBeGreaterThan(0);
    // Everything after the first half, except what the update already covered.
    const expected = records
      .slice(half)
      .filter(isChange)
      .filter((r) => r !== update);
    expect(again.map((c) => c.record)).toEqual(expected);
    expect(seen.length).toBe(records.filter(isChange).length - 2);
  });

  it('runs inside the batch transaction: its writes commit with the rows and the progress, or not at all', async () => {
    const { carried, items, reactions } = await setup();
    const consumer = 'hook-test';
    const react =
      (fail: boolean) => async (trx: Knex.Transaction, changes: readonly AppliedChange[]) => {
        const inside = await trx(items).count<{ count: string }[]>({ count: '*' });
        const outside = await db(items).count<{ count: string }[]>({ count: '*' });
        visible.push({ inside: Number(inside[0]!.count), outside: Number(outside[0]!.count) });
        await trx(reactions).insert(
          changes.map((c) => ({
            position: encodePosition(c.position),
            what: `${c.table}:${c.op}`,
          })),
        );
        if (fail) throw new Error('reaction failed');
      };
    const visible: { inside: number; outside: number }[] = [];

    await expect(carried.apply(records, { consumer, onApplied: react(true) })).rejects.toThrow(
      'reaction failed',
    );
    expect(visible).toEqual([{ inside: 3, outside: 0 }]);
    expect(await db(items).count<{ count: string }[]>({ count: '*' })).toEqual([{ count: '0' }]);
    expect(await db(reactions).count<{ count: string }[]>({ count: '*' })).toEqual([
      { count: '0' },
    ]);
    expect(await carried.progress(consumer)).toBeNull();

    const result = await carried.apply(records, { consumer, onApplied: react(false) });
    expect(result).toEqual({ applied: 10, skipped: 0 });
    expect(visible[1]).toEqual({ inside: 3, outside: 0 });
    expect(await db(reactions).count<{ count: string }[]>({ count: '*' })).toEqual([
      { count: '10' },
    ]);
    expect(await carried.progress(consumer)).not.toBeNull();

    // A redelivery applies nothing, so the hook is not called and writes nothing.
    const again = await carried.apply(records, { consumer, onApplied: react(true) });
    expect(again).toEqual({ applied: 0, skipped: 10 });
    expect(visible).toHaveLength(2);
  });
});
