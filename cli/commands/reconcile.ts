import knex from 'knex';
import { z } from 'zod';
import { ConfigError, FicusError } from '../../common/index.js';
import {
  reconcile,
  type Reconciliation,
  type ServiceDefinition,
} from '../../extracted-services/index.js';
import type { Command } from '../command.js';
import { parseFlags } from '../command.js';
import { booleanSchema, postgresUrlSchema, readConfigFile, resolveConfig } from '../config.js';
import { BUILT_IN_SERVICES, leadingName, serviceOfArgs } from '../service-definition.js';

const reconcileConfigSchema = z.object({
  module: z.string().min(1).optional(),
  databaseUrl: postgresUrlSchema.optional(),
  sourceDatabaseUrl: postgresUrlSchema.optional(),
  serviceUrl: z.url({ error: 'must be an http:// URL' }).optional(),
  limit: z.coerce.number().int('must be a whole number').min(0).max(100_000).default(100),
  settleMs: z.coerce.number().int('must be a whole number').min(0).default(3_000),
  json: booleanSchema.default(false),
});

/** Settings of `ficus reconcile <name>`. */
export type ReconcileConfig = z.output<typeof reconcileConfigSchema> & {
  readonly definition: ServiceDefinition;
};

const reconcileEnv = {
  module: 'FICUS_SERVICE_MODULE',
  databaseUrl: 'DATABASE_URL',
  sourceDatabaseUrl: 'FICUS_SOURCE_DATABASE_URL',
  serviceUrl: 'FICUS_SERVICE_URL',
};

const help = `Usage: ficus reconcile <service> [options]
       ficus reconcile --module FILE [options]

Compares each table a service carries with its source table in the monolith: row counts, and
a hash per row over the carried columns. Lists the rows that differ (missing from the copy,
extra in the copy, different) after letting in-flight changes settle. Run it before switching
a route to new. Exits 0 when every table is in sync, 1 when not.

ficus's own services: ${BUILT_IN_SERVICES.join(', ')}; a service of your own:
  --module FILE               its module, as given to 'ficus service --module'
                                                                   env FICUS_SERVICE_MODULE

Either ask a running service (it keeps the result for its /_ficus/status and the dashboard):
  --service-url URL           e.g. http://127.0.0.1:3101         env FICUS_SERVICE_URL
or read both databases directly:
  --database-url URL          the service's own Postgres           env DATABASE_URL
  --source-database-url URL   the monolith's Postgres              env FICUS_SOURCE_DATABASE_URL

Other options:
  --config FILE               YAML file with any of these settings (camelCase keys)
  --limit N                   most differing rows listed per table (default 100)
  --settle-ms N               how long differences may take to disappear (default 3000)
  --json                      print the result as JSON
  -h, --help                  show this help`;

/** Reads `ficus reconcile <name>` arguments into a validated config. */
export async function parseReconcileArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ReconcileConfig> {
  const { name: given, rest } = leadingName(argv);
  const flags = parseFlags('reconcile', rest, {
    config: { type: 'string' },
    module: { type: 'string' },
    'database-url': { type: 'string' },
    'source-database-url': { type: 'string' },
    'service-url': { type: 'string' },
    limit: { type: 'string' },
    'settle-ms': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const file = flags.config ? await readConfigFile(flags.config) : undefined;
  const definition = await serviceOfArgs({
    command: 'reconcile',
    name: given,
    flags,
    env,
    file,
    typesOptional: true,
  });
  const name = definition.name;
  const config = resolveConfig(reconcileConfigSchema, {
    file,
    fileName: flags.config,
    env,
    envNames: reconcileEnv,
    flags: {
      module: flags.module,
      databaseUrl: flags['database-url'],
      sourceDatabaseUrl: flags['source-database-url'],
      serviceUrl: flags['service-url'],
      limit: flags.limit,
      settleMs: flags['settle-ms'],
      json: flags.json,
    },
  });
  if (!config.serviceUrl && (!config.databaseUrl || !config.sourceDatabaseUrl))
    throw new ConfigError(
      `${name}: pass --service-url (a running service) or both --database-url and ` +
        '--source-database-url (env DATABASE_URL and FICUS_SOURCE_DATABASE_URL)',
    );
  return Object.freeze({ ...config, definition });
}

/** Runs the comparison, directly on both databases or through a running service. */
export async function runReconcile(config: ReconcileConfig): Promise<Reconciliation> {
  if (config.serviceUrl) {
    const url = new URL('/_ficus/reconcile', config.serviceUrl);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST' });
    } catch (error) {
      throw new FicusError(
        'FICUS_SERVICE_UNREACHABLE',
        `cannot reach ${config.definition.name} at ${config.serviceUrl}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const body = (await res.json()) as Reconciliation | { error: { message: string } };
    if (!res.ok || 'error' in body)
      throw new FicusError(
        'FICUS_RECONCILE_FAILED',
        `${config.definition.name} answered ${res.status}: ${'error' in body ? body.error.message : ''}`,
      );
    return body;
  }
  const db = knex({ client: 'pg', connection: config.databaseUrl, pool: { min: 0, max: 2 } });
  const sourceDb = knex({
    client: 'pg',
    connection: config.sourceDatabaseUrl,
    pool: { min: 0, max: 2 },
  });
  try {
    const { mappings } = config.definition.create({ db });
    return await reconcile({
      db,
      sourceDb,
      mappings,
      limit: config.limit,
      settleMs: config.settleMs,
    });
  } finally {
    await Promise.all([db.destroy(), sourceDb.destroy()]);
  }
}

/** The result as a table a person reads. */
export function formatReconciliation(name: string, result: Reconciliation): string {
  const rows = result.tables.map((t) => [
    t.table,
    t.source,
    String(t.sourceRows),
    String(t.carriedRows),
    String(t.missing),
    String(t.extra),
    String(t.different),
  ]);
  const header = [
    'table',
    'source',
    'source rows',
    'carried rows',
    'missing',
    'extra',
    'different',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  const lines = [
    `${name}: ${result.inSync ? 'in sync' : 'NOT in sync'} (${result.tables.length} tables, ${result.durationMs} ms)`,
    line(header),
    ...rows.map(line),
  ];
  const differences = result.tables.flatMap((t) =>
    t.differences.map((d) => `  ${t.table} ${JSON.stringify(d.key)} ${d.kind}`),
  );
  if (differences.length > 0) lines.push('', 'Rows that differ:', ...differences);
  return lines.join('\n');
}

export const reconcileCommand: Command = {
  name: 'reconcile',
  summary: "compare a service's carried tables with the monolith's (exit 1 when they differ)",
  help,
  env: Object.values(reconcileEnv),
  parse: parseReconcileArgs,
  async run(argv, env) {
    const config = await parseReconcileArgs(argv, env);
    const result = await runReconcile(config);
    console.log(
      config.json
        ? JSON.stringify(result, null, 2)
        : formatReconciliation(config.definition.name, result),
    );
    process.exitCode = result.inSync ? 0 : 1;
  },
};
