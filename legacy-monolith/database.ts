import knex, { type Knex } from 'knex';
import pg from 'pg';
import { createSilentLogger, type Logger } from '../common/index.js';
import { migrationSource } from './migrations/index.js';

/** Connection pool bounds for {@link createLegacyDatabase}. */
export interface LegacyPoolOptions {
  /** Connections kept open while idle. Default 0. */
  min?: number;
  /** Upper bound on concurrent connections. Default 10. */
  max?: number;
}

const INT8_OID = 20;

/**
 * Type parsers for this pool only (pg's global `types` stay untouched, so other components in the
 * same process keep their own choices). `numeric` already arrives as a string, which is how money
 * leaves the API; `int8`, which Postgres uses for `count(*)`, becomes a number. No column holds
 * bigint values beyond 2^53.
 */
const typeParsers: Knex.PgCustomTypesConfig = {
  getTypeParser: (oid, format) =>
    oid === INT8_OID && format === 'text'
      ? (value: string) => Number(value)
      : (pg.types.getTypeParser(oid, format === 'binary' ? 'binary' : 'text') as (
          value: string,
        ) => unknown),
};

/**
 * A knex instance on the monolith's Postgres database (pg client, pool-local type parsers). knex's
 * own warnings go to `logger` (default: silent) instead of the console.
 */
export function createLegacyDatabase(
  databaseUrl: string,
  pool: LegacyPoolOptions = {},
  logger: Logger = createSilentLogger(),
): Knex {
  const log = logger.child({ component: 'knex' });
  return knex({
    client: 'pg',
    connection: {
      connectionString: databaseUrl,
      application_name: 'ficus-legacy-monolith',
      types: typeParsers,
    },
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
    log: {
      warn: (message: unknown) => log.warn({ knex: String(message) }, 'knex warning'),
      error: (message: unknown) => log.error({ knex: String(message) }, 'knex error'),
      deprecate: (method: unknown, alternative: unknown) =>
        log.warn({ method, alternative }, 'knex deprecation'),
      debug: (message: unknown) => log.debug({ knex: message }, 'knex debug'),
    },
  });
}

/** Brings the schema up to date. Safe to run concurrently: knex holds its migration lock. */
export async function migrateLegacyDatabase(db: Knex): Promise<void> {
  await db.migrate.latest({ migrationSource });
}
