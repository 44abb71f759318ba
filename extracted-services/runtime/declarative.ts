/**
 * A service declared in YAML: plain copies of monolith tables, no code. Each table names its
 * source, its key and the columns it keeps; the local table is created with the source's column
 * types (read from the monolith) or the types the file gives, and the temporal converters follow
 * from those types (ficus's default type options: cdc/README.md, "Types").
 *
 *   name: wishlists
 *   port: 3105
 *   tables:
 *     - source: public.wishlists
 *       key: [member_id, product_id]
 *       columns: [member_id, product_id, created_at]   # or { member_id: integer, … }
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../common/index.js';
import type { ColumnConverter, ColumnSpec, TableMapping } from '../carried-state/index.js';
import { defineService, SERVICE_NAME_PATTERN } from './define.js';
import type { ServiceDefinition } from './service.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const identifier = z.string().regex(IDENTIFIER, { error: 'must be a plain SQL identifier' });

const tableSchema = z.strictObject({
  source: z
    .string()
    .regex(/^[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*$/, { error: 'must be "schema.table"' }),
  table: identifier.optional(),
  key: z.array(identifier, { error: 'must list the key columns' }).min(1, {
    error: 'must list the key columns',
  }),
  columns: z.union(
    [
      z.array(identifier).min(1),
      z.record(identifier, z.string().min(1, { error: 'must be a Postgres type' })),
    ],
    { error: 'must list the columns, or map each column to its Postgres type' },
  ),
});

const fileSchema = z.strictObject({
  name: z.string().regex(SERVICE_NAME_PATTERN, {
    error: 'must start with a lower-case letter, then lower-case letters, digits, _ or -',
  }),
  summary: z.string().optional(),
  port: z.int({ error: 'must be an integer from 1 to 65535' }).min(1).max(65535),
  tables: z.array(tableSchema, { error: 'must list the tables to carry' }).min(1, {
    error: 'must list the tables to carry',
  }),
});

type TableEntry = z.output<typeof tableSchema>;

/** One carried column: its name and the Postgres type of the local column. */
interface TypedColumn {
  readonly name: string;
  readonly type: string;
}

/** Where {@link loadDeclarativeService} reads column types it is not given. */
export interface DeclarativeOptions {
  /** The monolith's database; needed when a table lists columns without types. */
  readonly sourceDatabaseUrl?: string | undefined;
  /** Build the mappings even without types (reconciliation needs no converters). */
  readonly typesOptional?: boolean;
}

/**
 * Reads a YAML service file into a service definition. A bad file, an unknown table or column, or
 * a column type a plain copy cannot carry exactly is a ConfigError naming it.
 */
export async function loadDeclarativeService(
  file: string,
  text: string,
  options: DeclarativeOptions = {},
): Promise<ServiceDefinition> {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML: ${(error as Error).message}`, { cause: error });
  }
  const parsed = fileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.') || 'the file';
    if (issue.code === 'unrecognized_keys') {
      const allowed = Object.keys((field === 'the file' ? fileSchema : tableSchema).shape);
      throw new ConfigError(
        `${file}: ${field === 'the file' ? '' : `${field}: `}unknown field ${issue.keys.join(', ')}; the fields are ${allowed.join(', ')}`,
      );
    }
    const got = issue.input === undefined ? 'nothing' : JSON.stringify(issue.input);
    throw new ConfigError(`${file}: ${field} ${issue.message}, got ${got}`, {
      cause: parsed.error,
    });
  }
  const spec = parsed.data;
  const typed = await Promise.all(
    spec.tables.map((table, index) => typedColumns(file, index, table, options)),
  );
  const tables = spec.tables.map((table, index) => toMapping(table, typed[index]));
  return defineService({
    name: spec.name,
    summary: spec.summary ?? `a copy of ${spec.tables.map((t) => t.source).join(', ')}`,
    port: spec.port,
    tables,
    // One migration per table and shape: a table added to the file, or a changed one, runs again
    // (creating only what is missing, and checking what exists).
    migrations: spec.tables.map((table, index) => {
      const columns = typed[index];
      const shape = JSON.stringify([localName(table), table.key, columns ?? null]);
      return {
        name: `create-${localName(table)}-${createHash('sha256').update(shape).digest('hex').slice(0, 12)}`,
        async up(knex: Knex) {
          if (!columns)
            throw new ConfigError(
              `${file}: tables.${index}: the local table needs column types; give them in the file or set the monolith's database URL`,
            );
          await createTable(knex, localName(table), table.key, columns);
        },
      };
    }),
  });
}

function localName(table: TableEntry): string {
  return table.table ?? table.source.split('.')[1]!;
}

function toMapping(table: TableEntry, columns: readonly TypedColumn[] | undefined): TableMapping {
  const names = Array.isArray(table.columns) ? table.columns : Object.keys(table.columns);
  const specs: Record<string, ColumnSpec> = {};
  for (const name of names) {
    const type = columns?.find((c) => c.name === name)?.type;
    const from = type === undefined ? undefined : converterFor(type);
    specs[name] = from ? { name, from } : { name };
  }
  return { source: table.source, table: localName(table), key: table.key, columns: specs };
}

/** How Debezium's JSON value of a column of `type` (default options) becomes the local value. */
function converterFor(type: string): ColumnConverter | undefined {
  const base = type.toLowerCase();
  if (base === 'date') return 'epochDays';
  const timestamp = /^timestamp(?:\((\d)\))?(?: without time zone)?$/.exec(base);
  if (timestamp)
    return timestamp[1] !== undefined && Number(timestamp[1]) <= 3 ? 'epochMillis' : 'epochMicros';
  return undefined;
}

/** Types whose event values a plain copy cannot write back as the same value. */
const UNCARRIABLE: readonly [RegExp, string][] = [
  [
    /^time(\(\d\))?( without time zone)?$/,
    'arrives as a number of micro- or milliseconds since midnight',
  ],
  [/^interval/, 'arrives as a number of microseconds'],
  [/^bytea$/, 'arrives as base64 text'],
  [/^bit( varying)?(\(\d+\))?$|^varbit/, 'arrives as base64 bits'],
  [/^money$/, 'arrives without its currency format'],
];

async function typedColumns(
  file: string,
  index: number,
  table: TableEntry,
  options: DeclarativeOptions,
): Promise<TypedColumn[] | undefined> {
  const where = `${file}: tables.${index}`;
  let columns: TypedColumn[];
  if (!Array.isArray(table.columns)) {
    columns = Object.entries(table.columns).map(([name, type]) => ({ name, type }));
  } else if (options.sourceDatabaseUrl) {
    columns = await sourceTypes(where, options.sourceDatabaseUrl, table.source, table.columns);
  } else if (options.typesOptional) {
    return undefined;
  } else {
    throw new ConfigError(
      `${where}.columns: a list of names takes its types from the monolith; set FICUS_SOURCE_DATABASE_URL (or --source-database-url), or give each column's type (e.g. { ${table.columns[0]}: integer })`,
    );
  }
  for (const key of table.key)
    if (!columns.some((c) => c.name === key))
      throw new ConfigError(`${where}.key: ${key} is not among the kept columns`);
  for (const column of columns) {
    const refused = UNCARRIABLE.find(([pattern]) => pattern.test(column.type.toLowerCase()));
    if (refused)
      throw new ConfigError(
        `${where}.columns.${column.name}: a plain copy cannot carry ${column.type} exactly (it ${refused[1]}); leave the column out, or write the service as a module with a converter`,
      );
  }
  return columns;
}

async function sourceTypes(
  where: string,
  url: string,
  source: string,
  names: readonly string[],
): Promise<TypedColumn[]> {
  const [schema, table] = source.split('.') as [string, string];
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; type: string; kind: string }>(
      `SELECT a.attname AS name, t.typtype AS kind,
              format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END,
                          CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) AS type
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [schema, table],
    );
    if (rows.length === 0)
      throw new ConfigError(`${where}.source: ${source} does not exist in the monolith's database`);
    return names.map((name) => {
      const row = rows.find((r) => r.name === name);
      if (!row)
        throw new ConfigError(
          `${where}.columns: ${source} has no column ${name}; it has ${rows.map((r) => r.name).join(', ')}`,
        );
      // An enum's values arrive as text, and the service's database has no such type.
      return { name, type: row.kind === 'e' ? 'text' : row.type };
    });
  } finally {
    await client.end();
  }
}

async function createTable(
  knex: Knex,
  table: string,
  key: readonly string[],
  columns: readonly TypedColumn[],
): Promise<void> {
  const quote = (name: string) => `"${name}"`;
  const definitions = columns.map((c) => `${quote(c.name)} ${c.type}`);
  await knex.raw(
    `CREATE TABLE IF NOT EXISTS ${quote(table)} (${definitions.join(', ')}, PRIMARY KEY (${key.map(quote).join(', ')}))`,
  );
  const present = await knex('information_schema.columns')
    .where({ table_schema: knex.raw('current_schema()'), table_name: table })
    .pluck<string[]>('column_name');
  const missing = columns.filter((c) => !present.includes(c.name)).map((c) => c.name);
  if (missing.length > 0)
    throw new ConfigError(
      `table ${table} exists without column ${missing.join(', ')}; add it (ALTER TABLE … ADD COLUMN) and take a new snapshot, or drop the table to have it made again`,
    );
}
