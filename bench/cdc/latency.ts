/**
 * Commit-to-sink latency at a steady transaction rate: a writer process commits one small insert
 * per transaction on a fixed schedule; a streaming connector in this process delivers them to an
 * embedded sink, whose handler notes when each row arrived. Latency is measured from two starting
 * points: the moment the writer saw its COMMIT return, and the commit timestamp Postgres wrote
 * into the WAL (`source.ts_us`, taken just before the commit is flushed). A logical walsender is
 * woken by the same flush that lets COMMIT return, so a row can reach the sink before the
 * writer's process has read the COMMIT reply: the first figure can be negative. The first
 * second is a warm-up and not counted.
 */
import { createConnector, createEmbeddedSink, isChangeEventValue } from '../../cdc/index.js';
import { runInChild } from './child.js';
import type { CleanupStack } from './cleanup.js';
import { benchConnectorOptions } from './connector-options.js';
import type { WriterJob, WriterResult } from './latency-writer.js';
import { percentile, wallClockMs } from './samples.js';
import { LATENCY_TABLE } from './source.js';

const WRITER = new URL('./latency-writer.ts', import.meta.url);
/** How long to wait for the last rows after the writer has finished. */
const DRAIN_TIMEOUT_MS = 15_000;

export interface LatencyOptions {
  readonly url: string;
  readonly rate: number;
  readonly seconds: number;
  readonly cleanup: CleanupStack;
  /** The connector's flushConfirmIntervalMs; its default when absent. */
  readonly flushConfirmIntervalMs?: number | undefined;
}

/** Distribution of latencies, in ms. */
export interface LatencyStats {
  readonly min: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Latency figures for the measured (post-warm-up) transactions. */
export interface LatencyResult {
  readonly rate: number;
  readonly seconds: number;
  /** Transactions committed per second over the measured stretch. */
  readonly achievedRate: number;
  readonly measured: number;
  readonly delivered: number;
  /** From the writer seeing its COMMIT return to the sink handler being called. */
  readonly fromCommitReturned: LatencyStats;
  /** From the commit timestamp Postgres wrote into the WAL (`source.ts_us`) to the sink handler. */
  readonly fromCommitTimestamp: LatencyStats;
  /** Most a transaction started after its scheduled time (writer falling behind). */
  readonly maxStartLagMs: number;
}

/** Runs the latency measurement end to end; the connector is stopped before it returns. */
export async function measureLatency(options: LatencyOptions): Promise<LatencyResult> {
  const warmup = options.rate;
  const transactions = warmup + options.rate * options.seconds;
  const arrivalsMs = new Float64Array(transactions).fill(Number.NaN);
  const commitTimestampsMs = new Float64Array(transactions);
  let arrived = 0;
  const sink = createEmbeddedSink([
    (records) => {
      const now = wallClockMs();
      for (const { value } of records) {
        if (!isChangeEventValue(value) || value.after === null) continue;
        const k = Number(value.after.id) - 1;
        if (Number.isNaN(arrivalsMs[k])) {
          arrivalsMs[k] = now;
          commitTimestampsMs[k] = value.source.ts_us / 1000;
          arrived++;
        }
      }
    },
  ]);
  const connector = createConnector(
    benchConnectorOptions(
      {
        url: options.url,
        slot: 'bench_latency',
        publication: 'ficus_bench_latency',
        table: LATENCY_TABLE,
        flushConfirmIntervalMs: options.flushConfirmIntervalMs,
      },
      sink,
    ),
  );
  const stopConnector = options.cleanup.defer('stop the latency connector', () => connector.stop());
  await connector.start();

  const job: WriterJob = {
    url: options.url,
    table: LATENCY_TABLE,
    rate: options.rate,
    transactions,
  };
  const writer = await runInChild<WriterJob, WriterResult>(WRITER, job, {
    cleanup: options.cleanup,
    timeoutMs: (transactions / options.rate) * 1000 * 3 + 30_000,
  });
  await pollUntil(() => arrived === transactions, DRAIN_TIMEOUT_MS);
  await stopConnector();

  const fromCommitReturned: number[] = [];
  const fromCommitTimestamp: number[] = [];
  for (let k = warmup; k < transactions; k++) {
    const arrival = arrivalsMs[k]!;
    if (Number.isNaN(arrival)) continue;
    fromCommitReturned.push(arrival - writer.commitTimesMs[k]!);
    fromCommitTimestamp.push(arrival - commitTimestampsMs[k]!);
  }
  const measuredStart = writer.scheduleStartMs + warmup * writer.intervalMs;
  const lastCommit = Math.max(...writer.commitTimesMs.slice(warmup));
  return {
    rate: options.rate,
    seconds: options.seconds,
    achievedRate: (transactions - warmup) / ((lastCommit - measuredStart) / 1000),
    measured: transactions - warmup,
    delivered: fromCommitReturned.length,
    fromCommitReturned: distribution(fromCommitReturned),
    fromCommitTimestamp: distribution(fromCommitTimestamp),
    maxStartLagMs: writer.maxStartLagMs,
  };
}

function distribution(values: number[]): LatencyStats {
  const sorted = values.sort((a, b) => a - b);
  return {
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Polls `condition` every 10 ms; false if it still does not hold after `timeoutMs`. */
async function pollUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
