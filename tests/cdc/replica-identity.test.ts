/**
 * `before` as REPLICA IDENTITY decides it, primary-key changes split into delete + tombstone +
 * create, and unchanged TOASTed values that Postgres does not send.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-replica-identity
 * and #postgresql-toasted-values
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringifyJson, UNAVAILABLE_VALUE, type ChangeRecord } from '../../cdc/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  type CdcDatabase,
  type TestConnector,
} from './harness.js';
import {
  changeValue,
  envelopeTimes,
  expectedStreamedSource,
  expectSameJson,
  recordsAfter,
} from './records.js';
import { commit, enableWalInspection, type CommittedTransaction } from './transactions.js';

/** The placeholder's UTF-8 bytes, base64: an unchanged TOASTed bytea (binary.handling.mode=bytes). */
const PLACEHOLDER_BASE64 = 'X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==';
/** An unchanged TOASTed int[]: one element per placeholder byte (Debezium 2.x UnchangedToastedPlaceholder). */
const PLACEHOLDER_NUMBERS = [...Buffer.from(UNAVAILABLE_VALUE, 'utf8')];

let db: CdcDatabase;
let cdc: TestConnector;
/** The same stream with `binaryHandling: 'hex'` and `decimalHandling: 'precise'`. */
let alt: TestConnector;
let previous: CommittedTransaction;

beforeAll(async () => {
  db = await createCdcDatabase();
  await enableWalInspection(db);
  for (const [table, identity] of [
    ['ri_default', 'DEFAULT'],
    ['ri_full', 'FULL'],
  ] as const) {
    await db.sql(`CREATE TABLE ${table} (id int PRIMARY KEY, name text, qty int)`);
    await db.sql(`ALTER TABLE ${table} REPLICA IDENTITY ${identity}`);
  }
  await db.sql('CREATE TABLE ri_nokey (name text, qty int)');
  await db.sql('ALTER TABLE ri_nokey REPLICA IDENTITY FULL');
  await db.sql('CREATE TABLE ri_bigkey (id bigint PRIMARY KEY, name text)');
  await db.sql('CREATE TABLE ri_numkey (id numeric PRIMARY KEY, name text)');
  await db.sql('ALTER TABLE ri_numkey REPLICA IDENTITY FULL');
  for (const [table, identity] of [
    ['toast_default', 'DEFAULT'],
    ['toast_full', 'FULL'],
  ] as const) {
    await db.sql(
      `CREATE TABLE ${table} (id int PRIMARY KEY, note text, doc jsonb, blob bytea, tags text[], nums int[], small int)`,
    );
    await db.sql(`ALTER TABLE ${table} REPLICA IDENTITY ${identity}`);
    // Out of line and uncompressed, so every large value is TOASTed whatever its content.
    for (const column of ['note', 'doc', 'blob', 'tags', 'nums']) {
      await db.sql(`ALTER TABLE ${table} ALTER COLUMN ${column} SET STORAGE EXTERNAL`);
    }
  }
  cdc = await startTestConnector(db.url, { snapshotMode: 'never' });
  alt = await startTestConnector(db.url, {
    snapshotMode: 'never',
    typeOptions: {
      decimalHandling: 'precise',
      timePrecision: 'adaptive',
      binaryHandling: 'hex',
      intervalHandling: 'numeric',
    },
  });
  await recordsAfter(cdc, 1, async () => {
    previous = await commit(db, ["INSERT INTO ri_default VALUES (0, 'warm-up', 0)"]);
  });
});

afterAll(async () => {
  await cdc?.stop();
  await alt?.stop();
  await db?.cleanup();
});

/** Commits `statements` and returns the next `count` records plus what `source` must say. */
async function write(statements: string[], count: number) {
  let tx!: CommittedTransaction;
  const lastCommitLsn = previous.commitEndLsn;
  const records = await recordsAfter(cdc, count, async () => {
    tx = await commit(db, statements);
  });
  previous = tx;
  /** The expected envelope of `record`, a change of `table` at the transaction's `index`th change. */
  const envelope = (
    record: ChangeRecord | undefined,
    table: string,
    parts: { before: unknown; after: unknown; op: string },
    index = 0,
  ) => {
    const value = changeValue(record);
    return {
      before: parts.before,
      after: parts.after,
      source: expectedStreamedSource(value.source, {
        database: db.name,
        table,
        tx,
        lsn: tx.changeLsns[index]!,
        lastCommitLsn,
      }),
      transaction: null,
      op: parts.op,
      ...envelopeTimes(value),
    };
  };
  return { tx, records, envelope };
}

describe('REPLICA IDENTITY DEFAULT', () => {
  it('gives an update a null before', async () => {
    await write(["INSERT INTO ri_default VALUES (1, 'one', 1)"], 1);
    const { records, envelope } = await write(
      ["UPDATE ri_default SET name = 'uno' WHERE id = 1"],
      1,
    );
    expectSameJson(records, [
      {
        topic: 'test.public.ri_default',
        key: { id: 1 },
        value: envelope(records[0], 'ri_default', {
          before: null,
          after: { id: 1, name: 'uno', qty: 1 },
          op: 'u',
        }),
      },
    ]);
  });

  it('gives a delete a before with every column and only the key filled', async () => {
    const { records, envelope } = await write(['DELETE FROM ri_default WHERE id = 1'], 2);
    expectSameJson(records, [
      {
        topic: 'test.public.ri_default',
        key: { id: 1 },
        value: envelope(records[0], 'ri_default', {
          before: { id: 1, name: null, qty: null },
          after: null,
          op: 'd',
        }),
      },
      { topic: 'test.public.ri_default', key: { id: 1 }, value: null },
    ]);
  });

  it('splits a primary-key change into delete, tombstone and create', async () => {
    await write(["INSERT INTO ri_default VALUES (2, 'two', 2)"], 1);
    const { records, envelope } = await write(['UPDATE ri_default SET id = 20 WHERE id = 2'], 3);
    expectSameJson(records, [
      {
        topic: 'test.public.ri_default',
        key: { id: 2 },
        value: envelope(records[0], 'ri_default', {
          before: { id: 2, name: null, qty: null },
          after: null,
          op: 'd',
        }),
        headers: { '__debezium.newkey': '{"id":20}' },
      },
      {
        topic: 'test.public.ri_default',
        key: { id: 2 },
        value: null,
        headers: { '__debezium.newkey': '{"id":20}' },
      },
      {
        topic: 'test.public.ri_default',
        key: { id: 20 },
        value: envelope(records[2], 'ri_default', {
          before: null,
          after: { id: 20, name: 'two', qty: 2 },
          op: 'c',
        }),
        headers: { '__debezium.oldkey': '{"id":2}' },
      },
    ]);
  });

  it('writes a primary-key change of keys beyond 2^53 exactly, headers included', async () => {
    await write(["INSERT INTO ri_bigkey VALUES (9007199254740993, 'big')"], 1);
    const { records } = await write(
      ['UPDATE ri_bigkey SET id = 9007199254740995 WHERE id = 9007199254740993'],
      3,
    );
    expect(records.map((r) => stringifyJson([r.key, r.headers ?? null]))).toEqual([
      '[{"id":9007199254740993},{"__debezium.newkey":"{\\"id\\":9007199254740995}"}]',
      '[{"id":9007199254740993},{"__debezium.newkey":"{\\"id\\":9007199254740995}"}]',
      '[{"id":9007199254740995},{"__debezium.oldkey":"{\\"id\\":9007199254740993}"}]',
    ]);
    expect(stringifyJson(changeValue(records[2]).after)).toBe(
      '{"id":9007199254740995,"name":"big"}',
    );
  });
});

describe('REPLICA IDENTITY FULL', () => {
  it('keeps an update that leaves an object-valued key alone an update', async () => {
    // Under decimal.handling.mode=precise an unconstrained numeric key is {scale, value}.
    await write(["INSERT INTO ri_numkey VALUES (1.5, 'a')"], 1);
    await write(["UPDATE ri_numkey SET name = 'b' WHERE id = 1.5"], 1);
    const changes = () =>
      alt.records
        .filter((r) => r.topic === 'test.public.ri_numkey')
        .map((r) => [r.key, r.value && changeValue(r).op]);
    await alt.waitFor(() => changes().length >= 2);
    expect(changes()).toEqual([
      [{ id: { scale: 1, value: 'Dw==' } }, 'c'],
      [{ id: { scale: 1, value: 'Dw==' } }, 'u'],
    ]);
  });

  it('gives an update the whole old row as before', async () => {
    await write(["INSERT INTO ri_full VALUES (1, 'one', 1)"], 1);
    const { records, envelope } = await write(
      ["UPDATE ri_full SET name = 'uno', qty = NULL WHERE id = 1"],
      1,
    );
    expectSameJson(records, [
      {
        topic: 'test.public.ri_full',
        key: { id: 1 },
        value: envelope(records[0], 'ri_full', {
          before: { id: 1, name: 'one', qty: 1 },
          after: { id: 1, name: 'uno', qty: null },
          op: 'u',
        }),
      },
    ]);
  });

  it('gives a delete the whole old row as before', async () => {
    const { records, envelope } = await write(['DELETE FROM ri_full WHERE id = 1'], 2);
    expectSameJson(records, [
      {
        topic: 'test.public.ri_full',
        key: { id: 1 },
        value: envelope(records[0], 'ri_full', {
          before: { id: 1, name: 'uno', qty: null },
          after: null,
          op: 'd',
        }),
      },
      { topic: 'test.public.ri_full', key: { id: 1 }, value: null },
    ]);
  });

  it('splits a primary-key change with the whole old row in the delete', async () => {
    await write(["INSERT INTO ri_full VALUES (2, 'two', 2)"], 1);
    const { records, envelope } = await write(
      ["UPDATE ri_full SET id = 20, name = 'twenty' WHERE id = 2"],
      3,
    );
    expectSameJson(records, [
      {
        topic: 'test.public.ri_full',
        key: { id: 2 },
        value: envelope(records[0], 'ri_full', {
          before: { id: 2, name: 'two', qty: 2 },
          after: null,
          op: 'd',
        }),
        headers: { '__debezium.newkey': '{"id":20}' },
      },
      {
        topic: 'test.public.ri_full',
        key: { id: 2 },
        value: null,
        headers: { '__debezium.newkey': '{"id":20}' },
      },
      {
        topic: 'test.public.ri_full',
        key: { id: 20 },
        value: envelope(records[2], 'ri_full', {
          before: null,
          after: { id: 20, name: 'twenty', qty: 2 },
          op: 'c',
        }),
        headers: { '__debezium.oldkey': '{"id":2}' },
      },
    ]);
  });

  it('keys the changes of a table without a primary key with null', async () => {
    await write(["INSERT INTO ri_nokey VALUES ('n', 1)"], 1);
    const { records, envelope } = await write(["UPDATE ri_nokey SET qty = 2 WHERE name = 'n'"], 1);
    expectSameJson(records, [
      {
        topic: 'test.public.ri_nokey',
        key: null,
        value: envelope(records[0], 'ri_nokey', {
          before: { name: 'n', qty: 1 },
          after: { name: 'n', qty: 2 },
          op: 'u',
        }),
      },
    ]);
    const deleted = await write(["DELETE FROM ri_nokey WHERE name = 'n'"], 2);
    // Debezium's dispatcher emits the tombstone without checking the key (derived from its code).
    expectSameJson(deleted.records, [
      {
        topic: 'test.public.ri_nokey',
        key: null,
        value: deleted.envelope(deleted.records[0], 'ri_nokey', {
          before: { name: 'n', qty: 2 },
          after: null,
          op: 'd',
        }),
      },
      { topic: 'test.public.ri_nokey', key: null, value: null },
    ]);
  });
});

describe('unchanged TOASTed values', () => {
  const note = 'n'.repeat(10_000);
  const doc = `{"k": "${'j'.repeat(10_000)}"}`;
  const blob = Buffer.alloc(6_000, 0xab);
  const tags = Array.from({ length: 2_500 }, () => 'tag');
  const nums = Array.from({ length: 3_000 }, () => 7);
  const insert = (table: string, id: number) =>
    `INSERT INTO ${table} VALUES (${id}, repeat('n', 10000), jsonb_build_object('k', repeat('j', 10000)),
       decode(repeat('ab', 6000), 'hex'), array_fill('tag'::text, ARRAY[2500]), array_fill(7, ARRAY[3000]), 1)`;
  const full = { note, doc, blob: blob.toString('base64'), tags, nums };
  const unavailable = {
    note: UNAVAILABLE_VALUE,
    doc: UNAVAILABLE_VALUE,
    blob: PLACEHOLDER_BASE64,
    tags: [UNAVAILABLE_VALUE],
    nums: PLACEHOLDER_NUMBERS,
  };

  it('are sent whole on insert', async () => {
    const { records } = await write([insert('toast_default', 1)], 1);
    expect(changeValue(records[0]).after).toEqual({ id: 1, ...full, small: 1 });
  });

  it('become the placeholder under DEFAULT when an update leaves them alone', async () => {
    const { records } = await write(['UPDATE toast_default SET small = 2 WHERE id = 1'], 1);
    const value = changeValue(records[0]);
    expect(value.before).toBeNull();
    expectSameJson(value.after, { id: 1, ...unavailable, small: 2 });
    const updated = () => alt.events().find((v) => v.op === 'u' && v.after?.small === 2);
    await alt.waitFor(() => updated() !== undefined);
    const hexAfter = updated()?.after;
    // Debezium's hex mode writes the placeholder string itself (PostgresValueConverter
    // convertBinaryToHex), not the hex of its bytes.
    expect(hexAfter?.blob).toBe(UNAVAILABLE_VALUE);
  });

  it('become the placeholder in the create of a primary-key change under DEFAULT', async () => {
    const { records } = await write(['UPDATE toast_default SET id = 10 WHERE id = 1'], 3);
    expect(records.map((r) => (r.value === null ? null : changeValue(r).op))).toEqual([
      'd',
      null,
      'c',
    ]);
    expectSameJson(changeValue(records[0]).before, {
      id: 1,
      note: null,
      doc: null,
      blob: null,
      tags: null,
      nums: null,
      small: null,
    });
    expectSameJson(changeValue(records[2]).after, { id: 10, ...unavailable, small: 2 });
  });

  it('are null in the before of a delete under DEFAULT', async () => {
    const { records } = await write(['DELETE FROM toast_default WHERE id = 10'], 2);
    expectSameJson(changeValue(records[0]).before, {
      id: 10,
      note: null,
      doc: null,
      blob: null,
      tags: null,
      nums: null,
      small: null,
    });
  });

  it('carry the old value over under FULL', async () => {
    await write([insert('toast_full', 1)], 1);
    const { records } = await write(['UPDATE toast_full SET small = 2 WHERE id = 1'], 1);
    const value = changeValue(records[0]);
    expectSameJson(value.before, { id: 1, ...full, small: 1 });
    expectSameJson(value.after, { id: 1, ...full, small: 2 });
    const changed = await write(['UPDATE toast_full SET id = 10 WHERE id = 1'], 3);
    expectSameJson(changeValue(changed.records[0]).before, { id: 1, ...full, small: 2 });
    expectSameJson(changeValue(changed.records[2]).after, { id: 10, ...full, small: 2 });
    const deleted = await write(['DELETE FROM toast_full WHERE id = 10'], 2);
    expectSameJson(changeValue(deleted.records[0]).before, { id: 10, ...full, small: 2 });
  });
});
