/**
 * Where shadow results go: counters per route, and the most recent mismatches per route with
 * enough of both responses to see what differed (GitHub Scientist's "publish" step). The dashboard
 * and the admin API read it; `subscribe` feeds live views.
 *
 * Memory is bounded: each route keeps at most `perRoute` mismatches, each holding at most
 * `maxBodyBytes` of each body. Call `forget` when a route leaves the table.
 */
import { createSilentLogger, type Logger } from '../../common/index.js';
import { decodeBody, type CapturedResponse, type Comparison, type Difference } from './compare.js';

/** The mirrored request, as much of it as the log keeps. */
export interface MirroredRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** One side's response as kept in the log. */
export interface LoggedResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /**
   * The body as the client reads it (content-encoding undone), as UTF-8 text, or base64 for binary
   * media types and compressed bodies that could not be decoded; at most `maxBodyBytes` of it.
   */
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  /** The kept body is shorter than the real one (over the capture limit or `maxBodyBytes`). */
  bodyTruncated: boolean;
}

/** A recorded mismatch. */
export interface Mismatch {
  /** Increasing across the whole log. */
  id: number;
  routeId: string;
  /** ISO 8601. */
  at: string;
  request: MirroredRequest & { headers: Record<string, string | string[]> };
  primary: LoggedResponse;
  candidate: LoggedResponse;
  differences: Difference[];
}

/** Counters for one route since the log started (or the route was forgotten). */
export interface ShadowStats {
  matches: number;
  mismatches: number;
  /** Differences suppressed by ignore rules, over matches and mismatches. */
  ignoredDifferences: number;
  /** Mirrored requests the candidate did not answer (connection refused, timeout, …). */
  errors: number;
  /** The latest of those errors. */
  lastError?: { at: string; method: string; path: string; error: string };
}

/** What subscribers hear after each record. */
export type MismatchLogEvent =
  | { type: 'match'; routeId: string; stats: ShadowStats }
  | { type: 'mismatch'; routeId: string; stats: ShadowStats; mismatch: Mismatch }
  | { type: 'error'; routeId: string; stats: ShadowStats; error: string };

/** The shadow results of every route. */
export interface MismatchLog {
  /** Records one compared request; returns the stored mismatch when it was one. */
  record(
    routeId: string,
    request: MirroredRequest,
    primary: CapturedResponse,
    candidate: CapturedResponse,
    comparison: Comparison,
  ): Mismatch | undefined;
  /** Records a mirrored request the candidate failed to answer. */
  recordError(routeId: string, request: MirroredRequest, error: string): void;
  /** One route's counters (zeros for a route never seen). */
  stats(routeId: string): ShadowStats;
  /** Every route's counters, by route id. */
  stats(): Record<string, ShadowStats>;
  /** Most recent mismatches first, of one route or all; at most `limit` (default `perRoute`). */
  recent(routeId?: string, limit?: number): Mismatch[];
  /** A mismatch still held, by id. */
  get(id: number): Mismatch | undefined;
  /** Calls `listener` after every record; returns the unsubscribe function. */
  subscribe(listener: (event: MismatchLogEvent) => void): () => void;
  /** Drops a route's counters and mismatches. */
  forget(routeId: string): void;
}

/** What `createMismatchLog` takes; every field is optional. */
export interface MismatchLogOptions {
  /** Mismatches kept per route; default 50. */
  perRoute?: number;
  /** Bytes of each body kept per mismatch; default 64 KiB. */
  maxBodyBytes?: number;
  /** Request headers never kept (lower-case), in addition to the defaults. */
  redactHeaders?: readonly string[];
  /** Wall-clock milliseconds for `at`; `Date.now` by default. */
  now?: () => number;
  /** Where a throwing subscriber is reported; silent by default. */
  logger?: Logger;
}

/**
 * Request headers that carry credentials are never kept, nor is a response's set-cookie: anyone
 * who can read the dashboard could replay them.
 */
export const REDACTED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'x-csrf-token',
  'x-xsrf-token',
];

interface RouteEntry {
  stats: ShadowStats;
  /** Oldest first. */
  mismatches: Mismatch[];
}

/** Creates an empty log. */
export function createMismatchLog(options: MismatchLogOptions = {}): MismatchLog {
  const perRoute = options.perRoute ?? 50;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const now = options.now ?? (() => Date.now());
  const logger = options.logger ?? createSilentLogger();
  const redacted = new Set([...REDACTED_HEADERS, ...(options.redactHeaders ?? [])]);
  const routes = new Map<string, RouteEntry>();
  const byId = new Map<number, Mismatch>();
  const listeners = new Set<(event: MismatchLogEvent) => void>();
  let nextId = 1;

  function entryOf(routeId: string): RouteEntry {
    let entry = routes.get(routeId);
    if (!entry) {
      entry = { stats: emptyStats(), mismatches: [] };
      routes.set(routeId, entry);
    }
    return entry;
  }

  function emit(event: MismatchLogEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.warn({ err: error, routeId: event.routeId }, 'mismatch log subscriber threw');
      }
    }
  }

  function keptHeaders(headers: MirroredRequest['headers']): Record<string, string | string[]> {
    const kept: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && !redacted.has(name.toLowerCase())) kept[name] = value;
    }
    return kept;
  }

  function logged(response: CapturedResponse): LoggedResponse {
    const headers = keptHeaders(response.headers);
    const decoded = decodeBody(response);
    const bytes = decoded ?? response.body;
    const text = decoded !== undefined && isTextual(headers['content-type']);
    return {
      status: response.status,
      headers,
      body: bytes.subarray(0, maxBodyBytes).toString(text ? 'utf8' : 'base64'),
      bodyEncoding: text ? 'utf8' : 'base64',
      bodyTruncated: response.truncated || bytes.length > maxBodyBytes,
    };
  }

  function stats(routeId: string): ShadowStats;
  function stats(): Record<string, ShadowStats>;
  function stats(routeId?: string): ShadowStats | Record<string, ShadowStats> {
    if (routeId !== undefined) {
      const entry = routes.get(routeId);
      return entry ? copyStats(entry.stats) : emptyStats();
    }
    return Object.fromEntries([...routes].map(([id, entry]) => [id, copyStats(entry.stats)]));
  }

  return {
    record(routeId, request, primary, candidate, comparison) {
      const entry = entryOf(routeId);
      entry.stats.ignoredDifferences += comparison.ignoredDifferences;
      if (comparison.match) {
        entry.stats.matches++;
        if (listeners.size > 0) emit({ type: 'match', routeId, stats: copyStats(entry.stats) });
        return undefined;
      }
      entry.stats.mismatches++;
      const mismatch: Mismatch = {
        id: nextId++,
        routeId,
        at: new Date(now()).toISOString(),
        request: {
          method: request.method,
          path: request.path,
          headers: keptHeaders(request.headers),
        },
        primary: logged(primary),
        candidate: logged(candidate),
        differences: comparison.differences,
      };
      entry.mismatches.push(mismatch);
      byId.set(mismatch.id, mismatch);
      while (entry.mismatches.length > perRoute) {
        const evicted = entry.mismatches.shift();
        if (evicted) byId.delete(evicted.id);
      }
      if (listeners.size > 0) {
        emit({ type: 'mismatch', routeId, stats: copyStats(entry.stats), mismatch });
      }
      return mismatch;
    },

    recordError(routeId, request, error) {
      const entry = entryOf(routeId);
      entry.stats.errors++;
      entry.stats.lastError = {
        at: new Date(now()).toISOString(),
        method: request.method,
        path: request.path,
        error,
      };
      if (listeners.size > 0)
        emit({ type: 'error', routeId, stats: copyStats(entry.stats), error });
    },

    stats,

    recent(routeId, limit = perRoute) {
      const pool =
        routeId === undefined
          ? [...routes.values()].flatMap((entry) => entry.mismatches)
          : (routes.get(routeId)?.mismatches ?? []);
      return pool
        .slice()
        .sort((a, b) => b.id - a.id)
        .slice(0, Math.max(0, limit));
    },

    get(id) {
      return byId.get(id);
    },

    subscribe(listener) {
      const wrapped = (event: MismatchLogEvent) => listener(event);
      listeners.add(wrapped);
      return () => {
        listeners.delete(wrapped);
      };
    },

    forget(routeId) {
      const entry = routes.get(routeId);
      if (!entry) return;
      for (const mismatch of entry.mismatches) byId.delete(mismatch.id);
      routes.delete(routeId);
    },
  };
}

function emptyStats(): ShadowStats {
  return { matches: 0, mismatches: 0, ignoredDifferences: 0, errors: 0 };
}

function copyStats(stats: ShadowStats): ShadowStats {
  return { ...stats, ...(stats.lastError ? { lastError: { ...stats.lastError } } : {}) };
}

const TEXTUAL =
  /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)\b)|\+(json|xml)\b/i;

/** Bodies without a content-type are kept as text: most such answers are short error messages. */
function isTextual(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return value === undefined || TEXTUAL.test(value.trim());
}
