/**
 * Kafka Connect schemas for change records, written as Kafka's JsonConverter writes them with
 * `schemas.enable=true`: every key and value becomes `{"schema": S, "payload": P}`, where P is the
 * schemaless JSON ficus writes anyway and S describes it the way the Debezium PostgreSQL connector
 * (3.x) does.
 *
 * References:
 * - JSON layout and key order: org.apache.kafka.connect.json.JsonConverter#asJsonSchema
 *   (type, items | fields, optional, name, version, doc, parameters, default; `field` last)
 * - envelope, source, transaction, heartbeat schemas: io.debezium.schema.SchemaFactory,
 *   io.debezium.connector.postgresql.PostgresSourceInfoStructMaker
 * - column schemas: io.debezium.connector.postgresql.PostgresValueConverter#schemaBuilder and
 *   https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-data-types
 */
import { CdcSetupError } from '../errors.js';
import type {
  ChangeEventValue,
  ChangeRecord,
  HeartbeatValue,
  TransactionEventValue,
} from './envelope.js';
import type { JsonObject, JsonValue } from './json.js';
import { builtinArrayElement, OID, type CatalogType, type TypeOptions } from './type-mapping.js';

/** A Connect schema in JsonConverter's JSON form (`{"type", …, "optional", "name", …}`). */
export type ConnectSchema = JsonObject;

/** The key and value schemas of one table's change records (key null: no primary key). */
export interface TableConnectSchemas {
  readonly key: ConnectSchema | null;
  readonly value: ConnectSchema;
}

/** A key or value with its schema: JsonConverter's envelope. */
export interface ConnectJson<P> {
  readonly schema: ConnectSchema;
  readonly payload: P;
}

/** A record value as JsonConverter writes it with `schemas.enable=true`. */
export type ConnectJsonValue = ConnectJson<
  ChangeEventValue | TransactionEventValue | HeartbeatValue
>;

type ConnectType =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float'
  | 'double'
  | 'boolean'
  | 'string'
  | 'bytes'
  | 'array'
  | 'struct';

interface SchemaSpec {
  readonly type: ConnectType;
  readonly items?: ConnectSchema;
  readonly fields?: readonly ConnectSchema[];
  readonly optional?: boolean;
  readonly name?: string;
  readonly version?: number;
  readonly doc?: string;
  readonly parameters?: Readonly<Record<string, string>>;
  readonly default?: JsonValue;
}

/** Builds a schema with its keys in JsonConverter#asJsonSchema's order. */
function schema(spec: SchemaSpec): ConnectSchema {
  const out: JsonObject = { type: spec.type };
  if (spec.items !== undefined) out.items = spec.items;
  if (spec.fields !== undefined) out.fields = [...spec.fields];
  out.optional = spec.optional ?? false;
  if (spec.name !== undefined) out.name = spec.name;
  if (spec.version !== undefined) out.version = spec.version;
  if (spec.doc !== undefined) out.doc = spec.doc;
  if (spec.parameters !== undefined) out.parameters = { ...spec.parameters };
  if (spec.default !== undefined) out.default = spec.default;
  return out;
}

/** A struct field: the field's schema with `"field": name` appended, as JsonConverter writes it. */
function field(name: string, fieldSchema: ConnectSchema): ConnectSchema {
  return { ...fieldSchema, field: name };
}

/** The same schema, optional (or required), keys kept in order. */
function withOptional(base: ConnectSchema, optional: boolean): ConnectSchema {
  return Object.fromEntries(
    Object.entries(base).map(([key, value]) => [key, key === 'optional' ? optional : value]),
  );
}

const STRING = schema({ type: 'string' });
const OPTIONAL_STRING = schema({ type: 'string', optional: true });
const INT64 = schema({ type: 'int64' });
const OPTIONAL_INT64 = schema({ type: 'int64', optional: true });

/** Debezium's `io.debezium.*` semantic types (each `version: 1`). */
const semantic = (type: ConnectType, name: string, parameters?: Record<string, string>) =>
  schema({ type, name, version: 1, ...(parameters ? { parameters } : {}) });

/** `SnapshotRecord` values, lower-cased, in the enum's declaration order (SchemaFactory.snapshotRecordSchema). */
const SNAPSHOT_VALUES =
  'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental';

/** `io.debezium.connector.postgresql.Source` (SchemaFactory.sourceInfoSchemaBuilder, version 1 since 3.0). */
export const SOURCE_SCHEMA: ConnectSchema = schema({
  type: 'struct',
  fields: [
    field('version', STRING),
    field('connector', STRING),
    field('name', STRING),
    field('ts_ms', INT64),
    field(
      'snapshot',
      schema({
        type: 'string',
        optional: true,
        name: 'io.debezium.data.Enum',
        version: 1,
        parameters: { allowed: SNAPSHOT_VALUES },
        default: 'false',
      }),
    ),
    field('db', STRING),
    field('sequence', OPTIONAL_STRING),
    field('ts_us', OPTIONAL_INT64),
    field('ts_ns', OPTIONAL_INT64),
    field('schema', STRING),
    field('table', STRING),
    field('txId', OPTIONAL_INT64),
    field('lsn', OPTIONAL_INT64),
    field('xmin', OPTIONAL_INT64),
  ],
  name: 'io.debezium.connector.postgresql.Source',
  version: 1,
});

/** The envelope's `transaction` block (SchemaFactory.transactionBlockSchema). */
export const TRANSACTION_BLOCK_SCHEMA: ConnectSchema = schema({
  type: 'struct',
  fields: [field('id', STRING), field('total_order', INT64), field('data_collection_order', INT64)],
  optional: true,
  name: 'event.block',
  version: 1,
});

/** Key and value of BEGIN/END records (SchemaFactory.transactionKeySchema / transactionValueSchema). */
export const TRANSACTION_SCHEMAS = Object.freeze({
  key: schema({
    type: 'struct',
    fields: [field('id', STRING)],
    name: 'io.debezium.connector.common.TransactionMetadataKey',
    version: 1,
  }),
  value: schema({
    type: 'struct',
    fields: [
      field('status', STRING),
      field('id', STRING),
      field('event_count', OPTIONAL_INT64),
      field(
        'data_collections',
        schema({
          type: 'array',
          items: schema({
            type: 'struct',
            fields: [field('data_collection', STRING), field('event_count', INT64)],
            optional: true,
            name: 'event.collection',
            version: 1,
          }),
          optional: true,
        }),
      ),
      field('ts_ms', INT64),
    ],
    name: 'io.debezium.connector.common.TransactionMetadataValue',
    version: 1,
  }),
} satisfies TableConnectSchemas);

/** Key and value of heartbeat records (SchemaFactory.heartbeatKeySchema / heartbeatValueSchema). */
export const HEARTBEAT_SCHEMAS = Object.freeze({
  key: schema({
    type: 'struct',
    fields: [field('serverName', STRING)],
    name: 'io.debezium.connector.common.ServerNameKey',
    version: 1,
  }),
  value: schema({
    type: 'struct',
    fields: [field('ts_ms', INT64)],
    name: 'io.debezium.connector.common.Heartbeat',
    version: 1,
  }),
} satisfies TableConnectSchemas);

/** A column as its Connect schema needs it. */
export interface ConnectColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeModifier: number;
  /** NOT NULL in the catalog. */
  readonly notNull: boolean;
  /** `format_type(atttypid, atttypmod)`, for error messages. */
  readonly typeName: string;
}

/** The parts of a table its schemas are built from. */
export interface ConnectTable {
  readonly schema: string;
  readonly table: string;
  readonly topicPrefix: string;
  readonly columns: readonly ConnectColumn[];
  readonly keyColumns: readonly ConnectColumn[];
}

/**
 * A column whose type ficus cannot describe as Debezium does (Debezium leaves it out, or gives it
 * a structure ficus does not write). Raised at start, and when a Relation message brings one.
 */
export class ConnectSchemaError extends CdcSetupError {
  constructor(
    readonly column: string,
    readonly typeName: string,
  ) {
    super(
      'FICUS_CDC_CONNECT_SCHEMA',
      `column ${column} has type ${typeName}, which ficus cannot describe as Debezium's Kafka Connect schema (schemasEnable is on); leave the column out with columnExcludeList, or turn schemasEnable off`,
    );
  }
}

/** Thrown inside the type mapping; the caller adds the column name. */
class UnsupportedType extends Error {}

/** Builds a table's key schema (`<prefix>.<schema>.<table>.Key`) and envelope schema. */
export function tableConnectSchemas(
  table: ConnectTable,
  options: TypeOptions,
  catalog: ReadonlyMap<number, CatalogType>,
): TableConnectSchemas {
  const prefix = `${table.topicPrefix}.${table.schema}.${table.table}`;
  const fieldOf = (column: ConnectColumn) => {
    try {
      const base = columnSchema(column.typeOid, column.typeModifier, options, catalog);
      return field(column.name, withOptional(base, !column.notNull));
    } catch (error) {
      if (!(error instanceof UnsupportedType)) throw error;
      throw new ConnectSchemaError(
        `${table.schema}.${table.table}.${column.name}`,
        column.typeName,
      );
    }
  };
  const key =
    table.keyColumns.length === 0
      ? null
      : schema({ type: 'struct', fields: table.keyColumns.map(fieldOf), name: `${prefix}.Key` });
  const row = schema({
    type: 'struct',
    fields: table.columns.map(fieldOf),
    optional: true,
    name: `${prefix}.Value`,
  });
  // Envelope version 2 since Debezium 2.6 added ts_us/ts_ns (DBZ-7107).
  const value = schema({
    type: 'struct',
    fields: [
      field('before', row),
      field('after', row),
      field('source', SOURCE_SCHEMA),
      field('transaction', TRANSACTION_BLOCK_SCHEMA),
      field('op', STRING),
      field('ts_ms', OPTIONAL_INT64),
      field('ts_us', OPTIONAL_INT64),
      field('ts_ns', OPTIONAL_INT64),
    ],
    name: `${prefix}.Envelope`,
    version: 2,
  });
  return { key, value };
}

const RANGE_TYPES = new Set<number>([3904, 3906, 3908, 3910, 3912, 3926]);
const NETWORK_TYPES = new Set<number>([869, 650, 829, 774]);
const STRING_TYPES = new Set<number>([OID.char, OID.name, OID.text, OID.bpchar, OID.varchar]);
/** Array element types whose arrays Debezium leaves out (PostgresValueConverter: "still need to be implemented"), plus bit[] (described as Bits, not an array). */
const OMITTED_ARRAY_ELEMENTS = new Set<number>([
  OID.money,
  OID.name,
  OID.interval,
  OID.varbit,
  OID.xml,
  OID.bit,
  600, // point
]);

/**
 * The schema of a column's values, mirroring type-mapping.ts's converterFor so the schema always
 * describes the payload ficus writes. Throws UnsupportedType where Debezium's schema would differ.
 */
function columnSchema(
  oid: number,
  modifier: number,
  options: TypeOptions,
  catalog: ReadonlyMap<number, CatalogType>,
): ConnectSchema {
  const custom = catalog.get(oid);
  const element =
    builtinArrayElement(oid) ??
    (custom && custom.elementOid !== 0 && custom.name.startsWith('_')
      ? custom.elementOid
      : undefined);
  if (element !== undefined) {
    if (OMITTED_ARRAY_ELEMENTS.has(element)) throw new UnsupportedType();
    const elementType = catalog.get(element);
    // Debezium's enum arrays have a required element schema; every other element is optional.
    if (elementType?.kind === 'e') return schema({ type: 'array', items: enumSchema(elementType) });
    // Arrays of domains are left out by Debezium ("does not work for array columns of domain types").
    if (elementType?.kind === 'd') throw new UnsupportedType();
    const items = withOptional(columnSchema(element, modifier, options, catalog), true);
    return schema({ type: 'array', items });
  }
  switch (oid) {
    case OID.bool:
      return schema({ type: 'boolean' });
    case OID.int2:
      return schema({ type: 'int16' });
    case OID.int4:
      return schema({ type: 'int32' });
    case OID.int8:
    case OID.oid:
      return INT64;
    case OID.float4:
      return schema({ type: 'float' });
    case OID.float8:
      return schema({ type: 'double' });
    case OID.numeric:
      return numericSchema(options, modifier);
    case OID.money:
      // MONEY: Decimal with money.fraction.digits (2) as scale and no precision parameter.
      return decimalSchema(options, 2, undefined);
    case OID.date:
      return options.timePrecision === 'connect'
        ? semantic('int32', 'org.apache.kafka.connect.data.Date')
        : semantic('int32', 'io.debezium.time.Date');
    case OID.time: {
      const precision = modifier < 0 ? 6 : modifier;
      if (options.timePrecision === 'connect')
        return semantic('int32', 'org.apache.kafka.connect.data.Time');
      if (options.timePrecision === 'adaptive' && precision <= 3)
        return semantic('int32', 'io.debezium.time.Time');
      return semantic('int64', 'io.debezium.time.MicroTime');
    }
    case OID.timetz:
      return semantic('string', 'io.debezium.time.ZonedTime');
    case OID.timestamp: {
      const precision = modifier < 0 ? 6 : modifier;
      if (options.timePrecision === 'connect')
        return semantic('int64', 'org.apache.kafka.connect.data.Timestamp');
      return precision <= 3
        ? semantic('int64', 'io.debezium.time.Timestamp')
        : semantic('int64', 'io.debezium.time.MicroTimestamp');
    }
    case OID.timestamptz:
      return semantic('string', 'io.debezium.time.ZonedTimestamp');
    case OID.interval:
      return options.intervalHandling === 'string'
        ? semantic('string', 'io.debezium.time.Interval')
        : semantic('int64', 'io.debezium.time.MicroDuration');
    case OID.bytea:
      return options.binaryHandling === 'bytes' ? schema({ type: 'bytes' }) : STRING;
    case OID.bit:
    case OID.varbit:
      if (modifier === 1 && oid === OID.bit) return schema({ type: 'boolean' });
      // varbit(1) is a boolean for Debezium but bytes for ficus.
      if (modifier === 1) throw new UnsupportedType();
      return semantic('bytes', 'io.debezium.data.Bits', {
        length: String(modifier < 0 ? 2_147_483_647 : modifier),
      });
    case OID.uuid:
      return semantic('string', 'io.debezium.data.Uuid');
    case OID.json:
    case OID.jsonb:
      return semantic('string', 'io.debezium.data.Json');
    case OID.xml:
      return semantic('string', 'io.debezium.data.Xml');
    default:
      break;
  }
  if (STRING_TYPES.has(oid) || NETWORK_TYPES.has(oid) || RANGE_TYPES.has(oid)) return STRING;
  if (custom?.kind === 'e') return enumSchema(custom);
  // A domain inherits its base type's schema; a domain with its own length or scale would need
  // the domain's type modifier, which ficus's values do not follow either.
  if (custom?.kind === 'd' && custom.baseOid !== 0 && custom.typeModifier === -1)
    return columnSchema(custom.baseOid, modifier, options, catalog);
  if (custom?.kind === 'b' && custom.name === 'citext') return STRING;
  if (custom?.kind === 'b' && custom.name === 'ltree')
    return semantic('string', 'io.debezium.data.Ltree');
  // Geometric types (Debezium: structs), tsvector (io.debezium.data.TsVector), hstore (JSON of
  // the pairs), composites, custom ranges and multiranges, and everything Debezium leaves out.
  throw new UnsupportedType();
}

function enumSchema(type: CatalogType): ConnectSchema {
  return semantic('string', 'io.debezium.data.Enum', {
    allowed: (type.enumLabels ?? []).join(','),
  });
}

function numericSchema(options: TypeOptions, modifier: number): ConnectSchema {
  if (modifier < 4) {
    if (options.decimalHandling !== 'precise') return decimalSchema(options, 0, undefined);
    return schema({
      type: 'struct',
      fields: [
        field('scale', schema({ type: 'int32' })),
        field('value', schema({ type: 'bytes' })),
      ],
      name: 'io.debezium.data.VariableScaleDecimal',
      version: 1,
      doc: 'Variable scaled decimal',
    });
  }
  const precision = ((modifier - 4) >> 16) & 0xffff;
  return decimalSchema(options, (modifier - 4) & 0xffff, precision);
}

/** SpecialValueDecimal.builder: Decimal with `scale` then `connect.decimal.precision`. */
function decimalSchema(
  options: TypeOptions,
  scale: number,
  precision: number | undefined,
): ConnectSchema {
  switch (options.decimalHandling) {
    case 'string':
      return STRING;
    case 'double':
      return schema({ type: 'double' });
    case 'precise':
      return schema({
        type: 'bytes',
        name: 'org.apache.kafka.connect.data.Decimal',
        version: 1,
        parameters: {
          scale: String(scale),
          ...(precision === undefined ? {} : { 'connect.decimal.precision': String(precision) }),
        },
      });
  }
}

/**
 * The record as JsonConverter with `schemas.enable=true` writes it: key and value each
 * `{"schema","payload"}`; a null key or value (truncate key, tombstone) stays null.
 */
export function toConnectJson(record: ChangeRecord): ChangeRecord {
  const schemas = record.connectSchemas ?? fixedSchemas(record);
  if (!schemas)
    throw new Error(`no Kafka Connect schema for a record on ${record.topic}; this is a bug`);
  const key =
    record.key === null
      ? null
      : { schema: required(schemas.key, record.topic), payload: record.key };
  const value = record.value === null ? null : { schema: schemas.value, payload: record.value };
  return {
    topic: record.topic,
    key,
    value: value as ConnectJsonValue | null,
    ...(record.headers ? { headers: record.headers } : {}),
  };
}

function required(key: ConnectSchema | null, topic: string): ConnectSchema {
  if (!key) throw new Error(`a keyed record on ${topic} without a key schema; this is a bug`);
  return key;
}

/** Schemas of the records the connector makes without a table: transaction and heartbeat records. */
function fixedSchemas(record: ChangeRecord): TableConnectSchemas | undefined {
  const value = record.value;
  if (value !== null && 'status' in value) return TRANSACTION_SCHEMAS;
  if (record.key !== null && 'serverName' in record.key) return HEARTBEAT_SCHEMAS;
  return undefined;
}

/** True for a key or value in JsonConverter's envelope form. */
export function isConnectJson(value: unknown): value is ConnectJson<JsonValue> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && 'schema' in value && 'payload' in value;
}

/**
 * The record with key and value in the schemaless form, whichever form it came in: for consumers
 * that read topics written with or without `schemasEnable`.
 */
export function withoutConnectSchemas(record: ChangeRecord): ChangeRecord {
  const key: unknown = record.key;
  const value: unknown = record.value;
  if (!isConnectJson(key) && !isConnectJson(value)) return record;
  return {
    ...record,
    key: isConnectJson(key) ? (key.payload as JsonObject | null) : record.key,
    value: isConnectJson(value) ? (value.payload as ChangeRecord['value']) : record.value,
  };
}
