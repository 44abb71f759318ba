import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import knex from 'knex';
import { z } from 'zod';
import type { ChangeRecord } from '../../cdc/index.js';
import { ConfigError, createSilentLogger, FicusError, type Logger } from '../../common/index.js';
import type { ApplyResult } from '../carried-state/index.js';
import { createCatalogService } from './service.js';

/** Default port of the catalog service. */
export const DEFAULT_CATALOG_PORT = 3101;

const SHUTDOWN_GRACE_MS = 10_000;

/** Options of {@link startCatalogService}. */
export interface CatalogServiceOptions {
  /** `postgres://…` URL of the catalog's own database. */
  databaseUrl: string;
  /** TCP port; default 3101, 0 for any free port. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Default: silent. */
  logger?: Logger;
}

/** A catalog service started by {@link startCatalogService}. */
export interface RunningCatalogService {
  /** Base URL, e.g. `http://127.0.0.1:3101`. */
  readonly url: string;
  readonly port: number;
  /** Applies a batch of CDC records; wire a record source to it. */
  apply(records: readonly ChangeRecord[]): Promise<ApplyResult>;
  /** Stops accepting, lets in-flight requests finish, destroys the pool. Safe to call twice. */
  close(): Promise<void>;
}

const optionsSchema = z.object({
  databaseUrl: z
    .string({ error: 'must be a postgres:// URL' })
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
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
 * Starts the catalog service on its own database: migrates, listens. Throws {@link ConfigError}
 * naming the field for invalid options.
 */
export async function startCatalogService(
  options: CatalogServiceOptions,
): Promise<RunningCatalogService> {
  const parsed = optionsSchema.safeParse(options, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') ?? 'options';
    const got = issue?.input === undefined ? 'nothing' : JSON.stringify(issue.input);
    throw new ConfigError(
      `catalog service option ${field} ${issue?.message ?? 'is invalid'}, got ${got}`,
      { cause: parsed.error },
    );
  }
  const logger = options.logger ?? createSilentLogger();
  const host = parsed.data.host ?? '127.0.0.1';
  const db = knex({
    client: 'pg',
    connection: { connectionString: parsed.data.databaseUrl, application_name: 'ficus-catalog' },
    pool: { min: 0, max: 10 },
  });
  const service = createCatalogService({ db, logger });
  const server = createServer(service.app);

  try {
    await service.migrate();
    await listen(server, parsed.data.port ?? DEFAULT_CATALOG_PORT, host);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url }, 'catalog service listening');

  const close = async (): Promise<void> => {
    const stopped = new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
    });
    server.closeIdleConnections();
    const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    try {
      await stopped;
    } finally {
      clearTimeout(deadline);
      await db.destroy();
    }
    logger.info({ url }, 'catalog service stopped');
  };
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    apply: (records) => service.handle(records),
    close: () => (closed ??= close()),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      const message = `catalog service cannot listen on ${host}:${port}: ${error.message}`;
      reject(new FicusError('FICUS_CATALOG_LISTEN', message, { cause: error }));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
