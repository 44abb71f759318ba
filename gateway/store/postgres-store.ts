/**
 * The route store for several gateway replicas: every version is a row in one Postgres table, and
 * the highest version is the running table.
 *
 *   replica A: update ──► BEGIN; advisory lock; read latest; INSERT; NOTIFY ficus_routes; COMMIT
 *                                                                          │
 *   replica B: LISTEN ficus_routes (one dedicated connection, reconnects) ◄┘
 *              + a poll every pollMs ──► SELECT … WHERE version > seen ──► listeners
 *
 * Writers take a transaction-level advisory lock before reading the latest version, so a mode
 * change from one replica is applied on top of a concurrent change from another instead of
 * replacing it, and versions commit in version order (a poll never skips one). A row lock on the
 * latest version would not do: in READ COMMITTED the waiting writer gets the row it locked, not the
 * version inserted meanwhile.
 *
 * https://www.postgresql.org/docs/current/sql-notify.html
 * https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
import pg from 'pg';
import { ConfigError, createSilentLogger, FicusError, type Logger } from '../../common/index.js';
import { parseRouteTable, type RouteTable } from '../route-table/index.js';
import {
  checkChange,
  createListeners,
  definedFields,
  freezeVersion,
  logVersion,
  patchRoute,
  RouteStoreClosedError,
  RouteStoreUnavailableError,
  VERSION_KINDS,
  VersionNotFoundError,
  type RouteStore,
  type RouteStoreProblem,
  type RouteTableVersion,
  type VersionKind,
} from './store.js';

/** What {@link createPostgresRouteStore} needs. */
export interface PostgresRouteStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Default: silent. */
  logger?: Logger;
  /** The table to start with when the database holds none yet (version 1, kind `load`). */
  initial?: unknown;
  /** How often to look for versions as a safety net beside LISTEN. Default 500 ms. */
  pollMs?: number;
}

/** The NOTIFY channel; the payload is the new version number. */
export const ROUTES_CHANNEL = 'ficus_routes';

/** Created when missing. */
export const ROUTE_VERSIONS_DDL = `CREATE TABLE IF NOT EXISTS ficus_route_versions (
  version       bigserial   PRIMARY KEY,
  table_json    jsonb       NOT NULL,
  actor         text        NOT NULL,
  reason        text        NOT NULL,
  kind          text        NOT NULL CHECK (kind IN (${VERSION_KINDS.map((kind) => `'${kind}'`).join(', ')})),
  restored_from bigint,
  at            timestamptz NOT NULL DEFAULT now()
)`;

/** Serialises schema creation, seeding and every write, across replicas. */
const LOCK_KEY = '7308604912486530419';
const COLUMNS = 'version, table_json, actor, reason, kind, restored_from, at';

interface VersionRow {
  version: string;
  table_json: unknown;
  actor: string;
  reason: string;
  kind: string;
  restored_from: string | null;
  at: Date;
}

interface NewVersion {
  table: RouteTable;
  actor: string;
  reason: string;
  kind: VersionKind;
  restoredFrom?: number;
}

/**
 * Connects, creates the versions table when missing, seeds it with `initial` when empty, and
 * resolves once the current table is loaded and the store is listening for other replicas.
 */
export async function createPostgresRouteStore(
  options: PostgresRouteStoreOptions,
): Promise<RouteStore> {
  const source = describeDatabase(options.url);
  const pollMs = options.pollMs ?? 500;
  if (!Number.isInteger(pollMs) || pollMs < 10) {
    throw new ConfigError(`pollMs must be a whole number of milliseconds ≥ 10, got ${pollMs}`);
  }
  const logger = (options.logger ?? createSilentLogger()).child({
    component: 'route-store',
    database: source,
  });
  const listeners = createListeners(logger);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 4,
    application_name: 'ficus-routes',
  });
  pool.on('error', (err) => {
    logger.warn({ err }, 'an idle route store connection failed');
  });

  let current: RouteTableVersion;
  try {
    current = await inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      await client.query(ROUTE_VERSIONS_DDL);
      const latest = await selectLatest(client);
      if (latest) return latest;
      if (options.initial === undefined) {
        throw new ConfigError(
          `the route database ${source} holds no route table yet; start once with an initial table (routes file) to seed it`,
        );
      }
      return insertVersion(client, {
        table: parseRouteTable(options.initial),
        actor: 'ficus',
        reason: 'seeded the empty route database',
        kind: 'load',
      });
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw asStoreError(err, `cannot load the route table from ${source}`);
  }

  /** The highest version looked at; above current when a row did not validate. */
  let seen = current.version;
  let closed = false;
  let listener: pg.Client | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectDelay = 250;
  let refreshing: Promise<void> | undefined;
  let refreshAgain = false;
  let problem: RouteStoreProblem | undefined;

  function advance(version: RouteTableVersion): void {
    seen = Math.max(seen, version.version);
    if (version.version <= current.version) return;
    current = version;
    logVersion(logger, version);
    listeners.emit(version);
  }

  /** Reads every version newer than the last one seen, oldest first. One at a time. */
  function refresh(): Promise<void> {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        refreshAgain = false;
        const { rows } = await pool.query<VersionRow>(
          `SELECT ${COLUMNS} FROM ficus_route_versions WHERE version > $1 ORDER BY version`,
          [seen],
        );
        for (const row of rows) {
          const number = Number(row.version);
          if (number <= seen) continue;
          try {
            advance(toVersion(row));
          } catch (err) {
            seen = number;
            logger.error(
              { err, version: number },
              'skipping a route table version that is invalid',
            );
          }
        }
      } while (refreshAgain && !closed);
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  function requestRefresh(): void {
    if (closed) return;
    refresh().then(
      () => {
        if (problem) logger.info('route database reachable again');
        problem = undefined;
      },
      (err: unknown) => {
        if (closed) return;
        if (!problem) logger.warn({ err }, 'reading route table versions failed; will retry');
        problem = { message: `reading ${source} failed: ${errorMessage(err)}`, at: now() };
      },
    );
  }

  /** One dedicated connection LISTENs; it is replaced when it fails. */
  async function listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: options.url,
      application_name: 'ficus-routes-listener',
    });
    let connected = false;
    const lost = (err?: Error) => {
      if (!connected) return;
      connected = false;
      if (listener === client) listener = undefined;
      client.end().catch(() => undefined);
      if (closed) return;
      logger.warn({ err }, 'route change listener disconnected; reconnecting (polling continues)');
      scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel !== ROUTES_CHANNEL) return;
      // Our own writes are already current.
      if (message.payload && Number(message.payload) <= seen) return;
      requestRefresh();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${ROUTES_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await client.end();
      return;
    }
    connected = true;
    listener = client;
    reconnectDelay = 250;
  }

  function scheduleReconnect(): void {
    if (closed || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      listen().then(
        () => {
          logger.info('route change listener reconnected');
          // Whatever was committed while nobody listened.
          requestRefresh();
        },
        (err: unknown) => {
          logger.warn({ err, retryInMs: reconnectDelay }, 'route change listener cannot connect');
          reconnectDelay = Math.min(reconnectDelay * 2, 5_000);
          scheduleReconnect();
        },
      );
    }, reconnectDelay);
    reconnectTimer.unref();
  }

  try {
    await listen();
    // A version committed between loading and LISTEN.
    await refresh();
  } catch (err) {
    closed = true;
    await listener?.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw asStoreError(err, `cannot listen for route changes on ${source}`);
  }
  const poll = setInterval(requestRefresh, pollMs);
  poll.unref();
  logger.info({ version: current.version, pollMs }, 'route table loaded from database');

  /** Inserts the version `build` makes from the latest one, under the writers' lock. */
  async function write(
    build: (client: pg.PoolClient, latest: RouteTableVersion) => Promise<NewVersion> | NewVersion,
  ): Promise<RouteTableVersion> {
    if (closed) throw new RouteStoreClosedError();
    let version: RouteTableVersion;
    try {
      version = await inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
        const latest = await selectLatest(client);
        if (!latest) throw new RouteStoreUnavailableError(`the route table in ${source} is gone`);
        return insertVersion(client, await build(client, latest));
      });
    } catch (err) {
      throw asStoreError(err, `cannot write the route table to ${source}`);
    }
    advance(version);
    return version;
  }

  return {
    current: () => current,

    async update(input, change) {
      const checked = checkChange(change);
      const table = parseRouteTable(input);
      return write(() => ({ ...checked, table }));
    },

    async setMode(routeId, patch, change) {
      const checked = checkChange(change);
      const fields = definedFields(patch);
      // Patched onto the latest version under the lock, so a concurrent change is kept.
      return write((_client, latest) => ({
        ...checked,
        table: parseRouteTable(patchRoute(latest.table, routeId, fields)),
      }));
    },

    async history() {
      let rows: VersionRow[];
      try {
        ({ rows } = await pool.query<VersionRow>(
          `SELECT ${COLUMNS} FROM ficus_route_versions ORDER BY version DESC`,
        ));
      } catch (err) {
        throw asStoreError(err, `cannot read the route history from ${source}`);
      }
      return rows.flatMap((row) => {
        try {
          return [toVersion(row)];
        } catch (err) {
          logger.warn({ err, version: row.version }, 'leaving an invalid version out of history');
          return [];
        }
      });
    },

    async restore(version, change) {
      const checked = checkChange(change);
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new VersionNotFoundError(version, current.version);
      }
      return write(async (client, latest) => {
        const { rows } = await client.query<VersionRow>(
          `SELECT ${COLUMNS} FROM ficus_route_versions WHERE version = $1`,
          [version],
        );
        const row = rows[0];
        if (!row) throw new VersionNotFoundError(version, latest.version);
        return {
          ...checked,
          kind: 'restore',
          table: toVersion(row).table,
          restoredFrom: version,
        };
      });
    },

    subscribe: (listenerFn) => listeners.add(listenerFn),

    status() {
      return {
        backend: 'postgres',
        source,
        version: current.version,
        ...(problem ? { lastError: problem } : {}),
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      clearTimeout(reconnectTimer);
      await refreshing?.catch(() => undefined);
      await listener?.end().catch(() => undefined);
      await pool.end();
      listeners.clear();
    },
  };
}

async function inTransaction<T>(
  pool: pg.Pool,
  run: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await run(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch (rollbackError) {
      client.release(rollbackError instanceof Error ? rollbackError : true);
    }
    throw err;
  }
}

async function selectLatest(client: pg.PoolClient): Promise<RouteTableVersion | undefined> {
  const { rows } = await client.query<VersionRow>(
    `SELECT ${COLUMNS} FROM ficus_route_versions ORDER BY version DESC LIMIT 1`,
  );
  return rows[0] && toVersion(rows[0]);
}

async function insertVersion(client: pg.PoolClient, next: NewVersion): Promise<RouteTableVersion> {
  // clock_timestamp(), not now(): a writer that waited for the lock still gets a later time.
  const { rows } = await client.query<VersionRow>(
    `INSERT INTO ficus_route_versions (table_json, actor, reason, kind, restored_from, at)
     VALUES ($1, $2, $3, $4, $5, clock_timestamp())
     RETURNING ${COLUMNS}`,
    [JSON.stringify(next.table), next.actor, next.reason, next.kind, next.restoredFrom ?? null],
  );
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING returned no row');
  // Delivered at COMMIT, to every session that LISTENs, this one included.
  await client.query('SELECT pg_notify($1, $2)', [ROUTES_CHANNEL, row.version]);
  return toVersion(row);
}

function toVersion(row: VersionRow): RouteTableVersion {
  const kind = VERSION_KINDS.find((candidate) => candidate === row.kind);
  if (!kind) throw new Error(`unknown version kind ${row.kind}`);
  return freezeVersion({
    version: Number(row.version),
    table: parseRouteTable(row.table_json),
    actor: row.actor,
    reason: row.reason,
    at: row.at.toISOString(),
    kind,
    ...(row.restored_from === null ? {} : { restoredFrom: Number(row.restored_from) }),
  });
}

/** Our own errors pass through; a database failure becomes a 503 that says what failed. */
function asStoreError(err: unknown, doing: string): unknown {
  if (err instanceof FicusError) return err;
  return new RouteStoreUnavailableError(`${doing}: ${errorMessage(err)}`, { cause: err });
}

function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return errorMessage(err.errors[0]);
  return err instanceof Error ? err.message || err.name : String(err);
}

/** `host:port/database`, never the password. */
function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    throw new ConfigError(
      'route database url must look like postgres://user:password@host:5432/database',
    );
  }
}

function now(): string {
  return new Date().toISOString();
}
