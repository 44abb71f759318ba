/**
 * `npm run bench:cdc`: how fast ficus CDC streams row changes, against how fast Postgres itself
 * decodes the same WAL, plus commit-to-sink latency at a steady rate. Settings: ./cdc/config.ts.
 *
 * One throwaway Postgres; N inserts written once, after every slot was created, so each slot
 * holds the same N changes. Each throughput row is timed `repeat` times (rounds interleave the
 * rows, so a noisy neighbour hits them alike) and reports the median:
 *
 *   Postgres decode (ceiling)  pg_logical_slot_peek_binary_changes over the slot: pgoutput
 *                              decoding inside the server, no network, slot not moved
 *   ficus decode only          START_REPLICATION into ficus's ReplicationConnection, each message
 *                              parsed by decodePgoutput; no records built, nothing confirmed
 *   ficus → null / stdout /    the whole connector (snapshot mode never) from its own slot to
 *   Kafka                      a sink; timed from start() until the sink accepted all N events
 *
 * ficus runs happen in a fresh child process each (./cdc/child.ts), which gives the peak RSS and
 * CPU columns. Then the latency run (./cdc/latency.ts).
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { isFicusError } from '../common/index.js';
import { runInChild } from './cdc/child.js';
import { CleanupStack, describeError } from './cdc/cleanup.js';
import { readBenchConfig, type BenchConfig } from './cdc/config.js';
import {
  createSlotWithConnector,
  TOPIC_PREFIX,
  type BenchConnectorTarget,
} from './cdc/connector-options.js';
import { createTopic, startKafka, type KafkaTarget } from './cdc/kafka.js';
import { measureLatency, type LatencyResult } from './cdc/latency.js';
import { measureRawDecode } from './cdc/raw-decode.js';
import {
  latencyTable,
  medianRate,
  ratioLines,
  throughputTable,
  type ThroughputRow,
} from './cdc/report.js';
import { rateOf, type ThroughputSample } from './cdc/samples.js';
import {
  createPublication,
  createSqlSlot,
  dropSlots,
  startSource,
  THROUGHPUT_TABLE,
  waitForSlotIdle,
  writeRows,
  type BenchSource,
} from './cdc/source.js';
import type { SinkChoice, ThroughputJob } from './cdc/throughput-child.js';

const THROUGHPUT_CHILD = new URL('./cdc/throughput-child.ts', import.meta.url);
const PUBLICATION = 'ficus_bench';
const RAW_SLOT = 'bench_raw';
const DECODE_SLOT = 'bench_decode';

/** A throughput row, how to prepare it before the changes are written, and how to sample it. */
interface PlannedRow {
  readonly row: ThroughputRow;
  /** Creates the slots the row reads, so that each holds every change written afterwards. */
  prepare(): Promise<void>;
  /** Takes one sample in round `round` (1-based); absent for a skipped row. */
  readonly measure?: (round: number) => Promise<ThroughputSample>;
}

/** Everything the report needs. */
interface BenchResults {
  readonly ceiling: ThroughputRow;
  readonly rows: ThroughputRow[];
  readonly latency: LatencyResult;
  readonly serverVersion: string;
  readonly kafka: KafkaTarget;
}

/** What the throughput table's less obvious columns mean. */
const COLUMN_NOTES = [
  'peak RSS, ficus CPU: the child process that ran ficus (CPU: 100% = one core busy)',
  'Postgres CPU: the walsender streaming the slot (for the ceiling: the backend running the SQL)',
  'PG waits on ficus: share of 10 ms samples in which the walsender was blocked on a full socket',
  '  (wait event WalSenderWriteData); near 0% means Postgres, not ficus, set the pace',
];

function progress(message: string): void {
  console.error(`· ${message}`);
}

async function main(): Promise<void> {
  const config = readBenchConfig();
  const cleanup = new CleanupStack();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: cleaning up`);
      void cleanup.runAll().finally(() => process.exit(130));
    });
  }
  const startedAt = performance.now();
  try {
    if (config.cpuProfileDir) await mkdir(config.cpuProfileDir, { recursive: true });
    const results = await runBenchmark(config, cleanup);
    printReport(config, results, performance.now() - startedAt);
  } finally {
    progress('cleaning up');
    await cleanup.runAll();
  }
}

async function runBenchmark(config: BenchConfig, cleanup: CleanupStack): Promise<BenchResults> {
  progress(config.kafka ? 'starting Postgres and a Kafka broker' : 'starting Postgres');
  const [source, kafka] = await startServers(config, cleanup);
  cleanup.defer('drop the replication slots', () => dropSlots(source.client));
  await createPublication(source.client, PUBLICATION, THROUGHPUT_TABLE);

  const plan = planRows(config, source, kafka, cleanup);
  progress('creating replication slots');
  for (const planned of plan) await planned.prepare();
  progress(`writing ${config.events} inserts, ${config.rowsPerTransaction} per transaction`);
  await writeRows(source.client, config.events, config.rowsPerTransaction);
  if (kafka.available)
    await createTopic(kafka.brokers, `${TOPIC_PREFIX}.public.${THROUGHPUT_TABLE}`);

  // Rounds interleave the rows, so that a noisy neighbour slows them alike.
  for (let round = 1; round <= config.repeat; round++) {
    for (const { row, measure } of plan) {
      if (!measure) continue;
      const sample = await measure(round);
      row.samples.push(sample);
      progress(`round ${round}: ${row.label}: ${Math.round(rateOf(sample))} events/s`);
    }
  }

  progress(`latency: ${config.latencyRate} tx/s for ${config.latencySeconds} s (+1 s warm-up)`);
  const latency = await measureLatency({
    url: source.url,
    rate: config.latencyRate,
    seconds: config.latencySeconds,
    flushConfirmIntervalMs: config.flushConfirmIntervalMs,
    cleanup,
  });
  const rows = plan.map(({ row }) => row);
  return { ceiling: rows[0]!, rows, latency, serverVersion: source.serverVersion, kafka };
}

/**
 * The throughput rows, ceiling first. The ceiling and decode-only rows never move their slot, so
 * one slot serves every round; a connector consumes what it streams, so it gets a slot per round.
 */
function planRows(
  config: BenchConfig,
  source: BenchSource,
  kafka: KafkaTarget,
  cleanup: CleanupStack,
): PlannedRow[] {
  const target = (slot: string): BenchConnectorTarget => ({
    url: source.url,
    slot,
    publication: PUBLICATION,
    table: THROUGHPUT_TABLE,
    flushConfirmIntervalMs: config.flushConfirmIntervalMs,
  });
  const inChild = async (job: ThroughputJob) => {
    await waitForSlotIdle(source.client, job.slot);
    return runInChild<ThroughputJob, ThroughputSample>(THROUGHPUT_CHILD, job, {
      cleanup,
      timeoutMs: 60_000 + config.events, // gives up below 1 000 events/s
      cpuProfileDir: config.cpuProfileDir,
    });
  };
  const connectorRow = (label: string, sink: SinkChoice): PlannedRow => {
    const slots = Array.from(
      { length: config.repeat },
      (_, index) => `bench_${sink.kind}_${index + 1}`,
    );
    return {
      row: { label, samples: [] },
      prepare: async () => {
        for (const slot of slots) await createSlotWithConnector(target(slot));
      },
      measure: (round) =>
        inChild({ mode: 'connector', ...target(slots[round - 1]!), events: config.events, sink }),
    };
  };
  return [
    {
      row: { label: 'Postgres pgoutput decode (ceiling)', samples: [] },
      prepare: () => createSqlSlot(source.client, RAW_SLOT),
      measure: () => measureRawDecode(source.client, RAW_SLOT, PUBLICATION, config.events),
    },
    {
      row: { label: 'ficus decode only', samples: [] },
      prepare: () => createSqlSlot(source.client, DECODE_SLOT),
      measure: () =>
        inChild({ mode: 'decode-only', ...target(DECODE_SLOT), events: config.events }),
    },
    connectorRow('ficus → null sink', { kind: 'null' }),
    connectorRow('ficus → stdout sink (discarded)', { kind: 'stdout' }),
    kafka.available
      ? connectorRow('ficus → Kafka', { kind: 'kafka', brokers: kafka.brokers })
      : {
          row: { label: 'ficus → Kafka', samples: [], skipped: kafka.reason },
          prepare: () => Promise.resolve(),
        },
  ];
}

/**
 * Starts Postgres and (when wanted) the broker side by side. Both are awaited before anything
 * fails, so whatever did start is registered for cleanup.
 */
async function startServers(
  config: BenchConfig,
  cleanup: CleanupStack,
): Promise<[BenchSource, KafkaTarget]> {
  const [source, kafka] = await Promise.allSettled([
    startSource(cleanup),
    config.kafka
      ? startKafka(cleanup)
      : Promise.resolve<KafkaTarget>({ available: false, reason: 'FICUS_BENCH_KAFKA=false' }),
  ]);
  if (source.status === 'rejected') throw source.reason;
  if (kafka.status === 'rejected') throw kafka.reason;
  return [source.value, kafka.value];
}

function printReport(config: BenchConfig, results: BenchResults, elapsedMs: number): void {
  const ceiling = medianRate(results.ceiling) ?? Number.NaN;
  const kafka = results.kafka.available ? `Kafka ${results.kafka.version}` : 'no Kafka';
  console.log('');
  console.log(
    `ficus CDC benchmark: ${config.events} inserts (${config.rowsPerTransaction} per transaction), ` +
      `median of ${config.repeat} runs, flushConfirmIntervalMs ${config.flushConfirmIntervalMs ?? 'default'}`,
  );
  console.log(
    `Postgres ${results.serverVersion}, Node ${process.version}, ${availableParallelism()} CPUs, ${kafka}`,
  );
  console.log('');
  console.log(throughputTable(results.rows, ceiling));
  console.log('');
  for (const line of ratioLines(results.rows, results.ceiling)) console.log(line);
  console.log('');
  console.log(latencyTable(results.latency));
  console.log('');
  for (const line of COLUMN_NOTES) console.log(line);
  console.log(`total ${Math.round(elapsedMs / 1000)} s`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:cdc failed: ${describeError(error)}`);
    if (!isFicusError(error) && error instanceof Error && error.stack) console.error(error.stack);
    process.exit(1);
  },
);
