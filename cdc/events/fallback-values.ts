/**
 * What Debezium writes for a NOT NULL column that has no value: under REPLICA IDENTITY DEFAULT
 * Postgres sends only the key columns of a deleted row (and of the old row of a key change), so
 * every other column arrives as null. Debezium's value converters never put null into a required
 * field: `JdbcValueConverters#convertValue` returns the field schema's default, else a per-type
 * fallback, when the data is null and the column is not optional. This happens in the connector,
 * before any Kafka Connect converter, so it shows in payload-only JSON too.
 *
 * References (Debezium 3.6.0.Final sources):
 * - io.debezium.jdbc.JdbcValueConverters (debezium-connector-common): `convertValue` and the
 *   `convertValue(column, fieldDefn, data, <fallback>, …)` call of each per-type converter
 * - io.debezium.connector.postgresql.PostgresValueConverter: money, interval, arrays, citext, ltree
 * - https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-replica-identity
 *
 * ficus parses no column defaults (cdc/README.md), so it always writes the fallback where Debezium
 * would write a column's parsed `DEFAULT`.
 */
import type { JsonValue } from './json.js';
import {
  builtinArrayElement,
  OID,
  TEXT_TYPES,
  type CatalogType,
  type ColumnType,
  type TypeOptions,
} from './type-mapping.js';

/** The unscaled zero as Kafka Connect `Decimal` bytes (`BigInteger.ZERO.toByteArray()`), base64. */
const DECIMAL_ZERO = 'AA==';

/**
 * Type OIDs whose values ficus writes as strings and Debezium converts with `convertString`
 * (fallback `""`): the text types, and the built-in ranges.
 */
const STRING_TYPES = new Set<number>([
  ...TEXT_TYPES,
  3904, // int4range
  3906, // numrange
  3908, // tsrange
  3910, // tstzrange
  3912, // daterange
  3926, // int8range
]);

/**
 * Debezium's fallback for a NOT NULL column of `type` that has no value, in the form ficus writes
 * values of that type (type-mapping.ts's converterFor); null where ficus has no such form
 * (geometric types, hstore, composites, custom ranges), as before.
 */
export function fallbackValue(
  type: ColumnType,
  options: TypeOptions,
  catalog: ReadonlyMap<number, CatalogType> = new Map(),
): JsonValue {
  const { oid, modifier } = type;
  const custom = catalog.get(oid);
  const isArray =
    builtinArrayElement(oid) !== undefined ||
    (custom !== undefined && custom.elementOid !== 0 && custom.name.startsWith('_'));
  // PostgresValueConverter#convertArray: Collections.emptyList().
  if (isArray) return [];
  switch (oid) {
    // convertBoolean / convertBit: false.
    case OID.bool:
      return false;
    // convertSmallInt SHORT_FALSE, convertInteger 0, convertBigInt 0L (oid too).
    case OID.int2:
    case OID.int4:
    case OID.int8:
    case OID.oid:
      return 0;
    // convertReal 0.0f, convertDouble 0.0d (JSON 0.0; JavaScript prints 0).
    case OID.float4:
    case OID.float8:
      return 0;
    // toBigDecimal: BigDecimal.ZERO at the column's scale.
    case OID.numeric:
      return decimalZero(options, numericScale(modifier));
    // PostgresValueConverter#convertMoney: zero at money.fraction.digits (2).
    case OID.money:
      return decimalZero(options, 2);
    // convertDateToEpochDays 0 / convertDateToEpochDaysAsDate new Date(0): day 0;
    // convertTimeTo{Millis,Micros}PastMidnight 0 / 0L, …AsDate new Date(0): midnight;
    // convertTimestampToEpoch{Millis,Micros} 0L, …AsDate new Date(0): the epoch.
    case OID.date:
    case OID.time:
    case OID.timestamp:
      return 0;
    // fallbackTimeWithTimeZone: OffsetTime.of(MIDNIGHT, UTC) in ISO_OFFSET_TIME.
    case OID.timetz:
      return '00:00:00Z';
    // fallbackTimestampWithTimeZone: the epoch at UTC in ISO_OFFSET_DATE_TIME (no fraction).
    case OID.timestamptz:
      return '1970-01-01T00:00:00Z';
    // PostgresValueConverter#convertInterval: LONG_FALSE, or Interval.toIsoString of zeros.
    case OID.interval:
      return options.intervalHandling === 'string' ? 'P0Y0M0DT0H0M0S' : 0;
    // convertBinaryToBytes BYTE_ZERO (empty bytes: base64 ""); base64, base64-url-safe, hex "".
    case OID.bytea:
      return '';
    // bit(1): convertBit false; wider bits: convertBits new byte[0] (base64 "").
    case OID.bit:
    case OID.varbit:
      return modifier === 1 && oid === OID.bit ? false : '';
    default:
      break;
  }
  if (STRING_TYPES.has(oid)) return '';
  if (custom?.kind === 'd' && custom.baseOid !== 0)
    return fallbackValue({ oid: custom.baseOid, modifier }, options, catalog);
  // Enums (convertString), citext (convertCitext) and ltree (convertLtree): "".
  if (custom?.kind === 'e') return '';
  if (custom?.kind === 'b' && (custom.name === 'citext' || custom.name === 'ltree')) return '';
  return null;
}

/** Scale declared in a numeric typmod, or undefined for unconstrained `numeric`. */
function numericScale(modifier: number): number | undefined {
  return modifier < 4 ? undefined : (modifier - 4) & 0xffff;
}

/**
 * A zero decimal as `decimal.handling.mode` writes it (SpecialValueDecimal.fromLogical): the
 * plain string at the scale, 0.0, or Decimal bytes; unconstrained numeric under `precise` is a
 * VariableScaleDecimal of scale 0 (PostgresValueConverter#convertDecimal strips trailing zeros).
 */
function decimalZero(options: TypeOptions, scale: number | undefined): JsonValue {
  switch (options.decimalHandling) {
    case 'string':
      return scale === undefined || scale === 0 ? '0' : `0.${'0'.repeat(scale)}`;
    case 'double':
      return 0;
    case 'precise':
      return scale === undefined ? { scale: 0, value: DECIMAL_ZERO } : DECIMAL_ZERO;
  }
}
