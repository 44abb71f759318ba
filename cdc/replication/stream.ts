/**
 * A streaming-replication connection to Postgres, on top of `pg`.
 *
 * Spec: https://www.postgresql.org/docs/current/protocol-replication.html
 *
 *   IDENTIFY_SYSTEM ─▶ CREATE_REPLICATION_SLOT (optional) ─▶ START_REPLICATION ─▶ CopyBoth
 *                                                                   │
 *          server ─ XLogData 'w' (pgoutput message) ───────────────▶│ onData(lsn, payload)
 *          server ─ keepalive 'k' (walEnd, replyRequested) ────────▶│ onKeepalive(walEnd)
 *          client ◀─ standby status 'r' (flush = confirmed LSN) ────┘ every statusIntervalMs,
 *                                                                     when asked, and soon after
 *                                                                     confirm() moves it on
 *
 * The flush position sent to the server is only ever what the caller confirmed: Postgres may
 * then recycle the WAL before it, so confirming early loses changes on a crash. It is reported
 * promptly, so that a crash replays little, but coalesced: at most one update per
 * flushConfirmIntervalMs, however often confirm() is called (the walsender does work for each
 * reply that moves the flush position: LogicalConfirmReceivedLocation, sometimes a slot save).
 */
import pg from 'pg';
import type { Logger } from '../../common/index.js';
import { createSilentLogger } from '../../common/index.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';

const POSTGRES_EPOCH_MS = 946_684_800_000;

/** Result of IDENTIFY_SYSTEM. */
export interface SystemIdentity {
  readonly systemId: string;
  readonly timeline: number;
  readonly walPosition: Lsn;
  readonly database: string;
}

/** A slot created by {@link ReplicationConnection.createSlot}. */
export interface CreatedSlot {
  readonly name: string;
  /** The first LSN the slot will stream: everything before it is in the exported snapshot. */
  readonly consistentPoint: Lsn;
  /** Name for `SET TRANSACTION SNAPSHOT`, valid until this connection runs another command. */
  readonly snapshotName: string | undefined;
}

/**
 * What START_REPLICATION streams to. Handlers run synchronously in arrival order; `payload` is a
 * view into the socket's read buffer and is only valid until the handler returns.
 */
export interface StreamHandlers {
  onData(lsn: Lsn, payload: Buffer): void;
  onKeepalive?(walEnd: Lsn): void;
}

export interface StartOptions {
  readonly slot: string;
  readonly publications: readonly string[];
  /** Where to start; 0 means the slot's confirmed position. */
  readonly startLsn: Lsn;
  readonly statusIntervalMs?: number;
  /**
   * Least time between two status updates sent because confirm() moved the flush position; the
   * first goes out at once. 0 reports confirmed positions only every statusIntervalMs (and when
   * the server asks). Default 0.
   */
  readonly flushConfirmIntervalMs?: number;
}

/** A running stream: confirm positions, pause while the consumer is behind, stop. */
export interface ReplicationStream {
  /**
   * Marks `lsn` as flushed, to be reported within flushConfirmIntervalMs (or with the next
   * periodic status update): Postgres may then discard WAL before it. Never moves backwards.
   */
  confirm(lsn: Lsn): void;
  /** The last position confirmed (reported to the server, or about to be). */
  confirmed(): Lsn;
  /** Sends a status update asking the server to answer with a keepalive (its current position). */
  requestKeepalive(): void;
  /** Stops reading from the socket (TCP back-pressure reaches the server); status updates go on. */
  pause(): void;
  resume(): void;
  /** Ends the stream and closes the connection. */
  stop(): Promise<void>;
  /** Settles when the stream ends: resolves after stop(), rejects on a server or socket error. */
  readonly ended: Promise<void>;
}

interface PgConnection {
  stream: NodeJS.ReadableStream & NodeJS.WritableStream;
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  end(): void;
}

/** A replication-mode connection (`replication=database`). */
export class ReplicationConnection {
  private constructor(
    private readonly client: pg.Client,
    private readonly logger: Logger,
  ) {}

  /** Opens a replication connection to the database named in `url`. */
  static async connect(
    url: string,
    options: { logger?: Logger; sessionOptions?: string; applicationName?: string } = {},
  ): Promise<ReplicationConnection> {
    const logger = options.logger ?? createSilentLogger();
    const client = new pg.Client({
      connectionString: url,
      replication: 'database',
      // Shown in pg_stat_activity, so whoever finds the slot active can tell who streams from it.
      ...(options.applicationName ? { application_name: options.applicationName } : {}),
      ...(options.sessionOptions ? { options: options.sessionOptions } : {}),
    } as pg.ClientConfig);
    client.on('error', (error) => logger.debug({ err: error }, 'replication connection error'));
    await client.connect();
    return new ReplicationConnection(client, logger);
  }

  async identifySystem(): Promise<SystemIdentity> {
    const result = await this.client.query<{
      systemid: string;
      timeline: number;
      xlogpos: string;
      dbname: string;
    }>('IDENTIFY_SYSTEM');
    const row = result.rows[0]!;
    return {
      systemId: row.systemid,
      timeline: Number(row.timeline),
      walPosition: parseLsn(row.xlogpos),
      database: row.dbname,
    };
  }

  /**
   * Creates a logical slot for pgoutput. With `exportSnapshot`, the slot's starting point comes
   * with a snapshot of the database exactly there, for a consistent initial snapshot.
   */
  async createSlot(
    name: string,
    options: { exportSnapshot: boolean; serverVersion: number; temporary?: boolean },
  ): Promise<CreatedSlot> {
    const slot = `${this.client.escapeIdentifier(name)}${options.temporary ? ' TEMPORARY' : ''}`;
    const mode = options.exportSnapshot ? 'export' : 'nothing';
    const sql =
      options.serverVersion >= 150000
        ? `CREATE_REPLICATION_SLOT ${slot} LOGICAL pgoutput (SNAPSHOT '${mode}')`
        : `CREATE_REPLICATION_SLOT ${slot} LOGICAL pgoutput ${options.exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT'}`;
    const result = await this.client.query<{
      slot_name: string;
      consistent_point: string;
      snapshot_name: string | null;
    }>(sql);
    const row = result.rows[0]!;
    return {
      name: row.slot_name,
      consistentPoint: parseLsn(row.consistent_point),
      snapshotName: row.snapshot_name ?? undefined,
    };
  }

  /** Starts streaming pgoutput messages from the slot. */
  start(options: StartOptions, handlers: StreamHandlers): ReplicationStream {
    const connection = (this.client as unknown as { connection: PgConnection }).connection;
    const publications = options.publications
      .map((p) => p.replaceAll('"', '""'))
      .map((p) => `"${p}"`);
    const sql =
      `START_REPLICATION SLOT ${this.client.escapeIdentifier(options.slot)} LOGICAL ${formatLsn(options.startLsn)} ` +
      `(proto_version '1', publication_names ${this.client.escapeLiteral(publications.join(','))})`;

    let confirmedLsn = 0n;
    let reportedLsn = 0n;
    let receivedLsn = options.startLsn;
    let stopped = false;
    const flushInterval = options.flushConfirmIntervalMs ?? 0;
    let lastStatusAt = Number.NEGATIVE_INFINITY;
    let flushTimer: NodeJS.Timeout | undefined;
    const sendStatus = (replyRequested = false) => {
      if (stopped) return;
      clearTimeout(flushTimer);
      flushTimer = undefined;
      const message = Buffer.alloc(34);
      message[0] = 0x72; // 'r'
      message.writeBigUInt64BE(receivedLsn > confirmedLsn ? receivedLsn : confirmedLsn, 1);
      message.writeBigUInt64BE(confirmedLsn, 9);
      message.writeBigUInt64BE(confirmedLsn, 17);
      message.writeBigInt64BE(BigInt(Date.now() - POSTGRES_EPOCH_MS) * 1000n, 25);
      message[33] = replyRequested ? 1 : 0;
      connection.sendCopyFromChunk(message);
      reportedLsn = confirmedLsn;
      lastStatusAt = performance.now();
    };
    /** Sends the new flush position now, or once flushInterval has passed since the last update. */
    const reportFlush = () => {
      if (flushInterval <= 0 || stopped || flushTimer || confirmedLsn <= reportedLsn) return;
      const wait = lastStatusAt + flushInterval - performance.now();
      if (wait <= 0) {
        sendStatus();
        return;
      }
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        if (confirmedLsn > reportedLsn) sendStatus();
      }, wait);
      flushTimer.unref();
    };

    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const ended = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const finish = (error?: Error) => {
      clearInterval(timer);
      clearTimeout(flushTimer);
      if (error && !stopped) settle.reject(error);
      else settle.resolve();
    };

    const submittable = {
      submit: (con: PgConnection) => con.query(sql),
      handleCopyData: (message: { chunk: Buffer }) => {
        const chunk = message.chunk;
        const kind = chunk[0];
        if (kind === 0x77 /* w */) {
          const lsn = chunk.readBigUInt64BE(1);
          if (lsn > receivedLsn) receivedLsn = lsn;
          handlers.onData(lsn, chunk.subarray(25));
        } else if (kind === 0x6b /* k */) {
          const walEnd = chunk.readBigUInt64BE(1);
          handlers.onKeepalive?.(walEnd);
          if (chunk[17] === 1) sendStatus();
        }
      },
      handleError: (error: Error) => finish(error),
      handleReadyForQuery: () => finish(),
      handleCommandComplete: () => undefined,
      handleRowDescription: () => undefined,
      handleDataRow: () => undefined,
      handleEmptyQuery: () => undefined,
      handleCopyInResponse: () => undefined,
    };
    const timer = setInterval(() => sendStatus(), options.statusIntervalMs ?? 10_000);
    timer.unref();
    this.client.query(submittable as unknown as pg.Submittable);
    this.client.once('end', () =>
      finish(stopped ? undefined : new Error('replication connection closed')),
    );
    this.client.once('error', (error: Error) => finish(error));

    return {
      confirm: (lsn) => {
        if (lsn <= confirmedLsn) return;
        confirmedLsn = lsn;
        reportFlush();
      },
      confirmed: () => confirmedLsn,
      requestKeepalive: () => sendStatus(true),
      pause: () => connection.stream.pause(),
      resume: () => connection.stream.resume(),
      stop: async () => {
        if (stopped) return ended;
        sendStatus();
        stopped = true;
        connection.stream.resume();
        await this.client
          .end()
          .catch((error: unknown) =>
            this.logger.debug({ err: error }, 'closing replication connection'),
          );
        finish();
        return ended;
      },
      ended,
    };
  }

  /** Closes the connection (and with it any snapshot it exported). */
  async close(): Promise<void> {
    await this.client.end();
  }
}
