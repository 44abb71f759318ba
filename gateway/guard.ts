/**
 * Automatic rollback: watches the new side of each guarded route over a sliding window and calls
 * `onTrip` once when its error rate or p99 latency crosses the route's `guard` limits (the
 * Flagger / Argo Rollouts metric check, run in-process on every response). What a trip does,
 * usually switching the route back to `legacy`, is the caller's business.
 *
 * Each route's window is a ring of buckets, each `span` seconds wide (1 s for windows up to 60 s;
 * longer windows use at most 60 buckets). Counters for the whole window are kept up to date as
 * samples arrive and buckets expire, so a sample costs O(1) and allocates nothing. The window is
 * the current bucket and the ones before it, so a sample counts for between `windowSeconds - span`
 * and `windowSeconds` seconds:
 *
 *            oldest                         current
 *   slots   [ b-59 ][ b-58 ] … [ b-1 ][  b  ]      each: requests, errors, slow, histogram
 *   window   Σ requests, Σ errors, Σ slow, Σ histogram   (add on observe, subtract on expiry)
 *
 * Latencies go into a log-linear histogram (HDR-like): 16 bins per power of two from 1 ms to about
 * 17 minutes, each reported as its midpoint, so p99 is within about 3% of the exact value. `slow`
 * counts samples in bins reported above `maxP99Ms`; the p99 exceeds the limit exactly when more
 * than the top 1% of samples are slow, which is checked without scanning the histogram.
 */
import { createSilentLogger, type Logger } from '../common/index.js';
import type { Guard } from './route-table/index.js';

/** One response from the new side. */
export interface GuardSample {
  /** False for a 5xx, a connection error or a timeout. */
  ok: boolean;
  /** Time to the response (or to the failure): failed samples count toward p99 too. */
  latencyMs: number;
}

/** A route's window as of now. */
export interface GuardState {
  requests: number;
  errors: number;
  /** errors / requests; 0 without requests. */
  errorRate: number;
  /** Nearest-rank 99th percentile latency in ms (within about 3%); 0 without requests. */
  p99Ms: number;
  tripped: boolean;
  /** Why it tripped. */
  reason?: string;
}

/** Watches guarded routes. */
export interface RouteGuard {
  /** Adds a sample of the new side and trips the route when it crosses a limit. */
  observe(routeId: string, guard: Guard, sample: GuardSample): void;
  /** The route's window as of now (zeros for a route never observed). */
  state(routeId: string): GuardState;
  /** Forgets the route's window and trip, e.g. when the route is promoted again. */
  reset(routeId: string): void;
}

/** What `createGuard` needs. */
export interface GuardOptions {
  /** Milliseconds on a monotonic clock; `performance.now` by default. */
  now?: () => number;
  /** Called once per trip, synchronously, from `observe`. */
  onTrip: (routeId: string, reason: string) => void;
  /** Where a throwing `onTrip` is reported; silent by default. */
  logger?: Logger;
}

/** Creates a guard with no routes watched yet. */
export function createGuard(options: GuardOptions): RouteGuard {
  const now = options.now ?? (() => performance.now());
  const logger = options.logger ?? createSilentLogger();
  const windows = new Map<string, RouteWindow>();

  return {
    observe(routeId, guard, sample) {
      let window = windows.get(routeId);
      if (window?.windowSeconds !== guard.windowSeconds) {
        window = new RouteWindow(guard.windowSeconds);
        windows.set(routeId, window);
      }
      if (window.maxP99Ms !== guard.maxP99Ms) window.setLatencyLimit(guard.maxP99Ms);
      window.advance(now());
      window.add(sample);
      if (window.tripped || window.requests < guard.minRequests) return;
      if (!window.overErrorRate(guard) && !window.overLatency(guard)) return;
      const reason = window.reasonFor(guard);
      window.tripped = true;
      window.reason = reason;
      try {
        options.onTrip(routeId, reason);
      } catch (error) {
        logger.error({ err: error, routeId, reason }, 'guard onTrip threw');
      }
    },

    state(routeId) {
      const window = windows.get(routeId);
      if (!window) return { requests: 0, errors: 0, errorRate: 0, p99Ms: 0, tripped: false };
      window.advance(now());
      return {
        requests: window.requests,
        errors: window.errors,
        errorRate: window.requests === 0 ? 0 : window.errors / window.requests,
        p99Ms: window.p99(),
        tripped: window.tripped,
        ...(window.reason === undefined ? {} : { reason: window.reason }),
      };
    },

    reset(routeId) {
      windows.delete(routeId);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Latency histogram

const SUB_BINS = 16;
const OCTAVES = 20;
const MAX_MS = 2 ** OCTAVES;
/** [0, 1 ms), then 16 per octave up to 2^20 ms, then everything above. */
const BIN_COUNT = 1 + OCTAVES * SUB_BINS + 1;
/** The value each bin reports: its midpoint, rounded to whole milliseconds. */
const BIN_VALUES = Float64Array.from({ length: BIN_COUNT }, (_, bin) => {
  if (bin === 0) return 1;
  if (bin === BIN_COUNT - 1) return MAX_MS;
  const octave = Math.floor((bin - 1) / SUB_BINS);
  const sub = (bin - 1) % SUB_BINS;
  return Math.round(2 ** octave * (1 + (sub + 0.5) / SUB_BINS));
});

/** The histogram bin of a latency. */
export function latencyBin(ms: number): number {
  if (!(ms >= 1)) return 0;
  if (ms >= MAX_MS) return BIN_COUNT - 1;
  const octave = 31 - Math.clz32(ms);
  const base = 1 << octave; // not 2 ** octave: Math.pow is several times slower here
  return 1 + octave * SUB_BINS + Math.floor(((ms - base) * SUB_BINS) / base);
}

/** The latency a histogram bin reports. */
export function binLatency(bin: number): number {
  return BIN_VALUES[bin] ?? MAX_MS;
}

/** Nearest rank of the 99th percentile among `n` samples, in integers (no 0.99·n rounding). */
function p99Rank(n: number): number {
  return Math.floor((99 * n + 99) / 100);
}

// ---------------------------------------------------------------------------------------------
// Sliding window

const MAX_BUCKETS = 60;

class RouteWindow {
  readonly span: number;
  readonly size: number;
  requests = 0;
  errors = 0;
  slow = 0;
  tripped = false;
  reason: string | undefined;
  maxP99Ms: number | undefined;
  /** Bins from here up report a latency above maxP99Ms. */
  private slowFrom = BIN_COUNT;
  private current = -Infinity;
  private readonly slotRequests: Uint32Array;
  private readonly slotErrors: Uint32Array;
  private readonly slotSlow: Uint32Array;
  private readonly slotBins: Uint32Array;
  private readonly bins = new Uint32Array(BIN_COUNT);

  constructor(readonly windowSeconds: number) {
    this.span = Math.ceil(windowSeconds / MAX_BUCKETS);
    this.size = Math.ceil(windowSeconds / this.span);
    this.slotRequests = new Uint32Array(this.size);
    this.slotErrors = new Uint32Array(this.size);
    this.slotSlow = new Uint32Array(this.size);
    this.slotBins = new Uint32Array(this.size * BIN_COUNT);
  }

  /** Moves the window to the bucket holding `nowMs`, expiring the buckets it leaves behind. */
  advance(nowMs: number): void {
    const bucket = Math.floor(nowMs / 1000 / this.span);
    if (bucket <= this.current) return;
    if (bucket - this.current >= this.size) {
      if (this.requests > 0) this.clear();
    } else {
      for (let b = this.current + 1; b <= bucket; b++) this.expire(this.slotOf(b));
    }
    this.current = bucket;
  }

  add(sample: GuardSample): void {
    const slot = this.slotOf(this.current);
    const bin = latencyBin(sample.latencyMs);
    this.slotRequests[slot]!++;
    this.requests++;
    if (!sample.ok) {
      this.slotErrors[slot]!++;
      this.errors++;
    }
    this.slotBins[slot * BIN_COUNT + bin]!++;
    this.bins[bin]!++;
    if (bin >= this.slowFrom) {
      this.slotSlow[slot]!++;
      this.slow++;
    }
  }

  overErrorRate(guard: Guard): boolean {
    return guard.maxErrorRate !== undefined && this.errors / this.requests > guard.maxErrorRate;
  }

  overLatency(guard: Guard): boolean {
    return guard.maxP99Ms !== undefined && this.slow > this.requests - p99Rank(this.requests);
  }

  /** Why the window breaks the guard's limits (call only when it does). */
  reasonFor(guard: Guard): string {
    const reasons: string[] = [];
    const over = `over ${guard.windowSeconds} s`;
    if (this.overErrorRate(guard)) {
      reasons.push(
        `error rate ${percent(this.errors / this.requests)} ${over} exceeds ${percent(guard.maxErrorRate ?? 0)} (${this.requests} requests)`,
      );
    }
    if (this.overLatency(guard)) {
      reasons.push(
        `p99 latency ${this.p99()} ms ${over} exceeds ${guard.maxP99Ms ?? 0} ms (${this.requests} requests)`,
      );
    }
    return reasons.join('; ');
  }

  p99(): number {
    if (this.requests === 0) return 0;
    const rank = p99Rank(this.requests);
    let seen = 0;
    for (let bin = 0; bin < BIN_COUNT; bin++) {
      seen += this.bins[bin]!;
      if (seen >= rank) return binLatency(bin);
    }
    return MAX_MS;
  }

  /** Recounts `slow` against a new limit (the route table changed). */
  setLatencyLimit(maxP99Ms: number | undefined): void {
    this.maxP99Ms = maxP99Ms;
    this.slowFrom = BIN_COUNT;
    if (maxP99Ms !== undefined) {
      while (this.slowFrom > 0 && binLatency(this.slowFrom - 1) > maxP99Ms) this.slowFrom--;
    }
    this.slow = 0;
    for (let slot = 0; slot < this.size; slot++) {
      let slow = 0;
      for (let bin = this.slowFrom; bin < BIN_COUNT; bin++) {
        slow += this.slotBins[slot * BIN_COUNT + bin]!;
      }
      this.slotSlow[slot] = slow;
      this.slow += slow;
    }
  }

  private slotOf(bucket: number): number {
    return ((bucket % this.size) + this.size) % this.size;
  }

  private expire(slot: number): void {
    if (this.slotRequests[slot] === 0) return;
    this.requests -= this.slotRequests[slot]!;
    this.errors -= this.slotErrors[slot]!;
    this.slow -= this.slotSlow[slot]!;
    this.slotRequests[slot] = 0;
    this.slotErrors[slot] = 0;
    this.slotSlow[slot] = 0;
    const offset = slot * BIN_COUNT;
    for (let bin = 0; bin < BIN_COUNT; bin++) {
      const count = this.slotBins[offset + bin]!;
      if (count !== 0) {
        this.bins[bin]! -= count;
        this.slotBins[offset + bin] = 0;
      }
    }
  }

  private clear(): void {
    this.requests = 0;
    this.errors = 0;
    this.slow = 0;
    this.slotRequests.fill(0);
    this.slotErrors.fill(0);
    this.slotSlow.fill(0);
    this.slotBins.fill(0);
    this.bins.fill(0);
  }
}

/** 0.125 → `12.5%`, 0.05 → `5%`. */
function percent(rate: number): string {
  return `${Number((rate * 100).toFixed(1))}%`;
}
