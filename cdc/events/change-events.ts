/**
 * Turns row changes into Debezium change records: the envelope, the key, tombstones after deletes,
 * and a primary-key update split into delete + tombstone + create, as the Debezium PostgreSQL
 * connector does.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-change-events-value
 */
import type { Lsn } from '../replication/lsn.js';
import { UNCHANGED_TOAST, type ChangeMessage, type TupleValue } from '../replication/pgoutput.js';
import type {
  ChangeEventValue,
  ChangeRecord,
  Op,
  SnapshotMarker,
  SourceInfo,
  TransactionInfo,
} from './envelope.js';
import { stringifyJson, type JsonObject, type JsonValue } from './json.js';
import type { ColumnSchema, TableSchema } from './table-schema.js';

/** Connector-wide facts every event's `source` repeats. */
export interface SourceDefaults {
  /** Written into `source.version`. */
  readonly version: string;
  /** The topic prefix (`source.name`). */
  readonly name: string;
  /** The database name (`source.db`). */
  readonly db: string;
  /** Emit a tombstone after each delete (Debezium `tombstones.on.delete`, default true). */
  readonly tombstonesOnDelete: boolean;
}

/** Where an event sits in the log: what `source` and `transaction` need from the transaction. */
export interface EventPosition {
  readonly txId: number | null;
  /** LSN of this change (`source.lsn`). */
  readonly lsn: Lsn;
  /** End LSN of the last commit processed before this transaction (first half of `source.sequence`). */
  readonly lastCommitLsn: Lsn | null;
  /** Commit time (streaming) or read time (snapshot), in microseconds since the epoch. */
  readonly timeUs: bigint;
  readonly snapshot: SnapshotMarker;
  /** The `transaction` block, when transaction metadata is on. */
  readonly transaction: TransactionInfo | null;
}

/** Builds the `source` block. */
export function sourceInfo(
  defaults: SourceDefaults,
  table: TableSchema,
  position: EventPosition,
): SourceInfo {
  const tsUs = Number(position.timeUs);
  const lsn = Number(position.lsn);
  return {
    version: defaults.version,
    connector: 'postgresql',
    name: defaults.name,
    ts_ms: Math.floor(tsUs / 1000),
    snapshot: position.snapshot,
    db: defaults.db,
    sequence: JSON.stringify([
      position.lastCommitLsn === null ? null : position.lastCommitLsn.toString(),
      position.lsn.toString(),
    ]),
    ts_us: tsUs,
    ts_ns: tsUs * 1000,
    schema: table.schema,
    table: table.table,
    txId: position.txId,
    lsn,
    xmin: null,
  };
}

/** Converts a tuple to the `before`/`after` object; `fallback` supplies values for unchanged TOAST. */
export function rowObject(
  table: TableSchema,
  tuple: readonly TupleValue[],
  fallback?: readonly TupleValue[],
): JsonObject {
  const row: JsonObject = {};
  for (const column of table.columns) row[column.name] = columnValue(column, tuple, fallback);
  return row;
}

function columnValue(
  column: ColumnSchema,
  tuple: readonly TupleValue[],
  fallback?: readonly TupleValue[],
): JsonValue {
  let value = tuple[column.index];
  if (value === UNCHANGED_TOAST) {
    const old = fallback?.[column.index];
    if (old === undefined || old === UNCHANGED_TOAST) return column.unavailable;
    value = old;
  }
  // A NOT NULL column gets Debezium's fallback, never null (JdbcValueConverters#convertValue).
  return value === null || value === undefined ? column.nullValue : column.convert(value);
}

/** The record key: the primary-key columns, or null for a table without a primary key. */
export function recordKey(table: TableSchema, tuple: readonly TupleValue[]): JsonObject | null {
  if (table.keyColumns.length === 0) return null;
  const key: JsonObject = {};
  for (const column of table.keyColumns) key[column.name] = columnValue(column, tuple);
  return key;
}

function envelope(
  before: JsonObject | null,
  after: JsonObject | null,
  source: SourceInfo,
  transaction: TransactionInfo | null,
  op: Op,
  nowUs: number,
): ChangeEventValue {
  return {
    before,
    after,
    source,
    transaction,
    op,
    ts_ms: Math.floor(nowUs / 1000),
    ts_us: nowUs,
    ts_ns: nowUs * 1000,
  };
}

/**
 * Microseconds since the epoch, from the wall clock (the envelope's processing time): the
 * milliseconds of `Date.now()` and the microseconds within them from the monotonic clock.
 * `performance.timeOrigin + performance.now()` alone drifts from the wall clock in a long-lived
 * process (seen 1 ms ahead after a few minutes), which put `ts_ms` in the future.
 */
export function nowMicros(): number {
  const micros = Math.floor(((performance.timeOrigin + performance.now()) * 1000) % 1000);
  return Date.now() * 1000 + micros;
}

/** Change records for one insert, update or delete (1 to 4 records). */
export function changeRecords(
  defaults: SourceDefaults,
  table: TableSchema,
  message: ChangeMessage,
  position: EventPosition,
  nowUs = nowMicros(),
): ChangeRecord[] {
  const records = buildChangeRecords(defaults, table, message, position, nowUs);
  return table.connect ? records.map((record) => withSchemas(table, record)) : records;
}

/** Attaches the table's Kafka Connect schemas (schemasEnable), as they are when the record is built. */
function withSchemas(table: TableSchema, record: ChangeRecord): ChangeRecord {
  return table.connect ? { ...record, connectSchemas: table.connect } : record;
}

function buildChangeRecords(
  defaults: SourceDefaults,
  table: TableSchema,
  message: ChangeMessage,
  position: EventPosition,
  nowUs: number,
): ChangeRecord[] {
  const source = sourceInfo(defaults, table, position);
  const { topic } = table;
  switch (message.tag) {
    case 'insert': {
      const after = rowObject(table, message.after);
      return [
        {
          topic,
          key: recordKey(table, message.after),
          value: envelope(null, after, source, position.transaction, 'c', nowUs),
        },
      ];
    }
    case 'update': {
      const before = message.before ? rowObject(table, message.before) : null;
      // Only a full old row (REPLICA IDENTITY FULL) holds the values of unchanged TOASTed columns;
      // a key-only one has nulls there, and those columns stay unavailable.
      const after = rowObject(
        table,
        message.after,
        message.beforeKind === 'full' ? message.before : undefined,
      );
      const newKey = recordKey(table, message.after);
      const oldKey = message.before ? recordKey(table, message.before) : null;
      if (oldKey !== null && newKey !== null && !sameKey(oldKey, newKey)) {
        return primaryKeyChange(
          defaults,
          table,
          oldKey,
          newKey,
          before,
          after,
          source,
          position,
          nowUs,
        );
      }
      return [
        {
          topic,
          key: newKey,
          value: envelope(before, after, source, position.transaction, 'u', nowUs),
        },
      ];
    }
    case 'delete': {
      const key = recordKey(table, message.before);
      const records: ChangeRecord[] = [
        {
          topic,
          key,
          value: envelope(
            rowObject(table, message.before),
            null,
            source,
            position.transaction,
            'd',
            nowUs,
          ),
        },
      ];
      if (defaults.tombstonesOnDelete) records.push({ topic, key, value: null });
      return records;
    }
  }
}

/**
 * An update that changed the primary key: a delete under the old key (header `__debezium.newkey`),
 * its tombstone, and a create under the new key (header `__debezium.oldkey`).
 */
function primaryKeyChange(
  defaults: SourceDefaults,
  table: TableSchema,
  oldKey: JsonObject,
  newKey: JsonObject,
  before: JsonObject | null,
  after: JsonObject,
  source: SourceInfo,
  position: EventPosition,
  nowUs: number,
): ChangeRecord[] {
  const { topic } = table;
  const newKeyHeader = { '__debezium.newkey': stringifyJson(newKey) };
  const records: ChangeRecord[] = [
    {
      topic,
      key: oldKey,
      value: envelope(before, null, source, position.transaction, 'd', nowUs),
      headers: newKeyHeader,
    },
  ];
  if (defaults.tombstonesOnDelete)
    records.push({ topic, key: oldKey, value: null, headers: newKeyHeader });
  records.push({
    topic,
    key: newKey,
    value: envelope(null, after, source, position.transaction, 'c', nowUs),
    headers: { '__debezium.oldkey': stringifyJson(oldKey) },
  });
  return records;
}

/** Compares by JSON text: key values can be bigints, arrays or objects (variable-scale decimals). */
function sameKey(a: JsonObject, b: JsonObject): boolean {
  return stringifyJson(a) === stringifyJson(b);
}

/** A snapshot read (`op: "r"`) of one row. */
export function readRecord(
  defaults: SourceDefaults,
  table: TableSchema,
  row: readonly TupleValue[],
  position: EventPosition,
  nowUs = nowMicros(),
): ChangeRecord {
  return withSchemas(table, {
    topic: table.topic,
    key: recordKey(table, row),
    value: envelope(
      null,
      rowObject(table, row),
      sourceInfo(defaults, table, position),
      null,
      'r',
      nowUs,
    ),
  });
}

/** A truncate (`op: "t"`): one record per table, with a null key. */
export function truncateRecord(
  defaults: SourceDefaults,
  table: TableSchema,
  position: EventPosition,
  nowUs = nowMicros(),
): ChangeRecord {
  return withSchemas(table, {
    topic: table.topic,
    key: null,
    value: envelope(
      null,
      null,
      sourceInfo(defaults, table, position),
      position.transaction,
      't',
      nowUs,
    ),
  });
}
