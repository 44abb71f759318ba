/**
 * Regression: a delete under REPLICA IDENTITY DEFAULT had null in its NOT NULL columns, which the
 * Value schema marks required, so Kafka Connect's JsonConverter refused it ("Invalid null value
 * for required INT32 field") and Debezium's JDBC sink task died on the first delete.
 *
 * Postgres sends only the key columns of such a row; Debezium's value converters put a per-type
 * fallback into every NOT NULL column it did not send (io.debezium.jdbc.JdbcValueConverters
 * #convertValue, PostgresValueConverter), in the connector, so with and without schemas.
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-replica-identity
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_TYPE_OPTIONS,
  isChangeEventValue,
  stringifyJson,
  type ChangeEventValue,
  type ChangeRecord,
  type ConnectSchema,
  type JsonValue,
  type TypeOptions,
} from '../../cdc/index.js';
import { conforms } from './connect-conformance.js';
import {
  createCdcDatabase,
  startTestConnector,
  type CdcDatabase,
  type TestConnector,
} from './harness.js';

/** Four connectors that between them use every value of every type option. */
const OPTION_SETS = {
  /** ficus defaults, payload-only JSON. */
  plain: { schemasEnable: false, typeOptions: DEFAULT_TYPE_OPTIONS },
  /** Payload-only JSON. */
  preciseConnect: {
    schemasEnable: false,
    typeOptions: {
      decimalHandling: 'precise',
      timePrecision: 'connect',
      binaryHandling: 'hex',
      intervalHandling: 'string',
    },
  },
  /** Kafka Connect JSON with schemas. */
  schemasDouble: {
    schemasEnable: true,
    typeOptions: {
      decimalHandling: 'double',
      timePrecision: 'adaptive_time_microseconds',
      binaryHandling: 'base64-url-safe',
      intervalHandling: 'numeric',
    },
  },
  /** Kafka Connect JSON with schemas, as tests/e2e/jdbc-sink.test.ts runs ficus. */
  schemasPrecise: {
    schemasEnable: true,
    typeOptions: {
      decimalHandling: 'precise',
      timePrecision: 'adaptive',
      binaryHandling: 'base64',
      intervalHandling: 'string',
    },
  },
} satisfies Record<string, { schemasEnable: boolean; typeOptions: TypeOptions }>;
type OptionSet = keyof typeof OPTION_SETS;
const SETS = Object.keys(OPTION_SETS) as OptionSet[];

/** The same fallback whatever the options. */
const always = (value: JsonValue) => Object.fromEntries(SETS.map((set) => [set, value]));
/** Zero under decimal.handling.mode string / double / precise. */
const decimal = (text: string, bytes: JsonValue) => ({
  plain: text,
  preciseConnect: bytes,
  schemasDouble: 0,
  schemasPrecise: bytes,
});

/**
 * [column, SQL type, a literal, Debezium's fallback per option set]. The source line of each
 * fallback is in cdc/events/fallback-values.ts and cdc/README.md ("NOT NULL columns Postgres did
 * not send").
 */
const COLUMNS: [string, string, string, Record<string, JsonValue>][] = [
  ['c_smallint', 'smallint', '7', always(0)],
  ['c_integer', 'integer', '7', always(0)],
  ['c_bigint', 'bigint', '7', always(0)],
  ['c_oid', 'oid', '7', always(0)],
  ['c_real', 'real', '1.5', always(0)],
  ['c_double', 'double precision', '1.5', always(0)],
  ['c_boolean', 'boolean', 'true', always(false)],
  ['c_text', 'text', "'x'", always('')],
  ['c_varchar', 'varchar(10)', "'x'", always('')],
  ['c_char', 'char(5)', "'x'", always('')],
  ['c_name', 'name', "'x'", always('')],
  ['c_numeric', 'numeric(10,2)', '1.50', decimal('0.00', 'AA==')],
  ['c_numeric_int', 'numeric(5,0)', '15', decimal('0', 'AA==')],
  ['c_numeric_free', 'numeric', '1.5', decimal('0', { scale: 0, value: 'AA==' })],
  ['c_money', 'money', '1.50', decimal('0.00', 'AA==')],
  ['c_date', 'date', "'2024-01-02'", always(0)],
  ['c_time', 'time', "'04:05:06.789012'", always(0)],
  ['c_time3', 'time(3)', "'04:05:06.789'", always(0)],
  ['c_timetz', 'timetz', "'04:05:06+02'", always('00:00:00Z')],
  ['c_timestamp', 'timestamp', "'2024-01-02 03:04:05.123456'", always(0)],
  ['c_timestamp3', 'timestamp(3)', "'2024-01-02 03:04:05.123'", always(0)],
  ['c_timestamptz', 'timestamptz', "'2024-01-02 03:04:05.5+00'", always('1970-01-01T00:00:00Z')],
  [
    'c_interval',
    'interval',
    "'1 day'",
    {
      plain: 0,
      preciseConnect: 'P0Y0M0DT0H0M0S',
      schemasDouble: 0,
      schemasPrecise: 'P0Y0M0DT0H0M0S',
    },
  ],
  ['c_bytea', 'bytea', "'\\x0102ff'", always('')],
  ['c_uuid', 'uuid', "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", always('')],
  ['c_json', 'json', `'{"a": 1}'`, always('')],
  ['c_jsonb', 'jsonb', `'{"a": 1}'`, always('')],
  ['c_xml', 'xml', "'<a>1</a>'", always('')],
  ['c_bit1', 'bit(1)', "B'1'", always(false)],
  ['c_bit8', 'bit(8)', "B'10100000'", always('')],
  ['c_varbit', 'varbit', "B'101'", always('')],
  ['c_inet', 'inet', "'192.168.0.1/24'", always('')],
  ['c_cidr', 'cidr', "'10.0.0.0/8'", always('')],
  ['c_macaddr', 'macaddr', "'08:00:2b:01:02:03'", always('')],
  ['c_int4range', 'int4range', "'[1,10)'", always('')],
  ['c_int_array', 'int[]', "'{1,2}'", always([])],
  ['c_text_array', 'text[]', "'{a,b}'", always([])],
  ['c_enum', 'nf_mood', "'happy'", always('')],
  ['c_enum_array', 'nf_mood[]', "'{happy}'", always([])],
  ['c_domain', 'nf_positive_int', '42', always(0)],
];
/** Nullable columns: null stays null. */
const NULLABLE: [string, string, string][] = [
  ['n_text', 'text', "'x'"],
  ['n_integer', 'integer', '7'],
  ['n_numeric', 'numeric(10,2)', '1.50'],
  ['n_timestamptz', 'timestamptz', "'2024-01-02 03:04:05+00'"],
];

let db: CdcDatabase;
const connectors = new Map<OptionSet, TestConnector>();
/** Per option set: the delete and the delete half of a primary-key change, as the sink got them. */
const deletes = new Map<OptionSet, { deleted: ChangeRecord; moved: ChangeRecord }>();

/** The change event of a record in either format. */
function eventOf(record: ChangeRecord): ChangeEventValue {
  const value: unknown = record.value;
  const event =
    value !== null && typeof value === 'object' && 'payload' in value ? value.payload : value;
  const candidate = event as ChangeRecord['value'];
  if (!isChangeEventValue(candidate)) throw new Error('not a change event');
  return candidate;
}

beforeAll(async () => {
  db = await createCdcDatabase();
  await db.sql("CREATE TYPE nf_mood AS ENUM ('happy', 'sad')");
  await db.sql('CREATE DOMAIN nf_positive_int AS integer CHECK (VALUE > 0)');
  const columns = [
    ...COLUMNS.map(([name, type]) => `${name} ${type} NOT NULL`),
    ...NULLABLE.map(([name, type]) => `${name} ${type}`),
  ];
  await db.sql(`CREATE TABLE nf_rows (id int PRIMARY KEY, ${columns.join(', ')})`);
  await db.sql('ALTER TABLE nf_rows REPLICA IDENTITY DEFAULT');
  for (const set of SETS) {
    connectors.set(
      set,
      await startTestConnector(db.url, {
        snapshotMode: 'never',
        ...OPTION_SETS[set],
        tableIncludeList: ['public\\.nf_rows'],
      }),
    );
  }
  const literals = [...COLUMNS, ...NULLABLE].map(([, , literal]) => literal).join(', ');
  await db.sql(`INSERT INTO nf_rows VALUES (1, ${literals}), (2, ${literals})`);
  await db.sql('DELETE FROM nf_rows WHERE id = 1');
  await db.sql('UPDATE nf_rows SET id = 20 WHERE id = 2');
  for (const [set, cdc] of connectors) {
    const ofDeletes = () => cdc.records.filter((r) => r.value !== null && eventOf(r).op === 'd');
    await cdc.waitFor(() => ofDeletes().length >= 2);
    const [deleted, moved] = ofDeletes();
    deletes.set(set, { deleted: deleted!, moved: moved! });
  }
});

afterAll(async () => {
  for (const cdc of connectors.values()) await cdc.stop();
  await db?.cleanup();
});

const CASES = SETS.flatMap((set) =>
  COLUMNS.map(([column, type, , fallback]) => ({ set, column, type, expected: fallback[set]! })),
);

describe('a delete under REPLICA IDENTITY DEFAULT', () => {
  it.each(CASES)('fills $column ($type NOT NULL) with $set', ({ set, column, expected }) => {
    const { deleted, moved } = deletes.get(set)!;
    expect(stringifyJson(eventOf(deleted).before?.[column])).toBe(stringifyJson(expected));
    // The delete of a primary-key change carries the same key-only old row.
    expect(stringifyJson(eventOf(moved).before?.[column])).toBe(stringifyJson(expected));
  });

  it.each(SETS)('keeps the key and null in nullable columns (%s)', (set) => {
    const { deleted, moved } = deletes.get(set)!;
    for (const [record, id] of [
      [deleted, 1],
      [moved, 2],
    ] as const) {
      const before = eventOf(record).before!;
      expect(before.id).toBe(id);
      expect(NULLABLE.map(([name]) => before[name])).toEqual(NULLABLE.map(() => null));
      expect(Object.keys(before)).toEqual([
        'id',
        ...COLUMNS.map(([name]) => name),
        ...NULLABLE.map(([name]) => name),
      ]);
    }
  });

  it('covers every option value ficus supports', () => {
    const used = (key: keyof TypeOptions) =>
      new Set(SETS.map((set) => OPTION_SETS[set].typeOptions[key]));
    expect(used('decimalHandling')).toEqual(new Set(['string', 'double', 'precise']));
    expect(used('timePrecision')).toEqual(
      new Set(['adaptive', 'adaptive_time_microseconds', 'connect']),
    );
    expect(used('binaryHandling')).toEqual(new Set(['bytes', 'base64', 'base64-url-safe', 'hex']));
    expect(used('intervalHandling')).toEqual(new Set(['numeric', 'string']));
  });

  it.each(['schemasDouble', 'schemasPrecise'] as const)(
    'fits its Value schema, which marks the NOT NULL columns required (%s)',
    (set) => {
      for (const record of Object.values(deletes.get(set)!)) {
        const { schema, payload } = record.value as unknown as {
          schema: ConnectSchema;
          payload: JsonValue;
        };
        expect(conforms(schema, payload)).toBe(true);
        // What JsonConverter refused before: a null in a required field.
        const withNull = structuredClone(payload) as { before: Record<string, JsonValue> };
        withNull.before.c_integer = null;
        expect(conforms(schema, withNull as unknown as JsonValue)).toBe(false);
      }
    },
  );
});
