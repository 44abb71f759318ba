/**
 * Replication origins: a writer that calls `pg_replication_origin_session_setup('name')` marks its
 * transactions, and pgoutput sends the origin's name after BEGIN. ficus passes it on as a record
 * header, so a service that writes back into the source can recognise its own changes and not
 * apply them a second time (no write loop). Debezium's envelope has no field for it.
 *
 * Reference: https://www.postgresql.org/docs/current/replication-origins.html
 */
import type { ChangeRecord } from './envelope.js';

/** The header that carries the replication origin of the transaction a record belongs to. */
export const ORIGIN_HEADER = 'ficus.origin';

/** The replication origin a record was written under, or undefined for an ordinary write. */
export function recordOrigin(record: ChangeRecord): string | undefined {
  return record.headers?.[ORIGIN_HEADER];
}
