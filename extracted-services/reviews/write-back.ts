/**
 * The write-back: the reviews the service writes itself, copied into the monolith's `reviews`
 * table, so the monolith (its product rating summaries, the catalog fed from it) keeps showing
 * them.
 *
 *   service db ──logical replication──▶ CDC connector ──▶ per source transaction:
 *   (public.reviews,   (snapshot never,      BEGIN  pg_replication_origin_xact_setup(commit LSN, commit time)
 *    written_by =       transaction          upsert / delete by id, rows with written_by = 'service' only
 *    'service' rows)    metadata on)         COMMIT ──▶ monolith `reviews`, origin progress advances
 *
 * The monolith session runs under a Postgres replication origin, so Postgres itself records, in
 * the same commit as the rows, how far the write-back got (`pg_replication_origin_progress`). A
 * transaction at or before that position is skipped, so a restart that is handed changes again
 * (the connector confirms them to its slot only after they are written) writes each one once,
 * without a bookkeeping table in the monolith. The origin also marks the written changes in the
 * monolith's WAL: its connector puts the origin into the `ficus.origin` header, and the service
 * skips them instead of applying its own changes a second time.
 *
 * Reference: https://www.postgresql.org/docs/current/replication-origins.html
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import {
  CONNECTOR_DEFAULTS,
  createConnector,
  createEmbeddedSink,
  formatLsn,
  isChangeEventValue,
  parseLsn,
  type ChangeEventValue,
  type ChangeRecord,
  type ConnectorState,
  type ConnectorStatus,
  type JsonObject,
  type JsonValue,
  type Lsn,
  type TransactionEventValue,
  ConfigError,
  createSilentLogger,
  ficusVersion,
  FicusError,
  type Logger,
  isUnavailable,
} from '../../index.js';
import { DEFAULT_WRITE_BACK_ORIGIN, WRITTEN_BY_MONOLITH, WRITTEN_BY_SERVICE } from './ownership.js';

/** Default replication slot and publication of the write-back on the service's database. */
export const DEFAULT_WRITE_BACK_SLOT = 'ficus_reviews_write_back';

/** The monolith table the write-back writes, and the columns it sets besides `id`. */
const MONOLITH_TABLE = 'public.reviews';
const COLUMNS = ['product_id', 'member_id', 'rating', 'title', 'body', 'created_at'] as const;

/** SQLSTATE of `foreign_key_violation` and `object_in_use`. */
const FOREIGN_KEY_VIOLATION = '23503';
const OBJECT_IN_USE = '55006';
const UNIQUE_VIOLATION = '23505';
/** How long a start waits for a previous session to let go of the origin. */
const ORIGIN_BUSY_WAIT_MS = 10_000;

/** Options of {@link startReviewsWriteBack}. */
export interface ReviewsWriteBackOptions {
  /** `postgres://…` URL of the reviews service's own database (`wal_level=logical`). */
  serviceDatabaseUrl: string;
  /** `postgres://…` URL of the monolith's database. */
  monolithDatabaseUrl: string;
  /** Default: silent. */
  logger?: Logger;
  /** Replication slot on the service's database; default `ficus_reviews_write_back`. */
  slotName?: string;
  /** Publication on the service's database; default the slot name. */
  publicationName?: string;
  /**
   * Replication origin in the monolith's cluster; default `ficus_reviews`. Origins belong to the
   * cluster, not to a database: two monolith databases on one cluster need two names. The reviews
   * service must be told the same name (`createReviewsService({ writeBackOrigin })`).
   */
  originName?: string;
}

/** Where the write-back stands. */
export interface ReviewsWriteBackStatus {
  readonly state: ConnectorState;
  readonly origin: string;
  /** Commit LSN (service database) of the last transaction written into the monolith. */
  readonly appliedLsn: string | null;
  /** Source transactions written into the monolith by this run. */
  readonly transactionsApplied: number;
  /** Source transactions handed over again that the origin's progress already covered. */
  readonly transactionsSkipped: number;
  /** Row changes written into the monolith by this run. */
  readonly changesApplied: number;
  /** Row changes left alone: carried from the monolith, or truncates. */
  readonly changesIgnored: number;
  /** Row changes the monolith refused (its product or member is gone there). */
  readonly changesRejected: number;
  readonly connector: ConnectorStatus;
}

/** A running write-back. */
export interface ReviewsWriteBack {
  status(): ReviewsWriteBackStatus;
  /** Writes what is queued, stops the connector and lets go of the origin. Safe to call twice. */
  close(): Promise<void>;
  /** Settles when the write-back has stopped: resolves after close(), rejects when it failed. */
  readonly done: Promise<void>;
}

/** A change the write-back could not make sense of (`FICUS_REVIEWS_WRITE_BACK`). */
export class ReviewsWriteBackError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('FICUS_REVIEWS_WRITE_BACK', message, options);
  }
}

const postgresUrl = z
  .string({ error: 'must be a postgres:// URL' })
  .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' });
const identifier = z
  .string({ error: 'must be 1 to 63 lower-case letters, digits or underscores' })
  .regex(/^[a-z0-9_]{1,63}$/, {
    error: 'must be 1 to 63 lower-case letters, digits or underscores',
  });
const optionsSchema = z.object({
  serviceDatabaseUrl: postgresUrl,
  monolithDatabaseUrl: postgresUrl,
  slotName: identifier.optional(),
  publicationName: identifier.optional(),
  originName: identifier.optional(),
});

/**
 * Starts copying the service's own review changes into the monolith: prepares the origin in the
 * monolith, then streams the service database's `reviews` table from the slot (created on first
 * start; changes from before then are not copied, so start the write-back before the gateway
 * sends the service any review write). Throws {@link ConfigError} naming the field for invalid
 * options.
 */
export async function startReviewsWriteBack(
  options: ReviewsWriteBackOptions,
): Promise<ReviewsWriteBack> {
  const parsed = optionsSchema.safeParse(options, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') ?? 'options';
    const got = issue?.input === undefined ? 'nothing' : JSON.stringify(issue.input);
    throw new ConfigError(
      `reviews write-back option ${field} ${issue?.message ?? 'is invalid'}, got ${got}`,
      { cause: parsed.error },
    );
  }
  const origin = parsed.data.originName ?? DEFAULT_WRITE_BACK_ORIGIN;
  const slotName = parsed.data.slotName ?? DEFAULT_WRITE_BACK_SLOT;
  const logger = (options.logger ?? createSilentLogger()).child({
    component: 'reviews-write-back',
    origin,
  });

  const monolith = new pg.Client({
    connectionString: parsed.data.monolithDatabaseUrl,
    application_name: 'ficus-reviews-write-back',
  });
  monolith.on('error', (error) => logger.warn({ err: error }, 'monolith connection error'));
  await monolith.connect();
  let progress: Lsn;
  try {
    progress = await setUpOrigin(monolith, origin);
  } catch (error) {
    await monolith.end().catch(() => undefined);
    throw error;
  }
  logger.info({ progress: formatLsn(progress) }, 'replication origin ready');

  const counters = {
    transactionsApplied: 0,
    transactionsSkipped: 0,
    changesApplied: 0,
    changesIgnored: 0,
    changesRejected: 0,
  };
  let open: ChangeEventValue[] | undefined;

  async function write(records: readonly ChangeRecord[]): Promise<void> {
    for (const record of records) {
      const { value } = record;
      if (isChangeEventValue(value)) {
        if (!open)
          throw new ReviewsWriteBackError(
            `change at ${value.source.sequence} arrived outside a transaction; transaction metadata must be on`,
          );
        open.push(value);
      } else if (isTransactionValue(value)) {
        if (value.status === 'BEGIN') {
          open = [];
        } else {
          const changes = open ?? [];
          open = undefined;
          await writeTransaction(changes, commitLsnOf(value), value.ts_ms);
        }
      }
    }
  }

  /** One source transaction as one monolith transaction, stamped with the origin. */
  async function writeTransaction(
    changes: readonly ChangeEventValue[],
    commitLsn: Lsn,
    commitMs: number,
  ): Promise<void> {
    if (commitLsn <= progress) {
      counters.transactionsSkipped++;
      logger.debug({ commitLsn: formatLsn(commitLsn) }, 'already written; skipped');
      return;
    }
    const own = changes.filter((change) => isOwnChange(change, logger));
    counters.changesIgnored += changes.length - own.length;
    if (own.length === 0) return;
    let applied = 0;
    let rejected = 0;
    await monolith.query('BEGIN');
    try {
      await monolith.query('SELECT pg_replication_origin_xact_setup($1, $2)', [
        formatLsn(commitLsn),
        new Date(commitMs),
      ]);
      for (const change of own) {
        await monolith.query('SAVEPOINT review_change');
        try {
          await writeChange(monolith, change);
          applied++;
        } catch (error) {
          if ((error as { code?: unknown }).code !== FOREIGN_KEY_VIOLATION) throw error;
          await monolith.query('ROLLBACK TO SAVEPOINT review_change');
          rejected++;
          logger.warn(
            { err: error, review: (change.after ?? change.before)?.id },
            'the monolith refused a review (its product or member is gone there); not written',
          );
        }
      }
      await monolith.query('COMMIT');
    } catch (error) {
      await monolith.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    progress = commitLsn;
    counters.transactionsApplied++;
    counters.changesApplied += applied;
    counters.changesRejected += rejected;
    logger.debug({ commitLsn: formatLsn(commitLsn), applied, rejected }, 'written back');
  }

  const offsetsDir = await mkdtemp(path.join(tmpdir(), 'ficus-reviews-write-back-'));
  const connector = createConnector({
    ...CONNECTOR_DEFAULTS,
    databaseUrl: parsed.data.serviceDatabaseUrl,
    slotName,
    publicationName: parsed.data.publicationName ?? slotName,
    tableIncludeList: ['public\\.reviews'],
    columnExcludeList: [],
    topicPrefix: 'ficus_reviews_write_back',
    snapshotMode: 'never',
    provideTransactionMetadata: true,
    // Only read when a snapshot is taken, which `never` does not.
    offsetsFile: path.join(offsetsDir, 'offsets.json'),
    version: ficusVersion(),
    sink: createEmbeddedSink([write]),
    logger,
  });
  const release = async () => {
    await monolith.query('SELECT pg_replication_origin_session_reset()').catch(() => undefined);
    await monolith.end().catch(() => undefined);
    await rm(offsetsDir, { recursive: true, force: true });
  };
  try {
    await connector.start();
  } catch (error) {
    await release();
    throw error;
  }
  const done = connector.done.catch(async (error: unknown) => {
    await release();
    throw error;
  });
  done.catch(() => undefined);

  let closed: Promise<void> | undefined;
  return {
    done,
    status: () => ({
      state: connector.status().state,
      origin,
      appliedLsn: progress === 0n ? null : formatLsn(progress),
      ...counters,
      connector: connector.status(),
    }),
    close: () =>
      (closed ??= (async () => {
        await connector.stop();
        await release();
        logger.info('reviews write-back stopped');
      })()),
  };
}

/**
 * Creates the origin when missing, binds this session to it (waiting for a previous session to
 * let go) and returns its progress: the commit LSN of the last source transaction written.
 */
async function setUpOrigin(client: pg.Client, origin: string): Promise<Lsn> {
  try {
    await client.query(
      'SELECT pg_replication_origin_create($1) WHERE pg_replication_origin_oid($1) IS NULL',
      [origin],
    );
  } catch (error) {
    if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
  }
  const deadline = Date.now() + ORIGIN_BUSY_WAIT_MS;
  for (;;) {
    try {
      await client.query('SELECT pg_replication_origin_session_setup($1)', [origin]);
      break;
    } catch (error) {
      if ((error as { code?: unknown }).code !== OBJECT_IN_USE || Date.now() > deadline)
        throw new ReviewsWriteBackError(
          `cannot use replication origin ${JSON.stringify(origin)} in the monolith: ${(error as Error).message}`,
          { cause: error },
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const { rows } = await client.query<{ lsn: string | null }>(
    'SELECT pg_replication_origin_progress($1, false)::text AS lsn',
    [origin],
  );
  const lsn = rows[0]?.lsn;
  return lsn ? parseLsn(lsn) : 0n;
}

/** Upserts or deletes one review in the monolith by id. */
async function writeChange(client: pg.Client, change: ChangeEventValue): Promise<void> {
  if (change.op === 'd') {
    await client.query(`DELETE FROM ${MONOLITH_TABLE} WHERE id = $1`, [idOf(change.before)]);
    return;
  }
  const after = change.after ?? {};
  const names: string[] = [];
  const values: JsonValue[] = [idOf(after)];
  for (const column of COLUMNS) {
    // An unchanged TOASTed value is not sent; the old row (REPLICA IDENTITY FULL) has it.
    const value = [after[column], change.before?.[column]].find(
      (v): v is JsonValue => v !== undefined && !isUnavailable(v),
    );
    if (value === undefined) continue;
    names.push(column);
    values.push(value);
  }
  const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
  const updates = names.map((name) => `${name} = excluded.${name}`).join(', ');
  await client.query(
    `INSERT INTO ${MONOLITH_TABLE} (id${names.map((n) => `, ${n}`).join('')})
     VALUES (${placeholders})
     ON CONFLICT (id) DO ${updates === '' ? 'NOTHING' : `UPDATE SET ${updates}`}`,
    values,
  );
}

/**
 * True for a change the service made itself. A carried row is marked `written_by = 'monolith'`;
 * a delete's old row says who wrote the row last (and a delete by id is harmless if it is not).
 * Truncates never leave the service.
 */
function isOwnChange(change: ChangeEventValue, logger: Logger): boolean {
  switch (change.op) {
    case 't':
      logger.warn('a truncate of the service reviews table is not written back');
      return false;
    case 'd':
      return change.before?.written_by !== WRITTEN_BY_MONOLITH;
    case 'c':
    case 'u':
    case 'r':
      return change.after?.written_by === WRITTEN_BY_SERVICE;
  }
}

function idOf(row: JsonObject | null): JsonValue {
  const id = row?.id;
  if (typeof id !== 'number')
    throw new ReviewsWriteBackError(`review change without an integer id: ${JSON.stringify(row)}`);
  return id;
}

function isTransactionValue(value: ChangeRecord['value']): value is TransactionEventValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    'status' in value &&
    'event_count' in value &&
    (value.status === 'BEGIN' || value.status === 'END')
  );
}

/** The END record's id is `<txId>:<commit LSN>` (decimal). */
function commitLsnOf(value: TransactionEventValue): Lsn {
  const lsn = value.id.slice(value.id.lastIndexOf(':') + 1);
  if (!/^\d+$/.test(lsn))
    throw new ReviewsWriteBackError(`transaction id ${JSON.stringify(value.id)} has no commit LSN`);
  return BigInt(lsn);
}
