/**
 * Checks that the source database can feed CDC, and creates or verifies the publication and the
 * replication slot. Every problem becomes a CdcSetupError with one line naming the fix.
 */
import pg from 'pg';
import type { Logger } from '../common/index.js';
import { CdcSetupError } from './errors.js';
import { parseLsn, type Lsn } from './replication/lsn.js';
import { publicationMarker } from './slots.js';

/** Oldest Postgres that CDC supports. */
export const MIN_SERVER_VERSION = 140000;

/** A table CDC captures. */
export interface CapturedTable {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
}

/** The existing slot, if any. */
export interface SlotState {
  readonly exists: boolean;
  readonly confirmedFlushLsn: Lsn | undefined;
}

/**
 * A connected client on the source database for a one-off task (listing or dropping slots,
 * writing a signal); an unreachable database is a CdcSetupError. Connection errors after that go
 * to `onError` (default: ignored; the task's own queries fail).
 */
export async function connectToSource(
  connectionString: string,
  onError: (error: Error) => void = () => undefined,
): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  client.on('error', onError);
  try {
    await client.connect();
  } catch (error) {
    throw new CdcSetupError(
      'FICUS_CDC_SOURCE_UNREACHABLE',
      `cannot connect to the source database: ${(error as Error).message}`,
      error,
    );
  }
  return client;
}

/** Checks the server: version, wal_level, the user's replication right. Returns server_version_num. */
export async function checkServer(pool: pg.Pool): Promise<number> {
  const { rows } = await pool
    .query<{
      version: string;
      wal_level: string;
      user: string;
      can_replicate: boolean;
    }>(
      `SELECT current_setting('server_version_num') AS version,
            current_setting('wal_level') AS wal_level,
            current_user AS user,
            (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_replicate`,
    )
    .catch((error: unknown) => {
      throw new CdcSetupError(
        'FICUS_CDC_SOURCE_UNREACHABLE',
        `cannot connect to the source database: ${(error as Error).message}`,
        error,
      );
    });
  const row = rows[0]!;
  const version = Number(row.version);
  if (version < MIN_SERVER_VERSION) {
    throw new CdcSetupError(
      'FICUS_CDC_SERVER_VERSION',
      `Postgres ${formatVersion(version)} is too old: CDC needs Postgres 14 or later`,
    );
  }
  if (row.wal_level !== 'logical') {
    throw new CdcSetupError(
      'FICUS_CDC_WAL_LEVEL',
      `wal_level is '${row.wal_level}' but logical replication needs 'logical': run ALTER SYSTEM SET wal_level = logical (or set wal_level = logical in postgresql.conf) and restart Postgres`,
    );
  }
  if (!row.can_replicate) {
    throw new CdcSetupError(
      'FICUS_CDC_REPLICATION_PRIVILEGE',
      `user '${row.user}' may not use replication: run ALTER ROLE "${row.user}" WITH REPLICATION (on Amazon RDS: GRANT rds_replication TO "${row.user}")`,
    );
  }
  return version;
}

/**
 * The tables to capture: every ordinary or partitioned table in a user schema whose `schema.table`
 * fully matches one of the `include` regular expressions (Debezium's `table.include.list`), or all
 * of them when `include` is empty. A plain name such as `public.orders` must exist.
 */
export async function resolveCapturedTables(
  pool: pg.Pool,
  include: readonly string[],
): Promise<CapturedTable[]> {
  const { rows } = await pool.query<{ oid: number; schema: string; table: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY n.nspname, c.relname`,
  );
  if (include.length === 0) return rows;
  const names = new Set(rows.map((row) => `${row.schema}.${row.table}`));
  const missing = include.filter((entry) => /^[\w$]+\.[\w$]+$/.test(entry) && !names.has(entry));
  if (missing.length > 0) {
    throw new CdcSetupError(
      'FICUS_CDC_TABLE_MISSING',
      `table ${missing.join(', ')} in the table include list does not exist in this database`,
    );
  }
  const patterns = include.map((entry) => new RegExp(`^(?:${entry})$`));
  return rows.filter((row) =>
    patterns.some((pattern) => pattern.test(`${row.schema}.${row.table}`)),
  );
}

/**
 * Creates the publication for `tables` when it does not exist, marked with a comment as ficus's
 * for `owner.slot` (see slots.ts); when it does, checks that it publishes every one of them (and
 * inserts, updates, deletes and truncates), and leaves its comment alone.
 */
export async function ensurePublication(
  pool: pg.Pool,
  name: string,
  tables: readonly CapturedTable[],
  logger: Logger,
  owner: { readonly slot: string },
): Promise<void> {
  const { rows } = await pool.query<{
    puballtables: boolean;
    pubinsert: boolean;
    pubupdate: boolean;
    pubdelete: boolean;
    pubtruncate: boolean;
  }>(
    'SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1',
    [name],
  );
  const quote = (t: CapturedTable) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
  if (rows.length === 0) {
    if (tables.length === 0) {
      throw new CdcSetupError(
        'FICUS_CDC_NO_TABLES',
        'no table to capture: the table include list matched no table',
      );
    }
    const client = await pool.connect();
    try {
      // One transaction: a publication ficus created is never left without its marker.
      await client.query('BEGIN');
      await client.query(
        `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tables.map(quote).join(', ')}`,
      );
      await client.query(
        `COMMENT ON PUBLICATION ${quoteIdent(name)} IS ${client.escapeLiteral(publicationMarker(owner.slot))}`,
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw publicationRefused(error, name, tables.map(quote));
    } finally {
      client.release();
    }
    logger.info(
      { publication: name, slot: owner.slot, tables: tables.length },
      'created publication',
    );
    return;
  }
  const publication = rows[0]!;
  const missingOps = (['insert', 'update', 'delete', 'truncate'] as const).filter(
    (op) => !publication[`pub${op}`],
  );
  if (missingOps.length > 0) {
    throw new CdcSetupError(
      'FICUS_CDC_PUBLICATION_OPERATIONS',
      `publication '${name}' does not publish ${missingOps.join(', ')}: run ALTER PUBLICATION ${quoteIdent(name)} SET (publish = 'insert, update, delete, truncate')`,
    );
  }
  if (publication.puballtables) return;
  const published = await pool.query<{ schema: string; table: string }>(
    'SELECT schemaname AS schema, tablename AS table FROM pg_publication_tables WHERE pubname = $1',
    [name],
  );
  const have = new Set(published.rows.map((row) => `${row.schema}.${row.table}`));
  const missing = tables.filter((t) => !have.has(`${t.schema}.${t.table}`));
  if (missing.length > 0) {
    throw new CdcSetupError(
      'FICUS_CDC_PUBLICATION_TABLES',
      `publication '${name}' does not include ${missing.map((t) => `${t.schema}.${t.table}`).join(', ')}: run ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.map(quote).join(', ')}`,
    );
  }
}

/** The slot's state; fails when another process is streaming from it. */
export async function inspectSlot(
  pool: pg.Pool,
  slot: string,
  database: string,
): Promise<SlotState> {
  const { rows } = await pool.query<{
    plugin: string | null;
    slot_type: string;
    database: string | null;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
  }>(
    'SELECT plugin, slot_type, database, active_pid, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const row = rows[0];
  if (!row) return { exists: false, confirmedFlushLsn: undefined };
  if (row.slot_type !== 'logical' || row.plugin !== 'pgoutput' || row.database !== database) {
    throw new CdcSetupError(
      'FICUS_CDC_SLOT_MISMATCH',
      `replication slot '${slot}' exists but is a ${row.slot_type} slot for plugin ${row.plugin ?? 'none'} on database ${row.database ?? 'none'}; choose another slot name or drop it with SELECT pg_drop_replication_slot('${slot}')`,
    );
  }
  if (row.active_pid !== null) {
    throw new CdcSetupError(
      'FICUS_CDC_SLOT_IN_USE',
      `replication slot '${slot}' is in use by another process (pid ${row.active_pid}): stop the other connector or give this one its own slot name`,
    );
  }
  return {
    exists: true,
    confirmedFlushLsn: row.confirmed_flush_lsn ? parseLsn(row.confirmed_flush_lsn) : undefined,
  };
}

/** Drops the slot (used to restart an interrupted snapshot from scratch). */
export async function dropSlot(pool: pg.Pool, slot: string): Promise<void> {
  await pool.query('SELECT pg_drop_replication_slot($1)', [slot]);
}

/** Bytes of WAL the slot holds back: current WAL position minus its confirmed position. */
export async function slotLagBytes(pool: pg.Pool, slot: string): Promise<number | undefined> {
  const { rows } = await pool.query<{ lag: string | null }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const lag = rows[0]?.lag;
  return lag === undefined || lag === null ? undefined : Number(lag);
}

/**
 * Postgres refusing `CREATE PUBLICATION` to the connector's role (42501: no CREATE on the
 * database, or not the tables' owner) as one line with the statement to run as an owner.
 */
function publicationRefused(error: unknown, name: string, tables: readonly string[]): unknown {
  if ((error as { code?: unknown }).code !== '42501') return error;
  return new CdcSetupError(
    'FICUS_CDC_PUBLICATION_PRIVILEGE',
    `cannot create publication '${name}': ${(error as Error).message}. Creating a publication needs the tables' owner (or a superuser) and CREATE on the database: run CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tables.join(', ')} as the owner, then start again`,
    error,
  );
}

function formatVersion(version: number): string {
  return `${Math.floor(version / 10000)}.${version % 10000}`;
}

/** Quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
