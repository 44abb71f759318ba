import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  CDC_ENVIRONMENT,
  CONNECTOR_DEFAULTS,
  cdcConfigSchema,
  createConnector,
  createKafkaSink,
  createStdoutSink,
  dropCdcResources,
  formatBytes,
  listSlots,
  requestIncrementalSnapshot,
  startStatusServer,
  type CdcConfig,
  type ConnectorOptions,
  type DroppedCdcResources,
  type Sink,
  type SlotInfo,
} from '../../cdc/index.js';
import { ConfigError, createLogger, ficusVersion, type Logger } from '../../common/index.js';
import type { Command, Subcommand } from '../command.js';
import { parseFlags } from '../command.js';
import { readConfigFile, resolveConfig } from '../config.js';
import { stopOnSignal } from '../lifecycle.js';

const sourceOptions = `  --config FILE             YAML file; its databaseUrl is used
  --database-url URL        source Postgres                           env DATABASE_URL (required)
  -h, --help                show this help`;

const subcommands: readonly Subcommand[] = [
  {
    name: 'snapshot',
    summary: 'ask the running connectors for an incremental snapshot of tables',
    help: `Usage: ficus cdc snapshot --table SCHEMA.TABLE [--table ...] [--database-url URL]
                          [--signal-table NAME]

Asks the running connectors for an incremental snapshot of the tables: inserts an
execute-snapshot signal into the signal table (Debezium's signal.data.collection). Their
existing rows follow as op "r" events while streaming goes on. Prints the signal's id.

Options:
  --table SCHEMA.TABLE      a table to snapshot; repeat for more (required)
  --signal-table NAME       schema.table the connectors read signals from
                            (default public.ficus_signal)             env FICUS_CDC_SIGNAL_TABLE
${sourceOptions}`,
  },
  {
    name: 'slots',
    summary: "list the logical replication slots, their retained WAL, and which are ficus's",
    help: `Usage: ficus cdc slots [--database-url URL] [--json]

Lists every logical replication slot on the server: its database, whether a process streams
from it (pid and application), the WAL it keeps on disk (current position minus restart_lsn),
and whether it is ficus's, with its publication. A slot is ficus's when a publication that
ficus created (marked 'ficus:slot=NAME' in its comment) names it; that can only be seen for
slots on the database of --database-url ('?' for the others).

An inactive slot keeps all WAL from its position on until it is dropped: drop slots whose
connector is gone with 'ficus cdc drop-slot NAME'.

Options:
  --json                    print the slots as JSON
${sourceOptions}`,
  },
  {
    name: 'drop-slot',
    summary: 'drop a ficus replication slot and its publication',
    help: `Usage: ficus cdc drop-slot NAME [--database-url URL] [--force] [--offsets-file FILE]
                           [--publication NAME]

Drops the logical replication slot NAME and the publications ficus created for it (marked
'ficus:slot=NAME'), so Postgres may recycle the WAL the slot kept. Publications ficus did not
create are never dropped. Prints what it dropped.

Refuses, and drops nothing, when the slot is active (stop its connector first: the message names
the pid and application), does not exist (the message lists the slots), is on another database
(connect to that one: logical slots are dropped from their own database), or was not created by
ficus (unless --force).

Options:
  --force                   drop the slot even though ficus did not create it (its
                            publications stay)
  --offsets-file FILE       also delete this connector offsets file, if it records slot NAME
                            (a leftover file is harmless: without its slot, the connector
                            starts afresh with a new snapshot)
  --publication NAME        drop only this one of the slot's ficus publications
${sourceOptions}`,
  },
];

const help = `Usage: ficus cdc [options]
       ficus cdc snapshot --table SCHEMA.TABLE [--table ...] [--database-url URL] [--signal-table NAME]
       ficus cdc slots [--database-url URL] [--json]
       ficus cdc drop-slot NAME [--database-url URL] [--force] [--offsets-file FILE]

Streams every committed row change of a Postgres database as Debezium-format change events
(logical replication with pgoutput), at least once, to Kafka or to stdout. On first start it
takes a consistent snapshot of the captured tables, then streams.

Subcommands (run 'ficus cdc <subcommand> --help' for each one's own help):
${subcommands.map((sub) => `  ${sub.name.padEnd(10)} ${sub.summary}`).join('\n')}

Each connector creates a replication slot and a publication (marked as ficus's) in the source
database; a slot whose connector is gone keeps WAL until it is dropped. A running connector
warns (log and /status) about inactive ficus slots over --inactive-slot-warn-bytes.

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
  --schemas-enable          keys and values as Kafka Connect JSON with schemas,
                            {"schema","payload"} (Connect key/value.converter.schemas.enable
                            =true; default off)                       env FICUS_CDC_SCHEMAS_ENABLE
  --inactive-slot-warn-bytes SIZE
                            warn about inactive ficus slots retaining more WAL than this
                            (bytes, or 512MB, 1GB; default 1GB; 0 = no check)
                                                                      env FICUS_CDC_INACTIVE_SLOT_WARN_BYTES
  --log-level LEVEL         fatal|error|warn|info|debug|trace|silent (default info)
                                                                      env FICUS_LOG_LEVEL
  -h, --help                show this help

Config-file-only settings (Debezium's name in brackets): columnExcludeList [column.exclude.list],
snapshotFetchSize, heartbeatIntervalMs [heartbeat.interval.ms, default 10000],
heartbeatActionQuery [heartbeat.action.query], statusIntervalMs (how often a status update,
with the confirmed position, goes to Postgres regardless, default 10000), flushConfirmIntervalMs
(once the sink has accepted new changes, their position is confirmed to the slot within this
many ms, so a restart after a crash re-sends little; default 200; 0 = only every
statusIntervalMs), tombstonesOnDelete [tombstones.on.delete],
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
    'inactive-slot-warn-bytes': { type: 'string' },
    'schemas-enable': { type: 'boolean' },
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
      schemasEnable: 'schemas-enable',
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
      inactiveSlotWarnBytes: flags['inactive-slot-warn-bytes'],
      schemasEnable: flags['schemas-enable'],
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

const slotsRequestSchema = cdcConfigSchema
  .pick({ databaseUrl: true })
  .extend({ json: z.boolean() });

/** What `ficus cdc slots` needs. */
export type SlotsRequest = z.output<typeof slotsRequestSchema>;

const dropSlotRequestSchema = cdcConfigSchema.pick({ databaseUrl: true }).extend({
  force: z.boolean(),
  offsetsFile: z.string().min(1).optional(),
  publication: z.string().min(1).max(63).optional(),
});

/** What `ficus cdc drop-slot` needs. */
export type DropSlotRequest = z.output<typeof dropSlotRequestSchema> & { readonly slot: string };

/** Reads `ficus cdc slots` flags, environment and config file. */
export async function parseSlotsArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<SlotsRequest> {
  const flags = parseFlags('cdc slots', argv, {
    config: { type: 'string' },
    'database-url': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const file = flags.config ? await readConfigFile(flags.config) : undefined;
  return resolveConfig(slotsRequestSchema, {
    file: file && { databaseUrl: file.databaseUrl },
    fileName: flags.config,
    env,
    envNames: { databaseUrl: CDC_ENVIRONMENT.databaseUrl! },
    flags: { databaseUrl: flags['database-url'], json: flags.json ?? false },
  });
}

/** Reads `ficus cdc drop-slot NAME` flags, environment and config file. */
export async function parseDropSlotArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<DropSlotRequest> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        'database-url': { type: 'string' },
        force: { type: 'boolean' },
        'offsets-file': { type: 'string' },
        publication: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new ConfigError(
      `ficus cdc drop-slot: ${message}. Run 'ficus cdc drop-slot --help' for the options.`,
      { cause: error },
    );
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0)
    throw new ConfigError(
      "slot is required: name the slot to drop, as in 'ficus cdc drop-slot NAME' ('ficus cdc slots' lists them)",
    );
  if (positionals.length > 1)
    throw new ConfigError(
      `ficus cdc drop-slot: unexpected argument ${JSON.stringify(positionals[1])}; it drops one slot at a time`,
    );
  const slot = positionals[0]!;
  if (!/^[a-z0-9_]{1,63}$/.test(slot))
    throw new ConfigError(
      `slot: must be a Postgres slot name (1 to 63 lower-case letters, digits or underscores); got ${JSON.stringify(slot)}`,
    );
  const file = values.config ? await readConfigFile(values.config) : undefined;
  const request = resolveConfig(dropSlotRequestSchema, {
    file: file && { databaseUrl: file.databaseUrl },
    fileName: values.config,
    env,
    envNames: { databaseUrl: CDC_ENVIRONMENT.databaseUrl! },
    flags: {
      databaseUrl: values['database-url'],
      force: values.force ?? false,
      offsetsFile: values['offsets-file'],
      publication: values.publication,
    },
  });
  return Object.freeze({ ...request, slot });
}

/** `ficus cdc slots` as a table: one line per slot. */
export function formatSlotsTable(slots: readonly SlotInfo[]): string {
  if (slots.length === 0) return 'no logical replication slots on this server';
  const rows = [
    ['SLOT', 'DATABASE', 'ACTIVE', 'RETAINED WAL', 'WAL STATUS', 'FICUS', 'PUBLICATION'],
    ...slots.map((slot) => [
      slot.name,
      slot.database,
      slot.active
        ? `pid ${slot.activePid ?? '?'}${slot.applicationName ? ` (${slot.applicationName})` : ''}`
        : 'no',
      slot.retainedBytes === null ? '-' : formatBytes(slot.retainedBytes),
      slot.walStatus ?? '-',
      slot.ficus === null ? '?' : slot.ficus ? 'yes' : 'no',
      slot.publications.join(', ') || '-',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** What `ficus cdc drop-slot` prints once it has dropped the slot. */
export function formatDropped(dropped: DroppedCdcResources): string {
  return [
    `dropped replication slot '${dropped.slot}' (database '${dropped.database}')${dropped.ficus ? '' : ', which ficus did not create (--force); its publications were kept'}`,
    ...dropped.droppedPublications.map((name) => `dropped publication '${name}'`),
    ...dropped.keptPublications.map((kept) => `kept publication '${kept.name}': ${kept.reason}`),
    ...(dropped.deletedOffsetsFile ? [`deleted offsets file ${dropped.deletedOffsetsFile}`] : []),
  ].join('\n');
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
    inactiveSlotWarnBytes: config.inactiveSlotWarnBytes,
    schemasEnable: config.schemasEnable,
    maxBatchSize: CONNECTOR_DEFAULTS.maxBatchSize,
    maxQueuedRecords: CONNECTOR_DEFAULTS.maxQueuedRecords,

    statusIntervalMs: config.statusIntervalMs,
    flushConfirmIntervalMs: config.flushConfirmIntervalMs,
    sink,
    logger,
    version: ficusVersion(),
  };
}

export const cdcCommand: Command = {
  name: 'cdc',
  summary: 'stream Postgres row changes as Debezium events (status port 3200)',
  help,
  subcommands,
  env: Object.values(CDC_ENVIRONMENT),
  parse(argv, env) {
    const parsers = {
      snapshot: parseSnapshotArgs,
      slots: parseSlotsArgs,
      'drop-slot': parseDropSlotArgs,
    } as const;
    const sub = parsers[argv[0] as keyof typeof parsers] as
      ((argv: readonly string[], env: NodeJS.ProcessEnv) => Promise<unknown>) | undefined;
    return sub ? sub(argv.slice(1), env) : parseCdcArgs(argv, env);
  },
  async run(argv, env) {
    if (argv[0] === 'slots') {
      const request = await parseSlotsArgs(argv.slice(1), env);
      const slots = await listSlots(request.databaseUrl);
      process.stdout.write(
        `${request.json ? JSON.stringify(slots, null, 2) : formatSlotsTable(slots)}\n`,
      );
      return;
    }
    if (argv[0] === 'drop-slot') {
      const request = await parseDropSlotArgs(argv.slice(1), env);
      const dropped = await dropCdcResources(request);
      process.stdout.write(`${formatDropped(dropped)}\n`);
      return;
    }
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
