/**
 * A real Kafka Connect worker (standalone mode) with Debezium's JDBC sink connector on its plugin
 * path, from Maven Central jars, for tests that prove ficus's events against Debezium's own
 * consumer. The JVM is started and guarded as the broker's is (./kafka-broker.ts): a watchdog
 * process SIGKILLs it when this Node process dies, and a process 'exit' hook kills it too.
 *
 * Connect REST API: https://kafka.apache.org/documentation/#connect_rest
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import {
  ANSI_ESCAPE,
  clearPidFile,
  describeExit,
  fileExists,
  isAlive,
  killHard,
  killProcessGroup,
  lastLines,
  LIBS_MARKER,
  onPath,
  pomHash,
  probeJava,
  publishArchive,
  readLibsMarker,
  run,
  sleep,
  spawnJava,
  spawnWatchdog,
  terminate,
  writePidFile,
  type ExitInfo,
  type SpawnedJava,
} from './kafka-broker.js';

/** Options for {@link startKafkaConnect}. */
export interface KafkaConnectOptions {
  /** Bootstrap addresses of the Kafka cluster the worker reads from. */
  brokers: string[];
  /** Kafka Connect version from Maven Central. Default: `$FICUS_KAFKA_CONNECT_VERSION`, else `4.1.1`. */
  version?: string;
  /** Where the jars (and a class-data-sharing archive) are kept between runs. Default: `<repo>/.ficus/cache/kafka-connect-<version>`. */
  cacheDir?: string;
  /** Receives the harness's own messages (prefixed `ficus-connect:`) and the worker's output lines. */
  logger?: (line: string) => void;
  /** How long the worker may take to serve its REST API. Default: 60000. */
  startTimeoutMs?: number;
}

/** What `GET /connectors/<name>/status` answers. */
export interface ConnectorStatus {
  name: string;
  connector: { state: ConnectorState; worker_id: string; trace?: string };
  tasks: { id: number; state: ConnectorState; worker_id: string; trace?: string }[];
  type: string;
}

/** States of a connector or task in Kafka Connect. */
export type ConnectorState =
  'UNASSIGNED' | 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FAILED' | 'RESTARTING';

/** A running standalone Connect worker. */
export interface KafkaConnect {
  /** The REST API's base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly version: string;
  /** Wall time from the `java` spawn to the REST API answering; excludes fetching jars. */
  readonly startedInMs: number;
  /** Creates the connector, or replaces its configuration (`PUT /connectors/<name>/config`). */
  putConnector(name: string, config: Record<string, string>): Promise<void>;
  /** The connector's status; undefined while the worker does not know it (404). */
  status(name: string): Promise<ConnectorStatus | undefined>;
  /**
   * Throws {@link ConnectorFailedError} (with the failed task's stack trace and the worker's last
   * log lines) if the connector or a task has FAILED, or if the worker has exited.
   */
  assertHealthy(name: string): Promise<void>;
  /** Waits until the connector and all its tasks are RUNNING; fails as {@link assertHealthy} does. */
  waitUntilRunning(name: string, timeoutMs?: number): Promise<ConnectorStatus>;
  /** Deletes the connector (`DELETE /connectors/<name>`); its tasks stop. */
  deleteConnector(name: string): Promise<void>;
  /** The worker's last output lines, for failure messages. */
  logTail(): string[];
  /** Stops the worker (SIGTERM, SIGKILL after 15 s) and deletes its work dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when this machine cannot run Kafka Connect at all (so a test run may skip instead of fail). */
export class KafkaConnectUnavailableError extends Error {
  readonly code = 'FICUS_KAFKA_CONNECT_UNAVAILABLE';
  constructor(readonly missing: string) {
    super(`Kafka Connect test worker unavailable: ${missing}`);
    this.name = 'KafkaConnectUnavailableError';
  }
}

/** A connector or one of its tasks FAILED, or the worker died. */
export class ConnectorFailedError extends Error {
  readonly code = 'FICUS_CONNECTOR_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'ConnectorFailedError';
  }
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const POM_PATH = path.join(REPO_ROOT, 'tests', 'support', 'kafka-connect', 'pom.xml');
const DEFAULT_VERSION = '4.1.1';
/** Connect 4.x is built for Java 17 (its REST server uses Jetty 12). */
const MIN_JAVA = 17;
/** Same prefix as the broker's: publishArchive() prunes older archives by it. */
const CDS_PREFIX = 'classes-';
const CDS_QUIET = ['-Xlog:cds=off', '-Xlog:cds+dynamic=off'];
const LOG_PREFIX = 'ficus-connect:';
const TAIL_LINES = 60;

/** As the broker's (see JVM_FLAGS there): small heap, C1 only, serial GC. */
const JVM_FLAGS = [
  '-XX:+IgnoreUnrecognizedVMOptions',
  '-Xms128m',
  '-Xmx512m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-XX:-UsePerfData',
  '-Djava.awt.headless=true',
  '-Dlog4j2.shutdownHookEnabled=false',
];

/**
 * WARN and up, plus the lines the harness reads (the REST server's address) and the ones worth
 * seeing in a failure: the herder's connector lifecycle and Debezium's own INFO lines.
 */
const LOG4J2_PROPERTIES = `status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
logger.rest.name = org.apache.kafka.connect.runtime.rest.RestServer
logger.rest.level = INFO
logger.debezium.name = io.debezium
logger.debezium.level = INFO
`;

/** The REST server logs this once it has bound its port (we ask for port 0). */
const LISTENING = /REST server listening at (http:\/\/[^\s,]+?)\/?,/;

/** The REST server's access log lines ("GET /connectors/... HTTP/1.1" 200 ...). */
const ACCESS_LOG = /"(?:GET|PUT|POST|DELETE) \/\S* HTTP\/1\.1" \d{3}/;

/** Connect workers not yet stopped: what the process 'exit' hook must kill. */
const liveWorkers = new Set<ConnectWorker>();
let exitHookInstalled = false;

/**
 * Tells whether this machine can run the worker: `java` 17+ on PATH, and `mvn` on PATH unless the
 * jars for this version are already cached.
 */
export async function checkKafkaConnectPrerequisites(
  options: Pick<KafkaConnectOptions, 'version' | 'cacheDir'> = {},
): Promise<{ ok: true } | { ok: false; missing: string }> {
  const version = resolveVersion(options.version);
  const cacheDir = resolveCacheDir(version, options.cacheDir);
  const missing = await prerequisiteProblem(version, cacheDir);
  return missing ? { ok: false, missing } : { ok: true };
}

/**
 * Fetches the jars once (`mvn` into the cache dir: the worker's classpath and Debezium's JDBC sink
 * plugin, see kafka-connect/pom.xml), then starts a standalone worker on a free loopback port with
 * JSON converters and `schemas.enable=true`, the JDBC sink on its plugin path. Throws
 * {@link KafkaConnectUnavailableError} when java/mvn are missing.
 */
export async function startKafkaConnect(options: KafkaConnectOptions): Promise<KafkaConnect> {
  const version = resolveVersion(options.version);
  const cacheDir = resolveCacheDir(version, options.cacheDir);
  const log = options.logger ?? (() => undefined);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;

  const missing = await prerequisiteProblem(version, cacheDir);
  if (missing) throw new KafkaConnectUnavailableError(missing);
  const java = await probeJava();
  const marker = await ensureLibs(version, cacheDir, log);
  const archiveKey = createHash('sha256')
    .update(java?.buildKey ?? '')
    .update(marker)
    .digest('hex')
    .slice(0, 12);
  const cdsArchive = path.join(cacheDir, `${CDS_PREFIX}${archiveKey}.jsa`);

  let cds: CdsMode = (await fileExists(cdsArchive)) ? 'use' : 'dump';
  for (;;) {
    const worker = new ConnectWorker({
      version,
      brokers: options.brokers,
      cacheDir,
      cdsArchive,
      cds,
      log,
      workDir: await mkdtemp(path.join(os.tmpdir(), 'ficus-connect-')),
    });
    try {
      await worker.start(startTimeoutMs);
      return worker;
    } catch (error) {
      await worker.stop();
      // Class-data sharing is an optimisation: a JVM that cannot use or write the archive must
      // not cost the test. Retry once without it.
      if (!(error instanceof WorkerExitedError) || cds === 'off') throw error;
      log(
        `${LOG_PREFIX} ${error.message.split('\n')[0] ?? ''}; retrying without class-data sharing`,
      );
      if (cds === 'use') await unlink(cdsArchive).catch(() => undefined);
      cds = 'off';
    }
  }
}

/**
 * Fetches the worker's and the JDBC sink's jars into the cache dir if they are not there yet
 * (what `.ci/run` does before the tests, so no test waits for a download). Throws
 * {@link KafkaConnectUnavailableError} when java/mvn are missing.
 */
export async function prefetchKafkaConnect(
  options: Pick<KafkaConnectOptions, 'version' | 'cacheDir' | 'logger'> = {},
): Promise<{ cacheDir: string }> {
  const version = resolveVersion(options.version);
  const cacheDir = resolveCacheDir(version, options.cacheDir);
  const missing = await prerequisiteProblem(version, cacheDir);
  if (missing) throw new KafkaConnectUnavailableError(missing);
  await ensureLibs(version, cacheDir, options.logger ?? (() => undefined));
  return { cacheDir };
}

/** JDBC connection settings for a `postgres://user:password@host:port/db` URL. */
export function jdbcConnectionOf(postgresUrl: string): Record<string, string> {
  const url = new URL(postgresUrl);
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
  return {
    'connection.url': `jdbc:postgresql://${host}:${url.port || '5432'}${url.pathname}`,
    'connection.username': decodeURIComponent(url.username),
    'connection.password': decodeURIComponent(url.password),
  };
}

type CdsMode = 'use' | 'dump' | 'off';

class WorkerExitedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerExitedError';
  }
}

interface WorkerConfig {
  version: string;
  brokers: string[];
  cacheDir: string;
  cdsArchive: string;
  cds: CdsMode;
  log: (line: string) => void;
  workDir: string;
}

class ConnectWorker implements KafkaConnect {
  url = '';
  readonly version: string;
  startedInMs = 0;

  private readonly config: WorkerConfig;
  private readonly pidFile: string;
  private readonly dumpPath: string;
  private readonly logStream: WriteStream;
  private readonly tail: string[] = [];
  private readonly watchdog: ChildProcess | undefined;
  private jvm: SpawnedJava | undefined;
  private exit: ExitInfo | undefined;
  private served = false;
  private stopped: Promise<void> | undefined;

  constructor(config: WorkerConfig) {
    this.config = config;
    this.version = config.version;
    this.pidFile = path.join(config.workDir, 'connect.pid');
    this.dumpPath = path.join(config.workDir, 'classes.jsa');
    this.logStream = createWriteStream(path.join(config.workDir, 'connect.log'));
    this.logStream.on('error', () => undefined);
    this.watchdog = spawnWatchdog(this.pidFile, config.workDir);
    track(this);
  }

  async start(startTimeoutMs: number): Promise<void> {
    const { workDir, cacheDir, cds, cdsArchive, log } = this.config;
    const workerProperties = path.join(workDir, 'worker.properties');
    const log4j = path.join(workDir, 'log4j2.properties');
    await writeFile(workerProperties, workerPropertiesText(this.config.brokers, workDir, cacheDir));
    await writeFile(log4j, LOG4J2_PROPERTIES);
    const cdsFlags =
      cds === 'use'
        ? [`-XX:SharedArchiveFile=${cdsArchive}`, ...CDS_QUIET]
        : cds === 'dump'
          ? [`-XX:ArchiveClassesAtExit=${this.dumpPath}`, ...CDS_QUIET]
          : [];
    const spawnedAt = performance.now();
    const jvm = spawnJava(
      [
        ...JVM_FLAGS,
        ...cdsFlags,
        `-Dlog4j2.configurationFile=${log4j}`,
        '-cp',
        path.join(cacheDir, 'jars', 'worker', '*'),
        'org.apache.kafka.connect.cli.ConnectStandalone',
        workerProperties,
      ],
      workDir,
      this.logStream,
      this.onLine,
    );
    this.jvm = jvm;
    void jvm.exited.then((info) => (this.exit = info));
    const pid = jvm.child.pid;
    if (pid !== undefined) {
      writePidFile(this.pidFile, `${pid}\n`);
      jvm.child.once('exit', () => clearPidFile(this.pidFile, pid));
    }

    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (this.exit) {
        throw new WorkerExitedError(
          `Kafka Connect ${this.version} exited during start (${describeExit(this.exit)}); last lines:\n${this.tail.join('\n')}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Kafka Connect ${this.version} did not serve its REST API within ${startTimeoutMs} ms; last lines:\n${this.tail.join('\n')}`,
        );
      }
      // The address is logged before the REST resources are registered: ask until they answer.
      if (this.url && (await this.get('/connector-plugins').catch(() => undefined))?.ok) break;
      await sleep(100);
    }
    this.served = true;
    this.startedInMs = Math.round(performance.now() - spawnedAt);
    log(
      `${LOG_PREFIX} Kafka Connect ${this.version} ready at ${this.url} in ${this.startedInMs} ms (class-data sharing: ${cds})`,
    );
  }

  readonly putConnector = async (name: string, config: Record<string, string>): Promise<void> => {
    const response = await this.request(
      'PUT',
      `/connectors/${encodeURIComponent(name)}/config`,
      config,
    );
    if (!response.ok) {
      throw new Error(
        `PUT /connectors/${name}/config: ${response.status} ${await response.text()}`,
      );
    }
  };

  readonly status = async (name: string): Promise<ConnectorStatus | undefined> => {
    this.assertAlive();
    const response = await this.get(`/connectors/${encodeURIComponent(name)}/status`);
    if (response.status === 404) return undefined;
    if (!response.ok) {
      throw new Error(
        `GET /connectors/${name}/status: ${response.status} ${await response.text()}`,
      );
    }
    return (await response.json()) as ConnectorStatus;
  };

  readonly assertHealthy = async (name: string): Promise<void> => {
    this.assertFailedNot(await this.status(name));
  };

  readonly waitUntilRunning = async (
    name: string,
    timeoutMs = 60_000,
  ): Promise<ConnectorStatus> => {
    const deadline = Date.now() + timeoutMs;
    let last: ConnectorStatus | undefined;
    for (;;) {
      last = await this.status(name);
      this.assertFailedNot(last);
      if (
        last?.connector.state === 'RUNNING' &&
        last.tasks.length > 0 &&
        last.tasks.every((task) => task.state === 'RUNNING')
      ) {
        return last;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `connector ${name} not RUNNING within ${timeoutMs} ms: ${JSON.stringify(last)}`,
        );
      }
      await sleep(100);
    }
  };

  readonly deleteConnector = async (name: string): Promise<void> => {
    const response = await this.request('DELETE', `/connectors/${encodeURIComponent(name)}`);
    if (!response.ok && response.status !== 404) {
      throw new Error(`DELETE /connectors/${name}: ${response.status} ${await response.text()}`);
    }
  };

  readonly logTail = (): string[] => [...this.tail];

  readonly stop = (): Promise<void> => (this.stopped ??= this.stopNow());

  /** For the process 'exit' hook: only synchronous work is possible there. */
  killSync(): void {
    this.jvm?.child.kill('SIGKILL');
    if (this.watchdog) killProcessGroup(this.watchdog);
    rmSync(this.config.workDir, { recursive: true, force: true });
  }

  private async stopNow(): Promise<void> {
    const jvm = this.jvm;
    let killed = false;
    if (jvm && isAlive(jvm.child)) killed = await terminate(jvm.child, jvm.exited);
    else if (jvm) await killHard(jvm.child, jvm.exited);
    // Only a worker that served (and so loaded the classes worth archiving) and shut down cleanly
    // has written a usable archive.
    if (this.config.cds === 'dump' && this.served && !killed) {
      await publishArchive(this.dumpPath, this.config.cdsArchive, this.config.log);
    }
    if (this.watchdog) killProcessGroup(this.watchdog);
    await new Promise<void>((resolve) => this.logStream.end(resolve));
    await rm(this.config.workDir, { recursive: true, force: true });
    liveWorkers.delete(this);
  }

  private assertAlive(): void {
    if (this.exit) {
      throw new ConnectorFailedError(
        `Kafka Connect worker exited (${describeExit(this.exit)}); last lines:\n${this.tail.join('\n')}`,
      );
    }
  }

  private assertFailedNot(status: ConnectorStatus | undefined): void {
    if (!status) return;
    const failed = [
      ...(status.connector.state === 'FAILED'
        ? [{ what: 'connector', trace: status.connector.trace }]
        : []),
      ...status.tasks
        .filter((task) => task.state === 'FAILED')
        .map((task) => ({ what: `task ${task.id}`, trace: task.trace })),
    ];
    if (failed.length === 0) return;
    throw new ConnectorFailedError(
      [
        `connector ${status.name} FAILED:`,
        ...failed.map(({ what, trace }) => `${what}: ${trace ?? '(no trace)'}`),
        `last worker lines:`,
        ...this.tail,
      ].join('\n'),
    );
  }

  private get(pathname: string): Promise<Response> {
    return this.request('GET', pathname);
  }

  private request(method: string, pathname: string, body?: unknown): Promise<Response> {
    return fetch(`${this.url}${pathname}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  }

  private readonly onLine = (line: string): void => {
    if (!this.url) {
      const match = LISTENING.exec(line);
      if (match?.[1]) this.url = match[1];
    }
    this.config.log(line);
    if (ACCESS_LOG.test(line)) return; // the harness's own REST polling: noise in a failure
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  };
}

/**
 * The worker's settings. JSON with schemas is what Debezium's sink needs (it reads field types
 * from the schema). A regex subscription only sees topics created after it at the next metadata
 * refresh (5 min by default), hence the short `metadata.max.age.ms`. `service_load` discovery
 * finds plugins by their ServiceLoader manifests (Debezium's jars have them) instead of scanning
 * every class on the plugin path, which takes seconds.
 */
function workerPropertiesText(brokers: string[], workDir: string, cacheDir: string): string {
  const props: Record<string, string | number> = {
    'bootstrap.servers': brokers.join(','),
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': 'true',
    'value.converter.schemas.enable': 'true',
    'offset.storage.file.filename': path.join(workDir, 'connect.offsets'),
    'offset.flush.interval.ms': 1_000,
    'plugin.path': path.join(cacheDir, 'jars', 'plugins'),
    'plugin.discovery': 'service_load',
    listeners: 'http://127.0.0.1:0',
    'consumer.metadata.max.age.ms': 1_000,
    'task.shutdown.graceful.timeout.ms': 5_000,
  };
  return `${Object.entries(props)
    .map(([key, value]) => `${key}=${String(value).replaceAll('\\', '\\\\')}`)
    .join('\n')}\n`;
}

function track(worker: ConnectWorker): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const live of liveWorkers) live.killSync();
    });
  }
  liveWorkers.add(worker);
}

function resolveVersion(version: string | undefined): string {
  const resolved = version ?? process.env.FICUS_KAFKA_CONNECT_VERSION ?? DEFAULT_VERSION;
  if (!/^\d+\.\d+\.\d+[0-9A-Za-z.-]*$/.test(resolved))
    throw new Error(`Invalid Kafka Connect version: ${JSON.stringify(resolved)}`);
  return resolved;
}

function resolveCacheDir(version: string, cacheDir: string | undefined): string {
  return path.resolve(
    cacheDir ?? path.join(REPO_ROOT, '.ficus', 'cache', `kafka-connect-${version}`),
  );
}

async function prerequisiteProblem(version: string, cacheDir: string): Promise<string | undefined> {
  const java = await probeJava();
  if (!java) {
    return `java not on PATH: the Kafka Connect ${version} test worker needs a Java ${MIN_JAVA}+ runtime (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk@17)`;
  }
  if (java.major < MIN_JAVA) {
    return `java ${java.major} on PATH is too old: Kafka Connect ${version} needs Java ${MIN_JAVA}+ (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless)`;
  }
  if ((await readConnectMarker(cacheDir)) === undefined && !onPath('mvn'))
    return mvnMissing(version);
  return undefined;
}

function mvnMissing(version: string): string {
  return `mvn not on PATH: it is needed once to fetch the Kafka Connect ${version} and Debezium JDBC sink jars from Maven Central (Debian/Ubuntu: apt-get install -y maven; macOS: brew install maven)`;
}

/** The marker's text, if `cacheDir` holds a complete download made from the current pom.xml. */
function readConnectMarker(cacheDir: string): Promise<string | undefined> {
  return readLibsMarker(path.join(cacheDir, 'jars'), POM_PATH);
}

/**
 * Fetches the worker's jars into `<cacheDir>/jars/worker` and unpacks the JDBC sink plugin into
 * `<cacheDir>/jars/plugins`, once; concurrent runs stage into a temp dir and rename. Returns the
 * completion marker's text.
 */
async function ensureLibs(
  version: string,
  cacheDir: string,
  log: (line: string) => void,
): Promise<string> {
  const ready = await readConnectMarker(cacheDir);
  if (ready !== undefined) return ready;
  await mkdir(cacheDir, { recursive: true });
  const staging = await mkdtemp(path.join(cacheDir, 'jars.staging-'));
  try {
    log(
      `${LOG_PREFIX} fetching Kafka Connect ${version} and the Debezium JDBC sink with mvn into ${cacheDir}`,
    );
    const startedAt = performance.now();
    const args = [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      POM_PATH,
      'dependency:copy-dependencies@worker',
      'dependency:unpack@jdbc-sink',
      `-Dconnect.version=${version}`,
      `-Dworker.dir=${path.join(staging, 'worker')}`,
      `-Dplugins.dir=${path.join(staging, 'plugins')}`,
    ];
    const result = await run('mvn', args, { cwd: cacheDir, timeoutMs: 15 * 60_000 });
    if (result.notFound) throw new KafkaConnectUnavailableError(mvnMissing(version));
    if (result.code !== 0) {
      const output = lastLines(result.output.replace(ANSI_ESCAPE, ''), 30);
      throw new Error(
        `mvn could not fetch the Kafka Connect ${version} / Debezium JDBC sink jars (${describeExit(result)}):\n${output}`,
      );
    }
    const workerJars = (await readdir(path.join(staging, 'worker'))).filter((name) =>
      name.endsWith('.jar'),
    );
    if (!workerJars.includes(`connect-runtime-${version}.jar`))
      throw new Error(`mvn finished but connect-runtime-${version}.jar is not in ${staging}`);
    const pluginJars = await readdir(path.join(staging, 'plugins', 'debezium-connector-jdbc'));
    if (!pluginJars.some((name) => name.startsWith('debezium-connector-jdbc-')))
      throw new Error(`mvn finished but the Debezium JDBC sink is not in ${staging}/plugins`);
    await rm(path.join(staging, 'unpack-markers'), { recursive: true, force: true });
    await chmod(staging, 0o755); // mkdtemp makes it 0700
    const marker = `${JSON.stringify({ version, pom: await pomHash(POM_PATH), workerJars: workerJars.length, pluginJars: pluginJars.length, fetchedAt: new Date().toISOString() })}\n`;
    await writeFile(path.join(staging, LIBS_MARKER), marker);
    await publishDir(staging, path.join(cacheDir, 'jars'));
    log(
      `${LOG_PREFIX} fetched ${workerJars.length} worker jars and the JDBC sink plugin in ${Math.round(performance.now() - startedAt)} ms`,
    );
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const marker = await readConnectMarker(cacheDir);
  if (marker === undefined) throw new Error(`Kafka Connect jars in ${cacheDir} are incomplete`);
  return marker;
}

/** Renames a complete staging dir into place; an outdated leftover is moved aside first. */
async function publishDir(staging: string, target: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await rename(staging, target);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      if ((await readConnectMarker(path.dirname(target))) !== undefined) {
        await rm(staging, { recursive: true, force: true }); // another run got there first
        return;
      }
      const trash = `${target}.stale-${randomBytes(4).toString('hex')}`;
      await rename(target, trash).catch(() => undefined);
      await rm(trash, { recursive: true, force: true });
    }
  }
  throw new Error(`could not publish Kafka Connect jars into ${target}`);
}
