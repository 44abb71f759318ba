/**
 * Child process entry for the latency run's writer (see ./child.ts): commits one small insert per
 * transaction on a fixed schedule and records when each COMMIT returned.
 *
 * Transaction k is due at `start + k / rate` whatever happened before it, so a slow commit makes
 * the following ones late but never shifts the schedule (no sleep-per-transaction drift). A few
 * connections take turns, so one slow commit does not hold up the next.
 */
import pg from 'pg';
import { serveOneJob } from './child.js';
import { wallClockMs } from './samples.js';

/** What the writer is asked to do. */
export interface WriterJob {
  readonly url: string;
  readonly table: string;
  /** Transactions per second. */
  readonly rate: number;
  /** How many transactions; row k (0-based) gets id k + 1. */
  readonly transactions: number;
}

/** When each transaction was due and committed, in {@link wallClockMs} time. */
export interface WriterResult {
  readonly scheduleStartMs: number;
  readonly intervalMs: number;
  /** Index k: when the COMMIT of row id k + 1 returned. */
  readonly commitTimesMs: number[];
  /** Most a transaction started after its due time. */
  readonly maxStartLagMs: number;
}

/** Connections taking turns at the schedule. */
const CONNECTIONS = 4;
/** Head start before the first transaction is due, so it is not late on arrival. */
const LEAD_MS = 100;

async function runWriter(job: WriterJob): Promise<WriterResult> {
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const client = new pg.Client({ connectionString: job.url });
      await client.connect();
      return client;
    }),
  );
  const intervalMs = 1000 / job.rate;
  const commitTimesMs = new Array<number>(job.transactions).fill(0);
  const scheduleStartMs = wallClockMs() + LEAD_MS;
  let next = 0;
  let maxStartLagMs = 0;

  const takeTurns = async (client: pg.Client) => {
    for (let k = next++; k < job.transactions; k = next++) {
      const due = scheduleStartMs + k * intervalMs;
      const wait = due - wallClockMs();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      maxStartLagMs = Math.max(maxStartLagMs, wallClockMs() - due);
      // One statement outside BEGIN is one transaction: it returns once committed.
      await client.query({
        name: 'bench-latency-insert',
        text: `INSERT INTO ${job.table} (id, status, amount, created_at) VALUES ($1, 'new', $2, now())`,
        values: [k + 1, (k % 100_000) / 100],
      });
      commitTimesMs[k] = wallClockMs();
    }
  };
  try {
    await Promise.all(clients.map(takeTurns));
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  return { scheduleStartMs, intervalMs, commitTimesMs, maxStartLagMs };
}

serveOneJob((job: WriterJob) => runWriter(job));
