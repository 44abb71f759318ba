/**
 * The route store: the running route table, every earlier version of it, and who changed what and
 * why (an audit log in the spirit of Unleash's). Two backends share this contract:
 *
 *   file-store.ts      routes.yaml is the source of truth; history in a JSON-lines file beside it
 *   postgres-store.ts  a versions table shared by every gateway replica, LISTEN/NOTIFY + polling
 *
 * Versions only ever grow: a restore or an automatic rollback is a new version, never a rewind.
 */
import { z } from 'zod';
import { FicusError, type Logger } from '../../common/index.js';
import {
  parseRouteTable,
  type RouteMode,
  type RouteTable,
  type RouteTableProblem,
} from '../route-table/index.js';

/** Why a version exists. */
export const VERSION_KINDS = ['load', 'change', 'restore', 'rollback'] as const;
/**
 * `load`: read at start (the file, or the seed of an empty database); `change`: an edit through
 * the file, the admin API or the CLI; `restore`: an earlier version made current again;
 * `rollback`: the guard's automatic rollback.
 */
export type VersionKind = (typeof VERSION_KINDS)[number];

/** One version of the route table. Deeply frozen. */
export interface RouteTableVersion {
  /** 1, 2, 3, … in the order versions became current. */
  readonly version: number;
  readonly table: RouteTable;
  /** Who made it: `file`, `admin-api`, the X-Ficus-Actor header, `guard`, … */
  readonly actor: string;
  readonly reason: string;
  /** ISO 8601. */
  readonly at: string;
  readonly kind: VersionKind;
  /** For `restore`: the version whose table was restored. */
  readonly restoredFrom?: number;
}

/** Who changes the table and why. Both are required: the history is an audit log. */
export interface RouteChange {
  actor: string;
  reason: string;
  /** Default `change`; the guard passes `rollback`. */
  kind?: 'change' | 'rollback';
}

/** Who restores a version and why. */
export interface RestoreChange {
  actor: string;
  reason: string;
}

/** The part of a route that moves during a migration. */
export interface ModePatch {
  mode?: RouteMode;
  weight?: number;
}

/** What the dashboard shows about where the table comes from. */
export interface RouteStoreStatus {
  readonly backend: 'file' | 'postgres' | 'memory';
  /** The routes file, or the database as `host:port/name`. */
  readonly source: string;
  readonly version: number;
  /**
   * The last problem the store has not recovered from: a routes-file edit that was refused (the
   * running table stays), a lost database connection.
   */
  readonly lastError?: RouteStoreProblem;
}

/** A problem recorded for {@link RouteStoreStatus}. */
export interface RouteStoreProblem {
  readonly message: string;
  readonly at: string;
  /** For a refused route table: each problem names the route and the field. */
  readonly problems?: readonly RouteTableProblem[];
}

/** Holds the running route table and its history. */
export interface RouteStore {
  /** The running version. Synchronous: the gateway reads it on every request. */
  current(): RouteTableVersion;
  /**
   * Validates `table` with parseRouteTable and makes it current. An invalid table throws
   * RouteTableError (400, naming route and field) and the running table stays.
   */
  update(table: unknown, change: RouteChange): Promise<RouteTableVersion>;
  /** Changes one route's mode and/or weight. Unknown route: {@link RouteNotFoundError} (404). */
  setMode(routeId: string, patch: ModePatch, change: RouteChange): Promise<RouteTableVersion>;
  /** Every version, newest first. */
  history(): Promise<RouteTableVersion[]>;
  /**
   * Makes a new version holding `version`'s table. Unknown version: {@link VersionNotFoundError}
   * (404).
   */
  restore(version: number, change: RestoreChange): Promise<RouteTableVersion>;
  /**
   * Called with every version that becomes current, in order, whether it was made here, in the
   * file, or by another replica. Returns the unsubscribe function.
   */
  subscribe(listener: (version: RouteTableVersion) => void): () => void;
  status(): RouteStoreStatus;
  /** Stops watching and polling; later writes throw. */
  close(): Promise<void>;
}

/** `setMode` named a route the table does not have. */
export class RouteNotFoundError extends FicusError {
  constructor(routeId: string, table: RouteTable) {
    const ids = table.routes.map((route) => route.id);
    super(
      'FICUS_ROUTE_NOT_FOUND',
      `no route with id ${JSON.stringify(routeId)}; routes are ${ids.length ? ids.join(', ') : 'none'}`,
      { statusCode: 404 },
    );
  }
}

/** `restore` named a version the history does not have. */
export class VersionNotFoundError extends FicusError {
  constructor(version: number, latest: number) {
    super(
      'FICUS_VERSION_NOT_FOUND',
      `no route table version ${version}; versions run from 1 to ${latest}`,
      { statusCode: 404 },
    );
  }
}

/** A change without an actor or a reason, or with one that is too long. */
export class RouteChangeError extends FicusError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('FICUS_CHANGE_INVALID', message, { statusCode: 400 });
    this.field = field;
  }
}

/** The store's backing storage (database, file system) failed; the running table stays. */
export class RouteStoreUnavailableError extends FicusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('FICUS_ROUTE_STORE_UNAVAILABLE', message, { statusCode: 503, cause: options.cause });
  }
}

/** A write on a closed store. */
export class RouteStoreClosedError extends FicusError {
  constructor() {
    super('FICUS_ROUTE_STORE_CLOSED', 'the route store is closed', { statusCode: 503 });
  }
}

export const MAX_ACTOR_LENGTH = 100;
export const MAX_REASON_LENGTH = 1000;

/** Checks a change's actor and reason; returns them trimmed, with the kind defaulted. */
export function checkChange(change: { actor: string; reason: string; kind?: VersionKind }): {
  actor: string;
  reason: string;
  kind: VersionKind;
} {
  const actor = typeof change.actor === 'string' ? change.actor.trim() : '';
  const reason = typeof change.reason === 'string' ? change.reason.trim() : '';
  if (!actor) throw new RouteChangeError('actor', 'a change needs an actor (who makes it)');
  if (actor.length > MAX_ACTOR_LENGTH) {
    throw new RouteChangeError('actor', `actor is longer than ${MAX_ACTOR_LENGTH} characters`);
  }
  if (!reason) throw new RouteChangeError('reason', 'a change needs a reason (why it is made)');
  if (reason.length > MAX_REASON_LENGTH) {
    throw new RouteChangeError('reason', `reason is longer than ${MAX_REASON_LENGTH} characters`);
  }
  return { actor, reason, kind: change.kind ?? 'change' };
}

/**
 * `table` with one route's mode and weight replaced, as plain data for parseRouteTable (which
 * checks the new values).
 */
export function patchRoute(table: RouteTable, routeId: string, patch: ModePatch): unknown {
  if (!table.routes.some((route) => route.id === routeId)) {
    throw new RouteNotFoundError(routeId, table);
  }
  return {
    ...table,
    routes: table.routes.map((route) =>
      route.id === routeId ? { ...route, ...definedFields(patch) } : route,
    ),
  };
}

/** The patch without keys whose value is undefined; an empty patch is refused. */
export function definedFields(patch: ModePatch): ModePatch {
  const defined: ModePatch = {};
  if (patch.mode !== undefined) defined.mode = patch.mode;
  if (patch.weight !== undefined) defined.weight = patch.weight;
  if (defined.mode === undefined && defined.weight === undefined) {
    throw new RouteChangeError('mode', 'give a mode, a weight or both');
  }
  return defined;
}

/** Freezes a version and everything in it, so no listener can change the running table. */
export function freezeVersion(version: RouteTableVersion): RouteTableVersion {
  return deepFreeze(version);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** A version as stored (a history line, a database row, an admin API response). */
export const routeTableVersionSchema = z.object({
  version: z.number().int().positive(),
  table: z.unknown().transform((table) => parseRouteTable(table)),
  actor: z.string(),
  reason: z.string(),
  at: z.iso.datetime({ offset: true }),
  kind: z.enum(VERSION_KINDS),
  restoredFrom: z.number().int().positive().optional(),
});

/** Reads a stored version back; throws a ZodError or a RouteTableError when it does not fit. */
export function parseRouteTableVersion(input: unknown): RouteTableVersion {
  const parsed = routeTableVersionSchema.parse(input);
  const { restoredFrom, ...rest } = parsed;
  return freezeVersion(restoredFrom === undefined ? rest : { ...rest, restoredFrom });
}

/** True when two tables hold the same routes (key order aside). */
export function sameTable(a: RouteTable, b: RouteTable): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted, for comparing values whose key order may differ. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([left], [right]) => (left < right ? -1 : 1)))
      : inner,
  );
}

/** The subscribers of a store. A listener that throws is logged and does not stop the others. */
export function createListeners(logger: Logger): {
  add(listener: (version: RouteTableVersion) => void): () => void;
  emit(version: RouteTableVersion): void;
  clear(): void;
} {
  const listeners = new Set<(version: RouteTableVersion) => void>();
  return {
    add(listener) {
      // A wrapper per subscription, so subscribing the same function twice gives two calls and
      // two independent unsubscribes.
      const entry = (version: RouteTableVersion) => listener(version);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    emit(version) {
      for (const listener of [...listeners]) {
        try {
          listener(version);
        } catch (err) {
          logger.error({ err, version: version.version }, 'route table listener failed');
        }
      }
    },
    clear() {
      listeners.clear();
    },
  };
}

/** Runs tasks one at a time, in the order they were queued. */
export function createSerialQueue(): {
  run<T>(task: () => Promise<T>): Promise<T>;
  idle(): Promise<void>;
} {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run(task) {
      const result = tail.then(task, task);
      tail = result.catch(() => undefined);
      return result;
    },
    idle() {
      return tail.then(() => undefined);
    },
  };
}

/** One log line per new version: the audit trail in the gateway log. */
export function logVersion(logger: Logger, version: RouteTableVersion): void {
  logger.info(
    {
      version: version.version,
      kind: version.kind,
      actor: version.actor,
      reason: version.reason,
      ...(version.restoredFrom === undefined ? {} : { restoredFrom: version.restoredFrom }),
      routes: version.table.routes.map((route) => `${route.id}=${route.mode}`),
    },
    'route table version',
  );
}
