/**
 * A route store that lives in memory only: for tests, benchmarks and embedding the gateway in a
 * process that manages its table itself. History is lost with the process.
 */
import { createSilentLogger, type Logger } from '../../common/index.js';
import { parseRouteTable } from '../route-table/index.js';
import {
  checkChange,
  createListeners,
  createSerialQueue,
  freezeVersion,
  logVersion,
  patchRoute,
  VersionNotFoundError,
  type RouteStore,
  type RouteTableVersion,
} from './store.js';

/** Creates an in-memory store holding `table` as version 1. */
export function createMemoryRouteStore(
  table: unknown,
  options: { logger?: Logger } = {},
): RouteStore {
  const logger = options.logger ?? createSilentLogger();
  const listeners = createListeners(logger);
  const queue = createSerialQueue();
  const versions: RouteTableVersion[] = [
    freezeVersion({
      version: 1,
      table: parseRouteTable(table),
      actor: 'memory',
      reason: 'initial table',
      at: new Date().toISOString(),
      kind: 'load',
    }),
  ];
  const current = () => versions[versions.length - 1]!;
  const append = (version: Omit<RouteTableVersion, 'version' | 'at'>): RouteTableVersion => {
    const next = freezeVersion({
      ...version,
      version: current().version + 1,
      at: new Date().toISOString(),
    });
    versions.push(next);
    logVersion(logger, next);
    listeners.emit(next);
    return next;
  };
  return {
    current,
    update: (table, change) =>
      queue.run(later(() => append({ table: parseRouteTable(table), ...checkChange(change) }))),
    setMode: (routeId, patch, change) =>
      queue.run(
        later(() =>
          append({
            table: parseRouteTable(patchRoute(current().table, routeId, patch)),
            ...checkChange(change),
          }),
        ),
      ),
    history: () => Promise.resolve([...versions].reverse()),
    restore: (version, change) =>
      queue.run(
        later(() => {
          const checked = checkChange(change);
          const found = versions.find((v) => v.version === version);
          if (!found) throw new VersionNotFoundError(version, current().version);
          return append({
            table: found.table,
            actor: checked.actor,
            reason: checked.reason,
            kind: 'restore',
            restoredFrom: version,
          });
        }),
      ),
    subscribe: (listener) => listeners.add(listener),
    status: () => ({ backend: 'memory', source: 'memory', version: current().version }),
    close: () => queue.idle(),
  };
}

/** Runs `work` as a queued task; a throw becomes a rejection. */
function later<T>(work: () => T): () => Promise<T> {
  return () => Promise.resolve().then(work);
}
