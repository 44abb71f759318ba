/**
 * `schemasEnable`: every key and value as Kafka's JsonConverter writes them with
 * `schemas.enable=true`, `{"schema": S, "payload": P}`, with Debezium 3.x's Connect schemas.
 *
 * Expected schemas follow Debezium's source (io.debezium.schema.SchemaFactory,
 * PostgresSourceInfoStructMaker, PostgresValueConverter#schemaBuilder), the documentation
 * https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-events
 * ("Data change events") and #postgresql-data-types ("Data type mappings"), and the JSON key order
 * of org.apache.kafka.connect.json.JsonConverter#asJsonSchema. The envelope and source blocks were
 * checked against a record written by Debezium 3.1.3 (`"version":2` on the envelope, `"version":1`
 * on the source and `event.block`).
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectSchemaError,
  createStdoutSink,
  DEFAULT_TYPE_OPTIONS,
  isChangeEventValue,
  stringifyJson,
  withoutConnectSchemas,
  type ChangeRecord,
  type ConnectSchema,
  type JsonValue,
  type TypeOptions,
} from '../../cdc/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  waitUntil,
  type CdcDatabase,
  type TestConnector,
} from './harness.js';
import { conforms } from './connect-conformance.js';
import { ENVELOPE_FIELDS, recordsAfter } from './records.js';

const PRECISE: TypeOptions = { ...DEFAULT_TYPE_OPTIONS, decimalHandling: 'precise' };

/** Debezium's `source` block (SchemaFactory.sourceInfoSchemaBuilder + PostgresSourceInfoStructMaker). */
const SOURCE =
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"}';
/** The envelope's `transaction` block (SchemaFactory.transactionBlockSchema). */
const TRANSACTION_BLOCK =
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}';

/** The whole envelope schema of a table whose row struct has `rowFields` (JSON text). */
function envelopeText(name: string, rowFields: string): string {
  const row = (field: string) =>
    `{"type":"struct","fields":[${rowFields}],"optional":true,"name":"${name}.Value","field":"${field}"}`;
  return `{"type":"struct","fields":[${row('before')},${row('after')},${SOURCE},${TRANSACTION_BLOCK},{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"${name}.Envelope","version":2}`;
}

interface Wrapped {
  schema: ConnectSchema;
  payload: JsonValue;
}

function wrapped(value: unknown): Wrapped {
  expect(value).not.toBeNull();
  expect(Object.keys(value as object)).toEqual(['schema', 'payload']);
  return value as Wrapped;
}

/** The Connect schema of column `name` in a change record's `after` struct. */
function fieldSchema(record: ChangeRecord, name: string): ConnectSchema {
  const { schema } = wrapped(record.value);
  const after = (schema.fields as ConnectSchema[]).find((f) => f.field === 'after')!;
  const found = (after.fields as ConnectSchema[]).find((f) => f.field === name);
  if (!found) throw new Error(`no field ${name}`);
  return found;
}

const DECIMAL_10_2 =
  '{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}';

/** [column, SQL type, literal]. */
const COLUMNS = [
  ['c_smallint', 'smallint NOT NULL', '32767'],
  ['c_integer', 'integer', '-7'],
  ['c_bigint', 'bigint', '9007199254740993'],
  ['c_oid', 'oid', '42'],
  ['c_real', 'real', '3.14'],
  ['c_double', 'double precision', '2.5'],
  ['c_boolean', 'boolean', 'true'],
  ['c_text', 'text NOT NULL', "'hello'"],
  ['c_varchar', 'varchar(10)', "'hi'"],
  ['c_char', 'char(5)', "'ab'"],
  ['c_name', 'name', "'nm'"],
  ['c_numeric', 'numeric(10,2)', '12.34'],
  ['c_numeric_free', 'numeric', '12.340'],
  ['c_money', 'money', '12.34'],
  ['c_date', 'date', "'2024-01-02'"],
  ['c_time', 'time', "'04:05:06.789012'"],
  ['c_time3', 'time(3)', "'04:05:06.789'"],
  ['c_timetz', 'timetz', "'04:05:06+02'"],
  ['c_timestamp', 'timestamp', "'2024-01-02 03:04:05.123456'"],
  ['c_timestamp3', 'timestamp(3)', "'2024-01-02 03:04:05.123'"],
  ['c_timestamptz', 'timestamptz', "'2024-01-02 03:04:05+00'"],
  ['c_interval', 'interval', "'1 day'"],
  ['c_bytea', 'bytea', "'\\x0102ff'"],
  ['c_uuid', 'uuid', "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"],
  ['c_json', 'json', `'{"a": 1}'`],
  ['c_jsonb', 'jsonb', `'{"a": 1}'`],
  ['c_xml', 'xml', "'<a>1</a>'"],
  ['c_bit1', 'bit(1)', "B'1'"],
  ['c_bit8', 'bit(8)', "B'10100000'"],
  ['c_varbit', 'varbit', "B'101'"],
  ['c_varbit16', 'varbit(16)', "B'101'"],
  ['c_inet', 'inet', "'192.168.0.1/24'"],
  ['c_cidr', 'cidr', "'10.0.0.0/8'"],
  ['c_macaddr', 'macaddr', "'08:00:2b:01:02:03'"],
  ['c_int4range', 'int4range', "'[1,10)'"],
  ['c_daterange', 'daterange', "'[2024-01-01,2024-02-01)'"],
  ['c_int_array', 'int[]', "'{1,NULL,3}'"],
  ['c_text_array', 'text[]', "'{a,b}'"],
  ['c_uuid_array', 'uuid[]', "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'"],
  ['c_enum', 'cs_mood', "'happy'"],
  ['c_enum_array', 'cs_mood[]', "'{happy,sad}'"],
  ['c_domain', 'cs_positive_int', '42'],
] as const;
type Column = (typeof COLUMNS)[number][0];
type OptionSet = 'defaults' | 'precise';

const semantic = (type: string, name: string) =>
  `{"type":"${type}","optional":true,"name":"${name}","version":1`;

/**
 * [column, option set, the field's schema as JSON text without `"field"` and the closing brace].
 * "Data type mappings" in Debezium's PostgreSQL documentation gives each literal and semantic type.
 */
const FIELD_CASES: [Column, OptionSet, string][] = [
  // NOT NULL → "optional":false (TableSchemaBuilder.addField)
  ['c_smallint', 'defaults', '{"type":"int16","optional":false'],
  ['c_integer', 'defaults', '{"type":"int32","optional":true'],
  ['c_bigint', 'defaults', '{"type":"int64","optional":true'],
  ['c_oid', 'defaults', '{"type":"int64","optional":true'],
  ['c_real', 'defaults', '{"type":"float","optional":true'],
  ['c_double', 'defaults', '{"type":"double","optional":true'],
  ['c_boolean', 'defaults', '{"type":"boolean","optional":true'],
  ['c_text', 'defaults', '{"type":"string","optional":false'],
  ['c_varchar', 'defaults', '{"type":"string","optional":true'],
  ['c_char', 'defaults', '{"type":"string","optional":true'],
  ['c_name', 'defaults', '{"type":"string","optional":true'],
  // decimal.handling.mode: string → STRING, precise → Decimal (scale, then precision).
  ['c_numeric', 'defaults', '{"type":"string","optional":true'],
  ['c_numeric', 'precise', DECIMAL_10_2],
  ['c_numeric_free', 'defaults', '{"type":"string","optional":true'],
  [
    'c_numeric_free',
    'precise',
    '{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal"',
  ],
  ['c_money', 'defaults', '{"type":"string","optional":true'],
  // MONEY: scale money.fraction.digits (2), no precision parameter (PostgresValueConverter.moneySchema).
  [
    'c_money',
    'precise',
    '{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}',
  ],
  ['c_date', 'defaults', semantic('int32', 'io.debezium.time.Date')],
  ['c_time', 'defaults', semantic('int64', 'io.debezium.time.MicroTime')],
  ['c_time3', 'defaults', semantic('int32', 'io.debezium.time.Time')],
  ['c_timetz', 'defaults', semantic('string', 'io.debezium.time.ZonedTime')],
  ['c_timestamp', 'defaults', semantic('int64', 'io.debezium.time.MicroTimestamp')],
  ['c_timestamp3', 'defaults', semantic('int64', 'io.debezium.time.Timestamp')],
  ['c_timestamptz', 'defaults', semantic('string', 'io.debezium.time.ZonedTimestamp')],
  ['c_interval', 'defaults', semantic('int64', 'io.debezium.time.MicroDuration')],
  ['c_bytea', 'defaults', '{"type":"bytes","optional":true'],
  ['c_uuid', 'defaults', semantic('string', 'io.debezium.data.Uuid')],
  ['c_json', 'defaults', semantic('string', 'io.debezium.data.Json')],
  ['c_jsonb', 'defaults', semantic('string', 'io.debezium.data.Json')],
  ['c_xml', 'defaults', semantic('string', 'io.debezium.data.Xml')],
  ['c_bit1', 'defaults', '{"type":"boolean","optional":true'],
  [
    'c_bit8',
    'defaults',
    `${semantic('bytes', 'io.debezium.data.Bits')},"parameters":{"length":"8"}`,
  ],
  // BIT VARYING without a length: 2^31 - 1.
  [
    'c_varbit',
    'defaults',
    `${semantic('bytes', 'io.debezium.data.Bits')},"parameters":{"length":"2147483647"}`,
  ],
  [
    'c_varbit16',
    'defaults',
    `${semantic('bytes', 'io.debezium.data.Bits')},"parameters":{"length":"16"}`,
  ],
  ['c_inet', 'defaults', '{"type":"string","optional":true'],
  ['c_cidr', 'defaults', '{"type":"string","optional":true'],
  ['c_macaddr', 'defaults', '{"type":"string","optional":true'],
  ['c_int4range', 'defaults', '{"type":"string","optional":true'],
  ['c_daterange', 'defaults', '{"type":"string","optional":true'],
  [
    'c_int_array',
    'defaults',
    '{"type":"array","items":{"type":"int32","optional":true},"optional":true',
  ],
  [
    'c_text_array',
    'defaults',
    '{"type":"array","items":{"type":"string","optional":true},"optional":true',
  ],
  [
    'c_uuid_array',
    'defaults',
    '{"type":"array","items":{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1},"optional":true',
  ],
  // ENUM: io.debezium.data.Enum with the labels in sort order; enum arrays keep a required element.
  [
    'c_enum',
    'defaults',
    `${semantic('string', 'io.debezium.data.Enum')},"parameters":{"allowed":"happy,sad"}`,
  ],
  [
    'c_enum_array',
    'defaults',
    '{"type":"array","items":{"type":"string","optional":false,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"happy,sad"}},"optional":true',
  ],
  // Domain types: the base type's schema ("Domain types").
  ['c_domain', 'defaults', '{"type":"int32","optional":true'],
];

describe('Kafka Connect JSON with schemas (schemasEnable)', () => {
  let db: CdcDatabase;
  const connectors = new Map<OptionSet, TestConnector>();
  /** The snapshot read and the streamed insert of cs_types, per option set. */
  const typeRecords = new Map<OptionSet, { read: ChangeRecord; streamed: ChangeRecord }>();

  beforeAll(async () => {
    db = await createCdcDatabase();
    await db.sql("CREATE TYPE cs_mood AS ENUM ('happy', 'sad')");
    await db.sql('CREATE DOMAIN cs_positive_int AS integer CHECK (VALUE > 0)');
    await db.sql(
      `CREATE TABLE cs_types (id int PRIMARY KEY, ${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`,
    );
    await db.sql(
      'CREATE TABLE cs_items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2))',
    );
    const insert = (id: number) =>
      `INSERT INTO cs_types VALUES (${id}, ${COLUMNS.map(([, , literal]) => literal).join(', ')})`;
    await db.sql(insert(1));
    for (const [set, typeOptions] of [
      ['defaults', DEFAULT_TYPE_OPTIONS],
      ['precise', PRECISE],
    ] as const) {
      connectors.set(
        set,
        await startTestConnector(db.url, {
          typeOptions,
          schemasEnable: true,
          publicationName: `cs_${set}`,
          tableIncludeList: ['public\\.cs_types', 'public\\.cs_items'],
        }),
      );
    }
    await db.sql(insert(2));
    for (const [set, cdc] of connectors) {
      const ofTypes = () => cdc.records.filter((r) => r.topic === 'test.public.cs_types');
      await cdc.waitFor(() => ofTypes().length >= 2);
      const [read, streamed] = ofTypes();
      typeRecords.set(set, { read: read!, streamed: streamed! });
    }
  });

  afterAll(async () => {
    for (const cdc of connectors.values()) await cdc.stop();
    await db?.cleanup();
  });

  it('writes a small table exactly as Debezium does, with decimal precise', async () => {
    const cdc = connectors.get('precise')!;
    const [record] = await recordsAfter(cdc, 1, () =>
      db.sql("INSERT INTO cs_items VALUES (1, 'Oak desk', 249.00)"),
    );
    // "Data change events" → "Change event keys": a struct named <prefix>.<schema>.<table>.Key.
    expect(stringifyJson(record!.key)).toBe(
      '{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"test.public.cs_items.Key"},"payload":{"id":1}}',
    );
    const value = wrapped(record!.value);
    expect(stringifyJson(value.schema)).toBe(
      envelopeText(
        'test.public.cs_items',
        `{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},${DECIMAL_10_2},"field":"price"}`,
      ),
    );
    // The payload is exactly the schemaless record: 249.00 is the unscaled 24900, base64.
    const payload = value.payload as Record<string, JsonValue>;
    expect(Object.keys(payload)).toEqual(ENVELOPE_FIELDS);
    expect(payload.after).toEqual({ id: 1, name: 'Oak desk', price: 'YUQ=' });
    expect(conforms(value.schema, value.payload)).toBe(true);
  });

  it('writes the same table under ficus defaults (decimals as strings)', async () => {
    const cdc = connectors.get('defaults')!;
    const [record] = await recordsAfter(cdc, 1, () =>
      db.sql("INSERT INTO cs_items VALUES (2, 'Pine shelf', 19.90)"),
    );
    const value = wrapped(record!.value);
    expect(stringifyJson(value.schema)).toBe(
      envelopeText(
        'test.public.cs_items',
        '{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},{"type":"string","optional":true,"field":"price"}',
      ),
    );
    expect((value.payload as { after: unknown }).after).toEqual({
      id: 2,
      name: 'Pine shelf',
      price: '19.90',
    });
  });

  it.each(FIELD_CASES.map(([column, set, expected]) => ({ column, set, expected })))(
    '$column with $set options',
    ({ column, set, expected }) => {
      const { read, streamed } = typeRecords.get(set)!;
      const want = `${expected},"field":"${column}"}`;
      expect(stringifyJson(fieldSchema(read, column))).toBe(want);
      expect(stringifyJson(fieldSchema(streamed, column))).toBe(want);
    },
  );

  it('covers every column', () => {
    const covered = new Set(FIELD_CASES.map(([column]) => column));
    expect(COLUMNS.map(([name]) => name).filter((name) => !covered.has(name))).toEqual([]);
  });

  it.each(['defaults', 'precise'] as const)(
    'gives snapshot reads and streamed changes (%s) payloads that fit their schemas',
    (set) => {
      const { read, streamed } = typeRecords.get(set)!;
      for (const [record, op] of [
        [read, 'r'],
        [streamed, 'c'],
      ] as const) {
        const key = wrapped(record.key);
        const value = wrapped(record.value);
        expect(key.payload).toEqual({ id: op === 'r' ? 1 : 2 });
        expect(conforms(key.schema, key.payload)).toBe(true);
        expect((value.payload as { op: string }).op).toBe(op);
        expect(conforms(value.schema, value.payload)).toBe(true);
        // Same schema for every record of the table, as Debezium's docs say.
        expect(stringifyJson(value.schema)).toBe(stringifyJson(wrapped(read.value).schema));
      }
      expect(
        (wrapped(read.value).payload as { source: { snapshot: string } }).source.snapshot,
      ).toBe('last');
    },
  );

  it('keeps a tombstone value null and its key wrapped; a truncate key stays null', async () => {
    const cdc = connectors.get('defaults')!;
    await recordsAfter(cdc, 1, () => db.sql("INSERT INTO cs_items VALUES (3, 'Stool', 5)"));
    const records = await recordsAfter(cdc, 3, async () => {
      await db.sql('DELETE FROM cs_items WHERE id = 3');
      await db.sql('TRUNCATE cs_items');
    });
    const [deleted, tombstone, truncated] = records.filter((r) => r.topic.endsWith('cs_items'));
    const keyText =
      '{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"test.public.cs_items.Key"},"payload":{"id":3}}';
    expect(stringifyJson(deleted!.key)).toBe(keyText);
    expect((wrapped(deleted!.value).payload as { op: string }).op).toBe('d');
    expect(stringifyJson(tombstone!.key)).toBe(keyText);
    expect(tombstone!.value).toBeNull();
    expect(truncated!.key).toBeNull();
    const truncate = wrapped(truncated!.value);
    expect((truncate.payload as { op: string }).op).toBe('t');
    expect(conforms(truncate.schema, truncate.payload)).toBe(true);
  });

  it('wraps the delete, tombstone and create of a primary-key change, headers unchanged', async () => {
    const cdc = connectors.get('defaults')!;
    await recordsAfter(cdc, 1, () => db.sql("INSERT INTO cs_items VALUES (4, 'Lamp', 12)"));
    const records = await recordsAfter(cdc, 3, () =>
      db.sql('UPDATE cs_items SET id = 5 WHERE id = 4'),
    );
    expect(
      records.map((r) => [
        (wrapped(r.key).payload as { id: number }).id,
        r.value === null ? 'tombstone' : (wrapped(r.value).payload as { op: string }).op,
        r.headers,
      ]),
    ).toEqual([
      [4, 'd', { '__debezium.newkey': '{"id":5}' }],
      [4, 'tombstone', { '__debezium.newkey': '{"id":5}' }],
      [5, 'c', { '__debezium.oldkey': '{"id":4}' }],
    ]);
  });

  it('picks up ALTER TABLE ADD COLUMN in the next record, and no earlier', async () => {
    const cdc = connectors.get('defaults')!;
    const records = await recordsAfter(cdc, 2, async () => {
      await db.sql("INSERT INTO cs_items VALUES (10, 'Before', 1)");
      await db.sql("ALTER TABLE cs_items ADD COLUMN note text NOT NULL DEFAULT 'none'");
      await db.sql("INSERT INTO cs_items VALUES (11, 'After', 1, 'added')");
    });
    const fieldsOf = (record: ChangeRecord) =>
      (wrapped(record.value).schema.fields as ConnectSchema[]).find((f) => f.field === 'after')!
        .fields as ConnectSchema[];
    expect(fieldsOf(records[0]!).map((f) => f.field)).toEqual(['id', 'name', 'price']);
    expect(stringifyJson(fieldsOf(records[1]!).at(-1))).toBe(
      // Debezium also writes "default":"none" here (column defaults); ficus does not (cdc/README.md).
      '{"type":"string","optional":false,"field":"note"}',
    );
    const value = wrapped(records[1]!.value);
    expect((value.payload as { after: unknown }).after).toEqual({
      id: 11,
      name: 'After',
      price: '1.00',
      note: 'added',
    });
    expect(conforms(value.schema, value.payload)).toBe(true);
  });

  it('reads wrapped records back as the schemaless ones (carried-state and Kafka consumers)', () => {
    const { streamed } = typeRecords.get('defaults')!;
    const plain = withoutConnectSchemas(streamed);
    expect(isChangeEventValue(plain.value)).toBe(true);
    expect(plain.key).toEqual({ id: 2 });
    expect(plain.value).toBe(wrapped(streamed.value).payload);
    expect(withoutConnectSchemas(plain)).toBe(plain);
  });
});

describe('schemasEnable: transaction metadata, heartbeats, stdout', () => {
  let db: CdcDatabase;
  /** Embedded sink (the harness's), transaction metadata and heartbeats on. */
  let cdc: TestConnector;
  /** The stdout sink, writing into `lines`. */
  let out: TestConnector;
  const lines: string[] = [];

  beforeAll(async () => {
    db = await createCdcDatabase();
    await db.sql('CREATE TABLE cs_orders (id int PRIMARY KEY, total int)');
    cdc = await startTestConnector(db.url, {
      snapshotMode: 'never',
      provideTransactionMetadata: true,
      heartbeatIntervalMs: 100,
      schemasEnable: true,
    });
    const output = new PassThrough();
    output.setEncoding('utf8');
    let pending = '';
    output.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop()!;
      lines.push(...parts);
    });
    out = await startTestConnector(db.url, {
      snapshotMode: 'never',
      schemasEnable: true,
      publicationName: 'cs_stdout',
      sink: createStdoutSink({ output }),
    });
  });

  afterAll(async () => {
    await cdc?.stop();
    await out?.stop();
    await db?.cleanup();
  });

  it('wraps BEGIN and END with Debezium transaction schemas and events with a transaction block', async () => {
    await db.sql('INSERT INTO cs_orders VALUES (1, 10)');
    await cdc.waitFor((all) => all.filter((r) => r.topic === 'test.transaction').length >= 2);
    const [begin, end] = cdc.records.filter((r) => r.topic === 'test.transaction');
    const event = cdc.records.find((r) => r.topic === 'test.public.cs_orders');
    // "Transaction metadata": key {id}, value status/id/event_count/data_collections/ts_ms
    // (SchemaFactory.transactionKeySchema / transactionValueSchema).
    const keySchema =
      '{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}';
    const valueSchema =
      '{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":true,"name":"event.collection","version":1},"optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}';
    for (const record of [begin!, end!]) {
      expect(stringifyJson(wrapped(record.key).schema)).toBe(keySchema);
      const value = wrapped(record.value);
      expect(stringifyJson(value.schema)).toBe(valueSchema);
      expect(conforms(value.schema, value.payload)).toBe(true);
    }
    expect((wrapped(begin!.value).payload as { status: string }).status).toBe('BEGIN');
    expect((wrapped(end!.value).payload as { status: string }).status).toBe('END');
    const change = wrapped(event!.value);
    expect((change.payload as { transaction: unknown }).transaction).toMatchObject({
      total_order: 1,
      data_collection_order: 1,
    });
    expect(conforms(change.schema, change.payload)).toBe(true);
    // The embedded sink sees only the wrapped form, never the attached schemas.
    expect(cdc.records.some((r) => r.connectSchemas !== undefined)).toBe(false);
  });

  it('wraps heartbeats with Debezium heartbeat schemas', async () => {
    const heartbeats = () => cdc.records.filter((r) => r.topic === '__debezium-heartbeat.test');
    await waitUntil(() => heartbeats().length > 0);
    const [beat] = heartbeats();
    expect(stringifyJson(wrapped(beat!.key).schema)).toBe(
      '{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey","version":1}',
    );
    expect(stringifyJson(wrapped(beat!.value).schema)).toBe(
      '{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat","version":1}',
    );
  });

  it('hands the stdout sink the same wrapped records', async () => {
    await db.sql('INSERT INTO cs_orders VALUES (2, 20)');
    const orders = () => lines.filter((l) => l.includes('"topic":"test.public.cs_orders"'));
    await waitUntil(() => orders().some((l) => l.includes('"payload":{"id":2}')));
    const line = orders().find((l) => l.includes('"payload":{"id":2}'))!;
    const parsed = JSON.parse(line) as { key: unknown; value: unknown };
    expect(wrapped(parsed.key).payload).toEqual({ id: 2 });
    const value = wrapped(parsed.value);
    expect((value.payload as { op: string }).op).toBe('c');
    expect(conforms(value.schema, value.payload)).toBe(true);
  });
});

describe('schemasEnable: types without a faithful schema', () => {
  let db: CdcDatabase;

  beforeAll(async () => {
    db = await createCdcDatabase();
    await db.sql('CREATE TABLE cs_shapes (id int PRIMARY KEY, label text, location point)');
  });

  afterAll(() => db?.cleanup());

  it('refuses to start, naming the column and its type', async () => {
    const start = startTestConnector(db.url, {
      schemasEnable: true,
      tableIncludeList: ['public\\.cs_shapes'],
    });
    await expect(start).rejects.toThrow(ConnectSchemaError);
    await expect(start).rejects.toThrow(/column public\.cs_shapes\.location has type point/);
    await expect(start).rejects.toMatchObject({ code: 'FICUS_CDC_CONNECT_SCHEMA' });
  });

  it('starts when the column is excluded, or without schemasEnable', async () => {
    const excluded = await startTestConnector(db.url, {
      schemasEnable: true,
      tableIncludeList: ['public\\.cs_shapes'],
      columnExcludeList: ['public\\.cs_shapes\\.location'],
    });
    await excluded.stop();
    const plain = await startTestConnector(db.url, { tableIncludeList: ['public\\.cs_shapes'] });
    await plain.stop();
  });
});
