/**
 * Counters and gauges the connector keeps about itself, read by the status endpoint and exported
 * as Prometheus metrics.
 */
import type { Op } from './events/envelope.js';
import type { IncrementalSnapshotStatus } from './incremental-snapshot.js';
import type { InactiveSlotWarning } from './slots.js';

/** Where the connector is in its life. */
export type ConnectorState =
  'starting' | 'snapshotting' | 'streaming' | 'stopping' | 'stopped' | 'failed';

/** Per-table event counts by op. */
export type TableCounts = Record<string, Partial<Record<Op, number>>>;

/** A point-in-time view of the connector, as the status endpoint serves it. */
export interface ConnectorStatus {
  state: ConnectorState;
  slot: string;
  publication: string;
  sink: string;
  /** LSN of the last change received from Postgres (X/Y notation). */
  lastReceivedLsn: string | null;
  /** LSN confirmed to the slot: everything before it is in the sink. */
  confirmedLsn: string | null;
  /** WAL bytes the slot retains (current WAL position minus confirmed position). */
  slotLagBytes: number | null;
  /** Milliseconds from the commit of the last delivered change to its delivery. */
  millisBehindSource: number | null;
  /** Delivered change events per second over the last 10 seconds. */
  eventsPerSecond: number;
  totalEvents: number;
  tables: TableCounts;
  snapshot: { completed: boolean; tables: number; rows: number };
  /** `schema.table` of the signal table being read, or null when signals are off. */
  signalTable: string | null;
  /** The incremental snapshot running or waiting, or null when there is none. */
  incrementalSnapshot: IncrementalSnapshotStatus | null;
  /**
   * Inactive ficus slots on the source database (not this connector's) that retain more WAL than
   * `inactiveSlotWarnBytes`, each with the command that drops it.
   */
  inactiveSlots: readonly InactiveSlotWarning[];
  /** When `inactiveSlots` was last checked; null while the check is off or has not run yet. */
  inactiveSlotsCheckedAt: string | null;
  lastError: string | null;
  startedAt: string;
}

/** A rate over a sliding window of one-second buckets. */
export class RateMeter {
  private readonly buckets: number[];
  private current = 0;
  private currentSecond = Math.floor(Date.now() / 1000);

  constructor(private readonly windowSeconds = 10) {
    this.buckets = new Array<number>(windowSeconds).fill(0);
  }

  add(count: number, now = Date.now()): void {
    this.rotate(now);
    this.buckets[this.current]! += count;
  }

  /** Events per second over the window. */
  rate(now = Date.now()): number {
    this.rotate(now);
    return this.buckets.reduce((a, b) => a + b, 0) / this.windowSeconds;
  }

  private rotate(now: number): void {
    const second = Math.floor(now / 1000);
    const steps = Math.min(second - this.currentSecond, this.windowSeconds);
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % this.windowSeconds;
      this.buckets[this.current] = 0;
    }
    if (second > this.currentSecond) this.currentSecond = second;
  }
}
