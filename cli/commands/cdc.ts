import path from 'node:path';
import { z } from 'zod';
import {
  CDC_ENVIRONMENT,
  CONNECTOR_DEFAULTS,
  cdcConfigSchema,
  createConnector,
  createKafkaSink,
  createStdoutSink,
  requestIncrementalSnapshot,
  startStatusServer,
  type CdcConfig,
  type ConnectorOptions,
  type Sink,
} from '../../cdc/index.js';
import { ConfigError, createLogger, ficusVersion, type Logger } from '../../common/index.js';
import type { Command } from '../command.js';
import { parseFlags } from '../command.js';
import { readConfigFile, resolveConfig } from '../config.js';
import { stopOnSignal } from '../lifecycle.js';

const help = `Usage: ficus cdc [options]
       ficus cdc snapshot --table SCHEMA.TABLE [--table ...] [--database-url URL] [--signal-table NAME]

Streams every committed row change of a Postgres database as Debezium-format change events
(logical replication with pgoutput), at least once, to Kafka or to stdout. On first start it
takes a consistent snapshot of the captured tables, then streams.

'ficus cdc snapshot' asks the running connectors for an incremental snapshot of the tables (an
execute-snapshot signal in the signal table): their existing rows follow as op "r" events while
streaming goes on.

Options (each also a camelCase key in the --config YAML file):
  --config FILE             YAML file with any of the settings below
  --database-url URL        source Postgres (wal_level=logical)       env DATABASE_URL (required)
  --slot NAME               replication slot (default ficus)          env FICUS_CDC_SLOT
  --publication NAME        publication (default ficus)               env FICUS_CDC_PUBLICATION
  --topic-prefix PREFIX     topics are PREFIX.schema.table (default ficus)
                                                                      env FICUS_CDC_TOPIC_PREFIX
  --tables LIST             comma-separated regular expressions over schema.table
                            (Debezium table.include.list; default every table)
                                                                      env FICUS_CDC_TABLES
  --snapshot MODE           initial | never | initial_only (default initial)
                                                                      env FICUS_CDC_SNAPSHOT
  --sink KIND               kafka | stdout (default kafka when brokers are set, else stdout)
                                                                      env FICUS_CDC_SINK
  --kafka-brokers LIST      host:port,...                             env KAFKA_BROKERS
  --status-port N           HTTP status and metrics (default 3200; 0 = any)
                                                                      env FICUS_CDC_STATUS_PORT
  --offsets-file FILE       where snapshot progress is kept (default .ficus/cdc/offsets.json)
                                                                      env FICUS_CDC_OFFSETS_FILE
  --signal-table NAME       schema.table for signals, created when missing, or none
                            (Debezium signal.data.collection; default public.ficus_signal)
                                                                      env FICUS_CDC_SIGNAL_TABLE
  --table SCHEMA.TABLE      (ficus cdc snapshot) a table to snapshot; repeat for more
  --log-level LEVEL         fatal|error|warn|info|debug|trace|silent (default info)
                                                                      env FICUS_LOG_LEVEL
  -h, --help                show this help

Config-file-only settings (Debezium's name in brackets): columnExcludeList [column.exclude.list],
snapshotFetchSize, heartbeatIntervalMs [heartbeat.interval.ms, default 10000],
heartbeatActionQuery [heartbeat.action.query], statusIntervalMs (how often the confirmed
position is reported to Postgres, default 10000), tombstonesOnDelete [tombstones.on.delete],
provideTransactionMetadata [provide.transaction.metadata], skippedOperations [skipped.operations],
decimalHandlingMode [decimal.handling.mode, default string], timePrecisionMode
[time.precision.mode], binaryHandlingMode [binary.handling.mode], intervalHandlingMode
[interval.handling.mode], incrementalSnapshotChunkSize [incremental.snapshot.chunk.size,
default 1024], kafkaPartitions, kafkaReplicationFactor, statusHost.

The status endpoint serves /status (JSON), /metrics (Prometheus) and /health. With the stdout
sink, records go to stdout as JSON lines {"topic","key","value"} and logs go to stderr.`;

/** Reads `ficus cdc` flags, environment and config file into a validated config. */
export async function parseCdcArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<CdcConfig> {
  const flags = parseFlags('cdc', argv, {
    config: { type: 'string' },
    'database-url': { type: 'string' },
    slot: { type: 'string' },
    publication: { type: 'string' },
    'topic-prefix': { type: 'string' },
    tables: { type: 'string' },
    snapshot: { type: 'string' },
    sink: { type: 'string' },
    'kafka-brokers': { type: 'string' },
    'status-port': { type: 'string' },
    'offsets-file': { type: 'string' },
    'signal-table': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  const config = resolveConfig(cdcConfigSchema, {
    file: flags.config ? await readConfigFile(flags.config) : undefined,
    fileName: flags.config,
    env,
    envNames: CDC_ENVIRONMENT,
    flagNames: {
      slotName: 'slot',
      publicationName: 'publication',
      tableIncludeList: 'tables',
      snapshotMode: 'snapshot',
    },
    flags: {
      databaseUrl: flags['database-url'],
      slotName: flags.slot,
      publicationName: flags.publication,
      topicPrefix: flags['topic-prefix'],
      tableIncludeList: flags.tables,
      snapshotMode: flags.snapshot,
      sink: flags.sink,
      kafkaBrokers: flags['kafka-brokers'],
      statusPort: flags['status-port'],
      offsetsFile: flags['offsets-file'],
      signalTable: flags['signal-table'],
      logLevel: flags['log-level'],
    },
  });
  if (config.sink === 'kafka' && config.kafkaBrokers.length === 0) {
    throw new ConfigError(
      'kafkaBrokers: the kafka sink needs at least one broker; set KAFKA_BROKERS=host:port or --kafka-brokers',
    );
  }
  return config;
}

const snapshotRequestSchema = cdcConfigSchema
  .pick({ databaseUrl: true, signalTable: true })
  .extend({
    tables: z
      .array(z.string().regex(/^[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*$/, 'each must be schema.table'))
      .min(1, 'name at least one table with --table schema.table'),
  });

/** What `ficus cdc snapshot` needs: the source, its signal table and the tables to snapshot. */
export type SnapshotRequest = z.output<typeof snapshotRequestSchema>;

/** Reads `ficus cdc snapshot` flags, environment and config file. */
export async function parseSnapshotArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<SnapshotRequest> {
  const flags = parseFlags('cdc snapshot', argv, {
    config: { type: 'string' },
    'database-url': { type: 'string' },
    'signal-table': { type: 'string' },
    table: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  const file = flags.config ? await readConfigFile(flags.config) : undefined;
  return resolveConfig(snapshotRequestSchema, {
    file: file && { databaseUrl: file.databaseUrl, signalTable: file.signalTable },
    fileName: flags.config,
    env,
    envNames: {
      databaseUrl: CDC_ENVIRONMENT.databaseUrl!,
      signalTable: CDC_ENVIRONMENT.signalTable!,
    },
    flagNames: { tables: 'table' },
    flags: {
      databaseUrl: flags['database-url'],
      signalTable: flags['signal-table'],
      tables: flags.table ?? [],
    },
  });
}

/** The sink a config asks for: Kafka when brokers are given (or sink: kafka), else stdout. */
export function sinkKindOf(config: CdcConfig): 'kafka' | 'stdout' {
  return config.sink ?? (config.kafkaBrokers.length > 0 ? 'kafka' : 'stdout');
}

/** Turns validated settings and a sink into connector options. */
export function connectorOptionsOf(
  config: CdcConfig,
  sink: Sink,
  logger: Logger,
): ConnectorOptions {
  return {
    databaseUrl: config.databaseUrl,
    slotName: config.slotName,
    publicationName: config.publicationName,
    tableIncludeList: config.tableIncludeList,
    columnExcludeList: config.columnExcludeList,
    topicPrefix: config.topicPrefix,
    snapshotMode: config.snapshotMode,
    snapshotFetchSize: config.snapshotFetchSize,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatActionQuery: config.heartbeatActionQuery,
    tombstonesOnDelete: config.tombstonesOnDelete,
    provideTransactionMetadata: config.provideTransactionMetadata,
    skippedOperations: config.skippedOperations,
    typeOptions: {
      decimalHandling: config.decimalHandlingMode,
      timePrecision: config.timePrecisionMode,
      binaryHandling: config.binaryHandlingMode,
      intervalHandling: config.intervalHandlingMode,
    },
    offsetsFile: path.resolve(config.offsetsFile),
    signalTable: config.signalTable,
    incrementalSnapshotChunkSize: config.incrementalSnapshotChunkSize,
    maxBatchSize: CONNECTOR_DEFAULTS.maxBatchSize,
    maxQueuedRecords: CONNECTOR_DEFAULTS.maxQueuedRecords,

    statusIntervalMs: config.statusIntervalMs,
    sink,
    logger,
    version: ficusVersion(),
  };
}

export const cdcCommand: Command = {
  name: 'cdc',
  summary: 'stream Postgres row changes as Debezium events (status port 3200)',
  help,
  env: Object.values(CDC_ENVIRONMENT),
  parse: (argv, env) =>
    argv[0] === 'snapshot' ? parseSnapshotArgs(argv.slice(1), env) : parseCdcArgs(argv, env),
  async run(argv, env) {
    if (argv[0] === 'snapshot') {
      const request = await parseSnapshotArgs(argv.slice(1), env);
      if (request.signalTable === null)
        throw new ConfigError('signalTable: is none; name the signal table the connector reads');
      const id = await requestIncrementalSnapshot({
        databaseUrl: request.databaseUrl,
        signalTable: request.signalTable,
        tables: request.tables,
      });
      process.stdout.write(
        `asked for an incremental snapshot of ${request.tables.join(', ')} (signal ${id} in ${request.signalTable})\n`,
      );
      return;
    }
    const config = await parseCdcArgs(argv, env);
    const kind = sinkKindOf(config);
    const logger = createLogger({
      name: 'cdc',
      level: config.logLevel,
      destination: kind === 'stdout' ? 'stderr' : 'stdout',
    });
    const sink =
      kind === 'kafka'
        ? createKafkaSink({
            brokers: config.kafkaBrokers,
            partitions: config.kafkaPartitions,
            replicationFactor: config.kafkaReplicationFactor,
            partitionZeroTopics: (topic) => topic.startsWith('__debezium-heartbeat.'),
            logger: logger.child({ sink: 'kafka' }),
          })
        : createStdoutSink();
    const connector = createConnector(connectorOptionsOf(config, sink, logger));
    const status = await startStatusServer({
      connector,
      port: config.statusPort,
      host: config.statusHost,
    });
    // Stopped last first: the connector delivers and confirms what it has, then the endpoint closes.
    stopOnSignal([() => status.close(), () => connector.stop()], logger);
    logger.info({ status: status.url, sink: kind }, 'CDC status endpoint listening');
    try {
      await connector.start();
    } catch (error) {
      await status.close();
      throw error;
    }
    connector.done.catch((error: unknown) => {
      logger.fatal({ err: error }, 'CDC connector failed; exiting');
      void status.close().finally(() => process.exit(1));
    });
  },
};
