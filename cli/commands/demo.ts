import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import pg from 'pg';
import { z } from 'zod';
import {
  ConfigError,
  createLogger,
  ficusVersion,
  packageRoot,
  isPortInUse,
  reachableDataDir,
  startEmbeddedPostgres,
  type Logger,
} from '../../common/index.js';
import {
  CONNECTOR_DEFAULTS,
  createConnector,
  createEmbeddedSink,
  createKafkaSink,
  startConnectorWithStatus,
  type EmbeddedSink,
  type Sink,
} from '../../cdc/index.js';
import {
  createEmbeddedSource,
  createKafkaSource,
  SERVICE_DEFINITIONS,
  startExtractedService,
  type RunningService,
} from '../../extracted-services/index.js';
import { createFileRouteStore, createGateway } from '../../gateway/index.js';
import { LEGACY_TABLES, startLegacyMonolith } from '../../legacy-monolith/index.js';

import type { Command } from '../command.js';
import { parseFlags } from '../command.js';
import {
  booleanSchema,
  listSchema,
  logLevelSchema,
  portSchema,
  postgresUrlSchema,
  resolveConfig,
} from '../config.js';
import { startDemoTraffic } from '../demo-traffic.js';
import { closeAll, stopOnSignal, type Closer } from '../lifecycle.js';

const demoConfigSchema = z.object({
  dataDir: z.string().min(1).default('.ficus/demo'),
  databaseUrl: postgresUrlSchema.optional(),
  legacyPort: portSchema.default(3000),
  cdcStatusPort: portSchema.default(3200),
  gatewayPort: portSchema.default(8080),
  servicesPort: portSchema.default(3101),
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  traffic: booleanSchema.default(false),
  trafficRate: z.coerce
    .number({ error: 'must be a number' })
    .positive('must be more than 0')
    .max(1000, 'must be at most 1000')
    .default(8),

  kafkaBrokers: listSchema.optional(),
  logLevel: logLevelSchema.default('warn'),
});

/** Settings of `ficus demo`. */
export type DemoConfig = z.output<typeof demoConfigSchema>;

const help = `Usage: ficus demo [options]

Runs the whole reference system on this machine: an embedded Postgres (wal_level=logical),
the legacy monolith on it, CDC streaming the monolith's row changes as Debezium events
(in-process, or to Kafka when KAFKA_BROKERS is set), the extracted services (catalog,
reviews, notifications), each on its own database and fed by those events, and the gateway
in front of it all with an example route table (every route on legacy), and prints every URL. Ctrl-C stops
everything. The data and the route table stay in the data directory, so the next run starts
where this one stopped.


Options:
  --data-dir DIR        where the embedded Postgres keeps its data (default .ficus/demo)
                                                        env FICUS_DATA_DIR
  --database-url URL    use this Postgres instead of the embedded one
                                                        env DATABASE_URL
  --legacy-port N       port of the legacy monolith (default 3000)
                                                        env FICUS_LEGACY_PORT
  --cdc-status-port N   port of the CDC status endpoint (default 3200)
                                                        env FICUS_CDC_STATUS_PORT
  --gateway-port N      port of the gateway (default 8080)
                                                        env FICUS_GATEWAY_PORT
  --services-port N     port of the first extracted service; the others follow
                        (default 3101: catalog 3101, reviews 3102, notifications
                        3103; 0 = any free ports)       env FICUS_SERVICES_PORT
  (environment only)    admin token of the gateway (default: a new one, printed)
                                                        env FICUS_ADMIN_TOKEN
  --traffic             send storefront traffic through the gateway (members browsing,
                        reviewing and ordering) so the dashboard moves
                                                        env FICUS_DEMO_TRAFFIC
  --traffic-rate N      requests per second of --traffic (default 8)
                                                        env FICUS_DEMO_TRAFFIC_RATE

  (environment only)    Kafka brokers for CDC, host:port,... (default: the in-process sink)
                                                        env KAFKA_BROKERS
  --log-level LEVEL     fatal|error|warn|info|debug|trace|silent (default warn)
                                                        env FICUS_LOG_LEVEL
  -h, --help            show this help`;

const demoEnv = {
  dataDir: 'FICUS_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  legacyPort: 'FICUS_LEGACY_PORT',
  cdcStatusPort: 'FICUS_CDC_STATUS_PORT',
  kafkaBrokers: 'KAFKA_BROKERS',
  gatewayPort: 'FICUS_GATEWAY_PORT',
  servicesPort: 'FICUS_SERVICES_PORT',
  adminToken: 'FICUS_ADMIN_TOKEN',
  traffic: 'FICUS_DEMO_TRAFFIC',
  trafficRate: 'FICUS_DEMO_TRAFFIC_RATE',
  logLevel: 'FICUS_LOG_LEVEL',
};

/** Reads `ficus demo` flags and environment into a validated config. */
export function parseDemoArgs(argv: readonly string[], env: NodeJS.ProcessEnv): DemoConfig {
  const flags = parseFlags('demo', argv, {
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    'legacy-port': { type: 'string' },
    'cdc-status-port': { type: 'string' },
    'gateway-port': { type: 'string' },
    'services-port': { type: 'string' },
    traffic: { type: 'boolean' },
    'traffic-rate': { type: 'string' },

    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  return resolveConfig(demoConfigSchema, {
    env,
    envNames: demoEnv,
    flags: {
      dataDir: flags['data-dir'],
      databaseUrl: flags['database-url'],
      legacyPort: flags['legacy-port'],
      cdcStatusPort: flags['cdc-status-port'],
      gatewayPort: flags['gateway-port'],
      servicesPort: flags['services-port'],
      traffic: flags.traffic,
      trafficRate: flags['traffic-rate'],

      logLevel: flags['log-level'],
    },
  });
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole reference system on this machine (what npm start runs)',
  help,
  env: Object.values(demoEnv),
  parse: (argv, env) => Promise.resolve(parseDemoArgs(argv, env)),
  async run(argv, env) {
    const config = parseDemoArgs(argv, env);
    const logger = createLogger({ name: 'demo', level: config.logLevel });
    const closers: Closer[] = [];
    stopOnSignal(closers, logger, () => console.log('ficus demo stopped.'));
    try {
      await startDemo(config, logger, closers);
    } catch (error) {
      await closeAll(closers, logger);
      throw error;
    }
  },
};

async function startDemo(config: DemoConfig, logger: Logger, closers: Closer[]): Promise<void> {
  await assertPortFree(config.legacyPort, 'legacy monolith', 'FICUS_LEGACY_PORT');
  await assertPortFree(config.cdcStatusPort, 'CDC status endpoint', 'FICUS_CDC_STATUS_PORT');
  await assertPortFree(config.gatewayPort, 'gateway', 'FICUS_GATEWAY_PORT');
  for (const [i, definition] of SERVICE_DEFINITIONS.entries())
    if (config.servicesPort !== 0)
      await assertPortFree(
        config.servicesPort + i,
        `${definition.name} service`,
        'FICUS_SERVICES_PORT',
      );

  let legacyDatabaseUrl = config.databaseUrl;
  let postgresLine: string;
  /** The URL of a database of its own for each service, on the same server. */
  let databaseFor: (name: string) => Promise<string>;
  if (legacyDatabaseUrl) {
    postgresLine = `external Postgres      ${redact(legacyDatabaseUrl)}`;
    const external = legacyDatabaseUrl;
    databaseFor = async (name) => {
      await ensureDatabase(external, `ficus_${name}`);
      const url = new URL(external);
      url.pathname = `/ficus_${name}`;
      return url.toString();
    };
  } else {
    const wanted = path.join(config.dataDir, 'postgres');
    const { dir, moved } = await reachableDataDir(wanted);
    if (moved) console.log(`Running as root: the embedded Postgres keeps its data in ${dir}.`);
    const postgres = await startEmbeddedPostgres({
      dataDir: dir,
      logger: logger.child({ part: 'postgres' }),
    });
    closers.push(() => postgres.stop());
    await ensureDatabase(postgres.url, 'legacy');
    legacyDatabaseUrl = postgres.urlFor('legacy');
    databaseFor = async (name) => {
      await ensureDatabase(postgres.url, name);
      return postgres.urlFor(name);
    };
    postgresLine = `embedded Postgres      ${legacyDatabaseUrl}  (data in ${dir})`;
  }

  const monolith = await startLegacyMonolith({
    databaseUrl: legacyDatabaseUrl,
    port: config.legacyPort,
    logger: logger.child({ part: 'legacy' }),
  });
  closers.push(() => monolith.close());

  const cdc = createDemoCdc(config, legacyDatabaseUrl, logger.child({ part: 'cdc' }));
  // Services subscribe before the connector starts, so they see its first snapshot.
  const services: RunningService[] = [];
  for (const [i, definition] of SERVICE_DEFINITIONS.entries()) {
    const serviceLogger = logger.child({ part: definition.name });
    const service = await startExtractedService({
      definition,
      databaseUrl: await databaseFor(definition.name),
      sourceDatabaseUrl: legacyDatabaseUrl,
      port: config.servicesPort === 0 ? 0 : config.servicesPort + i,
      source:
        cdc.sink.kind === 'embedded'
          ? createEmbeddedSource({ sink: cdc.sink as EmbeddedSink, logger: serviceLogger })
          : createKafkaSource({
              brokers: config.kafkaBrokers ?? [],
              topics: definition.sourceTables.map((table) => `${DEMO_TOPIC_PREFIX}.${table}`),
              groupId: `ficus-demo-${definition.name}`,
              logger: serviceLogger,
            }),
      logger: serviceLogger,
    });
    closers.push(() => service.close());
    services.push(service);
  }
  // A service whose database holds nothing yet, decided before the connector delivers anything.
  const empty: RunningService[] = [];
  for (const service of services)
    if ((await service.service.carried.progress(service.name)) === null) empty.push(service);
  closers.push(await cdc.start());
  // Added after the connector's first snapshot (its database is new, the slot is not): the
  // in-process sink keeps nothing, so the existing rows come from an incremental snapshot of its
  // tables, streamed alongside.
  if (cdc.sink.kind === 'embedded' && !cdc.snapshotted())
    for (const service of empty) {
      await cdc.requestSnapshot(service.service.sourceTables);
      logger.info({ service: service.name }, 'asked CDC for an incremental snapshot (backfill)');
    }

  const routesFile = path.resolve(config.dataDir, 'routes.yaml');
  if (!(await exists(routesFile))) {
    await mkdir(path.dirname(routesFile), { recursive: true });
    const example = await readFile(path.join(packageRoot(), 'examples', 'routes.yaml'), 'utf8');
    let table = example.replace('http://127.0.0.1:3000', monolith.url);
    for (const [i, service] of services.entries())
      table = table.replace(`http://127.0.0.1:${3101 + i}`, service.url);
    await writeFile(routesFile, table);
  }
  const store = await createFileRouteStore({
    file: routesFile,
    logger: logger.child({ part: 'routes' }),
  });
  closers.push(() => store.close());
  const adminToken = config.adminToken ?? randomBytes(24).toString('hex');
  const gateway = createGateway({
    store,
    adminToken,
    logger: logger.child({ part: 'gateway' }),
    dashboard: { cdcStatusUrl: `${cdc.statusUrl}/status` },
  });
  const { url: gatewayUrl } = await gateway.listen(config.gatewayPort);
  closers.push(() => gateway.close());
  if (config.traffic) {
    const traffic = startDemoTraffic({
      baseUrl: gatewayUrl,
      ratePerSecond: config.trafficRate,
      logger: logger.child({ part: 'traffic' }),
    });
    closers.push(() => traffic.stop());
  }

  console.log(
    [
      '',
      'ficus demo is running.',
      '',
      `  gateway                ${gatewayUrl}   (routes: ${routesFile}, reloaded on change)`,
      `  dashboard              ${gatewayUrl}/_ficus/   (sign in with the admin token)`,
      `  admin API              ${gatewayUrl}/_ficus/api/routes   (Authorization: Bearer ${adminToken})`,
      `  metrics                ${gatewayUrl}/_ficus/metrics`,
      `  legacy monolith        ${monolith.url}`,
      ...services.map(
        (s) => `  ${`${s.name} service`.padEnd(22)} ${s.url}   (status: ${s.url}/_ficus/status)`,
      ),
      `  CDC status             ${cdc.statusUrl}/status   (${cdc.sinkLine})`,
      `  ${postgresLine}`,
      '',
      `Try: curl ${gatewayUrl}/products`,
      `     FICUS_ADMIN_TOKEN=${adminToken} npm run ficus -- routes list${config.gatewayPort === 8080 ? '' : ` --gateway ${gatewayUrl}`}`,
      config.traffic
        ? `Sending about ${config.trafficRate} storefront requests/s through the gateway (--traffic).`
        : 'Add --traffic (npm start -- --traffic) to send storefront traffic through the gateway.',

      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

/** The topic prefix of the demo's CDC: topics are `legacy.public.<table>`. */
const DEMO_TOPIC_PREFIX = 'legacy';

/**
 * CDC on the monolith's tables: the embedded sink (in-process, for the services the demo runs) or
 * Kafka when brokers are configured. `start` starts the connector and its status endpoint.
 */
function createDemoCdc(
  config: DemoConfig,
  databaseUrl: string,
  logger: Logger,
): {
  sink: Sink;
  sinkLine: string;
  readonly statusUrl: string;
  start(): Promise<Closer>;
  requestSnapshot(tables: readonly string[]): Promise<string>;
  /** Whether this start took the initial snapshot (a new slot). */
  snapshotted(): boolean;
} {
  const brokers = config.kafkaBrokers ?? [];
  const sink: Sink =
    brokers.length > 0
      ? createKafkaSink({
          brokers,
          partitionZeroTopics: (topic) => topic.startsWith('__debezium-heartbeat.'),
          logger,
        })
      : createEmbeddedSink();
  const connector = createConnector({
    ...CONNECTOR_DEFAULTS,
    databaseUrl,
    slotName: 'ficus_demo',
    publicationName: 'ficus_demo',
    tableIncludeList: LEGACY_TABLES,
    columnExcludeList: [],
    topicPrefix: DEMO_TOPIC_PREFIX,
    offsetsFile: path.resolve(config.dataDir, 'cdc', 'offsets.json'),
    sink,
    logger,
    version: ficusVersion(),
  });
  let statusUrl = '';
  return {
    sink,
    sinkLine: brokers.length > 0 ? `Kafka sink, ${brokers.join(',')}` : 'in-process sink',
    get statusUrl() {
      return statusUrl;
    },
    requestSnapshot: (tables) => connector.requestSnapshot(tables),
    snapshotted: () => connector.status().snapshot.rows > 0,
    async start() {
      const status = await startConnectorWithStatus(connector, { port: config.cdcStatusPort });
      statusUrl = status.url;
      connector.done.catch((error: unknown) => {
        console.error(`CDC stopped: ${(error as Error).message}`);
      });
      return async () => {
        await connector.stop();
        await status.close();
      };
    },
  };
}

async function assertPortFree(port: number, what: string, envName: string): Promise<void> {
  if (port !== 0 && (await isPortInUse(port))) {
    throw new ConfigError(
      `port ${port} for the ${what} is already in use (is another ficus demo running?). ` +
        `Stop that process or choose another port with ${envName}.`,
    );
  }
}

/** Creates `database` on the cluster when it does not exist yet. */
async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0)
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
