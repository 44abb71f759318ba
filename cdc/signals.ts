/**
 * The signal table (Debezium `signal.data.collection`): rows inserted into it reach the connector
 * through the replication stream, in commit order with every other change, and are never emitted
 * as change events. ficus reads three kinds, as Debezium writes them:
 *
 *   execute-snapshot       {"data-collections": ["public.products"], "type": "incremental"}
 *   stop-snapshot          {"data-collections": ["public.products"], "type": "incremental"}
 *   snapshot-window-open   the watermarks ficus writes around each chunk of an incremental
 *   snapshot-window-close  snapshot (id `<chunk id>-open` / `<chunk id>-close`)
 *
 * Reference: https://debezium.io/documentation/reference/stable/configuration/signalling.html
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../common/index.js';
import { CdcSetupError } from './errors.js';
import type { Relation, TupleValue } from './replication/pgoutput.js';
import { connectToSource, quoteIdent } from './setup.js';

/** Default signal table: created when missing and added to the publication. */
export const DEFAULT_SIGNAL_TABLE = 'public.ficus_signal';

/** A signal table's name. */
export interface SignalTableName {
  readonly schema: string;
  readonly table: string;
  /** `schema.table`. */
  readonly qualifiedName: string;
  /** `"schema"."table"`, for SQL. */
  readonly sql: string;
}

/** Reads `schema.table` (a bare `table` is in `public`). */
export function parseTableName(name: string): SignalTableName {
  const dot = name.indexOf('.');
  const schema = dot < 0 ? 'public' : name.slice(0, dot);
  const table = dot < 0 ? name : name.slice(dot + 1);
  return {
    schema,
    table,
    qualifiedName: `${schema}.${table}`,
    sql: `${quoteIdent(schema)}.${quoteIdent(table)}`,
  };
}

/** A row of the signal table, decoded. */
export type Signal =
  | {
      readonly type: 'execute-snapshot';
      readonly id: string;
      readonly tables: readonly string[];
      /** `incremental` (the only kind ficus runs ad hoc). */
      readonly snapshotType: string;
    }
  | { readonly type: 'stop-snapshot'; readonly id: string; readonly tables: readonly string[] }
  | { readonly type: 'snapshot-window-open' | 'snapshot-window-close'; readonly id: string }
  | { readonly type: 'unknown'; readonly id: string; readonly name: string };

/** A signal row that could not be read, with why. */
export class SignalError extends Error {
  constructor(
    readonly id: string,
    message: string,
  ) {
    super(message);
    this.name = 'SignalError';
  }
}

/** Decodes an inserted signal-table row (columns `id`, `type`, `data`, by name). */
export function decodeSignal(relation: Relation, tuple: readonly TupleValue[]): Signal {
  const column = (name: string): string | null => {
    const index = relation.columns.findIndex((c) => c.name === name);
    const value = index < 0 ? null : tuple[index];
    return typeof value === 'string' ? value : null;
  };
  const id = column('id') ?? '';
  const type = column('type') ?? '';
  switch (type) {
    case 'snapshot-window-open':
    case 'snapshot-window-close':
      return { type, id };
    case 'execute-snapshot':
    case 'stop-snapshot': {
      const data = parseData(id, column('data'));
      const collections = data['data-collections'];
      if (
        collections !== undefined &&
        (!Array.isArray(collections) || !collections.every((c) => typeof c === 'string'))
      )
        throw new SignalError(id, `signal ${id}: "data-collections" must be a list of table names`);
      const tables = collections ?? [];
      const snapshotType = typeof data.type === 'string' ? data.type : 'incremental';
      if (type === 'stop-snapshot') return { type, id, tables };
      if (tables.length === 0)
        throw new SignalError(id, `signal ${id}: execute-snapshot needs "data-collections"`);
      return { type, id, tables, snapshotType };
    }
    default:
      return { type: 'unknown', id, name: type };
  }
}

function parseData(id: string, text: string | null): Record<string, unknown> {
  if (text === null || text.trim() === '') return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new SignalError(id, `signal ${id}: data is not JSON (${(error as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new SignalError(id, `signal ${id}: data must be a JSON object`);
  return data as Record<string, unknown>;
}

/** Something that runs SQL: a pool or a client. */
export interface SqlRunner {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** Inserts one signal row. */
export async function insertSignal(
  runner: SqlRunner,
  signalTable: SignalTableName,
  row: { id: string; type: string; data: string | null },
): Promise<void> {
  await runner.query(`INSERT INTO ${signalTable.sql} (id, type, data) VALUES ($1, $2, $3)`, [
    row.id,
    row.type,
    row.data,
  ]);
}

/** The `execute-snapshot` row that asks for an incremental snapshot of `tables`. */
export function executeSnapshotSignal(tables: readonly string[]): {
  id: string;
  type: string;
  data: string;
} {
  return {
    id: randomUUID(),
    type: 'execute-snapshot',
    data: JSON.stringify({ 'data-collections': tables, type: 'incremental' }),
  };
}

/**
 * Asks every connector that reads `signalTable` for an incremental snapshot of `tables`, by
 * inserting an `execute-snapshot` signal. Returns the signal's id.
 */
export async function requestIncrementalSnapshot(options: {
  readonly databaseUrl: string;
  readonly signalTable?: string;
  readonly tables: readonly string[];
}): Promise<string> {
  const client = await connectToSource(options.databaseUrl);
  try {
    const signal = executeSnapshotSignal(options.tables);
    await insertSignal(client, parseTableName(options.signalTable ?? DEFAULT_SIGNAL_TABLE), signal);
    return signal.id;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates the signal table when missing (Debezium's columns) and adds it to the publication when
 * the publication does not publish it yet.
 */
export async function ensureSignalTable(
  pool: pg.Pool,
  signalTable: SignalTableName,
  publication: string,
  logger: Logger,
): Promise<void> {
  try {
    const exists = await pool.query<{ oid: string | null }>(
      'SELECT to_regclass($1)::oid::text AS oid',
      [signalTable.sql],
    );
    if (exists.rows[0]?.oid === null || exists.rows[0]?.oid === undefined) {
      await pool
        .query(
          `CREATE TABLE IF NOT EXISTS ${signalTable.sql} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`,
        )
        .catch((error: unknown) => {
          // Another connector created it at the same moment.
          if ((error as { code?: string }).code !== '23505') throw error;
        });
      logger.info({ signalTable: signalTable.qualifiedName }, 'created signal table');
    }
    const published = await pool.query<{ published: boolean }>(
      `SELECT p.puballtables OR EXISTS (
                SELECT 1 FROM pg_publication_tables t
                 WHERE t.pubname = p.pubname AND t.schemaname = $2 AND t.tablename = $3
              ) AS published
         FROM pg_publication p WHERE p.pubname = $1`,
      [publication, signalTable.schema, signalTable.table],
    );
    if (published.rows[0]?.published === false) {
      await pool.query(`ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${signalTable.sql}`);
      logger.info(
        { signalTable: signalTable.qualifiedName, publication },
        'added signal table to publication',
      );
    }
  } catch (error) {
    throw new CdcSetupError(
      'FICUS_CDC_SIGNAL_TABLE',
      `cannot prepare signal table ${signalTable.qualifiedName}: ${(error as Error).message}; create it with CREATE TABLE ${signalTable.sql} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)) and run ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${signalTable.sql}, or set signalTable to none`,
      error,
    );
  }
}
