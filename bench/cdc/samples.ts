/** Measurements and the statistics the report draws from them. */

/** One timed throughput run. */
export interface ThroughputSample {
  /** Row changes delivered. */
  readonly events: number;
  readonly elapsedMs: number;
  /** Peak resident memory of the process that ran it (absent when that is Postgres). */
  readonly peakRssMiB?: number;
  /** CPU time of that process over the timed window, as a share of one core (100 = one core busy). */
  readonly cpuPercent?: number;
  /** The same for the Postgres process that decoded the WAL (walsender, or the SQL backend). */
  readonly serverCpuPercent?: number | undefined;
  /** Share of the run the walsender spent blocked on a full socket, i.e. waiting for ficus. */
  readonly serverBlockedPercent?: number | undefined;
}

/** Events per second of a sample. */
export function rateOf(sample: ThroughputSample): number {
  return sample.events / (sample.elapsedMs / 1000);
}

/** The median (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile `p` (0–100) of values sorted ascending; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * Wall-clock time in milliseconds with sub-millisecond resolution. Comparable across processes
 * (each one's `timeOrigin` is its start on the system clock), unlike `performance.now()` alone.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
