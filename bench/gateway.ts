/**
 * `npm run bench:gateway`: the ficus gateway's throughput and latency against a direct request,
 * a hand-written express proxy and nginx, on loopback. Settings: ./gateway/config.ts.
 *
 * Every server runs in a process of its own; wrk (Debian package) drives the throughput rows
 * with the same settings and Lua script for each, after a warm-up, `repeat` times, rounds
 * interleaving the rows so a noisy neighbour hits them alike; medians are reported.
 *
 *   direct        wrk → upstream A (./gateway/upstream.ts: a ~300-byte JSON body, keep-alive)
 *   plain         wrk → express 5 + http-proxy-middleware 3, default options → A
 *   nginx         wrk → nginx, upstream keep-alive pool of 64 → A
 *   ficus new     wrk → ficus gateway, route /bench in mode new → B
 *   ficus canary  wrk → ficus gateway, 50% canary sticky by header → A or B
 *   ficus shadow  wrk → ficus gateway, A answers, mirrored to B
 *
 * Then an open-loop run at a fixed rate (./gateway/fixed-rate.ts), alternating every second
 * between direct and ficus new, for the latency the gateway adds when it is not saturated.
 *
 * Needs wrk and nginx: `apt-get install -y wrk nginx` (without nginx its row is skipped).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { isFicusError } from '../common/index.js';
import { runInChild } from './cdc/child.js';
import { CleanupStack, describeError } from './cdc/cleanup.js';
import { readGatewayBenchConfig, type GatewayBenchConfig } from './gateway/config.js';
import { startFicusGateways, type FicusGateways } from './gateway/ficus.js';
import type { FixedRateJob, FixedRateResult } from './gateway/fixed-rate.js';
import { startNginx } from './gateway/nginx.js';
import type { PlainProxyConfig } from './gateway/plain-proxy.js';
import {
  fixedRateTable,
  goalChecks,
  goalLines,
  throughputTable,
  type FixedRateRow,
  type RowKey,
  type ThroughputRow,
} from './gateway/report.js';
import { startServerProcess } from './gateway/server-process.js';
import {
  findTools,
  MissingToolError,
  missingToolsMessage,
  type BenchTools,
} from './gateway/tools.js';
import { BENCH_PATH, CANARY_HEADER, REQUEST_COUNT_PATH } from './gateway/traffic.js';
import type { UpstreamConfig } from './gateway/upstream.js';
import { createWrk } from './gateway/wrk.js';

const UPSTREAM = new URL('./gateway/upstream.ts', import.meta.url);
const PLAIN_PROXY = new URL('./gateway/plain-proxy.ts', import.meta.url);
const FIXED_RATE = new URL('./gateway/fixed-rate.ts', import.meta.url);

/** How long after a wrk run before the upstream counts are read: shadow mirrors may trail. */
const SETTLE_MS = 200;
/** Warm-up of the fixed-rate run, sent but not counted. */
const FIXED_RATE_WARMUP_SECONDS = 1;

/** A row and the base URL wrk sends to, or why it cannot run. */
interface PlannedRow {
  readonly row: ThroughputRow;
  readonly url?: string | undefined;
}

/** The servers under test. */
interface Targets {
  readonly upstreamA: string;
  readonly upstreamB: string;
  readonly plain: string;
  readonly nginx: string | { readonly skipped: string };
  readonly ficus: FicusGateways;
}

/** What the tables' less obvious columns mean. */
const COLUMN_NOTES = [
  "p50, p99: the median over the runs of each run's own percentile",
  'upstream A / B: requests each upstream served per request wrk completed',
  'send lag p99: how late the open-loop generator sent against its schedule (its own noise)',
];

function progress(message: string): void {
  console.error(`· ${message}`);
}

/** Everything the report needs. */
interface BenchResults {
  readonly rows: ThroughputRow[];
  readonly fixedRate: { readonly direct: FixedRateResult; readonly ficus?: FixedRateResult };
  readonly ficus: FicusGateways;
  readonly nginxVersion: string | undefined;
  /** 1-minute load average before and after the measurements: how noisy the machine was. */
  readonly load: readonly [number, number];
}

async function main(): Promise<void> {
  const config = readGatewayBenchConfig();
  const cleanup = new CleanupStack();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: cleaning up`);
      void cleanup.runAll().finally(() => process.exit(130));
    });
  }
  const startedAt = performance.now();
  try {
    const tools = await findTools();
    const missing = missingToolsMessage(tools);
    if (!tools.wrk) throw new MissingToolError(missing ?? 'wrk not found');
    if (missing) console.error(`bench:gateway: ${missing}; the nginx row is skipped`);
    const results = await runBenchmark(config, { ...tools, wrk: tools.wrk }, cleanup);
    printReport(config, results, performance.now() - startedAt);
    // Not ready yet is not a failure; a gateway that loads but does not start is.
    if (results.ficus.kind === 'skipped' && results.ficus.failed) process.exitCode = 1;
  } finally {
    progress('cleaning up');
    await cleanup.runAll();
  }
}

async function runBenchmark(
  config: GatewayBenchConfig,
  tools: BenchTools & { readonly wrk: string },
  cleanup: CleanupStack,
): Promise<BenchResults> {
  const dir = await mkdtemp(join(tmpdir(), 'ficus-bench-gateway-'));
  cleanup.defer('remove the temp folder', () => rm(dir, { recursive: true, force: true }));
  const targets = await startTargets(config, tools, dir, cleanup);
  const plan = planRows(targets, config.nginxWorkers);
  for (const { row, url } of plan) if (url) await expectBenchAnswer(row.label, url);
  const loadBefore = loadavg()[0]!;

  const wrk = await createWrk(tools.wrk, dir, config, cleanup);
  // Rounds interleave the rows, so that a noisy neighbour slows them alike.
  for (let round = 1; round <= config.repeat; round++) {
    for (const { row, url } of plan) {
      if (!url) continue;
      if (round === 1 && config.warmupSeconds > 0) await wrk.run(url, config.warmupSeconds);
      const before = await upstreamCounts(targets);
      const sample = await wrk.run(url, config.durationSeconds);
      await sleep(SETTLE_MS);
      const after = await upstreamCounts(targets);
      row.samples.push(sample);
      row.shares.push({
        a: (after.a - before.a) / sample.requests,
        b: (after.b - before.b) / sample.requests,
      });
      progress(
        `round ${round}: ${row.label}: ${Math.round(sample.requestsPerSecond)} req/s, ` +
          `p99 ${sample.p99Ms.toFixed(2)} ms`,
      );
    }
  }

  const ficusNew = targets.ficus.kind === 'ready' ? targets.ficus.urls.new : undefined;
  const [direct, ficus] = await fixedRate(
    config,
    ficusNew ? [targets.upstreamA, ficusNew] : [targets.upstreamA],
    cleanup,
  );
  if (!direct) throw new Error('the fixed-rate run returned no result');
  return {
    rows: plan.map(({ row }) => row),
    fixedRate: { direct, ...(ficus ? { ficus } : {}) },
    ficus: targets.ficus,
    nginxVersion: tools.nginx ? await nginxVersion(tools.nginx) : undefined,
    load: [loadBefore, loadavg()[0]!],
  };
}

function printReport(config: GatewayBenchConfig, results: BenchResults, elapsedMs: number): void {
  const fixedRows: FixedRateRow[] = [
    { label: 'direct', result: results.fixedRate.direct },
    {
      label: 'ficus new',
      result: results.fixedRate.ficus,
      skipped: ficusSkipReason(results.ficus),
    },
  ];
  const [loadBefore, loadAfter] = results.load;
  console.log('');
  console.log(
    `ficus gateway benchmark: wrk -t${config.threads} -c${config.connections} ` +
      `-d${config.durationSeconds}s --latency after a ${config.warmupSeconds} s warm-up, ` +
      `median of ${config.repeat} runs`,
  );
  console.log(
    `Node ${process.version}, ${results.nginxVersion ?? 'no nginx'}, ` +
      `${availableParallelism()} CPUs shared by wrk, proxies and upstreams, ` +
      `load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}`,
  );
  console.log('');
  console.log(throughputTable(results.rows));
  console.log('');
  console.log(fixedRateTable(fixedRows, config.rate));
  console.log('');
  for (const line of goalLines(goalChecks(results.rows, results.fixedRate, config.rate))) {
    console.log(line);
  }
  console.log('');
  for (const line of COLUMN_NOTES) console.log(line);
  console.log(`total ${Math.round(elapsedMs / 1000)} s`);
  if (results.ficus.kind === 'skipped') console.log(results.ficus.message);
}

/** Starts the upstreams, then every proxy in front of them. */
async function startTargets(
  config: GatewayBenchConfig,
  tools: BenchTools,
  dir: string,
  cleanup: CleanupStack,
): Promise<Targets> {
  progress('starting upstreams A and B');
  const upstream = async (name: string) => {
    const config: UpstreamConfig = { port: 0 };
    const started = await startServerProcess(UPSTREAM, config, { cleanup, name });
    if (started.kind !== 'ready') throw new Error(`${name}: ${started.reason}`);
    return started.url;
  };
  const [upstreamA, upstreamB] = await Promise.all([
    upstream('upstream A'),
    upstream('upstream B'),
  ]);

  progress('starting the plain express proxy, nginx and the ficus gateways');
  const plainConfig: PlainProxyConfig = { port: 0, target: upstreamA };
  const plain = await startServerProcess(PLAIN_PROXY, plainConfig, {
    cleanup,
    name: 'plain proxy',
  });
  if (plain.kind !== 'ready') throw new Error(`plain proxy: ${plain.reason}`);
  const nginx = tools.nginx
    ? (
        await startNginx({
          binary: tools.nginx,
          dir,
          upstream: upstreamA,
          workers: config.nginxWorkers,
          cleanup,
        })
      ).url
    : { skipped: missingToolsMessage(tools) ?? 'nginx not found' };
  const ficus = await startFicusGateways({ a: upstreamA, b: upstreamB }, cleanup);
  if (ficus.kind === 'skipped') console.error(ficus.message);
  return { upstreamA, upstreamB, plain: plain.url, nginx, ficus };
}

/** Why the ficus rows were not measured, in a few words for the tables. */
function ficusSkipReason(ficus: FicusGateways): string | undefined {
  if (ficus.kind === 'ready') return undefined;
  return ficus.failed ? 'the gateway did not start' : 'gateway/index.ts not ready';
}

/** The throughput rows, in the order they are measured and printed. */
function planRows(targets: Targets, nginxWorkers: string): PlannedRow[] {
  const row = (key: RowKey, label: string, url: string | undefined, skipped?: string) => ({
    row: { key, label, samples: [], shares: [], skipped },
    url,
  });
  const nginx = targets.nginx;
  const ficus = targets.ficus;
  const ficusUrl = (mode: 'new' | 'canary' | 'shadow') =>
    ficus.kind === 'ready' ? ficus.urls[mode] : undefined;
  const ficusSkipped = ficusSkipReason(ficus);
  return [
    row('direct', 'direct (upstream A)', targets.upstreamA),
    row('plain', 'plain: express 5 + http-proxy-middleware 3', targets.plain),
    typeof nginx === 'string'
      ? row('nginx', `nginx (worker_processes ${nginxWorkers}, keepalive 64)`, nginx)
      : row('nginx', 'nginx', undefined, nginx.skipped),
    row('ficus-new', 'ficus new', ficusUrl('new'), ficusSkipped),
    row('ficus-canary', 'ficus canary 50% (sticky header)', ficusUrl('canary'), ficusSkipped),
    row('ficus-shadow', 'ficus shadow (A answers, B mirrored)', ficusUrl('shadow'), ficusSkipped),
  ];
}

/** Fails fast, before any timing, when a target does not answer /bench with 200. */
async function expectBenchAnswer(label: string, url: string): Promise<void> {
  const response = await fetch(`${url}${BENCH_PATH}`, { headers: { [CANARY_HEADER]: 'user-1' } });
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(
      `${label} answered GET ${BENCH_PATH} with ${response.status}: ${body.slice(0, 300)}`,
    );
  }
}

/** How many requests each upstream has served so far. */
async function upstreamCounts(targets: Targets): Promise<{ a: number; b: number }> {
  const count = async (url: string) => {
    const response = await fetch(`${url}${REQUEST_COUNT_PATH}`);
    return ((await response.json()) as { requests: number }).requests;
  };
  const [a, b] = await Promise.all([count(targets.upstreamA), count(targets.upstreamB)]);
  return { a, b };
}

/**
 * The fixed-rate run against each of `targets` in turn, one-second slices alternating between
 * them (./gateway/fixed-rate.ts); one result per target.
 */
async function fixedRate(
  config: GatewayBenchConfig,
  targets: readonly string[],
  cleanup: CleanupStack,
): Promise<FixedRateResult[]> {
  progress(
    `fixed rate: ${config.rate} req/s for ${config.rateSeconds} s each, alternating ` +
      `every second between ${targets.join(' and ')}`,
  );
  const job: FixedRateJob = {
    targets,
    rate: config.rate,
    seconds: config.rateSeconds,
    warmupSeconds: FIXED_RATE_WARMUP_SECONDS,
  };
  const seconds = (config.rateSeconds + FIXED_RATE_WARMUP_SECONDS) * targets.length;
  return runInChild<FixedRateJob, FixedRateResult[]>(FIXED_RATE, job, {
    cleanup,
    timeoutMs: (seconds + 30) * 1000,
  });
}

/** "nginx/1.22.1", from `nginx -v` (which prints to stderr). */
async function nginxVersion(binary: string): Promise<string> {
  try {
    const { stderr } = await promisify(execFile)(binary, ['-v']);
    return stderr.trim().replace(/^nginx version: /, '');
  } catch {
    return 'nginx';
  }
}

main().then(
  () => process.exit(),
  (error: unknown) => {
    console.error(`bench:gateway failed: ${describeError(error)}`);
    if (!isFicusError(error) && error instanceof Error && error.stack) console.error(error.stack);
    process.exit(1);
  },
);
