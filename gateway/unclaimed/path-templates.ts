/**
 * Groups the requests no route claims into path templates (`GET /members/:id/orders`) and counts
 * them, in bounded memory.
 *
 * A segment that is an id becomes `:id`: a decimal number, a UUID, or a hex string of 16 or more
 * characters (object ids, hashes). Everything else is kept as it is, lower-case letters and all.
 *
 * At most `maxTemplates` templates are held. When a new template arrives and the table is full,
 * the least-requested one is replaced and the newcomer inherits its count, remembered as the
 * newcomer's `overcount` (the Space-Saving algorithm: Metwally, Agrawal, El Abbadi, "Efficient
 * Computation of Frequent and Top-k Elements in Data Streams", ICDT 2005). Any template that
 * takes more than 1/maxTemplates of the traffic is guaranteed to be listed, and a listed count is
 * never below the true count nor more than `overcount` above it. A path scan of random URLs
 * therefore cannot grow memory or push the busy templates out.
 */

/** One template and what was seen of it. */
export interface UnclaimedTemplate {
  method: string;
  /** The path with ids replaced by `:id`. */
  template: string;
  /** Requests counted (an upper bound: at most `overcount` of them may belong to evicted templates). */
  requests: number;
  /** Requests inherited from an evicted template; 0 while the table never filled. */
  overcount: number;
  /** Answers with a 5xx status (or a gateway error). */
  errors: number;
  /** The latest concrete path (without the query). */
  example: string;
  /** ISO 8601. */
  firstSeen: string;
  lastSeen: string;
}

/** What the admin API serves. */
export interface UnclaimedReport {
  /** ISO 8601: when counting started. */
  since: string;
  /** All unclaimed requests counted. */
  totalRequests: number;
  /** Templates held now. */
  distinct: number;
  maxTemplates: number;
  /** Templates replaced because the table was full. */
  evictions: number;
  /** The busiest first. */
  templates: UnclaimedTemplate[];
}

/** Counts unclaimed requests by template. */
export interface UnclaimedPaths {
  record(method: string, path: string, status: number): void;
  /**
   * The `limit` busiest templates (default 20), by the requests certainly theirs
   * (`requests - overcount`).
   */
  report(limit?: number): UnclaimedReport;
}

/** What {@link createUnclaimedPaths} takes. */
export interface UnclaimedPathsOptions {
  /** Templates held at most; default 500. */
  maxTemplates?: number;
  /** Wall clock in milliseconds; `Date.now` by default. */
  now?: () => number;
}

const DECIMAL = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONG_HEX = /^[0-9a-f]{16,}$/i;
/** Longest template kept; a longer one is cut, so a huge URL cannot hold much memory. */
const MAX_TEMPLATE_LENGTH = 200;

/** The template of a normalised path: id-like segments become `:id`. */
export function templateOf(path: string): string {
  const template = path
    .split('/')
    .map((segment) =>
      DECIMAL.test(segment) || UUID.test(segment) || LONG_HEX.test(segment) ? ':id' : segment,
    )
    .join('/');
  return template.length > MAX_TEMPLATE_LENGTH
    ? `${template.slice(0, MAX_TEMPLATE_LENGTH)}…`
    : template;
}

interface Entry {
  method: string;
  template: string;
  requests: number;
  overcount: number;
  errors: number;
  example: string;
  firstSeen: number;
  lastSeen: number;
}

/** Creates an empty counter. */
export function createUnclaimedPaths(options: UnclaimedPathsOptions = {}): UnclaimedPaths {
  // Eviction scans the table, so it stays small enough to scan on the proxy path.
  const maxTemplates = Math.min(10_000, Math.max(1, options.maxTemplates ?? 500));
  const now = options.now ?? (() => Date.now());
  const since = now();
  const entries = new Map<string, Entry>();
  let totalRequests = 0;
  let evictions = 0;

  function leastRequested(): [string, Entry] | undefined {
    let least: [string, Entry] | undefined;
    for (const pair of entries) {
      if (!least || pair[1].requests < least[1].requests) least = pair;
    }
    return least;
  }

  return {
    record(method, path, status) {
      totalRequests++;
      const template = templateOf(path);
      const key = `${method} ${template}`;
      const at = now();
      let entry = entries.get(key);
      if (!entry) {
        let inherited = 0;
        if (entries.size >= maxTemplates) {
          const least = leastRequested();
          if (least) {
            entries.delete(least[0]);
            inherited = least[1].requests;
            evictions++;
          }
        }
        entry = {
          method,
          template,
          requests: inherited,
          overcount: inherited,
          errors: 0,
          example: path,
          firstSeen: at,
          lastSeen: at,
        };
        entries.set(key, entry);
      }
      entry.requests++;
      if (status >= 500) entry.errors++;
      entry.example = path.length > MAX_TEMPLATE_LENGTH ? path.slice(0, MAX_TEMPLATE_LENGTH) : path;
      entry.lastSeen = at;
    },

    report(limit = 20) {
      const templates = [...entries.values()]
        .sort(
          (a, b) =>
            b.requests - b.overcount - (a.requests - a.overcount) ||
            b.requests - a.requests ||
            b.lastSeen - a.lastSeen,
        )
        .slice(0, Math.max(0, limit))
        .map((entry): UnclaimedTemplate => ({
          method: entry.method,
          template: entry.template,
          requests: entry.requests,
          overcount: entry.overcount,
          errors: entry.errors,
          example: entry.example,
          firstSeen: new Date(entry.firstSeen).toISOString(),
          lastSeen: new Date(entry.lastSeen).toISOString(),
        }));
      return {
        since: new Date(since).toISOString(),
        totalRequests,
        distinct: entries.size,
        maxTemplates,
        evictions,
        templates,
      };
    },
  };
}
