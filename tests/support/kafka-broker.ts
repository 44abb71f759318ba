import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import {
  accessSync,
  constants,
  createWriteStream,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import {
  access,
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

/** Options for {@link startKafkaBroker}. */
export interface KafkaBrokerOptions {
  /** Kafka version from Maven Central. Default: `$FICUS_KAFKA_VERSION`, else `3.9.1`. */
  version?: string;
  /** Where the broker's jars (and a class-data-sharing archive) are kept between runs. Default: `<repo>/.ficus/cache/kafka-<version>`. */
  cacheDir?: string;
  /** Receives the harness's own messages (prefixed `ficus-kafka:`) and the broker's output lines. */
  logger?: (line: string) => void;
  /** How long storage format + broker start (and each later start) may take before giving up. Default: 60000. */
  startTimeoutMs?: number;
  /**
   * Keep the broker's data when it stops: `stop()` then only stops the process, `start()` brings
   * it back with its topics, messages and committed offsets, and `destroy()` deletes everything.
   * Its ports are also picked below the kernel's ephemeral port range, so that no outgoing
   * connection can take them while the broker is down (see {@link KafkaBroker.start}), and its
   * broker session is 3 s instead of 9 s, so that it is back ~4 s after a `kill()`, not ~14 s.
   * Default: false (`stop()` deletes everything, like `destroy()`).
   */
  persistent?: boolean;
}

/**
 * A single-node KRaft broker (combined broker + controller) on 127.0.0.1. It can be stopped,
 * killed and started again on the same ports with the same data and cluster id; operations on one
 * broker run one after another, in call order.
 */
export interface KafkaBroker {
  /** Bootstrap addresses for clients, e.g. `['127.0.0.1:40123']`; the same across restarts. */
  brokers: string[];
  version: string;
  /** Wall time from the first `java` spawn (storage format) to the broker answering; excludes fetching jars. */
  startedInMs: number;
  /**
   * Stops the broker (SIGTERM: a controlled shutdown; SIGKILL after 15 s). A `persistent` broker
   * keeps its data for {@link start}; otherwise this also deletes it, like {@link destroy}. Safe to
   * call twice.
   */
  stop(): Promise<void>;
  /**
   * Stops the broker like {@link stop} (but never deletes its data, even if not `persistent`),
   * waits `downtimeMs` (default 0), then starts it again like {@link start}. Can be repeated.
   */
  restart(options?: { downtimeMs?: number }): Promise<void>;
  /**
   * SIGKILLs the broker, like a crash: no controlled shutdown, no clean log close. What it had
   * written stays (the OS still has it), so {@link start} recovers it. No-op if not running.
   */
  kill(): Promise<void>;
  /**
   * Starts a stopped, killed or crashed broker again on the same ports, with the same data dir
   * and cluster id (no re-format), and resolves once it answers (kafkajs `describeCluster`).
   * No-op if running. Throws once the broker is destroyed (or stopped, if not `persistent`).
   *
   * Its ports are not held while it is down: another process could bind them meanwhile (start
   * then waits up to 10 s for them and fails saying so). It re-binds them as soon as the JVM is
   * up, ~1-3 s after this call.
   */
  start(): Promise<void>;
  /** Stops the broker if running (SIGTERM, as {@link stop}) and deletes its data and logs. Safe to call twice. */
  destroy(): Promise<void>;
}

/** Thrown when this machine cannot run the broker at all (so a test run may skip instead of fail). */
export class KafkaUnavailableError extends Error {
  readonly code = 'FICUS_KAFKA_UNAVAILABLE';
  constructor(readonly missing: string) {
    super(`Kafka test broker unavailable: ${missing}`);
    this.name = 'KafkaUnavailableError';
  }
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const POM_PATH = path.join(REPO_ROOT, 'tests', 'support', 'kafka', 'pom.xml');
const DEFAULT_VERSION = '3.9.1';
/** The file that marks a complete jar download, with the hash of the pom.xml it came from. */
export const LIBS_MARKER = '.ficus-complete.json';
const CDS_PREFIX = 'classes-';
/** The JVM's class-data-sharing chatter (hundreds of "Skipping ..." lines when writing an archive). */
const CDS_QUIET = ['-Xlog:cds=off', '-Xlog:cds+dynamic=off'];
const LOG_PREFIX = 'ficus-kafka:';
const TAIL_LINES = 30;
// eslint-disable-next-line no-control-regex -- strips terminal colour codes from mvn output
export const ANSI_ESCAPE = /\u001b\[[0-9;]*m/g;
const STOP_GRACE_MS = 15_000;
const START_ATTEMPTS = 3;

/**
 * JVM flags for a small, fast-starting broker on a 2-core machine. C1-only JIT and the serial
 * collector cut start time by ~20% and keep memory and thread count small; a capped heap stops
 * the JVM sizing itself to a quarter of the machine. Unknown `-XX` flags are ignored, not fatal.
 * Class-data sharing (an archive of the broker's loaded classes, kept in the cache dir) is added
 * per start and halves it again.
 */
const JVM_FLAGS = [
  '-XX:+IgnoreUnrecognizedVMOptions',
  '-Xms256m',
  '-Xmx512m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-XX:-UsePerfData',
  '-Djava.awt.headless=true',
  '-Dlog4j2.shutdownHookEnabled=false',
];

/** log4j2 config (Kafka 3.9 and 4.x both log through slf4j 1.7 -> log4j2 here, see kafka/pom.xml). */
const LOG4J2_PROPERTIES = `status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
`;

export interface JavaInfo {
  major: number;
  /** Short hash of `java -version`: a CDS archive is only valid for the JVM build that wrote it. */
  buildKey: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Brokers not yet destroyed: what the process 'exit' hook must clean up. */
const liveBrokers = new Set<LocalBroker>();
let exitHookInstalled = false;

/**
 * Tells whether this machine can run the broker: `java` (17+ for Kafka 4.x) on PATH, and `mvn`
 * on PATH unless the jars for this version are already cached.
 */
export async function checkKafkaPrerequisites(
  options: Pick<KafkaBrokerOptions, 'version' | 'cacheDir'> = {},
): Promise<{ ok: true } | { ok: false; missing: string }> {
  const version = resolveVersion(options.version);
  const java = await probeJava();
  const missing = prerequisiteProblem(
    version,
    java,
    await libsReady(libsDirOf(resolveCacheDir(version, options.cacheDir))),
  );
  return missing ? { ok: false, missing } : { ok: true };
}

/**
 * Starts a real single-node Kafka broker (KRaft, combined broker + controller) from Maven Central
 * jars on free loopback ports, with its data in a fresh temp dir. The jars are fetched once with
 * `mvn` into the cache dir. Throws {@link KafkaUnavailableError} when java/mvn are missing.
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const version = resolveVersion(options.version);
  const cacheDir = resolveCacheDir(version, options.cacheDir);
  const log = options.logger ?? (() => undefined);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const persistent = options.persistent ?? false;

  const java = await probeJava();
  const libsDir = libsDirOf(cacheDir);
  const missing = prerequisiteProblem(version, java, await libsReady(libsDir));
  if (missing || !java) throw new KafkaUnavailableError(missing ?? javaMissingMessage(version));

  await ensureLibs(version, cacheDir, libsDir, log);
  const classpath = await buildClasspath(libsDir);
  const marker = await readLibsMarker(libsDir, POM_PATH);
  if (marker === undefined) throw new Error(`Kafka jars in ${libsDir} are incomplete`);
  // A class-data archive is only valid for the JVM build and the exact jars that wrote it.
  const archiveKey = createHash('sha256')
    .update(java.buildKey)
    .update(marker)
    .digest('hex')
    .slice(0, 12);
  const cdsArchive = path.join(cacheDir, `${CDS_PREFIX}${archiveKey}.jsa`);

  let cds: CdsMode = (await fileExists(cdsArchive)) ? 'use' : 'dump';
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      const broker = await startOnce({
        version,
        classpath,
        cdsArchive,
        cds,
        startTimeoutMs,
        persistent,
        log,
      });
      if (cds === 'off' && (await fileExists(cdsArchive))) {
        log(`${LOG_PREFIX} the class-data archive broke the start; deleting ${cdsArchive}`);
        await unlink(cdsArchive).catch(() => undefined);
      }
      return broker;
    } catch (error) {
      lastError = error;
      if (!(error instanceof StartAttemptError)) throw error;
      if (error.reason === 'port-in-use') {
        log(`${LOG_PREFIX} ${error.summary}; retrying on new ports`);
      } else if (error.reason === 'crash' && cds !== 'off') {
        // Class-data sharing is an optimisation: a bad archive, or a JDK without a base archive
        // (where -XX:ArchiveClassesAtExit is fatal), must not cost the broker. Retry without it.
        log(`${LOG_PREFIX} ${error.summary}; retrying without class-data sharing`);
        cds = 'off';
      } else {
        throw error;
      }
    }
  }
  throw lastError;
}

/** Class-data sharing: start from the cached archive, write one at exit, or neither. */
type CdsMode = 'use' | 'dump' | 'off';

class StartAttemptError extends Error {
  constructor(
    readonly summary: string,
    logTail: string[],
    readonly reason: 'port-in-use' | 'crash' | 'timeout',
  ) {
    super(`${summary}; last ${logTail.length} log lines:\n${logTail.join('\n')}`);
    this.name = 'StartAttemptError';
  }
}

interface BrokerConfig {
  version: string;
  classpath: string;
  cdsArchive: string;
  /** The class-data sharing mode to start with; a broker may change it later (see LocalBroker.cds). */
  cds: CdsMode;
  startTimeoutMs: number;
  persistent: boolean;
  log: (line: string) => void;
}

/** How long a restarting broker waits for its ports to be free before giving up. */
const PORT_WAIT_MS = 10_000;

async function startOnce(config: BrokerConfig): Promise<KafkaBroker> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'ficus-kafka-'));
  let broker: LocalBroker | undefined;
  try {
    const port = config.persistent ? await stablePort([]) : await freePort();
    const controllerPort = config.persistent ? await stablePort([port]) : await freePort();
    broker = new LocalBroker(config, workDir, port, controllerPort);
    await broker.firstStart();
    return broker;
  } catch (error) {
    if (broker) await broker.destroy();
    else await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

/** One run of the broker's JVM. */
interface Launch extends SpawnedJava {
  cds: CdsMode;
  /** It answered requests (so it loaded the classes worth archiving). */
  served: boolean;
}

class LocalBroker implements KafkaBroker {
  readonly brokers: string[];
  readonly version: string;
  startedInMs = 0;

  private readonly config: BrokerConfig;
  private readonly workDir: string;
  private readonly port: number;
  private readonly controllerPort: number;
  private readonly propertiesPath: string;
  private readonly log4jPath: string;
  private readonly dumpPath: string;
  /** Holds the pid of the JVM now running (empty when none), for the watchdog. */
  private readonly pidFile: string;
  private readonly logStream: WriteStream;
  private readonly tail: string[] = [];
  private readonly watchdog: ChildProcess | undefined;
  /** JVMs spawned and not yet exited, for the process 'exit' hook. */
  private readonly children = new Set<ChildProcess>();
  /** Class-data sharing for the next JVM: 'dump' turns into 'use' once an archive is saved. */
  private cds: CdsMode;
  private current: Launch | undefined;
  private destroyed = false;
  /** Operations run one at a time, in call order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(config: BrokerConfig, workDir: string, port: number, controllerPort: number) {
    this.config = config;
    this.version = config.version;
    this.cds = config.cds;
    this.workDir = workDir;
    this.port = port;
    this.controllerPort = controllerPort;
    this.brokers = [`127.0.0.1:${port}`];
    this.propertiesPath = path.join(workDir, 'server.properties');
    this.log4jPath = path.join(workDir, 'log4j2.properties');
    this.dumpPath = path.join(workDir, 'classes.jsa');
    this.pidFile = path.join(workDir, 'broker.pid');
    this.logStream = createWriteStream(path.join(workDir, 'broker.log'));
    this.logStream.on('error', () => undefined); // the log file is a convenience; never fail on it
    this.watchdog = spawnWatchdog(this.pidFile, workDir);
    track(this);
  }

  readonly stop = (): Promise<void> =>
    this.serial(() => (this.config.persistent ? this.halt('SIGTERM') : this.destroyNow()));

  readonly restart = (options: { downtimeMs?: number } = {}): Promise<void> =>
    this.serial(async () => {
      this.assertUsable('restart');
      await this.halt('SIGTERM');
      if (options.downtimeMs) await sleep(options.downtimeMs);
      await this.bringUp();
    });

  readonly kill = (): Promise<void> => this.serial(() => this.halt('SIGKILL'));

  readonly start = (): Promise<void> =>
    this.serial(async () => {
      this.assertUsable('start');
      if (this.current && isAlive(this.current.child)) return;
      await this.halt('SIGTERM'); // reaps a broker that exited by itself
      await this.bringUp();
    });

  readonly destroy = (): Promise<void> => this.serial(() => this.destroyNow());

  /** Formats the storage and starts the broker; on failure the caller destroys it. */
  async firstStart(): Promise<void> {
    const { version, startTimeoutMs, log } = this.config;
    await writeFile(
      this.propertiesPath,
      serverProperties(
        version,
        this.port,
        this.controllerPort,
        path.join(this.workDir, 'data'),
        this.config.persistent,
      ),
    );
    await writeFile(this.log4jPath, LOG4J2_PROPERTIES);
    const deadline = Date.now() + startTimeoutMs;
    const spawnedAt = performance.now();

    const format = this.spawn([
      ...this.baseArgs(),
      ...this.cdsFlags(this.cds === 'use' ? 'use' : 'off'),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      randomClusterId(),
      '-c',
      this.propertiesPath,
    ]);
    const formatExit = await withDeadline(format.exited, deadline);
    if (!formatExit) {
      await killHard(format.child, format.exited);
      const summary = `Kafka ${version} storage format timed out after ${startTimeoutMs} ms`;
      throw new StartAttemptError(summary, this.tail, 'timeout');
    }
    if (formatExit.code !== 0) {
      const summary = `Kafka ${version} storage format failed (${describeExit(formatExit)})`;
      throw new StartAttemptError(summary, this.tail, 'crash');
    }
    const formattedInMs = Math.round(performance.now() - spawnedAt);

    await this.launch(deadline);
    this.startedInMs = Math.round(performance.now() - spawnedAt);
    const how = `storage format ${formattedInMs} ms, class-data sharing: ${this.current?.cds ?? ''}`;
    log(
      `${LOG_PREFIX} Kafka ${version} ready on ${this.brokers[0] ?? ''} in ${this.startedInMs} ms (${how})`,
    );
  }

  /** For the process 'exit' hook: only synchronous work is possible there. */
  killSync(): void {
    for (const child of this.children) child.kill('SIGKILL');
    if (this.watchdog) killProcessGroup(this.watchdog);
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private serial(operation: () => Promise<void>): Promise<void> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private assertUsable(operation: string): void {
    if (!this.destroyed) return;
    const why = this.config.persistent
      ? 'it was destroyed'
      : 'it was stopped, which deletes the data of a broker not started with `persistent: true`';
    throw new Error(
      `Cannot ${operation} the Kafka test broker on ${this.brokers[0] ?? ''}: ${why}`,
    );
  }

  /** Starts the JVM again on the same ports and data, retrying as startKafkaBroker does. */
  private async bringUp(): Promise<void> {
    const { version, cdsArchive, startTimeoutMs, log } = this.config;
    const deadline = Date.now() + startTimeoutMs;
    const startedAt = performance.now();
    let cdsBroke = false;
    for (let attempt = 1; ; attempt++) {
      await this.waitForPorts(deadline);
      try {
        await this.launch(deadline);
        break;
      } catch (error) {
        if (!(error instanceof StartAttemptError) || attempt >= START_ATTEMPTS) throw error;
        if (error.reason === 'port-in-use') {
          log(`${LOG_PREFIX} ${error.summary}; retrying on the same ports`);
          await sleep(500);
        } else if (error.reason === 'crash' && this.cds !== 'off') {
          log(`${LOG_PREFIX} ${error.summary}; retrying without class-data sharing`);
          this.cds = 'off';
          cdsBroke = true;
        } else {
          throw error;
        }
      }
    }
    if (cdsBroke && (await fileExists(cdsArchive))) {
      log(`${LOG_PREFIX} the class-data archive broke the start; deleting ${cdsArchive}`);
      await unlink(cdsArchive).catch(() => undefined);
    }
    const ms = Math.round(performance.now() - startedAt);
    log(
      `${LOG_PREFIX} Kafka ${version} back on ${this.brokers[0] ?? ''} in ${ms} ms (class-data sharing: ${this.current?.cds ?? ''})`,
    );
  }

  /** Spawns the broker JVM and waits until it answers; stops it again if it does not. */
  private async launch(deadline: number): Promise<void> {
    const { version, startTimeoutMs } = this.config;
    const cds = this.cds;
    if (cds === 'dump') await unlink(this.dumpPath).catch(() => undefined);
    this.tail.length = 0;
    const spawned = this.spawn([
      ...this.baseArgs(),
      ...this.cdsFlags(cds),
      'kafka.Kafka',
      this.propertiesPath,
    ]);
    const launch: Launch = { ...spawned, cds, served: false };
    this.current = launch;

    const ready = await waitUntilReady(this.brokers, spawned.exited, deadline);
    if (ready === 'ready') {
      launch.served = true;
      return;
    }
    await this.halt('SIGTERM');
    if (ready === 'timeout') {
      const summary = `Kafka ${version} broker not ready within ${startTimeoutMs} ms`;
      throw new StartAttemptError(summary, this.tail, 'timeout');
    }
    const portInUse = this.tail.some((line) => /BindException|Address already in use/.test(line));
    const summary = `Kafka ${version} broker exited during start (${describeExit(ready)})`;
    throw new StartAttemptError(summary, this.tail, portInUse ? 'port-in-use' : 'crash');
  }

  /** Stops the running JVM, if any (SIGTERM with SIGKILL after the grace period, or SIGKILL). */
  private async halt(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const launch = this.current;
    if (!launch) return;
    this.current = undefined;
    const wasAlive = isAlive(launch.child);
    const startedAt = performance.now();
    let killed = true;
    if (signal === 'SIGKILL') await killHard(launch.child, launch.exited);
    else killed = await terminate(launch.child, launch.exited);
    if (wasAlive && launch.served) {
      const how = killed ? 'killed' : 'stopped';
      const ms = Math.round(performance.now() - startedAt);
      this.config.log(`${LOG_PREFIX} Kafka ${this.version} broker ${how} in ${ms} ms`);
    }
    // Only a broker that got as far as serving has loaded the classes worth archiving.
    if (launch.cds === 'dump' && launch.served && !killed) {
      await publishArchive(this.dumpPath, this.config.cdsArchive, this.config.log);
      if (await fileExists(this.config.cdsArchive)) this.cds = 'use';
    }
  }

  private async destroyNow(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.halt('SIGTERM');
    if (this.watchdog) killProcessGroup(this.watchdog);
    await new Promise<void>((resolve) => this.logStream.end(resolve));
    await rm(this.workDir, { recursive: true, force: true });
    untrack(this);
  }

  /** Waits (briefly) for the broker's ports to be free: another process may bind them while it is down. */
  private async waitForPorts(deadline: number): Promise<void> {
    const giveUpAt = Math.min(deadline, Date.now() + PORT_WAIT_MS);
    for (;;) {
      const busy: number[] = [];
      for (const port of [this.port, this.controllerPort]) {
        if (!(await canBind(port))) busy.push(port);
      }
      if (busy.length === 0) return;
      if (Date.now() >= giveUpAt) {
        throw new Error(
          `Kafka ${this.version} test broker cannot start again: port ${busy.join(' and ')} on 127.0.0.1 was taken by another process while it was down (a restarted broker must keep its ports: clients know it by them)`,
        );
      }
      await sleep(200);
    }
  }

  private baseArgs(): string[] {
    return [
      ...JVM_FLAGS,
      `-Dlog4j2.configurationFile=${this.log4jPath}`,
      '-cp',
      this.config.classpath,
    ];
  }

  private cdsFlags(cds: CdsMode): string[] {
    switch (cds) {
      case 'use':
        return [`-XX:SharedArchiveFile=${this.config.cdsArchive}`, ...CDS_QUIET];
      case 'dump':
        return [`-XX:ArchiveClassesAtExit=${this.dumpPath}`, ...CDS_QUIET];
      case 'off':
        return [];
    }
  }

  private readonly onLine = (line: string): void => {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.config.log(line);
  };

  /** Spawns a JVM, recording its pid for the watchdog and the exit hook while it runs. */
  private spawn(args: string[]): SpawnedJava {
    const spawned = spawnJava(args, this.workDir, this.logStream, this.onLine);
    const { child } = spawned;
    const pid = child.pid;
    if (pid === undefined) return spawned; // failed to spawn: 'exited' resolves at once
    this.children.add(child);
    writePidFile(this.pidFile, `${pid}\n`);
    child.once('exit', () => {
      this.children.delete(child);
      clearPidFile(this.pidFile, pid);
    });
    return spawned;
  }
}

export function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Replaces the pid file atomically: the watchdog may read it at any moment. */
export function writePidFile(pidFile: string, content: string): void {
  const staged = `${pidFile}.tmp`;
  try {
    writeFileSync(staged, content);
    renameSync(staged, pidFile);
  } catch {
    // the work dir is gone (destroyed): nothing left to guard
  }
}

/** Empties the pid file if it still names `pid`, so the watchdog never kills a reused pid. */
export function clearPidFile(pidFile: string, pid: number): void {
  try {
    if (readFileSync(pidFile, 'utf8').trim() === `${pid}`) writePidFile(pidFile, '');
  } catch {
    // already gone
  }
}

function resolveVersion(version: string | undefined): string {
  const resolved = version ?? process.env.FICUS_KAFKA_VERSION ?? DEFAULT_VERSION;
  if (!/^\d+\.\d+\.\d+[0-9A-Za-z.-]*$/.test(resolved))
    throw new Error(`Invalid Kafka version: ${JSON.stringify(resolved)}`);
  return resolved;
}

function resolveCacheDir(version: string, cacheDir: string | undefined): string {
  return path.resolve(cacheDir ?? path.join(REPO_ROOT, '.ficus', 'cache', `kafka-${version}`));
}

function libsDirOf(cacheDir: string): string {
  return path.join(cacheDir, 'libs');
}

function kafkaMajor(version: string): number {
  return Number.parseInt(version, 10);
}

function prerequisiteProblem(
  version: string,
  java: JavaInfo | undefined,
  haveLibs: boolean,
): string | undefined {
  if (!java) return javaMissingMessage(version);
  const minJava = minJavaFor(version);
  if (java.major < minJava) {
    return `java ${java.major} on PATH is too old: Kafka ${version} needs Java ${minJava}+ (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless)`;
  }
  if (!haveLibs && !onPath('mvn')) return mvnMissingMessage(version);
  return undefined;
}

function minJavaFor(version: string): number {
  return kafkaMajor(version) >= 4 ? 17 : 11;
}

function javaMissingMessage(version: string): string {
  return `java not on PATH: the Kafka ${version} test broker needs a Java ${minJavaFor(version)}+ runtime (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk@17)`;
}

function mvnMissingMessage(version: string): string {
  return `mvn not on PATH: it is needed once to fetch the Kafka ${version} jars from Maven Central (Debian/Ubuntu: apt-get install -y maven; macOS: brew install maven)`;
}

export async function probeJava(): Promise<JavaInfo | undefined> {
  const result = await run('java', ['-version'], { timeoutMs: 30_000 });
  if (result.notFound || result.code !== 0) return undefined;
  const text = result.output;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const first = Number(match[1]);
  const major = first === 1 ? Number(match[2] ?? 0) : first;
  const buildKey = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { major, buildKey };
}

/** PATH lookup without running the command (`mvn -v` would start a JVM just to answer). */
export function onPath(command: string): boolean {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.some((dir) => {
    const file = path.join(dir, command);
    try {
      if (!statSync(file, { throwIfNoEntry: false })?.isFile()) return false;
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function libsReady(libsDir: string): Promise<boolean> {
  return (await readLibsMarker(libsDir, POM_PATH)) !== undefined;
}

/** The marker's text, if `libsDir` holds a complete download made from the current `pomPath`. */
export async function readLibsMarker(
  libsDir: string,
  pomPath: string,
): Promise<string | undefined> {
  const marker = await readFile(path.join(libsDir, LIBS_MARKER), 'utf8').catch(() => undefined);
  if (marker === undefined) return undefined;
  try {
    const { pom } = JSON.parse(marker) as { pom?: unknown };
    return pom === (await pomHash(pomPath)) ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** Editing a pom.xml (e.g. another logging binding) invalidates the jars fetched with it. */
export async function pomHash(pomPath: string): Promise<string> {
  const pom = await readFile(pomPath).catch(() => Buffer.alloc(0));
  return createHash('sha256').update(pom).digest('hex').slice(0, 16);
}

/** Fetches the broker's runtime jars into `<cacheDir>/libs` once; concurrent runs stage and rename. */
async function ensureLibs(
  version: string,
  cacheDir: string,
  libsDir: string,
  log: (line: string) => void,
): Promise<void> {
  if (await libsReady(libsDir)) return;
  await mkdir(cacheDir, { recursive: true });
  const staging = await mkdtemp(path.join(cacheDir, 'libs.staging-'));
  try {
    log(`${LOG_PREFIX} fetching Kafka ${version} jars with mvn into ${libsDir}`);
    const startedAt = performance.now();
    const args = [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      POM_PATH,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
      `-Dkafka.version=${version}`,
    ];
    const result = await run('mvn', args, { cwd: cacheDir, timeoutMs: 15 * 60_000 });
    if (result.notFound) throw new KafkaUnavailableError(mvnMissingMessage(version));
    if (result.code !== 0) {
      const output = lastLines(result.output.replace(ANSI_ESCAPE, ''), TAIL_LINES);
      throw new Error(
        `mvn could not fetch the Kafka ${version} jars (${describeExit(result)}):\n${output}`,
      );
    }
    const jars = (await readdir(staging)).filter((name) => name.endsWith('.jar'));
    if (!jars.includes(`kafka_2.13-${version}.jar`))
      throw new Error(`mvn finished but kafka_2.13-${version}.jar is not in ${staging}`);
    await chmod(staging, 0o755); // mkdtemp makes it 0700
    await writeFile(
      path.join(staging, LIBS_MARKER),
      `${JSON.stringify({ version, pom: await pomHash(POM_PATH), jars: jars.length, fetchedAt: new Date().toISOString() })}\n`,
    );
    await publishDir(staging, libsDir);
    log(
      `${LOG_PREFIX} fetched ${jars.length} jars in ${Math.round(performance.now() - startedAt)} ms`,
    );
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    await rmdir(cacheDir).catch(() => undefined); // only if empty: e.g. a version that doesn't exist
    throw error;
  }
  await rm(staging, { recursive: true, force: true });
}

/** Renames a complete staging dir into place; if another run got there first, keeps theirs. */
async function publishDir(staging: string, target: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await rename(staging, target);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      if (await libsReady(target)) return;
      // An outdated or incomplete leftover (older pom.xml, manual copy): move it aside atomically,
      // then drop it (a broker still running from it keeps its open jars).
      const trash = `${target}.stale-${randomBytes(4).toString('hex')}`;
      await rename(target, trash).catch(() => undefined);
      await rm(trash, { recursive: true, force: true });
    }
  }
  throw new Error(`could not publish Kafka jars into ${target}`);
}

async function buildClasspath(libsDir: string): Promise<string> {
  const jars = (await readdir(libsDir)).filter((name) => name.endsWith('.jar')).sort();
  return jars.map((name) => path.join(libsDir, name)).join(path.delimiter);
}

/** Moves a class-data archive written at JVM exit into the cache (copy + rename: tmp may be another filesystem). */
export async function publishArchive(
  dumpPath: string,
  cdsArchive: string,
  log: (line: string) => void,
): Promise<void> {
  const size = await stat(dumpPath).then(
    (s) => s.size,
    () => 0,
  );
  if (size === 0) return;
  const staged = `${cdsArchive}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await copyFile(dumpPath, staged);
    await rename(staged, cdsArchive);
    log(
      `${LOG_PREFIX} saved class-data archive ${cdsArchive} (${Math.round(size / 1e6)} MB) for faster starts`,
    );
    // Archives for other JVM builds or an earlier jar download are dead weight (~50 MB each).
    const dir = path.dirname(cdsArchive);
    for (const name of await readdir(dir)) {
      if (
        name.startsWith(CDS_PREFIX) &&
        name.endsWith('.jsa') &&
        path.join(dir, name) !== cdsArchive
      ) {
        await unlink(path.join(dir, name)).catch(() => undefined);
      }
    }
  } catch {
    await unlink(staged).catch(() => undefined);
  }
}

/**
 * A broker that restarts after a SIGKILL must wait for the controller (itself, restarted) to expire
 * its previous incarnation's session before it may register again (DUPLICATE_BROKER_REGISTRATION
 * until then): 9 s by default, ~13 s to start with registration back-off. Persistent brokers use
 * a shorter session (and more frequent heartbeats, to keep the same margin against a busy machine).
 */
const RESTARTABLE_PROPERTIES = {
  'broker.session.timeout.ms': 3_000,
  'broker.heartbeat.interval.ms': 500,
};

function serverProperties(
  version: string,
  port: number,
  controllerPort: number,
  dataDir: string,
  restartable: boolean,
): string {
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': dataDir,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'num.partitions': 1,
    'auto.create.topics.enable': 'true',
    'num.network.threads': 2,
    'num.io.threads': 2,
    'background.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    ...(restartable ? RESTARTABLE_PROPERTIES : {}),
  };
  if (kafkaMajor(version) >= 4) {
    props['share.coordinator.state.topic.replication.factor'] = 1;
    props['share.coordinator.state.topic.min.isr'] = 1;
  }
  return `${Object.entries(props)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

/** A Kafka cluster id: a random UUID as 22 chars of unpadded base64url, not starting with '-'. */
function randomClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Below both Linux's (32768) and macOS's (49152) default ephemeral port ranges, above most fixed ports. */
const STABLE_PORT_MIN = 20_000;

/**
 * A free loopback port below the kernel's ephemeral range, for a broker that restarts: a port from
 * that range may be handed to an outgoing connection while the broker is down, or even to a
 * client's own reconnect attempt to it (a TCP self-connect), and the broker could not bind it
 * again. Falls back to any free port where the range is unknown.
 */
async function stablePort(exclude: number[]): Promise<number> {
  const ephemeralStart = await ephemeralPortRangeStart();
  if (ephemeralStart !== undefined && ephemeralStart > STABLE_PORT_MIN + 1_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = STABLE_PORT_MIN + randomInt(ephemeralStart - STABLE_PORT_MIN);
      if (!exclude.includes(port) && (await canBind(port))) return port;
    }
  }
  for (;;) {
    const port = await freePort();
    if (!exclude.includes(port)) return port;
  }
}

async function ephemeralPortRangeStart(): Promise<number | undefined> {
  if (process.platform === 'darwin') return 49_152;
  if (process.platform !== 'linux') return undefined;
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const start = Number.parseInt(range.trim().split(/\s+/)[0] ?? '', 10);
  return Number.isInteger(start) ? start : undefined;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

export interface SpawnedJava {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
}

export function spawnJava(
  args: string[],
  cwd: string,
  logStream: WriteStream,
  onLine: (line: string) => void,
): SpawnedJava {
  const child = spawn('java', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  // 'close' (not 'exit'): also waits for the output pipes to drain, so no line arrives later.
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code, signal }),
    );
  });
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      if (!logStream.writableEnded) logStream.write(chunk);
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line.trimEnd());
    });
    stream?.on('end', () => {
      if (pending) onLine(pending.trimEnd());
      pending = '';
    });
  }
  return { child, exited };
}

/**
 * A tiny `sh` loop, in its own process group, for when this Node process dies without running its
 * 'exit' handler (e.g. a test worker killed with SIGKILL or SIGTERM): it then SIGKILLs the JVM
 * whose pid is in the pid file (the broker, across restarts; empty while it is down) and deletes
 * the broker's temp dir. It polls once a second; destroy() and the 'exit' handler kill it.
 */
const WATCHDOG_SCRIPT = [
  'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
  'pid=$(cat "$2" 2>/dev/null)',
  'if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi',
  'rm -rf "$3"',
].join('\n');

export function spawnWatchdog(pidFile: string, workDir: string): ChildProcess | undefined {
  const args = ['-c', WATCHDOG_SCRIPT, 'ficus-kafka-watchdog', `${process.pid}`, pidFile, workDir];
  const watchdog = spawn('sh', args, { stdio: 'ignore', detached: true });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  return watchdog.pid === undefined ? undefined : watchdog;
}

async function waitUntilReady(
  brokers: string[],
  exited: Promise<ExitInfo>,
  deadline: number,
): Promise<'ready' | 'timeout' | ExitInfo> {
  let exit: ExitInfo | undefined;
  void exited.then((info) => (exit = info));
  const kafka = new Kafka({
    clientId: 'ficus-kafka-harness',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  for (;;) {
    if (exit) return exit;
    if (Date.now() > deadline) return 'timeout';
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0) return 'ready';
    } catch {
      // not up yet
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await sleep(100);
  }
}

/** SIGTERM, then SIGKILL after the grace period. Resolves true if SIGKILL was needed. */
export async function terminate(child: ChildProcess, exited: Promise<ExitInfo>): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return false;
  child.kill('SIGTERM');
  if (await withDeadline(exited, Date.now() + STOP_GRACE_MS)) return false;
  await killHard(child, exited);
  return true;
}

export async function killHard(child: ChildProcess, exited: Promise<ExitInfo>): Promise<void> {
  child.kill('SIGKILL');
  await withDeadline(exited, Date.now() + 5_000);
}

export function killProcessGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function track(broker: LocalBroker): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const live of liveBrokers) live.killSync();
    });
  }
  liveBrokers.add(broker);
}

function untrack(broker: LocalBroker): void {
  liveBrokers.delete(broker);
}

export interface RunResult extends ExitInfo {
  output: string;
  notFound: boolean;
}

/** Runs a command to completion, collecting stdout+stderr; never rejects. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs: number },
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (!error) return resolve({ code: 0, signal: null, output, notFound: false });
        const errno = error as NodeJS.ErrnoException & {
          code?: string | number;
          signal?: NodeJS.Signals | null;
        };
        const notFound = errno.code === 'ENOENT';
        resolve({
          code: typeof errno.code === 'number' ? errno.code : null,
          signal: errno.signal ?? null,
          output: output || error.message,
          notFound,
        });
      },
    );
  });
}

export async function withDeadline<T>(
  promise: Promise<T>,
  deadline: number,
): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function describeExit(exit: ExitInfo): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

export async function fileExists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
