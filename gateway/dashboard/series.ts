/**
 * Per-route traffic over time, kept in the gateway's memory for the dashboard's charts: requests,
 * 5xx answers and a latency histogram per route, side and time bucket (10 s buckets over the last
 * 30 minutes by default).
 *
 *   route ─▶ side (legacy │ new │ fallback │ shadow) ─▶ ring of buckets
 *                                                      [ t-179 ] … [ t-1 ][ t ]   each: requests, errors,
 *                                                                                  latency histogram
 *
 * Memory is bounded: a ring has a fixed number of slots, reused as time moves on. Latency
 * histograms are kept for the most recent buckets only (enough for any summary window up to
 * `histogramBuckets` buckets); an older bucket keeps just its p99, worked out when its histogram is
 * reused. About 26 KB per route with all four sides (was 200 KB with every histogram kept).
 * Routes leave with `forget`.
 * Latencies go into log buckets, four per power of two from 1 ms to about 65 s, so a p99 is
 * within about 10% of the exact value.
 */

/**
 * Who answered: `legacy` and `new` are the client's answers (a failed new-side answer that fell
 * back is counted under `new`, and the monolith's answer after it under `fallback`); `shadow` is
 * the mirrored copy the service answered in shadow mode, which the client never sees.
 */
export const SERIES_SIDES = ['legacy', 'new', 'fallback', 'shadow'] as const;
export type SeriesSide = (typeof SERIES_SIDES)[number];

/** One side of one route over a window. */
export interface SideSummary {
  requests: number;
  errors: number;
  /** Requests per second over the window. */
  rps: number;
  /** errors / requests; 0 without requests. */
  errorRate: number;
  /** 99th percentile latency in ms; null without requests. */
  p99Ms: number | null;
}

/** One side's columns in a {@link RouteSeries}, one value per bucket. */
export interface SideColumns {
  requests: number[];
  errors: number[];
  /** null where the bucket had no requests. */
  p99Ms: (number | null)[];
}

/** A route's buckets, oldest first, as columns (what uPlot takes). */
export interface RouteSeries {
  route: string;
  bucketSeconds: number;
  /** Start of each bucket, Unix seconds. The last bucket is the current one, still filling. */
  times: number[];
  sides: Record<SeriesSide, SideColumns>;
}

/** Since-start counters over every route. */
export type SeriesTotals = Record<SeriesSide, { requests: number; errors: number }>;

/** The time series of every route. */
export interface TrafficSeries {
  readonly bucketSeconds: number;
  /** Buckets kept per route and side. */
  readonly buckets: number;
  observe(route: string, side: SeriesSide, status: number, latencyMs: number): void;
  /**
   * One route's sides over the last `seconds` (rounded up to whole buckets); the p99 covers at
   * most the last 12 buckets.
   */
  summary(route: string, seconds: number): Record<SeriesSide, SideSummary>;
  /** Requests and errors of every route over the last `seconds`, by side. */
  windowTotals(seconds: number): SeriesTotals;
  /** Since creation, every route, by side. */
  totals(): SeriesTotals;
  series(route: string): RouteSeries;
  forget(route: string): void;
  /** Routes with any data. */
  routes(): string[];
}

/** What {@link createTrafficSeries} takes. */
export interface TrafficSeriesOptions {
  /** Width of a bucket; default 10. */
  bucketSeconds?: number;
  /** Buckets kept; default 180 (30 minutes of 10 s buckets). */
  buckets?: number;
  /** Wall clock in milliseconds; `Date.now` by default. */
  now?: () => number;
}

const PER_OCTAVE = 4;
const OCTAVES = 16;
/** [0, 1 ms), 4 per octave from 1 ms to 2^16 ms, then everything above. */
const BINS = 1 + PER_OCTAVE * OCTAVES + 1;

function binOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  const bin = 1 + Math.floor(Math.log2(ms) * PER_OCTAVE);
  return Math.min(bin, BINS - 1);
}

/** The value a bin reports: its geometric midpoint (0.5 ms for the first). */
function valueOf(bin: number): number {
  if (bin === 0) return 0.5;
  return 2 ** ((bin - 0.5) / PER_OCTAVE);
}

/** Buckets whose whole latency histogram is kept (the most recent ones). */
const HISTOGRAM_BUCKETS = 12;

/** One side's ring of buckets. */
class SideRing {
  readonly epochs: Float64Array;
  readonly requests: Uint32Array;
  readonly errors: Uint32Array;
  /** p99 of buckets whose histogram has been reused; NaN while it is still kept (or unknown). */
  readonly p99: Float32Array;
  readonly histogramEpochs: Float64Array;
  readonly histograms: (Uint32Array | undefined)[];

  constructor(readonly size: number) {
    this.epochs = new Float64Array(size).fill(-1);
    this.requests = new Uint32Array(size);
    this.errors = new Uint32Array(size);
    this.p99 = new Float32Array(size).fill(NaN);
    this.histogramEpochs = new Float64Array(HISTOGRAM_BUCKETS).fill(-1);
    this.histograms = new Array<Uint32Array | undefined>(HISTOGRAM_BUCKETS);
  }

  /** The slot for bucket `epoch`, cleared when it last held an older bucket. */
  slot(epoch: number): number {
    const slot = epoch % this.size;
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch;
      this.requests[slot] = 0;
      this.errors[slot] = 0;
      this.p99[slot] = NaN;
    }
    return slot;
  }

  /** The histogram of bucket `epoch`, made room for: the bucket it replaces keeps its p99. */
  histogram(epoch: number): Uint32Array {
    const at = epoch % HISTOGRAM_BUCKETS;
    const held = this.histogramEpochs[at]!;
    let bins = this.histograms[at];
    if (held !== epoch) {
      if (bins && held >= 0) {
        const old = this.find(held);
        if (old >= 0 && this.requests[old]! > 0)
          this.p99[old] = percentile(bins, this.requests[old]!, 0.99);
        bins.fill(0);
      }
      this.histogramEpochs[at] = epoch;
    }
    bins ??= this.histograms[at] = new Uint32Array(BINS);
    return bins;
  }

  /** The histogram of bucket `epoch` if it is still kept. */
  findHistogram(epoch: number): Uint32Array | undefined {
    const at = epoch % HISTOGRAM_BUCKETS;
    return this.histogramEpochs[at] === epoch ? this.histograms[at] : undefined;
  }

  /** The slot holding bucket `epoch`, or -1 when it holds nothing for it. */
  find(epoch: number): number {
    const slot = epoch % this.size;
    return this.epochs[slot] === epoch ? slot : -1;
  }
}

/** Creates empty series. */
export function createTrafficSeries(options: TrafficSeriesOptions = {}): TrafficSeries {
  const bucketSeconds = options.bucketSeconds ?? 10;
  const size = options.buckets ?? 180;
  const now = options.now ?? (() => Date.now());
  const bucketMs = bucketSeconds * 1000;
  const routes = new Map<string, Partial<Record<SeriesSide, SideRing>>>();
  const totals = emptyTotals();

  const epochNow = () => Math.floor(now() / bucketMs);

  /** Buckets a window of `seconds` spans, the current one included, and its length in seconds. */
  function windowOf(seconds: number): { first: number; last: number; span: number } {
    const at = now();
    const last = Math.floor(at / bucketMs);
    const count = Math.min(size, Math.max(1, Math.ceil(seconds / bucketSeconds)));
    const first = last - count + 1;
    const span = ((count - 1) * bucketMs + (at - last * bucketMs)) / 1000;
    return { first, last, span: Math.max(span, 1) };
  }

  function summarize(ring: SideRing | undefined, first: number, last: number, span: number) {
    if (!ring) return emptySummary();
    let requests = 0;
    let errors = 0;
    const histogram = new Uint32Array(BINS);
    for (let epoch = first; epoch <= last; epoch++) {
      const slot = ring.find(epoch);
      if (slot < 0) continue;
      requests += ring.requests[slot]!;
      errors += ring.errors[slot]!;
      const bins = ring.findHistogram(epoch);
      if (bins) for (let i = 0; i < BINS; i++) histogram[i]! += bins[i]!;
    }
    return {
      requests,
      errors,
      rps: requests / span,
      errorRate: requests === 0 ? 0 : errors / requests,
      p99Ms: requests === 0 ? null : percentile(histogram, requests, 0.99),
    };
  }

  return {
    bucketSeconds,
    buckets: size,

    observe(route, side, status, latencyMs) {
      let sides = routes.get(route);
      if (!sides) {
        sides = {};
        routes.set(route, sides);
      }
      let ring = sides[side];
      if (!ring) {
        ring = new SideRing(size);
        sides[side] = ring;
      }
      const epoch = epochNow();
      const slot = ring.slot(epoch);
      ring.requests[slot]!++;
      const failed = status >= 500;
      if (failed) ring.errors[slot]!++;
      ring.histogram(epoch)[binOf(latencyMs)]!++;
      totals[side].requests++;
      if (failed) totals[side].errors++;
    },

    summary(route, seconds) {
      const { first, last, span } = windowOf(seconds);
      const sides = routes.get(route) ?? {};
      return Object.fromEntries(
        SERIES_SIDES.map((side) => [side, summarize(sides[side], first, last, span)]),
      ) as Record<SeriesSide, SideSummary>;
    },

    windowTotals(seconds) {
      const { first, last } = windowOf(seconds);
      const result = emptyTotals();
      for (const sides of routes.values()) {
        for (const side of SERIES_SIDES) {
          const ring = sides[side];
          if (!ring) continue;
          for (let epoch = first; epoch <= last; epoch++) {
            const slot = ring.find(epoch);
            if (slot < 0) continue;
            result[side].requests += ring.requests[slot]!;
            result[side].errors += ring.errors[slot]!;
          }
        }
      }
      return result;
    },

    totals: () =>
      Object.fromEntries(SERIES_SIDES.map((side) => [side, { ...totals[side] }])) as SeriesTotals,

    series(route) {
      const last = epochNow();
      const first = last - size + 1;
      const sides = routes.get(route) ?? {};
      const times: number[] = [];
      for (let epoch = first; epoch <= last; epoch++) times.push(epoch * bucketSeconds);
      const columns = (ring: SideRing | undefined): SideColumns => {
        const result: SideColumns = { requests: [], errors: [], p99Ms: [] };
        for (let epoch = first; epoch <= last; epoch++) {
          const slot = ring ? ring.find(epoch) : -1;
          const requests = slot < 0 ? 0 : ring!.requests[slot]!;
          result.requests.push(requests);
          result.errors.push(slot < 0 ? 0 : ring!.errors[slot]!);
          const histogram = slot < 0 ? undefined : ring!.findHistogram(epoch);
          const kept = slot < 0 ? NaN : ring!.p99[slot]!;
          result.p99Ms.push(
            requests === 0
              ? null
              : histogram
                ? percentile(histogram, requests, 0.99)
                : Number.isNaN(kept)
                  ? null
                  : Math.round(kept * 10) / 10,
          );
        }
        return result;
      };
      return {
        route,
        bucketSeconds,
        times,
        sides: Object.fromEntries(
          SERIES_SIDES.map((side) => [side, columns(sides[side])]),
        ) as Record<SeriesSide, SideColumns>,
      };
    },

    forget(route) {
      routes.delete(route);
    },

    routes: () => [...routes.keys()],
  };
}

/** Nearest-rank percentile over a histogram of `count` samples, rounded to 0.1 ms. */
function percentile(histogram: Uint32Array, count: number, quantile: number): number {
  const rank = Math.max(1, Math.ceil(quantile * count));
  let seen = 0;
  for (let bin = 0; bin < histogram.length; bin++) {
    seen += histogram[bin]!;
    if (seen >= rank) return Math.round(valueOf(bin) * 10) / 10;
  }
  return Math.round(valueOf(histogram.length - 1) * 10) / 10;
}

function emptySummary(): SideSummary {
  return { requests: 0, errors: 0, rps: 0, errorRate: 0, p99Ms: null };
}

function emptyTotals(): SeriesTotals {
  return Object.fromEntries(
    SERIES_SIDES.map((side) => [side, { requests: 0, errors: 0 }]),
  ) as SeriesTotals;
}
