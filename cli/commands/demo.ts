import path from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import {
  ConfigError,
  createLogger,
  isPortInUse,
  reachableDataDir,
  startEmbeddedPostgres,
  type Logger,
} from '../../common/index.js';
import { startLegacyMonolith } from '../../legacy-monolith/index.js';
import type { Command } from '../command.js';
import { parseFlags } from '../command.js';
import { logLevelSchema, portSchema, postgresUrlSchema, resolveConfig } from '../config.js';
import { closeAll, stopOnSignal, type Closer } from '../lifecycle.js';

const demoConfigSchema = z.object({
  dataDir: z.string().min(1).default('.ficus/demo'),
  databaseUrl: postgresUrlSchema.optional(),
  legacyPort: portSchema.default(3000),
  logLevel: logLevelSchema.default('warn'),
});

/** Settings of `ficus demo`. */
export type DemoConfig = z.output<typeof demoConfigSchema>;

const help = `Usage: ficus demo [options]

Runs the whole reference system on this machine: an embedded Postgres (wal_level=logical),
the legacy monolith on it, and prints every URL. Ctrl-C stops everything. The data stays in
the data directory, so the next run starts where this one stopped.

Options:
  --data-dir DIR        where the embedded Postgres keeps its data (default .ficus/demo)
                                                        env FICUS_DATA_DIR
  --database-url URL    use this Postgres instead of the embedded one
                                                        env DATABASE_URL
  --legacy-port N       port of the legacy monolith (default 3000)
                                                        env FICUS_LEGACY_PORT
  --log-level LEVEL     fatal|error|warn|info|debug|trace|silent (default warn)
                                                        env FICUS_LOG_LEVEL
  -h, --help            show this help`;

const demoEnv = {
  dataDir: 'FICUS_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  legacyPort: 'FICUS_LEGACY_PORT',
  logLevel: 'FICUS_LOG_LEVEL',
};

/** Reads `ficus demo` flags and environment into a validated config. */
export function parseDemoArgs(argv: readonly string[], env: NodeJS.ProcessEnv): DemoConfig {
  const flags = parseFlags('demo', argv, {
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    'legacy-port': { type: 'string' },
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

  let legacyDatabaseUrl = config.databaseUrl;
  let postgresLine: string;
  if (legacyDatabaseUrl) {
    postgresLine = `external Postgres      ${redact(legacyDatabaseUrl)}`;
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
    postgresLine = `embedded Postgres      ${legacyDatabaseUrl}  (data in ${dir})`;
  }

  const monolith = await startLegacyMonolith({
    databaseUrl: legacyDatabaseUrl,
    port: config.legacyPort,
    logger: logger.child({ part: 'legacy' }),
  });
  closers.push(() => monolith.close());

  console.log(
    [
      '',
      'ficus demo is running.',
      '',
      `  legacy monolith        ${monolith.url}`,
      `  ${postgresLine}`,
      '',
      `Try: curl ${monolith.url}/products`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
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
