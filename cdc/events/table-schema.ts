/**
 * What CDC knows about a captured table: its columns with their value converters, its primary key
 * (the record key) and its topic. Built from a pgoutput Relation message plus a catalog lookup,
 * because the Relation marks replica-identity columns, which under REPLICA IDENTITY FULL are all
 * of them — not the primary key that Debezium keys records by.
 */
import type pg from 'pg';
import type { Relation, ReplicaIdentity } from '../replication/pgoutput.js';
import { tableConnectSchemas, type TableConnectSchemas } from './connect-schema.js';
import { fallbackValue } from './fallback-values.js';

/** Anything that runs a query: a pg Pool or Client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

const REPLICA_IDENTITY: Record<string, ReplicaIdentity> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};
import type { JsonValue } from './json.js';
import {
  builtinArrayElement,
  converterFor,
  isBuiltinType,
  OID,
  type CatalogType,
  type TypeOptions,
  type ValueConverter,
} from './type-mapping.js';

/** Debezium's default `unavailable.value.placeholder`. */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

/** One captured column. */
export interface ColumnSchema {
  readonly name: string;
  /** Position in the pgoutput tuple / the snapshot row. */
  readonly index: number;
  readonly typeOid: number;
  readonly convert: ValueConverter;
  /** What an unchanged TOASTed value that Postgres did not send becomes. */
  readonly unavailable: JsonValue;
  /**
   * What a null becomes: null, or for a NOT NULL column Debezium's fallback for its type (a
   * column Postgres did not send, as in the key-only old row under REPLICA IDENTITY DEFAULT).
   */
  readonly nullValue: JsonValue;
}

/** A captured table as events need it. */
export interface TableSchema {
  readonly relationId: number;
  readonly schema: string;
  readonly table: string;
  /** `schema.table`, as Debezium's data collection names it. */
  readonly qualifiedName: string;
  readonly topic: string;
  readonly replicaIdentity: ReplicaIdentity;
  /** Columns that go into `before`/`after` (excluded columns left out). */
  readonly columns: readonly ColumnSchema[];
  /** Every column Postgres sends, excluded ones too, in tuple order. */
  readonly allColumnNames: readonly string[];
  /** Primary-key columns in key order; empty when the table has no primary key (null record key). */
  readonly keyColumns: readonly ColumnSchema[];
  /** Kafka Connect key and value schemas; only with `schemasEnable`. */
  readonly connect?: TableConnectSchemas;
}

/** Options that shape a table's events. */
export interface SchemaOptions {
  readonly topicPrefix: string;
  readonly typeOptions: TypeOptions;
  /** Debezium `column.exclude.list`: regular expressions over `schema.table.column`. */
  readonly columnExcludeList: readonly RegExp[];
  /**
   * Build Kafka Connect schemas (JsonConverter `schemas.enable=true`); a column whose type has no
   * faithful schema then fails the table with ConnectSchemaError.
   */
  readonly schemasEnable?: boolean;
}

/** Catalog facts a Relation message leaves out that null fallbacks and Connect schemas need, by column name. */
export type ColumnFacts = ReadonlyMap<
  string,
  { readonly notNull: boolean; readonly typeName: string }
>;

/** Looks up what a Relation message leaves out (primary key, non-built-in types), with caching. */
export class SchemaCatalog {
  private readonly types = new Map<number, CatalogType>();

  constructor(
    private readonly pool: Queryable,
    private readonly options: SchemaOptions,
  ) {}

  /**
   * Describes a table from the catalog alone, as a Relation message would: columns in attribute
   * order without dropped or generated ones (pgoutput does not send generated columns).
   */
  async describeTable(table: { oid: number; schema: string; table: string }): Promise<TableSchema> {
    const { rows } = await this.pool.query<{
      name: string;
      oid: string;
      modifier: string;
      identity: string;
    }>(
      `SELECT a.attname AS name, a.atttypid::text AS oid, a.atttypmod::text AS modifier, c.relreplident AS identity
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum`,
      [table.oid],
    );
    return this.tableSchema({
      id: table.oid,
      schema: table.schema,
      table: table.table,
      replicaIdentity: REPLICA_IDENTITY[rows[0]?.identity ?? 'd'] ?? 'default',
      columns: rows.map((row) => ({
        name: row.name,
        isKey: false,
        typeOid: Number(row.oid),
        typeModifier: Number(row.modifier),
      })),
    });
  }

  /** Builds the table schema for a Relation message. */
  async tableSchema(relation: Relation): Promise<TableSchema> {
    const [primaryKey, facts] = await Promise.all([
      this.primaryKey(relation.id),
      this.columnFacts(relation.id),
      this.resolveTypes(relation.columns.map((c) => c.typeOid)),
    ]);
    return buildTableSchema(relation, primaryKey, this.types, this.options, facts);
  }

  /** NOT NULL and the declared type of each column, as the catalog has them now. */
  private async columnFacts(relationId: number): Promise<ColumnFacts> {
    const result = await this.pool.query<{ name: string; not_null: boolean; type: string }>(
      `SELECT attname AS name, attnotnull AS not_null, format_type(atttypid, atttypmod) AS type
         FROM pg_attribute
        WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
      [relationId],
    );
    return new Map(
      result.rows.map((row) => [row.name, { notNull: row.not_null, typeName: row.type }]),
    );
  }

  private async primaryKey(relationId: number): Promise<string[]> {
    const result = await this.pool.query<{ name: string }>(
      `SELECT a.attname AS name
         FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1 AND i.indisprimary
        ORDER BY k.position`,
      [relationId],
    );
    return result.rows.map((row) => row.name);
  }

  /** Loads every non-built-in type among `oids`, following array elements and domain bases. */
  private async resolveTypes(oids: readonly number[]): Promise<void> {
    let wanted = [...new Set(oids)].filter((oid) => !isBuiltinType(oid) && !this.types.has(oid));
    while (wanted.length > 0) {
      const result = await this.pool.query<{
        oid: string;
        typname: string;
        typtype: string;
        typelem: string;
        typbasetype: string;
        typtypmod: number;
        labels: string[] | null;
      }>(
        `SELECT t.oid::text, t.typname, t.typtype, t.typelem::text, t.typbasetype::text, t.typtypmod,
                (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels
           FROM pg_type t WHERE t.oid = ANY($1::oid[])`,
        [wanted],
      );
      const next: number[] = [];
      for (const row of result.rows) {
        const type: CatalogType = {
          oid: Number(row.oid),
          name: row.typname,
          kind: row.typtype,
          elementOid: Number(row.typelem),
          baseOid: Number(row.typbasetype),
          typeModifier: Number(row.typtypmod),
          ...(row.labels ? { enumLabels: row.labels } : {}),
        };
        this.types.set(type.oid, type);
        for (const related of [type.elementOid, type.baseOid]) {
          if (related !== 0 && !isBuiltinType(related) && !this.types.has(related))
            next.push(related);
        }
      }
      wanted = next;
    }
  }
}

/** Builds a table schema from a Relation, its primary-key column names and resolved types. */
export function buildTableSchema(
  relation: Relation,
  primaryKey: readonly string[],
  catalog: ReadonlyMap<number, CatalogType>,
  options: SchemaOptions,
  facts?: ColumnFacts,
): TableSchema {
  const qualifiedName = `${relation.schema}.${relation.table}`;
  const all = relation.columns.map((column, index): ColumnSchema => {
    const type = { oid: column.typeOid, modifier: column.typeModifier };
    return {
      name: column.name,
      index,
      typeOid: column.typeOid,
      convert: converterFor(type, options.typeOptions, catalog),
      unavailable: unavailableValue(column.typeOid, catalog, options.typeOptions),
      nullValue:
        facts?.get(column.name)?.notNull === true
          ? fallbackValue(type, options.typeOptions, catalog)
          : null,
    };
  });
  const excluded = (name: string) =>
    options.columnExcludeList.some((pattern) => pattern.test(`${qualifiedName}.${name}`));
  const byName = new Map(all.map((column) => [column.name, column]));
  const columns = all.filter((column) => !excluded(column.name));
  const keyColumns = primaryKey
    .map((name) => byName.get(name))
    .filter((c): c is ColumnSchema => c !== undefined);
  const typeModifiers = new Map(relation.columns.map((c) => [c.name, c.typeModifier]));
  const connectColumn = (column: ColumnSchema) => ({
    name: column.name,
    typeOid: column.typeOid,
    typeModifier: typeModifiers.get(column.name) ?? -1,
    notNull: facts?.get(column.name)?.notNull ?? false,
    typeName: facts?.get(column.name)?.typeName ?? `type oid ${column.typeOid}`,
  });
  const connect = options.schemasEnable
    ? tableConnectSchemas(
        {
          schema: relation.schema,
          table: relation.table,
          topicPrefix: options.topicPrefix,
          columns: columns.map(connectColumn),
          keyColumns: keyColumns.map(connectColumn),
        },
        options.typeOptions,
        catalog,
      )
    : undefined;
  return {
    relationId: relation.id,
    schema: relation.schema,
    table: relation.table,
    qualifiedName,
    topic: `${options.topicPrefix}.${relation.schema}.${relation.table}`,
    replicaIdentity: relation.replicaIdentity,
    columns,
    allColumnNames: all.map((column) => column.name),
    keyColumns,
    ...(connect ? { connect } : {}),
  };
}

const PLACEHOLDER_BYTES = Buffer.from(UNAVAILABLE_VALUE, 'utf8');
/** Array element types whose unchanged TOASTed arrays Debezium writes as the placeholder's bytes. */
const NUMERIC_PLACEHOLDER_ELEMENTS = new Set<number>([OID.int2, OID.int4, OID.int8, OID.date]);
/** Debezium's placeholder for a uuid[]: UUID.nameUUIDFromBytes of the placeholder. */
const PLACEHOLDER_UUID = 'b68a35a7-17ad-35b3-af2a-ae46edb4545a';

/**
 * Debezium's placeholder for an unchanged TOASTed value, by column type: the placeholder string;
 * its bytes for bytea (the string itself in hex mode); a one-element array for text-like arrays;
 * the placeholder's bytes as numbers for numeric arrays.
 */
function unavailableValue(
  oid: number,
  catalog: ReadonlyMap<number, CatalogType>,
  options: TypeOptions,
): JsonValue {
  if (oid === OID.bytea) {
    // Hex mode writes the placeholder text itself (PostgresValueConverter.convertBinaryToHex).
    if (options.binaryHandling === 'hex') return UNAVAILABLE_VALUE;
    return converterFor({ oid, modifier: -1 }, options)(`\\x${PLACEHOLDER_BYTES.toString('hex')}`);
  }
  const element = builtinArrayElement(oid) ?? catalog.get(oid)?.elementOid;
  if (element === undefined || element === 0) return UNAVAILABLE_VALUE;
  if (element === OID.uuid) return [PLACEHOLDER_UUID];
  if (NUMERIC_PLACEHOLDER_ELEMENTS.has(element)) return [...PLACEHOLDER_BYTES];
  return [UNAVAILABLE_VALUE];
}
