import { z } from 'zod';
import { ConfigError, createLogger } from '../../common/index.js';
import {
  createFileRouteStore,
  createGateway,
  createPostgresRouteStore,
} from '../../gateway/index.js';
import type { Command } from '../command.js';
import { parseFlags } from '../command.js';
import {
  logLevelSchema,
  portSchema,
  postgresUrlSchema,
  readConfigFile,
  resolveConfig,
} from '../config.js';
import { stopOnSignal } from '../lifecycle.js';

const gatewayConfigSchema = z.object({
  routes: z.string().min(1, 'must name the routes file'),
  routesDatabaseUrl: postgresUrlSchema.optional(),
  port: portSchema.default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  adminToken: z
    .string()
    .min(16, 'must be at least 16 characters (generate one with: openssl rand -hex 24)'),
  cdcStatusUrl: z
    .string()
    .refine((value) => {
      try {
        return ['http:', 'https:'].includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, 'must be an http:// or https:// URL, such as http://127.0.0.1:3200/status')
    .optional(),
  adminHost: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i,
      'must be a host name such as ficus-admin.internal (no scheme, no port)',
    )
    .optional(),
  logLevel: logLevelSchema.default('info'),
});

/** Settings of `ficus gateway`. */
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

const gatewayEnv = {
  routes: 'FICUS_ROUTES',
  routesDatabaseUrl: 'FICUS_ROUTES_DATABASE_URL',
  port: 'FICUS_GATEWAY_PORT',
  host: 'FICUS_GATEWAY_HOST',
  adminToken: 'FICUS_ADMIN_TOKEN',
  cdcStatusUrl: 'FICUS_CDC_STATUS_URL',
  adminHost: 'FICUS_ADMIN_HOST',
  logLevel: 'FICUS_LOG_LEVEL',
};

const help = `Usage: ficus gateway --routes routes.yaml [options]

Runs the ficus gateway: every request goes to the legacy monolith or to a new service as the
route table says (modes legacy, shadow, canary, new). Under /_ficus/: the migration
dashboard (/_ficus/, sign in with the admin token), the admin API (/_ficus/api/..., needs
Authorization: Bearer $FICUS_ADMIN_TOKEN), Prometheus metrics (/_ficus/metrics) and health
(/_ficus/health); nothing there is ever proxied.

Options:
  --routes FILE               the route table (YAML); edits reload without a restart
                                                          env FICUS_ROUTES (required)
  --routes-database-url URL   keep the route table and its history in Postgres instead, shared
                              by every gateway replica (seeded from --routes when empty)
                                                          env FICUS_ROUTES_DATABASE_URL
  --port N                    port to listen on (default 8080)  env FICUS_GATEWAY_PORT
  --host ADDR                 address to bind (default 127.0.0.1) env FICUS_GATEWAY_HOST
  --cdc-status-url URL        the CDC connector's status endpoint, shown on the dashboard
                              (e.g. http://127.0.0.1:3200/status)
                                                          env FICUS_CDC_STATUS_URL
  --admin-host NAME           answer the dashboard and admin API only for this host name
                              (e.g. ficus-admin.internal): an origin of their own, so scripts
                              on the monolith's pages cannot use an operator's session;
                              /_ficus/health and /_ficus/metrics answer on every host
                                                          env FICUS_ADMIN_HOST
  --config FILE               YAML file with any of these settings (camelCase keys)
  --log-level LEVEL           fatal|error|warn|info|debug|trace|silent (default info)
                                                          env FICUS_LOG_LEVEL
  -h, --help                  show this help

Environment:
  FICUS_ADMIN_TOKEN           bearer token for the admin API (required, at least 16 characters)`;

/** Reads `ficus gateway` flags, environment and config file. */
export async function parseGatewayArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<GatewayConfig> {
  const flags = parseFlags('gateway', argv, {
    config: { type: 'string' },
    routes: { type: 'string' },
    'routes-database-url': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'cdc-status-url': { type: 'string' },
    'admin-host': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  return resolveConfig(gatewayConfigSchema, {
    file: flags.config ? await readConfigFile(flags.config) : undefined,
    fileName: flags.config,
    env,
    envNames: gatewayEnv,
    flags: {
      routes: flags.routes,
      routesDatabaseUrl: flags['routes-database-url'],
      port: flags.port,
      host: flags.host,
      cdcStatusUrl: flags['cdc-status-url'],
      adminHost: flags['admin-host'],
      logLevel: flags['log-level'],
    },
  });
}

export const gatewayCommand: Command = {
  name: 'gateway',
  summary: 'run the route-toggle gateway in front of the monolith (port 8080)',
  help,
  env: Object.values(gatewayEnv),
  parse: parseGatewayArgs,
  async run(argv, env) {
    const config = await parseGatewayArgs(argv, env);
    const logger = createLogger({ name: 'gateway', level: config.logLevel });
    const store = config.routesDatabaseUrl
      ? await createPostgresRouteStore({
          url: config.routesDatabaseUrl,
          initial: await readConfigFile(config.routes),
          logger: logger.child({ part: 'routes' }),
        })
      : await createFileRouteStore({
          file: config.routes,
          logger: logger.child({ part: 'routes' }),
        });
    const gateway = createGateway({
      store,
      adminToken: config.adminToken,
      logger,
      ...(config.cdcStatusUrl ? { dashboard: { cdcStatusUrl: config.cdcStatusUrl } } : {}),
      ...(config.adminHost ? { adminHost: config.adminHost } : {}),
    });
    const { url } = await gateway.listen(config.port, config.host).catch((error: unknown) => {
      throw new ConfigError(
        `cannot listen on ${config.host}:${config.port}: ${(error as Error).message}; choose another port with --port or FICUS_GATEWAY_PORT`,
        { cause: error },
      );
    });
    logger.info(
      { url, dashboard: `${url}/_ficus/`, routes: store.current().table.routes.length },
      'gateway listening',
    );
    stopOnSignal([() => store.close(), () => gateway.close()], logger);
  },
};
