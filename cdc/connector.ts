/**
 * The CDC connector: Postgres logical replication in, Debezium change records out, at least once.
 *
 *   starting ──▶ snapshotting ──▶ streaming ──▶ stopping ──▶ stopped
 *      │       (snapshot: initial,     │
 *      │        first start only)      └──▶ failed (sink or replication error; nothing confirmed
 *      └──▶ failed (setup problem)                 past what the sink accepted)
 *
 * Streaming pipeline:
 *
 *   replication socket ─▶ decode ─▶ inbox ─▶ build records ─▶ outbox ─▶ sink.write (one at a time)
 *        ▲ pause when the inbox is full     (per transaction)        │ resolves once durable
 *        └──────────── confirm(commit end LSN) to the slot ◀──────────┘
 *                      (reported within flushConfirmIntervalMs, coalesced)
 *
 * A position is confirmed only when every record before it has been accepted by the sink, and
 * only at transaction boundaries, so after a crash Postgres replays whole transactions from the
 * last confirmed one: duplicates are possible, losses are not.
 */
import pg from 'pg';
import { createSilentLogger, type Logger } from '../common/index.js';
import { ORIGIN_HEADER } from './events/origin.js';
import {
  changeRecords,
  recordKey,
  truncateRecord,
  type SourceDefaults,
} from './events/change-events.js';
import type { ChangeRecord, Op, TransactionEventValue } from './events/envelope.js';
import { isChangeEventValue } from './events/envelope.js';
import { SchemaCatalog, type TableSchema } from './events/table-schema.js';
import { DEFAULT_TYPE_OPTIONS, sessionOptions, type TypeOptions } from './events/type-mapping.js';
import {
  createIncrementalSnapshotter,
  type IncrementalProgress,
  type IncrementalSnapshotter,
} from './incremental-snapshot.js';
import { readOffsets, writeOffsets, type Offsets } from './offsets.js';
import { formatLsn, type Lsn } from './replication/lsn.js';
import {
  decodePgoutput,
  isChangeMessage,
  type ChangeMessage,
  type PgoutputMessage,
  type Relation,
  type TupleValue,
} from './replication/pgoutput.js';
import { ReplicationConnection, type ReplicationStream } from './replication/stream.js';
import {
  checkServer,
  dropSlot,
  ensurePublication,
  inspectSlot,
  resolveCapturedTables,
  slotLagBytes,
  type CapturedTable,
} from './setup.js';
import {
  decodeSignal,
  DEFAULT_SIGNAL_TABLE,
  ensureSignalTable,
  executeSnapshotSignal,
  insertSignal,
  parseTableName,
  SignalError,
  type SignalTableName,
} from './signals.js';
import { CdcSetupError } from './errors.js';
import { formatBytes } from './byte-size.js';
import { findInactiveSlots, type InactiveSlotWarning } from './slots.js';
import type { Sink } from './sinks/sink.js';
import { withConnectSchemas } from './sinks/connect-json.js';
import { runSnapshot } from './snapshot.js';
import { RateMeter, type ConnectorState, type ConnectorStatus, type TableCounts } from './stats.js';

/** `snapshot.mode`: `initial` snapshots on first start then streams; `never` only streams; `initial_only` snapshots and stops. */
export type SnapshotMode = 'initial' | 'never' | 'initial_only';

/** Everything a connector needs; see cdc/config.ts for defaults and the YAML form. */
export interface ConnectorOptions {
  readonly databaseUrl: string;
  readonly slotName: string;
  readonly publicationName: string;
  /** Regular expressions over `schema.table` (Debezium `table.include.list`); empty = every table. */
  readonly tableIncludeList: readonly string[];
  /** Regular expressions over `schema.table.column` (Debezium `column.exclude.list`). */
  readonly columnExcludeList: readonly string[];
  readonly topicPrefix: string;
  readonly snapshotMode: SnapshotMode;
  readonly snapshotFetchSize: number;
  /** Heartbeat period in ms; 0 turns heartbeats off. */
  readonly heartbeatIntervalMs: number;
  /** SQL run on the source at each heartbeat (Debezium `heartbeat.action.query`). */
  readonly heartbeatActionQuery?: string | undefined;
  readonly tombstonesOnDelete: boolean;
  readonly provideTransactionMetadata: boolean;
  /** Operations not to emit (Debezium `skipped.operations`): any of c, u, d, t. */
  readonly skippedOperations: readonly Op[];
  readonly typeOptions: TypeOptions;
  /**
   * Keys and values as Kafka Connect JSON with schemas (JsonConverter `schemas.enable=true`:
   * `{"schema","payload"}`), for schema-aware sinks; default false. A captured column whose
   * type has no faithful schema stops the start with FICUS_CDC_CONNECT_SCHEMA.
   */
  readonly schemasEnable?: boolean | undefined;
  /** File that records whether the initial snapshot finished and incremental snapshot progress. */
  readonly offsetsFile: string;
  /**
   * `schema.table` of the signal table (Debezium `signal.data.collection`), created when missing
   * and added to the publication; null turns signals (and ad-hoc incremental snapshots) off.
   */
  readonly signalTable?: string | null | undefined;
  /** Rows per chunk of an incremental snapshot (Debezium `incremental.snapshot.chunk.size`). */
  readonly incrementalSnapshotChunkSize?: number | undefined;
  /** Most records handed to the sink in one write. */
  readonly maxBatchSize: number;
  /** Records waiting for the sink before decoding pauses (and TCP back-pressure reaches Postgres). */
  readonly maxQueuedRecords: number;
  /**
   * How often a standby status update goes to Postgres whatever happened (a keepalive; default
   * 10 000 ms).
   */
  readonly statusIntervalMs?: number;
  /**
   * Least time between two reports of a newly confirmed position (default 200 ms): once the sink
   * has accepted a transaction, its end is confirmed to the slot within this long, so a crash
   * replays little. 0 reports it only with the statusIntervalMs update.
   */
  readonly flushConfirmIntervalMs?: number | undefined;
  /**
   * Warn (log and status) about inactive ficus slots on the source database that retain more WAL
   * than this many bytes; 0 turns the check off. Default 1 GiB.
   */
  readonly inactiveSlotWarnBytes?: number | undefined;
  /** How often that check runs after the one at start (default 30 000 ms). */
  readonly inactiveSlotCheckIntervalMs?: number | undefined;
  readonly sink: Sink;
  readonly logger?: Logger;
  /** Written into `source.version`. */
  readonly version: string;
}

/** A running connector. */
export interface Connector {
  /** Checks and prepares the source, runs the snapshot if due, starts streaming. */
  start(): Promise<void>;
  /** Delivers what is queued, confirms it, and stops. */
  stop(): Promise<void>;
  status(): ConnectorStatus;
  /**
   * Asks for an incremental snapshot of `tables` (`schema.table`) by inserting an
   * `execute-snapshot` signal; the rows follow as op "r" records while streaming goes on. Returns
   * the signal's id.
   */
  requestSnapshot(tables: readonly string[]): Promise<string>;
  /** Settles when the connector has stopped: resolves after stop(), rejects when it failed. */
  readonly done: Promise<void>;
}

/** Sensible defaults for the tuning options. */
export const CONNECTOR_DEFAULTS = Object.freeze({
  snapshotMode: 'initial',
  snapshotFetchSize: 2_000,
  heartbeatIntervalMs: 10_000,
  tombstonesOnDelete: true,
  provideTransactionMetadata: false,
  skippedOperations: [] as readonly Op[],
  typeOptions: DEFAULT_TYPE_OPTIONS,
  maxBatchSize: 5_000,
  maxQueuedRecords: 5_000,
  signalTable: DEFAULT_SIGNAL_TABLE,
  incrementalSnapshotChunkSize: 1_024,
  inactiveSlotWarnBytes: 1024 ** 3,
  inactiveSlotCheckIntervalMs: 30_000,
  flushConfirmIntervalMs: 200,
});

/** A slot that stays over the threshold is warned about again after this long. */
const INACTIVE_SLOT_REWARN_MS = 10 * 60_000;

interface Inbound {
  readonly lsn: Lsn;
  readonly message: PgoutputMessage;
}

/** A FIFO with O(1) push and shift. */
class Queue<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

interface OpenTransaction {
  readonly xid: number;
  readonly commitTimeUs: bigint;
  /** The replication origin the transaction was written under (pgoutput Origin message). */
  origin: string | undefined;
  records: ChangeRecord[];
  /** Called once this transaction's records have been delivered. */
  readonly onDelivered: (() => void)[];
  totalOrder: number;
  readonly perTable: Map<string, number>;
}

/** Creates a connector. Nothing happens until `start()`. */
export function createConnector(options: ConnectorOptions): Connector {
  const logger = options.logger ?? createSilentLogger();
  const sink = options.schemasEnable ? withConnectSchemas(options.sink) : options.sink;
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: 3,
    options: sessionOptions(),
  });
  pool.on('error', (error) => logger.warn({ err: error }, 'source database connection error'));
  const columnExcludeList = options.columnExcludeList.map((entry) => new RegExp(`^(?:${entry})$`));
  const tablePatterns = options.tableIncludeList.map((entry) => new RegExp(`^(?:${entry})$`));
  const catalog = new SchemaCatalog(pool, {
    topicPrefix: options.topicPrefix,
    typeOptions: options.typeOptions,
    columnExcludeList,
    schemasEnable: options.schemasEnable ?? false,
  });
  const skipped = new Set(options.skippedOperations);
  const signalTable: SignalTableName | undefined = options.signalTable
    ? parseTableName(options.signalTable)
    : undefined;
  /** Set once the signal table is ready: signals are read from the stream. */
  let incremental: IncrementalSnapshotter | undefined;
  let offsets: Offsets | undefined;
  const transactionTopic = `${options.topicPrefix}.transaction`;
  const heartbeatTopic = `__debezium-heartbeat.${options.topicPrefix}`;

  let state: ConnectorState = 'starting';
  let lastError: string | null = null;
  /** What made the connector fail, rethrown as it is (code and all) by a start that was cut short. */
  let failure: Error | undefined;
  let database = '';
  let replication: ReplicationConnection | undefined;
  let stream: ReplicationStream | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let lagTimer: NodeJS.Timeout | undefined;
  let inactiveSlotTimer: NodeJS.Timeout | undefined;
  let inactiveSlots: readonly InactiveSlotWarning[] = [];
  let inactiveSlotsCheckedAt: string | null = null;
  const inactiveSlotWarnBytes =
    options.inactiveSlotWarnBytes ?? CONNECTOR_DEFAULTS.inactiveSlotWarnBytes;
  let lastReceived: Lsn | undefined;
  let lastCommitLsn: Lsn | null = null;
  let lagBytes: number | null = null;
  let millisBehind: number | null = null;
  let totalEvents = 0;
  const rate = new RateMeter();
  const tableCounts: TableCounts = {};
  const snapshotStats = { completed: false, tables: 0, rows: 0 };
  const startedAt = new Date().toISOString();
  let defaults: SourceDefaults;

  // Delivery: records wait in the outbox; one sink write is in flight at a time.
  let outbox: ChangeRecord[] = [];
  let outboxLsn: Lsn | undefined;
  let inflight: Promise<void> | undefined;
  const roomWaiters: (() => void)[] = [];
  let enqueuedTotal = 0;
  let deliveredTotal = 0;
  const deliveryWaiters: { target: number; resolve: () => void }[] = [];
  const drainWaiters: (() => void)[] = [];

  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined);

  function fail(error: unknown): void {
    if (state === 'failed' || state === 'stopped') return;
    const err = error instanceof Error ? error : new Error(String(error));
    state = 'failed';
    lastError = err.message;
    failure = err;
    logger.error({ err }, 'CDC connector failed');
    void shutdown().finally(() => settle.reject(err));
  }

  function enqueue(records: ChangeRecord[], confirmLsn?: Lsn): void {
    for (const record of records) outbox.push(record);
    enqueuedTotal += records.length;
    if (confirmLsn !== undefined) outboxLsn = confirmLsn;
    kick();
  }

  function kick(): void {
    if (inflight || (outbox.length === 0 && outboxLsn === undefined) || state === 'failed') return;
    const batch =
      outbox.length > options.maxBatchSize ? outbox.splice(0, options.maxBatchSize) : outbox;
    if (batch === outbox) outbox = [];
    // Only a batch that empties the outbox carries the confirm position.
    const confirm = outbox.length === 0 ? outboxLsn : undefined;
    if (confirm !== undefined) outboxLsn = undefined;
    inflight = sink.write(batch).then(
      () => {
        inflight = undefined;
        delivered(batch);
        deliveredTotal += batch.length;
        for (let i = deliveryWaiters.length - 1; i >= 0; i--) {
          const waiter = deliveryWaiters[i]!;
          if (waiter.target <= deliveredTotal) {
            deliveryWaiters.splice(i, 1);
            waiter.resolve();
          }
        }
        if (confirm !== undefined) stream?.confirm(confirm);
        for (const wake of roomWaiters.splice(0)) wake();
        if (outbox.length === 0 && outboxLsn === undefined)
          for (const wake of drainWaiters.splice(0)) wake();
        kick();
      },
      (error: unknown) => {
        inflight = undefined;
        fail(error);
        for (const wake of [...roomWaiters.splice(0), ...drainWaiters.splice(0)]) wake();
      },
    );
  }

  function delivered(batch: readonly ChangeRecord[]): void {
    let events = 0;
    let lastCommitMs: number | undefined;
    for (const record of batch) {
      const value = record.value;
      if (!isChangeEventValue(value)) continue;
      events++;
      const name = `${value.source.schema}.${value.source.table}`;
      const counts = (tableCounts[name] ??= {});
      counts[value.op] = (counts[value.op] ?? 0) + 1;
      if (value.op !== 'r') lastCommitMs = value.source.ts_ms;
    }
    totalEvents += events;
    rate.add(events);
    if (lastCommitMs !== undefined) millisBehind = Math.max(0, Date.now() - lastCommitMs);
  }

  function waitForRoom(): Promise<void> | undefined {
    if (outbox.length < options.maxQueuedRecords || state === 'failed') return undefined;
    return new Promise((resolve) => roomWaiters.push(resolve));
  }

  function drained(): Promise<void> {
    if (!inflight && outbox.length === 0 && outboxLsn === undefined) return Promise.resolve();
    return new Promise((resolve) => drainWaiters.push(resolve));
  }

  /** Resolves once every record enqueued so far has been accepted by the sink. */
  function whenDelivered(): Promise<void> {
    const target = enqueuedTotal;
    if (deliveredTotal >= target) return Promise.resolve();
    return new Promise((resolve) => deliveryWaiters.push({ target, resolve }));
  }

  function isSignalTable(table: { schema: string; table: string }): boolean {
    return signalTable?.schema === table.schema && signalTable.table === table.table;
  }

  function isCaptured(table: { schema: string; table: string }): boolean {
    if (isSignalTable(table)) return false;
    return (
      tablePatterns.length === 0 ||
      tablePatterns.some((p) => p.test(`${table.schema}.${table.table}`))
    );
  }

  async function start(): Promise<void> {
    try {
      await sink.start();
      const serverVersion = await checkServer(pool);
      database = (await pool.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
      defaults = {
        version: options.version,
        name: options.topicPrefix,
        db: database,
        tombstonesOnDelete: options.tombstonesOnDelete,
      };
      const tables = (await resolveCapturedTables(pool, options.tableIncludeList)).filter(
        (table) => !isSignalTable(table),
      );
      // Every captured table must have a faithful Connect schema before anything is emitted.
      if (options.schemasEnable) for (const table of tables) await catalog.describeTable(table);
      await ensurePublication(pool, options.publicationName, tables, logger, {
        slot: options.slotName,
      });
      await watchInactiveSlots();
      const slot = await inspectSlot(pool, options.slotName, database);
      offsets = await readOffsets(options.offsetsFile);
      replication = await ReplicationConnection.connect(options.databaseUrl, {
        logger,
        sessionOptions: sessionOptions(),
        applicationName: `ficus cdc ${options.slotName}`,
      });

      let startLsn: Lsn = 0n;
      if (options.snapshotMode === 'initial_only') {
        const created = await replication.createSlot(
          `${options.slotName}_snapshot_${process.pid}`,
          {
            exportSnapshot: true,
            serverVersion,
            temporary: true,
          },
        );
        await snapshot(tables, created.snapshotName!, created.consistentPoint);
        await stop();
        return;
      }
      const interrupted =
        slot.exists && offsets?.slot === options.slotName && !offsets.snapshotCompleted;
      if (interrupted) {
        logger.warn(
          { slot: options.slotName },
          'the initial snapshot was interrupted; starting it again',
        );
        await dropSlot(pool, options.slotName);
      }
      // A new initial snapshot reads every table again: incremental progress has nothing left to do.
      if (!slot.exists || interrupted)
        offsets = offsets && { ...offsets, incrementalSnapshot: undefined };
      if (!slot.exists || interrupted) {
        const wantSnapshot = options.snapshotMode === 'initial';
        if (wantSnapshot) await saveOffsets({ slot: options.slotName, snapshotCompleted: false });
        const created = await replication.createSlot(options.slotName, {
          exportSnapshot: wantSnapshot,
          serverVersion,
        });
        logger.info(
          { slot: options.slotName, consistentPoint: formatLsn(created.consistentPoint) },
          'created replication slot',
        );
        if (wantSnapshot) await snapshot(tables, created.snapshotName!, created.consistentPoint);
        startLsn = created.consistentPoint;
        lastCommitLsn = created.consistentPoint;
      } else {
        lastCommitLsn = slot.confirmedFlushLsn ?? null;
      }
      snapshotStats.completed = true;
      if (
        options.snapshotMode === 'initial' &&
        (!offsets || !offsets.snapshotCompleted || offsets.slot !== options.slotName)
      ) {
        await saveOffsets({ slot: options.slotName, snapshotCompleted: true });
      }
      if (signalTable) await prepareSignals(signalTable);
      startStreaming(startLsn);
      incremental?.resume(
        offsets?.slot === options.slotName ? offsets.incrementalSnapshot : undefined,
      );
    } catch (error) {
      state = 'failed';
      lastError = error instanceof Error ? error.message : String(error);
      await shutdown();
      settle.reject(error as Error);
      throw error;
    }
  }

  /** Writes the offsets file, keeping incremental snapshot progress unless `next` replaces it. */
  async function saveOffsets(next: {
    slot: string;
    snapshotCompleted: boolean;
    incrementalSnapshot?: IncrementalProgress;
  }): Promise<void> {
    const incrementalSnapshot =
      next.incrementalSnapshot ??
      (offsets?.slot === next.slot ? offsets.incrementalSnapshot : undefined);
    const written = { ...next, incrementalSnapshot };
    await writeOffsets(options.offsetsFile, written);
    offsets = { version: 1, updatedAt: new Date().toISOString(), ...written };
  }

  /** Makes sure the signal table exists and is published; without it, signals stay off. */
  async function prepareSignals(table: SignalTableName): Promise<void> {
    try {
      await ensureSignalTable(pool, table, options.publicationName, logger);
    } catch (error) {
      logger.warn(
        { err: error, signalTable: table.qualifiedName },
        'signals are off (no incremental snapshots on request)',
      );
      return;
    }
    incremental = createIncrementalSnapshotter({
      url: options.databaseUrl,
      signalTable: table,
      chunkSize:
        options.incrementalSnapshotChunkSize ?? CONNECTOR_DEFAULTS.incrementalSnapshotChunkSize,
      catalog,
      pool,
      defaults: () => defaults,
      isCaptured,
      // Written only while streaming, so the initial snapshot is behind us.
      saveProgress: (progress) =>
        saveOffsets({
          slot: options.slotName,
          snapshotCompleted: true,
          incrementalSnapshot: progress,
        }),
      logger: logger.child({ part: 'incremental-snapshot' }),
    });
  }

  async function requestSnapshot(tables: readonly string[]): Promise<string> {
    if (!signalTable)
      throw new CdcSetupError(
        'FICUS_CDC_SIGNAL_TABLE',
        'signals are off (signalTable is none): set signalTable to ask for incremental snapshots',
      );
    if (tables.length === 0)
      throw new CdcSetupError('FICUS_CDC_SIGNAL_TABLE', 'name at least one table to snapshot');
    const signal = executeSnapshotSignal(tables);
    await insertSignal(pool, signalTable, signal);
    return signal.id;
  }

  async function snapshot(
    tables: readonly CapturedTable[],
    snapshotName: string,
    consistentPoint: Lsn,
  ): Promise<void> {
    state = 'snapshotting';
    snapshotStats.tables = tables.length;
    logger.info({ tables: tables.length }, 'snapshot started');
    const { rows } = await runSnapshot({
      url: options.databaseUrl,
      snapshotName,
      consistentPoint,
      tables,
      fetchSize: options.snapshotFetchSize,
      defaults,
      catalog,
      logger,
      emit: async (records) => {
        enqueue(records);
        snapshotStats.rows += records.length;
        await waitForRoom();
        if (state === 'failed') throw failure ?? new Error(lastError ?? 'connector failed');
      },
    });
    await drained();
    if ((state as ConnectorState) === 'failed')
      throw failure ?? new Error(lastError ?? 'connector failed during the snapshot');
    logger.info({ rows }, 'snapshot finished');
  }

  function startStreaming(startLsn: Lsn): void {
    if (state !== 'starting' && state !== 'snapshotting') return; // stopped while starting
    state = 'streaming';
    const inbox = new Queue<Inbound>();
    let paused = false;
    let wake: (() => void) | undefined;
    let transaction: OpenTransaction | undefined;
    const schemas = new Map<number, TableSchema | null>();
    let signalRelation: Relation | undefined;

    let handling = false;
    const isIdle = () =>
      !handling &&
      transaction === undefined &&
      inbox.length === 0 &&
      !inflight &&
      outbox.length === 0;

    stream = replication!.start(
      {
        slot: options.slotName,
        publications: [options.publicationName],
        startLsn,
        statusIntervalMs: options.statusIntervalMs ?? 10_000,
        flushConfirmIntervalMs:
          options.flushConfirmIntervalMs ?? CONNECTOR_DEFAULTS.flushConfirmIntervalMs,
      },
      {
        onData(lsn, payload) {
          // Decoded at once: `payload` is a view into the socket buffer, which the next read reuses.
          let message: PgoutputMessage;
          try {
            message = decodePgoutput(payload);
          } catch (error) {
            fail(error);
            return;
          }
          inbox.push({ lsn, message });
          if (!paused && inbox.length >= options.maxQueuedRecords) {
            paused = true;
            stream?.pause();
          }
          wake?.();
        },
        onKeepalive(walEnd) {
          // Nothing received is undelivered: everything before walEnd is accounted for.
          if (isIdle() && walEnd > stream!.confirmed()) stream!.confirm(walEnd);
        },
      },
    );
    stream.ended.then(
      () => {
        wake?.();
      },
      (error: unknown) => fail(error),
    );

    const handle = async (lsn: Lsn, message: PgoutputMessage): Promise<void> => {
      if (isChangeMessage(message)) {
        if (message.relationId === signalRelation?.id) {
          if (transaction && message.tag === 'insert')
            handleSignal(lsn, message.after, transaction);
          return;
        }
        const table = schemas.get(message.relationId);
        if (!table || !transaction) return;
        if (incremental?.watching(table.qualifiedName))
          incremental.touched(table.qualifiedName, keysOf(table, message));
        const op = message.tag === 'insert' ? 'c' : message.tag === 'update' ? 'u' : 'd';
        if (skipped.has(op)) return;
        const txRecords = changeRecords(
          defaults,
          table,
          message,
          positionOf(transaction, table, lsn),
        );
        for (const record of txRecords) transaction.records.push(tagged(record, transaction));
        if (transaction.records.length >= options.maxBatchSize) {
          enqueue(transaction.records);
          transaction.records = [];
          await waitForRoom();
        }
        return;
      }
      switch (message.tag) {
        case 'begin':
          transaction = {
            xid: message.xid,
            commitTimeUs: message.commitTimeUs,
            origin: undefined,
            records: [],
            onDelivered: [],
            totalOrder: 0,
            perTable: new Map(),
          };
          if (options.provideTransactionMetadata) {
            transaction.records.push(
              transactionRecord('BEGIN', `${message.xid}:${lsn}`, message.commitTimeUs, null),
            );
          }
          return;
        case 'commit': {
          if (!transaction) return;
          if (options.provideTransactionMetadata) {
            transaction.records.push(
              transactionRecord(
                'END',
                `${transaction.xid}:${message.commitLsn}`,
                message.commitTimeUs,
                transaction,
              ),
            );
          }
          enqueue(transaction.records, message.endLsn);
          if (transaction.onDelivered.length > 0) {
            const callbacks = transaction.onDelivered;
            void whenDelivered().then(() => {
              for (const callback of callbacks) callback();
            });
          }
          transaction = undefined;
          lastCommitLsn = message.endLsn;
          await waitForRoom();
          return;
        }
        case 'relation': {
          const relation = message.relation;
          if (incremental && isSignalTable(relation)) {
            signalRelation = relation;
            schemas.set(relation.id, null);
            return;
          }
          schemas.set(
            relation.id,
            isCaptured(relation) ? await catalog.tableSchema(relation) : null,
          );
          return;
        }
        case 'truncate': {
          if (!transaction) return;
          // A chunk read before the truncate must not bring rows back, even when truncates
          // themselves are not delivered.
          for (const id of message.relationIds) {
            const table = schemas.get(id);
            if (table) incremental?.truncated(table.qualifiedName);
          }
          if (skipped.has('t')) return;
          for (const id of message.relationIds) {
            const table = schemas.get(id);
            if (table)
              transaction.records.push(
                tagged(
                  truncateRecord(defaults, table, positionOf(transaction, table, lsn)),
                  transaction,
                ),
              );
          }
          return;
        }
        case 'origin':
          // Sent after BEGIN when the writer's session had a replication origin set up.
          if (transaction) transaction.origin = message.name;
          return;
        case 'type':
        case 'message':
          return;
      }
    };

    /** A signal-table insert: acted on in commit order, never emitted. */
    const handleSignal = (lsn: Lsn, tuple: readonly TupleValue[], tx: OpenTransaction) => {
      if (!incremental || !signalRelation) return;
      let outcome;
      try {
        outcome = incremental.onSignal(decodeSignal(signalRelation, tuple), {
          txId: tx.xid,
          lsn,
          lastCommitLsn,
          commitTimeUs: tx.commitTimeUs,
        });
      } catch (error) {
        if (!(error instanceof SignalError)) throw error;
        logger.error({ signal: error.id }, error.message);
        return;
      }
      for (const record of outcome.records) tx.records.push(record);
      if (outcome.onDelivered) tx.onDelivered.push(outcome.onDelivered);
    };

    const tagged = (record: ChangeRecord, tx: OpenTransaction): ChangeRecord =>
      tx.origin === undefined
        ? record
        : { ...record, headers: { ...record.headers, [ORIGIN_HEADER]: tx.origin } };

    const positionOf = (tx: OpenTransaction, table: TableSchema, lsn: Lsn) => {
      let transactionBlock = null;
      if (options.provideTransactionMetadata) {
        tx.totalOrder++;
        const order = (tx.perTable.get(table.qualifiedName) ?? 0) + 1;
        tx.perTable.set(table.qualifiedName, order);
        transactionBlock = {
          id: `${tx.xid}:${lsn}`,
          total_order: tx.totalOrder,
          data_collection_order: order,
        };
      }
      return {
        txId: tx.xid,
        lsn,
        lastCommitLsn,
        timeUs: tx.commitTimeUs,
        snapshot: 'false' as const,
        transaction: transactionBlock,
      };
    };

    const transactionRecord = (
      status: 'BEGIN' | 'END',
      id: string,
      commitTimeUs: bigint,
      tx: OpenTransaction | null,
    ): ChangeRecord => {
      const value: TransactionEventValue = {
        status,
        id,
        event_count: tx ? tx.totalOrder : null,
        data_collections: tx
          ? [...tx.perTable].map(([name, count]) => ({ data_collection: name, event_count: count }))
          : null,
        ts_ms: Number(commitTimeUs / 1000n),
      };
      return { topic: transactionTopic, key: { id }, value };
    };

    const loop = async () => {
      while (state === 'streaming') {
        const next = inbox.shift();
        if (!next) {
          if (paused) {
            paused = false;
            stream?.resume();
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (paused && inbox.length < options.maxQueuedRecords / 2) {
          paused = false;
          stream?.resume();
        }
        if (next.lsn > (lastReceived ?? 0n)) lastReceived = next.lsn;
        handling = true;
        try {
          await handle(next.lsn, next.message);
        } finally {
          handling = false;
        }
      }
    };
    loop().catch(fail);

    if (options.heartbeatIntervalMs > 0) {
      heartbeatTimer = setInterval(() => void heartbeat(), options.heartbeatIntervalMs);
      heartbeatTimer.unref();
    }
    lagTimer = setInterval(() => void refreshLag(), 5_000);
    lagTimer.unref();
    void refreshLag();
    logger.info({ slot: options.slotName, from: formatLsn(startLsn) }, 'streaming started');
  }

  async function heartbeat(): Promise<void> {
    try {
      if (options.heartbeatActionQuery) await pool.query(options.heartbeatActionQuery);
      enqueue([
        {
          topic: heartbeatTopic,
          key: { serverName: options.topicPrefix },
          value: { ts_ms: Date.now() },
        },
      ]);
      // Ask for a keepalive: when nothing is pending, its position is confirmed, so an idle
      // captured table never holds WAL back.
      stream?.requestKeepalive();
    } catch (error) {
      logger.warn({ err: error }, 'heartbeat failed');
    }
  }

  async function refreshLag(): Promise<void> {
    try {
      lagBytes = (await slotLagBytes(pool, options.slotName)) ?? null;
    } catch (error) {
      logger.debug({ err: error }, 'could not read slot lag');
    }
  }

  /**
   * Checks now and then every inactiveSlotCheckIntervalMs for abandoned ficus slots (see
   * slots.ts); resolves after the first check. A failed check is only logged.
   */
  async function watchInactiveSlots(): Promise<void> {
    if (inactiveSlotWarnBytes <= 0) return;
    const warnedAt = new Map<string, number>();
    let running = false;
    let failing = false;
    const check = async () => {
      if (running || state === 'stopping' || state === 'stopped' || state === 'failed') return;
      running = true;
      try {
        const found = await findInactiveSlots(pool, {
          thresholdBytes: inactiveSlotWarnBytes,
          exclude: options.slotName,
        });
        const now = Date.now();
        for (const slot of found) {
          const last = warnedAt.get(slot.slot);
          if (last !== undefined && now - last < INACTIVE_SLOT_REWARN_MS) continue;
          warnedAt.set(slot.slot, now);
          logger.warn(
            {
              inactiveSlot: slot.slot,
              retainedBytes: slot.retainedBytes,
              walStatus: slot.walStatus,
            },
            `replication slot '${slot.slot}' is inactive and retains ${formatBytes(slot.retainedBytes)} of WAL; if its connector is gone for good, drop it with: ${slot.dropCommand}`,
          );
        }
        for (const name of warnedAt.keys())
          if (!found.some((slot) => slot.slot === name)) warnedAt.delete(name);
        inactiveSlots = found;
        inactiveSlotsCheckedAt = new Date(now).toISOString();
        failing = false;
      } catch (error) {
        if (failing) logger.debug({ err: error }, 'could not check for inactive replication slots');
        else logger.warn({ err: error }, 'could not check for inactive replication slots');
        failing = true;
      } finally {
        running = false;
      }
    };
    await check();
    inactiveSlotTimer = setInterval(
      () => void check(),
      options.inactiveSlotCheckIntervalMs ?? CONNECTOR_DEFAULTS.inactiveSlotCheckIntervalMs,
    );
    inactiveSlotTimer.unref();
  }

  let shuttingDown: Promise<void> | undefined;
  function shutdown(): Promise<void> {
    shuttingDown ??= (async () => {
      clearInterval(heartbeatTimer);
      clearInterval(lagTimer);
      clearInterval(inactiveSlotTimer);
      await incremental?.stop();
      if (state !== 'failed') {
        await Promise.race([drained(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      }
      await stream?.stop().catch(() => undefined);
      await replication?.close().catch(() => undefined);
      await sink.stop().catch((error: unknown) => logger.warn({ err: error }, 'stopping the sink'));
      await pool.end().catch(() => undefined);
    })();
    return shuttingDown;
  }

  async function stop(): Promise<void> {
    if (state === 'stopped' || state === 'failed') return done.catch(() => undefined);
    state = 'stopping';
    await shutdown();
    state = 'stopped';
    logger.info('CDC connector stopped');
    settle.resolve();
  }

  return {
    start,
    stop,
    done,
    requestSnapshot,
    status: () => ({
      state,
      slot: options.slotName,
      publication: options.publicationName,
      sink: sink.kind,
      lastReceivedLsn: lastReceived === undefined ? null : formatLsn(lastReceived),
      confirmedLsn: stream && stream.confirmed() > 0n ? formatLsn(stream.confirmed()) : null,
      slotLagBytes: lagBytes,
      millisBehindSource: millisBehind,
      eventsPerSecond: rate.rate(),
      totalEvents,
      tables: tableCounts,
      snapshot: { ...snapshotStats },
      signalTable: incremental && signalTable ? signalTable.qualifiedName : null,
      incrementalSnapshot: incremental?.status() ?? null,
      inactiveSlots,
      inactiveSlotsCheckedAt,
      lastError,
      startedAt,
    }),
  };
}

/** The keys a change touches: the new row's and, when Postgres sends it, the old row's. */
function keysOf(table: TableSchema, message: ChangeMessage) {
  switch (message.tag) {
    case 'insert':
      return [recordKey(table, message.after)];
    case 'update':
      return message.before
        ? [recordKey(table, message.after), recordKey(table, message.before)]
        : [recordKey(table, message.after)];
    case 'delete':
      return [recordKey(table, message.before)];
  }
}
