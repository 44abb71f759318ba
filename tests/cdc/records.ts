/**
 * Assertions over collected change records: byte-for-byte JSON comparison (key order included,
 * as a consumer diffing Kafka messages sees it) and the `source` block a streamed change must
 * carry.
 */
import { expect } from 'vitest';
import {
  isChangeEventValue,
  stringifyJson,
  type ChangeEventValue,
  type ChangeRecord,
  type SourceInfo,
} from '../../cdc/index.js';
import type { TestConnector } from './harness.js';
import type { CommittedTransaction } from './transactions.js';

/** Asserts that `actual` serializes to exactly the JSON text of `expected`, key order included. */
export function expectSameJson(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  expect(stringifyJson(actual)).toBe(stringifyJson(expected));
}

/** The envelope of a change record; fails on a tombstone or another kind of record. */
export function changeValue(record: ChangeRecord | undefined): ChangeEventValue {
  const value = record?.value;
  if (!isChangeEventValue(value)) {
    throw new Error(`not a change event: ${stringifyJson(record)}`);
  }
  return value;
}

/**
 * Runs `action` and returns the records the connector delivers after it, once there are at least
 * `count` of them.
 */
export async function recordsAfter(
  cdc: TestConnector,
  count: number,
  action: () => Promise<unknown>,
): Promise<ChangeRecord[]> {
  const from = cdc.records.length;
  await action();
  await cdc.waitFor((records) => records.length >= from + count);
  return cdc.records.slice(from);
}

/** What a streamed change's `source` must be, for table `table` changed by `tx` at `lsn`. */
export interface StreamedSource {
  readonly database: string;
  readonly table: string;
  readonly tx: CommittedTransaction;
  /** `source.lsn`: the change's own LSN. */
  readonly lsn: bigint;
  /** End LSN of the previous transaction's commit (first half of `sequence`). */
  readonly lastCommitLsn: bigint;
  readonly topicPrefix?: string;
  readonly version?: string;
}

/**
 * Checks the time fields of a streamed change's `source` (commit time within the transaction's
 * wall-clock bounds, µs and ns consistent with ms) and returns the whole expected block, in
 * Debezium's field order.
 */
export function expectedStreamedSource(actual: SourceInfo, expected: StreamedSource): SourceInfo {
  expect(actual.ts_ms).toBeGreaterThanOrEqual(expected.tx.startedMs);
  expect(actual.ts_ms).toBeLessThanOrEqual(expected.tx.committedMs);
  expect(Math.floor(actual.ts_us / 1000)).toBe(actual.ts_ms);
  expect(actual.ts_ns).toBe(actual.ts_us * 1000);
  return {
    version: expected.version ?? 'test',
    connector: 'postgresql',
    name: expected.topicPrefix ?? 'test',
    ts_ms: actual.ts_ms,
    snapshot: 'false',
    db: expected.database,
    sequence: `["${expected.lastCommitLsn}","${expected.lsn}"]`,
    ts_us: actual.ts_us,
    ts_ns: actual.ts_ns,
    schema: 'public',
    table: expected.table,
    txId: expected.tx.txId,
    lsn: Number(expected.lsn),
    xmin: null,
  };
}

/**
 * Checks the envelope's own time fields (processing time: not before the commit, not in the
 * future, µs and ns consistent with ms) and returns them for the expected envelope.
 */
export function envelopeTimes(value: ChangeEventValue): {
  ts_ms: number;
  ts_us: number;
  ts_ns: number;
} {
  expect(value.ts_ms).toBeGreaterThanOrEqual(value.source.ts_ms);
  expect(value.ts_ms).toBeLessThanOrEqual(Date.now());
  expect(Math.floor(value.ts_us / 1000)).toBe(value.ts_ms);
  expect(value.ts_ns).toBe(value.ts_us * 1000);
  return { ts_ms: value.ts_ms, ts_us: value.ts_us, ts_ns: value.ts_ns };
}

/** Debezium's envelope field order (2.7 and later). */
export const ENVELOPE_FIELDS = [
  'before',
  'after',
  'source',
  'transaction',
  'op',
  'ts_ms',
  'ts_us',
  'ts_ns',
] as const;

/** Debezium's PostgreSQL `source` field order. */
export const SOURCE_FIELDS = [
  'version',
  'connector',
  'name',
  'ts_ms',
  'snapshot',
  'db',
  'sequence',
  'ts_us',
  'ts_ns',
  'schema',
  'table',
  'txId',
  'lsn',
  'xmin',
] as const;
