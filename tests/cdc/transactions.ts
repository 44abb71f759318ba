/**
 * Writes through the test database's client in one transaction and reads back, from the WAL
 * itself (pg_walinspect), where Postgres put that transaction's changes and commit, so a test can
 * assert `source.lsn`, `source.sequence` and `source.txId` exactly.
 *
 * https://www.postgresql.org/docs/current/pgwalinspect.html
 */
import type { CdcDatabase } from './harness.js';

/** A committed transaction: its id and where it sits in time and in the WAL. */
export interface CommittedTransaction {
  /** The 32-bit xid pgoutput reports (`txid_current()` without the epoch). */
  readonly txId: number;
  /** Wall clock just before BEGIN and just after COMMIT returned. */
  readonly startedMs: number;
  readonly committedMs: number;
  /** Where logical decoding starts the transaction (pgoutput's BEGIN position). */
  readonly firstLsn: bigint;
  /** Start LSN of each row change (heap insert/update/delete/truncate record), in WAL order. */
  readonly changeLsns: readonly bigint[];
  /** Every WAL record of the transaction: start LSN, resource manager and record type. */
  readonly walRecords: readonly { lsn: bigint; manager: string; type: string }[];
  /** Start and end LSN of the commit record. */
  readonly commitLsn: bigint;
  readonly commitEndLsn: bigint;
}

/** Prepares `db` for {@link commit}: pg_walinspect, and commits that wait for the WAL flush. */
export async function enableWalInspection(db: CdcDatabase): Promise<void> {
  await db.sql('CREATE EXTENSION IF NOT EXISTS pg_walinspect');
  await db.sql('SET synchronous_commit = on');
}

/** Runs `statements` in one transaction and reports where its records went in the WAL. */
export async function commit(
  db: CdcDatabase,
  statements: readonly string[],
): Promise<CommittedTransaction> {
  const from = (await db.sql('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0] as {
    lsn: string;
  };
  const startedMs = Date.now();
  await db.sql('BEGIN');
  let xid: string;
  try {
    xid = ((await db.sql('SELECT txid_current()::text AS xid')).rows[0] as { xid: string }).xid;
    for (const statement of statements) await db.sql(statement);
    await db.sql('COMMIT');
  } catch (error) {
    await db.sql('ROLLBACK');
    throw error;
  }
  const committedMs = Date.now();
  const txId = Number(BigInt(xid) % 2n ** 32n);
  const { rows } = await db.sql(
    `SELECT (start_lsn - '0/0')::text AS start, (end_lsn - '0/0')::text AS "end",
            resource_manager AS manager, record_type AS type
       FROM pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn())
      WHERE xid = $2::text::xid
      ORDER BY start_lsn`,
    [from.lsn, String(txId)],
  );
  const records = rows as { start: string; end: string; manager: string; type: string }[];
  const commitRecord = records.find((r) => r.manager === 'Transaction' && r.type === 'COMMIT');
  // Logical decoding starts a transaction at its first record outside the XLOG resource manager:
  // a hint-bit full-page image (FPI_FOR_HINT) can carry the xid earlier without counting.
  const firstRecord = records.find((r) => r.manager !== 'XLOG');
  if (!commitRecord || !firstRecord) throw new Error(`no commit record for xid ${txId} in the WAL`);
  return {
    txId,
    startedMs,
    committedMs,
    firstLsn: BigInt(firstRecord.start),
    changeLsns: records
      .filter(
        (r) =>
          (r.manager === 'Heap' || r.manager === 'Heap2') &&
          /^(INSERT|MULTI_INSERT|UPDATE|HOT_UPDATE|DELETE|TRUNCATE)/.test(r.type),
      )
      .map((r) => BigInt(r.start)),
    walRecords: records.map((r) => ({ lsn: BigInt(r.start), manager: r.manager, type: r.type })),
    commitLsn: BigInt(commitRecord.start),
    commitEndLsn: BigInt(commitRecord.end),
  };
}
