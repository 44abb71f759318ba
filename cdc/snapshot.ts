/**
 * The initial snapshot: every captured table read inside the snapshot Postgres exported when the
 * slot was created, so together with streaming from the slot's consistent point each committed
 * change appears exactly once, as a read (`op: "r"`) or as a later change event.
 *
 * Rows are read through a cursor in chunks of `fetchSize`, never a whole table at once.
 */
import pg from 'pg';
import type { Logger } from '../common/index.js';
import type { ChangeRecord, SnapshotMarker } from './events/envelope.js';
import { nowMicros, readRecord, type SourceDefaults } from './events/change-events.js';
import type { SchemaCatalog, TableSchema } from './events/table-schema.js';
import { sessionOptions } from './events/type-mapping.js';
import type { Lsn } from './replication/lsn.js';
import { quoteIdent, type CapturedTable } from './setup.js';

/** A connection whose column values stay in Postgres's text output, as pgoutput sends them. */
export function createTextClient(url: string): pg.Client {
  return new pg.Client({
    connectionString: url,
    options: sessionOptions(),
    types: { getTypeParser: () => (value: string) => value },
  });
}

export interface SnapshotOptions {
  readonly url: string;
  readonly snapshotName: string;
  readonly consistentPoint: Lsn;
  readonly tables: readonly CapturedTable[];
  readonly fetchSize: number;
  readonly defaults: SourceDefaults;
  readonly catalog: SchemaCatalog;
  /** Receives each chunk of records; the snapshot waits for it, which bounds memory. */
  readonly emit: (records: ChangeRecord[]) => Promise<void>;
  readonly logger: Logger;
}

/** Reads every table in the exported snapshot. Returns the number of rows read. */
export async function runSnapshot(options: SnapshotOptions): Promise<{ rows: number }> {
  const client = createTextClient(options.url);
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT ${client.escapeLiteral(options.snapshotName)}`);
    const txId = Number(
      (await client.query<{ xid: string }>('SELECT txid_current()::text AS xid')).rows[0]!.xid,
    );
    const schemas: TableSchema[] = [];
    for (const table of options.tables) schemas.push(await options.catalog.describeTable(table));

    // One row of look-ahead, so the last row of a table and of the whole snapshot can be marked.
    let held:
      | {
          table: TableSchema;
          row: string[];
          timeUs: bigint;
          firstInTable: boolean;
          lastInTable: boolean;
        }
      | undefined;
    let emitted = 0;
    let rows = 0;
    let chunk: ChangeRecord[] = [];
    const release = (lastOverall: boolean) => {
      if (!held) return;
      const marker = snapshotMarker({
        ...held,
        firstOverall: emitted === 0 && held.table === schemas[0],
        lastOverall,
      });
      chunk.push(
        readRecord(options.defaults, held.table, held.row, {
          txId,
          lsn: options.consistentPoint,
          lastCommitLsn: null,
          timeUs: held.timeUs,
          snapshot: marker,
          transaction: null,
        }),
      );
      emitted++;
      held = undefined;
    };

    for (const table of schemas) {
      const timeUs = BigInt(nowMicros());
      await client.query(
        `DECLARE ficus_snapshot NO SCROLL CURSOR FOR SELECT ${selectList(table)} FROM ${quoteIdent(table.schema)}.${quoteIdent(table.table)}`,
      );
      let tableRows = 0;
      for (;;) {
        const result = await client.query<string[]>({
          text: `FETCH ${options.fetchSize} FROM ficus_snapshot`,
          rowMode: 'array',
        });
        for (const row of result.rows) {
          release(false);
          held = { table, row, timeUs, firstInTable: tableRows === 0, lastInTable: false };
          tableRows++;
        }
        if (chunk.length > 0) {
          await options.emit(chunk);
          chunk = [];
        }
        if (result.rows.length < options.fetchSize) break;
      }
      await client.query('CLOSE ficus_snapshot');
      if (held?.table === table) held.lastInTable = true;
      rows += tableRows;
      options.logger.info(
        { table: table.qualifiedName, rows: tableRows },
        'snapshot of table done',
      );
    }
    release(true);
    if (chunk.length > 0) await options.emit(chunk);
    await client.query('COMMIT');
    return { rows };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Debezium's `source.snapshot` marker for a snapshot row: `first` for the first row of the first
 * table (none when that table is empty), `last` for the last row of the whole snapshot,
 * `first_in_data_collection` / `last_in_data_collection` for the first and last row of each other
 * table, `true` for the rest.
 */
export function snapshotMarker(row: {
  firstOverall: boolean;
  lastOverall: boolean;
  firstInTable: boolean;
  lastInTable: boolean;
}): SnapshotMarker {
  if (row.lastOverall) return 'last';
  if (row.firstOverall) return 'first';
  if (row.lastInTable) return 'last_in_data_collection';
  if (row.firstInTable) return 'first_in_data_collection';
  return 'true';
}

/** The table's columns in attribute order, as pgoutput sends them (generated columns left out). */
function selectList(table: TableSchema): string {
  return table.allColumnNames.map(quoteIdent).join(', ');
}
