/**
 * Postgres column values (text output format) to the JSON values Debezium's PostgreSQL connector
 * emits with the JSON converter and `schemas.enable=false`.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-data-types
 *
 * The replication and snapshot sessions both run with DateStyle=ISO, TimeZone=UTC,
 * IntervalStyle=iso_8601, extra_float_digits=3 and bytea_output=hex (see SESSION_SETTINGS), so
 * every value arrives in one predictable text form whichever path read it.
 */
import type { JsonValue } from './json.js';

/** How numeric/decimal and money values are written (Debezium `decimal.handling.mode`). */
export type DecimalHandling = 'string' | 'double' | 'precise';
/** How time and timestamp values are written (Debezium `time.precision.mode`). */
export type TimePrecision = 'adaptive' | 'adaptive_time_microseconds' | 'connect';
/** How bytea values are written (Debezium `binary.handling.mode`; `bytes` is base64 in JSON). */
export type BinaryHandling = 'bytes' | 'base64' | 'base64-url-safe' | 'hex';
/** How interval values are written (Debezium `interval.handling.mode`). */
export type IntervalHandling = 'numeric' | 'string';

/** The Debezium converter options ficus implements, with ficus's defaults in DEFAULT_TYPE_OPTIONS. */
export interface TypeOptions {
  readonly decimalHandling: DecimalHandling;
  readonly timePrecision: TimePrecision;
  readonly binaryHandling: BinaryHandling;
  readonly intervalHandling: IntervalHandling;
}

/**
 * ficus's defaults. Debezium's defaults differ only in `decimal.handling.mode` (Debezium:
 * `precise`, base64 bytes that JSON consumers cannot read without the schema; ficus: `string`).
 */
export const DEFAULT_TYPE_OPTIONS: TypeOptions = Object.freeze({
  decimalHandling: 'string',
  timePrecision: 'adaptive',
  binaryHandling: 'bytes',
  intervalHandling: 'numeric',
});

/** Session settings under which value texts are parsed; set on every connection CDC reads with. */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  DateStyle: 'ISO',
  TimeZone: 'UTC',
  IntervalStyle: 'iso_8601',
  extra_float_digits: '3',
  bytea_output: 'hex',
  lc_monetary: 'C',
});

/** What the converter needs to know about a column's type. */
export interface ColumnType {
  readonly oid: number;
  readonly modifier: number;
}

/** Type information resolved from pg_type for a type that is not built in. */
export interface CatalogType {
  readonly oid: number;
  readonly name: string;
  /** pg_type.typtype: b base, e enum, d domain, c composite, r range, m multirange, p pseudo. */
  readonly kind: string;
  /** For arrays, the element type; else 0. */
  readonly elementOid: number;
  /** For domains, the base type; else 0. */
  readonly baseOid: number;
  /** pg_type.typtypmod: a domain's own length or scale (-1 when it has none). */
  readonly typeModifier?: number;
  /** For enums, the labels in sort order. */
  readonly enumLabels?: readonly string[];
}

/** Converts one non-null column text to its JSON value. */
export type ValueConverter = (text: string) => JsonValue;

export const OID = Object.freeze({
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  money: 790,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  bit: 1560,
  varbit: 1562,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
});

/** Array type OID → element type OID, for the built-in array types. */
const BUILTIN_ARRAYS: ReadonlyMap<number, number> = new Map([
  [1000, OID.bool],
  [1001, OID.bytea],
  [1002, OID.char],
  [1003, OID.name],
  [1005, OID.int2],
  [1007, OID.int4],
  [1016, OID.int8],
  [1009, OID.text],
  [1014, OID.bpchar],
  [1015, OID.varchar],
  [1028, OID.oid],
  [1021, OID.float4],
  [1022, OID.float8],
  [791, OID.money],
  [1231, OID.numeric],
  [2951, OID.uuid],
  [199, OID.json],
  [3807, OID.jsonb],
  [143, OID.xml],
  [1182, OID.date],
  [1183, OID.time],
  [1115, OID.timestamp],
  [1185, OID.timestamptz],
  [1187, OID.interval],
  [1270, OID.timetz],
  [1561, OID.bit],
  [1563, OID.varbit],
  [1041, 869],
  [651, 650],
  [1040, 829],
]);

/** Type OIDs whose values are passed on as their text (strings in Debezium too). */
export const TEXT_TYPES: ReadonlySet<number> = new Set<number>([
  OID.char,
  OID.name,
  OID.text,
  OID.bpchar,
  OID.varchar,
  OID.uuid,
  OID.json,
  OID.jsonb,
  OID.xml,
  869, // inet
  650, // cidr
  829, // macaddr
  774, // macaddr8
  3614, // tsvector
  3615, // tsquery
  2970, // txid_snapshot
  3220, // pg_lsn
]);

/** True when `oid` is a built-in type, so converting it needs no catalog lookup. */
export function isBuiltinType(oid: number): boolean {
  return oid < 10000 || BUILTIN_ARRAYS.has(oid);
}

/** Element type of a built-in array type, or undefined. */
export function builtinArrayElement(oid: number): number | undefined {
  return BUILTIN_ARRAYS.get(oid);
}

/**
 * Builds the converter for a column. `catalog` resolves types that are not built in (enums,
 * domains, arrays of those); it must already hold every type the column needs.
 */
export function converterFor(
  type: ColumnType,
  options: TypeOptions,
  catalog: ReadonlyMap<number, CatalogType> = new Map(),
): ValueConverter {
  const { oid, modifier } = type;
  const arrayElement = BUILTIN_ARRAYS.get(oid) ?? arrayElementFromCatalog(oid, catalog);
  if (arrayElement !== undefined) {
    const element = converterFor({ oid: arrayElement, modifier }, options, catalog);
    const delimiter = arrayElement === 603 ? ';' : ',';
    return (text) => parseArrayLiteral(text, delimiter, element);
  }
  switch (oid) {
    case OID.bool:
      return (text) => text === 't';
    case OID.int2:
    case OID.int4:
    case OID.float4:
    case OID.float8:
      return toNumber;
    case OID.int8:
    case OID.oid:
      return toInteger;
    case OID.numeric:
      return decimalConverter(options.decimalHandling, numericScale(modifier));
    case OID.money:
      return (text) => decimalConverter(options.decimalHandling, 2)(moneyToDecimal(text));
    case OID.date:
      return dateToEpochDays;
    case OID.time:
      return timeConverter(options.timePrecision, timePrecisionOf(modifier));
    case OID.timetz:
      return timeTzToUtcString;
    case OID.timestamp:
      return timestampConverter(options.timePrecision, timePrecisionOf(modifier));
    case OID.timestamptz:
      return zonedTimestampConverter(timePrecisionOf(modifier));
    case OID.interval:
      return options.intervalHandling === 'string' ? intervalToIsoString : intervalToMicros;
    case OID.bytea:
      return (text) => encodeBinary(hexToBuffer(text), options.binaryHandling);
    case OID.bit:
    case OID.varbit:
      // io.debezium.data.Bits is a BYTES field: base64 whatever binary.handling.mode says.
      return modifier === 1 && oid === OID.bit
        ? (text) => text === '1'
        : (text) => bitsToBytes(text).toString('base64');
    default:
      break;
  }
  if (TEXT_TYPES.has(oid)) return identity;
  const custom = catalog.get(oid);
  if (custom?.kind === 'd' && custom.baseOid !== 0) {
    return converterFor({ oid: custom.baseOid, modifier }, options, catalog);
  }
  // Enums, and every type without a mapping of its own (ranges, geometric types, composites), as
  // their text form.
  return identity;
}

function arrayElementFromCatalog(
  oid: number,
  catalog: ReadonlyMap<number, CatalogType>,
): number | undefined {
  const type = catalog.get(oid);
  return type && type.elementOid !== 0 && type.name.startsWith('_') ? type.elementOid : undefined;
}

const identity: ValueConverter = (text) => text;

function toNumber(text: string): JsonValue {
  return Number(text);
}

function toInteger(text: string): JsonValue {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}

/** Scale declared in a numeric typmod, or undefined for unconstrained `numeric`. */
function numericScale(modifier: number): number | undefined {
  return modifier < 4 ? undefined : (modifier - 4) & 0xffff;
}

function timePrecisionOf(modifier: number): number {
  return modifier < 0 ? 6 : modifier;
}

function decimalConverter(mode: DecimalHandling, scale: number | undefined): ValueConverter {
  switch (mode) {
    case 'string':
      return (text) => (text === 'NaN' ? 'NAN' : text);
    case 'double':
      return toNumber;
    case 'precise':
      return (text) => {
        if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return null;
        if (scale !== undefined) return encodeDecimal(text).value;
        // VariableScaleDecimal: trailing fraction zeros stripped, as Debezium's convertDecimal does.
        const encoded = encodeDecimal(text.includes('.') ? text.replace(/\.?0+$/, '') : text);
        return { scale: encoded.scale, value: encoded.value };
      };
  }
}

/** `decimal.handling.mode=precise`: the unscaled value as big-endian two's-complement bytes, base64. */
function encodeDecimal(text: string): { scale: number; value: string } {
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  const [whole = '0', fraction = ''] = digits.split('.');
  let unscaled = BigInt(whole + fraction);
  if (negative) unscaled = -unscaled;
  return { scale: fraction.length, value: twosComplement(unscaled).toString('base64') };
}

function twosComplement(value: bigint): Buffer {
  const bytes: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.unshift(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Buffer.from(bytes);
}

/** lc_monetary=C prints `$1,234.56` and `-$1,234.56`. */
function moneyToDecimal(text: string): string {
  const negative = text.includes('-') || text.startsWith('(');
  const plain = text.replace(/[^0-9.]/g, '');
  return negative ? `-${plain}` : plain;
}

const MS_PER_DAY = 86_400_000;

/** `io.debezium.time.Date`: days since 1970-01-01. */
export function dateToEpochDays(text: string): JsonValue {
  if (text === 'infinity' || text === '-infinity') return null;
  const { year, month, day } = parseDate(text);
  // setUTCFullYear, unlike Date.UTC, keeps years 0–99 as they are.
  return Math.floor(new Date(0).setUTCFullYear(year, month - 1, day) / MS_PER_DAY);
}

function parseDate(text: string): { year: number; month: number; day: number } {
  const bc = text.endsWith(' BC');
  const [y, m, d] = (bc ? text.slice(0, -3) : text).split('-');
  const year = Number(y);
  return { year: bc ? 1 - year : year, month: Number(m), day: Number(d) };
}

/** Microseconds since midnight of `HH:MM:SS[.ffffff]`. */
function timeOfDayMicros(text: string): number {
  const hours = Number(text.slice(0, 2));
  const minutes = Number(text.slice(3, 5));
  const seconds = Number(text.slice(6, 8));
  const fraction = text.length > 8 && text[8] === '.' ? fractionMicros(text.slice(9)) : 0;
  return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + fraction;
}

function fractionMicros(digits: string): number {
  return Number(digits.slice(0, 6).padEnd(6, '0'));
}

function timeConverter(mode: TimePrecision, precision: number): ValueConverter {
  if (mode === 'adaptive' && precision <= 3)
    return (text) => Math.floor(timeOfDayMicros(text) / 1000);
  if (mode === 'connect') return (text) => Math.floor(timeOfDayMicros(text) / 1000);
  return timeOfDayMicros;
}

/** Microseconds since the epoch of a `YYYY-MM-DD HH:MM:SS[.ffffff]` timestamp read as UTC. */
function timestampMicros(text: string): number {
  const space = text.indexOf(' ');
  const bc = text.endsWith(' BC');
  const datePart = text.slice(0, space) + (bc ? ' BC' : '');
  const timePart = text.slice(space + 1, bc ? -3 : undefined);
  const days = dateToEpochDays(datePart) as number;
  return days * MS_PER_DAY * 1000 + timeOfDayMicros(timePart);
}

function timestampConverter(mode: TimePrecision, precision: number): ValueConverter {
  // adaptive_time_microseconds differs from adaptive only for TIME.
  const millis = mode === 'connect' || precision <= 3;
  return (text) => {
    // Debezium's values for ±infinity: documented for MicroTimestamp; Timestamp has the same
    // instants (PostgresValueConverter.POSITIVE_INFINITY_LOCAL_DATE_TIME) in milliseconds.
    if (text === 'infinity') return millis ? 9223372036825200n : 9223372036825200000n;
    if (text === '-infinity') return millis ? -9223372036832400n : -9223372036832400000n;
    const micros = timestampMicros(text);
    return millis ? Math.floor(micros / 1000) : micros;
  };
}

/**
 * `io.debezium.time.ZonedTimestamp`: ISO-8601 in UTC with `Z`, the fraction zero-padded to the
 * column's precision (6 unless declared), as Debezium writes it since 2.2:
 * `2024-03-01T10:15:30.500000Z`; `timestamptz(0)` has no fraction. ±infinity stay strings.
 */
export function zonedTimestampConverter(precision: number): ValueConverter {
  return (text) => {
    if (text === 'infinity' || text === '-infinity') return text;
    // With TimeZone=UTC the offset is always +00.
    const body = text.replace(/\+00(:00)?$/, '');
    const space = body.indexOf(' ');
    const bc = body.endsWith(' BC');
    const date = body.slice(0, space);
    const time = body.slice(space + 1, bc ? -3 : undefined);
    const dot = time.indexOf('.');
    const whole = dot < 0 ? time : time.slice(0, dot);
    const fraction = (dot < 0 ? '' : time.slice(dot + 1))
      .padEnd(precision, '0')
      .slice(0, precision);
    const year = bc
      ? `-${String(Number(date.slice(0, date.indexOf('-'))) - 1).padStart(4, '0')}`
      : '';
    const datePart = bc ? year + date.slice(date.indexOf('-')) : date;
    return `${datePart}T${whole}${fraction ? `.${fraction}` : ''}Z`;
  };
}

/** `io.debezium.time.ZonedTime`: the time converted to UTC, `HH:MM:SS[.fff…]Z`. */
function timeTzToUtcString(text: string): JsonValue {
  const match = /^(\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$/.exec(text);
  if (!match) return text;
  const local = timeOfDayMicros(match[1]!);
  const sign = match[2] === '+' ? 1 : -1;
  const offset =
    (Number(match[3]) * 3600 + Number(match[4] ?? 0) * 60 + Number(match[5] ?? 0)) * 1_000_000;
  const day = 86_400_000_000;
  const utc = (((local - sign * offset) % day) + day) % day;
  const seconds = Math.floor(utc / 1_000_000);
  const micros = utc % 1_000_000;
  const hh = String(Math.floor(seconds / 3600)).padStart(2, '0');
  const mm = String(Math.floor(seconds / 60) % 60).padStart(2, '0');
  const ss = String(seconds % 60).padStart(2, '0');
  const fraction = micros === 0 ? '' : `.${String(micros).padStart(6, '0').replace(/0+$/, '')}`;
  return `${hh}:${mm}:${ss}${fraction}Z`;
}

/**
 * `io.debezium.time.MicroDuration`: an ISO-8601 interval (IntervalStyle=iso_8601) in
 * microseconds, with Debezium's arithmetic: a year is 12 months, a month 365.25 / 12 days
 * (30.4375), computed in floating point and truncated.
 */
function intervalToMicros(text: string): JsonValue {
  const parts = intervalParts(text);
  if (!parts) return null;
  const [years, months, days, hours, minutes, seconds] = parts.map(Number);
  const totalMonths = (years || 0) * 12 + (months || 0);
  const totalDays = totalMonths * (365.25 / 12) + (days || 0);
  const totalSeconds =
    ((totalDays * 24 + (hours || 0)) * 60 + (minutes || 0)) * 60 + (seconds || 0);
  return Math.trunc(totalSeconds * 1e6);
}

/**
 * `interval.handling.mode=string`: Debezium's `io.debezium.time.Interval`, every component present
 * and the seconds without trailing zeros: `P1Y2M3DT4H5M6.78S`, `P0Y0M1DT0H0M0S`.
 */
function intervalToIsoString(text: string): JsonValue {
  const parts = intervalParts(text);
  if (!parts) return null;
  const [years, months, days, hours, minutes, seconds] = parts;
  const plainSeconds = seconds.includes('.') ? seconds.replace(/\.?0+$/, '') : seconds;
  return `P${years}Y${months}M${days}DT${hours}H${minutes}M${plainSeconds}S`;
}

/** Years, months, days, hours, minutes and seconds (as decimal text) of an ISO-8601 interval. */
function intervalParts(text: string): [string, string, string, string, string, string] | undefined {
  const match =
    /^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?\d+(?:\.\d+)?)S)?)?$/.exec(
      text,
    );
  if (!match) return undefined;
  const [, years = '0', months = '0', days = '0', hours = '0', minutes = '0', seconds = '0'] =
    match;
  return [years, months, days, hours, minutes, seconds];
}

function hexToBuffer(text: string): Buffer {
  return Buffer.from(text.startsWith('\\x') ? text.slice(2) : text, 'hex');
}

function encodeBinary(bytes: Buffer, mode: BinaryHandling): JsonValue {
  switch (mode) {
    case 'bytes':
    case 'base64':
      return bytes.toString('base64');
    case 'base64-url-safe':
      // java.util.Base64.getUrlEncoder(), as Debezium uses, keeps the padding.
      return bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_');
    case 'hex':
      return bytes.toString('hex');
  }
}

/** BIT(n>1) and VARBIT as Debezium's `io.debezium.data.Bits`: little-endian bytes of the bit string. */
function bitsToBytes(bits: string): Buffer {
  const bytes = Buffer.alloc(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) {
    if (bits[bits.length - 1 - i] === '1') bytes[i >> 3]! |= 1 << (i & 7);
  }
  return bytes;
}

/**
 * Parses a Postgres array literal (`{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`) into nested
 * JSON arrays, converting each element.
 */
export function parseArrayLiteral(
  text: string,
  delimiter: string,
  element: ValueConverter,
): JsonValue {
  // A leading dimension decoration such as `[0:2]={...}` is dropped.
  let position = text.startsWith('[') ? text.indexOf('=') + 1 : 0;
  const parse = (): JsonValue[] => {
    if (text[position] !== '{')
      throw new SyntaxError(`array literal: expected '{' at ${position} in ${text}`);
    position++;
    const items: JsonValue[] = [];
    if (text[position] === '}') {
      position++;
      return items;
    }
    for (;;) {
      const c = text[position];
      if (c === '{') {
        items.push(parse());
      } else if (c === '"') {
        position++;
        let value = '';
        while (text[position] !== '"') {
          if (text[position] === '\\') position++;
          value += text[position];
          position++;
        }
        position++;
        items.push(element(value));
      } else {
        let end = position;
        while (text[end] !== delimiter && text[end] !== '}') end++;
        const raw = text.slice(position, end).trim();
        position = end;
        items.push(raw === 'NULL' ? null : element(raw));
      }
      const next = text[position++];
      if (next === '}') return items;
      if (next !== delimiter) throw new SyntaxError(`array literal: unexpected ${next} in ${text}`);
    }
  };
  return parse();
}

/** SESSION_SETTINGS as a libpq `options` string (`-c name=value …`). */
export function sessionOptions(): string {
  return Object.entries(SESSION_SETTINGS)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
}
