/**
 * The reader's system that the guides' tests stand up: the library app (their monolith) on a
 * database of its own, an empty project folder with a package.json, free ports, secrets, and the
 * value of every variable the guides export. The guides' role, slots and databases are global to
 * the cluster, so a reader system holds the guide lock from start to stop.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { findFreePort } from '../../common/index.js';
import { ensureBuilt } from '../support/build.js';
import { kafkaBrokers } from '../support/kafka.js';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from '../support/postgres.js';
import { lockGuideNames, type BackgroundStep, type GuideHook } from './guide.js';
import { createLibrarySchema, startLibraryApp, type LibraryApp } from './library-app.js';

/** The repository: what the reader's `FICUS_HOME` points at. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Replication slots the guides create (dropped at the end, and before a start). */
const GUIDE_SLOTS = ['ficus', 'ficus_books'];
/** Databases the guides create besides the monolith's. */
const GUIDE_DATABASES = ['books_service'];

/** See the file comment. */
export interface ReaderSystem {
  readonly db: TestDatabase;
  readonly app: LibraryApp;
  /** The reader's project folder. */
  readonly project: string;
  readonly gatewayUrl: string;
  readonly statusUrl: string;
  readonly adminToken: string;
  /** Kafka brokers of the test run, when there are any. */
  readonly brokers: string[] | undefined;
  /** The test's value of every variable the guides export. */
  readonly readerValues: Record<string, string>;
  /** The environment the guides' commands run with (ports), grown by their `sh env` blocks. */
  readonly env: Record<string, string>;
  /** The reader's addresses in the guides' files, and the test's. */
  readonly fileSubstitutions: Record<string, [from: string, to: string][]>;
  /** Background blocks started by the guides, in order. */
  readonly running: BackgroundStep[];
  /** Stops every background block, the app, and removes what the guides created. */
  stop(): Promise<void>;
}

/** Starts a reader system; `name` prefixes its database. */
export async function startReaderSystem(name: string): Promise<ReaderSystem> {
  await ensureBuilt();
  const release = await lockGuideNames(postgresAdminUrl());
  await forgetGuideLeftovers();
  const db = await createTestDatabase(name);
  await createLibrarySchema(db.url);
  const app = await startLibraryApp({ databaseUrl: db.url });
  const project = await mkdtemp(path.join(tmpdir(), `ficus-${name}-`));
  await writeFile(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'library', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  const brokers = kafkaBrokers();
  const [gatewayPort, statusPort, booksPort] = [
    await findFreePort(),
    await findFreePort(),
    await findFreePort(),
  ];
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const statusUrl = `http://127.0.0.1:${statusPort}/status`;
  const booksUrl = `http://127.0.0.1:${booksPort}`;
  const adminToken = randomBytes(24).toString('hex');
  const cdcPassword = randomBytes(16).toString('hex');
  const cdcUrl = new URL(db.url);
  cdcUrl.username = 'ficus_cdc';
  cdcUrl.password = cdcPassword;
  const booksDatabaseUrl = new URL(db.url);
  booksDatabaseUrl.pathname = '/books_service';

  const running: BackgroundStep[] = [];
  return {
    db,
    app,
    project,
    gatewayUrl,
    statusUrl,
    adminToken,
    brokers,
    readerValues: {
      FICUS_HOME: repoRoot,
      MONOLITH_URL: app.url,
      MONOLITH_DATABASE_URL: db.url,
      CDC_PASSWORD: cdcPassword,
      CDC_DATABASE_URL: cdcUrl.toString(),
      FICUS_ADMIN_TOKEN: adminToken,
      FICUS_GATEWAY_URL: gatewayUrl,
      FICUS_CDC_STATUS_URL: statusUrl,
      KAFKA_BROKERS: brokers?.join(',') ?? '',
      BOOKS_DATABASE_URL: booksDatabaseUrl.toString(),
      BOOKS_URL: booksUrl,
    },
    env: {
      FICUS_GATEWAY_PORT: String(gatewayPort),
      FICUS_CDC_STATUS_PORT: String(statusPort),
      FICUS_SERVICE_PORT: String(booksPort),
    },
    fileSubstitutions: {
      'routes.yaml': [
        ['http://127.0.0.1:3000', app.url],
        ['http://127.0.0.1:3104', booksUrl],
      ],
    },
    running,
    async stop() {
      for (const step of running.reverse()) await step.stop();
      await app.close();
      await dropSlots(db.url);
      await db.drop();
      await forgetGuideLeftovers();
      await release();
      await rm(project, { recursive: true, force: true });
    },
  };
}

/**
 * What the reader waits for after starting the first guide's background blocks: the gateway's
 * and the connector's readiness lines.
 */
export function frontGuideReadiness(): GuideHook[] {
  return [
    {
      match: /npx ficus gateway /,
      after: async (gateway) => {
        await (gateway as BackgroundStep).waitFor(/gateway listening/);
      },
    },
    {
      match: /npx ficus cdc .*> changes\.jsonl/,
      after: async (cdc) => {
        await (cdc as BackgroundStep).waitFor(/streaming started/);
      },
    },
  ];
}

async function dropSlots(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1) AND database = current_database() AND NOT active',
      [GUIDE_SLOTS],
    );
  } finally {
    await client.end();
  }
}

/**
 * The guides' role, slots and databases are global to the cluster. On a cluster that outlives
 * test runs (DATABASE_URL), an earlier run that crashed may have left them; nobody else uses them
 * while the guide lock is held.
 */
async function forgetGuideLeftovers(): Promise<void> {
  const cluster = new pg.Client({ connectionString: postgresAdminUrl() });
  await cluster.connect();
  try {
    await cluster.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1) AND database = current_database() AND NOT active',
      [GUIDE_SLOTS],
    );
    for (const database of GUIDE_DATABASES)
      await cluster.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await cluster.query('DROP ROLE IF EXISTS ficus_cdc').catch((error: Error) => {
      console.warn(`cannot drop the role ficus_cdc left by an earlier run: ${error.message}`);
    });
  } finally {
    await cluster.end();
  }
}
