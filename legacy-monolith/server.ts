import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { z } from 'zod';
import { ConfigError, createSilentLogger, FicusError, type Logger } from '../common/index.js';
import { createLegacyApp } from './app.js';
import { createLegacyDatabase, migrateLegacyDatabase, type LegacyPoolOptions } from './database.js';
import { seedLegacyDatabase } from './seed.js';
import { describeIssue, integerField } from './validation.js';

/** Options of {@link startLegacyMonolith}. */
export interface LegacyMonolithOptions {
  /** `postgres://…` URL of the monolith's database. */
  databaseUrl: string;
  /** TCP port; default 3000, 0 for any free port. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Default: silent. */
  logger?: Logger;
  /** Seed the demo data when the database has no products yet; default true. */
  seed?: boolean;
  /** Bounds of the knex connection pool; default 0 to 10. */
  pool?: LegacyPoolOptions;
}

/** A monolith started by {@link startLegacyMonolith}. */
export interface RunningLegacyMonolith {
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly port: number;
  readonly db: Knex;
  /**
   * Stops accepting connections, lets in-flight requests finish (idle keep-alive connections are
   * closed at once; after 10 s the rest are cut), then destroys the knex pool. Safe to call twice.
   */
  close(): Promise<void>;
}

/** Default port of the legacy monolith (see the product brief). */
export const DEFAULT_LEGACY_PORT = 3000;

const SHUTDOWN_GRACE_MS = 10_000;

const nonEmptyString = (rule: string) => z.string({ error: rule }).min(1, { error: rule });

const optionsSchema = z.object({
  databaseUrl: nonEmptyString('must be a postgres:// URL'),
  port: integerField(0, 65535).optional(),
  host: nonEmptyString('must be a host name or IP address').optional(),
  seed: z.boolean({ error: 'must be true or false' }).optional(),
  pool: z
    .object(
      { min: integerField(0, 1000).optional(), max: integerField(1, 1000).optional() },
      { error: 'must be an object with min and max' },
    )
    .optional(),
});

/**
 * Starts the monolith: migrates the database, seeds it when it has no products yet (unless
 * `seed: false`), and listens. Throws {@link ConfigError} for invalid options.
 */
export async function startLegacyMonolith(
  options: LegacyMonolithOptions,
): Promise<RunningLegacyMonolith> {
  const parsed = optionsSchema.safeParse(options, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const message = issue
      ? describeIssue(issue, 'options').message
      : 'invalid legacy monolith options';
    throw new ConfigError(`legacy monolith option ${message}`, { cause: parsed.error });
  }
  const logger = options.logger ?? createSilentLogger();
  const host = options.host ?? '127.0.0.1';
  const db = createLegacyDatabase(options.databaseUrl, options.pool, logger);

  const server = createServer(createLegacyApp({ db, logger }));
  let closing = false;
  // A response that finishes while the server is closing must not leave its keep-alive socket
  // open, or close() would wait for the client to hang up.
  server.prependListener('request', (_req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    res.once('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });

  try {
    await migrateLegacyDatabase(db);
    if (options.seed !== false) {
      const seeded = await seedLegacyDatabase(db);
      logger.info({ seeded }, seeded ? 'seeded demo data' : 'database already holds data');
    }
    await listen(server, options.port ?? DEFAULT_LEGACY_PORT, host);
  } catch (error) {
    await db.destroy();
    throw error;
  }

  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url }, 'legacy monolith listening');

  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing = true;
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
    logger.info({ url }, 'legacy monolith stopped');
  };

  return {
    url,
    port,
    db,
    close: () => (closed ??= close()),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      const message = `legacy monolith cannot listen on ${host}:${port}: ${error.message}`;
      reject(new FicusError('FICUS_LEGACY_LISTEN', message, { cause: error }));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
