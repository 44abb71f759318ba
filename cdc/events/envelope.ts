/**
 * The Debezium change-event envelope for PostgreSQL, as the JSON converter writes it with
 * `schemas.enable=false`.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-events
 */
import type { ConnectJsonValue, TableConnectSchemas } from './connect-schema.js';
import type { JsonObject, JsonValue } from './json.js';

/** `op`: c create, u update, d delete, r snapshot read, t truncate. */
export type Op = 'c' | 'u' | 'd' | 'r' | 't';

/** `source.snapshot`. */
export type SnapshotMarker =
  | 'true'
  | 'first'
  | 'last'
  | 'false'
  | 'incremental'
  | 'first_in_data_collection'
  | 'last_in_data_collection';

/** The `source` block of a PostgreSQL change event. */
export interface SourceInfo {
  version: string;
  connector: 'postgresql';
  /** The topic prefix (Debezium `topic.prefix`). */
  name: string;
  /** Commit time of the transaction (snapshot: time of the read). */
  ts_ms: number;
  snapshot: SnapshotMarker;
  db: string;
  /** JSON text of `[lastCommitLsn, currentLsn]`, both as decimal strings (or null). */
  sequence: string;
  ts_us: number;
  ts_ns: number;
  schema: string;
  table: string;
  txId: number | null;
  lsn: number | null;
  xmin: number | null;
}

/** The `transaction` block, present when transaction metadata is on. */
export interface TransactionInfo {
  id: string;
  total_order: number;
  data_collection_order: number;
}

/** The value of a change record. Field order is Debezium's. */
export interface ChangeEventValue {
  before: JsonObject | null;
  after: JsonObject | null;
  source: SourceInfo;
  transaction: TransactionInfo | null;
  op: Op;
  ts_ms: number;
  ts_us: number;
  ts_ns: number;
}

/**
 * One record for a sink: topic, key (primary-key columns or null) and value (null = tombstone).
 * With `schemasEnable`, sinks receive key and value as JsonConverter's `{"schema","payload"}`.
 */
export interface ChangeRecord {
  readonly topic: string;
  readonly key: JsonObject | null;
  readonly value:
    ChangeEventValue | TransactionEventValue | HeartbeatValue | ConnectJsonValue | null;
  /** Kafka headers, e.g. `__debezium.newkey` on the delete of a primary-key change. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The Kafka Connect schemas of the table the record belongs to, attached when it was built
   * (with `schemasEnable`), so that records built before an ALTER TABLE keep the schema they
   * were built with. Sinks never see it.
   */
  readonly connectSchemas?: TableConnectSchemas;
}

/** The value of a BEGIN/END record on `<prefix>.transaction`. */
export interface TransactionEventValue {
  status: 'BEGIN' | 'END';
  id: string;
  event_count: number | null;
  data_collections: { data_collection: string; event_count: number }[] | null;
  ts_ms: number;
}

/** The value of a heartbeat record on `__debezium-heartbeat.<prefix>`. */
export interface HeartbeatValue {
  ts_ms: number;
}

/** True for a change event's value (as opposed to a tombstone, a transaction or a heartbeat record). */
export function isChangeEventValue(value: unknown): value is ChangeEventValue {
  return typeof value === 'object' && value !== null && 'op' in value && 'source' in value;
}

/** True for a delete's tombstone: a change topic record whose value is null. */
export function isTombstone(record: ChangeRecord): boolean {
  return record.value === null;
}

/** A JSON value that can be written into a record. */
export type { JsonValue, JsonObject };
