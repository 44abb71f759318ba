/**
 * The replication slots and publications ficus CDC leaves in the source database: listing them,
 * dropping ficus's, and spotting abandoned ones.
 *
 * A slot cannot carry a comment, so ficus marks the publication it creates for a slot instead:
 *
 *   COMMENT ON PUBLICATION "orders_pub" IS 'ficus:slot=orders_cdc; created by ficus CDC ...'
 *
 * A slot is ficus's when a publication on its database carries that marker with its name.
 * Publications without the marker (created by someone else) are never dropped by ficus.
 *
 * An inactive slot keeps every WAL segment from its restart_lsn on, so an abandoned one fills the
 * disk; Postgres's own limit is `max_slot_wal_keep_size`.
 * Spec: https://www.postgresql.org/docs/current/view-pg-replication-slots.html
 */
import { rm } from 'node:fs/promises';
import type pg from 'pg';
import { createSilentLogger, type Logger } from '../common/index.js';
import { CdcSlotError } from './errors.js';
import { readOffsets } from './offsets.js';
import { connectToSource } from './setup.js';

const MARKER = /^ficus:slot=([a-z0-9_]{1,63})(?:;|\s|$)/;

/** The comment ficus puts on a publication it creates for `slot`. */
export function publicationMarker(slot: string): string {
  return `ficus:slot=${slot}; created by ficus CDC for replication slot ${slot}; drop both with: ficus cdc drop-slot ${slot}`;
}

/** The slot a publication comment marks the publication for, or undefined when it is not ficus's. */
export function parsePublicationMarker(comment: string | null | undefined): string | undefined {
  return MARKER.exec(comment?.trim() ?? '')?.[1];
}

/** A logical replication slot as {@link listSlots} sees it. */
export interface SlotInfo {
  readonly name: string;
  /** The output plugin (`pgoutput` for ficus). */
  readonly plugin: string | null;
  readonly database: string;
  readonly temporary: boolean;
  readonly active: boolean;
  /** The backend streaming from the slot, while it is active. */
  readonly activePid: number | null;
  /** That backend's application_name, when this connection may see it. */
  readonly applicationName: string | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (see max_slot_wal_keep_size). */
  readonly walStatus: string | null;
  /** WAL the slot keeps on disk: current WAL (insert) position minus restart_lsn. */
  readonly retainedBytes: number | null;
  /** Changes not yet confirmed by the consumer: current WAL position minus confirmed_flush_lsn. */
  readonly confirmedLagBytes: number | null;
  /**
   * True when a ficus-marked publication names the slot, false when none does, null when the slot
   * is on another database (publications are per database, so this connection cannot tell).
   */
  readonly ficus: boolean | null;
  /** The ficus-marked publications that name the slot. */
  readonly publications: readonly string[];
}

/** Something to run queries on: a pool, a connected client, or a URL to connect to. */
export type SlotSource = string | pg.Pool | pg.ClientBase;

/**
 * Every logical replication slot on the server the connection can see, by name, with how much WAL
 * each retains and whether it is ficus's (judged from the publications of the connection's
 * database).
 */
export async function listSlots(source: SlotSource): Promise<SlotInfo[]> {
  return withQueryable(source, async (db) => {
    const [slots, marked] = await Promise.all([
      db.query<{
        name: string;
        plugin: string | null;
        database: string;
        temporary: boolean;
        active: boolean;
        active_pid: number | null;
        application_name: string | null;
        wal_status: string | null;
        retained: string | null;
        lag: string | null;
        here: boolean;
      }>(
        `WITH now AS (
           SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                       ELSE pg_current_wal_insert_lsn() END AS lsn)
         SELECT s.slot_name AS name, s.plugin, s.database, s.temporary, s.active, s.active_pid,
                a.application_name, s.wal_status,
                pg_wal_lsn_diff(now.lsn, s.restart_lsn)::bigint::text AS retained,
                pg_wal_lsn_diff(now.lsn, s.confirmed_flush_lsn)::bigint::text AS lag,
                s.database = current_database() AS here
           FROM pg_replication_slots s CROSS JOIN now
           LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid
          WHERE s.slot_type = 'logical'
          ORDER BY s.slot_name`,
      ),
      markedPublications(db),
    ]);
    return slots.rows.map((row) => {
      const publications = marked.get(row.name) ?? [];
      return {
        name: row.name,
        plugin: row.plugin,
        database: row.database,
        temporary: row.temporary,
        active: row.active,
        activePid: row.active_pid,
        applicationName: row.application_name || null,
        walStatus: row.wal_status,
        retainedBytes: row.retained === null ? null : Math.max(0, Number(row.retained)),
        confirmedLagBytes: row.lag === null ? null : Math.max(0, Number(row.lag)),
        ficus: row.here ? publications.length > 0 : null,
        publications: row.here ? publications : [],
      };
    });
  });
}

/** What {@link dropCdcResources} is to drop. */
export interface DropCdcResourcesOptions {
  /** The slot's database: logical slots can only be dropped while connected to it. */
  readonly databaseUrl: string;
  readonly slot: string;
  /** Drop only this one of the slot's ficus-marked publications (default: every one of them). */
  readonly publication?: string | undefined;
  /** Drop the slot even though no ficus-marked publication names it; its publications stay. */
  readonly force?: boolean | undefined;
  /**
   * The connector's offsets file, deleted once the slot is gone. It must record this slot (a file
   * of another slot's connector is refused); a missing file is fine.
   */
  readonly offsetsFile?: string | undefined;
  readonly logger?: Logger | undefined;
}

/** What {@link dropCdcResources} dropped. */
export interface DroppedCdcResources {
  readonly slot: string;
  readonly database: string;
  /** False when the slot was dropped with `force` although it is not ficus's. */
  readonly ficus: boolean;
  readonly droppedPublications: readonly string[];
  /** Marked publications left in place, and why (another connector streams from it). */
  readonly keptPublications: readonly { readonly name: string; readonly reason: string }[];
  /** The offsets file deleted, or null (none given, or it did not exist). */
  readonly deletedOffsetsFile: string | null;
}

/**
 * Drops a ficus replication slot and the ficus-marked publications that belong to it (and, when
 * given, the connector's offsets file). Refuses with a {@link CdcSlotError}, having dropped nothing,
 * when the slot does not exist, is on another database, is not ficus's (unless `force`), or is
 * active. Whether it is active is decided by Postgres in the drop itself, so a connector that
 * starts meanwhile gets the same refusal rather than a dropped slot.
 */
export async function dropCdcResources(
  options: DropCdcResourcesOptions,
): Promise<DroppedCdcResources> {
  const logger = options.logger ?? createSilentLogger();
  const { slot } = options;
  const client = await connectToSource(options.databaseUrl, (error) =>
    logger.debug({ err: error }, 'database connection error'),
  );
  try {
    const database = (await client.query<{ db: string }>('SELECT current_database() AS db'))
      .rows[0]!.db;
    const { rows } = await client.query<{ slot_type: string; database: string | null }>(
      'SELECT slot_type, database FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const row = rows[0];
    if (!row) throw await slotNotFound(client, slot);
    if (row.slot_type !== 'logical') {
      throw new CdcSlotError(
        'FICUS_CDC_SLOT_NOT_LOGICAL',
        slot,
        `replication slot '${slot}' is a ${row.slot_type} slot (a standby's, not CDC's); ficus drops logical slots only`,
      );
    }
    if (row.database !== database) {
      throw new CdcSlotError(
        'FICUS_CDC_SLOT_OTHER_DATABASE',
        slot,
        `replication slot '${slot}' belongs to database '${row.database}', not '${database}': a logical slot is dropped while connected to its own database, so run this again with a --database-url for database '${row.database}'`,
      );
    }
    const owned = (await markedPublications(client)).get(slot) ?? [];
    if (owned.length === 0 && !options.force) {
      throw new CdcSlotError(
        'FICUS_CDC_SLOT_NOT_FICUS',
        slot,
        `replication slot '${slot}' was not created by ficus (no publication in '${database}' is marked 'ficus:slot=${slot}'); if nothing uses it, pass --force to drop the slot (its publications stay)`,
      );
    }
    if (options.publication !== undefined && !owned.includes(options.publication)) {
      throw new CdcSlotError(
        'FICUS_CDC_PUBLICATION_NOT_FICUS',
        slot,
        `publication '${options.publication}' is not marked as ficus's for slot '${slot}'${owned.length > 0 ? ` (its publications: ${owned.join(', ')})` : ''}; ficus drops only publications it created`,
      );
    }
    const offsetsFile = options.offsetsFile;
    const offsets = offsetsFile === undefined ? undefined : await readOffsets(offsetsFile);
    if (offsetsFile !== undefined && offsets && offsets.slot !== slot) {
      throw new CdcSlotError(
        'FICUS_CDC_OFFSETS_OTHER_SLOT',
        slot,
        `offsets file ${offsetsFile} belongs to slot '${offsets.slot}', not '${slot}'; leave out --offsets-file or name the file of this slot's connector`,
      );
    }

    await client.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(async (error) => {
      throw await translateDropError(client, slot, error);
    });
    logger.info({ slot, database }, 'dropped replication slot');

    const droppedPublications: string[] = [];
    const keptPublications: { name: string; reason: string }[] = [];
    const streaming = await walsenderPublications(client);
    for (const name of owned) {
      if (options.publication !== undefined && name !== options.publication) continue;
      const users = streaming.filter((sender) => sender.publications.includes(name));
      if (users.length > 0) {
        keptPublications.push({
          name,
          reason: `still streamed by ${users.map(describeBackend).join(', ')}`,
        });
        continue;
      }
      if (await dropMarkedPublication(client, name, slot)) {
        droppedPublications.push(name);
        logger.info({ publication: name, slot }, 'dropped publication');
      }
    }

    let deletedOffsetsFile: string | null = null;
    if (offsetsFile !== undefined && offsets) {
      await rm(offsetsFile, { force: true });
      deletedOffsetsFile = offsetsFile;
    }
    return {
      slot,
      database,
      ficus: owned.length > 0,
      droppedPublications,
      keptPublications,
      deletedOffsetsFile,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Publication names by the slot their ficus marker names, in the connection's database. */
async function markedPublications(db: Queryable): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ name: string; comment: string | null }>(
    `SELECT pubname AS name, obj_description(oid, 'pg_publication') AS comment
       FROM pg_publication ORDER BY pubname`,
  );
  const bySlot = new Map<string, string[]>();
  for (const row of rows) {
    const slot = parsePublicationMarker(row.comment);
    if (slot !== undefined) bySlot.set(slot, [...(bySlot.get(slot) ?? []), row.name]);
  }
  return bySlot;
}

/** Drops `name` if it still carries the marker for `slot`, checked in the same transaction. */
async function dropMarkedPublication(
  client: pg.Client,
  name: string,
  slot: string,
): Promise<boolean> {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query<{ comment: string | null }>(
      `SELECT obj_description(oid, 'pg_publication') AS comment FROM pg_publication
        WHERE pubname = $1`,
      [name],
    );
    const marked = rows.length > 0 && parsePublicationMarker(rows[0]!.comment) === slot;
    if (marked) await client.query(`DROP PUBLICATION ${client.escapeIdentifier(name)}`);
    await client.query('COMMIT');
    return marked;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

interface Backend {
  readonly pid: number;
  readonly applicationName: string | null;
}

function describeBackend(backend: Backend): string {
  return backend.applicationName
    ? `pid ${backend.pid} (application '${backend.applicationName}')`
    : `pid ${backend.pid}`;
}

/**
 * The publications each walsender of this database streams, read from its START_REPLICATION
 * command in pg_stat_activity (visible to the same user, superusers and pg_read_all_stats).
 */
async function walsenderPublications(
  client: pg.Client,
): Promise<(Backend & { publications: string[] })[]> {
  const { rows } = await client.query<{
    pid: number;
    application_name: string | null;
    query: string | null;
  }>(
    `SELECT pid, application_name, query FROM pg_stat_activity
      WHERE backend_type = 'walsender' AND datname = current_database()`,
  );
  return rows.map((row) => {
    const list = /publication_names\s+E?'((?:[^']|'')*)'/i.exec(row.query ?? '')?.[1] ?? '';
    const publications = [...list.replaceAll("''", "'").matchAll(/"((?:[^"]|"")*)"|([^,\s]+)/g)]
      .map((match) => (match[1] !== undefined ? match[1].replaceAll('""', '"') : match[2]!))
      .filter(Boolean);
    return { pid: row.pid, applicationName: row.application_name || null, publications };
  });
}

async function slotNotFound(client: pg.Client, slot: string): Promise<CdcSlotError> {
  const { rows } = await client.query<{ name: string; database: string }>(
    "SELECT slot_name AS name, database FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY slot_name",
  );
  const existing =
    rows.length === 0
      ? 'there are no logical replication slots on this server'
      : `the logical slots are: ${rows.map((r) => `${r.name} (database ${r.database})`).join(', ')}`;
  return new CdcSlotError(
    'FICUS_CDC_SLOT_NOT_FOUND',
    slot,
    `replication slot '${slot}' does not exist; ${existing}`,
  );
}

/**
 * Postgres's own refusals to drop, as CdcSlotErrors: the slot became active (55006
 * object_in_use, "replication slot ... is active for PID ...") or vanished (42704).
 */
async function translateDropError(
  client: pg.Client,
  slot: string,
  error: unknown,
): Promise<unknown> {
  const code = (error as { code?: string }).code;
  if (code === '42704') return slotNotFound(client, slot);
  if (code !== '55006') return error;
  const { rows } = await client
    .query<{ pid: number | null; application_name: string | null }>(
      `SELECT s.active_pid AS pid, a.application_name FROM pg_replication_slots s
         LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.slot_name = $1`,
      [slot],
    )
    .catch(() => ({ rows: [] }));
  const fromMessage = /PID (\d+)/i.exec((error as Error).message)?.[1];
  const pid = rows[0]?.pid ?? (fromMessage === undefined ? null : Number(fromMessage));
  return slotActive(slot, pid, rows[0]?.application_name ?? null, error);
}

function slotActive(
  slot: string,
  pid: number | null,
  applicationName: string | null,
  cause?: unknown,
): CdcSlotError {
  const who = pid === null ? 'a running process' : describeBackend({ pid, applicationName });
  return new CdcSlotError(
    'FICUS_CDC_SLOT_ACTIVE',
    slot,
    `replication slot '${slot}' is active: ${who} is streaming from it; stop that connector first, then drop the slot`,
    cause,
  );
}

type Queryable = Pick<pg.ClientBase, 'query'>;

async function withQueryable<T>(source: SlotSource, run: (db: Queryable) => Promise<T>) {
  if (typeof source !== 'string') return run(source);
  const client = await connectToSource(source);
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** An inactive ficus slot that holds more WAL than the warning threshold. */
export interface InactiveSlotWarning {
  readonly slot: string;
  readonly database: string;
  readonly publications: readonly string[];
  readonly retainedBytes: number;
  readonly walStatus: string | null;
  /** The command that drops it and its publication. */
  readonly dropCommand: string;
}

/**
 * Inactive, permanent ficus slots on the connection's database (other than `exclude`) that retain
 * more than `thresholdBytes` of WAL: most likely connectors that were removed without dropping
 * their slot.
 */
export async function findInactiveSlots(
  source: SlotSource,
  options: { readonly thresholdBytes: number; readonly exclude?: string | undefined },
): Promise<InactiveSlotWarning[]> {
  const slots = await listSlots(source);
  return slots
    .filter(
      (slot) =>
        slot.ficus === true &&
        !slot.active &&
        !slot.temporary &&
        slot.name !== options.exclude &&
        slot.retainedBytes !== null &&
        slot.retainedBytes > options.thresholdBytes,
    )
    .map((slot) => ({
      slot: slot.name,
      database: slot.database,
      publications: slot.publications,
      retainedBytes: slot.retainedBytes!,
      walStatus: slot.walStatus,
      dropCommand: `ficus cdc drop-slot ${slot.name}`,
    }));
}
