/**
 * Open-loop latency at a steady rate, which wrk cannot do: requests go out on a fixed schedule
 * (request i at start + i / rate) whether or not earlier ones have been answered, over a
 * keep-alive agent, from a process of its own (bench/cdc/child.ts runs it).
 *
 * With several targets, the schedule is cut into one-second slices that take turns between
 * them (A, B, A, B, …), so a noisy neighbour hits every target alike. The first `warmupSeconds`
 * of each target are sent but not counted.
 *
 * Latency is timed from the moment a request was handed to the socket to the end of its
 * response. How late the generator sent against its schedule is reported beside it (`lag`): if
 * that grows, the generator's own process, not the server, was being held up.
 */
import { Agent, get } from 'node:http';
import { serveOneJob } from '../cdc/child.js';
import { median, percentile } from '../cdc/samples.js';
import { BENCH_PATH, CANARY_HEADER, CANARY_KEYS } from './traffic.js';

/** One fixed-rate run, as the parent sends it. */
export interface FixedRateJob {
  /** Base URLs, such as http://127.0.0.1:4100; BENCH_PATH is appended. */
  readonly targets: readonly string[];
  readonly rate: number;
  /** Counted seconds per target. */
  readonly seconds: number;
  /** Seconds per target sent before counting starts. */
  readonly warmupSeconds: number;
}

/** What a run measured at one target over its counted requests. */
export interface FixedRateResult {
  readonly sent: number;
  /** Requests answered 200 and counted in the latency figures. */
  readonly ok: number;
  /** Errors and non-200 answers. */
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
}

/** How long each target has the schedule before the next one takes over. */
const SLICE_SECONDS = 1;
/** How long to wait for the last answers after the last request went out. */
const DRAIN_TIMEOUT_MS = 10_000;

/** Runs the schedule and returns one result per target, in the job's order. */
async function measure(job: FixedRateJob): Promise<FixedRateResult[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1_024 });
  const perSlice = job.rate * SLICE_SECONDS;
  const targets = job.targets.length;
  const total = perSlice * targets * ((job.warmupSeconds + job.seconds) / SLICE_SECONDS);
  const targetOf = (index: number) => Math.floor(index / perSlice) % targets;
  const isCounted = (index: number) =>
    index >= perSlice * targets * (job.warmupSeconds / SLICE_SECONDS);
  const intervalMs = 1000 / job.rate;
  const latencies = new Float64Array(total).fill(Number.NaN);
  const lags = new Float64Array(total);
  const urls = job.targets.map((target) => `${target}${BENCH_PATH}`);

  let settled = 0;
  let allSent: () => void = () => undefined;
  const sending = new Promise<void>((resolve) => (allSent = resolve));
  let allSettled: () => void = () => undefined;
  const settling = new Promise<void>((resolve) => (allSettled = resolve));
  /** Records request `index`'s latency, or leaves NaN for a failed one. */
  const settle = (index: number, latency: number | undefined) => {
    if (latency !== undefined) latencies[index] = latency;
    if (++settled === total) allSettled();
  };

  const start = performance.now() + 20;
  const send = (index: number) => {
    const began = performance.now();
    lags[index] = began - (start + index * intervalMs);
    const headers = { [CANARY_HEADER]: `user-${(index % CANARY_KEYS) + 1}` };
    const request = get(urls[targetOf(index)]!, { agent, headers }, (response) => {
      const ok = response.statusCode === 200;
      response.resume();
      response.once('end', () => settle(index, ok ? performance.now() - began : undefined));
      response.once('error', () => settle(index, undefined));
    });
    request.once('error', () => settle(index, undefined));
  };

  let next = 0;
  const tick = () => {
    const now = performance.now();
    while (next < total && start + next * intervalMs <= now) send(next++);
    if (next < total) setTimeout(tick, start + next * intervalMs - performance.now());
    else allSent();
  };
  setTimeout(tick, start - performance.now());

  await sending;
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    settling,
    new Promise((resolve) => (drainTimer = setTimeout(resolve, DRAIN_TIMEOUT_MS))),
  ]);
  clearTimeout(drainTimer);
  agent.destroy();

  return job.targets.map((_, target) => {
    const indexes: number[] = [];
    for (let index = 0; index < total; index++) {
      if (isCounted(index) && targetOf(index) === target) indexes.push(index);
    }
    const counted = indexes
      .map((index) => latencies[index]!)
      .filter((value) => !Number.isNaN(value))
      .sort((a, b) => a - b);
    const countedLags = indexes.map((index) => lags[index]!).sort((a, b) => a - b);
    return {
      sent: indexes.length,
      ok: counted.length,
      errors: indexes.length - counted.length,
      p50Ms: median(counted),
      p99Ms: percentile(counted, 99),
      maxMs: counted.at(-1) ?? Number.NaN,
      lagP50Ms: median(countedLags),
      lagP99Ms: percentile(countedLags, 99),
    };
  });
}

serveOneJob(measure);
