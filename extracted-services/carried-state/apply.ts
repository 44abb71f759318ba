/**
 * The carried-state helper: applies CDC change records to a service's local copy of monolith
 * tables, idempotently and in source order, in one local transaction per batch.
 *
 * For each row the helper remembers the position of the last event it reflects (a delete keeps
 * its position as a tombstone; a truncate keeps one per table). An event at or before that
 * position is skipped, so duplicates after a crash, replays from the start and snapshot reads that
 * arrive after a later change all end in the same state.
 */
import type { Knex } from 'knex';
import { createSilentLogger, type Logger } from '../../common/index.js';
import {
  isChangeEventValue,
  withoutConnectSchemas,
  type ChangeEventValue,
  type ChangeRecord,
  type JsonValue,
  type Op,
} from '../../cdc/index.js';
import {
  compileMapping,
  type CompiledMapping,
  type LocalRow,
  type TableMapping,
} from './mapping.js';
import {
  basePosition,
  comparePositions,
  decodePosition,
  encodePosition,
  maxPosition,
  ORIGIN,
  type Position,
} from './position.js';

/** Bookkeeping table: per local row, the position it reflects (`deleted` for a delete). */
export const POSITIONS_TABLE = 'carried_positions';
/** Bookkeeping table: per consumer, the highest position it has applied. */
export const PROGRESS_TABLE = 'carried_progress';
/** Advisory lock key that serialises applies on one database ("ficus carried" in ASCII). */
const APPLY_LOCK = 0x6669637573636172n.toString();
/** `key_json` of a table's truncate marker (row keys are JSON arrays, so it cannot clash). */
const TRUNCATE_KEY = '*';

export interface CarriedStateOptions {
  readonly db: Knex;
  readonly mappings: readonly TableMapping[];
  readonly logger?: Logger;
}

export interface ApplyOptions {
  /** Records this consumer's progress in the same transaction. */
  readonly consumer?: string;
  /**
   * Reacts to the batch inside its local transaction: what it writes through `trx` commits with
   * the carried rows and the consumer's progress, or not at all (throw to roll the batch back).
   * Called once per batch that applied at least one change, after the last one, with the
   * applied changes in batch order; duplicates, replays and stale events never reach it, so a
   * reaction happens once per source change relative to the service's own state.
   */
  readonly onApplied?: OnApplied;
}

/** See {@link ApplyOptions.onApplied}. */
export type OnApplied = (
  trx: Knex.Transaction,
  changes: readonly AppliedChange[],
) => Promise<void> | void;

/** A change event the helper applied to a local table, as `onApplied` sees it. */
export interface AppliedChange {
  /** The mapping's source table, `schema.table`. */
  readonly source: string;
  /** The local table it was applied to. */
  readonly table: string;
  readonly op: Op;
  /** The local key columns and values; null for a truncate. */
  readonly key: LocalRow | null;
  /**
   * The local row as written (mapped, projected, unchanged TOAST values filled in from the
   * stored row); null for a delete or a truncate.
   */
  readonly row: LocalRow | null;
  /**
   * The event's `before` in local column names (not projected), or null when it has none. With
   * REPLICA IDENTITY DEFAULT an update has none and a delete's holds the key; its other columns
   * are null, or Debezium's fallback for their type (`""`, `0`, `false` …) when NOT NULL, never the
   * deleted row's values.
   */
  readonly before: LocalRow | null;
  readonly position: Position;
  /** The change event, and the record that carried it (topic, key, headers). */
  readonly event: ChangeEventValue;
  readonly record: ChangeRecord;
}

/** What one `apply` did with the change events on mapped tables. */
export interface ApplyResult {
  readonly applied: number;
  /** Events the local copy already reflected (duplicates, replays, late snapshot reads). */
  readonly skipped: number;
}

/** How far behind the source the local copy is. */
export interface CarriedLag {
  readonly eventsApplied: number;
  readonly lastPosition: Position | null;
  /** Now minus the commit time (`source.ts_ms`) of the last applied event; null before any. */
  readonly millisBehindSource: number | null;
}

export interface CarriedState {
  /** Creates the bookkeeping tables (the local tables are the service's own migrations). */
  migrate(): Promise<void>;
  apply(records: readonly ChangeRecord[], options?: ApplyOptions): Promise<ApplyResult>;
  /** The highest position `consumer` has committed, or null when it has applied nothing. */
  progress(consumer: string): Promise<Position | null>;
  lag(now?: number): CarriedLag;
}

interface Event {
  readonly value: ChangeEventValue;
  readonly key: ChangeRecord['key'];
  readonly position: Position;
  readonly record: ChangeRecord;
}

interface PositionRow {
  local_table: string;
  key_json: string;
  position: string;
  deleted: boolean;
}

interface RowState {
  position: Position;
  deleted: boolean;
}

/** A row write decided by an apply, not yet sent: `row` null is a delete. */
interface PlannedWrite {
  readonly mapping: CompiledMapping;
  readonly key: readonly JsonValue[];
  readonly row: LocalRow | null;
}

/** Creates the helper for `mappings`, storing into `db`. */
export function createCarriedState(options: CarriedStateOptions): CarriedState {
  const { db } = options;
  const logger = options.logger ?? createSilentLogger();
  const mappings = options.mappings.map(compileMapping);
  const bySource = new Map<string, CompiledMapping[]>();
  for (const mapping of mappings)
    bySource.set(mapping.source, [...(bySource.get(mapping.source) ?? []), mapping]);
  let eventsApplied = 0;
  let lastPosition: Position | null = null;
  let lastSourceMs: number | null = null;

  async function migrate(): Promise<void> {
    await db.raw(`
      CREATE TABLE IF NOT EXISTS ${POSITIONS_TABLE} (
        local_table text NOT NULL,
        key_json text NOT NULL,
        position text COLLATE "C" NOT NULL,
        deleted boolean NOT NULL,
        PRIMARY KEY (local_table, key_json)
      )`);
    await db.raw(`
      CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (
        consumer text PRIMARY KEY,
        position text COLLATE "C" NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async function apply(
    records: readonly ChangeRecord[],
    applyOptions: ApplyOptions = {},
  ): Promise<ApplyResult> {
    const events = positionEvents(records);
    if (events.length === 0) return { applied: 0, skipped: 0 };
    const work = events.flatMap((event) =>
      (bySource.get(`${event.value.source.schema}.${event.value.source.table}`) ?? []).map(
        (mapping) => ({ event, mapping }),
      ),
    );
    const highest = events.map((e) => e.position).reduce(maxPosition);
    let applied = 0;
    let skipped = 0;
    let lastApplied: Event | undefined;
    const { onApplied } = applyOptions;
    const changes: AppliedChange[] = [];

    await db.transaction(async (trx) => {
      // One apply at a time per database, across processes: an applier that read a row's
      // position must not write after another committed a newer event for it (a consumer still
      // finishing a batch after a rebalance handed its partitions on, for one).
      await trx.raw('SELECT pg_advisory_xact_lock(?)', [APPLY_LOCK]);
      const rows = await loadStates(trx, work);
      const stateOf = (table: string, keyJson: string) => rows.get(stateKey(table, keyJson));
      // Writes are planned in memory and flushed in bulk (before a truncate, and at the end).
      let plan: PlannedWrite[] = [];
      const planned = new Map<string, PlannedWrite>();
      const positions = new Map<string, { table: string; keyJson: string; state: RowState }>();
      const remember = (table: string, keyJson: string, state: RowState) => {
        rows.set(stateKey(table, keyJson), state);
        positions.set(stateKey(table, keyJson), { table, keyJson, state });
      };
      const flush = async () => {
        await writePlan(trx, plan);
        await writePositions(trx, [...positions.values()]);
        plan = [];
        planned.clear();
        positions.clear();
      };

      for (const { event, mapping } of work) {
        const { value, position } = event;
        const truncatedAt = stateOf(mapping.table, TRUNCATE_KEY)?.position ?? ORIGIN;
        if (value.op === 't') {
          if (comparePositions(position, truncatedAt) <= 0) {
            skipped++;
            continue;
          }
          await flush();
          await truncate(trx, mapping, position);
          for (const key of [...rows.keys()])
            if (
              key.startsWith(stateKey(mapping.table, '')) &&
              comparePositions(rows.get(key)!.position, position) < 0
            )
              rows.delete(key);
          remember(mapping.table, TRUNCATE_KEY, { position, deleted: true });
          if (onApplied) changes.push(appliedChange(event, mapping, null, null));
        } else {
          const row = value.op === 'd' ? value.before : value.after;
          const key = mapping.keyOf(row, event.key);
          if (key === null) {
            logger.warn(
              { table: mapping.source, op: value.op, sequence: value.source.sequence },
              'change event without key values; skipped',
            );
            skipped++;
            continue;
          }
          const keyJson = JSON.stringify(key);
          const reflected = maxPosition(
            stateOf(mapping.table, keyJson)?.position ?? ORIGIN,
            truncatedAt,
          );
          if (comparePositions(position, reflected) <= 0) {
            skipped++;
            continue;
          }
          let written: LocalRow | null = null;
          const slot = stateKey(mapping.table, keyJson);
          if (value.op === 'd') {
            const write: PlannedWrite = { mapping, key, row: null };
            plan.push(write);
            planned.set(slot, write);
          } else {
            written = await planUpsert(trx, mapping, key, row ?? {}, planned.get(slot));
            if (written === null) {
              // Unchanged TOAST values of a row the copy lacks: writing it would invent them.
              // The position is kept all the same, so older events cannot bring back a stale row;
              // the row stays missing (reconciliation lists it) until a full row arrives.
              remember(mapping.table, keyJson, { position, deleted: false });
              skipped++;
              continue;
            }
            const write: PlannedWrite = { mapping, key, row: written };
            plan.push(write);
            planned.set(slot, write);
          }
          remember(mapping.table, keyJson, { position, deleted: value.op === 'd' });
          if (onApplied) changes.push(appliedChange(event, mapping, key, written));
        }
        applied++;
        if (!lastApplied || comparePositions(position, lastApplied.position) > 0)
          lastApplied = event;
      }

      await flush();
      if (onApplied && changes.length > 0) await onApplied(trx, changes);
      if (applyOptions.consumer !== undefined)
        await trx.raw(
          `INSERT INTO ${PROGRESS_TABLE} (consumer, position) VALUES (?, ?)
           ON CONFLICT (consumer) DO UPDATE
           SET position = GREATEST(${PROGRESS_TABLE}.position, excluded.position), updated_at = now()`,
          [applyOptions.consumer, encodePosition(highest)],
        );
    });

    eventsApplied += applied;
    if (
      lastApplied &&
      (!lastPosition || comparePositions(lastApplied.position, lastPosition) > 0)
    ) {
      lastPosition = lastApplied.position;
      lastSourceMs = lastApplied.value.source.ts_ms;
    }
    logger.debug({ applied, skipped, consumer: applyOptions.consumer }, 'carried-state batch');
    return { applied, skipped };
  }

  /**
   * The mapped row as it will be written; columns Postgres did not send (TOAST) keep their value:
   * from an earlier write to the same row in this batch, else from the local table. Null when
   * the row is in neither: its unsent values are unknown, so it is not written.
   */
  async function planUpsert(
    trx: Knex.Transaction,
    mapping: CompiledMapping,
    key: readonly JsonValue[],
    source: NonNullable<ChangeEventValue['after']>,
    earlier: PlannedWrite | undefined,
  ): Promise<LocalRow | null> {
    const { row, unavailable } = mapping.toLocal(source);
    if (unavailable.length > 0) {
      const existing =
        earlier !== undefined
          ? (earlier.row ?? undefined)
          : ((await trx(mapping.table).select(unavailable).where(mapping.localKey(key)).first()) as
              Record<string, unknown> | undefined);
      if (!existing) {
        logger.warn(
          { table: mapping.source, key, columns: unavailable },
          'a change without its unchanged TOAST values for a row the copy lacks: left out until ' +
            'a full row arrives (REPLICA IDENTITY FULL on the source, or an incremental snapshot)',
        );
        return null;
      }
      for (const column of unavailable) row[column] = existing[column];
    }
    return { ...mapping.project(row), ...mapping.localKey(key) };
  }

  /**
   * Writes the planned rows: the last write of each row, deletes first, then upserts in
   * multi-row statements. Reordering writes can trip a unique or foreign-key constraint the
   * local table has (two rows swapping a unique value); then the batch is written again one
   * write at a time, in source order, inside a savepoint-protected retry.
   */
  async function writePlan(trx: Knex.Transaction, plan: readonly PlannedWrite[]): Promise<void> {
    if (plan.length === 0) return;
    const last = new Map<string, PlannedWrite>();
    // A row deleted and written again in one batch is deleted first, as one-by-one would, so
    // local columns the mapping does not write start from their defaults again.
    const recreated: PlannedWrite[] = [];
    for (const write of plan) {
      const slot = stateKey(write.mapping.table, JSON.stringify(write.key));
      if (write.row !== null && last.get(slot)?.row === null)
        recreated.push({ ...write, row: null });
      last.set(slot, write);
    }
    try {
      await trx.transaction(async (savepoint) => {
        await writeInBulk(savepoint, recreated);
        await writeInBulk(savepoint, [...last.values()]);
      });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== '23505' && code !== '23503') throw error;
      logger.debug({ code }, 'bulk write tripped a constraint; writing in source order');
      for (const write of plan) await writeOne(trx, write);
    }
  }

  async function writeInBulk(trx: Knex.Transaction, writes: readonly PlannedWrite[]) {
    const deletes = new Map<CompiledMapping, LocalRow[]>();
    const upserts = new Map<string, { mapping: CompiledMapping; rows: LocalRow[] }>();
    for (const write of writes) {
      if (write.row === null) {
        const list = deletes.get(write.mapping) ?? [];
        list.push(write.mapping.localKey(write.key));
        deletes.set(write.mapping, list);
      } else {
        // One statement per table and column set (a projection may add columns to some rows).
        const shape = `${write.mapping.table}\u0000${Object.keys(write.row).sort().join(',')}`;
        const group = upserts.get(shape) ?? { mapping: write.mapping, rows: [] };
        group.rows.push(write.row);
        upserts.set(shape, group);
      }
    }
    for (const [mapping, keys] of deletes) {
      const columns = [...mapping.localKeyColumns];
      for (let i = 0; i < keys.length; i += 1000)
        await trx(mapping.table)
          .whereIn(
            columns,
            keys.slice(i, i + 1000).map((key) => columns.map((c) => key[c]) as Knex.Value[]),
          )
          .del();
    }
    for (const { mapping, rows } of upserts.values()) {
      const columns = Object.keys(rows[0]!);
      const perStatement = Math.max(1, Math.floor(30_000 / columns.length));
      for (let i = 0; i < rows.length; i += perStatement)
        await upsertRows(trx, mapping, rows.slice(i, i + perStatement));
    }
  }

  async function writeOne(trx: Knex.Transaction, write: PlannedWrite): Promise<void> {
    if (write.row === null)
      await trx(write.mapping.table).where(write.mapping.localKey(write.key)).del();
    else await upsertRows(trx, write.mapping, [write.row]);
  }

  async function upsertRows(
    trx: Knex.Transaction,
    mapping: CompiledMapping,
    rows: readonly LocalRow[],
  ): Promise<void> {
    const updates = Object.keys(rows[0]!).filter((c) => !mapping.localKeyColumns.includes(c));
    const insert = trx(mapping.table)
      .insert(rows)
      .onConflict([...mapping.localKeyColumns]);
    await (updates.length > 0 ? insert.merge(updates) : insert.ignore());
  }

  async function writePositions(
    trx: Knex.Transaction,
    entries: readonly { table: string; keyJson: string; state: RowState }[],
  ): Promise<void> {
    for (let i = 0; i < entries.length; i += 5000)
      await trx(POSITIONS_TABLE)
        .insert(
          entries.slice(i, i + 5000).map(({ table, keyJson, state }) => ({
            local_table: table,
            key_json: keyJson,
            position: encodePosition(state.position),
            deleted: state.deleted,
          })),
        )
        .onConflict(['local_table', 'key_json'])
        .merge(['position', 'deleted']);
  }

  /** Removes every row the truncate saw (rows set by later events stay). */
  async function truncate(
    trx: Knex.Transaction,
    mapping: CompiledMapping,
    position: Position,
  ): Promise<void> {
    const encoded = encodePosition(position);
    const newer = await trx(POSITIONS_TABLE)
      .where({ local_table: mapping.table })
      .whereNot({ key_json: TRUNCATE_KEY })
      .where('position', '>', encoded)
      .first<{ key_json: string } | undefined>('key_json');
    if (!newer) {
      await trx(mapping.table).del();
    } else {
      const older = await trx(POSITIONS_TABLE)
        .where({ local_table: mapping.table, deleted: false })
        .whereNot({ key_json: TRUNCATE_KEY })
        .where('position', '<', encoded)
        .select<{ key_json: string }[]>('key_json');
      for (const { key_json } of older)
        await trx(mapping.table)
          .where(mapping.localKey(JSON.parse(key_json) as JsonValue[]))
          .del();
    }
    await trx(POSITIONS_TABLE)
      .where({ local_table: mapping.table })
      .whereNot({ key_json: TRUNCATE_KEY })
      .where('position', '<', encoded)
      .del();
  }

  async function loadStates(
    trx: Knex.Transaction,
    work: readonly { event: Event; mapping: CompiledMapping }[],
  ): Promise<Map<string, RowState>> {
    const wanted = new Map<string, [string, string]>();
    for (const { event, mapping } of work) {
      wanted.set(stateKey(mapping.table, TRUNCATE_KEY), [mapping.table, TRUNCATE_KEY]);
      const row = event.value.op === 'd' ? event.value.before : event.value.after;
      const key = event.value.op === 't' ? null : mapping.keyOf(row, event.key);
      if (key !== null) {
        const keyJson = JSON.stringify(key);
        wanted.set(stateKey(mapping.table, keyJson), [mapping.table, keyJson]);
      }
    }
    const states = new Map<string, RowState>();
    const pairs = [...wanted.values()];
    for (let i = 0; i < pairs.length; i += 5000) {
      const found = await trx(POSITIONS_TABLE)
        .whereIn(['local_table', 'key_json'], pairs.slice(i, i + 5000))
        .select<PositionRow[]>('local_table', 'key_json', 'position', 'deleted');
      for (const row of found)
        states.set(stateKey(row.local_table, row.key_json), {
          position: decodePosition(row.position),
          deleted: row.deleted,
        });
    }
    return states;
  }

  async function progress(consumer: string): Promise<Position | null> {
    const row = await db(PROGRESS_TABLE)
      .where({ consumer })
      .first<{ position: string } | undefined>('position');
    return row ? decodePosition(row.position) : null;
  }

  function lag(now = Date.now()): CarriedLag {
    return {
      eventsApplied,
      lastPosition,
      millisBehindSource: lastSourceMs === null ? null : Math.max(0, now - lastSourceMs),
    };
  }

  return { migrate, apply, progress, lag };
}

/**
 * The change events of a batch with their positions. Snapshot reads all sit at the snapshot's
 * position (index 0: their keys tell them apart, and a read never follows another read of the same
 * row). Other events that share `(commit, lsn)` and carry no `transaction.total_order` are told
 * apart by their order in the batch; copies of one event (same topic, key and op) get the same
 * index, so a duplicate is recognised as one. Records written with `schemasEnable`
 * (`{"schema","payload"}` keys and values) are read as their payloads.
 */
function positionEvents(records: readonly ChangeRecord[]): Event[] {
  const seen = new Map<string, Map<string, number>>();
  const events: Event[] = [];
  for (const received of records) {
    const record = withoutConnectSchemas(received);
    const { value } = record;
    if (!isChangeEventValue(value)) continue;
    const base = basePosition(value);
    let index = value.op === 'r' ? 0 : value.transaction?.total_order;
    if (index === undefined) {
      const identity = JSON.stringify([
        record.topic,
        record.key ?? value.after ?? value.before,
        value.op,
      ]);
      const slot = `${base.commit}/${base.lsn}`;
      let identities = seen.get(slot);
      if (!identities) seen.set(slot, (identities = new Map<string, number>()));
      index = identities.get(identity);
      if (index === undefined) {
        index = identities.size;
        identities.set(identity, index);
      }
    }

    events.push({ value, key: record.key, position: { ...base, index }, record });
  }
  return events;
}

function appliedChange(
  event: Event,
  mapping: CompiledMapping,
  key: readonly JsonValue[] | null,
  row: LocalRow | null,
): AppliedChange {
  const { value } = event;
  return {
    source: mapping.source,
    table: mapping.table,
    op: value.op,
    key: key === null ? null : mapping.localKey(key),
    row,
    before: value.before === null ? null : mapping.toLocal(value.before).row,
    position: event.position,
    event: value,
    record: event.record,
  };
}

function stateKey(table: string, keyJson: string): string {
  return `${table}\u0000${keyJson}`;
}
