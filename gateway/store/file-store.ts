/**
 * The route store for one gateway on one machine: routes.yaml (or routes.json) is the source of
 * truth, and the history is a JSON-lines file beside it.
 *
 *   edit routes.yaml ──fs.watch(dir)──► debounce ──► hash differs? ──► parse + validate
 *                                                       │ same: ignore        │ valid: new version
 *                                                       ▼                     │ invalid: warn, keep
 *   update/setMode/restore ──► re-read the file first (no edit is lost) ──► write temp + rename
 *                              ──► remember the hash (the watcher ignores our own write)
 *                              ──► append the version to <file>.history.jsonl ──► listeners
 *
 * The directory is watched rather than the file because editors save by writing a new file and
 * renaming it over the old one, which ends a watch on the old inode.
 *
 * Only one process may own a routes file and its history; replicas share a Postgres store instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { appendFile, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, createSilentLogger, type Logger } from '../../common/index.js';
import {
  parseRouteTable,
  RouteTableError,
  routeSchema,
  type RouteTable,
} from '../route-table/index.js';
import {
  canonicalJson,
  checkChange,
  createListeners,
  createSerialQueue,
  definedFields,
  freezeVersion,
  logVersion,
  parseRouteTableVersion,
  RouteNotFoundError,
  RouteStoreClosedError,
  RouteStoreUnavailableError,
  sameTable,
  VersionNotFoundError,
  type RouteStore,
  type RouteStoreProblem,
  type RouteTableVersion,
  type VersionKind,
} from './store.js';

/** What {@link createFileRouteStore} needs. */
export interface FileRouteStoreOptions {
  /** routes.yaml, or a .json file (written back as JSON). */
  file: string;
  /** Default: silent. */
  logger?: Logger;
  /** Default `<file>.history.jsonl`. */
  historyFile?: string;
  /** Quiet time after the last file-system event before the file is read again. Default 100 ms. */
  debounceMs?: number;
}

/**
 * Loads the routes file and its history, and watches the file. Rejects with ConfigError when the
 * file is missing or invalid at start: there is no running table to fall back on yet.
 */
export async function createFileRouteStore(options: FileRouteStoreOptions): Promise<RouteStore> {
  const file = path.resolve(options.file);
  const historyFile = path.resolve(options.historyFile ?? `${file}.history.jsonl`);
  const debounceMs = options.debounceMs ?? 100;
  const logger = (options.logger ?? createSilentLogger()).child({
    component: 'route-store',
    file,
  });
  const format = /\.json$/i.test(file) ? 'json' : 'yaml';
  const listeners = createListeners(logger);
  const queue = createSerialQueue();

  const startText = await readRoutesFileAtStart(file);
  const startTable = parseAtStart(startText, file);
  const versions = await readHistory(historyFile, logger);
  let current = await startVersion(versions, startTable, historyFile, logger);
  /** The file's content as it was when it produced (or was written for) the current version. */
  let currentText = startText;
  /** Hash of the content the watcher has already dealt with: loaded, written or refused. */
  let seenHash = hashOf(startText);
  let refused: { text: string; problem: RouteStoreProblem } | undefined;
  let watchProblem: RouteStoreProblem | undefined;
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;

  const watcher = watchDirectory();
  logger.info({ version: current.version, historyFile }, 'route table loaded from file');
  // An edit saved between the first read and the start of the watch.
  scheduleSync();

  function watchDirectory(): FSWatcher {
    const base = path.basename(file);
    const handle = watch(path.dirname(file), { persistent: false }, (_event, filename) => {
      if (filename === null || filename === base) scheduleSync();
    });
    handle.on('error', (err) => {
      watchProblem = {
        message: `watching ${file} failed, file edits are no longer picked up: ${err.message}`,
        at: new Date().toISOString(),
      };
      logger.error({ err }, 'watching the routes file failed; file edits are no longer picked up');
    });
    return handle;
  }

  function scheduleSync(): void {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      queue
        .run(() => syncFromDisk('watch'))
        .catch((err: unknown) => {
          logger.error({ err }, 'reading the routes file failed; the running table stays');
        });
    }, debounceMs);
  }

  /** Picks up a change to the file, unless it is one we have already seen (our own write). */
  async function syncFromDisk(trigger: 'watch' | 'write'): Promise<void> {
    if (closed) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // An editor between unlink and rename; the rename brings another event.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const hash = hashOf(text);
    if (hash === seenHash) {
      logger.debug({ version: current.version, trigger }, 'routes file unchanged');
      return;
    }
    seenHash = hash;
    let table: RouteTable;
    try {
      table = parseRoutesText(text, file);
    } catch (err) {
      if (!(err instanceof RouteTableError)) throw err;
      refused = {
        text,
        problem: { message: err.message, at: new Date().toISOString(), problems: err.problems },
      };
      logger.warn(
        { problems: err.problems, runningVersion: current.version },
        `routes file edit refused, version ${current.version} keeps running: ${err.message}`,
      );
      return;
    }
    refused = undefined;
    currentText = text;
    if (sameTable(table, current.table)) {
      logger.info({ version: current.version }, 'routes file changed but its table did not');
      return;
    }
    await commit(table, { actor: 'file', reason: 'routes file changed', kind: 'change' });
  }

  /** Makes `table` the current version; writes `text` to the routes file first when given. */
  async function commit(
    table: RouteTable,
    change: { actor: string; reason: string; kind: VersionKind },
    write?: { text: string; restoredFrom?: number },
  ): Promise<RouteTableVersion> {
    if (write) {
      await writeAtomically(file, write.text);
      seenHash = hashOf(write.text);
      currentText = write.text;
      refused = undefined;
    }
    const version = freezeVersion({
      version: current.version + 1,
      table,
      actor: change.actor,
      reason: change.reason,
      at: new Date().toISOString(),
      kind: change.kind,
      ...(write?.restoredFrom === undefined ? {} : { restoredFrom: write.restoredFrom }),
    });
    try {
      await appendFile(historyFile, `${JSON.stringify(version)}\n`);
    } catch (err) {
      // The routes file already holds the table, so it is live; only its history entry is lost.
      logger.error({ err, historyFile, version: version.version }, 'appending to history failed');
    }
    versions.push(version);
    current = version;
    logVersion(logger, version);
    listeners.emit(version);
    return version;
  }

  /**
   * Runs a write after reading the file once more, so an edit the watcher has not reported yet
   * becomes a version of its own instead of being overwritten. A refused edit still on disk is
   * saved to `<file>.rejected` before the write replaces it.
   */
  function write(
    build: () => { table: RouteTable; text: string; restoredFrom?: number },
    change: { actor: string; reason: string; kind: VersionKind },
  ): Promise<RouteTableVersion> {
    if (closed) return Promise.reject(new RouteStoreClosedError());
    return queue.run(async () => {
      if (closed) throw new RouteStoreClosedError();
      await syncFromDisk('write');
      const next = build();
      if (refused) await saveRefusedEdit(refused.text);
      return commit(next.table, change, next);
    });
  }

  async function saveRefusedEdit(text: string): Promise<void> {
    const target = `${file}.rejected`;
    try {
      await writeFile(target, text);
      logger.warn({ savedTo: target }, 'the refused routes file edit is overwritten; saved a copy');
    } catch (err) {
      logger.error({ err, target }, 'saving the refused routes file edit failed');
    }
  }

  function render(table: RouteTable): string {
    const data = compactTable(table);
    if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
    const document = new YAML.Document(data);
    // Keep the comment block at the top of the file (what the table is, who owns it).
    const header = YAML.parseDocument(currentText).commentBefore;
    if (header) document.commentBefore = header;
    return document.toString();
  }

  /** The current file with one route's mode and weight changed; YAML comments survive. */
  function renderPatch(routeId: string, patch: { mode?: string; weight?: number }): string {
    if (format === 'json') {
      const data = JSON.parse(currentText) as { routes?: Record<string, unknown>[] };
      const route = data.routes?.find((candidate) => candidate.id === routeId);
      if (!route) throw new RouteNotFoundError(routeId, current.table);
      Object.assign(route, patch);
      return `${JSON.stringify(data, null, 2)}\n`;
    }
    const document = YAML.parseDocument(currentText);
    const routes = document.get('routes');
    const index = YAML.isSeq(routes)
      ? routes.items.findIndex((item) => YAML.isMap(item) && item.get('id') === routeId)
      : -1;
    if (index < 0) throw new RouteNotFoundError(routeId, current.table);
    for (const [key, value] of Object.entries(patch)) document.setIn(['routes', index, key], value);
    return document.toString();
  }

  return {
    current: () => current,

    async update(input, change) {
      const checked = checkChange(change);
      const table = parseRouteTable(input);
      return write(() => ({ table, text: render(table) }), checked);
    },

    async setMode(routeId, patch, change) {
      const checked = checkChange(change);
      const fields = definedFields(patch);
      return write(() => {
        if (!current.table.routes.some((route) => route.id === routeId)) {
          throw new RouteNotFoundError(routeId, current.table);
        }
        const text = renderPatch(routeId, fields);
        return { table: parseRoutesText(text, file), text };
      }, checked);
    },

    history: () => Promise.resolve([...versions].reverse()),

    async restore(version, change) {
      const checked = checkChange(change);
      return write(
        () => {
          const earlier = versions.find((candidate) => candidate.version === version);
          if (!earlier) throw new VersionNotFoundError(version, current.version);
          return { table: earlier.table, text: render(earlier.table), restoredFrom: version };
        },
        { ...checked, kind: 'restore' },
      );
    },

    subscribe: (listener) => listeners.add(listener),

    status() {
      const lastError = refused?.problem ?? watchProblem;
      return {
        backend: 'file',
        source: file,
        version: current.version,
        ...(lastError ? { lastError } : {}),
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(debounce);
      watcher.close();
      await queue.idle();
      listeners.clear();
    },
  };
}

async function readRoutesFileAtStart(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `routes file ${file} does not exist; create it (examples/routes.yaml shows the format; gateway/README.md explains it)`
        : `routes file ${file} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function parseAtStart(text: string, file: string): RouteTable {
  try {
    return parseRoutesText(text, file);
  } catch (err) {
    if (!(err instanceof RouteTableError)) throw err;
    throw new ConfigError(`routes file ${file} is invalid: ${err.message}`, { cause: err });
  }
}

/** Parses YAML (or JSON, which is YAML) and validates it; syntax errors name line and column. */
function parseRoutesText(text: string, file: string): RouteTable {
  const document = YAML.parseDocument(text);
  const syntax = document.errors[0];
  if (syntax) {
    const message = syntax.message.split('\n')[0] ?? syntax.message;
    throw new RouteTableError([
      { route: undefined, field: 'file', message: `${file}: ${message}` },
    ]);
  }
  return parseRouteTable(document.toJS());
}

/** The version the store starts with: the newest in history when the file still holds its table. */
async function startVersion(
  versions: RouteTableVersion[],
  table: RouteTable,
  historyFile: string,
  logger: Logger,
): Promise<RouteTableVersion> {
  const latest = versions.at(-1);
  if (latest && sameTable(latest.table, table)) return latest;
  const version = freezeVersion({
    version: (latest?.version ?? 0) + 1,
    table,
    actor: 'file',
    reason: latest ? 'routes file changed while the gateway was stopped' : 'routes file loaded',
    at: new Date().toISOString(),
    kind: 'load',
  });
  try {
    await appendFile(historyFile, `${JSON.stringify(version)}\n`);
  } catch (err) {
    throw new ConfigError(
      `route history ${historyFile} cannot be written: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  versions.push(version);
  logVersion(logger, version);
  return version;
}

/**
 * Reads the history, oldest first. A line that does not parse (a write cut short by a crash) is
 * skipped with a warning; a missing final newline is added so the next append starts a new line.
 */
async function readHistory(historyFile: string, logger: Logger): Promise<RouteTableVersion[]> {
  let text: string;
  try {
    text = await readFile(historyFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(
      `route history ${historyFile} cannot be read: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (text && !text.endsWith('\n')) await appendFile(historyFile, '\n');
  const byVersion = new Map<number, RouteTableVersion>();
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    try {
      const version = parseRouteTableVersion(JSON.parse(line));
      byVersion.set(version.version, version);
    } catch (err) {
      logger.warn(
        { historyFile, line: index + 1, err },
        'skipping a route history line that does not parse',
      );
    }
  });
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/**
 * Writes the file whole or not at all: a temporary file in the same directory, flushed, then
 * renamed over the original (rename is atomic within a file system). Keeps the file's mode.
 */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const mode = await stat(file).then(
      (stats) => stats.mode & 0o777,
      () => 0o644,
    );
    const handle = await open(temp, 'w', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new RouteStoreUnavailableError(
      `cannot write routes file ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

const ROUTE_DEFAULTS: Record<string, unknown> = routeSchema.parse({ id: 'defaults', path: '/' });
const ALWAYS_WRITTEN = new Set(['id', 'path', 'mode']);

/** The table as a person would write it: fields at their default value are left out. */
function compactTable(table: RouteTable): Record<string, unknown> {
  return {
    legacy: table.legacy,
    ...(Object.keys(table.services).length ? { services: table.services } : {}),
    routes: table.routes.map((route) =>
      Object.fromEntries(
        Object.entries(route).filter(
          ([key, value]) =>
            value !== undefined &&
            (ALWAYS_WRITTEN.has(key) ||
              !(key in ROUTE_DEFAULTS) ||
              canonicalJson(value) !== canonicalJson(ROUTE_DEFAULTS[key])),
        ),
      ),
    ),
  };
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
