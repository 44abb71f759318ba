/**
 * The exact records a streamed insert, update, delete and truncate become, field by field and in
 * Debezium's key order, plus the switches that turn tombstones and truncates off.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-events
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  expectedStreamedSource,
  expectSameJson,
  recordsAfter,
  SOURCE_FIELDS,
} from './records.js';
import { commit, enableWalInspection, type CommittedTransaction } from './transactions.js';

describe('streamed change events', () => {
  let db: CdcDatabase;
  /** ficus's defaults: tombstones on, truncates emitted (Debezium skips them by default). */
  let cdc: TestConnector;
  /** `tombstonesOnDelete: false`, `skippedOperations: ['t']`. */
  let quiet: TestConnector;
  /** The last transaction written, whose commit end is the next one's `sequence[0]`. */
  let previous: CommittedTransaction;

  beforeAll(async () => {
    db = await createCdcDatabase();
    await enableWalInspection(db);
    await db.sql('CREATE TABLE env_items (id int PRIMARY KEY, name text NOT NULL, qty int)');
    await db.sql(
      'CREATE TABLE env_lines (sku text, line int, order_id int, PRIMARY KEY (order_id, line))',
    );
    await db.sql('CREATE TABLE env_trunc_a (id int PRIMARY KEY)');
    await db.sql('CREATE TABLE env_trunc_b (id int PRIMARY KEY)');
    await db.sql('INSERT INTO env_trunc_a VALUES (1)');
    await db.sql('INSERT INTO env_trunc_b VALUES (1)');
    cdc = await startTestConnector(db.url, { snapshotMode: 'never' });
    quiet = await startTestConnector(db.url, {
      snapshotMode: 'never',
      tombstonesOnDelete: false,
      skippedOperations: ['t'],
    });
    // A first transaction, so every later one has a known last commit.
    const [record] = await recordsAfter(cdc, 1, async () => {
      previous = await commit(db, ["INSERT INTO env_items VALUES (100, 'warm-up', 0)"]);
    });
    expect(changeValue(record).op).toBe('c');
    await quiet.waitFor((records) => records.length >= 1);
  });

  afterAll(async () => {
    await cdc?.stop();
    await quiet?.stop();
    await db?.cleanup();
  });

  /** Commits `statements` and returns the next `count` records of the default connector. */
  async function write(statements: string[], count: number) {
    let tx!: CommittedTransaction;
    const lastCommitLsn = previous.commitEndLsn;
    const records = await recordsAfter(cdc, count, async () => {
      tx = await commit(db, statements);
    });
    previous = tx;
    return { tx, records, lastCommitLsn };
  }

  it('writes an insert as a create keyed by the primary key, in Debezium field order', async () => {
    const { tx, records, lastCommitLsn } = await write(
      ["INSERT INTO env_items VALUES (1, 'apple', 3)"],
      1,
    );
    expect(records).toHaveLength(1);
    const value = changeValue(records[0]);
    expect(Object.keys(value)).toEqual(ENVELOPE_FIELDS);
    expect(Object.keys(value.source)).toEqual(SOURCE_FIELDS);
    expect(tx.changeLsns).toHaveLength(1);
    expectSameJson(records[0], {
      topic: 'test.public.env_items',
      key: { id: 1 },
      value: {
        before: null,
        after: { id: 1, name: 'apple', qty: 3 },
        source: expectedStreamedSource(value.source, {
          database: db.name,
          table: 'env_items',
          tx,
          lsn: tx.changeLsns[0]!,
          lastCommitLsn,
        }),
        transaction: null,
        op: 'c',
        ...envelopeTimes(value),
      },
    });
  });

  it('writes an update under REPLICA IDENTITY DEFAULT with a null before', async () => {
    const { tx, records, lastCommitLsn } = await write(
      ["UPDATE env_items SET name = 'pear', qty = NULL WHERE id = 1"],
      1,
    );
    const value = changeValue(records[0]);
    expectSameJson(records, [
      {
        topic: 'test.public.env_items',
        key: { id: 1 },
        value: {
          before: null,
          after: { id: 1, name: 'pear', qty: null },
          source: expectedStreamedSource(value.source, {
            database: db.name,
            table: 'env_items',
            tx,
            lsn: tx.changeLsns[0]!,
            lastCommitLsn,
          }),
          transaction: null,
          op: 'u',
          ...envelopeTimes(value),
        },
      },
    ]);
  });

  it('writes a delete with the key columns in before, then a tombstone', async () => {
    const { tx, records, lastCommitLsn } = await write(['DELETE FROM env_items WHERE id = 1'], 2);
    const value = changeValue(records[0]);
    expectSameJson(records, [
      {
        topic: 'test.public.env_items',
        key: { id: 1 },
        value: {
          // Every column; only the key was sent. `name` is NOT NULL, so it gets Debezium's
          // fallback for text (JdbcValueConverters#convertString: ""); nullable `qty` stays null.
          before: { id: 1, name: '', qty: null },
          after: null,
          source: expectedStreamedSource(value.source, {
            database: db.name,
            table: 'env_items',
            tx,
            lsn: tx.changeLsns[0]!,
            lastCommitLsn,
          }),
          transaction: null,
          op: 'd',
          ...envelopeTimes(value),
        },
      },
      { topic: 'test.public.env_items', key: { id: 1 }, value: null },
    ]);
  });

  it('writes no tombstone with tombstonesOnDelete: false', async () => {
    await commit(db, ["INSERT INTO env_items VALUES (2, 'plum', 1)"]);
    await commit(db, ['DELETE FROM env_items WHERE id = 2']);
    previous = await commit(db, ["INSERT INTO env_items VALUES (3, 'marker', 0)"]);
    const ops = (connector: TestConnector) =>
      connector.records
        .filter((r) => r.topic === 'test.public.env_items' && (r.key?.id === 2 || r.key?.id === 3))
        .map((r) => [r.key?.id, r.value === null ? 'tombstone' : changeValue(r).op]);
    await quiet.waitFor(() => ops(quiet).length >= 3);
    await cdc.waitFor(() => ops(cdc).length >= 4);
    expect(ops(quiet)).toEqual([
      [2, 'c'],
      [2, 'd'],
      [3, 'c'],
    ]);
    expect(ops(cdc)).toEqual([
      [2, 'c'],
      [2, 'd'],
      [2, 'tombstone'],
      [3, 'c'],
    ]);
  });

  it('keys a composite primary key in key order, not column order', async () => {
    const { tx, records, lastCommitLsn } = await write(
      ["INSERT INTO env_lines VALUES ('sku-1', 2, 7)"],
      1,
    );
    const value = changeValue(records[0]);
    expectSameJson(records[0], {
      topic: 'test.public.env_lines',
      key: { order_id: 7, line: 2 },
      value: {
        before: null,
        after: { sku: 'sku-1', line: 2, order_id: 7 },
        source: expectedStreamedSource(value.source, {
          database: db.name,
          table: 'env_lines',
          tx,
          lsn: tx.changeLsns[0]!,
          lastCommitLsn,
        }),
        transaction: null,
        op: 'c',
        ...envelopeTimes(value),
      },
    });
  });

  it('gives each change of a transaction its own LSN and the same txId and commit time', async () => {
    const { tx, records, lastCommitLsn } = await write(
      [
        "INSERT INTO env_items VALUES (10, 'a', 1)",
        "INSERT INTO env_items VALUES (11, 'b', 2)",
        'UPDATE env_items SET qty = 5 WHERE id = 10',
      ],
      3,
    );
    expect(tx.changeLsns).toHaveLength(3);
    const values = records.map(changeValue);
    expect(values.map((v) => v.op)).toEqual(['c', 'c', 'u']);
    values.forEach((value, i) => {
      expect(value.source).toEqual(
        expectedStreamedSource(value.source, {
          database: db.name,
          table: 'env_items',
          tx,
          lsn: tx.changeLsns[i]!,
          lastCommitLsn,
        }),
      );
    });
    expect(new Set(values.map((v) => v.source.ts_us)).size).toBe(1);
  });

  it('writes a truncate as one op "t" record per table, with a null key', async () => {
    const { tx, records, lastCommitLsn } = await write(['TRUNCATE env_trunc_a, env_trunc_b'], 2);
    // One heap TRUNCATE record for the statement; both events carry its LSN.
    const truncates = tx.walRecords.filter((r) => r.manager === 'Heap' && r.type === 'TRUNCATE');
    expect(truncates).toHaveLength(1);
    expectSameJson(
      records,
      ['env_trunc_a', 'env_trunc_b'].map((table, i) => {
        const value = changeValue(records[i]);
        return {
          topic: `test.public.${table}`,
          key: null,
          value: {
            before: null,
            after: null,
            source: expectedStreamedSource(value.source, {
              database: db.name,
              table,
              tx,
              lsn: truncates[0]!.lsn,
              lastCommitLsn,
            }),
            transaction: null,
            op: 't',
            ...envelopeTimes(value),
          },
        };
      }),
    );
  });

  it("writes no truncate with skippedOperations: ['t']", async () => {
    await commit(db, ['TRUNCATE env_trunc_a']);
    previous = await commit(db, ['INSERT INTO env_trunc_a VALUES (2)']);
    const ops = (connector: TestConnector) =>
      connector.records
        .filter((r) => r.topic.startsWith('test.public.env_trunc_'))
        .map((r) => [r.topic, changeValue(r).op]);
    await quiet.waitFor(() => ops(quiet).length >= 1);
    await cdc.waitFor(() => ops(cdc).length >= 4);
    // Neither this truncate nor the one of both tables in the test before.
    expect(ops(quiet)).toEqual([['test.public.env_trunc_a', 'c']]);
    expect(ops(cdc)).toEqual([
      ['test.public.env_trunc_a', 't'],
      ['test.public.env_trunc_b', 't'],
      ['test.public.env_trunc_a', 't'],
      ['test.public.env_trunc_a', 'c'],
    ]);
  });
});

describe('transaction metadata', () => {
  let db: CdcDatabase;
  let cdc: TestConnector;

  beforeAll(async () => {
    db = await createCdcDatabase();
    await enableWalInspection(db);
    await db.sql('CREATE TABLE tx_orders (id int PRIMARY KEY, total int)');
    await db.sql('CREATE TABLE tx_lines (id int PRIMARY KEY, order_id int)');
    cdc = await startTestConnector(db.url, {
      snapshotMode: 'never',
      provideTransactionMetadata: true,
    });
  });

  afterAll(async () => {
    await cdc?.stop();
    await db?.cleanup();
  });

  it('brackets a transaction with BEGIN and END and numbers its events', async () => {
    let tx!: CommittedTransaction;
    const records = await recordsAfter(cdc, 6, async () => {
      tx = await commit(db, [
        'INSERT INTO tx_orders VALUES (1, 10)',
        'INSERT INTO tx_lines VALUES (1, 1)',
        'INSERT INTO tx_lines VALUES (2, 1)',
        'UPDATE tx_orders SET total = 20 WHERE id = 1',
      ]);
    });
    expect(records.map((r) => r.topic)).toEqual([
      'test.transaction',
      'test.public.tx_orders',
      'test.public.tx_lines',
      'test.public.tx_lines',
      'test.public.tx_orders',
      'test.transaction',
    ]);
    const [begin, ...rest] = records;
    const end = rest.pop();
    const events = rest.map(changeValue);
    const commitMs = events[0]!.source.ts_ms;

    // Debezium's id is "<txId>:<LSN of that message>": BEGIN carries the transaction's first LSN.
    const beginId = `${tx.txId}:${tx.firstLsn}`;
    // END: ficus uses the commit record's start LSN. Debezium takes the LSN the COMMIT message
    // arrived at, which Postgres sets to the commit record's end — unverified, see the docs.
    const endId = `${tx.txId}:${tx.commitLsn}`;
    expectSameJson(begin, {
      topic: 'test.transaction',
      key: { id: beginId },
      value: {
        status: 'BEGIN',
        id: beginId,
        event_count: null,
        data_collections: null,
        ts_ms: commitMs,
      },
    });
    expectSameJson(end, {
      topic: 'test.transaction',
      key: { id: endId },
      value: {
        status: 'END',
        id: endId,
        event_count: 4,
        // In order of first change; Debezium keeps these counts in a HashMap (order unspecified).
        data_collections: [
          { data_collection: 'public.tx_orders', event_count: 2 },
          { data_collection: 'public.tx_lines', event_count: 2 },
        ],
        ts_ms: commitMs,
      },
    });

    expectSameJson(
      events.map((e) => e.transaction),
      [
        { id: `${tx.txId}:${tx.changeLsns[0]}`, total_order: 1, data_collection_order: 1 },
        { id: `${tx.txId}:${tx.changeLsns[1]}`, total_order: 2, data_collection_order: 1 },
        { id: `${tx.txId}:${tx.changeLsns[2]}`, total_order: 3, data_collection_order: 2 },
        { id: `${tx.txId}:${tx.changeLsns[3]}`, total_order: 4, data_collection_order: 2 },
      ],
    );
    for (const event of events) expect(Object.keys(event)).toEqual(ENVELOPE_FIELDS);
  });

  it('starts the numbering again in the next transaction', async () => {
    let tx!: CommittedTransaction;
    const records = await recordsAfter(cdc, 3, async () => {
      tx = await commit(db, ['INSERT INTO tx_lines VALUES (3, 1)']);
    });
    expect(records.map((r) => (r.value && 'status' in r.value ? r.value.status : 'event'))).toEqual(
      ['BEGIN', 'event', 'END'],
    );
    expect(changeValue(records[1]).transaction).toEqual({
      id: `${tx.txId}:${tx.changeLsns[0]}`,
      total_order: 1,
      data_collection_order: 1,
    });
    expect(records[2]?.value).toMatchObject({
      event_count: 1,
      data_collections: [{ data_collection: 'public.tx_lines', event_count: 1 }],
    });
  });
});
