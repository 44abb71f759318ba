/**
 * How a source table becomes a local one: which columns are kept, under which names, converted
 * how, and which derived columns a projection adds.
 */
import { ConfigError } from '../../common/index.js';
import { UNAVAILABLE_VALUE, type JsonObject, type JsonValue } from '../../cdc/index.js';

/**
 * Debezium's encodings of temporal values (cdc/README.md, "Types"), turned into text Postgres
 * reads into `date` / `timestamp` / `timestamptz` without losing microseconds or shifting zones.
 */
export type ColumnConverter = 'epochDays' | 'epochMicros' | 'epochMillis';

/** A kept column under another name and/or with a converter. */
export interface ColumnSpec {
  /** Local column name; the source name when left out. */
  readonly name?: string;
  readonly from?: ColumnConverter;
}

/** A row as the local table stores it (local column names). */
export type LocalRow = Record<string, unknown>;

/** One source table carried into one local table. */
export interface TableMapping {
  /** `schema.table` in the source, e.g. `public.products`. */
  readonly source: string;
  /** The local table. */
  readonly table: string;
  /** The source's key columns (the record key); they must be kept. */
  readonly key: readonly string[];
  /**
   * Kept columns: a list keeps names as they are; an object maps source name to local name or
   * `{ name, from }`. Columns not listed are dropped.
   */
  readonly columns: readonly string[] | Readonly<Record<string, string | ColumnSpec>>;
  /** Adds derived columns to a mapped row (it gets and returns local column names). */
  readonly project?: (row: LocalRow) => LocalRow;
}

/** A mapping checked and ready to apply. */
export interface CompiledMapping {
  readonly source: string;
  readonly table: string;
  /** Every kept column: its name in the source and in the local table (key columns first). */
  readonly columns: readonly { readonly source: string; readonly local: string }[];
  readonly localKeyColumns: readonly string[];
  /** The source key values of the row an event is about, in `key` order; null when unknown. */
  keyOf(row: JsonObject | null, recordKey: JsonObject | null): JsonValue[] | null;
  /** The local key columns and values for source key values. */
  localKey(key: readonly JsonValue[]): LocalRow;
  /** The mapped row, and the local columns whose value Postgres did not send (TOAST). */
  toLocal(row: JsonObject): { row: LocalRow; unavailable: string[] };
  project(row: LocalRow): LocalRow;
}

interface Column {
  readonly source: string;
  readonly local: string;
  readonly from: ColumnConverter | undefined;
}

/** Validates a mapping; a bad one fails with a `ConfigError` naming the field. */
export function compileMapping(mapping: TableMapping): CompiledMapping {
  const where = `carried-state mapping ${JSON.stringify(mapping.table)}`;
  if (!/^[^.]+\.[^.]+$/.test(mapping.source))
    throw new ConfigError(
      `${where}: source ${JSON.stringify(mapping.source)} is not "schema.table"`,
    );
  if (mapping.key.length === 0) throw new ConfigError(`${where}: key lists no column`);
  const columns: Column[] = Array.isArray(mapping.columns)
    ? (mapping.columns as readonly string[]).map((name) => ({
        source: name,
        local: name,
        from: undefined,
      }))
    : Object.entries(mapping.columns as Readonly<Record<string, string | ColumnSpec>>).map(
        ([source, spec]) =>
          typeof spec === 'string'
            ? { source, local: spec, from: undefined }
            : { source, local: spec.name ?? source, from: spec.from },
      );
  const bySource = new Map(columns.map((c) => [c.source, c]));
  const keyColumns = mapping.key.map((name) => {
    const column = bySource.get(name);
    if (!column)
      throw new ConfigError(
        `${where}: key column ${JSON.stringify(name)} is not among the kept columns (${columns.map((c) => c.source).join(', ')})`,
      );
    return column;
  });
  const project = mapping.project ?? ((row: LocalRow) => row);

  return {
    source: mapping.source,
    table: mapping.table,
    columns: [...keyColumns, ...columns.filter((c) => !keyColumns.includes(c))].map((c) => ({
      source: c.source,
      local: c.local,
    })),
    localKeyColumns: keyColumns.map((c) => c.local),
    keyOf(row, recordKey) {
      const from = row ?? recordKey;
      if (!from) return null;
      const values = keyColumns.map((c) => from[c.source]);
      return values.every((v): v is JsonValue => v !== undefined && v !== null) ? values : null;
    },
    localKey(key) {
      return Object.fromEntries(keyColumns.map((c, i) => [c.local, convert(key[i] ?? null, c)]));
    },
    toLocal(source) {
      const row: LocalRow = {};
      const unavailable: string[] = [];
      for (const column of columns) {
        const value = source[column.source];
        if (value === undefined) continue;
        if (isUnavailable(value)) unavailable.push(column.local);
        else row[column.local] = convert(value, column);
      }
      return { row, unavailable };
    },
    project,
  };
}

const UNAVAILABLE_BASE64 = Buffer.from(UNAVAILABLE_VALUE).toString('base64');

/** True for Debezium's stand-in for an unchanged TOASTed value that Postgres did not send. */
export function isUnavailable(value: JsonValue): boolean {
  if (value === UNAVAILABLE_VALUE || value === UNAVAILABLE_BASE64) return true;
  return Array.isArray(value) && value.length === 1 && value[0] === UNAVAILABLE_VALUE;
}

const MICROS_PER_DAY = 86_400_000_000n;
/** Debezium's sentinels for `timestamp` ±infinity. */
const POSITIVE_INFINITY_MICROS = 9223372036825200000;
const NEGATIVE_INFINITY_MICROS = -9223372036832400000;

function convert(value: JsonValue, column: Column): unknown {
  if (value === null || column.from === undefined) return value;
  if (typeof value !== 'number')
    throw new TypeError(
      `column ${column.source}: ${column.from} expects a number, got ${JSON.stringify(value)}`,
    );
  switch (column.from) {
    case 'epochDays':
      return microsToIso(BigInt(value) * MICROS_PER_DAY).slice(0, 10);
    case 'epochMillis':
      return microsToIso(BigInt(value) * 1000n);
    case 'epochMicros':
      if (value >= POSITIVE_INFINITY_MICROS) return 'infinity';
      if (value <= NEGATIVE_INFINITY_MICROS) return '-infinity';
      return microsToIso(BigInt(value));
  }
}

/**
 * `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`. Postgres reads it as UTC into `timestamptz` and ignores the
 * offset for `timestamp`, which is what Debezium's epoch values mean for each.
 */
function microsToIso(micros: bigint): string {
  let seconds = micros / 1_000_000n;
  let fraction = micros % 1_000_000n;
  if (fraction < 0n) {
    fraction += 1_000_000n;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${fraction.toString().padStart(6, '0')}+00:00`;
}
