import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { z } from 'zod';
import { byteSizeSchema, dropCdcResources } from '../../cdc/index.js';
import { ConfigError, createLogger, FicusError } from '../../common/index.js';
import {
  createConnectorSource,
  createKafkaSource,
  SERVICE_DEFINITIONS,
  startExtractedService,
  type RecordSource,
  type ServiceDefinition,
} from '../../extracted-services/index.js';
import type { Command } from '../command.js';
import { parseFlags } from '../command.js';
import {
  listSchema,
  logLevelSchema,
  portSchema,
  postgresUrlSchema,
  readConfigFile,
  resolveConfig,
} from '../config.js';
import { stopOnSignal } from '../lifecycle.js';
import { BUILT_IN_SERVICES, leadingName, serviceOfArgs } from '../service-definition.js';

const serviceConfigSchema = z.object({
  module: z.string().min(1).optional(),
  databaseUrl: postgresUrlSchema.optional(),
  sourceDatabaseUrl: postgresUrlSchema.optional(),
  source: z
    .enum(['kafka', 'connector', 'none'], { error: 'must be kafka, connector or none' })
    .optional(),
  kafkaBrokers: listSchema.default([]),
  topicPrefix: z.string().min(1).default('ficus'),
  groupId: z.string().min(1).optional(),
  slot: z
    .string()
    .regex(/^[a-z0-9_]{1,63}$/, 'must be lower-case letters, digits and _ (at most 63)')
    .optional(),
  offsetsFile: z.string().min(1).optional(),
  port: portSchema.optional(),
  host: z.string().min(1).default('127.0.0.1'),
  logLevel: logLevelSchema.default('info'),
  inactiveSlotWarnBytes: byteSizeSchema.optional(),
});

/** Settings of `ficus service <name>`, after flags, environment and config file are merged. */
export type ServiceConfig = z.output<typeof serviceConfigSchema> & {
  readonly definition: ServiceDefinition;
  readonly source: 'kafka' | 'connector' | 'none';
  /** Remove what ficus created for the service's source instead of running it. */
  readonly teardown: boolean;
};

const serviceEnv = {
  module: 'FICUS_SERVICE_MODULE',
  databaseUrl: 'DATABASE_URL',
  sourceDatabaseUrl: 'FICUS_SOURCE_DATABASE_URL',
  source: 'FICUS_SERVICE_SOURCE',
  kafkaBrokers: 'KAFKA_BROKERS',
  topicPrefix: 'FICUS_CDC_TOPIC_PREFIX',
  groupId: 'FICUS_SERVICE_GROUP',
  slot: 'FICUS_SERVICE_SLOT',
  offsetsFile: 'FICUS_SERVICE_OFFSETS_FILE',
  port: 'FICUS_SERVICE_PORT',
  host: 'FICUS_SERVICE_HOST',
  logLevel: 'FICUS_LOG_LEVEL',
  inactiveSlotWarnBytes: 'FICUS_CDC_INACTIVE_SLOT_WARN_BYTES',
};

const help = `Usage: ficus service <name> [options]
       ficus service --module FILE [options]

Runs one extracted service on its own database, kept in sync with the monolith's tables by
CDC change events, and serves its endpoints plus /_ficus/status, /_ficus/reconcile and
/_ficus/health.

ficus's own services:
${SERVICE_DEFINITIONS.map((d) => `  ${d.name.padEnd(15)} port ${d.defaultPort}  ${d.summary}`).join('\n')}

A service of your own is a module whose default export is defineService({ ... }) from
'ficus' (TypeScript or JavaScript; see docs/extract-your-first-table.md), or a YAML file of
plain table copies (name, port, tables: source, key, columns; see extracted-services/README.md).

Options (each also a camelCase key in the --config YAML file):
  --config FILE               YAML file with any of the settings below
  --module FILE               your service: ./wishlists.ts, .js or .yaml
                                                                    env FICUS_SERVICE_MODULE
  --database-url URL          the service's own Postgres            env DATABASE_URL (required)
  --source-database-url URL   the monolith's Postgres: reconciliation reads it, the connector
                              source streams from it, the reviews write-back writes to it
                                                                    env FICUS_SOURCE_DATABASE_URL
  --source KIND               where change events come from:
                                kafka      a consumer group on the CDC topics (backfills a new
                                           group from the start of each topic)
                                connector  a CDC connector of its own on the monolith's database
                                           (own slot; a new slot starts with a snapshot)
                                none       serve what the database holds
                              (default kafka when brokers are set, else connector when the
                              source database is set)                env FICUS_SERVICE_SOURCE
  --kafka-brokers LIST        host:port,...                         env KAFKA_BROKERS
  --topic-prefix PREFIX       the CDC connector's topic prefix (default ficus)
                                                                    env FICUS_CDC_TOPIC_PREFIX
  --group-id ID               Kafka consumer group (default ficus-<name>)
                                                                    env FICUS_SERVICE_GROUP
  --slot NAME                 replication slot and publication of the connector source
                              (default ficus_<name>)                env FICUS_SERVICE_SLOT
  --offsets-file FILE         snapshot progress of the connector source
                              (default .ficus/<name>/offsets.json)  env FICUS_SERVICE_OFFSETS_FILE
  --port N                    port (default: the service's, above)  env FICUS_SERVICE_PORT
  --host ADDR                 address to bind (default 127.0.0.1)   env FICUS_SERVICE_HOST
  --log-level LEVEL           fatal|error|warn|info|debug|trace|silent (default info)
                                                                    env FICUS_LOG_LEVEL
  --inactive-slot-warn-bytes SIZE
                              connector source: warn (log and status) about inactive ficus
                              slots retaining more WAL than this (512MB, 1GB; default 1GB;
                              0 = no check)         env FICUS_CDC_INACTIVE_SLOT_WARN_BYTES
  --teardown                  do not run: remove what ficus created for the service's source
                              (connector: its replication slot, its publication when ficus
                              created it, and its offsets file; kafka: its consumer group),
                              refusing while the service still runs. Its own database stays.
  -h, --help                  show this help

Logs are JSON lines on stdout.`;

/** Reads `ficus service <name>` arguments, environment and config file into a validated config. */
export async function parseServiceArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ServiceConfig> {
  const { name: given, rest } = leadingName(argv);
  const flags = parseFlags('service', rest, {
    config: { type: 'string' },
    module: { type: 'string' },
    'database-url': { type: 'string' },
    'source-database-url': { type: 'string' },
    source: { type: 'string' },
    'kafka-brokers': { type: 'string' },
    'topic-prefix': { type: 'string' },
    'group-id': { type: 'string' },
    slot: { type: 'string' },
    'offsets-file': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'log-level': { type: 'string' },
    teardown: { type: 'boolean' },
    'inactive-slot-warn-bytes': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  const teardown = flags.teardown ?? false;
  const file = flags.config ? await readConfigFile(flags.config) : undefined;
  const definition = await serviceOfArgs({
    command: 'service',
    name: given,
    flags,
    env,
    file,
    typesOptional: teardown,
  });
  const name = definition.name;
  const config = resolveConfig(serviceConfigSchema, {
    file,
    fileName: flags.config,
    env,
    envNames: serviceEnv,
    flags: {
      module: flags.module,
      databaseUrl: flags['database-url'],
      sourceDatabaseUrl: flags['source-database-url'],
      source: flags.source,
      kafkaBrokers: flags['kafka-brokers'],
      topicPrefix: flags['topic-prefix'],
      groupId: flags['group-id'],
      slot: flags.slot,
      offsetsFile: flags['offsets-file'],
      port: flags.port,
      host: flags.host,
      logLevel: flags['log-level'],
      inactiveSlotWarnBytes: flags['inactive-slot-warn-bytes'],
    },
  });
  if (!teardown && config.databaseUrl === undefined)
    throw new ConfigError(
      `databaseUrl is required: set DATABASE_URL or pass --database-url${flags.config ? ` or add databaseUrl to ${flags.config}` : ''}`,
    );
  const source =
    config.source ??
    (config.kafkaBrokers.length > 0 ? 'kafka' : config.sourceDatabaseUrl ? 'connector' : undefined);
  if (source === undefined)
    throw new ConfigError(
      `source: ${name} needs change events; set KAFKA_BROKERS (or --kafka-brokers) to consume the CDC topics, ` +
        'or FICUS_SOURCE_DATABASE_URL (or --source-database-url) to stream from the monolith itself, ' +
        'or pass --source none to serve only what its database holds',
    );
  if (source === 'kafka' && config.kafkaBrokers.length === 0)
    throw new ConfigError(
      'kafkaBrokers: the kafka source needs at least one broker; set KAFKA_BROKERS=host:port or --kafka-brokers',
    );
  if (source === 'connector' && !config.sourceDatabaseUrl)
    throw new ConfigError(
      'sourceDatabaseUrl: the connector source streams from the monolith; set FICUS_SOURCE_DATABASE_URL or --source-database-url',
    );
  if (teardown && source === 'none')
    throw new ConfigError(
      'source: --teardown removes what a source created; with --source none there is nothing to remove',
    );
  return Object.freeze({ ...config, definition, source, teardown });
}

/** The record source a config asks for. */
export function recordSourceOf(
  config: ServiceConfig,
  logger: ReturnType<typeof createLogger>,
): RecordSource | undefined {
  switch (config.source) {
    case 'kafka':
      return createKafkaSource({
        brokers: config.kafkaBrokers,
        topics: config.definition.sourceTables.map((t) => `${config.topicPrefix}.${t}`),
        groupId: groupOf(config),
        logger,
      });
    case 'connector': {
      const slot = slotOf(config);
      return createConnectorSource({
        databaseUrl: config.sourceDatabaseUrl!,
        tables: config.definition.sourceTables,
        slotName: slot,
        publicationName: slot,
        topicPrefix: config.topicPrefix,
        offsetsFile: offsetsFileOf(config),
        inactiveSlotWarnBytes: config.inactiveSlotWarnBytes,
        logger,
      });
    }
    case 'none':
      return undefined;
  }
}

/** The connector source's slot and publication: `--slot`, else `ficus_<name>`. */
function slotOf(config: ServiceConfig): string {
  return config.slot ?? `ficus_${config.definition.name.replaceAll('-', '_')}`;
}

function offsetsFileOf(config: ServiceConfig): string {
  return path.resolve(
    config.offsetsFile ?? path.join('.ficus', config.definition.name, 'offsets.json'),
  );
}

function groupOf(config: ServiceConfig): string {
  return config.groupId ?? `ficus-${config.definition.name}`;
}

/**
 * `--teardown`: removes what the service's source created, and says what it removed. The slot is
 * the service's own by configuration, so it is dropped even when its publication was created by
 * someone else (that publication stays).
 */
export async function teardownService(config: ServiceConfig): Promise<string[]> {
  const name = config.definition.name;
  if (config.source === 'kafka') return [await deleteGroup(config)];
  if (config.source !== 'connector') return [];
  const slot = slotOf(config);
  const lines: string[] = [];
  try {
    const dropped = await dropCdcResources({
      databaseUrl: config.sourceDatabaseUrl!,
      slot,
      force: true,
      offsetsFile: offsetsFileOf(config),
    });
    lines.push(`${name}: dropped replication slot ${slot} on database ${dropped.database}`);
    for (const publication of dropped.droppedPublications)
      lines.push(`${name}: dropped publication ${publication} (created by ficus)`);
    if (dropped.deletedOffsetsFile)
      lines.push(`${name}: deleted offsets file ${dropped.deletedOffsetsFile}`);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'FICUS_CDC_SLOT_NOT_FOUND') throw error;
    lines.push(`${name}: no replication slot ${slot}: nothing to drop`);
  }
  const kept = await publicationExists(config.sourceDatabaseUrl!, slot);
  if (kept)
    lines.push(
      `${name}: publication ${slot} was not created by ficus and stays; drop it if nothing else uses it: DROP PUBLICATION ${slot}`,
    );
  return lines;
}

async function publicationExists(databaseUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
      name,
    ]);
    return (rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

async function deleteGroup(config: ServiceConfig): Promise<string> {
  const group = groupOf(config);
  const admin = new Kafka({
    clientId: `ficus-${config.definition.name}-teardown`,
    brokers: [...config.kafkaBrokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.deleteGroups([group]);
    return `${config.definition.name}: deleted Kafka consumer group ${group}`;
  } catch (error) {
    const reason = ((error as { groups?: { error?: { type?: string } }[] }).groups ?? [])[0]?.error
      ?.type;
    if (reason === 'GROUP_ID_NOT_FOUND')
      return `${config.definition.name}: no Kafka consumer group ${group}: nothing to delete`;
    if (reason === 'NON_EMPTY_GROUP')
      throw new FicusError(
        'FICUS_SERVICE_GROUP_IN_USE',
        `consumer group ${group} still has members: stop ${config.definition.name} first`,
        { cause: error },
      );
    throw error;
  } finally {
    await admin.disconnect();
  }
}

export const serviceCommand: Command = {
  name: 'service',
  summary: `run an extracted service: ${BUILT_IN_SERVICES.join(', ')} (ports ${SERVICE_DEFINITIONS.map((d) => d.defaultPort).join(', ')}), or yours with --module`,
  help,
  env: Object.values(serviceEnv),
  parse: parseServiceArgs,
  async run(argv, env) {
    const config = await parseServiceArgs(argv, env);
    if (config.teardown) {
      for (const line of await teardownService(config)) console.log(line);
      return;
    }
    const logger = createLogger({ name: config.definition.name, level: config.logLevel });
    const running = await startExtractedService({
      definition: config.definition,
      // Required unless tearing down (checked in parseServiceArgs).
      databaseUrl: config.databaseUrl!,
      sourceDatabaseUrl: config.sourceDatabaseUrl,
      port: config.port,
      host: config.host,
      source: recordSourceOf(config, logger),
      logger,
    });
    stopOnSignal([() => running.close()], logger);
  },
};
