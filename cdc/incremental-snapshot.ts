/**
 * Ad-hoc incremental snapshots (Debezium's `execute-snapshot` signal with `"type":"incremental"`):
 * the existing rows of a table, read in primary-key chunks while streaming goes on, using the
 * watermark algorithm of DBLog.
 *
 *   idle ──execute-snapshot──▶ window open ──open watermark, SELECT chunk, close watermark──┐
 *    ▲                          (every key the stream changes from now on is dropped      │
 *    │                           from the chunk)                                           ▼
 *    └── no table left ◀── chunk delivered, progress saved ◀── close watermark in the stream:
 *                                  │                           emit the chunk's remaining rows
 *                                  └──▶ next chunk ─▶ window open …                 as op "r"
 *
 * Why the result is right: a chunk row is emitted only when no change to its key was streamed
 * between the window opening and the close watermark, so its value is the row as of the close
 * watermark; a key that did change was streamed with its full row in that window, and any later
 * change is streamed after the reads. The window opens in the stream before the open watermark is
 * written, so it is never narrower than DBLog's. The reads carry `source.sequence` =
 * `[last commit LSN, LSN of the close watermark]`: after every change that committed before the
 * close watermark and before every later one.
 *
 * References: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-incremental-snapshots
 * and DBLog (Andreas Andreakis, Ioannis Papapanagiotou: "DBLog: A Watermark Based Change-Data-Capture
 * Framework", 2020).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../common/index.js';
import { readRecord, recordKey, type SourceDefaults } from './events/change-events.js';
import type { ChangeRecord } from './events/envelope.js';
import { stringifyJson, type JsonObject } from './events/json.js';
import type { SchemaCatalog, TableSchema } from './events/table-schema.js';
import type { Lsn } from './replication/lsn.js';
import { quoteIdent } from './setup.js';
import { insertSignal, parseTableName, type Signal, type SignalTableName } from './signals.js';
import { createTextClient } from './snapshot.js';

/** What the offsets file keeps so that a restarted connector carries on where it stopped. */
export interface IncrementalProgress {
  /** Tables waiting, in order, each with the signal that asked for it. */
  readonly queue: readonly { table: string; signal: string }[];
  /** The table being read, and the primary key (text values) of the last row emitted. */
  readonly current: {
    readonly table: string;
    readonly signal: string;
    readonly lastKey: readonly string[] | null;
    readonly maxKey: readonly string[];
    readonly rows: number;
    readonly chunks: number;
  } | null;
  /** Ids of the recent `execute-snapshot` / `stop-snapshot` signals, so a replay acts once. */
  readonly handledSignals: readonly string[];
}

/** A running incremental snapshot, as the status endpoint shows it. */
export interface IncrementalSnapshotStatus {
  /** `schema.table` being read. */
  table: string;
  /** Rows emitted so far for it. */
  rows: number;
  /** Chunks emitted so far for it. */
  chunks: number;
  /** Tables waiting after it. */
  pending: string[];
}

/** Where the close watermark sits in the stream: the reads take this position. */
export interface WatermarkPosition {
  readonly txId: number;
  readonly lsn: Lsn;
  readonly lastCommitLsn: Lsn | null;
  readonly commitTimeUs: bigint;
}

/** What the stream does with a signal: records to add to its transaction, and what to do once they are delivered. */
export interface SignalOutcome {
  readonly records: ChangeRecord[];
  readonly onDelivered?: () => void;
}

export interface IncrementalSnapshotOptions {
  readonly url: string;
  readonly signalTable: SignalTableName;
  readonly chunkSize: number;
  readonly catalog: SchemaCatalog;
  readonly pool: pg.Pool;
  readonly defaults: () => SourceDefaults;
  readonly isCaptured: (table: { schema: string; table: string }) => boolean;
  /** Persists progress (the offsets file). */
  readonly saveProgress: (progress: IncrementalProgress) => Promise<void>;
  readonly logger: Logger;
}

/** The incremental snapshotter; the stream calls it in commit order. */
export interface IncrementalSnapshotter {
  /** Carries on from saved progress (after a restart). */
  resume(progress: IncrementalProgress | undefined): void;
  /** A signal-table insert seen in the stream. */
  onSignal(signal: Signal, at: WatermarkPosition): SignalOutcome;
  /** True when changes to `table` must be reported with `touched`. */
  watching(table: string): boolean;
  /** Keys a streamed change touched (before and after), for the table being read. */
  touched(table: string, keys: readonly (JsonObject | null)[]): void;
  /** A streamed truncate of `table`. */
  truncated(table: string): void;
  status(): IncrementalSnapshotStatus | null;
  stop(): Promise<void>;
}

interface Current {
  readonly table: TableSchema;
  readonly signal: string;
  lastKey: string[] | null;
  readonly maxKey: string[];
  rows: number;
  chunks: number;
}

interface Window {
  readonly chunkId: string;
  readonly touched: Set<string>;
  truncated: boolean;
  /** The chunk as read (set before the close watermark is written). */
  rows?: string[][];
}

const HANDLED_SIGNALS_KEPT = 100;

/** Creates the snapshotter; nothing is read until a signal (or saved progress) asks for it. */
export function createIncrementalSnapshotter(
  options: IncrementalSnapshotOptions,
): IncrementalSnapshotter {
  const { logger, signalTable } = options;
  let queue: { table: string; signal: string }[] = [];
  let current: Current | undefined;
  let pendingCurrent: IncrementalProgress['current'] = null;
  let window: Window | undefined;
  let handled: string[] = [];
  /** A chunk step runs, or a chunk waits for delivery: nothing else starts. */
  let busy = false;
  let stopped = false;
  let client: pg.Client | undefined;
  let saving: Promise<void> = Promise.resolve();
  let previousChunk: string | undefined;

  function progress(): IncrementalProgress {
    return {
      queue: [...queue],
      current: current
        ? {
            table: current.table.qualifiedName,
            signal: current.signal,
            lastKey: current.lastKey,
            maxKey: current.maxKey,
            rows: current.rows,
            chunks: current.chunks,
          }
        : pendingCurrent,
      handledSignals: [...handled],
    };
  }

  function save(): Promise<void> {
    const snapshot = progress();
    saving = saving
      .then(() => options.saveProgress(snapshot))
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'could not save incremental snapshot progress'),
      );
    return saving;
  }

  async function connection(): Promise<pg.Client> {
    if (client) return client;
    const created = createTextClient(options.url);
    created.on('error', (error) =>
      logger.warn({ err: error }, 'incremental snapshot connection error'),
    );
    await created.connect();
    client = created;
    return created;
  }

  function schedule(): void {
    if (busy || stopped) return;
    if (!current && !pendingCurrent && queue.length === 0 && previousChunk === undefined) return;
    busy = true;
    void step();
  }

  /** Opens the next chunk's window and reads the chunk; the close watermark does the rest. */
  async function step(): Promise<void> {
    try {
      const db = await connection();
      for (;;) {
        if (stopped) return;
        if (previousChunk !== undefined) {
          // The watermarks of the chunk before have done their work.
          await db.query(`DELETE FROM ${signalTable.sql} WHERE id = $1 OR id = $2`, [
            `${previousChunk}-open`,
            `${previousChunk}-close`,
          ]);
          previousChunk = undefined;
        }
        if (!current) {
          current = await startTable(db);
          if (!current) {
            if (queue.length > 0 || pendingCurrent || previousChunk !== undefined) continue;
            busy = false;
            await save();
            return;
          }
        }
        const reading = current;
        const chunkId = randomUUID();
        const opened: Window = { chunkId, touched: new Set(), truncated: false };
        window = opened;
        await insertSignal(db, signalTable, {
          id: `${chunkId}-open`,
          type: 'snapshot-window-open',
          data: JSON.stringify({ openWindowTimestamp: new Date().toISOString() }),
        });
        const rows = await selectChunk(db, reading);
        if (window !== opened || current !== reading) return; // stopped meanwhile
        if (rows.length === 0) {
          window = undefined;
          previousChunk = chunkId;
          finishTable(reading);
          continue;
        }
        opened.rows = rows;
        await insertSignal(db, signalTable, {
          id: `${chunkId}-close`,
          type: 'snapshot-window-close',
          data: JSON.stringify({ closeWindowTimestamp: new Date().toISOString() }),
        });
        return; // busy until the close watermark's reads are delivered
      }
    } catch (error) {
      if (stopped) return;
      // A failed connection stays failed: the next attempt opens a new one.
      const failed = client;
      client = undefined;
      await failed?.end().catch(() => undefined);
      const table = current?.table.qualifiedName;
      logger.error(
        { err: error, table },
        `incremental snapshot of ${table ?? 'a table'} failed: ${(error as Error).message}; skipping it`,
      );
      current = undefined;
      pendingCurrent = null;
      window = undefined;
      busy = false;
      await save();
      schedule();
    }
  }

  /** The next table to read, checked; undefined (with an error logged) when it cannot be read. */
  async function startTable(db: pg.Client): Promise<Current | undefined> {
    const resumed = pendingCurrent;
    pendingCurrent = null;
    const job = resumed ?? queue.shift();
    if (!job) return undefined;
    const name = parseTableName(job.table);
    const found = await options.pool.query<{ oid: number }>(
      `SELECT c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [name.schema, name.table],
    );
    const oid = found.rows[0]?.oid;
    if (oid === undefined) {
      logger.error(
        { table: job.table, signal: job.signal },
        `incremental snapshot: table ${job.table} does not exist; skipped`,
      );
      return undefined;
    }
    if (!options.isCaptured(name) || name.qualifiedName === signalTable.qualifiedName) {
      logger.error(
        { table: job.table, signal: job.signal },
        `incremental snapshot: table ${job.table} is not captured by this connector (table include list); skipped`,
      );
      return undefined;
    }
    const table = await options.catalog.describeTable({ oid, ...name });
    if (table.keyColumns.length === 0) {
      logger.error(
        { table: job.table, signal: job.signal },
        `incremental snapshot: table ${job.table} has no primary key, which chunks are read by; skipped`,
      );
      return undefined;
    }
    let maxKey = resumed?.maxKey ? [...resumed.maxKey] : undefined;
    if (!maxKey) {
      const keys = table.keyColumns.map((c) => quoteIdent(c.name));
      const result = await db.query<string[]>({
        text: `SELECT ${keys.join(', ')} FROM ${name.sql} ORDER BY ${keys.map((k) => `${k} DESC`).join(', ')} LIMIT 1`,
        rowMode: 'array',
      });
      maxKey = result.rows[0];
      if (!maxKey) {
        logger.info({ table: job.table, rows: 0 }, 'incremental snapshot of table done');
        return undefined;
      }
    }
    logger.info(
      { table: job.table, signal: job.signal, resumed: resumed !== null },
      'incremental snapshot of table started',
    );
    return {
      table,
      signal: job.signal,
      lastKey: resumed?.lastKey ? [...resumed.lastKey] : null,
      maxKey,
      rows: resumed?.rows ?? 0,
      chunks: resumed?.chunks ?? 0,
    };
  }

  /** The next chunk: rows after the last key, up to the largest key there was at the start. */
  async function selectChunk(db: pg.Client, reading: Current): Promise<string[][]> {
    const { table } = reading;
    const keys = `(${table.keyColumns.map((c) => quoteIdent(c.name)).join(', ')})`;
    const values: string[] = [];
    const placeholders = (key: readonly string[]) =>
      `(${key.map((value) => `$${values.push(value)}`).join(', ')})`;
    const conditions = [`${keys} <= ${placeholders(reading.maxKey)}`];
    if (reading.lastKey) conditions.unshift(`${keys} > ${placeholders(reading.lastKey)}`);
    const result = await db.query<string[]>({
      text: `SELECT ${table.allColumnNames.map(quoteIdent).join(', ')} FROM ${quoteIdent(table.schema)}.${quoteIdent(table.table)} WHERE ${conditions.join(' AND ')} ORDER BY ${table.keyColumns.map((c) => quoteIdent(c.name)).join(', ')} LIMIT ${options.chunkSize}`,
      values,
      rowMode: 'array',
    });
    return result.rows;
  }

  function finishTable(reading: Current): void {
    logger.info(
      { table: reading.table.qualifiedName, rows: reading.rows, chunks: reading.chunks },
      'incremental snapshot of table done',
    );
    if (current === reading) current = undefined;
  }

  /** The close watermark reached the stream: the chunk's rows that no streamed change touched. */
  function closeWindow(open: Window, at: WatermarkPosition): SignalOutcome {
    const reading = current!;
    const rows = open.rows!;
    window = undefined;
    const defaults = options.defaults();
    const position = {
      txId: at.txId,
      lsn: at.lsn,
      lastCommitLsn: at.lastCommitLsn,
      timeUs: at.commitTimeUs,
      snapshot: 'incremental' as const,
      transaction: null,
    };
    const records: ChangeRecord[] = [];
    if (!open.truncated) {
      for (const row of rows) {
        const key = recordKey(reading.table, row);
        if (open.touched.has(stringifyJson(key))) continue;
        records.push(readRecord(defaults, reading.table, row, position));
      }
    }
    const last = rows[rows.length - 1]!;
    const lastKey = reading.table.keyColumns.map((c) => last[c.index]!);
    const complete = rows.length < options.chunkSize || sameKey(lastKey, reading.maxKey);
    return {
      records,
      onDelivered: () => {
        if (current !== reading) return;
        reading.lastKey = lastKey;
        reading.rows += records.length;
        reading.chunks++;
        previousChunk = open.chunkId;
        if (complete) finishTable(reading);
        busy = false;
        void save().then(schedule);
      },
    };
  }

  function accept(
    signal: Extract<Signal, { type: 'execute-snapshot' | 'stop-snapshot' }>,
  ): boolean {
    if (handled.includes(signal.id)) return false;
    handled.push(signal.id);
    if (handled.length > HANDLED_SIGNALS_KEPT) handled = handled.slice(-HANDLED_SIGNALS_KEPT);
    return true;
  }

  return {
    resume(saved) {
      if (!saved) return;
      queue = saved.queue.map((job) => ({ ...job }));
      pendingCurrent = saved.current;
      handled = [...saved.handledSignals];
      if (pendingCurrent || queue.length > 0)
        logger.info(
          { table: pendingCurrent?.table ?? queue[0]?.table, pending: queue.length },
          'resuming incremental snapshot',
        );
      schedule();
    },

    onSignal(signal, at) {
      switch (signal.type) {
        case 'execute-snapshot':
          if (!accept(signal)) return { records: [] };
          if (signal.snapshotType !== 'incremental') {
            logger.error(
              { signal: signal.id, type: signal.snapshotType },
              `signal ${signal.id}: only "incremental" snapshots can be run ad hoc, not ${JSON.stringify(signal.snapshotType)}`,
            );
            void save();
            return { records: [] };
          }
          logger.info(
            { signal: signal.id, tables: signal.tables },
            'incremental snapshot requested',
          );
          for (const table of signal.tables) queue.push({ table, signal: signal.id });
          void save();
          schedule();
          return { records: [] };
        case 'stop-snapshot': {
          if (!accept(signal)) return { records: [] };
          const stops = (table: string) =>
            signal.tables.length === 0 ||
            signal.tables.some((t) => parseTableName(t).qualifiedName === table);
          queue = queue.filter((job) => !stops(parseTableName(job.table).qualifiedName));
          if (pendingCurrent && stops(parseTableName(pendingCurrent.table).qualifiedName))
            pendingCurrent = null;
          if (current && stops(current.table.qualifiedName)) {
            logger.info({ table: current.table.qualifiedName }, 'incremental snapshot stopped');
            current = undefined;
            window = undefined;
            busy = false;
          }
          void save();
          schedule();
          return { records: [] };
        }
        case 'snapshot-window-close':
          if (window?.rows && current && signal.id === `${window.chunkId}-close`)
            return closeWindow(window, at);
          return { records: [] };
        case 'snapshot-window-open':
          return { records: [] };
        case 'unknown':
          logger.warn({ signal: signal.id, type: signal.name }, 'unknown signal type; ignored');
          return { records: [] };
      }
    },

    watching(table) {
      return window !== undefined && current?.table.qualifiedName === table;
    },

    touched(table, keys) {
      if (!window || current?.table.qualifiedName !== table) return;
      for (const key of keys) if (key !== null) window.touched.add(stringifyJson(key));
    },

    truncated(table) {
      if (window && current?.table.qualifiedName === table) window.truncated = true;
    },

    status() {
      const table = current?.table.qualifiedName ?? pendingCurrent?.table ?? queue[0]?.table;
      if (table === undefined) return null;
      const pending = queue.map((job) => job.table);
      if (!current && !pendingCurrent) pending.shift();
      return {
        table,
        rows: current?.rows ?? pendingCurrent?.rows ?? 0,
        chunks: current?.chunks ?? pendingCurrent?.chunks ?? 0,
        pending,
      };
    },

    async stop() {
      stopped = true;
      await saving;
      await client?.end().catch(() => undefined);
    },
  };
}

function sameKey(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
