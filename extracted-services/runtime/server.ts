import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import knex, { type Knex } from 'knex';
import { z } from 'zod';
import {
  ConfigError,
  createSilentLogger,
  FicusError,
  toErrorResponse,
  type Logger,
} from '../../common/index.js';
import { isChangeEventValue } from '../../cdc/index.js';
import { reconcile, type Reconciliation } from './reconcile.js';
import type { Companion, ExtractedService, ServiceDefinition } from './service.js';
import type { RecordSource, SourceStatus } from './sources/source.js';

const SHUTDOWN_GRACE_MS = 10_000;
/** How long row counts in the status are reused. */
const COUNT_CACHE_MS = 5_000;

/** Options of {@link startExtractedService}. */
export interface ExtractedServiceOptions {
  readonly definition: ServiceDefinition;
  /** `postgres://…` URL of the service's own database. */
  readonly databaseUrl: string;
  /** TCP port; default the definition's, 0 for any free port. */
  readonly port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Where change records come from; none: the service only serves what it has. */
  readonly source?: RecordSource;
  /** The monolith's database: reconciliation reads it, companions may write to it. */
  readonly sourceDatabaseUrl?: string;
  /** Default: silent. */
  readonly logger?: Logger;
}

/** The service's view of its own state, served at `GET /_ficus/status`. */
export interface ServiceStatus {
  readonly service: string;
  /** `degraded`: it serves, but a companion (the reviews write-back) has stopped. */
  readonly state: 'starting' | 'running' | 'catching-up' | 'degraded' | 'stopped' | 'failed';
  readonly source: SourceStatus | null;
  readonly lag: {
    readonly eventsApplied: number;
    /** Commit-to-apply time of the newest streamed change applied; null before any. */
    readonly millisBehindSource: number | null;
    readonly lastAppliedAt: string | null;
    readonly eventsBehind: number | null;
  };
  readonly tables: readonly { table: string; source: string; rows: number }[];
  readonly reconciliation: Reconciliation | null;
  readonly companions?: unknown;
}

/** A service started by {@link startExtractedService}. */
export interface RunningService {
  readonly name: string;
  /** Base URL, e.g. `http://127.0.0.1:3101`. */
  readonly url: string;
  readonly port: number;
  readonly service: ExtractedService;
  status(): Promise<ServiceStatus>;
  /** Compares the carried tables with the source (needs `sourceDatabaseUrl`). */
  reconcile(): Promise<Reconciliation>;
  /** Stops the source, the companion and the server, then the pools. Safe to call twice. */
  close(): Promise<void>;
}

/** Reconciliation was asked for but the source database is not configured. */
export class ReconcileUnavailableError extends FicusError {
  constructor(service: string) {
    super(
      'FICUS_RECONCILE_UNAVAILABLE',
      `${service}: reconciliation reads the monolith's database; set FICUS_SOURCE_DATABASE_URL or pass --source-database-url`,
      { statusCode: 503 },
    );
  }
}

const optionsSchema = z.object({
  databaseUrl: z
    .string({ error: 'must be a postgres:// URL' })
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
  sourceDatabaseUrl: z
    .string({ error: 'must be a postgres:// URL' })
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' })
    .optional(),
  port: z
    .int({ error: 'must be an integer from 0 to 65535' })
    .min(0, { error: 'must be an integer from 0 to 65535' })
    .max(65535, { error: 'must be an integer from 0 to 65535' })
    .optional(),
  host: z
    .string({ error: 'must be a host name or IP address' })
    .min(1, { error: 'must be a host name or IP address' })
    .optional(),
});

/**
 * Runs an extracted service: migrates its database, serves its app plus `/_ficus/status`,
 * `/_ficus/reconcile` and `/_ficus/health`, starts its companion, then feeds it from `source`.
 * Throws {@link ConfigError} naming the field for invalid options.
 */
export async function startExtractedService(
  options: ExtractedServiceOptions,
): Promise<RunningService> {
  const { definition } = options;
  const name = definition.name;
  const parsed = optionsSchema.safeParse(
    {
      databaseUrl: options.databaseUrl,
      sourceDatabaseUrl: options.sourceDatabaseUrl,
      port: options.port,
      host: options.host,
    },
    { reportInput: true },
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') ?? 'options';
    const got = issue?.input === undefined ? 'nothing' : JSON.stringify(issue.input);
    throw new ConfigError(
      `${name} service option ${field} ${issue?.message ?? 'is invalid'}, got ${got}`,
      { cause: parsed.error },
    );
  }
  const logger = (options.logger ?? createSilentLogger()).child({ service: name });
  const host = parsed.data.host ?? '127.0.0.1';
  const db = openPool(parsed.data.databaseUrl, `ficus-${name}`);
  const sourceDb = parsed.data.sourceDatabaseUrl
    ? openPool(parsed.data.sourceDatabaseUrl, `ficus-${name}-reconcile`, 2)
    : undefined;
  const service = definition.create({ db, logger });
  const source = options.source;

  let state: ServiceStatus['state'] = 'starting';
  let lastLatencyMs: number | null = null;
  let lastAppliedAt: string | null = null;
  let latest: Reconciliation | null = null;
  let running: Promise<Reconciliation> | undefined;
  let counts: { at: number; rows: ServiceStatus['tables'] } | undefined;
  let companion: Companion | undefined;

  async function runReconcile(): Promise<Reconciliation> {
    if (!sourceDb) throw new ReconcileUnavailableError(name);
    running ??= reconcile({ sourceDb, db, mappings: service.mappings })
      .then((result) => {
        latest = result;
        logger.info(
          {
            inSync: result.inSync,
            durationMs: result.durationMs,
            tables: result.tables.map((t) => ({
              table: t.table,
              missing: t.missing,
              extra: t.extra,
              different: t.different,
            })),
          },
          'reconciliation finished',
        );
        return result;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  function companionFailed(): boolean {
    const reported = companion?.status?.() as { state?: unknown } | undefined;
    return reported?.state === 'failed' || reported?.state === 'stopped';
  }

  async function tableRows(): Promise<ServiceStatus['tables']> {
    if (counts && Date.now() - counts.at < COUNT_CACHE_MS) return counts.rows;
    const rows = await Promise.all(
      service.mappings.map(async (mapping) => {
        const found = await db(mapping.table).count<{ count: string }[]>({ count: '*' });
        return { table: mapping.table, source: mapping.source, rows: Number(found[0]?.count) };
      }),
    );
    counts = { at: Date.now(), rows };
    return rows;
  }

  async function status(): Promise<ServiceStatus> {
    const sourceStatus = source?.status() ?? null;
    const behind = sourceStatus?.eventsBehind ?? null;
    const current: ServiceStatus['state'] =
      state !== 'running'
        ? state
        : sourceStatus?.state === 'failed'
          ? 'failed'
          : companionFailed()
            ? 'degraded'
            : sourceStatus?.state === 'starting' || (behind !== null && behind > 100)
              ? 'catching-up'
              : 'running';
    return {
      service: name,
      state: current,
      source: sourceStatus,
      lag: {
        eventsApplied: service.carried.lag().eventsApplied,
        millisBehindSource: lastLatencyMs,
        lastAppliedAt,
        eventsBehind: behind,
      },
      tables: await tableRows(),
      reconciliation: latest,
      ...(companion?.status ? { companions: companion.status() } : {}),
    };
  }

  const app = express();
  app.disable('x-powered-by');
  app.get('/_ficus/health', (_req, res) => {
    const failed = state === 'failed' || source?.status().state === 'failed';
    const status = failed ? 'failed' : companionFailed() ? 'degraded' : 'ok';
    res.status(status === 'ok' ? 200 : 503).json({ status, service: name });
  });
  app.get('/_ficus/status', async (_req, res) => {
    res.json(await status());
  });
  app.get('/_ficus/reconciliation', (_req, res) => {
    res.json(latest);
  });
  app.post('/_ficus/reconcile', async (_req, res) => {
    res.json(await runReconcile());
  });
  app.use('/_ficus', ((err, _req, res, _next) => {
    const { status: code, body } = toErrorResponse(err);
    if (code >= 500 && code !== 503) logger.error({ err }, 'status endpoint failed');
    res.status(code).json(body);
  }) as ErrorRequestHandler);
  app.use(service.app);
  const server = createServer(app);

  try {
    await service.migrate().catch((error: unknown) => {
      throw migrateFailed(name, parsed.data.databaseUrl, error);
    });
    await listen(server, parsed.data.port ?? definition.defaultPort, host, name);
  } catch (error) {
    await Promise.all([db.destroy(), sourceDb?.destroy()]);
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const close = async (): Promise<void> => {
    state = 'stopped';
    await source?.stop().catch((error: unknown) => {
      logger.error({ err: error }, 'stopping the record source failed');
    });
    await companion?.close().catch((error: unknown) => {
      logger.error({ err: error }, 'stopping the companion failed');
    });
    const stopped = new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
    });
    server.closeIdleConnections();
    const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    try {
      await stopped;
    } finally {
      clearTimeout(deadline);
      await Promise.all([db.destroy(), sourceDb?.destroy()]);
    }
    logger.info({ url }, `${name} service stopped`);
  };
  let closed: Promise<void> | undefined;
  const stop = () => (closed ??= close());

  try {
    companion = await definition.startCompanion?.({
      databaseUrl: parsed.data.databaseUrl,
      sourceDatabaseUrl: parsed.data.sourceDatabaseUrl,
      logger,
    });
    state = 'running';
    if (source) {
      source.done.catch((error: unknown) => {
        logger.error({ err: error }, 'record source failed; the service serves what it has');
      });
      const empty = (await service.carried.progress(name)) === null;
      await source.start(
        async (records) => {
          await service.handle(records);
          const now = Date.now();
          lastAppliedAt = new Date(now).toISOString();
          // Commit-to-apply time of the newest streamed change (snapshot reads carry the
          // snapshot's time, not a commit's).
          for (let i = records.length - 1; i >= 0; i--) {
            const value = records[i]!.value;
            if (isChangeEventValue(value) && value.op !== 'r') {
              lastLatencyMs = Math.max(0, now - value.source.ts_ms);
              break;
            }
          }
        },
        { empty },
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  logger.info({ url, source: source?.kind ?? 'none' }, `${name} service listening`);

  return { name, url, port, service, status, reconcile: runReconcile, close: stop };
}

/** A failed migration as one line; a database that does not exist yet says how to create it. */
function migrateFailed(name: string, databaseUrl: string, error: unknown): FicusError {
  const message = (error as Error).message;
  if ((error as { code?: unknown }).code === '3D000') {
    const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
    return new FicusError(
      'FICUS_SERVICE_DATABASE_MISSING',
      `${name}: its database ${JSON.stringify(database)} does not exist; a service keeps its data in a database of its own: create it (CREATE DATABASE "${database}") and start again`,
      { cause: error },
    );
  }
  return new FicusError(
    'FICUS_SERVICE_MIGRATE',
    `${name}: migrating its database failed: ${message}`,
    {
      cause: error,
    },
  );
}

function openPool(connectionString: string, applicationName: string, max = 10): Knex {
  return knex({
    client: 'pg',
    connection: { connectionString, application_name: applicationName },
    pool: { min: 0, max },
  });
}

function listen(server: Server, port: number, host: string, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      const message = `${name} service cannot listen on ${host}:${port}: ${error.message}`;
      reject(new FicusError('FICUS_SERVICE_LISTEN', message, { cause: error }));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
