/**
 * The source database the benchmark captures from: a throwaway embedded Postgres, its two tables,
 * the pre-written changes, and the replication slots each measurement reads.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../common/index.js';
import type { CleanupStack } from './cleanup.js';

/** Name of the database the benchmark creates on its cluster. */
const DATABASE = 'ficus_bench';

/**
 * No fsync and no full-page images: the benchmark measures ficus, not this machine's disk.
 * `synchronous_commit` stays on, so COMMIT returns only once the WAL is flushed, which is also
 * when a logical walsender may send it: the latency row then measures ficus, not the WAL writer's
 * 200 ms flush delay.
 */
const SERVER_SETTINGS: Record<string, string> = {
  fsync: 'off',
  full_page_writes: 'off',
  synchronous_commit: 'on',
  max_wal_size: '4GB',
};

/** The table whose pre-written inserts the throughput rows stream. */
export const THROUGHPUT_TABLE = 'bench_rows';
/** The table the latency run inserts into, one row per transaction. */
export const LATENCY_TABLE = 'bench_latency';

/** A running source database. */
export interface BenchSource {
  readonly url: string;
  readonly serverVersion: string;
  /** A plain (non-replication) session for setup, writes and measurements. */
  readonly client: pg.Client;
}

/**
 * Starts a throwaway Postgres with a database of its own and both benchmark tables. Everything is
 * registered with `cleanup`: the session, the server and its data folder.
 */
export async function startSource(cleanup: CleanupStack): Promise<BenchSource> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'ficus-bench-'));
  cleanup.defer('remove the Postgres work folder', () =>
    rm(workDir, { recursive: true, force: true }),
  );
  // As root, Postgres runs as the postgres user, which must be able to reach the data folder.
  await chmod(workDir, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(workDir, 'data'),
    ephemeral: true,
    settings: SERVER_SETTINGS,
  });
  cleanup.defer('stop Postgres', () => server.stop());

  await withClient(server.url, (admin) => admin.query(`CREATE DATABASE ${DATABASE}`));
  const url = server.urlFor(DATABASE);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  cleanup.defer('close the setup session', () => client.end());
  await createTables(client);
  const { rows } = await client.query<{ version: string }>(
    "SELECT current_setting('server_version') AS version",
  );
  return { url, serverVersion: rows[0]?.version ?? 'unknown', client };
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** An order-like row: a key, a few text columns, a numeric amount, timestamps. */
async function createTables(client: pg.Client): Promise<void> {
  await client.query(`
    CREATE TABLE ${THROUGHPUT_TABLE} (
      id          bigint PRIMARY KEY,
      sku         text NOT NULL,
      description text NOT NULL,
      status      text NOT NULL,
      quantity    integer NOT NULL,
      amount      numeric(12, 2) NOT NULL,
      created_at  timestamptz NOT NULL,
      updated_at  timestamptz NOT NULL
    );
    CREATE TABLE ${LATENCY_TABLE} (
      id         bigint PRIMARY KEY,
      status     text NOT NULL,
      amount     numeric(12, 2) NOT NULL,
      created_at timestamptz NOT NULL
    );`);
}

/** Inserts rows 1..`count` into the throughput table, `perTransaction` rows per transaction. */
export async function writeRows(
  client: pg.Client,
  count: number,
  perTransaction: number,
): Promise<void> {
  for (let first = 1; first <= count; first += perTransaction) {
    const last = Math.min(count, first + perTransaction - 1);
    await client.query(
      `INSERT INTO ${THROUGHPUT_TABLE}
         SELECT g, 'SKU-' || lpad((g % 100000)::text, 6, '0'),
                'Order line ' || g || ': ' || md5(g::text),
                (ARRAY['new', 'paid', 'shipped', 'delivered'])[g % 4 + 1],
                (g % 9) + 1, round((g % 100000) / 7.0, 2),
                now() - make_interval(secs => g), now()
           FROM generate_series($1::bigint, $2::bigint) AS g`,
      [first, last],
    );
  }
}

/**
 * Publishes `table`'s changes as `publication` before any slot exists, so that every slot decodes
 * every change through it (the connector checks it and would create it otherwise).
 */
export async function createPublication(
  client: pg.Client,
  publication: string,
  table: string,
): Promise<void> {
  await client.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
}

/** Creates a pgoutput slot from SQL (for the rows that do not go through the connector). */
export async function createSqlSlot(client: pg.Client, slot: string): Promise<void> {
  await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
}

/**
 * Waits until no walsender holds `slot`: a replication connection that just closed may keep it a
 * moment longer, and the connector refuses a slot in use.
 */
export async function waitForSlotIdle(
  client: pg.Client,
  slot: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (!rows[0]?.active) return;
    if (Date.now() > deadline) throw new Error(`slot ${slot} still in use after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Drops every slot of the benchmark's database, waiting for each to be released first. */
export async function dropSlots(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ slot_name: string }>(
    'SELECT slot_name FROM pg_replication_slots WHERE database = current_database()',
  );
  for (const { slot_name: slot } of rows) {
    await waitForSlotIdle(client, slot);
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
  }
}
