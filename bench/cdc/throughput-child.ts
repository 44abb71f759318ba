/**
 * Child process entry for one ficus throughput run (see ./child.ts): streams the pre-written
 * changes from a slot and times how long until the last of `events` row changes has arrived.
 *
 *   decode-only  ficus's ReplicationConnection + decodePgoutput, nothing else: the cost of
 *                receiving and parsing the stream in Node
 *   connector    the whole connector (decode, Debezium records, batching, confirming) into a
 *                null, stdout (discarding) or Kafka sink; timed until the sink has accepted all
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import {
  createConnector,
  createEmbeddedSink,
  createKafkaSink,
  createStdoutSink,
  isChangeEventValue,
  type ChangeRecord,
  type Sink,
} from '../../cdc/index.js';
import { decodePgoutput } from '../../cdc/replication/pgoutput.js';
import { ReplicationConnection } from '../../cdc/replication/stream.js';
import { serveOneJob } from './child.js';
import { benchConnectorOptions, type BenchConnectorTarget } from './connector-options.js';
import { sampleWalsenderWaits, walsenderCpuPercent } from './server-probe.js';
import type { ThroughputSample } from './samples.js';

/** Where a connector run delivers. */
export type SinkChoice =
  | { readonly kind: 'null' }
  | { readonly kind: 'stdout' }
  | { readonly kind: 'kafka'; readonly brokers: readonly string[] };

/** One throughput run, as the parent sends it. */
export type ThroughputJob =
  | (BenchConnectorTarget & { readonly mode: 'decode-only'; readonly events: number })
  | (BenchConnectorTarget & {
      readonly mode: 'connector';
      readonly events: number;
      readonly sink: SinkChoice;
    });

/** A run being measured; `finish()` right when the last event has arrived. */
interface RunWatch {
  finish(): Promise<ThroughputSample>;
}

/**
 * Starts measuring a run: wall time, CPU share and peak RSS of this process, and, through the
 * `monitor` session, the CPU share of the walsender and how long it was blocked on this process.
 */
function watchRun(job: ThroughputJob, monitor: pg.Client): RunWatch {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const stopSampling = sampleWalsenderWaits(monitor, job.slot);
  return {
    async finish() {
      const elapsedMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const peakRssMiB = process.resourceUsage().maxRSS / 1024;
      return {
        events: job.events,
        elapsedMs,
        cpuPercent: ((used.user + used.system) / 1000 / elapsedMs) * 100,
        peakRssMiB,
        serverBlockedPercent: await stopSampling(),
        serverCpuPercent: await walsenderCpuPercent(monitor, job.slot, elapsedMs),
      };
    },
  };
}

/** Receives and decodes the stream until `job.events` inserts have been seen; builds no events. */
async function runDecodeOnly(job: ThroughputJob, monitor: pg.Client): Promise<ThroughputSample> {
  const watch = watchRun(job, monitor);
  const replication = await ReplicationConnection.connect(job.url);
  let inserts = 0;
  let reachedAll!: () => void;
  const reached = new Promise<void>((resolve) => (reachedAll = resolve));
  const stream = replication.start(
    { slot: job.slot, publications: [job.publication], startLsn: 0n },
    {
      onData(_lsn, payload) {
        if (decodePgoutput(payload).tag === 'insert' && ++inserts === job.events) reachedAll();
      },
    },
  );
  await Promise.race([
    reached,
    stream.ended.then(() => {
      throw new Error(`stream ended after ${inserts} of ${job.events} inserts`);
    }),
  ]);
  const sample = await watch.finish();
  await stream.stop();
  return sample;
}

/** A Writable that accepts and drops everything, standing in for a terminal or a pipe. */
function discardingOutput(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

function createSink(choice: SinkChoice): Sink {
  switch (choice.kind) {
    case 'null':
      return createEmbeddedSink([() => undefined]);
    case 'stdout':
      return createStdoutSink({ output: discardingOutput() });
    case 'kafka':
      return createKafkaSink({ brokers: choice.brokers, clientId: 'ficus-bench' });
  }
}

/** Wraps `sink` to count change events once the sink has accepted them (what the connector waits for). */
function countingSink(sink: Sink, onDelivered: (events: number) => void): Sink {
  return {
    kind: sink.kind,
    start: () => sink.start(),
    stop: () => sink.stop(),
    async write(records: readonly ChangeRecord[]) {
      await sink.write(records);
      let events = 0;
      for (const record of records) if (isChangeEventValue(record.value)) events++;
      onDelivered(events);
    },
  };
}

/** Runs the connector from its slot until the sink has accepted `job.events` change events. */
async function runConnector(
  job: Extract<ThroughputJob, { mode: 'connector' }>,
  monitor: pg.Client,
): Promise<ThroughputSample> {
  let delivered = 0;
  let reachedAll!: () => void;
  const reached = new Promise<void>((resolve) => (reachedAll = resolve));
  const sink = countingSink(createSink(job.sink), (events) => {
    delivered += events;
    if (delivered >= job.events) reachedAll();
  });
  const connector = createConnector(benchConnectorOptions(job, sink));
  const watch = watchRun(job, monitor);
  try {
    await connector.start();
    await Promise.race([
      reached,
      connector.done.then(() => {
        throw new Error(`connector stopped after ${delivered} of ${job.events} events`);
      }),
    ]);
    return await watch.finish();
  } finally {
    await connector.stop();
  }
}

/** Runs `job` with a plain session on the side, for watching its walsender. */
async function runJob(job: ThroughputJob): Promise<ThroughputSample> {
  const monitor = new pg.Client({ connectionString: job.url });
  await monitor.connect();
  try {
    return job.mode === 'decode-only'
      ? await runDecodeOnly(job, monitor)
      : await runConnector(job, monitor);
  } finally {
    await monitor.end();
  }
}

serveOneJob(runJob);
