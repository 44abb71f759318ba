/**
 * `npx tsx bench/cdc/kill-loop.ts`: how many change events a crash-looping `ficus cdc` sends
 * twice. After a crash a restart re-sends everything since the position last confirmed to the
 * slot, so the duplicates measure how far confirmations trail the sink.
 *
 *   throwaway Postgres ── writer: one insert per transaction, `rate` per second, on a schedule
 *        │
 *        └─▶ ficus cdc (child process: node --import tsx cli/main.ts cdc, stdout sink
 *            appending to one file) ── SIGKILL every `intervalMs` after its spawn, `kills` times,
 *            restarted at once ── last run: writer stops, ficus catches up, SIGTERM
 *
 * Then every line of the file is read back. An event's identity is its position and row
 * (`source.lsn` + table + key); reported: events delivered, distinct ones, duplicates (copies
 * beyond the first), the most copies of one event, and missing ones (committed rows never
 * delivered: must be 0, at least once).
 *
 * Settings (environment):
 *   FICUS_KILL_LOOP_KILLS               SIGKILLs (default 5)
 *   FICUS_KILL_LOOP_INTERVAL_MS         ms from each spawn to its SIGKILL (default 12 000)
 *   FICUS_KILL_LOOP_RATE                inserts per second, one per transaction (default 200)
 *   FICUS_KILL_LOOP_FLUSH_CONFIRM_MS    the connector's flushConfirmIntervalMs (default: its own
 *                                       default; 0 = confirm only every statusIntervalMs, as
 *                                       before the setting existed)
 *   FICUS_KILL_LOOP_KEEP                a folder to keep the captured records and logs in
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { z } from 'zod';
import { integer, readEnvironment } from '../environment.js';
import { CleanupStack, describeError } from './cleanup.js';
import { startSource } from './source.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TABLE = 'kill_loop_events';
const TOPIC_PREFIX = 'killloop';
const SLOT = 'kill_loop';
/** How long the last run may take to deliver everything once the writer has stopped. */
const CATCH_UP_TIMEOUT_MS = 120_000;

const ENVIRONMENT = {
  FICUS_KILL_LOOP_KILLS: ['kills', integer(0, 100).default(5)],
  FICUS_KILL_LOOP_INTERVAL_MS: ['intervalMs', integer(1_000, 600_000).default(12_000)],
  FICUS_KILL_LOOP_RATE: ['rate', integer(1, 5_000).default(200)],
  FICUS_KILL_LOOP_FLUSH_CONFIRM_MS: ['flushConfirmIntervalMs', integer(0, 600_000).optional()],
  FICUS_KILL_LOOP_KEEP: ['keepDir', z.string().min(1).optional()],
} as const;

/** What one kill-loop run does. */
interface KillLoopConfig {
  readonly kills: number;
  readonly intervalMs: number;
  readonly rate: number;
  readonly flushConfirmIntervalMs: number | undefined;
  readonly keepDir: string | undefined;
}

function readConfig(env: NodeJS.ProcessEnv = process.env): KillLoopConfig {
  return readEnvironment<KillLoopConfig>(ENVIRONMENT, env);
}

function progress(message: string): void {
  console.error(`· ${message}`);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Commits one insert per transaction, `rate` per second, due times fixed from the start. */
function startWriter(url: string, rate: number) {
  const committed = new Set<string>();
  let running = true;
  const client = new pg.Client({ connectionString: url });
  const loop = (async () => {
    await client.connect();
    const startedAt = performance.now();
    let written = 0;
    while (running) {
      const due = Math.floor(((performance.now() - startedAt) * rate) / 1000);
      while (written < due && running) {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO ${TABLE} (payload) VALUES (md5(random()::text)) RETURNING id::text`,
        );
        committed.add(rows[0]!.id);
        written++;
      }
      await sleep(5);
    }
    await client.end();
  })();
  return {
    committed: () => committed.size,
    async stop(): Promise<Set<string>> {
      running = false;
      await loop;
      return committed;
    },
  };
}

/** What the captured file holds so far, read incrementally. */
class CapturedRecords {
  /** Copies per event identity (`lsn|table|key`). */
  readonly copies = new Map<string, number>();
  /** Row ids seen in create events. */
  readonly ids = new Set<string>();
  delivered = 0;
  unparsable = 0;
  private offset = 0;
  private partial = '';

  constructor(private readonly file: string) {}

  /** Reads whatever was appended since the last call. */
  async read(): Promise<void> {
    const handle = await open(this.file, 'r');
    try {
      const { size } = await handle.stat();
      if (size <= this.offset) return;
      const buffer = Buffer.alloc(size - this.offset);
      await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset = size;
      const lines = (this.partial + buffer.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.add(line);
    } finally {
      await handle.close();
    }
  }

  private add(line: string): void {
    if (line.trim() === '') return;
    let record: { topic: string; key: unknown; value: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      this.unparsable++;
      return;
    }
    const value = record.value as {
      op?: string;
      after?: { id?: string | number };
      source?: { lsn?: number; schema?: string; table?: string };
    } | null;
    if (record.topic !== `${TOPIC_PREFIX}.public.${TABLE}` || value?.op !== 'c') return;
    this.delivered++;
    const source = value.source ?? {};
    const identity = `${source.lsn}|${source.schema}.${source.table}|${JSON.stringify(record.key)}`;
    this.copies.set(identity, (this.copies.get(identity) ?? 0) + 1);
    if (value.after?.id !== undefined) this.ids.add(String(value.after.id));
  }
}

/** One `ficus cdc` process, its records appended to `recordsFile`, its log to `logFile`. */
function spawnCdc(configFile: string, recordsFile: string, logFile: string) {
  const out = openSync(recordsFile, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', 'cdc', '--config', configFile],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, FICUS_LOG_LEVEL: 'info' },
      stdio: ['ignore', out, 'pipe'],
    },
  );
  closeSync(out);
  let stderr = '';
  let onOutput: (() => void) | undefined;
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    onOutput?.();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      void writeFile(logFile, stderr, { flag: 'a' }).catch(() => undefined);
      resolve(code ?? signal ?? 'unknown');
      onOutput?.();
    }),
  );
  return {
    child,
    exited,
    output: () => stderr,
    /** Resolves once `pattern` shows in the log; rejects if the process exits first. */
    waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${pattern} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        onOutput = () => {
          if (pattern.test(stderr)) {
            clearTimeout(timer);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`ficus cdc exited before ${pattern}:\n${stderr.slice(-3000)}`));
          }
        };
        onOutput();
      });
    },
  };
}

/** The figures one run produces. */
interface KillLoopResult {
  readonly flushConfirmIntervalMs: number | 'default';
  readonly kills: number;
  readonly intervalMs: number;
  readonly rate: number;
  readonly committed: number;
  readonly delivered: number;
  readonly distinct: number;
  readonly duplicates: number;
  readonly duplicatedEvents: number;
  readonly maxCopies: number;
  readonly missing: number;
  readonly unparsable: number;
}

async function run(config: KillLoopConfig, cleanup: CleanupStack): Promise<KillLoopResult> {
  const workDir = config.keepDir ?? (await mkdtemp(path.join(tmpdir(), 'ficus-kill-loop-')));
  await mkdir(workDir, { recursive: true });
  if (!config.keepDir)
    cleanup.defer('remove the work folder', () => rm(workDir, { recursive: true, force: true }));
  progress('starting Postgres');
  const source = await startSource(cleanup);
  await source.client.query(
    `CREATE TABLE ${TABLE} (id bigserial PRIMARY KEY, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
  );
  const configFile = path.join(workDir, 'cdc.yaml');
  const recordsFile = path.join(workDir, 'records.jsonl');
  const logFile = path.join(workDir, 'cdc.log');
  await writeFile(recordsFile, '');
  await writeFile(
    configFile,
    [
      `databaseUrl: ${source.url}`,
      `slotName: ${SLOT}`,
      `publicationName: ${SLOT}`,
      `topicPrefix: ${TOPIC_PREFIX}`,
      `tableIncludeList: [public.${TABLE}]`,
      'snapshotMode: never',
      'signalTable: none',
      `offsetsFile: ${path.join(workDir, 'offsets.json')}`,
      'sink: stdout',
      'statusPort: 0',
      ...(config.flushConfirmIntervalMs === undefined
        ? []
        : [`flushConfirmIntervalMs: ${config.flushConfirmIntervalMs}`]),
    ].join('\n'),
  );

  let cdc = spawnCdc(configFile, recordsFile, logFile);
  let spawnedAt = performance.now();
  const killCurrent = async () => {
    if (cdc.child.exitCode === null && cdc.child.signalCode === null) cdc.child.kill('SIGKILL');
    await cdc.exited;
  };
  cleanup.defer('kill ficus cdc', killCurrent);
  await cdc.waitFor(/streaming started/, 60_000);
  // The slot exists now; every row written from here on must be delivered.
  progress(`writer: ${config.rate} inserts/s`);
  const writer = startWriter(source.url, config.rate);
  for (let kill = 1; kill <= config.kills; kill++) {
    await sleep(Math.max(0, spawnedAt + config.intervalMs - performance.now()));
    cdc.child.kill('SIGKILL');
    await cdc.exited;
    progress(`SIGKILL ${kill}/${config.kills} (${writer.committed()} rows committed)`);
    cdc = spawnCdc(configFile, recordsFile, logFile);
    spawnedAt = performance.now();
  }
  await cdc.waitFor(/streaming started/, 60_000);
  const committed = await writer.stop();
  progress(`writer stopped at ${committed.size} rows; waiting for ficus to catch up`);

  const captured = new CapturedRecords(recordsFile);
  const deadline = performance.now() + CATCH_UP_TIMEOUT_MS;
  const missingNow = () => [...committed].filter((id) => !captured.ids.has(id)).length;
  for (;;) {
    await captured.read();
    if (missingNow() === 0 || performance.now() > deadline) break;
    await sleep(100);
  }
  cdc.child.kill('SIGTERM');
  const code = await cdc.exited;
  if (code !== 0) throw new Error(`ficus cdc exited with ${code}:\n${cdc.output().slice(-3000)}`);
  await captured.read();

  let maxCopies = 0;
  let duplicatedEvents = 0;
  for (const copies of captured.copies.values()) {
    maxCopies = Math.max(maxCopies, copies);
    if (copies > 1) duplicatedEvents++;
  }
  if (config.keepDir) progress(`records and logs kept in ${workDir}`);
  return {
    flushConfirmIntervalMs: config.flushConfirmIntervalMs ?? 'default',
    kills: config.kills,
    intervalMs: config.intervalMs,
    rate: config.rate,
    committed: committed.size,
    delivered: captured.delivered,
    distinct: captured.copies.size,
    duplicates: captured.delivered - captured.copies.size,
    duplicatedEvents,
    maxCopies,
    missing: missingNow(),
    unparsable: captured.unparsable,
  };
}

async function main(): Promise<void> {
  const config = readConfig();
  const cleanup = new CleanupStack();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: cleaning up`);
      void cleanup.runAll().finally(() => process.exit(130));
    });
  }
  try {
    const result = await run(config, cleanup);
    console.log('');
    console.log(
      `ficus cdc kill loop: ${result.kills} SIGKILLs every ${result.intervalMs} ms, ` +
        `${result.rate} inserts/s, flushConfirmIntervalMs ${result.flushConfirmIntervalMs}`,
    );
    console.log(`  committed rows      ${result.committed}`);
    console.log(`  events delivered    ${result.delivered}`);
    console.log(`  distinct events     ${result.distinct}`);
    console.log(
      `  duplicates          ${result.duplicates} (${result.duplicatedEvents} events sent more than once)`,
    );
    console.log(`  most copies of one  ${result.maxCopies}`);
    console.log(`  missing             ${result.missing}`);
    if (result.unparsable > 0) console.log(`  unparsable lines    ${result.unparsable}`);
    console.log(JSON.stringify(result));
    if (result.missing > 0) process.exitCode = 1;
  } finally {
    progress('cleaning up');
    await cleanup.runAll();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(`kill loop failed: ${describeError(error)}`);
    if (error instanceof Error && error.stack) console.error(error.stack);
    process.exit(1);
  },
);
