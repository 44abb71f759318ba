/**
 * Reconciliation: compares each carried table with its source table, row by row, and lists the
 * rows that differ. Users run it before they switch a route to `new`.
 *
 * Both sides are read in key order, a page per read-only transaction, with the same session
 * settings (UTC, ISO dates, shortest exact floats, hex bytea), each kept column rendered as
 * Postgres text, and each
 * row reduced to the md5 of those texts in mapping order. So a local column must have the same
 * type as its source column (or one that prints the same) to compare equal.
 *
 * A live system keeps changing while it is compared: a row the service has not applied yet shows
 * up as different. Differences are therefore checked again, for a short settling time, and only
 * those that persist are reported.
 */
import type { Knex } from 'knex';
import { compileMapping, type CompiledMapping, type TableMapping } from '../carried-state/index.js';

/** One row that differs between the source and the carried copy. */
export interface RowDifference {
  /** The row's key, source column names to their text values. */
  readonly key: Readonly<Record<string, string>>;
  /** `missing`: in the source only; `extra`: in the copy only; `different`: in both, unequal. */
  readonly kind: 'missing' | 'extra' | 'different';
}

/** The comparison of one carried table. */
export interface TableReconciliation {
  readonly table: string;
  readonly source: string;
  readonly sourceRows: number;
  readonly carriedRows: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  readonly inSync: boolean;
  /** The differing rows (at most `limit` of them). */
  readonly differences: readonly RowDifference[];
}

/** A whole reconciliation run. */
export interface Reconciliation {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly inSync: boolean;
  readonly tables: readonly TableReconciliation[];
}

/** Options of {@link reconcile}. */
export interface ReconcileOptions {
  /** The monolith's database. */
  readonly sourceDb: Knex;
  /** The service's own database. */
  readonly db: Knex;
  readonly mappings: readonly TableMapping[];
  /** How long differences may take to disappear before they count (default 3000 ms). */
  readonly settleMs?: number;
  /** Most differences listed per table (default 100); the counts are always complete. */
  readonly limit?: number;
  /** Rows read per query (default 10 000). */
  readonly pageSize?: number;
}

type Side = 'source' | 'local';

/** Compares every mapping's carried table with its source. */
export async function reconcile(options: ReconcileOptions): Promise<Reconciliation> {
  const started = Date.now();
  const tables: TableReconciliation[] = [];
  for (const mapping of options.mappings.map(compileMapping))
    tables.push(await reconcileTable(mapping, options));
  const finished = Date.now();
  return {
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    inSync: tables.every((t) => t.inSync),
    tables,
  };
}

async function reconcileTable(
  mapping: CompiledMapping,
  options: ReconcileOptions,
): Promise<TableReconciliation> {
  const pageSize = options.pageSize ?? 10_000;
  const limit = options.limit ?? 100;
  const sourceHashes = await readHashes(options.sourceDb, mapping, 'source', pageSize);
  const localHashes = await readHashes(options.db, mapping, 'local', pageSize);

  let differing = new Map<string, RowDifference['kind']>();
  for (const [key, hash] of sourceHashes) {
    const local = localHashes.get(key);
    if (local === undefined) differing.set(key, 'missing');
    else if (local !== hash) differing.set(key, 'different');
  }
  for (const key of localHashes.keys()) if (!sourceHashes.has(key)) differing.set(key, 'extra');

  let sourceRows = sourceHashes.size;
  let carriedRows = localHashes.size;
  const deadline = Date.now() + (options.settleMs ?? 3_000);
  while (differing.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const keys = [...differing.keys()];
    const [source, local] = await Promise.all([
      readHashesOf(options.sourceDb, mapping, 'source', keys),
      readHashesOf(options.db, mapping, 'local', keys),
    ]);
    const still = new Map<string, RowDifference['kind']>();
    for (const key of keys) {
      const s = source.get(key);
      const l = local.get(key);
      // Rows that appeared or disappeared since the first read change the counts too.
      if (sourceHashes.has(key) !== (s !== undefined)) sourceRows += s === undefined ? -1 : 1;
      if (localHashes.has(key) !== (l !== undefined)) carriedRows += l === undefined ? -1 : 1;
      if (s === undefined) sourceHashes.delete(key);
      else sourceHashes.set(key, s);
      if (l === undefined) localHashes.delete(key);
      else localHashes.set(key, l);
      if (s !== undefined && l === undefined) still.set(key, 'missing');
      else if (s === undefined && l !== undefined) still.set(key, 'extra');
      else if (s !== l) still.set(key, 'different');
    }
    differing = still;
  }

  const count = (kind: RowDifference['kind']) =>
    [...differing.values()].filter((k) => k === kind).length;
  const keyNames = mapping.columns.slice(0, mapping.localKeyColumns.length).map((c) => c.source);
  return {
    table: mapping.table,
    source: mapping.source,
    sourceRows,
    carriedRows,
    missing: count('missing'),
    extra: count('extra'),
    different: count('different'),
    inSync: differing.size === 0,
    differences: [...differing].slice(0, limit).map(([key, kind]) => ({
      key: Object.fromEntries(
        (JSON.parse(key) as string[]).map((value, i) => [keyNames[i] ?? `key${i}`, value]),
      ),
      kind,
    })),
  };
}

/** The row hashes of a whole table, keyed by the JSON array of the key's text values. */
async function readHashes(
  db: Knex,
  mapping: CompiledMapping,
  side: Side,
  pageSize: number,
): Promise<Map<string, string>> {
  const { table, keys, select } = sqlParts(db, mapping, side);
  const hashes = new Map<string, string>();
  let after: Knex.RawBinding[] | undefined;
  for (;;) {
    const rows = await inSnapshot(db, async (trx) => {
      const where = after ? `WHERE (${keys.join(', ')}) > (${keys.map(() => '?').join(', ')})` : '';
      const result = await trx.raw<{ rows: Record<string, unknown>[] }>(
        `SELECT ${keys.map((k, i) => `${k} AS k${i}`).join(', ')}, ${select}
         FROM ${table} ${where} ORDER BY ${keys.join(', ')} LIMIT ${pageSize}`,
        after ?? [],
      );
      return result.rows;
    });
    for (const row of rows) hashes.set(row.key as string, row.hash as string);
    const last = rows.at(-1);
    if (!last || rows.length < pageSize) return hashes;
    after = keys.map((_, i) => last[`k${i}`] as Knex.RawBinding);
  }
}

/** The row hashes of the given keys only (the keys' texts, read back as the key types: indexed). */
async function readHashesOf(
  db: Knex,
  mapping: CompiledMapping,
  side: Side,
  keysJson: readonly string[],
): Promise<Map<string, string>> {
  const { table, keys, select } = sqlParts(db, mapping, side);
  const hashes = new Map<string, string>();
  for (let i = 0; i < keysJson.length; i += 1000) {
    const slice = keysJson.slice(i, i + 1000).map((k) => JSON.parse(k) as string[]);
    const rows = await inSnapshot(db, async (trx) => {
      const result = await trx.raw<{ rows: Record<string, unknown>[] }>(
        `SELECT ${select} FROM ${table}
         WHERE (${keys.join(', ')}) IN (${slice
           .map((key) => `(${key.map(() => '?').join(', ')})`)
           .join(', ')})`,
        slice.flat(),
      );
      return result.rows;
    });
    for (const row of rows) hashes.set(row.key as string, row.hash as string);
  }
  return hashes;
}

function sqlParts(
  db: Knex,
  mapping: CompiledMapping,
  side: Side,
): { table: string; keys: string[]; select: string } {
  const quote = (name: string) => db.raw('??', [name]).toQuery();
  const names = mapping.columns.map((c) => quote(side === 'source' ? c.source : c.local));
  const keys = names.slice(0, mapping.localKeyColumns.length);
  const table =
    side === 'source' ? mapping.source.split('.').map(quote).join('.') : quote(mapping.table);
  const select =
    `json_build_array(${keys.map((k) => `${k}::text`).join(', ')})::text AS key, ` +
    `md5(json_build_array(${names.map((n) => `${n}::text`).join(', ')})::text) AS hash`;
  return { table, keys, select };
}

/** Runs `work` read-only in a repeatable-read transaction with fixed output settings. */
function inSnapshot<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(
    async (trx) => {
      await trx.raw(
        "SET LOCAL TIME ZONE 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; " +
          "SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; " +
          "SET LOCAL bytea_output = 'hex'",
      );
      return work(trx);
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}
