/**
 * Where a change event sits in the source's commit order, and how two of them compare.
 *
 * The contract (cdc/README.md, "Delivery and positions"): `source.sequence` is
 * `[last commit LSN, this event's LSN]`, and within one run `(sequence[0], lsn)` increases with
 * commit order. Change LSNs alone do not: Postgres interleaves concurrent transactions in the WAL,
 * so a transaction that commits later can hold changes at lower LSNs than one that committed first.
 * `sequence[0]` (the end of the previous commit) orders transactions; `lsn` orders the changes
 * inside one.
 *
 * Snapshot reads carry `[null, consistentPoint]`: they show the rows as of the slot's consistent
 * point, and the first streamed transaction has `sequence[0] = consistentPoint`. So a read is
 * placed at `(consistentPoint, 0)`: after every transaction that committed before the snapshot and
 * before every streamed change after it.
 *
 * Incremental snapshot reads (`source.snapshot: "incremental"`) carry
 * `[last commit LSN, LSN of the close watermark]`, like a change inside the watermark's own
 * transaction: after every change that committed before the watermark and before every later one.
 * A key a streamed change touched while its chunk was read is left out of the chunk, so a read
 * never hides a change.
 *
 *     commit ─────────────┬────────────── lsn ──┬─ index
 *     sequence[0]         │  source.lsn         │  transaction.total_order, else the event's
 *     (read: source.lsn)  │  (read: 0)          │  ordinal among distinct events of the batch
 *                         │                     │  that share (commit, lsn)
 *
 * Reference: https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-meta-information
 */
import type { ChangeEventValue } from '../../cdc/index.js';

/** A total order over change events: compare `commit`, then `lsn`, then `index`. */
export interface Position {
  readonly commit: bigint;
  readonly lsn: bigint;
  readonly index: number;
}

/** The position before every event. */
export const ORIGIN: Position = Object.freeze({ commit: 0n, lsn: 0n, index: 0 });

/** The `(commit, lsn)` part of an event's position; the tie-breaking index is the caller's. */
export function basePosition(value: ChangeEventValue): { commit: bigint; lsn: bigint } {
  const [lastCommit, current] = parseSequence(value.source.sequence);
  const lsn = current ?? (value.source.lsn === null ? 0n : BigInt(value.source.lsn));
  if (lastCommit === null) {
    // An initial snapshot read (or Debezium's first transaction after a start): the state as of
    // `lsn`. Incremental reads have a last commit and fall through to the general case.
    return value.op === 'r' ? { commit: lsn, lsn: 0n } : { commit: lsn, lsn };
  }
  return { commit: lastCommit, lsn };
}

/** Negative when `a` comes first, positive when `b` does, 0 when they are the same position. */
export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.lsn !== b.lsn) return a.lsn < b.lsn ? -1 : 1;
  return a.index - b.index;
}

/** The later of two positions. */
export function maxPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}

/**
 * Fixed-width text that sorts like the position (`<commit>/<lsn>/<index>`, zero-padded hex), so
 * Postgres can compare stored positions with plain text ordering.
 */
export function encodePosition(position: Position): string {
  return [
    position.commit.toString(16).padStart(16, '0'),
    position.lsn.toString(16).padStart(16, '0'),
    position.index.toString(16).padStart(8, '0'),
  ].join('/');
}

/** Reads back what `encodePosition` wrote. */
export function decodePosition(text: string): Position {
  const [commit, lsn, index] = text.split('/');
  if (commit === undefined || lsn === undefined || index === undefined)
    throw new TypeError(`not an encoded position: ${JSON.stringify(text)}`);
  return { commit: BigInt(`0x${commit}`), lsn: BigInt(`0x${lsn}`), index: parseInt(index, 16) };
}

function parseSequence(sequence: string): [bigint | null, bigint | null] {
  const parsed: unknown = JSON.parse(sequence);
  if (!Array.isArray(parsed)) return [null, null];
  const asLsn = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? BigInt(v) : null);
  return [asLsn(parsed[0]), asLsn(parsed[1])];
}
