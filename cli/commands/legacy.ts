import { z } from 'zod';
import { createLogger } from '../../common/index.js';
import { startLegacyMonolith } from '../../legacy-monolith/index.js';
import type { Command } from '../command.js';
import { parseFlags } from '../command.js';
import {
  booleanSchema,
  logLevelSchema,
  portSchema,
  postgresUrlSchema,
  readConfigFile,
  resolveConfig,
} from '../config.js';
import { stopOnSignal } from '../lifecycle.js';

const legacyConfigSchema = z.object({
  databaseUrl: postgresUrlSchema,
  port: portSchema.default(3000),
  host: z.string().min(1).default('127.0.0.1'),
  seed: booleanSchema.default(true),
  logLevel: logLevelSchema.default('info'),
});

/** Settings of `ficus legacy`, after flags, environment and config file are merged. */
export type LegacyConfig = z.output<typeof legacyConfigSchema>;

const help = `Usage: ficus legacy [options]

Runs the reference legacy monolith (an e-commerce app in express + knex + Postgres):
migrates its database, seeds it when empty, and serves its JSON API.

Options:
  --config FILE          YAML file with any of the settings below (camelCase keys)
  --database-url URL     Postgres to use                    env DATABASE_URL (required)
  --port N               port to listen on (default 3000)   env FICUS_LEGACY_PORT
  --host ADDR            address to bind (default 127.0.0.1) env FICUS_LEGACY_HOST
  --no-seed              do not seed an empty database      env FICUS_LEGACY_SEED=false
  --log-level LEVEL      fatal|error|warn|info|debug|trace|silent (default info)
                                                            env FICUS_LOG_LEVEL
  -h, --help             show this help

Logs are JSON lines on stdout.`;

const legacyEnv = {
  databaseUrl: 'DATABASE_URL',
  port: 'FICUS_LEGACY_PORT',
  host: 'FICUS_LEGACY_HOST',
  seed: 'FICUS_LEGACY_SEED',
  logLevel: 'FICUS_LOG_LEVEL',
};

/** Reads `ficus legacy` flags, environment and config file into a validated config. */
export async function parseLegacyArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<LegacyConfig> {
  const flags = parseFlags('legacy', argv, {
    config: { type: 'string' },
    'database-url': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'no-seed': { type: 'boolean' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  return resolveConfig(legacyConfigSchema, {
    file: flags.config ? await readConfigFile(flags.config) : undefined,
    fileName: flags.config,
    env,
    envNames: legacyEnv,
    flags: {
      databaseUrl: flags['database-url'],
      port: flags.port,
      host: flags.host,
      seed: flags['no-seed'] ? false : undefined,
      logLevel: flags['log-level'],
    },
  });
}

export const legacyCommand: Command = {
  name: 'legacy',
  summary: 'run the legacy monolith (port 3000)',
  help,
  env: Object.values(legacyEnv),
  parse: parseLegacyArgs,
  async run(argv, env) {
    const config = await parseLegacyArgs(argv, env);
    const logger = createLogger({ name: 'legacy', level: config.logLevel });
    const monolith = await startLegacyMonolith({
      databaseUrl: config.databaseUrl,
      port: config.port,
      host: config.host,
      seed: config.seed,
      logger,
    });
    logger.info({ url: monolith.url }, 'legacy monolith listening');
    stopOnSignal([() => monolith.close()], logger);
  },
};
