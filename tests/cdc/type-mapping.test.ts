/**
 * Postgres column values to Debezium's JSON values, each checked on both paths that produce them:
 * the initial snapshot (a read through a cursor) and streaming (pgoutput). Expected values are
 * Debezium's documented output (research notes, section 9) for the option values named.
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-data-types
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_TYPE_OPTIONS,
  stringifyJson,
  type ChangeEventValue,
  type JsonValue,
  type TypeOptions,
} from '../../cdc/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  type CdcDatabase,
  type TestConnector,
} from './harness.js';

/** The converter option sets under test; each runs as a connector of its own. */
const OPTION_SETS = {
  /** ficus's defaults: decimal string, adaptive, bytes, numeric interval. */
  defaults: DEFAULT_TYPE_OPTIONS,
  /** decimal double, adaptive_time_microseconds, binary hex, interval string. */
  alternative: {
    decimalHandling: 'double',
    timePrecision: 'adaptive_time_microseconds',
    binaryHandling: 'hex',
    intervalHandling: 'string',
  },
  /** decimal precise (Debezium's default), connect, base64-url-safe. */
  precise: {
    decimalHandling: 'precise',
    timePrecision: 'connect',
    binaryHandling: 'base64-url-safe',
    intervalHandling: 'numeric',
  },
} satisfies Record<string, TypeOptions>;
type OptionSet = keyof typeof OPTION_SETS;

/** One column of the table under test: name, SQL type, and the SQL literal stored in it. */
const COLUMNS = [
  ['c_smallint', 'smallint', '32767'],
  ['c_integer', 'integer', '-2147483648'],
  ['c_bigint', 'bigint', '42'],
  ['c_bigint_unsafe', 'bigint', '9007199254740993'],
  ['c_real', 'real', '3.14'],
  ['c_double', 'double precision', '1.0000000000000002'],
  ['c_numeric', 'numeric(10,2)', '12.34'],
  ['c_numeric_negative', 'numeric(10,2)', '-12.34'],
  ['c_numeric_free', 'numeric', '12.340'],
  ['c_numeric_huge', 'numeric', '123456789012345678901234567890'],
  ['c_numeric_nan', 'numeric', "'NaN'"],
  ['c_money', 'money', '12.34'],
  ['c_money_negative', 'money', '-1234.56'],
  ['c_boolean', 'boolean', 'true'],
  ['c_text', 'text', "'hello'"],
  ['c_varchar', 'varchar(10)', "'hi'"],
  ['c_char', 'char(5)', "'ab'"],
  ['c_uuid', 'uuid', "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"],
  ['c_json', 'json', `'{"b": 1,  "a": [1, 2]}'`],
  ['c_jsonb', 'jsonb', `'{"b": 1,  "a": [1, 2]}'`],
  ['c_xml', 'xml', "'<a>1</a>'"],
  ['c_date', 'date', "'2024-01-02'"],
  ['c_date_1969', 'date', "'1969-07-20'"],
  ['c_date_first', 'date', "'0001-01-01'"],
  ['c_time', 'time', "'04:05:06.789012'"],
  ['c_time3', 'time(3)', "'04:05:06.789'"],
  ['c_timetz', 'timetz', "'04:05:06.5+02'"],
  ['c_timetz_wrap', 'timetz', "'23:30:00-02'"],
  ['c_timestamp', 'timestamp', "'2024-01-02 03:04:05.123456'"],
  ['c_timestamp3', 'timestamp(3)', "'2024-01-02 03:04:05.123'"],
  ['c_timestamp_1969', 'timestamp', "'1969-12-31 23:59:59.5'"],
  ['c_timestamp_inf', 'timestamp', "'infinity'"],
  ['c_timestamp_ninf', 'timestamp', "'-infinity'"],
  ['c_timestamp3_inf', 'timestamp(3)', "'infinity'"],
  ['c_timestamptz', 'timestamptz', "'2024-01-02 03:04:05.5+00'"],
  ['c_timestamptz0', 'timestamptz(0)', "'2024-01-02 03:04:05+00'"],
  ['c_timestamptz3', 'timestamptz(3)', "'2024-01-02 03:04:05.5+00'"],
  ['c_timestamptz_offset', 'timestamptz', "'2024-01-02 05:04:05.5+02'"],
  ['c_timestamptz_inf', 'timestamptz', "'infinity'"],
  ['c_interval', 'interval', "'1 year 2 mons 3 days 04:05:06.78'"],
  ['c_interval_day', 'interval', "'1 day'"],
  ['c_bytea', 'bytea', "'\\x0102ff'"],
  ['c_bytea_padded', 'bytea', "'\\xfbff'"],
  ['c_int_array', 'int[]', "'{1,2,3}'"],
  ['c_empty_array', 'int[]', "'{}'"],
  ['c_text_array', 'text[]', `ARRAY['a', 'b c', 'q"x', NULL, 'NULL', 'x,y', 'back\\slash']`],
  ['c_int_matrix', 'int[][]', "'{{1,2},{3,4}}'"],
  ['c_enum', 'mood', "'happy'"],
  ['c_enum_array', 'mood[]', "'{happy,sad}'"],
  ['c_domain', 'positive_int', '42'],
  ['c_inet', 'inet', "'192.168.0.1/24'"],
  ['c_cidr', 'cidr', "'10.0.0.0/8'"],
  ['c_macaddr', 'macaddr', "'08:00:2b:01:02:03'"],
  ['c_bit1', 'bit(1)', "B'1'"],
  ['c_bit8', 'bit(8)', "B'10100000'"],
  ['c_varbit', 'varbit', "B'101'"],
  ['c_varbit10', 'varbit(16)', "B'1000000001'"],
] as const;
type Column = (typeof COLUMNS)[number][0];

const TIME_MICROS = ((4 * 60 + 5) * 60 + 6) * 1_000_000 + 789_012;
const TIMESTAMP_MICROS = Date.UTC(2024, 0, 2, 3, 4, 5, 123) * 1000 + 456;

/** [column, option set, expected JSON value]; a comment marks where Debezium is unverified. */
const CASES: [Column, OptionSet, JsonValue][] = [
  ['c_smallint', 'defaults', 32767],
  ['c_integer', 'defaults', -2147483648],
  ['c_bigint', 'defaults', 42],
  ['c_bigint_unsafe', 'defaults', 9007199254740993n],
  ['c_real', 'defaults', 3.14],
  ['c_double', 'defaults', 1.0000000000000002],
  ['c_numeric', 'defaults', '12.34'],
  ['c_numeric', 'alternative', 12.34],
  ['c_numeric', 'precise', 'BNI='],
  ['c_numeric_negative', 'defaults', '-12.34'],
  ['c_numeric_negative', 'precise', '+y4='],
  // Unconstrained numeric: string keeps Postgres's scale; precise is a VariableScaleDecimal with
  // trailing zeros stripped (PostgresValueConverter.convertDecimal).
  ['c_numeric_free', 'defaults', '12.340'],
  ['c_numeric_free', 'alternative', 12.34],
  ['c_numeric_free', 'precise', { scale: 2, value: 'BNI=' }],
  ['c_numeric_huge', 'defaults', '123456789012345678901234567890'],
  ['c_numeric_huge', 'precise', { scale: 0, value: 'AY7pD/bDc+DuTj8K0g==' }],
  ['c_numeric_nan', 'defaults', 'NAN'],
  ['c_money', 'defaults', '12.34'],
  ['c_money', 'alternative', 12.34],
  ['c_money', 'precise', 'BNI='],
  ['c_money_negative', 'defaults', '-1234.56'],
  ['c_money_negative', 'precise', '/h3A'],
  ['c_boolean', 'defaults', true],
  ['c_text', 'defaults', 'hello'],
  ['c_varchar', 'defaults', 'hi'],
  ['c_char', 'defaults', 'ab   '],
  ['c_uuid', 'defaults', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ['c_json', 'defaults', '{"b": 1,  "a": [1, 2]}'],
  ['c_jsonb', 'defaults', '{"a": [1, 2], "b": 1}'],
  ['c_xml', 'defaults', '<a>1</a>'],
  ['c_date', 'defaults', 19724],
  ['c_date', 'precise', 19724],
  ['c_date_1969', 'defaults', -165],
  ['c_date_first', 'defaults', -719162],
  ['c_time', 'defaults', TIME_MICROS],
  ['c_time', 'precise', Math.floor(TIME_MICROS / 1000)],
  ['c_time3', 'defaults', 14_706_789],
  ['c_time3', 'alternative', 14_706_789_000],
  // ZonedTime: ISO_OFFSET_TIME in UTC, fraction trimmed (Debezium's newest padding is unverified).
  ['c_timetz', 'defaults', '02:05:06.5Z'],
  ['c_timetz_wrap', 'defaults', '01:30:00Z'],
  ['c_timestamp', 'defaults', TIMESTAMP_MICROS],
  ['c_timestamp', 'alternative', TIMESTAMP_MICROS],
  ['c_timestamp', 'precise', Math.floor(TIMESTAMP_MICROS / 1000)],
  ['c_timestamp3', 'defaults', Date.UTC(2024, 0, 2, 3, 4, 5, 123)],
  // adaptive_time_microseconds changes only TIME; timestamp(3) stays milliseconds.
  ['c_timestamp3', 'alternative', Date.UTC(2024, 0, 2, 3, 4, 5, 123)],
  ['c_timestamp_1969', 'defaults', -500_000],
  ['c_timestamp_inf', 'defaults', 9223372036825200000n],
  ['c_timestamp_ninf', 'defaults', -9223372036832400000n],
  // The same instant (PostgresValueConverter.POSITIVE_INFINITY_LOCAL_DATE_TIME) as milliseconds.
  ['c_timestamp3_inf', 'defaults', 9223372036825200n],
  ['c_timestamptz', 'defaults', '2024-01-02T03:04:05.500000Z'],
  ['c_timestamptz0', 'defaults', '2024-01-02T03:04:05Z'],
  ['c_timestamptz3', 'defaults', '2024-01-02T03:04:05.500Z'],
  ['c_timestamptz_offset', 'defaults', '2024-01-02T03:04:05.500000Z'],
  ['c_timestamptz_inf', 'defaults', 'infinity'],
  ['c_interval', 'defaults', 37091106780000],
  ['c_interval', 'alternative', 'P1Y2M3DT4H5M6.78S'],
  ['c_interval_day', 'defaults', 86_400_000_000],
  ['c_interval_day', 'alternative', 'P0Y0M1DT0H0M0S'],
  ['c_bytea', 'defaults', 'AQL/'],
  ['c_bytea', 'alternative', '0102ff'],
  // java.util.Base64.getUrlEncoder() pads.
  ['c_bytea_padded', 'precise', '-_8='],
  ['c_int_array', 'defaults', [1, 2, 3]],
  ['c_empty_array', 'defaults', []],
  ['c_text_array', 'defaults', ['a', 'b c', 'q"x', null, 'NULL', 'x,y', 'back\\slash']],
  // Multi-dimensional arrays: unverified in Debezium; ficus nests them as Postgres does.
  [
    'c_int_matrix',
    'defaults',
    [
      [1, 2],
      [3, 4],
    ],
  ],
  ['c_enum', 'defaults', 'happy'],
  ['c_enum_array', 'defaults', ['happy', 'sad']],
  ['c_domain', 'defaults', 42],
  ['c_inet', 'defaults', '192.168.0.1/24'],
  ['c_cidr', 'defaults', '10.0.0.0/8'],
  ['c_macaddr', 'defaults', '08:00:2b:01:02:03'],
  ['c_bit1', 'defaults', true],
  // io.debezium.data.Bits: little-endian bytes; binary.handling.mode does not apply.
  ['c_bit8', 'defaults', 'oA=='],
  ['c_bit8', 'alternative', 'oA=='],
  ['c_varbit', 'defaults', 'BQ=='],
  ['c_varbit10', 'defaults', 'AQI='],
];

describe('type mapping, snapshot and streaming', () => {
  let db: CdcDatabase;
  const connectors = new Map<OptionSet, TestConnector>();
  /** `after` of the snapshot read (id 1) and the streamed insert (id 2), per option set. */
  const rows = new Map<OptionSet, { snapshot: ChangeEventValue; streamed: ChangeEventValue }>();

  beforeAll(async () => {
    db = await createCdcDatabase();
    await db.sql("CREATE TYPE mood AS ENUM ('happy', 'sad')");
    await db.sql('CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)');
    await db.sql(
      `CREATE TABLE type_values (id int PRIMARY KEY, ${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`,
    );
    const insert = (id: number) =>
      `INSERT INTO type_values VALUES (${id}, ${COLUMNS.map(([, type, literal]) => `(${literal})::${type}`).join(', ')})`;
    await db.sql(insert(1));
    for (const name of Object.keys(OPTION_SETS) as OptionSet[]) {
      connectors.set(
        name,
        await startTestConnector(db.url, {
          typeOptions: OPTION_SETS[name],
          publicationName: `types_${name}`,
        }),
      );
    }
    await db.sql(insert(2));
    for (const [name, cdc] of connectors) {
      await cdc.waitFor(() => cdc.events().length >= 2);
      const [snapshot, streamed] = cdc.events();
      expect([snapshot?.op, streamed?.op]).toEqual(['r', 'c']);
      rows.set(name, { snapshot: snapshot!, streamed: streamed! });
    }
  });

  afterAll(async () => {
    for (const cdc of connectors.values()) await cdc.stop();
    await db?.cleanup();
  });

  it.each(CASES.map(([column, set, expected]) => ({ column, set, expected })))(
    '$column with $set options',
    ({ column, set, expected }) => {
      const { snapshot, streamed } = rows.get(set)!;
      const expectedJson = stringifyJson(expected);
      expect(snapshot.after?.[column]).toEqual(expected);
      expect(stringifyJson(snapshot.after?.[column])).toBe(expectedJson);
      expect(streamed.after?.[column]).toEqual(expected);
      expect(stringifyJson(streamed.after?.[column])).toBe(expectedJson);
    },
  );

  it('writes an unsafe bigint as an exact JSON integer in the record', () => {
    const { streamed } = rows.get('defaults')!;
    expect(stringifyJson(streamed.after)).toContain('"c_bigint_unsafe":9007199254740993,');
  });

  it('covers every column', () => {
    const covered = new Set(CASES.map(([column]) => column));
    expect(COLUMNS.filter(([name]) => !covered.has(name)).map(([name]) => name)).toEqual([]);
  });
});
